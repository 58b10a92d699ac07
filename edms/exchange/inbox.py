"""The inbox: packages other agencies send to this system, taken as a pipeline of checks,
each able to refuse the package before anything is stored:

1. **screen**: size limit, no DTD or entities (defusedxml), well-formed XML;
2. **addressee**: which of this system's agencies the package is for — a document's ``To``;
   a status packet's document (the agency that sent it, or for 13 the agencies that
   received it); none: refused;
3. **sender**: the claimed sender (``From/OrganId``) is listed in *the addressee's own*
   exchange directory — another agency's directory of this system does not count (403);
4. **signature**: the XML signature verifies with a certificate pinned for the sender in
   that directory, and covers the whole package (403);
5. **content**: the edXML structure (the liberal reader of :mod:`.edxml`) and what makes it
   acceptable (:func:`edxml.refusals`, :func:`policy`);
6. **duplicate**: the same sender and DocumentId again gets the original receipt and
   creates nothing;
7. **documents**: every attached PDF is validated (sandboxed, full report); a PDF that fails
   refuses the whole package with the reason (the sender records it as status 02);
8. **accept**: one transaction stores the package, creates the incoming document in state
   ``verified`` with its validation report for each addressed agency, queues status 01
   back to the sender, and keeps the signed receipt returned to the sender.

A revocation sent as a document (business type 1, as VNPT's library can) is taken as the
status 13 it means. Updates (business type 2) are refused with the reason: the sender sends
a replacing document (3) instead.

Steps 1 to 5 are here (:func:`accept`); what an accepted package creates (steps 6 to 8, for
documents and status packets) is :mod:`.accepting`, re-exported here.
"""

from __future__ import annotations

import hashlib

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit
from ..db import transaction
from ..errors import ClientError, Forbidden, InvalidTransition, NotFound
from ..models import (
    Agency,
    Document,
    ExchangeMessage,
    StatusEvent,
)
from ..orgs import load_user
from ..system import System
from . import edxml
from .accepting import (
    Answer,
    DocumentRejected,
    accept_document,
    accept_status,
    now_utc,
    type_code_of,
)
from .directory import Peer, find, peer_of
from .messages import queue_status

__all__ = [
    "Answer",
    "BadSignature",
    "DocumentRejected",
    "UnknownSender",
    "accept",
    "addressees",
    "answer_revocation",
    "policy",
    "trusted_peers",
    "type_code_of",
    "verify_for",
]


class UnknownSender(edxml.PackageRefused):
    status = 403
    title = "Unknown sender"
    type_slug = "unknown-sender"


class BadSignature(edxml.PackageRefused):
    status = 403
    title = "Package signature invalid"
    type_slug = "package-signature-invalid"


def policy(p: edxml.Packet) -> list[str]:
    """What this system does not take, beyond :func:`edxml.refusals` (each a reason)."""
    if not isinstance(p, edxml.DocumentPackage) or p.business_type == 1:
        return []
    if p.business_type == 2:
        return [
            "updates of a sent document (business type 2) are not taken: send a "
            "replacing document (business type 3) instead"
        ]
    others = [a.name for a in p.attachments if a.content_type != "application/pdf"]
    if others:  # kept as they came or not at all: only signed PDFs are records here
        return [
            "only signed PDF files are taken through the exchange; the package also "
            f"carries {', '.join(others)}"
        ]
    if not p.attachments:
        return ["the package carries no PDF document"]
    return []


def addressees(s: Session, route: edxml.Routing) -> list[Agency]:
    """This system's agencies a package is for (refused when there are none)."""
    ours = {a.code: a for a in s.scalars(select(Agency))}
    if route.kind == "document":
        found = [ours[c] for c in dict.fromkeys(route.to) if c in ours]
        if not found:
            raise edxml.PackageRefused(
                "the package is not addressed to an agency of this system (To: "
                + (", ".join(route.to) or "none")
                + ")"
            )
        return found
    return _status_addressees(s, ours, route.sender, route.document_key, route.status_code == "13")


def _status_addressees(
    s: Session, ours: dict[str, Agency], sender: str, key: str, revocation: bool
) -> list[Agency]:
    if revocation:  # the issuer asks the agencies it sent the document to
        ids = list(
            dict.fromkeys(
                s.scalars(
                    select(ExchangeMessage.agency_id)
                    .where(
                        ExchangeMessage.direction == "in",
                        ExchangeMessage.kind == "document",
                        ExchangeMessage.peer_code == sender,
                        ExchangeMessage.document_key == key,
                    )
                    .order_by(ExchangeMessage.id)
                )
            )
        )
        if not ids:
            raise edxml.PackageRefused(f"no document {key} was received from {sender}")
        return [a for a in ours.values() if a.id in ids]
    m = edxml.DOCUMENT_ID.match(key)
    agency = ours.get(m["organ"]) if m else None
    sent = (
        None
        if agency is None
        else s.scalars(
            select(ExchangeMessage.id).where(
                ExchangeMessage.agency_id == agency.id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.kind == "document",
                ExchangeMessage.peer_code == sender,
                ExchangeMessage.document_key == key,
            )
        ).first()
    )
    if agency is None or sent is None:
        raise edxml.PackageRefused(f"{sender} reports on {key}, which this system did not send it")
    return [agency]


def trusted_peers(s: Session, agencies: list[Agency], sender: str) -> dict[int, Peer]:
    """For each addressed agency whose own directory lists the sender: its entry."""
    out = {}
    for agency in agencies:
        entry = find(s, agency.id, sender)
        if entry is not None:
            out[agency.id] = peer_of(entry)
    return out


def verify_for(
    data: bytes, peers: dict[int, Peer], sender: str
) -> tuple[list[int], etree._Element]:
    """The agencies whose pinned certificates for the sender verify the package, and the
    tree the signature covers (read the content from it, never from the raw bytes)."""
    ok: list[int] = []
    tree: etree._Element | None = None
    reason = ""
    tried: dict[tuple[str, ...], bool] = {}
    for agency_id, peer in peers.items():
        if peer.fingerprints not in tried:
            try:
                verified = xmldsig.verify(data, list(peer.certificates))
                tree = verified.signed if tree is None else tree
                tried[peer.fingerprints] = True
            except xmldsig.XmlSignatureError as exc:
                reason, tried[peer.fingerprints] = str(exc), False
            except Exception as exc:  # signxml's other complaints about the structure
                reason, tried[peer.fingerprints] = f"{type(exc).__name__}: {exc}", False
        if tried[peer.fingerprints]:
            ok.append(agency_id)
    if not ok or tree is None:
        raise BadSignature(f"the package from {sender} is refused: {reason}")
    return ok, tree


def accept(system: System, data: bytes) -> Answer:
    settings = system.settings
    edxml.screen(data, settings.exchange_max_mb * 1024 * 1024)
    try:
        root = etree.fromstring(data, parser=xmldsig.hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise edxml.PackageRefused(f"malformed XML: {exc}") from None
    route = edxml.routing(root)
    with system.sessions() as s:
        targets = addressees(s, route)
        peers = trusted_peers(s, targets, route.sender)
        if not peers:
            raise UnknownSender(
                f"agency {route.sender} is not in the exchange directory of "
                f"{', '.join(a.code for a in targets)}: it cannot deliver here"
            )
    agency_ids, signed = verify_for(data, peers, route.sender)
    p = edxml.parse(signed)
    if p.sender.organ_id != route.sender:  # cannot happen: the same bytes, parsed twice
        raise BadSignature("the signed package names another sender")
    problems = edxml.refusals(p) + policy(p)
    if problems:
        raise edxml.PackageRefused(problems[0], problems=problems)
    sha = hashlib.sha256(data).hexdigest()
    if isinstance(p, edxml.DocumentPackage) and p.business_type == 1:
        p = edxml.StatusPacket(
            p.sender,
            edxml.ResponseFor(
                p.sender.organ_id,
                f"{p.code_number}/{p.code_notation}",
                p.document_key,
                p.promulgation_date,
            ),
            "13",
            p.business.reason or edxml.BUSINESS_REASONS[1],
            p.business.staff or edxml.StaffInfo(),
            p.sent_at,
        )
        with system.sessions() as s:
            agency_ids = [
                a.id
                for a in _status_addressees(
                    s,
                    {a.code: a for a in s.scalars(select(Agency))},
                    p.sender.organ_id,
                    p.document_key,
                    True,
                )
                if a.id in agency_ids
            ]
        if not agency_ids:
            raise edxml.PackageRefused(
                f"no document {p.document_key} was received from "
                f"{p.sender.organ_id} by the agencies addressed"
            )
    if isinstance(p, edxml.StatusPacket):
        return accept_status(system, sha, p, agency_ids)
    return accept_document(system, data, sha, p, agency_ids)


# -- answering a revocation (15 / 16) ----------------------------------------------------------


def answer_revocation(
    system: System, actor: str, doc_id: int, accept_it: bool, reason: str = ""
) -> Document:
    """The clerk answers the sender's revocation request: 15 (the document is frozen as
    revoked here and kept as a record) or 16 (refused, with the reason)."""
    if not accept_it and not reason.strip():
        raise ClientError("refusing a revocation needs a reason")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        if "clerk" not in user.role_set:
            raise Forbidden("only the clerk's office answers revocation requests")
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        received = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "in",
                ExchangeMessage.kind == "document",
            )
        ).first()
        asked = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "in",
                ExchangeMessage.kind == "status",
                ExchangeMessage.status_code == "13",
            )
        ).first()
        answered = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.status_code.in_(("15", "16")),
            )
        ).first()
        if received is None or asked is None or answered is not None:
            raise InvalidTransition(f"document {doc_id} has no open revocation request")
        now = now_utc()
        code = "15" if accept_it else "16"
        if accept_it:
            doc.frozen, doc.frozen_reason = True, f"bên gửi thu hồi: {asked.description}"
        doc.updated_at = now
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=now,
                actor_id=user.id,
                action="revoke_answer",
                from_state=doc.state,
                to_state=doc.state,
                code=code,
                note=reason.strip(),
            )
        )
        queue_status(
            s,
            doc.agency_id,
            received.peer_code,
            doc.id,
            received.document_key,
            code,
            reason.strip() or edxml.STATUS_CODES[code],
            user,
        )
        audit.record(
            s,
            user.username,
            "exchange.revocation",
            "document",
            str(doc.id),
            {"accepted": accept_it, "reason": reason.strip()},
        )
        s.flush()
        s.expunge(doc)
        return doc
