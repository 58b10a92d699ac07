"""The VDXP protocol (the national document-exchange axis, as VNPT's client SDK
``JAVA_SDK_VXP`` speaks it: /work/shared/docs/vdxp-protocol.md), for both sides: the
:class:`VdxpTransport` this system uses to reach an axis, and the envelope rules the hub
(:mod:`edms.axis`) checks.

The envelope: ``POST <endpoint>/<operation>``; every parameter travels as a header
``XroadVnpt-<key>: <value>``, together with ``XroadVnpt-systemid`` and
``XroadVnpt-timestamp`` (``ddMMyyyy'T'HHmmss+SSSS``, Vietnam time, ``SSSS`` the
milliseconds); ``XroadVnpt-sign-header`` is the compact JSON object of those headers,
``XroadVnpt-sign-header-key`` their names, and ``XroadVnpt-hash-header`` the lowercase hex
HMAC-SHA256 of the sign-header string keyed with the system's secret. The body is not
signed: ``sendEdoc`` binds it with ``hash-file``, the SHA-256 of the file written byte by
byte **without zero padding** (``0e`` → ``e``). Answers are JSON objects with ``status``,
``ErrorCode`` (``"0"``: success) and ``ErrorDesc``, plus ``DocId`` (sendEdoc) or ``data``.

Invariants of the client:

* it sends what the SDK sends (the same headers, the package followed by CRLF, the unpadded
  ``hash-file``, ``to`` as raw JSON), so it works with the real axis, but a fresh timestamp
  on every call (strictly increasing in this process), so a careful axis never takes two
  of its calls for a replay;
* the secret never leaves the process (it only keys the HMAC) and is never logged;
* an answer is believed only when ``ErrorCode`` is ``"0"``; anything else is a refusal
  (for good: the package itself is at fault) or a passing failure (retried by the outbox).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from lxml import etree

from signing import xmldsig

from ..config import Settings
from ..errors import ClientError, EdmsError
from . import edxml
from .carriage import Delivery, Received
from .directory import Peer

PREFIX = "XroadVnpt-"
SIGN_HEADER = "XroadVnpt-sign-header"
SIGN_HEADER_KEY = "XroadVnpt-sign-header-key"
HASH_HEADER = "XroadVnpt-hash-header"
VERSION_HEADER = "XroadVnpt-version"
SDK_VERSION = "3.0.201608"
USER_AGENT = "JAVASDKAgent/1.0.0 XRoad/VPCP"
SERVICE_TYPE = "eDoc"
OPERATIONS = (
    "getAgenciesList",
    "registerAgency",
    "deleteAgency",
    "getSynchronizeUnit",
    "sendEdoc",
    "getReceivedEdocList",
    "getEdoc",
    "updateStatus",
    "getSentEdocList",
)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
_TIMESTAMP = re.compile(r"^(\d{2})(\d{2})(\d{4})T(\d{2})(\d{2})(\d{2})\+(\d{1,4})$")


class Code:
    """``ErrorCode`` values of this installation's axis (docs/exchange.md)."""

    OK = "0"
    BAD_REQUEST = "100"  # a header missing or malformed
    UNKNOWN_OPERATION = "101"
    UNKNOWN_SYSTEM = "110"  # no such system id, or disabled
    BAD_SIGNATURE = "111"  # the HMAC does not match
    STALE = "112"  # the timestamp is outside the freshness window
    REPLAY = "113"  # the same signed request again
    NOT_EDXML = "120"  # the body is not an edXML package
    TOO_LARGE = "121"
    HASH_MISMATCH = "122"  # hash-file does not match the body
    UNKNOWN_RECIPIENT = "123"
    NOT_YOUR_AGENCY = "124"  # From names an agency this system does not serve
    NOT_FOUND = "130"  # no such DocId for this system
    BAD_STATUS = "131"
    AGENCY_REFUSED = "140"  # registerAgency / deleteAgency refused
    INTERNAL = "500"


# The failures that are the package's fault: the outbox records them as refused for good.
REFUSING_CODES = frozenset(
    {Code.NOT_EDXML, Code.TOO_LARGE, Code.UNKNOWN_RECIPIENT, Code.NOT_YOUR_AGENCY}
)


class AxisError(ClientError):
    """A call to or at the axis failed; ``code`` is its ``ErrorCode``."""

    status = 400
    title = "Axis call refused"
    type_slug = "axis-refused"

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = http_status


# -- the envelope -------------------------------------------------------------------------------


def format_timestamp(t: datetime) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` in Vietnam time, as the SDK writes it."""
    v = t.astimezone(VN)
    return f"{v:%d%m%Y}T{v:%H%M%S}+{v.microsecond // 1000:04d}"


def parse_timestamp(value: str) -> datetime:
    m = _TIMESTAMP.match(value.strip())
    if not m:
        raise AxisError(
            Code.BAD_REQUEST, f"XroadVnpt-timestamp {value[:40]!r} is not ddMMyyyy'T'HHmmss+SSSS"
        )
    day, month, year, hh, mm, ss, ms = (int(g) for g in m.groups())
    try:
        local = datetime(year, month, day, hh, mm, ss, min(ms, 999) * 1000, tzinfo=VN)
    except ValueError:
        raise AxisError(
            Code.BAD_REQUEST, f"XroadVnpt-timestamp {value[:40]!r} is not a date"
        ) from None
    return local.astimezone(UTC)


def file_hash(data: bytes) -> str:
    """``hash-file`` as the SDK computes it: each byte of the SHA-256 in hex, unpadded."""
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def hash_matches(given: str, data: bytes) -> bool:
    """Whether ``hash-file`` is the SHA-256 of ``data``, written the SDK's way (unpadded)
    or properly (64 digits); compared in constant time."""
    digest = hashlib.sha256(data).digest()
    value = given.strip().lower().encode()
    padded, unpadded = digest.hex().encode(), "".join(format(b, "x") for b in digest).encode()
    return hmac.compare_digest(value, unpadded) | hmac.compare_digest(value, padded)


def mac(secret: str, sign_header: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), sign_header, hashlib.sha256).hexdigest()


def sign(system_id: str, secret: str, timestamp: str, params: Mapping[str, str]) -> dict[str, str]:
    """The headers of one call: every entry of the SDK's map as ``XroadVnpt-k``, the
    sign-header JSON over them, its key list and HMAC."""
    entries = {"systemid": system_id, "timestamp": timestamp, **params}
    headers = {PREFIX + k: v for k, v in entries.items()}
    signed = json.dumps(headers, ensure_ascii=True, separators=(",", ":"))
    headers[SIGN_HEADER] = signed
    headers[SIGN_HEADER_KEY] = ";".join(entries)
    headers[HASH_HEADER] = mac(secret, signed.encode("utf-8"))
    headers["User-Agent"] = USER_AGENT
    headers[VERSION_HEADER] = SDK_VERSION
    return headers


def answer(code: str = Code.OK, description: str = "", **extra: Any) -> dict[str, Any]:
    """An answer in the shape the SDK reads: ``status``, ``ErrorCode``, ``ErrorDesc`` as
    strings, then the operation's own fields (never ``null``)."""
    return {
        "status": "OK" if code == Code.OK else "FAIL",
        "ErrorCode": code,
        "ErrorDesc": description or ("Thành công" if code == Code.OK else "Lỗi"),
        **extra,
    }


def text_value(value: str) -> str:
    """A header value that may be written as raw JSON (``to`` always is, in the SDK; our
    ``description`` is, to carry Vietnamese in an ASCII header): the text it stands for."""
    v = value.strip()
    if v.startswith('"'):
        try:
            decoded = json.loads(v)
        except ValueError:
            return v
        return decoded if isinstance(decoded, str) else v
    return v


def codes_value(value: str) -> list[str]:
    """The agency codes a ``to`` header names: raw JSON (``["A","B"]`` or ``"A"``), or a
    bare code, or codes separated by commas or semicolons."""
    v = value.strip()
    if v.startswith(("[", '"')):
        try:
            decoded = json.loads(v)
        except ValueError:
            raise AxisError(Code.BAD_REQUEST, f"XroadVnpt-to {v[:80]!r} is not JSON") from None
        items = decoded if isinstance(decoded, list) else [decoded]
        out = []
        for item in items:
            if isinstance(item, dict):  # {"code": …} or {"OrganId": …}
                item = item.get("code") or item.get("OrganId") or item.get("organId") or ""
            if not isinstance(item, str):
                raise AxisError(
                    Code.BAD_REQUEST, "XroadVnpt-to lists something that is not an agency code"
                )
            out.append(item.strip())
        return [c for c in out if c]
    return [c.strip() for c in re.split(r"[,;]", v) if c.strip()]


# -- the client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentStatus:
    """One receiver's status of a package we sent, as ``getSentEdocList`` tells it."""

    sender_doc_id: str
    receiver_doc_id: str
    to_code: str
    receive_status: str
    receive_status_desc: str


class VdxpTransport:
    """This system on an axis: sends with ``sendEdoc``, polls ``getReceivedEdocList``,
    fetches with ``getEdoc``, acknowledges with ``updateStatus``. The axis endpoint is the
    operator's configuration (a closed provincial network is normal), so unlike partner
    endpoints it is not held to public addresses."""

    def __init__(
        self,
        endpoint: str,
        system_id: str,
        secret: str,
        timeout: float = 60.0,
        ca_bundle: str | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.system_id = system_id
        self._secret = secret
        self.timeout = timeout
        self.verify: str | bool = ca_bundle or True
        self.session = requests.Session()
        self.session.trust_env = False
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)

    @classmethod
    def from_settings(cls, settings: Settings) -> VdxpTransport:
        ca = settings.exchange_ca_bundle
        return cls(
            settings.exchange_vdxp_endpoint,
            settings.exchange_vdxp_system_id,
            settings.exchange_vdxp_secret,
            settings.exchange_timeout,
            str(ca) if ca else None,
        )

    def __repr__(self) -> str:  # never the secret
        return f"VdxpTransport({self.endpoint!r}, system {self.system_id!r})"

    def _timestamp(self) -> str:
        with self._lock:
            now = datetime.now(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
            return format_timestamp(now)

    def call(
        self,
        operation: str,
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One operation; the answer when ``ErrorCode`` is ``"0"``, else :class:`AxisError`
        (``requests`` errors pass through: the axis could not be reached)."""
        entries = {"Content-Type": content_type, **(params or {})}
        headers = sign(self.system_id, self._secret, self._timestamp(), entries)
        headers["Content-Type"] = content_type
        resp = self.session.post(
            f"{self.endpoint}/{operation}",
            data=body,
            headers=headers,
            timeout=self.timeout,
            verify=self.verify,
        )
        try:
            result = resp.json()
        except ValueError:
            raise AxisError(
                Code.INTERNAL,
                f"the axis answered {operation} with HTTP {resp.status_code} and no JSON",
                resp.status_code,
            ) from None
        if not isinstance(result, dict) or "ErrorCode" not in result:
            raise AxisError(
                Code.INTERNAL, f"the axis answered {operation} without ErrorCode", resp.status_code
            )
        code = str(result.get("ErrorCode"))
        if code != Code.OK:
            raise AxisError(
                code,
                f"the axis refused {operation}: "
                f"{result.get('ErrorDesc') or 'no description'} (ErrorCode {code})",
                resp.status_code,
            )
        return result

    # -- the Transport interface --

    def send(self, peer: Peer, package: bytes) -> Delivery:
        return self._send(peer, package)

    send_status = send

    def _send(self, peer: Peer, package: bytes) -> Delivery:
        try:
            route = edxml.routing(etree.fromstring(package, parser=xmldsig.hardened_parser()))
        except (etree.XMLSyntaxError, EdmsError) as exc:
            return Delivery("refused", reason=f"the package cannot be read: {exc}")
        params = {
            "from": route.sender,
            "servicetype": SERVICE_TYPE,
            "messagetype": "status" if route.kind == "status" else "edoc",
            "to": json.dumps([peer.code]),
            "hash-file": file_hash(package),
        }
        try:
            result = self.call("sendEdoc", params, package + b"\r\n", "application/octet-stream")
        except AxisError as exc:
            outcome = "refused" if exc.code in REFUSING_CODES else "retry"
            return Delivery(outcome, reason=exc.message)
        except requests.RequestException as exc:
            return Delivery(
                "retry", reason=f"the axis {self.endpoint} cannot be reached: {type(exc).__name__}"
            )
        doc_id = str(result.get("DocId") or "")
        if not doc_id:
            return Delivery("retry", reason="the axis accepted the package without a DocId")
        return Delivery("accepted", None, ref=doc_id)

    def poll_received(self) -> list[Received]:
        """What the axis holds for us: documents first, then status packets, each in the
        order they came."""
        out: list[Received] = []
        for kind in ("edoc", "status"):
            result = self.call(
                "getReceivedEdocList", {"servicetype": SERVICE_TYPE, "messagetype": kind}
            )
            for item in result.get("data") or []:
                if isinstance(item, dict) and item.get("docId"):
                    out.append(Received(str(item["docId"]), str(item.get("from") or "")))
        return out

    def fetch(self, ref: str) -> bytes:
        result = self.call("getEdoc", {"docId": ref})
        try:
            return base64.b64decode(str(result.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise AxisError(
                Code.INTERNAL, f"the axis sent package {ref} in data that is not base64"
            ) from None

    def ack(self, ref: str, receipt: bytes) -> None:
        """Done: the package is taken (our signed receipt stays with us: the protocol has
        no place for it; the sender gets status 01 as a packet)."""
        self.call("updateStatus", {"docId": ref, "status": "done"})

    def reject(self, ref: str, reason: str) -> None:
        """Failed for good, with the reason (``description``, raw JSON: it is Vietnamese
        and headers are ASCII), which the sender reads in ``getSentEdocList``."""
        self.call(
            "updateStatus",
            {"docId": ref, "status": "fail", "description": json.dumps(reason[:1000])},
        )

    def list_agencies(self) -> list[Peer]:
        result = self.call("getAgenciesList")
        return [
            Peer(str(a.get("code") or ""), str(a.get("name") or ""), "", ())
            for a in result.get("data") or []
            if isinstance(a, dict) and a.get("code")
        ]

    def sent_statuses(self, doc_id: str) -> list[SentStatus]:
        result = self.call("getSentEdocList", {"servicetype": SERVICE_TYPE, "docId": doc_id})
        return [
            SentStatus(
                str(i.get("senderDocId") or ""),
                str(i.get("receiverDocId") or ""),
                str(i.get("toCode") or ""),
                str(i.get("receiveStatus") or ""),
                str(i.get("receiveStatusDesc") or ""),
            )
            for i in result.get("data") or []
            if isinstance(i, dict)
        ]
