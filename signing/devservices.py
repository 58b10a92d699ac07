"""The development TSA, OCSP and CRL responder: certomancer's animator on loopback.

DEVELOPMENT AND TESTS ONLY. It answers real RFC 3161 timestamp requests, OCSP requests and
CRL downloads for the development PKI (:mod:`signing.devpki`), at the URL prefix written
into its certificates. ``edms dev-services`` runs it in the foreground; the test fixtures
run it on a thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

from .devpki import ARCH, DevAgency, DevPki


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # One line per OCSP/TSA request would drown the test output; the paths are kept
        # (the last few thousand) for tests that count what was fetched.
        seen = getattr(self.server, "edms_seen", None)
        if seen is not None:
            seen.append(self.path)


def make_app(pki: DevPki) -> WSGIApplication:
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel, CertomancerConfig

    class _WholeSecondAnimator(Animator):
        """Times in whole seconds: NSS (poppler's pdfsig) rejects OCSP responses whose
        GeneralizedTime values carry fractional seconds."""

        def at_time(self, request: object) -> datetime:
            t = super().at_time(request)
            return t.replace(microsecond=0)

    cfg = CertomancerConfig.from_file(str(pki.config_path))
    label = ArchLabel(ARCH)
    arch = cfg.get_pki_arch(label)
    return _WholeSecondAnimator(AnimatorArchStore({label: arch}), with_web_ui=False)


def address(pki: DevPki) -> tuple[str, int]:
    parts = urlsplit(pki.url_prefix)
    return parts.hostname or "127.0.0.1", parts.port or 80


@dataclass
class Responder:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def seen(self) -> list[str]:
        """Paths requested so far (TSA, OCSP, CRL), oldest first."""
        return list(self.server.edms_seen)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start(pki: DevPki) -> Responder:
    """Serve the responder on a background thread (tests, embedded development)."""
    host, port = address(pki)
    server = make_server(
        host,
        port,
        make_app(pki),
        threaded=True,
        request_handler=_QuietHandler,
    )
    server.edms_seen = deque(maxlen=5000)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="edms-dev-pki", daemon=True)
    thread.start()
    return Responder(server, thread)


def serve_forever(pki: DevPki) -> None:
    host, port = address(pki)
    make_server(host, port, make_app(pki), threaded=True).serve_forever()


def free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fresh(
    directory: Path, agency: DevAgency | None = None, tsa_days: int | None = None
) -> tuple[DevPki, Responder]:
    """A new development PKI in ``directory`` (for ``agency``, default the Tuyên Quang
    People's Committee) with its responder on a free loopback port (tests, benchmarks);
    ``tsa_days``: its TSA certificate expires that soon."""
    from .devpki import DEFAULT_AGENCY, generate

    pki = generate(
        directory,
        url_prefix=f"http://127.0.0.1:{free_loopback_port()}",
        agency=agency or DEFAULT_AGENCY,
        tsa_days=tsa_days,
    )
    return pki, start(pki)
