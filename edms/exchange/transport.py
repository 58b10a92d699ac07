"""How packages travel. The domain (outbox, inbox) talks to a :class:`Transport` only, so a
national or provincial axis adapter (which is polled: list received, fetch, store,
acknowledge) replaces the direct agency-to-agency transport without touching it
(:class:`~.vdxp.VdxpTransport`, chosen by ``EDMS_EXCHANGE_TRANSPORT``: :func:`for_settings`).

:class:`DirectHttps` is the first implementation: packages and status packets are POSTed to
the recipient system's ``/api/v1/exchange/inbox``, which answers at once with a signed
receipt (accepted) or a problem (refused). Nothing waits to be polled on this transport: the
other side pushes to our own inbox. Connections go straight to the partner (no proxy from
the environment), and unless private endpoints are allowed, a connection whose peer address
is loopback, link-local or private is closed before anything is sent, whatever the name
resolved to (DNS rebinding cannot redirect a package inside the network).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..config import Settings
from .carriage import Delivery, Received
from .directory import Peer, non_global

__all__ = ["Delivery", "DirectHttps", "Received", "Transport", "for_settings"]

INBOX_PATH = "/api/v1/exchange/inbox"


class Transport(Protocol):
    def send(self, peer: Peer, package: bytes) -> Delivery: ...

    def send_status(self, peer: Peer, packet: bytes) -> Delivery: ...

    def poll_received(self) -> list[Received]: ...

    def fetch(self, ref: str) -> bytes: ...

    def ack(self, ref: str, receipt: bytes) -> None: ...

    def reject(self, ref: str, reason: str) -> None: ...

    def list_agencies(self) -> list[Peer]: ...


def for_settings(settings: Settings) -> Transport:
    """The transport the configuration names (``EDMS_EXCHANGE_TRANSPORT``)."""
    if settings.exchange_transport == "vdxp":
        from .vdxp import VdxpTransport

        return VdxpTransport.from_settings(settings)
    ca = settings.exchange_ca_bundle
    return DirectHttps(
        [],
        timeout=settings.exchange_timeout,
        ca_bundle=str(ca) if ca else None,
        allow_private=settings.exchange_private_endpoints,
    )


class PrivateAddress(OSError):
    """The partner's name led to a loopback, link-local or private address."""


def _check_peer(sock: socket.socket) -> None:
    address = sock.getpeername()[0]
    if non_global(ipaddress.ip_address(address.split("%", 1)[0])):
        sock.close()
        raise PrivateAddress(
            f"the endpoint resolved to {address}, a loopback, link-local "
            "or private address (EDMS_EXCHANGE_PRIVATE_ENDPOINTS is off)"
        )


class _GuardedHTTP(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPS(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTP


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPS


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


class DirectHttps:
    """Agency to agency over HTTPS (HTTP on loopback in development and tests)."""

    def __init__(
        self,
        peers: list[Peer],
        timeout: float = 60.0,
        ca_bundle: str | None = None,
        allow_private: bool = False,
    ) -> None:
        self._peers = peers
        self.timeout = timeout
        self.verify: str | bool = ca_bundle or True
        self.session = requests.Session()
        self.session.trust_env = False  # straight to the partner, no proxy from the env
        if not allow_private:
            for scheme in ("http://", "https://"):
                self.session.mount(scheme, _GuardedAdapter())

    def send(self, peer: Peer, package: bytes) -> Delivery:
        try:
            resp = self.session.post(
                peer.endpoint + INBOX_PATH,
                data=package,
                timeout=self.timeout,
                headers={
                    "Content-Type": "application/xml; charset=utf-8",
                    "Accept": "application/xml, application/problem+json",
                },
                verify=self.verify,
            )
        except requests.RequestException as exc:
            guarded = _private(exc)
            if guarded is not None:
                return Delivery("retry", reason=f"{peer.endpoint} refused: {guarded}")
            return Delivery(
                "retry", reason=f"{peer.endpoint} cannot be reached: {type(exc).__name__}"
            )
        if resp.status_code == 200:
            return Delivery(
                "accepted",
                resp.content,
                duplicate=resp.headers.get("X-Exchange-Duplicate") == "true",
            )
        reason = _problem(resp)
        if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
            return Delivery("retry", reason=f"HTTP {resp.status_code}: {reason}")
        return Delivery("refused", reason=reason)

    send_status = send

    def poll_received(self) -> list[Received]:
        return []  # pushed to our inbox: nothing to poll

    def fetch(self, ref: str) -> bytes:
        raise LookupError(
            f"the direct transport holds no package {ref}: packages arrive at the inbox"
        )

    def ack(self, ref: str, receipt: bytes) -> None:
        raise LookupError(f"the direct transport holds no package {ref}")

    def reject(self, ref: str, reason: str) -> None:
        raise LookupError(f"the direct transport holds no package {ref}")

    def list_agencies(self) -> list[Peer]:
        return list(self._peers)


def _private(exc: BaseException) -> PrivateAddress | None:
    """The guard's refusal, wherever requests and urllib3 wrapped it."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, PrivateAddress):
            return e
        stack += [e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))]
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def _problem(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("detail") or body.get("title") or resp.reason)
    except ValueError:
        return resp.text[:500] or str(resp.reason)
