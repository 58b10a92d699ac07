"""The pages. Thin: each view reads the form, calls an ``edms`` service, and renders or
redirects; refusals from the domain become a message on the page (with the 4xx status).

The login form carries its own CSRF token (kept in the signed form cookie) and redirects
only to same-site paths; failed logins are limited per client (its real address behind
trusted proxies) and per account. A leader signs with their signing PIN, typed for every
signature. Page previews are rendered under limits and cached (:mod:`edms.render`)."""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from edms import auth, jobs, orgs
from edms import documents as docs
from edms.authority import options_for as authority_options
from edms.errors import EdmsError
from edms.models import Agency, OrgUnit, SigningKey, User
from edms.numbering import VN_TZ

from ..context import system
from ..security import client_address, public_limit, same_site_path

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
SESSION_COOKIE = "edms_session"
F = TypeVar("F", bound=Callable[..., Any])

ROLE_VI = {"leader": "Lãnh đạo", "clerk": "Văn thư", "officer": "Chuyên viên", "admin": "Quản trị"}
PRIORITY_VI = docs.PRIORITY_VI
STEP_VI = {
    "submit": "Trình ký",
    "approve": "Duyệt",
    "reject": "Trả lại để sửa",
    "sign": "Ký số",
    "number": "Cấp số",
    "seal": "Ký số cơ quan",
    "register": "Vào sổ",
    "issue": "Ban hành",
    "revoke": "Thu hồi",
    "verify": "Kiểm tra chữ ký",
    "return": "Trả lại nơi gửi",
    "assign": "Phân công xử lý",
    "progress": "Bắt đầu xử lý",
    "complete": "Hoàn thành",
}


# -- who is here ---------------------------------------------------------------------------------


def _identity() -> auth.Identity | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return auth.session_identity(system(), token)
    except EdmsError:
        return None


def login_required(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        identity = _identity()
        if identity is None:
            return redirect(url_for("web.login", next=request.path))
        if request.method == "POST":
            try:
                auth.check_csrf(identity, request.form.get("csrf"))
            except EdmsError:
                abort(403)
        g.web_identity = identity
        with system().sessions() as s:
            user = s.get(User, identity.user_id)
            agency = s.get(Agency, identity.agency_id)
            assert user is not None and agency is not None
            g.user = {
                "username": user.username,
                "full_name": user.full_name,
                "roles": sorted(user.role_set),
                "title": user.title,
                "agency": agency.name,
                "agency_code": agency.code,
            }
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def me() -> str:
    return str(g.web_identity.username)


def has(*roles: str) -> bool:
    return bool(set(roles) & set(g.user["roles"]))


@bp.app_context_processor
def _context() -> dict[str, Any]:
    identity = getattr(g, "web_identity", None)
    return {
        "csrf": identity.csrf_token if identity else "",
        "user": getattr(g, "user", None),
        "ROLE_VI": ROLE_VI,
        "PRIORITY_VI": PRIORITY_VI,
        "STEP_VI": STEP_VI,
        "STATE_VI": docs.STATE_NAMES_VI,
        "has": has if identity else (lambda *_r: False),
        "vn_time": vn_time,
    }


def vn_time(value: str | None) -> str:
    """ISO time → ``22/11/2026 16:30`` in Vietnam time."""
    if not value:
        return ""
    from datetime import datetime

    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is None:
        return t.strftime("%d/%m/%Y")
    return t.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def _refused(exc: EdmsError, target: str) -> BaseResponse:
    flash(exc.message, "error")
    return redirect(target, code=303)


# -- logging in and out ----------------------------------------------------------------------------


def _login_csrf(renew: bool = False) -> str:
    """The login form's own CSRF token, kept in the signed form cookie."""
    if renew or "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(24)
    return str(session["login_csrf"])


def _login_refused(exc: EdmsError) -> str:
    if isinstance(exc, auth.TooManyAttempts):
        return (
            f"Đăng nhập sai nhiều lần: vui lòng thử lại sau "
            f"{exc.extra.get('retry_after', 60)} giây."
        )
    if isinstance(exc, auth.Unauthenticated):
        return "Sai tên đăng nhập hoặc mật khẩu."
    return exc.message


@bp.route("/dang-nhap", methods=["GET", "POST"])
def login() -> Any:
    nxt = same_site_path(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        return render_template("web/login.html", next=nxt, login_csrf=_login_csrf())
    username = request.form.get("username", "")
    expected = session.get("login_csrf")
    if not expected or not hmac.compare_digest(request.form.get("csrf", ""), str(expected)):
        return render_template(
            "web/login.html",
            next=nxt,
            username=username,
            login_csrf=_login_csrf(renew=True),
            error="Trang đăng nhập đã hết hạn; vui lòng đăng nhập lại.",
        ), 400
    try:
        new = auth.login(system(), username, request.form.get("password", ""), client_address())
    except EdmsError as exc:
        page = make_response(
            render_template(
                "web/login.html",
                next=nxt,
                error=_login_refused(exc),
                username=username,
                login_csrf=_login_csrf(),
            ),
            exc.status,
        )
        if exc.extra.get("retry_after"):
            page.headers["Retry-After"] = str(exc.extra["retry_after"])
        return page
    session.pop("login_csrf", None)
    resp = redirect(nxt, code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        new.token,
        httponly=True,
        samesite="Lax",
        secure=not system().settings.is_development,
        max_age=auth.SESSION_HOURS * 3600,
        path="/",
    )
    return resp


@bp.post("/dang-xuat")
@login_required
def logout() -> BaseResponse:
    auth.logout(system(), request.cookies.get(SESSION_COOKIE, ""))
    resp = redirect(url_for("web.login"), code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@bp.route("/ma-pin-ky-so", methods=["GET", "POST"])
@login_required
def signing_pin() -> Any:
    """A leader sets their signing PIN, confirming it with their password."""
    if not has("leader"):
        return render_template("web/error.html", message="Chỉ lãnh đạo có mã PIN ký số."), 403
    if request.method == "GET":
        return render_template("web/pin.html")
    f = request.form
    try:
        if f.get("pin", "") != f.get("pin2", ""):
            raise EdmsError("Hai lần nhập mã PIN không giống nhau.")
        auth.set_signing_pin(
            system(),
            me(),
            f.get("pin", ""),
            actor=me(),
            password=f.get("password", ""),
            client=client_address(),
        )
    except EdmsError as exc:
        flash(_pin_refused(exc), "error")
        return render_template("web/pin.html"), exc.status
    flash("Đã đặt mã PIN ký số.", "ok")
    return redirect(url_for("web.home"), code=303)


def _pin_refused(exc: EdmsError) -> str:
    """The signing PIN's refusals, in Vietnamese."""
    if isinstance(exc, auth.TooManyAttempts):
        return f"Nhập sai nhiều lần: vui lòng thử lại sau {exc.extra.get('retry_after', 60)} giây."
    if exc.extra.get("pin_required"):
        return "Nhập mã PIN ký số để ký."
    if exc.message.startswith("wrong signing PIN"):
        return "Mã PIN ký số không đúng; văn bản chưa được ký."
    if exc.message.startswith("wrong password"):
        return "Mật khẩu không đúng; mã PIN chưa được đổi."
    if "no signing PIN" in exc.message:
        return "Bạn chưa có mã PIN ký số: hãy đặt mã PIN trước (Mã PIN ký số)."
    if "6 to 12 digits" in exc.message:
        return "Mã PIN gồm 6 đến 12 chữ số."
    if "too easy" in exc.message:
        return "Mã PIN quá dễ đoán (các chữ số giống nhau hoặc liên tiếp)."
    return exc.message


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
    queues = [
        (key, QUEUES[key][0], _queue(QUEUES[key][1], QUEUES[key][2]))
        for key in dict.fromkeys(shown)
    ]
    return render_template("web/home.html", queues=queues)


@bp.get("/van-ban")
@login_required
def document_list() -> str:
    key = request.args.get("hang-doi", "da-ban-hanh")
    if key not in QUEUES:
        abort(404)
    title, direction, states = QUEUES[key]
    return render_template(
        "web/list.html", title=title, items=_queue(direction, states), queues=QUEUES, current=key
    )


# -- one document ----------------------------------------------------------------------------------


def _actions(d: dict[str, Any]) -> list[str]:
    """The steps the signed-in user may take on the document now (the domain checks again)."""
    out = []
    for (direction, name), step in docs.STEPS.items():
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
    with system().sessions() as s:
        user = orgs.load_user(s, me())
        units = [
            (u.code, u.name)
            for u in s.scalars(
                select(OrgUnit).where(OrgUnit.agency_id == user.agency_id).order_by(OrgUnit.code)
            )
        ]
        remote = s.scalars(
            select(SigningKey).where(SigningKey.user_id == user.id, SigningKey.active.is_(True))
        ).first()
        remote_key = remote is not None and remote.kind == "remote"
        # the signing authority the leader may choose for this document (edms.authority)
        agency = s.get(Agency, user.agency_id)
        authority_choices = (
            authority_options(user.title, agency.name)
            if agency is not None and "leader" in user.role_set
            else []
        )
    pages = min(d.get("page_amount") or 1, 10)
    report = _with_verdict((d.get("validation") or {}).get("report"))
    return render_template(
        "web/document.html",
        d=d,
        actions=_actions(d),
        units=units,
        pages=pages,
        report=report,
        remote_key=remote_key,
        authority_choices=authority_choices,
        today=date.today().isoformat(),
    )


@bp.get("/van-ban/<int:doc_id>/trang/<int:page>.png")
@login_required
def page_image(doc_id: int, page: int) -> Response:
    """A page of the current PDF as an image, for the preview (rendered under limits,
    once per file version and page)."""
    from edms.render import page_preview

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
        return _refused(EdmsError("ngày không hợp lệ"), target)
    except EdmsError as exc:
        if step == "sign":
            exc.message = _pin_refused(exc)
        return _refused(exc, target)
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
        return _refused(exc, target)
    return render_template("web/remote.html", doc_id=doc_id, prepared=prepared)


@bp.post("/van-ban/<int:doc_id>/ky-token/hoan-tat")
@login_required
def remote_finalize(doc_id: int) -> BaseResponse:
    target = url_for("web.document", doc_id=doc_id)
    try:
        signature = base64.b64decode(request.form.get("signature", ""), validate=True)
        docs.remote_finalize(system(), me(), doc_id, request.form.get("session", ""), signature)
    except (ValueError, TypeError):
        return _refused(EdmsError("chữ ký phải là chuỗi base64 do token trả về"), target)
    except EdmsError as exc:
        return _refused(exc, target)
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


# -- incoming --------------------------------------------------------------------------------------


@bp.route("/van-ban-den/tiep-nhan", methods=["GET", "POST"])
@login_required
def receive() -> Any:
    from edms.doctypes import DOCUMENT_TYPES

    if request.method == "GET":
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form={})
    f = request.form
    upload = request.files.get("file")
    try:
        number, _, notation = f.get("number", "").partition("/")
        if not upload or not upload.filename:
            raise EdmsError("chọn tệp PDF văn bản đến")
        meta = docs.IncomingMeta(
            type_code=f.get("type", ""),
            subject=f.get("subject", ""),
            organ_name=f.get("organ_name", ""),
            code_number=number.strip(),
            code_notation=notation.strip(),
            issued_date=date.fromisoformat(f.get("issued_date", "")),
            organ_id=f.get("organ_id", "").strip() or None,
            priority=int(f.get("priority", "0") or 0),
            due_date=date.fromisoformat(f["due_date"]) if f.get("due_date") else None,
        )
        result = docs.receive(
            system(),
            me(),
            upload.stream,
            upload.filename,  # type: ignore[arg-type]
            meta,
        )
    except ValueError:
        flash("Ngày hoặc mức độ khẩn không hợp lệ.", "error")
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form=f), 400
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form=f), exc.status
    for w in result.warnings:
        flash(w, "warn")
    flash("Đã tiếp nhận văn bản đến.", "ok")
    return redirect(url_for("web.document", doc_id=result.document.id), code=303)


# -- digitization ---------------------------------------------------------------------------------


@bp.route("/so-hoa", methods=["GET", "POST"])
@login_required
def digitize() -> Any:
    from edms.blobs import staging, store_upload
    from edms.digitization.intake import SCAN_TYPES
    from edms.dossiers import CODE

    if request.method == "GET":
        return render_template("web/digitize.html", form={})
    f = request.form
    try:
        if not has("clerk"):
            raise EdmsError("chỉ văn thư được số hóa kết quả giấy")
        files = [x for x in request.files.getlist("files") if x.filename]
        if not files:
            raise EdmsError("chọn ít nhất một tệp ảnh quét")
        if not f.get("dossier_code", "").strip() or not f.get("original_type", "").strip():
            raise EdmsError("cần mã hồ sơ và loại giấy tờ gốc")
        if not CODE.match(f.get("dossier_code", "").strip()) or len(f["dossier_code"]) > 50:
            raise EdmsError(
                "mã hồ sơ chỉ gồm chữ cái không dấu, chữ số, '.', '_' hoặc '-' (tối đa 50 ký tự)"
            )
        request_body: dict[str, Any] = {
            k: f.get(k, "").strip()
            for k in (
                "dossier_code",
                "original_type",
                "procedure_code",
                "result_code",
                "holder_name",
                "original_number",
                "subject",
            )
        }
        request_body.update(copy_type=f.get("copy_type", "SAO Y"), with_qr=True)
        # Staged: a refused file leaves none of the scans stored before it.
        with staging(system()) as staged:
            stored = []
            for x in files:
                kept = store_upload(
                    system(),
                    x.stream,  # type: ignore[arg-type]
                    filename=x.filename,
                    allowed=(*SCAN_TYPES, "application/zip"),
                    retention_years=0,
                )
                staged.append(kept.sha256)
                stored.append({"sha256": kept.sha256, "name": x.filename})
            job = jobs.submit(
                system(), me(), "digitize", {"files": stored, "request": request_body}, total=6
            )
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/digitize.html", form=f), exc.status
    return redirect(url_for("web.job", job_id=job.id), code=303)


@bp.get("/cong-viec/<job_id>")
@login_required
def job(job_id: str) -> Any:
    try:
        j = jobs.get(system(), me(), job_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/job.html", job=j, result=j.result or None)


# -- registers, deadlines, statistics ----------------------------------------------------------


@bp.get("/so-dang-ky")
@login_required
def registers() -> Any:
    from edms import registers as regs

    kind = request.args.get("so", "outgoing")
    if kind not in ("outgoing", "incoming", "follow-up"):
        abort(404)
    today = date.today()
    try:
        start = date.fromisoformat(request.args.get("tu", f"{today.year}-01-01"))
        end = date.fromisoformat(request.args.get("den", today.isoformat()))
        export = regs.collect(system(), me(), kind, start, end)
    except ValueError:
        abort(400)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/registers.html", kind=kind, start=start, end=end, export=export, kinds=regs.LAYOUTS
    )


@bp.get("/theo-doi")
@login_required
def follow_up() -> Any:
    from edms import tracking

    try:
        near = tracking.deadlines(system(), me(), within_days=3)
        today = date.today()
        stats = tracking.handling_stats(system(), me(), date(today.year, 1, 1), today)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/follow_up.html", near=near, stats=stats)


# -- administration --------------------------------------------------------------------------------


@bp.route("/quan-tri", methods=["GET", "POST"])
@login_required
def admin() -> Any:
    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    if request.method == "POST":
        f = request.form
        try:
            orgs.create_user(
                system(),
                g.user["agency_code"],
                f.get("username", ""),
                f.get("full_name", ""),
                request.form.getlist("roles"),
                title=f.get("title", ""),
                unit_code=f.get("unit") or None,
                password_hash=auth.hash_password(f["password"]) if f.get("password") else None,
                actor=me(),
            )
            flash("Đã thêm người dùng.", "ok")
        except EdmsError as exc:
            flash(exc.message, "error")
        return redirect(url_for("web.admin"), code=303)
    from edms.exchange.directory import entries

    with system().sessions() as s:
        user = orgs.load_user(s, me())
        users = list(
            s.scalars(
                select(User)
                .where(User.agency_id == user.agency_id, User.active.is_(True))
                .order_by(User.username)
            )
        )
        units = list(
            s.scalars(
                select(OrgUnit).where(OrgUnit.agency_id == user.agency_id).order_by(OrgUnit.code)
            )
        )
        keys = list(
            s.scalars(select(SigningKey).where(SigningKey.active.is_(True)).order_by(SigningKey.id))
        )
        owners = {u.id: u.full_name for u in users}
        key_rows = [
            {
                "id": k.id,
                "kind": k.kind,
                "subject": k.subject,
                "owner": owners.get(k.user_id or -1) or g.user["agency"],
                "sha": k.cert_sha256[:16],
                "image": bool(k.image_sha256),
            }
            for k in keys
            if k.agency_id == user.agency_id or k.user_id in owners
        ]
        agencies = list(s.scalars(select(Agency).order_by(Agency.code)))
        data = {
            "users": [
                {
                    "username": u.username,
                    "full_name": u.full_name,
                    "roles": sorted(u.role_set),
                    "title": u.title,
                }
                for u in users
            ],
            "units": [(u.code, u.name) for u in units],
            "keys": key_rows,
            "agencies": [(a.code, a.name) for a in agencies],
        }
    return render_template("web/admin.html", **data, directory=entries(system(), me()))


@bp.post("/quan-tri/chung-thu")
@login_required
def bind_certificate() -> BaseResponse:
    """Bind a leader's USB-token certificate and signature image (admins)."""
    target = url_for("web.admin")
    cert, image = request.files.get("certificate"), request.files.get("image")
    if cert is None or not cert.filename or image is None or not image.filename:
        return _refused(EdmsError("chọn tệp chứng thư và ảnh chữ ký"), target)
    with docs.workdir(system()) as wd:
        path = wd / "chu-ky.png"
        image.save(path)
        try:
            orgs.bind_certificate(
                system(),
                request.form.get("username", ""),
                cert.read(200_000),
                path,
                authority=request.form.get("authority", "").strip(),
                actor=me(),
                admin=me(),
            )
        except EdmsError as exc:
            return _refused(exc, target)
    flash("Đã gắn chứng thư và ảnh chữ ký.", "ok")
    return redirect(target, code=303)


@bp.route("/quan-tri/lien-thong", methods=["GET", "POST"])
@login_required
def exchange_inspect() -> Any:
    """Admins: the agency's packages that did not get through, and the inspection of any
    edXML package (one a partner's inbox refused, one ours refused): nothing is stored."""
    from edms.exchange.inspect import inspect, troubled

    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    result, status = None, 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Chọn một tệp gói tin edXML.", "error")
            status = 400
        else:
            limit = system().settings.exchange_max_mb * 1024 * 1024
            result = inspect(upload.stream.read(limit + 1), system())
    return render_template(
        "web/exchange_inspect.html", result=result, facts=None, troubled=troubled(system(), me())
    ), status


@bp.get("/quan-tri/lien-thong/<int:msg_id>")
@login_required
def exchange_message(msg_id: int) -> Any:
    """Admins: one package the agency sent, with its delivery and its inspection."""
    from edms.exchange.inspect import inspect_message

    try:
        facts, result = inspect_message(system(), me(), msg_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/exchange_inspect.html", result=result, facts=facts, troubled=None)


# -- verifying, for anyone --------------------------------------------------------------------


@bp.route("/xac-thuc", methods=["GET", "POST"])
def verify() -> Any:
    """Drop a PDF and see at once whether it is authentic and unchanged (no login). Public
    work: bounded and gated before this runs (:mod:`api.security`)."""
    if request.method == "GET":
        return render_template("web/verify.html", report=None)
    from edms.filetypes import detect
    from edms.signatures import validate_sandboxed

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Chọn một tệp PDF để kiểm tra.", "error")
        return render_template("web/verify.html", report=None), 400
    limit = public_limit(system().settings)
    with docs.workdir(system()) as wd:
        path: Path = wd / "upload.pdf"
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            flash(
                f"Tệp lớn hơn {limit // 1024 // 1024} MB: hãy đăng nhập và dùng API "
                "/api/v1/verify.",
                "error",
            )
            return render_template("web/verify.html", report=None), 413
        kind = detect(data[:65536])
        if kind.mime != "application/pdf":
            flash(f"{upload.filename} không phải là tệp PDF ({kind.description}).", "error")
            return render_template("web/verify.html", report=None), 415
        path.write_bytes(data)
        report = validate_sandboxed(system().settings, path)
    return render_template(
        "web/verify.html", report=_with_verdict(report.to_json()), filename=upload.filename
    )


def _with_verdict(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report with ``changed_after_signing`` worked out, as the validator defines it."""
    if report is None:
        return None
    from signing.sandbox import report_from_json

    return {**report, "changed_after_signing": report_from_json(report).changed_after_signing}


@bp.app_template_filter("b64")
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@bp.app_template_filter("roles_vi")
def _roles_vi(roles: list[str]) -> str:
    return ", ".join(ROLE_VI.get(r, r) for r in roles)
