"""A client that sends exactly what VNPT's Java SDK (``JAVA_SDK_VXP`` 2.0.4) sends, as
/work/shared/docs/vdxp-protocol.md describes it, written independently of EDMS's own
client (edms.exchange.vdxp) so the hub is tested against the SDK's wire format, quirks
included:

* one header map per service object, **never cleared**: ``systemid`` and ``timestamp``
  (fixed when the object is made), then ``Content-Type`` and every key of every call's JSON
  argument, each sent as ``XroadVnpt-<key>``;
* ``XroadVnpt-sign-header``: Gson's compact JSON of the map (HTML characters escaped as
  Gson does), ``-sign-header-key``, ``-hash-header`` (HMAC-SHA256, lowercase hex);
* values via ``getAsString``, except ``to``: raw JSON (``JsonElement.toString()``);
* ``sendEdoc``: the file's bytes followed by CRLF, ``application/octet-stream``, and
  ``hash-file`` (SHA-256, each byte by ``Integer.toHexString``: no zero padding), over
  ``HttpURLConnection`` (no ``Expect``);
* the other calls over Apache HttpClient: ``Expect: 100-continue`` when the body is not
  empty (the body is sent only after the server's ``100 Continue``), connections left open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EMPTY_FORM = ("getAgenciesList", "getSynchronizeUnit", "getReceivedEdocList", "getSentEdocList")
LITERAL_BRACES = ("deleteAgency", "getEdoc", "updateStatus")


def sdk_timestamp(t: datetime) -> str:
    v = t.astimezone(VN)  # new SimpleDateFormat("ddMMyyyy'T'HHmmss+SSSS") on a Vietnam JVM
    return f"{v:%d%m%Y}T{v:%H%M%S}+{v.microsecond // 1000:04d}"


def gson(obj: dict[str, str]) -> str:
    """``new Gson().toJson(map)``: compact, non-ASCII as is, HTML characters escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("=", "\\u003d"),
        ("'", "\\u0027"),
    ):
        text = text.replace(ch, esc)
    return text


def unpadded_sha256(data: bytes) -> str:
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One kept-alive HTTP/1.1 connection, spoken by hand."""

    def __init__(self, host: str, port: int, timeout: float = 60) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _head(self) -> tuple[int, dict[str, str]]:
        status = int(self._line().split()[1])
        headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def exchange(self, head: bytes, body: bytes, expect_continue: bool) -> Response:
        self.sock.sendall(head)
        if expect_continue:
            status, headers = self._head()
            if status != 100:  # answered without wanting the body
                return Response(
                    status, headers, self._exactly(int(headers.get("content-length", "0")))
                )
        self.sock.sendall(body)
        status, headers = self._head()
        while status == 100:
            status, headers = self._head()
        return Response(status, headers, self._exactly(int(headers.get("content-length", "0"))))


@dataclass
class SdkService:
    """One service object (``AgencyServiceImp``, ``KnobstickServiceImp``…)."""

    endpoint: str
    system_id: str
    secret: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    map: dict[str, str] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    last_request: bytes = b""

    def __post_init__(self) -> None:
        self.map["systemid"] = self.system_id
        self.map["timestamp"] = sdk_timestamp(self.created)

    def request(
        self,
        operation: str,
        args: dict[str, Any],
        body: bytes = b"",
        content_type: str = "application/json",
        expect: bool | None = None,
    ) -> bytes:
        """The request's bytes (head and body), as the SDK builds it."""
        self.map["Content-Type"] = content_type
        for k, v in args.items():
            self.map[k] = json.dumps(v, separators=(",", ":")) if k == "to" else str(v)
        signed = {f"XroadVnpt-{k}": v for k, v in self.map.items()}
        sign_header = gson(signed)
        mac = hmac.new(self.secret.encode(), sign_header.encode(), hashlib.sha256).hexdigest()
        url = urlsplit(self.endpoint)
        lines = [f"POST {url.path}/{operation} HTTP/1.1", f"Host: {url.netloc}"]
        lines += [f"{k}: {v}" for k, v in signed.items()]
        lines += [
            f"XroadVnpt-sign-header: {sign_header}",
            f"XroadVnpt-sign-header-key: {';'.join(self.map)}",
            f"XroadVnpt-hash-header: {mac}",
            f"Content-Type: {content_type}",
            "User-Agent: JAVASDKAgent/1.0.0 XRoad/VPCP",
            "XroadVnpt-version: 3.0.201608",
            f"Content-Length: {len(body)}",
            "Connection: keep-alive",
        ]
        if expect if expect is not None else (body and operation != "sendEdoc"):
            lines.append("Expect: 100-continue")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        self.last_request = head + body
        return self.last_request

    def send_raw(self, raw: bytes) -> Response:
        """Send request bytes on a new connection, left open afterwards (as the SDK's
        per-call HttpClient does)."""
        url = urlsplit(self.endpoint)
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        self.connections.append(conn)
        head, _, body = raw.partition(b"\r\n\r\n")
        return conn.exchange(head + b"\r\n\r\n", body, b"Expect: 100-continue" in head)

    def call(
        self, operation: str, args: dict[str, Any] | None = None, body: bytes | None = None
    ) -> Response:
        args = args or {}
        if operation == "sendEdoc":
            assert body is not None
            self.map["hash-file"] = unpadded_sha256(body)
            raw = self.request(operation, args, body + b"\r\n", "application/octet-stream")
        elif operation == "registerAgency":
            raw = self.request(operation, args, body or b"{}")
        elif operation in LITERAL_BRACES:
            raw = self.request(operation, args, b"{}")
        else:
            raw = self.request(operation, args, b"")
        return self.send_raw(raw)

    def close(self) -> None:
        for c in self.connections:
            c.close()
