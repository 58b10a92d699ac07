"""The leader's instructions on incoming documents: the queue "Chờ ý kiến chỉ đạo" with one
form per document (instruction, lead unit and/or person in charge, co-operating people and
units, deadline), the work assigned to me by name, and the printable handling sheet
(Phiếu giải quyết văn bản đến).

Thin: the instruction is the ``assign`` step (:func:`edms.documents.perform`), the queues
and the sheet are :mod:`edms.documents.instructions`' reads. The home page and the document
page reach the queues through the template globals defined here."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edms import accounts
from edms import documents as docs
from edms.documents import instructions as handling
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, has, login_required, me, refused


def _people() -> list[tuple[str, str]]:
    return [(p.username, p.label) for p in handling.assignable_people(system(), me())]


@bp.app_template_global("assignable_people")
def assignable_people() -> list[tuple[str, str]]:
    """``(username, "name — position — unit")`` of the people one may name (forms)."""
    return _people() if has("leader", "clerk") else []


@bp.app_template_global("awaiting_instruction")
def awaiting_instruction() -> list[dict[str, Any]]:
    """The documents awaiting the leader's instruction, for the leader's home page."""
    if not has("leader"):
        return []
    return [docs.document_json(d) for d in handling.awaiting_instruction(system(), me())]


@bp.app_template_global("my_tasks")
def my_tasks() -> list[dict[str, Any]]:
    """The documents assigned to me by name (in charge or co-operating), for my home page."""
    return [
        {
            **docs.document_json(t.document),
            "lead": t.lead,
            "deadline": t.deadline.isoformat() if t.deadline else None,
            "instruction": t.instruction,
        }
        for t in handling.assigned_to_me(system(), me())
    ]


@bp.get("/chi-dao")
@login_required
def instructions() -> Any:
    if not has("leader", "clerk"):
        message = "Chỉ lãnh đạo và văn thư xem được danh sách văn bản chờ ý kiến chỉ đạo."
        return render_template("web/error.html", message=message), 403
    try:
        items = [docs.document_json(d) for d in handling.awaiting_instruction(system(), me())]
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/instructions.html",
        items=items,
        people=_people(),
        units=accounts.units(system(), me()),
        today=date.today().isoformat(),
    )


@bp.post("/chi-dao/<int:doc_id>")
@login_required
def instruct(doc_id: int) -> BaseResponse:
    """Record the instruction (the ``assign`` step); back to the queue or the document."""
    f = request.form
    back = (
        url_for("web.document", doc_id=doc_id)
        if f.get("back") == "van-ban"
        else url_for("web.instructions")
    )
    try:
        data: dict[str, Any] = {
            "instruction": f.get("instruction", "").strip(),
            "lead_unit": f.get("lead_unit", "").strip(),
            "lead_user": f.get("lead_user", "").strip(),
            "co_units": tuple(c for c in f.getlist("co_units") if c.strip()),
            "co_users": tuple(c for c in f.getlist("co_users") if c.strip()),
            "deadline": date.fromisoformat(f["deadline"]) if f.get("deadline") else None,
        }
        if not data["lead_unit"] and not data["lead_user"]:
            raise ClientError("Chọn đơn vị chủ trì hoặc người chủ trì.")
        docs.perform(system(), me(), doc_id, "assign", data)
    except ValueError:
        return refused(ClientError("Hạn giải quyết không hợp lệ."), back)
    except EdmsError as exc:
        return refused(exc, back)
    flash("Đã ghi ý kiến chỉ đạo và giao xử lý.", "ok")
    return redirect(back, code=303)


@bp.get("/van-ban/<int:doc_id>/phieu-giai-quyet")
@login_required
def handling_sheet(doc_id: int) -> Any:
    """The printable Phiếu giải quyết văn bản đến (A4, print styles)."""
    try:
        sheet = handling.handling_sheet(system(), me(), doc_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/phieu.html", s=sheet)
