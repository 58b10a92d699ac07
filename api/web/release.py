"""The clerk's release page (Phát hành) for a signed outgoing document: the number and
symbol it will take (peeked, not reserved), its recipients and the seal, then one confirmed
action that runs number → seal → register → issue (:mod:`edms.documents.release`). Each
step is recorded on its own; when one fails the page says which, in Vietnamese, and the
clerk continues from there with the same button."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edms.documents import release as releasing
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, login_required, me, refused


@bp.get("/van-ban/<int:doc_id>/phat-hanh")
@login_required
def release_page(doc_id: int) -> Any:
    try:
        plan = releasing.release_plan(system(), me(), doc_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/release.html", plan=plan, names=releasing.STEP_NAMES_VI)


@bp.post("/van-ban/<int:doc_id>/phat-hanh")
@login_required
def release(doc_id: int) -> BaseResponse:
    page = url_for("web.release_page", doc_id=doc_id)
    if request.form.get("confirm") != "yes":
        return refused(ClientError("Hãy đánh dấu ô xác nhận trước khi phát hành."), page)
    try:
        outcome = releasing.release(
            system(),
            me(),
            doc_id,
            holder=request.form.get("holder", ""),
            note=request.form.get("note", ""),
        )
    except EdmsError as exc:
        return refused(exc, page)
    names = releasing.STEP_NAMES_VI
    done = ", ".join(names[s] for s in outcome.done)
    if outcome.complete:
        flash(
            f"Đã phát hành văn bản số {outcome.number_and_symbol}: {done}.",
            "ok",
        )
        return redirect(url_for("web.document", doc_id=doc_id), code=303)
    assert outcome.failed is not None
    if done:
        flash(f"Đã thực hiện: {done}.", "ok")
    flash(
        f"Chưa phát hành xong: bước {names[outcome.failed]} không thực hiện được. "
        f"{outcome.reason_vi} Văn bản giữ trạng thái {outcome.state_vi}; khắc phục rồi bấm "
        "Phát hành để làm tiếp từ bước này.",
        "error",
    )
    return redirect(page, code=303)
