"""Sessions and tokens, the current user, users (admin), the agency directory, audit
events (read-only), background jobs, and verification of any PDF."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app, jsonify, make_response, request

from edms import accounts, admin_queries, auth, jobs
from edms.numbering import VN_TZ

from .. import schemas as sc
from ..context import system
from ..security import (
    SECURITY,
    SESSION_COOKIE,
    actor,
    client_address,
    current,
    end_session,
    requires,
    start_session,
)

bp = APIBlueprint("admin", __name__, tag="Access and administration")


def _iso(t: Any) -> str | None:
    return None if t is None else t.astimezone(VN_TZ).isoformat(timespec="seconds")


def token_json(t: Any, token: str | None = None) -> dict[str, Any]:
    """An API token's row (:func:`edms.auth.list_tokens`) as the API shows it."""
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "scopes": t.scopes.split(","),
        "created_at": _iso(t.created_at),
        "expires_at": _iso(t.expires_at),
        "revoked_at": _iso(t.revoked_at),
        "last_used_at": _iso(t.last_used_at),
    }
    if token:
        out["token"] = token
    return out


def job_json(j: jobs.JobView) -> dict[str, Any]:
    return {
        "id": j.id,
        "kind": j.kind,
        "state": j.state,
        "total": j.total,
        "done": j.done,
        "progress": round(j.progress, 4),
        "result": j.result,
        "error": j.error,
        "created_at": _iso(j.created_at),
        "finished_at": _iso(j.finished_at),
    }


# -- sessions and tokens ---------------------------------------------------------------------


@bp.post("/sessions")
@bp.input(sc.LoginIn, arg_name="data")
@bp.output(sc.SessionOut, status_code=201)
@bp.doc(summary="Log in (browser session)", responses=[401, 422, 429])
def login(data: dict[str, Any]) -> Response:
    """Sets the `edms_session` cookie (HttpOnly, SameSite=Lax). Send the returned CSRF
    token as `X-CSRF-Token` on every change. Five failed attempts for a user name within
    15 minutes block further attempts for it."""
    new = auth.login(system(), data["username"], data["password"], client_address())
    body = {
        "user": accounts.user_view(system(), new.identity.username).to_json(),
        "csrf_token": new.identity.csrf_token,
        "expires_at": _iso(new.expires_at),
    }
    resp = make_response(sc.SessionOut().dump(body), 201)
    start_session(resp, new.token)
    return resp


@bp.delete("/sessions/current")
@bp.output({}, status_code=204)
@bp.doc(summary="Log out", security=SECURITY, responses=[401, 403])
@requires("read")
def logout() -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(system(), token)
    resp = make_response("", 204)
    end_session(resp)
    return resp


@bp.get("/me")
@bp.output(sc.UserOut)
@bp.doc(summary="The authenticated user", security=SECURITY, responses=[401])
@requires("read")
def me() -> dict[str, Any]:
    return accounts.user_view(system(), actor()).to_json()


@bp.post("/tokens")
@bp.input(sc.TokenIn, arg_name="data")
@bp.output(sc.TokenOut, status_code=201)
@bp.doc(
    summary="Create an API token (shown once)",
    security=SECURITY,
    responses=[400, 401, 403, 404, 422],
)
@requires("admin")
def create_token(data: dict[str, Any]) -> dict[str, Any]:
    """Only a session or a token with the `admin` scope creates tokens, and never with a
    scope the creating credential lacks. Admins may create them for other users of their
    agency, never with the `sign` scope: a leader mints their own signing token."""
    new = auth.create_token(
        system(),
        actor(),
        data["name"],
        data["scopes"],
        data["days"],
        data.get("user"),
        granted=current().scopes,
        credential=current().credential,
    )
    return token_json(new.row, new.token)


@bp.put("/me/signing-pin")
@bp.input(sc.SigningPinIn, arg_name="data")
@bp.output({}, status_code=204)
@bp.doc(
    summary="Set your signing PIN (leaders)", security=SECURITY, responses=[400, 401, 403, 422, 429]
)
@requires("read")
def set_signing_pin(data: dict[str, Any]) -> Response:
    """The PIN (6 to 12 digits) confirms every signature with your server-held key. Your
    current password is required; wrong passwords count as failed logins."""
    auth.set_signing_pin(
        system(),
        actor(),
        data["pin"],
        actor=actor(),
        password=data["password"],
        client=client_address(),
    )
    return make_response("", 204)


@bp.get("/tokens")
@bp.output(sc.TokenList)
@bp.doc(summary="Your API tokens (admins: the agency's)", security=SECURITY, responses=[401, 403])
@requires("read")
def list_tokens() -> dict[str, Any]:
    return {"items": [token_json(t) for t in auth.list_tokens(system(), actor())]}


@bp.delete("/tokens/<int:token_id>")
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke an API token", security=SECURITY, responses=[401, 403, 404])
@requires("admin")
def revoke_token(token_id: int) -> Response:
    auth.revoke_token(system(), actor(), token_id)
    return make_response("", 204)


# -- users, agencies, audit -------------------------------------------------------------------


@bp.get("/users")
@bp.output(sc.UserList)
@bp.doc(summary="Users of your agency", security=SECURITY, responses=[401, 403])
@requires("read")
def list_users() -> dict[str, Any]:
    return {"items": [u.to_json() for u in accounts.list_users(system(), actor())]}


@bp.post("/users")
@bp.input(sc.UserIn, arg_name="data")
@bp.output(sc.UserOut, status_code=201)
@bp.doc(
    summary="Add a user to your agency (admin)",
    security=SECURITY,
    responses=[400, 401, 403, 404, 409, 422],
)
@requires("admin")
def add_user(data: dict[str, Any]) -> dict[str, Any]:
    user = accounts.add_user(
        system(),
        actor(),
        data["username"],
        data["full_name"],
        data["roles"],
        title=data["title"],
        unit_code=data.get("unit"),
        password=data.get("password"),
    )
    return user.to_json()


@bp.get("/agencies")
@bp.output(sc.AgencyList)
@bp.doc(summary="The agency directory", security=SECURITY, responses=[401, 403])
@requires("read")
def agencies() -> dict[str, Any]:
    rows = accounts.agencies(system(), actor())
    return {
        "items": [{"code": a.code, "name": a.name, "abbreviation": a.abbreviation} for a in rows]
    }


@bp.get("/audit-events")
@bp.input(sc.AuditQuery, location="query")
@bp.output(sc.AuditPage)
@bp.doc(
    summary="Audit events of your agency (read-only)", security=SECURITY, responses=[401, 403, 422]
)
@requires("read")
def audit_events(query_data: dict[str, Any]) -> dict[str, Any]:
    """For admins and leaders. Events by the agency's users and about its documents."""
    q = query_data
    total, rows = admin_queries.audit_events(
        system(),
        actor(),
        object_type=q.get("object_type"),
        object_id=q.get("object_id"),
        page=q["page"],
        per_page=q["per_page"],
    )
    return {
        "total": total,
        "items": [
            {
                "seq": e.seq,
                "at": _iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details,
                "hash": e.hash,
            }
            for e in rows
        ],
    }


# -- jobs, verification ---------------------------------------------------------------------------


@bp.get("/jobs")
@bp.output(sc.JobList)
@bp.doc(
    summary="Your background jobs (admins: the agency's)", security=SECURITY, responses=[401, 403]
)
@requires("read")
def list_jobs() -> dict[str, Any]:
    return {"items": [job_json(j) for j in jobs.list_jobs(system(), actor())]}


@bp.get("/jobs/<job_id>")
@bp.output(sc.JobOut)
@bp.doc(
    summary="A background job's state and progress", security=SECURITY, responses=[401, 403, 404]
)
@requires("read")
def get_job(job_id: str) -> dict[str, Any]:
    return job_json(jobs.get(system(), actor(), job_id))


# A mapping of both forms APIFlask takes (a description, or a response object).
VERIFY_RESPONSES: Any = {
    202: {
        "description": "A large file: verified by the job in the body.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobOut"}}},
    },
    400: "Bad request",
    401: "Authentication required",
    403: "Not allowed",
    413: "Too large",
    415: "Not a PDF",
    422: "Invalid request",
}


@bp.post("/verify")
@bp.input(sc.FileUpload, location="files", arg_name="files")
@bp.output(sc.VerifyOut)
@bp.doc(
    summary="Validate any PDF: every signature, and whether it changed after signing",
    security=SECURITY,
    responses=VERIFY_RESPONSES,
)
@requires("read")
def verify(files: dict[str, Any]) -> Any:
    """Runs in the sandboxed validator (memory and time limits). Files over
    `EDMS_VERIFY_INLINE_MB` (default 32 MiB) are verified in a background job: the answer is
    then 202 with the job, whose result holds the report."""
    from edms.blobs import staging, store_upload, workdir
    from edms.filetypes import detect, ensure_allowed

    f = files["file"]
    head = f.stream.read(65536)
    ensure_allowed(detect(head), ("application/pdf",), f.filename)
    f.stream.seek(0, 2)
    size = f.stream.tell()
    f.stream.seek(0)
    if size > current_app.config["EDMS_VERIFY_INLINE"]:
        with staging(system()) as staged:  # the job discards the upload when it ends
            stored = store_upload(
                system(),
                f.stream,
                filename=f.filename,
                allowed=("application/pdf",),
                retention_years=0,
            )
            staged.append(stored.sha256)
            job = jobs.submit(system(), actor(), "verify", {"sha256": stored.sha256}, total=1)
        resp = jsonify(job_json(job))
        resp.status_code = 202
        resp.headers["Location"] = f"/api/v1/jobs/{job.id}"
        return resp
    with workdir(system(), "verify") as d:
        path = d / "upload.pdf"
        f.save(path)
        report = admin_queries.verify_upload(system(), actor(), path)
    return {
        "valid": report.valid,
        "changed_after_signing": report.changed_after_signing,
        "report": report.to_json(),
    }
