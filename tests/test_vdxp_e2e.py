"""The exchange through an axis, three processes on loopback, no mocks: EDMS A (Hà Giang)
and EDMS B (Tuyên Quang), each with the VDXP transport (``EDMS_EXCHANGE_TRANSPORT=vdxp``),
and EDMS H in hub mode (``EDMS_AXIS_HUB=true``) where both are connected systems. A's
dispatch, B's statuses 01 and 03, A's revocation 13 and B's 15 all go A → H → B or back,
polled, over HTTP; B's inbox refusal reaches A as 02 through the hub's statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from edms.exchange import edxml, vdxp
from signing import devservices
from tests.support.live import Processes, base_env, edms, free_port, wait_for
from tests.test_api_http import Browser
from tests.test_exchange import (
    A_CODE,
    B_AGENCY,
    Site,
    _env,
    _issued_pdf,
    _signed_package,
    codes,
    exchange_of,
    incoming,
    issue_to_b,
)

SECRET_A, SECRET_B = "hagiang-axis-secret-2026", "tuyenquang-axis-secret-2026"


@dataclass
class Trio:
    a: Site
    b: Site
    h: str
    h_env: dict[str, str]
    procs: Processes
    tmp: Path

    def axis(self, system: str, secret: str) -> vdxp.VdxpTransport:
        return vdxp.VdxpTransport(self.h + "/vdxp", system, secret)

    def packages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(edms(self.h_env, "axis", "packages",
                                                    "--json", "--limit", "1000"))
        return out


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    tmp = tmp_path_factory.mktemp("axis")
    pki_a, resp_a = devservices.start_fresh(tmp / "pki-a")
    pki_b, resp_b = devservices.start_fresh(tmp / "pki-b", B_AGENCY)
    port_a, port_b, port_h = free_port(), free_port(), free_port()
    hub = f"http://127.0.0.1:{port_h}"
    env_h = base_env(tmp / "data-h", tmp / "pki-h", EDMS_AXIS_HUB="true",
                     EDMS_EXCHANGE_PUMP="false", EDMS_PUBLIC_URL=hub)
    edms(env_h, "init")
    edms(env_h, "axis", "system", "add", "hagiang-edms", "--name", "UBND tỉnh Hà Giang",
         "--secret", SECRET_A, "--agency", f"{A_CODE}=Ủy ban nhân dân tỉnh Hà Giang")
    edms(env_h, "axis", "system", "add", "tuyenquang-edms", "--name", B_AGENCY.name,
         "--secret", SECRET_B, "--agency", f"{B_AGENCY.code}={B_AGENCY.name}")
    axis = {"EDMS_EXCHANGE_TRANSPORT": "vdxp", "EDMS_EXCHANGE_VDXP_ENDPOINT": hub + "/vdxp",
            "EDMS_EXCHANGE_VDXP_POLL_SECONDS": "0.3"}
    env_a = {**_env(tmp, "a", pki_a, pki_b.root_cert, port_a), **axis,
             "EDMS_EXCHANGE_VDXP_SYSTEM_ID": "hagiang-edms",
             "EDMS_EXCHANGE_VDXP_SECRET": SECRET_A}
    env_b = {**_env(tmp, "b", pki_b, pki_a.root_cert, port_b), **axis,
             "EDMS_EXCHANGE_VDXP_SYSTEM_ID": "tuyenquang-edms",
             "EDMS_EXCHANGE_VDXP_SECRET": SECRET_B}
    entries = {}
    for name, env in (("a", env_a), ("b", env_b)):
        edms(env, "init")
        entries[name] = json.loads(edms(env, "exchange", "self"))
    for env, other in ((env_a, "b"), (env_b, "a")):  # each pins the other's seal
        f = tmp / f"entry-{other}.json"
        f.write_text(json.dumps(entries[other]), encoding="utf-8")
        edms(env, "exchange", "import", "--as", "quantri", "--pin",
             entries[other]["fingerprints"][0], str(f))
    procs = Processes(tmp)
    try:
        h = procs.serve(env_h, workers=1, port=port_h, name="h")
        a = Site(procs.serve(env_a, workers=1, port=port_a, name="a"), env_a, pki_a,
                 entries["a"])
        b = Site(procs.serve(env_b, workers=1, port=port_b, name="b"), env_b, pki_b,
                 entries["b"])
        yield Trio(a, b, h, env_h, procs, tmp)
    finally:
        procs.stop()
        resp_a.stop()
        resp_b.stop()


def test_issue_statuses_and_revocation_through_the_hub(trio: Trio) -> None:
    a, b = trio.a, trio.b
    subject = "Về việc liên thông qua trục tỉnh"
    doc_id = issue_to_b(a, subject)
    clerk_a, clerk_b = Browser(a.base, "vanthu"), Browser(b.base, "vanthu")

    # B polled the hub, validated and took it; A sees 01, which came back through H
    wait_for("A sees 01 through the hub", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01"])
    dispatch = exchange_of(clerk_a, doc_id)["dispatch"]
    assert dispatch["state"] == "delivered" and dispatch["receipt"] is False  # to the axis
    (doc_b,) = [d for d in incoming(clerk_b) if d["subject"] == subject]
    assert doc_b["state"] == "verified" and doc_b["organ_id"] == A_CODE
    check = clerk_b.get(f"/api/v1/documents/{doc_b['id']}/verification").json()
    assert check["valid"] and len(check["report"]["signatures"]) == 2

    clerk_b.step(doc_b["id"], "register")
    wait_for("A sees 01, 03", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01", "03"])

    clerk_a.step(doc_id, "revoke", reason="Ban hành nhầm đối tượng")

    def asked() -> bool:
        history = clerk_b.get(f"/api/v1/documents/{doc_b['id']}").json()["history"]
        return any(h.get("code") == "13" for h in history)

    wait_for("B receives 13 through the hub", asked)
    r = clerk_b.post(f"/api/v1/documents/{doc_b['id']}/exchange/revocation",
                     json={"accept": True, "reason": "Đã hủy bản nhận"})
    assert r.status_code == 200 and r.json()["frozen"], r.text
    wait_for("A sees 15", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01", "03", "15"])

    # everything went through H: the document and four status packets, kept with their
    # hashes, each taken by its receiver (done)
    key = dispatch["documentKey"]
    through = [p for p in trio.packages() if p["documentKey"] == key]
    assert sorted((p["from"], p["kind"], p["statusCode"] or "") for p in through) == sorted([
        (A_CODE, "edoc", ""), (B_AGENCY.code, "status", "01"),
        (B_AGENCY.code, "status", "03"), (A_CODE, "status", "13"),
        (B_AGENCY.code, "status", "15")])
    for p in through:
        (receiver,) = p["receivers"]
        assert receiver["to"] == (B_AGENCY.code if p["from"] == A_CODE else A_CODE)
        assert receiver["status"] == "done" and len(p["sha256"]) == 64
    # the sender reads the receiver's status on the hub
    sent = trio.axis("hagiang-edms", SECRET_A).sent_statuses(
        next(p["docId"] for p in through if p["kind"] == "edoc"))
    assert [(s.to_code, s.receive_status) for s in sent] == [(B_AGENCY.code, "done")]


def test_a_refusal_at_b_reaches_a_through_the_hub(trio: Trio) -> None:
    a, b = trio.a, trio.b
    clerk_b = Browser(b.base, "vanthu")
    # a package whose PDF changed after signing, sent to the hub as A's system
    pdf = bytearray(_issued_pdf(a))
    pdf[pdf.index(b"/Contents <") - 300] ^= 0x01
    key = f"{A_CODE},{date.today():%Y/%m/%d},911/UBND-VX"
    package = _signed_package(a.pki, edxml.Organ(A_CODE, "Ủy ban nhân dân tỉnh Hà Giang"),
                              "agency", key, bytes(pdf))
    from edms.exchange.directory import Peer

    delivery = trio.axis("hagiang-edms", SECRET_A).send(Peer(B_AGENCY.code, "", "", ()),
                                                        package)
    assert delivery.outcome == "accepted" and delivery.ref
    axis_a = trio.axis("hagiang-edms", SECRET_A)
    failed = wait_for("B reports fail to the hub", lambda: [
        s for s in axis_a.sent_statuses(delivery.ref) if s.receive_status == "fail"])
    assert "Trả lại (02)" in failed[0].receive_status_desc  # type: ignore[index]
    assert not [d for d in incoming(clerk_b) if d["code_number"] == "911"]

    # A's own dispatch refused at B (A is no longer in B's directory): A records 02
    entry = {**a.entry, "active": False}
    off = trio.tmp / "entry-a-off.json"
    off.write_text(json.dumps(entry), encoding="utf-8")
    edms(b.env, "exchange", "import", "--as", "quantri", str(off))
    try:
        doc_id = issue_to_b(a, "Văn bản bên nhận không tiếp nhận")
        clerk_a = Browser(a.base, "vanthu")
        wait_for("A sees 02 from B", lambda: codes(exchange_of(clerk_a, doc_id)) == ["02"])
        got = exchange_of(clerk_a, doc_id)
        assert got["dispatch"]["state"] == "refused"
        assert "not in the exchange directory" in got["statuses"][0]["description"]
    finally:
        on = trio.tmp / "entry-a-on.json"
        on.write_text(json.dumps(a.entry), encoding="utf-8")
        edms(b.env, "exchange", "import", "--as", "quantri", str(on))
