"""How packages travel. The domain (outbox, inbox) talks to a :class:`Transport` only, so a
national or provincial axis adapter (which is polled: list received, fetch, store,
acknowledge) replaces the direct agency-to-agency transport without touching it.

:class:`DirectHttps` is the first implementation: packages and status packets are POSTed to
the recipient system's ``/api/v1/exchange/inbox``, which answers at once with a signed
receipt (accepted) or a problem (refused). Nothing waits to be polled on this transport: the
other side pushes to our own inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

from .directory import Peer

INBOX_PATH = "/api/v1/exchange/inbox"


@dataclass(frozen=True)
class Delivery:
    """What became of one attempt: ``accepted`` (with the receiver's signed receipt),
    ``refused`` (for good, with the reason) or ``retry`` (the receiver could not be reached
    or had a passing problem)."""

    outcome: str
    receipt: bytes | None = None
    reason: str = ""
    duplicate: bool = False


@dataclass(frozen=True)
class Received:
    ref: str  # the transport's handle for fetch/ack
    sender: str


class Transport(Protocol):
    def send(self, peer: Peer, package: bytes) -> Delivery: ...

    def send_status(self, peer: Peer, packet: bytes) -> Delivery: ...

    def poll_received(self) -> list[Received]: ...

    def fetch(self, ref: str) -> bytes: ...

    def ack(self, ref: str, receipt: bytes) -> None: ...

    def list_agencies(self) -> list[Peer]: ...


class DirectHttps:
    """Agency to agency over HTTPS (HTTP on loopback in development and tests)."""

    def __init__(self, peers: list[Peer], timeout: float = 60.0,
                 ca_bundle: str | None = None) -> None:
        self._peers = peers
        self.timeout = timeout
        self.verify: str | bool = ca_bundle or True
        self.session = requests.Session()

    def send(self, peer: Peer, package: bytes) -> Delivery:
        try:
            resp = self.session.post(
                peer.endpoint + INBOX_PATH, data=package, timeout=self.timeout,
                headers={"Content-Type": "application/xml; charset=utf-8",
                         "Accept": "application/xml, application/problem+json"},
                verify=self.verify)
        except requests.RequestException as exc:
            return Delivery("retry", reason=f"{peer.endpoint} cannot be reached: "
                                            f"{type(exc).__name__}")
        if resp.status_code == 200:
            return Delivery("accepted", resp.content,
                            duplicate=resp.headers.get("X-Exchange-Duplicate") == "true")
        reason = _problem(resp)
        if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
            return Delivery("retry", reason=f"HTTP {resp.status_code}: {reason}")
        return Delivery("refused", reason=reason)

    send_status = send

    def poll_received(self) -> list[Received]:
        return []  # pushed to our inbox: nothing to poll

    def fetch(self, ref: str) -> bytes:
        raise LookupError(f"the direct transport holds no package {ref}: packages arrive "
                          "at the inbox")

    def ack(self, ref: str, receipt: bytes) -> None:
        raise LookupError(f"the direct transport holds no package {ref}")

    def list_agencies(self) -> list[Peer]:
        return list(self._peers)


def _problem(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("detail") or body.get("title") or resp.reason)
    except ValueError:
        return resp.text[:500] or str(resp.reason)
