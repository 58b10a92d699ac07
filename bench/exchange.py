"""Exchange speed: dispatches per second from agency A to agency B, end to end, with a
1 MB signed PDF, against the unavoidable work measured in the same run.

* Ours: A's real outbox (``edms.exchange.outbox.deliver_due``) sends N dispatches of one
  issued document (main decision + a 1 MB attachment, both signed by A) to B, a running
  `edms serve` (gunicorn) with its own database, object store and PKI. Per dispatch: A
  builds the edXML package, signs it (XML-DSig, agency key), stores it, POSTs it; B screens
  and parses it, verifies the package signature, validates both PDFs in its sandboxed
  validator (full report), stores the package and both files, creates the incoming
  document, queues status 01 and signs a receipt; A verifies the receipt and records it.
* Baseline: the minimum any receiver must do with the same bytes: POST the same package
  to a bare WSGI endpoint on loopback, and validate the same two PDFs with stock pyHanko
  (``validate_pdf_signature``, the roots trusted, revocation data from the responder).
* Through the hub (issue 22), against the direct transport in the same rounds: the same
  outbox sends N dispatches of the same document with the VDXP transport to H, an
  `edms serve` in hub mode (``EDMS_AXIS_HUB``: authenticates each call, screens and parses
  the package, stores it, routes it); B', a second `edms serve` of agency B on the VDXP
  transport, polls H, fetches each package, takes it through the same inbox (the same
  validations), acknowledges it and sends its 01 back through H. Timed from the first
  send until B' holds all N documents.

    .venv/bin/python bench/exchange.py [--dispatches 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from edms import blobs, devseed
from edms import documents as docs
from edms.auth import DEV_SIGNING_PIN, PinConfirmation
from edms.config import Settings
from edms.exchange import directory, outbox, vdxp
from edms.models import DocumentFile, ExchangeMessage
from edms.system import System
from signing import devservices
from signing.devpki import DevAgency
from tests.support.agency import BODY, draft_meta
from tests.support.live import Processes, base_env, edms, free_port, wait_for
from tests.support.pdfs import big_pdf
from tests.test_signing import root_of

B = DevAgency("000.00.00.H60", "Ủy ban nhân dân tỉnh Tuyên Quang", "UBND", "Tuyên Quang")
SECRET_A, SECRET_B = "bench-secret-of-a-0001", "bench-secret-of-b-0001"


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dispatches", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pki_a, resp_a = devservices.start_fresh(tmp / "pki-a")
        pki_b, resp_b = devservices.start_fresh(tmp / "pki-b", B)
        procs = Processes(tmp)
        try:
            run(args, tmp, pki_a, pki_b, procs)
        finally:
            procs.stop()
            resp_a.stop()
            resp_b.stop()


def run(
    args: argparse.Namespace, tmp: Path, pki_a: object, pki_b: object, procs: Processes
) -> None:
    port_b = free_port()
    env_b = base_env(
        tmp / "data-b",
        pki_b.directory,  # type: ignore[attr-defined]
        EDMS_TRUST_OFFICIAL=str(pki_a.root_cert),  # type: ignore[attr-defined]
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port_b}",
        EDMS_EXCHANGE_PUMP="false",
        EDMS_EXCHANGE_PRIVATE_ENDPOINTS="true",
    )
    edms(env_b, "init")
    entry_b = json.loads(edms(env_b, "exchange", "self"))
    a = System(
        Settings.from_env(
            {
                "EDMS_DATA_DIR": str(tmp / "data-a"),
                "EDMS_PKI_DIR": str(pki_a.directory),  # type: ignore[attr-defined]
                "EDMS_ENV": "development",
                "EDMS_RETENTION_DEFAULT_YEARS": "0",
                "EDMS_TRUST_OFFICIAL": str(pki_b.root_cert),  # type: ignore[attr-defined]
                "EDMS_EXCHANGE_PUMP": "false",
                "EDMS_EXCHANGE_PRIVATE_ENDPOINTS": "true",
            }
        )
    )
    a.init()

    devseed.seed_development(a)
    directory.upsert(a, "quantri", [entry_b])
    entry_a = directory.own_entry(a)
    (tmp / "entry-a.json").write_text(json.dumps(entry_a), encoding="utf-8")
    edms(env_b, "exchange", "import", "--as", "quantri", str(tmp / "entry-a.json"))
    base_b = procs.serve(env_b, workers=2, port=port_b, name="b")

    # the hub H, and B' (agency B again, its own data) on the VDXP transport
    port_h, port_b2 = free_port(), free_port()
    env_h = base_env(
        tmp / "data-h",
        tmp / "pki-h",
        EDMS_AXIS_HUB="true",
        EDMS_EXCHANGE_PUMP="false",
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port_h}",
    )
    edms(env_h, "init")
    edms(
        env_h,
        "axis",
        "system",
        "add",
        "a",
        "--name",
        "A",
        "--secret",
        SECRET_A,
        "--agency",
        f"{entry_a['code']}=A",
    )
    edms(
        env_h,
        "axis",
        "system",
        "add",
        "b",
        "--name",
        "B",
        "--secret",
        SECRET_B,
        "--agency",
        f"{B.code}=B",
    )
    base_h = procs.serve(env_h, workers=2, port=port_h, name="h")
    env_b2 = base_env(
        tmp / "data-b2",
        pki_b.directory,  # type: ignore[attr-defined]
        EDMS_TRUST_OFFICIAL=str(pki_a.root_cert),  # type: ignore[attr-defined]
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port_b2}",
        EDMS_EXCHANGE_TRANSPORT="vdxp",
        EDMS_EXCHANGE_VDXP_ENDPOINT=f"{base_h}/vdxp",
        EDMS_EXCHANGE_VDXP_SYSTEM_ID="b",
        EDMS_EXCHANGE_VDXP_SECRET=SECRET_B,
        EDMS_EXCHANGE_VDXP_POLL_SECONDS="0.5",
        EDMS_EXCHANGE_POLL_SECONDS="0.5",
        EDMS_EXCHANGE_PRIVATE_ENDPOINTS="true",
    )
    edms(env_b2, "init")
    edms(env_b2, "exchange", "import", "--as", "quantri", str(tmp / "entry-a.json"))
    base_b2 = procs.serve(env_b2, workers=2, port=port_b2, name="b2")
    to_hub = vdxp.VdxpTransport(f"{base_h}/vdxp", "a", SECRET_A)

    # one issued document: the decision and a 1 MB attachment, signed by A
    meta = draft_meta(recipients=(docs.Recipient(B.name, B.code),))
    doc = docs.create_from_template(a, "chuyenvien", meta, BODY)
    attachment = big_pdf(tmp / "phu-luc.pdf", 1024 * 1024)
    with open(attachment, "rb") as stream:
        docs.add_attachment(a, "chuyenvien", doc.id, stream, "phu-luc.pdf")
    docs.submit(a, "chuyenvien", doc.id)
    docs.approve(a, "chutich", doc.id)
    docs.sign(a, "chutich", doc.id, confirm=PinConfirmation(DEV_SIGNING_PIN))
    docs.number(a, "vanthu", doc.id)
    docs.seal(a, "vanthu", doc.id)
    docs.register_outgoing(a, "vanthu", doc.id)
    docs.issue(a, "vanthu", doc.id)  # queues the first dispatch
    with a.sessions() as s:
        first = s.scalars(
            select(ExchangeMessage).where(ExchangeMessage.document_id == doc.id)
        ).one()
        key = first.document_key
    outbox.deliver_due(a)  # the first dispatch, with the real one
    with a.sessions() as s:
        assert s.get(ExchangeMessage, first.id).state == "delivered"  # type: ignore[union-attr]
        files = list(
            s.scalars(
                select(DocumentFile)
                .where(DocumentFile.document_id == doc.id)
                .order_by(DocumentFile.id)
            )
        )
        main_file = [f for f in files if f.role == "main"][-1]
        pdfs = [main_file] + [
            f for f in files if f.role == "attachment" and f.stage == main_file.stage
        ]
    package = outbox.evidence(a, "vanthu", doc.id, B.code)[0]
    paths = []
    for f in pdfs:
        target = tmp / f"check-{f.id}.pdf"
        blobs.export_to_file(a, f.sha256, target)
        paths.append(target)
    package_mb = len(package) / 1024 / 1024
    print(
        f"package {package_mb:.2f} MB, PDFs: "
        + ", ".join(f"{p.stat().st_size / 1024:.0f} KB" for p in paths),
        flush=True,
    )

    # the baseline's receiver: a bare WSGI endpoint that takes the body
    def bare(environ: dict[str, object], start: object) -> list[bytes]:
        environ["wsgi.input"].read(int(str(environ.get("CONTENT_LENGTH") or 0)))  # type: ignore[attr-defined]
        start("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"ok"]

    bare_port = free_port()
    server = make_server(
        "127.0.0.1",
        bare_port,
        bare,
        threaded=True,  # type: ignore[arg-type]
        request_handler=_Quiet,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    roots = [root_of(pki_a)]
    http = requests.Session()

    def baseline_once() -> None:
        r = http.post(
            f"http://127.0.0.1:{bare_port}/",
            data=package,
            timeout=60,
            headers={"Content-Type": "application/xml"},
        )
        assert r.status_code == 200
        for p in paths:
            with open(p, "rb") as f:
                reader = PdfFileReader(f)
                for sig in reader.embedded_regular_signatures:
                    vc = ValidationContext(trust_roots=roots, allow_fetching=True)
                    status = validate_pdf_signature(sig, vc)
                    assert status.intact and status.valid

    serial = 1000

    def queue(n: int) -> None:
        nonlocal serial
        with a.sessions() as s:
            template = s.get(ExchangeMessage, first.id)
            assert template is not None
            for _ in range(n):
                serial += 1
                s.add(
                    ExchangeMessage(
                        agency_id=template.agency_id,
                        direction="out",
                        kind="document",
                        peer_code=B.code,
                        document_id=doc.id,
                        document_key=key.rsplit(",", 1)[0] + f",{serial}/QĐ-UBND",
                        business_type=0,
                        state="pending",
                        attempts=0,
                        next_attempt_at=template.created_at,
                        created_at=template.created_at,
                    )
                )
            s.commit()

    def send_all(n: int, transport: object = None) -> None:
        done = 0
        while done < n:
            got = outbox.deliver_due(a, transport, limit=n)  # type: ignore[arg-type]
            assert got.refused == 0 and got.failed == 0 and got.retried == 0, got
            done += got.delivered

    clerk_b, clerk_b2 = _clerk(base_b), _clerk(base_b2)
    # warm up: each side's processes (validators, connections) before timing
    queue(1)
    send_all(1)
    queue(2)
    send_all(2, to_hub)
    wait_for("B' takes the warm-up dispatches", lambda: _incoming(clerk_b2, base_b2) == 2)
    rows = []
    for r in range(args.rounds):
        n = args.dispatches
        t0 = time.perf_counter()
        for _ in range(n):
            baseline_once()
        base_rate = n / (time.perf_counter() - t0)
        queue(n)
        t0 = time.perf_counter()
        send_all(n)
        ours_rate = n / (time.perf_counter() - t0)
        queue(n)
        held = _incoming(clerk_b2, base_b2)
        t0 = time.perf_counter()
        send_all(n, to_hub)
        while _incoming(clerk_b2, base_b2) < held + n:
            time.sleep(0.05)  # B' is still taking them
        hub_rate = n / (time.perf_counter() - t0)
        rows.append((base_rate, ours_rate, hub_rate))
        print(
            f"round {r + 1}: baseline {base_rate:.2f} dispatches/s, EDMS direct "
            f"{ours_rate:.2f}, through the hub {hub_rate:.2f}; direct/baseline "
            f"{ours_rate / base_rate:.3f}, hub/direct {hub_rate / ours_rate:.3f}",
            flush=True,
        )
    total = 2 + args.rounds * args.dispatches
    wait_for("B holds every dispatch", lambda: _incoming(clerk_b, base_b) == total)
    assert _incoming(clerk_b2, base_b2) == total
    server.shutdown()
    base = statistics.median(row[0] for row in rows)
    ours = statistics.median(row[1] for row in rows)
    hub = statistics.median(row[2] for row in rows)
    ratio = statistics.median(o / b for b, o, _ in rows)
    hub_ratio = statistics.median(h / o for _, o, h in rows)
    print(
        f"\n{args.dispatches} dispatches x {args.rounds} rounds, package "
        f"{package_mb:.2f} MB (1 MB attachment), B, B' and H with 2 gunicorn workers"
    )
    print(f"baseline (POST + stock pyHanko validation): {base:.2f} dispatches/s (median)")
    print(f"EDMS end to end, direct:                    {ours:.2f} dispatches/s (median)")
    print(f"EDMS end to end, through the hub (VDXP):    {hub:.2f} dispatches/s (median)")
    print(f"ratio (EDMS direct / baseline): {ratio:.3f}; B holds {total} documents, one each")
    print(
        f"ratio (through the hub / direct): {hub_ratio:.3f} (per round "
        f"{min(h / o for _, o, h in rows):.2f}-{max(h / o for _, o, h in rows):.2f}); "
        f"B' holds {total} documents, one each"
    )
    a.close()


def _clerk(base: str) -> requests.Session:

    http = requests.Session()
    login = http.post(
        f"{base}/api/v1/sessions",
        json={"username": "vanthu", "password": devseed.DEV_USER_PASSWORD},
        timeout=30,
    )
    assert login.status_code == 201, login.text
    return http


def _incoming(http: requests.Session, base: str) -> int:
    r = http.get(
        f"{base}/api/v1/documents", params={"direction": "incoming", "per_page": "1"}, timeout=30
    )
    total: int = r.json()["total"]
    return total


if __name__ == "__main__":
    main()
