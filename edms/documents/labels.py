"""Names people read for states, priorities and secrecy levels (Vietnamese), the two
directions, and the date helpers every step uses.

Invariants: pure values and functions, no database and no I/O; every state a step can reach
has an entry in :data:`STATE_NAMES_VI`; dates are computed in Asia/Ho_Chi_Minh from UTC
instants (``now_utc`` is the only clock).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from ..numbering import VN_TZ

OUTGOING, INCOMING = "outgoing", "incoming"


STATE_NAMES_VI = {
    "draft": "dự thảo",
    "submitted": "đã trình",
    "approved": "đã duyệt",
    "signed": "đã ký",
    "numbered": "đã cấp số",
    "sealed": "đã ký số cơ quan",
    "registered": "đã vào sổ",
    "issued": "đã ban hành",
    "revoked": "đã thu hồi",
    "replaced": "đã được thay thế",
    "received": "đã tiếp nhận",
    "verified": "đã kiểm tra",
    "returned": "đã trả lại",
    "assigned": "đã phân công",
    "in_progress": "đang xử lý",
    "completed": "đã hoàn thành",
}


PRIORITY_VI = {0: "Thường", 1: "Khẩn", 2: "Thượng khẩn", 3: "Hỏa tốc"}


SECRECY_VI = {0: "", 1: "Mật", 2: "Tối mật", 3: "Tuyệt mật"}


def now_utc() -> datetime:
    return datetime.now(UTC)


def vn_today(now: datetime | None = None) -> date:
    return (now or now_utc()).astimezone(VN_TZ).date()


def date_line(place: str, day: date) -> str:
    """``Hà Giang, ngày 05 tháng 01 năm 2026``: day below 10 and months 1–2 zero-padded."""
    prefix = f"{place}, " if place else ""
    return f"{prefix}ngày {day.day:02d} tháng {month_text(day)} năm {day.year}"


def month_text(day: date) -> str:
    """The month as the date line writes it: 01 and 02 zero-padded, then 3 to 12."""
    return f"{day.month:02d}" if day.month <= 2 else str(day.month)
