"""Inspection of an edXML package, for people who debug interoperability with another
vendor's software: what our reader gets from it (header fields, attachments with sizes and
hashes), its signature (present, intact, by whom, trusted or not) and every reason the
inbox would refuse it — **without storing anything**.

The checks are the inbox's own (:mod:`.edxml`'s reader, :func:`edxml.refusals`,
:func:`.inbox.policy`, the addressee's directory and its pinned certificates), run to the
end instead of stopping at the first refusal. A signature is checked twice: with the
certificate the package carries (*intact*: nothing changed since it was signed, by whoever
holds that key — never a reason to trust it) and with the certificates pinned for the
sender in the addressee's directory (*trusted*), or, for a package this system sent, with
its own agency's seal certificate.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography import x509
from lxml import etree
from sqlalchemy import select

from signing import xmldsig

from .. import blobs
from ..errors import EdmsError, NotFound
from ..models import Agency, Document, ExchangeMessage
from ..orgs import active_key, load_user, open_key, require_role
from ..system import System
from . import edxml
from .directory import fingerprint

MB = 1024 * 1024
OFFLINE_LIMIT = 256 * MB


@dataclass
class Inspection:
    size: int
    sha256: str
    kind: str | None = None  # document | status | None (unreadable)
    header: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    signature: dict[str, Any] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def acceptable(self) -> bool:
        return not self.refusals

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["acceptable"] = self.acceptable
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _header(p: edxml.Packet) -> dict[str, Any]:
    if isinstance(p, edxml.StatusPacket):
        return _plain(
            {
                "from": asdict(p.sender),
                "responseFor": asdict(p.response_for),
                "status": {
                    "code": p.status_code,
                    "meaning": edxml.STATUS_CODES[p.status_code],
                    "description": p.description,
                },
                "staff": asdict(p.staff),
                "timestamp": p.at,
            }
        )
    b = p.business
    return _plain(
        {
            "from": asdict(p.sender),
            "to": [asdict(t) for t in p.to],
            "documentId": p.document_key,
            "code": f"{p.code_number}/{p.code_notation}" if p.code_notation else p.code_number,
            "promulgation": {"place": p.place, "date": p.promulgation_date},
            "documentType": {
                "type": p.type_code,
                "typeDetail": p.type_detail,
                "typeName": p.type_name,
            },
            "subject": p.subject,
            "signer": {
                "competence": p.signer_competence,
                "position": p.signer_position,
                "fullName": p.signer_name,
            },
            "dueDate": p.due_date,
            "priority": p.priority,
            "pageAmount": p.page_amount,
            "promulgationAmount": p.promulgation_amount,
            "direction": p.direction,
            "steeringType": p.steering_type,
            "toPlaces": list(p.to_places),
            "appendixes": list(p.appendixes),
            "responseFor": [asdict(r) for r in p.response_for],
            "traces": [asdict(t) for t in p.traces],
            "business": {
                "type": b.doc_type,
                "meaning": edxml.BUSINESS_TYPES[b.doc_type],
                "reason": b.reason,
                "documentId": b.document_key,
                "paper": b.paper,
                "replaces": [asdict(r) for r in b.replacements],
                "staff": asdict(b.staff) if b.staff else None,
            },
        }
    )


def _certificate(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sha256": fingerprint(cert),
        "notBefore": cert.not_valid_before_utc.isoformat(),
        "notAfter": cert.not_valid_after_utc.isoformat(),
    }


def _signature(data: bytes, root: etree._Element) -> dict[str, Any]:
    """Present? Intact with the certificate it carries? (Trust is decided by the caller.)"""
    sigs = root.findall(f".//{{{xmldsig.DS}}}Signature")
    out: dict[str, Any] = {
        "present": bool(sigs),
        "count": len(sigs),
        "intact": None,
        "certificate": None,
        "trusted": None,
        "detail": "",
    }
    if not sigs:
        foreign = [
            el
            for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).localname == "Signature"
        ]
        out["detail"] = (
            "a Signature element outside the XML-DSig namespace: not an XML signature"
            if foreign
            else "the package is not signed"
        )
        return out
    try:
        cert = xmldsig.embedded_certificate(data)
    except Exception:
        cert = None
    if cert is None:
        out["detail"] = "the signature carries no readable certificate"
        return out
    out["certificate"] = _certificate(cert)
    try:
        xmldsig.verify(data, [cert])
        out["intact"] = True
    except Exception as exc:
        out["intact"] = False
        out["detail"] = f"the signature does not verify with the certificate it carries: {exc}"
    return out


def _trust(data: bytes, result: Inspection, certs: list[x509.Certificate], whose: str) -> None:
    sig = result.signature
    if not sig["present"]:  # refused as such in inspect()
        return
    try:
        verified = xmldsig.verify(data, certs)
    except Exception as exc:
        sig["trusted"] = False
        result.refusals.append(f"the signature does not verify with {whose}: {exc}")
        return
    sig["trusted"] = True
    sig["trustedAs"] = f"{whose} ({fingerprint(verified.certificate)[:16]}…)"


def inspect(
    data: bytes,
    system: System | None = None,
    *,
    signer_certs: list[x509.Certificate] | None = None,
    signer_label: str = "",
) -> Inspection:
    """Everything the inbox would see in ``data``, nothing stored. With ``system``, the
    addressee and its directory are checked as the inbox would; with ``signer_certs``
    (a package this system sent), the signature is checked against them instead."""
    result = Inspection(len(data), hashlib.sha256(data).hexdigest())
    limit = system.settings.exchange_max_mb * MB if system is not None else OFFLINE_LIMIT
    try:
        edxml.screen(data, limit)
        root = etree.fromstring(data, parser=xmldsig.hardened_parser())
    except (edxml.PackageRefused, etree.XMLSyntaxError) as exc:
        result.refusals.append(getattr(exc, "message", f"malformed XML: {exc}"))
        return result
    result.signature = _signature(data, root)
    route: edxml.Routing | None = None
    packet: edxml.Packet | None = None
    try:
        route = edxml.routing(root)
        result.kind = route.kind
        packet = edxml.parse(root)
    except edxml.PackageRefused as exc:
        result.refusals.append(exc.message)
    if packet is not None:
        from .inbox import policy

        result.header = _header(packet)
        result.attachments = (
            [
                {
                    "contentId": a.cid,
                    "name": a.name,
                    "contentType": a.content_type,
                    "description": a.description,
                    "size": len(a.data),
                    "sha256": hashlib.sha256(a.data).hexdigest(),
                    "pdf": a.data[:5] == b"%PDF-",
                }
                for a in packet.attachments
            ]
            if isinstance(packet, edxml.DocumentPackage)
            else []
        )
        result.notes += edxml.notes(packet)
        result.refusals += edxml.refusals(packet) + policy(packet)
    if not result.signature.get("present"):
        result.refusals.append(result.signature.get("detail") or "the package is not signed")
    if signer_certs is not None:
        _trust(data, result, signer_certs, signer_label or "the expected certificate")
    elif system is not None and route is not None:
        _directory(system, data, route, result)
    elif result.signature.get("present"):
        result.notes.append("no directory consulted: the signature's trust is not known")
    return result


def _directory(system: System, data: bytes, route: edxml.Routing, result: Inspection) -> None:
    from .inbox import addressees, trusted_peers

    try:
        with system.sessions() as s:
            targets = addressees(s, route)
            peers = trusted_peers(s, targets, route.sender)
            codes = ", ".join(a.code for a in targets)
    except edxml.PackageRefused as exc:
        result.refusals.insert(0, exc.message)
        return
    except Exception as exc:  # no database here (a bare checkout): inspect without it
        message = exc.message if isinstance(exc, EdmsError) else type(exc).__name__
        result.notes.append(
            f"the directory could not be read ({message}): the signature's trust is not known"
        )
        return
    result.header["addressees"] = codes
    if not peers:
        result.refusals.insert(
            0,
            f"agency {route.sender} is not in the exchange directory "
            f"of {codes}: it cannot deliver here",
        )
        if result.signature.get("present"):
            result.signature["trusted"] = False
        return
    certs = [c for p in peers.values() for c in p.certificates]
    _trust(
        data,
        result,
        certs,
        f"the certificate(s) pinned for {route.sender} in the directory of {codes}",
    )


# -- what the web admin shows: packages this system sent that did not get through ----------


def troubled(system: System, actor: str, limit: int = 100) -> list[dict[str, Any]]:
    """The actor's agency's dispatches and statuses that failed or were refused (admins)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="inspect exchange packages")
        rows = s.scalars(
            select(ExchangeMessage)
            .where(
                ExchangeMessage.agency_id == user.agency_id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.state.in_(("failed", "refused")),
            )
            .order_by(ExchangeMessage.id.desc())
            .limit(limit)
        )
        return [
            {
                "id": m.id,
                "kind": m.kind,
                "peer": m.peer_code,
                "documentId": m.document_id,
                "documentKey": m.document_key,
                "statusCode": m.status_code,
                "state": m.state,
                "attempts": m.attempts,
                "lastError": m.last_error,
                "at": (m.done_at or m.created_at).isoformat(),
                "package": m.package_sha256 is not None,
            }
            for m in rows
        ]


def inspect_message(system: System, actor: str, msg_id: int) -> tuple[dict[str, Any], Inspection]:
    """A package this agency sent (admins of the agency): its delivery and its inspection,
    the signature checked against the agency's seal certificate."""
    from ..documents import workdir

    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="inspect exchange packages")
        msg = s.get(ExchangeMessage, msg_id)
        if msg is None or msg.agency_id != user.agency_id or msg.direction != "out":
            raise NotFound(f"exchange message {msg_id} not found")
        if msg.package_sha256 is None:
            raise NotFound(
                f"exchange message {msg_id} has no package yet: it was never "
                "built (see its last error)"
            )
        agency = s.get(Agency, msg.agency_id)
        doc = s.get(Document, msg.document_id) if msg.document_id else None
        assert agency is not None
        key = active_key(s, agency_id=agency.id)
        s.expunge(key)
        facts = {
            "id": msg.id,
            "kind": msg.kind,
            "peer": msg.peer_code,
            "document": doc.subject if doc else "",
            "documentId": msg.document_id,
            "statusCode": msg.status_code,
            "state": msg.state,
            "attempts": msg.attempts,
            "lastError": msg.last_error or "",
            "agency": agency.code,
        }
        sha = msg.package_sha256
    cert = x509.load_der_x509_certificate(open_key(system, key).key.cert.dump())
    with workdir(system) as wd:
        blobs.export_to_file(system, sha, wd / "package.xml")
        data = (wd / "package.xml").read_bytes()
    return facts, inspect(
        data, signer_certs=[cert], signer_label=f"the seal certificate of {facts['agency']}"
    )


def render(result: Inspection) -> str:
    """The inspection as text, for the terminal."""
    lines = [
        f"package: {result.size} bytes, SHA-256 {result.sha256}",
        f"kind: {result.kind or 'unreadable'}",
    ]
    h = result.header
    if result.kind == "status" and h:
        st = h["status"]
        lines += [
            f"status: {st['code']} {st['meaning']}"
            + (f" — {st['description']}" if st["description"] else ""),
            f"from: {h['from']['organ_id']} {h['from']['organ_name']}",
            f"about: {h['responseFor']['document_key']}",
            f"time: {h['timestamp']}",
        ]
    elif h:
        lines += [
            f"from: {h['from']['organ_id']} {h['from']['organ_name']}",
            "to: " + ", ".join(f"{t['organ_id']} {t['organ_name']}" for t in h["to"]),
            f"DocumentId: {h['documentId']}",
            f"code: {h['code']}",
            f"subject: {h['subject']}",
            f"type: {h['documentType']['typeName']} (Type {h['documentType']['type']}, "
            f"TypeDetail {h['documentType']['typeDetail']})",
            f"signer: {h['signer']['competence']} / {h['signer']['position']} / "
            f"{h['signer']['fullName']}",
            f"business: {h['business']['type']} ({h['business']['meaning']}) "
            f"{h['business']['reason']}",
        ]
        for r in h["responseFor"]:
            lines.append(f"responds to: {r['document_key']}")
    for a in result.attachments:
        lines.append(
            f"attachment {a['contentId']}: {a['name']} ({a['contentType']}, "
            f"{a['size']} bytes, SHA-256 {a['sha256']})"
        )
    sig = result.signature
    if sig:
        cert = sig.get("certificate") or {}
        state = (
            "absent"
            if not sig["present"]
            else "intact"
            if sig["intact"]
            else "broken"
            if sig["intact"] is False
            else "unreadable"
        )
        trust = {True: "trusted", False: "NOT trusted", None: "trust unknown"}[sig["trusted"]]
        lines.append(
            f"signature: {state}, {trust}"
            + (f", by {cert['subject']} (SHA-256 {cert['sha256']})" if cert else "")
            + (f" — {sig['detail']}" if sig.get("detail") else "")
        )
    for n in result.notes:
        lines.append(f"note: {n}")
    if result.refusals:
        lines += [f"REFUSED: {r}" for r in result.refusals]
    else:
        lines.append("acceptable: the inbox would take it")
    return "\n".join(lines)
