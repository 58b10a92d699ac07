"""The work queues and one document: its page (with the steps the signed-in user may
take), page previews (rendered under limits and cached by :mod:`edms.render`), the
download, every lifecycle step, and signing with a key held on the leader's own token."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from edms import accounts, auth
from edms import documents as docs
from edms.errors import ClientError, EdmsError

from ..context import system
from .drafting import last_rejection
from .views import STEP_VI, bp, has, login_required, me, pin_refused, refused, with_verdict

# -- work queues -----------------------------------------------------------------------------------


def _queue(direction: str | None, states: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        docs.document_json(d)
        for d in docs.list_documents(system(), me(), direction=direction, states=states)
    ]


QUEUES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "cho-ky": ("Chờ tôi ký", "outgoing", ("approved",)),
    "cho-duyet": ("Chờ duyệt", "outgoing", ("submitted",)),
    "cho-cap-so": (
        "Chờ cấp số, ký số cơ quan, vào sổ, ban hành",
        "outgoing",
        ("signed", "numbered", "sealed", "registered"),
    ),
    "du-thao": ("Dự thảo", "outgoing", ("draft",)),
    "van-ban-den": (
        "Văn bản đến cần xử lý",
        "incoming",
        ("received", "verified", "registered", "assigned", "in_progress"),
    ),
    "da-ban-hanh": ("Văn bản đã ban hành", "outgoing", ("issued",)),
    "den-da-xong": ("Văn bản đến đã xong", "incoming", ("completed", "returned")),
}


MINE = {"cho-ky": "sign", "cho-duyet": "approve"}  # drafts waiting for me, by name or role


def _items(key: str) -> list[dict[str, Any]]:
    """A queue's documents; "Chờ tôi ký" and "Chờ duyệt" hold only what waits for me
    (:func:`edms.documents.waiting_for_me`)."""
    if key in MINE:
        return [docs.document_json(d) for d in docs.waiting_for_me(system(), me(), MINE[key])]
    _title, direction, states = QUEUES[key]
    return _queue(direction, states)


@bp.get("/")
@login_required
def home() -> str:
    shown = []
    if has("leader"):
        shown += ["cho-ky", "cho-duyet"]
    if has("clerk"):
        shown += ["cho-cap-so", "van-ban-den"]
    if has("officer"):
        shown += ["du-thao", "van-ban-den"]
    if has("admin") and not shown:
        shown += ["da-ban-hanh"]
    queues = [(key, QUEUES[key][0], _items(key)) for key in dict.fromkeys(shown)]
    if not has("leader"):  # someone named to approve a draft, without the leader role
        waiting = _items("cho-duyet")
        queues = ([("cho-duyet", QUEUES["cho-duyet"][0], waiting)] if waiting else []) + queues
    return render_template("web/home.html", queues=queues)


@bp.get("/van-ban")
@login_required
def document_list() -> str:
    key = request.args.get("hang-doi", "da-ban-hanh")
    if key not in QUEUES:
        abort(404)
    return render_template(
        "web/list.html", title=QUEUES[key][0], items=_items(key), queues=QUEUES, current=key
    )


# -- one document ----------------------------------------------------------------------------------


def _named_step(d: dict[str, Any], name: str) -> bool | None:
    """On a draft that names its signer or approvers, whether approving, sending back or
    signing is this user's to do now (None: the roles decide, as before designation)."""
    signer = (d.get("designated_signer") or {}).get("username")
    if d["direction"] != "outgoing" or name not in ("approve", "reject", "sign"):
        return None
    if signer is None and not d.get("approvers"):
        return None
    waiting = (d.get("waiting_for") or {}).get("username")
    if name == "approve":
        return d["state"] == "submitted" and waiting == me()
    if name == "reject":
        return d["state"] in ("submitted", "approved") and me() in (waiting, signer)
    return d["state"] == "approved" and (signer == me() or (signer is None and has("leader")))


def _actions(d: dict[str, Any]) -> list[str]:
    """The steps the signed-in user may take on the document now (the domain checks again)."""
    out = []
    for (direction, name), step in docs.STEPS.items():
        named = _named_step(d, name) if direction == d["direction"] else None
        if named is not None:
            if named and not d["frozen"]:
                out.append(name)
            continue
        if (
            direction == d["direction"]
            and d["state"] in step.from_states
            and has(*step.roles)
            and not d["frozen"]
        ):
            out.append(name)
    return out


@bp.get("/van-ban/<int:doc_id>")
@login_required
def document(doc_id: int) -> Any:
    try:
        d = docs.view_json(docs.get_document(system(), me(), doc_id))
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    units = accounts.units(system(), me())
    # how the leader signs, and the signing authority they may choose (edms.authority)
    choices = accounts.signing_choices(system(), me())
    pages = min(d.get("page_amount") or 1, 10)
    report = with_verdict((d.get("validation") or {}).get("report"))
    return render_template(
        "web/document.html",
        d=d,
        actions=_actions(d),
        units=units,
        pages=pages,
        report=report,
        remote_key=choices.remote_key,
        authority_choices=choices.authority,
        today=date.today().isoformat(),
        rejection=last_rejection(d),
    )


@bp.get("/van-ban/<int:doc_id>/trang/<int:page>.png")
@login_required
def page_image(doc_id: int, page: int) -> Response:
    """A page of the current PDF as an image, for the preview (rendered under limits,
    once per file version and page)."""
    from edms.previews import page_preview

    try:
        png = page_preview(system(), me(), doc_id, page)
    except EdmsError:
        abort(404)
    resp = make_response(png)
    resp.headers["Content-Type"] = "image/png"
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


@bp.get("/van-ban/<int:doc_id>/tai-ve")
@login_required
def download(doc_id: int) -> Response:
    with docs.workdir(system()) as wd:
        try:
            docs.download(system(), me(), doc_id, wd / "doc.pdf")
        except EdmsError:
            abort(404)
        resp = make_response((wd / "doc.pdf").read_bytes())
    resp.headers["Content-Type"] = "application/pdf"
    resp.headers["Content-Disposition"] = f'attachment; filename="van-ban-{doc_id}.pdf"'
    return resp


def _run_step(doc_id: int, name: str, form: dict[str, str]) -> str:
    """Call the step through the same entry as the API; returns the message to show."""
    data: dict[str, Any] = {k: v.strip() for k, v in form.items()}
    data["deadline"] = date.fromisoformat(data["deadline"]) if data.get("deadline") else None
    data["co_units"] = tuple(c for c in request.form.getlist("co_units") if c)
    data.pop("confirm", None)
    if name == "sign":  # the leader's PIN, typed for this signature, in their own session
        data["confirm"] = auth.PinConfirmation(data.pop("pin", "") or None, g.web_identity)
    result = docs.perform(system(), me(), doc_id, name, data)
    if name == "verify":
        report = getattr(result, "report", None)
        return (
            "Chữ ký số hợp lệ."
            if report is not None and report.valid
            else "Chữ ký số KHÔNG hợp lệ: hãy trả lại nơi gửi kèm lý do."
        )
    return f"Đã thực hiện: {STEP_VI[name]}."


@bp.post("/van-ban/<int:doc_id>/<step>")
@login_required
def step(doc_id: int, step: str) -> BaseResponse:
    if step not in STEP_VI:
        abort(404)
    target = url_for("web.document", doc_id=doc_id)
    try:
        message = _run_step(doc_id, step, request.form.to_dict())
    except ValueError:
        return refused(ClientError("ngày không hợp lệ"), target)
    except EdmsError as exc:
        if step == "sign":
            exc.message = pin_refused(exc)
        return refused(exc, target)
    flash(message, "ok")
    return redirect(target, code=303)


@bp.post("/van-ban/<int:doc_id>/ky-token/chuan-bi")
@login_required
def remote_prepare(doc_id: int) -> Any:
    """Token-held key: the server prepares the PDF and shows what the token must sign."""
    target = url_for("web.document", doc_id=doc_id)
    chain = [p.encode() for p in _pem_blocks(request.form.get("chain", ""))]
    try:
        prepared = docs.remote_prepare(
            system(), me(), doc_id, chain, authority=request.form.get("authority") or None
        )
    except EdmsError as exc:
        return refused(exc, target)
    return render_template("web/remote.html", doc_id=doc_id, prepared=prepared)


@bp.post("/van-ban/<int:doc_id>/ky-token/hoan-tat")
@login_required
def remote_finalize(doc_id: int) -> BaseResponse:
    target = url_for("web.document", doc_id=doc_id)
    try:
        signature = base64.b64decode(request.form.get("signature", ""), validate=True)
        docs.remote_finalize(system(), me(), doc_id, request.form.get("session", ""), signature)
    except (ValueError, TypeError):
        return refused(ClientError("chữ ký phải là chuỗi base64 do token trả về"), target)
    except EdmsError as exc:
        return refused(exc, target)
    flash("Đã ký bằng token.", "ok")
    return redirect(target, code=303)


def _pem_blocks(text: str) -> list[str]:
    blocks, cur = [], []
    for line in text.strip().splitlines():
        cur.append(line.strip())
        if line.strip().startswith("-----END"):
            blocks.append("\n".join(cur) + "\n")
            cur = []
    return blocks
