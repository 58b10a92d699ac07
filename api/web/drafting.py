"""Drafting (soạn thảo) for officers: a new outgoing draft from a Word/PDF file or from the
structured template (Quyết định, Công văn), with its type, subject, recipients, urgency,
secrecy, the leader who signs it and, optionally, who approves it first, in order; the
preview of its pages before it is submitted (Trình ký); after it was sent back, the reason
and a new version (a new file, or the template's text edited).

Thin: the form is read here, the rules are the domain's (:mod:`edms.documents.designation`
checks the signer and approvers). One rule belongs to this page: when the agency has more
than one leader, the drafter must say which one signs (with one leader, that leader is
chosen for them)."""

from __future__ import annotations

from datetime import date
from typing import Any, BinaryIO, cast

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from edms import accounts
from edms import documents as docs
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, login_required, me

TEMPLATE_TYPES = ("quyet-dinh", "cong-van")  # what the structured template lays out
APPROVER_SLOTS = 3
FILE_TYPES = ".docx,.odt,.pdf"


def _choices() -> dict[str, Any]:
    """What the form offers: types, units, leaders, colleagues, levels."""
    from edms.doctypes import DOCUMENT_TYPES

    people = docs.drafting_people(system(), me())
    return {
        "types": DOCUMENT_TYPES,
        "template_types": [t for t in DOCUMENT_TYPES if t.code in TEMPLATE_TYPES],
        "units": accounts.units(system(), me()),
        "leaders": [p for p in people if p.leader],
        "colleagues": [p for p in people if p.username != me()],
        "secrecy": docs.SECRECY_VI,
        "slots": range(1, APPROVER_SLOTS + 1),
        "file_types": FILE_TYPES,
    }


def _people(form: MultiDict[str, str], leaders: list[docs.Colleague]) -> tuple[str, list[str]]:
    """The designated signer and the approvers chosen (in their slots' order)."""
    signer = form.get("signer", "").strip()
    if not signer:
        if len(leaders) > 1:
            raise ClientError("Hãy chọn lãnh đạo ký văn bản (cơ quan có nhiều lãnh đạo).")
        signer = leaders[0].username if leaders else ""
    approvers = [form.get(f"approver{i}", "").strip() for i in range(1, APPROVER_SLOTS + 1)]
    return signer, [a for a in approvers if a]


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _meta(form: MultiDict[str, str], signer: str, approvers: list[str]) -> docs.DraftMeta:
    return docs.DraftMeta(
        type_code=form.get("type", ""),
        subject=form.get("subject", ""),
        recipients=tuple(docs.Recipient(r) for r in _paragraphs(form.get("recipients", ""))),
        drafting_unit=form.get("unit", "").strip() or None,
        priority=int(form.get("priority", "0") or 0),
        secrecy=int(form.get("secrecy", "0") or 0),
        due_date=date.fromisoformat(form["due_date"]) if form.get("due_date") else None,
        designated_signer=signer or None,
        approvers=tuple(approvers),
    )


@bp.route("/soan-thao", methods=["GET", "POST"])
@login_required
def draft_new() -> Any:
    """The drafting form, and the new draft made from it."""
    choices = _choices()
    if request.method == "GET":
        mine = accounts.user_view(system(), me())
        form = {"unit": mine.unit or "", "mode": "file"}
        return render_template("web/draft_new.html", form=form, **choices)
    f = request.form
    upload = request.files.get("file")
    try:
        signer, approvers = _people(f, choices["leaders"])
        meta = _meta(f, signer, approvers)
        if f.get("mode") == "template":
            if meta.type_code not in TEMPLATE_TYPES:
                raise ClientError("Mẫu có sẵn dành cho Quyết định và Công văn.")
            body = _paragraphs(f.get("body", ""))
            if not body:
                raise ClientError("Hãy nhập nội dung văn bản.")
            doc = docs.create_from_template(system(), me(), meta, body)
        else:
            if not upload or not upload.filename:
                raise ClientError("Hãy chọn tệp dự thảo (Word .docx, .odt hoặc PDF).")
            doc = docs.create_draft(
                system(), me(), cast(BinaryIO, upload.stream), upload.filename, meta
            )
    except ValueError:
        flash("Ngày, độ khẩn hoặc độ mật không hợp lệ.", "error")
        return render_template("web/draft_new.html", form=f, **choices), 400
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/draft_new.html", form=f, **choices), exc.status
    flash("Đã tạo dự thảo. Xem lại các trang trước khi trình ký.", "ok")
    return redirect(url_for("web.draft_preview", doc_id=doc.id), code=303)


def last_rejection(d: dict[str, Any]) -> dict[str, Any] | None:
    """The reason the draft was sent back, if that is the last thing that happened to it
    (a revision since then keeps it shown until the draft is submitted again)."""
    for h in reversed(d["history"]):
        if h["action"] == "reject":
            return dict(h)
        if h["action"] == "submit":
            return None
    return None


@bp.get("/soan-thao/<int:doc_id>")
@login_required
def draft_preview(doc_id: int) -> Any:
    """The draft's pages before it is submitted, with who signs and approves it."""
    try:
        d = docs.view_json(docs.get_document(system(), me(), doc_id))
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    if d["direction"] != "outgoing":
        return redirect(url_for("web.document", doc_id=doc_id), code=303)
    return render_template(
        "web/draft_preview.html",
        d=d,
        pages=min(d.get("page_amount") or 1, 10),
        rejection=last_rejection(d),
    )


@bp.route("/soan-thao/<int:doc_id>/sua", methods=["GET", "POST"])
@login_required
def draft_revise(doc_id: int) -> Any:
    """A new version of a draft sent back (or not yet submitted): a new file, or the
    template's text edited; the signer and approvers may change with it."""
    try:
        d = docs.view_json(docs.get_document(system(), me(), doc_id))
        text = docs.template_text(system(), me(), doc_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    choices = _choices()
    named = [a["username"] for a in d["approvers"] if a]
    current = {
        "signer": (d["designated_signer"] or {}).get("username", ""),
        **{f"approver{i + 1}": u for i, u in enumerate(named)},
        "body": "\n".join(text["body"]) if text else "",
        "mode": "template" if text else "file",
    }
    page = {"d": d, "rejection": last_rejection(d), "has_text": text is not None, **choices}
    if request.method == "GET":
        return render_template("web/draft_revise.html", form=current, **page)
    f = request.form
    upload = request.files.get("file")
    try:
        signer, approvers = _people(f, choices["leaders"])
        if f.get("mode") == "template" and text is not None:
            body = _paragraphs(f.get("body", ""))
            if not body:
                raise ClientError("Hãy nhập nội dung văn bản.")
            docs.revise_from_template(
                system(),
                me(),
                doc_id,
                body,
                parts=text.get("parts") or None,
                designated_signer=signer,
                approvers=approvers,
            )
        else:
            if not upload or not upload.filename:
                raise ClientError("Hãy chọn tệp dự thảo mới (Word .docx, .odt hoặc PDF).")
            docs.revise_draft(
                system(),
                me(),
                doc_id,
                cast(BinaryIO, upload.stream),
                upload.filename,
                designated_signer=signer,
                approvers=approvers,
            )
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/draft_revise.html", form=f, **page), exc.status
    flash("Đã lưu bản dự thảo mới. Xem lại rồi trình ký lại.", "ok")
    return redirect(url_for("web.draft_preview", doc_id=doc_id), code=303)


@bp.app_template_filter("doctype_name")
def _doctype_name(code: Any) -> str:
    """A document type's Vietnamese name (``quyet-dinh`` → ``Quyết định``)."""
    from edms.doctypes import BY_CODE

    t = BY_CODE.get(str(code))
    return t.name.split(" (")[0] if t else str(code)
