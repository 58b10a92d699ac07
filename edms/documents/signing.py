"""The leader's signature: personal signing with the signature's layout, and remote signing
(prepare a digest, finalize with the device's signature).

Invariants: a personal signature needs the signer's consent (PIN confirmation) and, on a
draft that names its signer, is made by that leader only (:mod:`.designation`); the file
is signed outside the transaction and committed only if the document's ``version`` did not
change meanwhile (:func:`.lifecycle.reload_for_commit`); our output is validated before it
is recorded; a signing or trust-service failure is never a client error.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from signing.engine import Level, Profile, SigningError, TrustServiceError

from .. import audit, blobs
from ..auth import PinConfirmation, SigningConsent, confirm_signing
from ..authority import Authority
from ..authority import resolve as resolve_authority
from ..db import transaction
from ..drafting import places
from ..errors import (
    ClientError,
    Forbidden,
    InternalError,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
)
from ..models import (
    Document,
    SigningKey,
    User,
)
from ..orgs import (
    active_key,
    key_image,
    load_user,
    open_key,
)
from ..signatures import engine_for, options_for
from ..system import System
from ..templates import SIGNATURE_FIELD
from .designation import check_signer
from .files import (
    export_file,
    index_document,
    main_file,
    problems,
    record_file,
    signature_record,
    validate_own,
    workdir,
)
from .lifecycle import StepResult, advance, check_step, load_document, reload_for_commit
from .transaction import run_in_transaction


def signing_level(system: System, value: str | None, default: str) -> Level:
    try:
        return Level(value or default)
    except ValueError:
        raise ClientError(f"unknown signature level {value!r} (B-B, B-T, B-LT, B-LTA)") from None


def _existing_empty_signature_field(path: Path) -> str | None:
    """The draft's empty signature field for the leader: ours (``ChuKyLanhDao``), else
    one the draft brought itself."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields

    with open(path, "rb") as f:
        reader = PdfFileReader(f, strict=False)
        empty = [
            name
            for name, value, _ref in fields.enumerate_sig_fields(reader)
            if value is None and not name.startswith("EDMS_")
        ]
    return SIGNATURE_FIELD if SIGNATURE_FIELD in empty else (empty[0] if empty else None)


@dataclass(frozen=True)
class PersonalLayout:
    """How the leader's signature goes on this draft: its field, the authority, and what
    the page prints itself around the field (then not drawn again)."""

    field_name: str | None
    authority: Authority
    titles_on_page: bool
    name_on_page: bool

    def options(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"title": ""} if self.authority.choice == "Q" else {}
        return {
            "authority": self.authority.text,
            "field_name": self.field_name,
            "titles_on_page": self.titles_on_page,
            "name_on_page": self.name_on_page,
            **extra,
        }


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def personal_layout(
    system: System, src: Path, user: User, agency_name: str, key_authority: str, chosen: str | None
) -> PersonalLayout:
    """The authority chosen (or bound with the key, or printed on the draft), checked
    against the leader's position and against what the draft's signature block prints."""
    name = _existing_empty_signature_field(src)
    printed = places.SignatureContext()
    if name is not None:
        found = places.existing_fields(src).get(name)
        if found is not None:
            printed = places.signature_context(
                src, found[2], found[1], memory_mb=system.settings.render_memory_mb
            )
    if printed.titles and not (chosen and chosen.strip()):
        # the draft prints its authority: that is the default
        prefixed = [t for t in printed.titles if t.split(" ", 1)[0] in places.AUTHORITY_PREFIXES]
        key_authority = "\n".join(prefixed) if prefixed else "CV"
    authority = resolve_authority(chosen, key_authority, title=user.title, agency_name=agency_name)
    if printed.titles and printed.authority_prefix != authority.prefix:
        raise ClientError(
            f'khối chữ ký của dự thảo in "{" / ".join(printed.titles)}" nhưng thẩm quyền '
            f'ký đã chọn là "{authority.text.replace(chr(10), " / ") or "ký theo chức vụ"}"; '
            "hãy chọn đúng thẩm quyền hoặc trả lại dự thảo để sửa"
        )
    if printed.name is not None and _fold(printed.name) != _fold(user.full_name):
        raise ClientError(
            f'khối chữ ký của dự thảo in tên "{printed.name}", không phải '
            f'"{user.full_name}": người ký phải là người có tên trên văn bản'
        )
    return PersonalLayout(name, authority, bool(printed.titles), printed.name is not None)


def _consent(
    system: System, actor: str, doc_id: int, confirm: PinConfirmation | SigningConsent | None
) -> SigningConsent:
    """The leader's confirmation for this signature (see :mod:`edms.auth`)."""
    if isinstance(confirm, SigningConsent):
        confirm.check(actor, doc_id)
        return confirm
    if isinstance(confirm, PinConfirmation):
        return confirm_signing(system, actor, confirm.pin, [doc_id], confirm.identity)
    raise Forbidden(
        "signing with your key needs your signing PIN (mã PIN ký số)", pin_required=True
    )


def _personal_signer(s: Session, actor: str, doc_id: int) -> tuple[User, Document, SigningKey]:
    """The checks before a personal signature, in order: the document, the ``sign`` step,
    the designated signer; then the leader's own active key."""
    user = load_user(s, actor)
    doc = load_document(s, user, doc_id)
    check_step(user, doc, "sign")
    check_signer(s, user, doc)
    return user, doc, active_key(s, user_id=user.id)


def sign(
    system: System,
    actor: str,
    doc_id: int,
    *,
    authority: str | None = None,
    level: str | None = None,
    confirm: PinConfirmation | SigningConsent | None = None,
) -> StepResult:
    """The competent person's personal signature, with the leader's own bound key. It
    needs the leader's confirmation (``confirm``: their signing PIN through their own
    credential), checked after the document, the role and the state; the audit event
    names the credential."""
    with workdir(system) as wd:
        with system.sessions() as s:
            _, _, key = _personal_signer(s, actor, doc_id)
            if key.kind == "remote":
                raise InvalidTransition(
                    "your key is on your own token: sign through the "
                    "remote flow (prepare, then finalize)"
                )
        consent = _consent(system, actor, doc_id, confirm)
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            src = export_file(system, main_file(s, doc.id), wd / "in.pdf")
            version = doc.version
            agency_name = doc.organ_name
        profile = open_key(system, key)
        lvl = signing_level(system, level, system.settings.sign_level_personal)
        layout = personal_layout(system, src, user, agency_name, profile.authority, authority)
        opts = dataclasses.replace(
            options_for(profile, Profile.PERSONAL, level=lvl), **layout.options()
        )
        out = wd / "signed.pdf"
        try:
            result = engine_for(system.settings, profile).sign(src, out, opts)
        except TrustServiceError as exc:
            raise ServiceUnavailable(f"signing failed, nothing was stored: {exc}") from None
        except SigningError as exc:
            raise InternalError(f"signing failed, nothing was stored: {exc}") from None
        return _commit_personal(
            system,
            actor,
            doc_id,
            version,
            out,
            result,
            key,
            {"credential": consent.credential, "confirmed": "pin"},
            competence=layout.authority.competence,
        )


def _commit_personal(
    system: System,
    actor: str,
    doc_id: int,
    version: int,
    out: Path,
    result: Any,
    key: SigningKey,
    how: dict[str, str] | None = None,
    competence: str | None = None,
) -> StepResult:
    """Validate a personally signed file and record it (server-held and remote keys)."""
    report = validate_own(system, out)
    if not report.valid:
        raise InternalError(
            "the signature made does not validate, nothing was stored: " + problems(report)
        )
    sig_report = next(r for r in report.signatures if r.field == result.field_name)

    def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
        user, doc, step = reload_for_commit(s, actor, doc_id, "sign", version)
        check_signer(s, user, doc)
        f = record_file(system, s, puts, doc, out, f"{doc.id}-signed.pdf", "main", "signed", user)
        s.add(signature_record(doc, f, Profile.PERSONAL, result, user, key, report))
        doc.signer_name = sig_report.signer.common_name[:50]
        title = sig_report.signer.title or user.title
        doc.signer_position = title[:100]
        if competence is not None:
            doc.signer_competence = competence[:100]
        advance(
            s,
            user,
            doc,
            step,
            details={
                **({"competence": competence} if competence is not None else {}),
                "field": result.field_name,
                "level": result.level.value,
                "sha256": f.sha256,
                "certificate_sha256": key.cert_sha256,
                "key": key.kind,
                **(how or {}),
            },
        )
        index_document(s, doc)
        return StepResult(doc, report=report)

    step_result: StepResult = run_in_transaction(system, work)
    return step_result


@dataclass(frozen=True)
class RemoteSession:
    session_id: str
    signed_attributes: bytes
    digest: bytes
    digest_algorithm: str
    signature_algorithm: str
    expires_at: datetime


def _remote(system: System) -> Any:
    from signing.remote import RemoteSigning

    from ..signatures import trust_services

    return RemoteSigning(
        system.settings.data_dir / "remote-signing", trust_services(system.settings)
    )


def remote_prepare(
    system: System,
    actor: str,
    doc_id: int,
    chain_pem: list[bytes],
    *,
    authority: str | None = None,
    level: str | None = None,
) -> RemoteSession:
    """Step 1 of signing with a key the server never sees (the leader's USB token): lay
    out the signature and return the digest the token must sign. The certificate must be
    the one bound to this leader."""
    from signing.trust import CertificateError, parse_certificates

    try:
        chain = parse_certificates(chain_pem)
    except CertificateError as exc:
        raise ClientError(str(exc)) from None
    with workdir(system) as wd:
        with system.sessions() as s:
            user, doc, key = _personal_signer(s, actor, doc_id)
            if key.cert_sha256 != chain[0].sha256.hex():
                raise Forbidden(
                    "this certificate is not the one bound to you; a leader "
                    "signs only with their own certificate"
                )
            src = export_file(system, main_file(s, doc.id), wd / "in.pdf")
            version = doc.version
            agency_name = doc.organ_name
        image = key_image(system, key)
        lvl = signing_level(system, level, system.settings.sign_level_personal)
        from signing.engine import SignOptions

        layout = personal_layout(system, src, user, agency_name, key.authority, authority)
        opts = SignOptions(Profile.PERSONAL, lvl, signature_image=image, **layout.options())
        try:
            prepared = _remote(system).prepare(src, chain, opts)
        except SigningError as exc:
            raise InternalError(f"cannot prepare the signature: {exc}") from None
    side = system.settings.data_dir / "remote-signing" / prepared.session_id / "edms.json"
    side.write_text(
        json.dumps(
            {
                "document_id": doc_id,
                "user": actor.strip().lower(),
                "version": version,
                "key_id": key.id,
                "competence": layout.authority.competence,
            }
        )
    )
    with transaction(system.sessions) as s:
        audit.record(
            s,
            actor,
            "document.sign_prepare",
            "document",
            str(doc_id),
            {"session": prepared.session_id[:8]},
        )
    return RemoteSession(
        prepared.session_id,
        prepared.signed_attributes,
        prepared.digest,
        prepared.digest_algorithm,
        prepared.signature_algorithm,
        prepared.expires_at,
    )


def remote_finalize(
    system: System, actor: str, doc_id: int, session_id: str, signature_value: bytes
) -> StepResult:
    """Step 2: embed the token's signature value; refused if it does not verify against
    the prepared certificate, if the session expired, or if it was prepared for another
    document or user."""
    rs = _remote(system)
    try:
        side = rs._dir(session_id) / "edms.json"
    except SigningError:
        raise NotFound("no such signing session") from None
    if not side.is_file():
        raise NotFound("no such signing session (expired, or already finalized)")
    state = json.loads(side.read_text())
    if state["document_id"] != doc_id or state["user"] != actor.strip().lower():
        raise NotFound("no such signing session for this document")
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        check_step(user, doc, "sign")
        check_signer(s, user, doc)
        key = s.get(SigningKey, state["key_id"])
        assert key is not None
    with workdir(system) as wd:
        out = wd / "signed.pdf"
        try:
            result = rs.finalize(session_id, signature_value, out)
        except TrustServiceError as exc:
            raise ServiceUnavailable(f"finalizing failed, nothing was stored: {exc}") from None
        except SigningError as exc:
            raise ClientError(
                f"the signature was not accepted, nothing was stored: {exc}"
            ) from None
        return _commit_personal(
            system,
            actor,
            doc_id,
            state["version"],
            out,
            result,
            key,
            competence=state.get("competence"),
        )
