"""The exchange through an axis, three processes on loopback, no mocks: EDMS A (Hà Giang)
and EDMS B (Tuyên Quang), each with the VDXP transport (``EDMS_EXCHANGE_TRANSPORT=vdxp``),
and EDMS H in hub mode (``EDMS_AXIS_HUB=true``) where both are connected systems. A's
dispatch, B's statuses 01 and 03, A's revocation 13 and B's 15 all go A → H → B or back,
polled, over HTTP; B's inbox refusal reaches A as 02 through the hub's statuses. H is also
an agency's own EDMS (Cao Bằng, C), on its own axis like any system."""

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
from signing.devpki import DevAgency
from tests.support.live import Processes, edms, free_port, wait_for
from tests.test_api_http import Browser
from tests.test_exchange import (
    A_CODE,
    B_AGENCY,
    C_AGENCY,
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
SECRET_C = "caobang-axis-secret-2026"


@dataclass
class Trio:
    a: Site
    b: Site
    h: Site  # the hub, and Cao Bằng's own EDMS
    procs: Processes
    tmp: Path

    def axis(self, system: str, secret: str) -> vdxp.VdxpTransport:
        return vdxp.VdxpTransport(self.h.base + "/vdxp", system, secret)

    def packages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(
            edms(self.h.env, "axis", "packages", "--json", "--limit", "1000")
        )
        return out


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    tmp = tmp_path_factory.mktemp("axis")
    pki_a, resp_a = devservices.start_fresh(tmp / "pki-a")
    pki_b, resp_b = devservices.start_fresh(tmp / "pki-b", B_AGENCY)
    pki_c, resp_c = devservices.start_fresh(tmp / "pki-c", C_AGENCY)
    port_a, port_b, port_h = free_port(), free_port(), free_port()
    axis = {
        "EDMS_EXCHANGE_TRANSPORT": "vdxp",
        "EDMS_EXCHANGE_VDXP_ENDPOINT": f"http://127.0.0.1:{port_h}/vdxp",
        "EDMS_EXCHANGE_VDXP_POLL_SECONDS": "0.3",
    }
    envs = {
        "a": {
            **_env(tmp, "a", pki_a, pki_b.root_cert, port_a),
            **axis,
            "EDMS_EXCHANGE_VDXP_SYSTEM_ID": "hagiang-edms",
            "EDMS_EXCHANGE_VDXP_SECRET": SECRET_A,
        },
        "b": {
            **_env(tmp, "b", pki_b, pki_a.root_cert, port_b),
            **axis,
            "EDMS_EXCHANGE_VDXP_SYSTEM_ID": "tuyenquang-edms",
            "EDMS_EXCHANGE_VDXP_SECRET": SECRET_B,
        },
        # the hub, whose own agency (C) is on it like any system
        "h": {
            **_env(tmp, "h", pki_c, pki_a.root_cert, port_h),
            **axis,
            "EDMS_AXIS_HUB": "true",
            "EDMS_EXCHANGE_VDXP_SYSTEM_ID": "caobang-edms",
            "EDMS_EXCHANGE_VDXP_SECRET": SECRET_C,
        },
    }
    entries = {}
    for name, env in envs.items():
        edms(env, "init")
        entries[name] = json.loads(edms(env, "exchange", "self"))
    for code, name, secret in (
        (A_CODE, "Ủy ban nhân dân tỉnh Hà Giang", SECRET_A),
        (B_AGENCY.code, B_AGENCY.name, SECRET_B),
        (C_AGENCY.code, C_AGENCY.name, SECRET_C),
    ):
        system = {SECRET_A: "hagiang-edms", SECRET_B: "tuyenquang-edms", SECRET_C: "caobang-edms"}[
            secret
        ]
        edms(
            envs["h"],
            "axis",
            "system",
            "add",
            system,
            "--name",
            name,
            "--secret",
            secret,
            "--agency",
            f"{code}={name}",
        )
    for site, others in (("a", ("b", "h")), ("b", ("a",)), ("h", ("a",))):
        for other in others:  # each pins the other's seal
            f = tmp / f"entry-{other}.json"
            f.write_text(json.dumps(entries[other]), encoding="utf-8")
            edms(
                envs[site],
                "exchange",
                "import",
                "--as",
                "quantri",
                "--pin",
                entries[other]["fingerprints"][0],
                str(f),
            )
    procs = Processes(tmp)
    pkis = {"a": pki_a, "b": pki_b, "h": pki_c}
    try:
        sites = {
            name: Site(
                procs.serve(envs[name], workers=1, port=port, name=name),
                envs[name],
                pkis[name],
                entries[name],
            )
            for name, port in (("h", port_h), ("a", port_a), ("b", port_b))
        }
        yield Trio(sites["a"], sites["b"], sites["h"], procs, tmp)
    finally:
        procs.stop()
        for responder in (resp_a, resp_b, resp_c):
            responder.stop()


def issue(site: Site, subject: str, *to: DevAgency) -> int:
    """An issued công văn of A to the agencies ``to`` (each step by its role)."""
    officer, leader, clerk = (Browser(site.base, u) for u in ("chuyenvien", "chutich", "vanthu"))
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "cong-van",
            "subject": subject,
            "drafting_unit": "VX",
            "body": ["Kính gửi: các cơ quan liên quan.", "Đề nghị phối hợp qua trục liên thông."],
            "recipients": [{"name": t.name, "organ_id": t.code} for t in to],
        },
    )
    assert r.status_code == 201, r.text
    doc_id: int = r.json()["id"]
    for who, step, extra in (
        (officer, "submit", {}),
        (leader, "approve", {}),
        (leader, "sign", {}),
        (clerk, "number", {}),
        (clerk, "seal", {}),
        (clerk, "register", {"holder": "Văn phòng"}),
        (clerk, "issue", {}),
    ):
        who.step(doc_id, step, **extra)
    return doc_id


def sent_to(browser: Browser, doc_id: int, agency: str) -> dict[str, Any]:
    r = browser.get(f"/api/v1/documents/{doc_id}/exchange")
    assert r.status_code == 200, r.text
    return next((a for a in r.json()["agencies"] if a["agency"] == agency), {})


def test_issue_statuses_and_revocation_through_the_hub(trio: Trio) -> None:
    a, b = trio.a, trio.b
    subject = "Về việc liên thông qua trục tỉnh"
    doc_id = issue(a, subject, B_AGENCY, C_AGENCY)
    clerk_a, clerk_b = Browser(a.base, "vanthu"), Browser(b.base, "vanthu")

    # B polled the hub, validated and took it; A sees 01, which came back through H
    wait_for("A sees 01 through the hub", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01"])
    # and the hub's own agency (C, same installation) took its copy through its own axis
    clerk_c = Browser(trio.h.base, "vanthu")
    wait_for("C holds it", lambda: [d for d in incoming(clerk_c) if d["subject"] == subject])
    wait_for("A sees 01 from C", lambda: codes(sent_to(clerk_a, doc_id, C_AGENCY.code)) == ["01"])
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
    r = clerk_b.post(
        f"/api/v1/documents/{doc_b['id']}/exchange/revocation",
        json={"accept": True, "reason": "Đã hủy bản nhận"},
    )
    assert r.status_code == 200 and r.json()["frozen"], r.text
    wait_for("A sees 15", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01", "03", "15"])

    # everything went through H, kept with its hash, each taken by its receiver (done): a
    # package per recipient of the document, the statuses, and one 13 for B and C (status
    # packets name no addressee: the same signed bytes twice are one package)
    key = dispatch["documentKey"]
    through = [p for p in trio.packages() if p["documentKey"] == key]
    C = C_AGENCY.code
    assert sorted(
        (
            p["from"],
            p["kind"],
            p["statusCode"] or "",
            tuple(sorted(r["to"] for r in p["receivers"])),
        )
        for p in through
    ) == sorted(
        [
            (A_CODE, "edoc", "", (B_AGENCY.code,)),
            (A_CODE, "edoc", "", (C,)),
            (B_AGENCY.code, "status", "01", (A_CODE,)),
            (C, "status", "01", (A_CODE,)),
            (B_AGENCY.code, "status", "03", (A_CODE,)),
            (A_CODE, "status", "13", tuple(sorted((B_AGENCY.code, C)))),
            (B_AGENCY.code, "status", "15", (A_CODE,)),
        ]
    )
    wait_for(
        "each package taken",
        lambda: all(
            r["status"] == "done"
            for p in trio.packages()
            if p["documentKey"] == key
            for r in p["receivers"]
        ),
    )
    assert all(len(p["sha256"]) == 64 for p in through)
    # the sender reads the receiver's status on the hub
    sent = trio.axis("hagiang-edms", SECRET_A).sent_statuses(
        next(
            p["docId"]
            for p in through
            if p["kind"] == "edoc" and p["receivers"][0]["to"] == B_AGENCY.code
        )
    )
    assert [(s.to_code, s.receive_status) for s in sent] == [(B_AGENCY.code, "done")]


def test_a_refusal_at_b_reaches_a_through_the_hub(trio: Trio) -> None:
    a, b = trio.a, trio.b
    clerk_b = Browser(b.base, "vanthu")
    # a package whose PDF changed after signing, sent to the hub as A's system
    pdf = bytearray(_issued_pdf(a))
    pdf[pdf.index(b"/Contents <") - 300] ^= 0x01
    key = f"{A_CODE},{date.today():%Y/%m/%d},911/UBND-VX"
    package = _signed_package(
        a.pki, edxml.Organ(A_CODE, "Ủy ban nhân dân tỉnh Hà Giang"), "agency", key, bytes(pdf)
    )
    from edms.exchange.directory import Peer

    delivery = trio.axis("hagiang-edms", SECRET_A).send(Peer(B_AGENCY.code, "", "", ()), package)
    assert delivery.outcome == "accepted" and delivery.ref
    axis_a = trio.axis("hagiang-edms", SECRET_A)
    failed = wait_for(
        "B reports fail to the hub",
        lambda: [s for s in axis_a.sent_statuses(delivery.ref) if s.receive_status == "fail"],
    )
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
