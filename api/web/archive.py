"""The admin page of the long-term archive (``/quan-tri/luu-tru``): whether every kept
signed document is still protected, what is due for renewal, what cannot be renewed and
why, and the last automatic renewal. Read-only; renewal runs daily (edms.maintenance) or
with ``edms archive renew``."""

from __future__ import annotations

from typing import Any

from flask import g, render_template

from edms import admin_queries, archive, maintenance

from ..context import system
from .views import bp, has, login_required, me

STATUS_VI = {
    "ok": "Đang được bảo vệ",
    "due": "Đến hạn gia hạn",
    "expired": "Đã hết hạn",
    "not_renewable": "Không gia hạn được",
    "unreadable": "Không đọc được",
}


def cause_vi(d: archive.DocumentStatus) -> str:
    """What ends the document's protection or blocks its renewal, in Vietnamese."""
    day = d.protected_until.strftime("%d/%m/%Y") if d.protected_until else ""
    return {
        "tsa": f"Chứng thư của máy chủ cấp dấu thời gian ({d.cause_subject}) hết hạn ngày {day}",
        "signer": f"Chứng thư số của người ký hết hạn ngày {day} (chưa có dữ liệu kiểm "
        "tra dài hạn)",
        "algorithm": f"Thuật toán {d.cause_subject} hết được coi là an toàn từ ngày {day}",
        "no_timestamp": "Chữ ký không có dấu thời gian (B-B): không thể nâng lên mức lưu "
        "trữ dài hạn",
        "refused": "Lần gia hạn gần nhất bị từ chối (dấu thời gian cuối không còn kiểm tra "
        "được, hoặc thiếu dữ liệu thu hồi); hệ thống sẽ thử lại",
        "unreadable": "Không đọc được chữ ký trong tệp",
    }.get(d.cause, "")


@bp.get("/quan-tri/luu-tru")
@login_required
def archive_health() -> Any:
    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    st = admin_queries.archive_status(system(), me())
    attention = [d for d in st.documents if d.status != "ok"]
    task = maintenance.task_states(system()).get("archive_renew", {})
    return render_template(
        "web/archive.html",
        summary=st.summary(),
        status=st,
        attention=attention,
        task=task,
        STATUS_VI=STATUS_VI,
        cause_vi=cause_vi,
        agency=g.user["agency"],
    )
