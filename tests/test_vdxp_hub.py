"""The hub (``EDMS_AXIS_HUB``) as VNPT's SDK sees it: a real `edms serve` spoken to by a
client that sends what the SDK sends (tests/support/vdxp_sdk.py: sticky header map, fixed
timestamp, Gson's sign-header, unpadded hash-file, the package followed by CRLF, raw JSON
``to``, Expect: 100-continue, connections left open), with packages written by VNPT's
EdXML102 library (/work/shared/corpus/edxml)."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import Processes, base_env, edms, free_port
from tests.support.vdxp_sdk import Connection, SdkService, unpadded_sha256

CORPUS = Path("/work/shared/corpus/edxml")
G22, H41, H14, G17 = "000.00.00.G22", "000.00.00.H41", "000.00.00.H14", "000.00.00.G17"
A80, H17 = "000.00.00.A80", "28.22.H17"
SECRETS = {
    "vpcp-eoffice": "vpcp-secret-0123456789",
    "hagiang-edms": "hg-secret-0123456789",
    "a80": "a80-secret-0123456789",
    "h17": "h17-secret-0123456789",
    "h14": "h14-secret-0123456789",
    "g17": "g17-secret-0123456789",
}
AGENCIES = {
    "vpcp-eoffice": (G22, "Văn phòng Chính phủ"),
    "hagiang-edms": (H41, "UBND tỉnh Hà Giang"),
    "a80": (A80, "Cơ quan A80"),
    "h17": (H17, "Sở thử nghiệm H17"),
    "h14": (H14, "UBND tỉnh H14"),
    "g17": (G17, "Bộ G17"),
}
MAX_MB = 2


@dataclass
class Hub:
    base: str
    env: dict[str, str]
    data: Path

    def sdk(
        self, system: str, secret: str | None = None, created: datetime | None = None
    ) -> SdkService:
        return SdkService(
            self.base + "/vdxp", system, secret or SECRETS[system], created or datetime.now(UTC)
        )

    def packages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(
            edms(self.env, "axis", "packages", "--json", "--limit", "1000")
        )
        return out

    def audit(self, action: str) -> list[tuple[str, str, dict[str, Any]]]:
        with sqlite3.connect(self.data / "edms.sqlite3") as db:
            rows = db.execute(
                "SELECT actor, object_id, details FROM audit_events WHERE action = ? ORDER BY seq",
                (action,),
            ).fetchall()
        return [(a, o, json.loads(d)) for a, o, d in rows]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("hub")
    port = free_port()
    env = base_env(
        tmp / "data",
        tmp / "pki",
        EDMS_AXIS_HUB="true",
        EDMS_EXCHANGE_PUMP="false",
        EDMS_EXCHANGE_MAX_MB=str(MAX_MB),
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    edms(env, "init")
    for system, secret in SECRETS.items():
        code, name = AGENCIES[system]
        out = edms(
            env,
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
        assert code in out and secret not in out  # a given secret is never echoed
    procs = Processes(tmp)
    try:
        yield Hub(procs.serve(env, workers=1, port=port, name="hub"), env, tmp / "data")
    finally:
        procs.stop()


def no_nulls(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        return all(no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True


def ok(resp: Any) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()
    assert resp.status == 200, body
    assert (body["status"], body["ErrorCode"]) == ("OK", "0"), body
    assert isinstance(body["ErrorDesc"], str) and no_nulls(body)
    return body


def refused(resp: Any, code: str, http: int) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()
    assert (resp.status, body["status"], body["ErrorCode"]) == (http, "FAIL", code), body
    assert body["ErrorDesc"] and no_nulls(body)
    return body


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_documents_and_statuses_travel_as_the_sdk_sends_them(hub: Hub) -> None:
    new = corpus("edoc_new.edxml")  # VNPT's library: from A80 to 28.22.H17
    assert len(unpadded_sha256(new)) < 64  # the SDK's hash really is unpadded here
    a80 = hub.sdk("a80")
    agencies = ok(a80.call("getAgenciesList", {}))["data"]
    assert {a["code"] for a in agencies} >= {G22, H41, A80, H17}
    assert all(set(a) >= {"id", "pid", "code", "name", "mail"} for a in agencies)
    # a leftover/foreign `to` never redirects a package away from its To
    sent = ok(
        a80.call(
            "sendEdoc",
            {"from": A80, "servicetype": "eDoc", "messagetype": "edoc", "to": [G22]},
            new,
        )
    )
    assert sent["DocId"]
    assert 'XroadVnpt-to: ["000.00.00.G22"]' in a80.last_request.decode()
    again = ok(
        hub.sdk("a80").call(
            "sendEdoc", {"from": A80, "servicetype": "eDoc", "messagetype": "edoc"}, new
        )
    )
    assert again["DocId"] == sent["DocId"]  # the same bytes again: the same package

    h17 = hub.sdk("h17")
    listed = ok(h17.call("getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}))[
        "data"
    ]
    (item,) = listed
    assert item["docId"] != sent["DocId"]  # the receiver's own id
    assert (item["from"], item["to"], item["status"]) == (A80, H17, "initial")
    assert set(item) >= {
        "serviceType",
        "messageType",
        "created_time",
        "updated_time",
        "status_desc",
    }
    assert ok(hub.sdk("g17").call("getReceivedEdocList", {"messagetype": "edoc"}))["data"] == []
    got = ok(h17.call("getEdoc", {"docId": item["docId"], "filePath": "/tmp/edoc"}))
    assert base64.b64decode(got["data"]) == new  # byte-identical, without the CRLF
    ok(h17.call("updateStatus", {"docId": item["docId"], "status": "done"}))
    # the same object again: docId, filePath and status=done are still in its map; the
    # leftover status is not a filter (nothing else is waiting: the list is empty)
    assert '"XroadVnpt-status":"done"' in h17.request("getReceivedEdocList", {}).decode()
    assert ok(h17.call("getReceivedEdocList", {"messagetype": "edoc"}))["data"] == []

    # the sender reads the receiver's status on its same (sticky) object
    rows = ok(a80.call("getSentEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}))["data"]
    (row,) = [r for r in rows if r["senderDocId"] == sent["DocId"]]
    assert (row["receiverDocId"], row["toCode"], row["receiveStatus"]) == (
        item["docId"],
        H17,
        "done",
    )
    assert row["receivedTime"] and row["notation"] == "74fass22/VPCP-TTĐT" and row["title"]
    (first, repeat) = [d for _, o, d in hub.audit("axis.sendEdoc") if o == sent["DocId"]]
    assert "ignored" in first["notes"][0] and repeat["duplicate"]

    # a status packet goes to the issuer named by ResponseFor (G22)
    hg = hub.sdk("hagiang-edms")
    ok(
        hg.call(
            "sendEdoc",
            {"from": H41, "servicetype": "eDoc", "messagetype": "status"},
            corpus("status_acceptance_03.edxml"),
        )
    )
    vpcp = hub.sdk("vpcp-eoffice")
    (st,) = ok(vpcp.call("getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "status"}))[
        "data"
    ]
    assert (st["from"], st["to"], st["messageType"]) == (H41, G22, "status")

    # a revocation (13) of a document this axis did not carry from G22: only `to` can say
    cancel = corpus("status_cancellation_13.edxml")
    before = len(hub.packages())
    refused(
        hub.sdk("vpcp-eoffice").call("sendEdoc", {"from": G22, "messagetype": "status"}, cancel),
        "123",
        422,
    )
    assert len(hub.packages()) == before  # nothing stored
    cancel_id = ok(
        hub.sdk("vpcp-eoffice").call(
            "sendEdoc", {"from": G22, "messagetype": "status", "to": [H17]}, cancel
        )
    )["DocId"]
    (c,) = ok(hub.sdk("h17").call("getReceivedEdocList", {"messagetype": "status"}))["data"]
    assert c["from"] == G22

    # a document to three agencies: three receivers, three DocIds; `to` narrows it
    revocation = corpus("edoc_revocation.edxml")
    three = ok(hub.sdk("vpcp-eoffice").call("sendEdoc", {"from": G22}, revocation))
    (pkg,) = [p for p in hub.packages() if p["docId"] == three["DocId"]]
    assert sorted(r["to"] for r in pkg["receivers"]) == sorted([H41, H14, G17])
    assert len({r["docId"] for r in pkg["receivers"]} | {three["DocId"]}) == 4
    one = ok(
        hub.sdk("vpcp-eoffice").call(
            "sendEdoc", {"from": G22, "to": H41}, corpus("edoc_replacement.edxml")
        )
    )
    (pkg,) = [p for p in hub.packages() if p["docId"] == one["DocId"]]
    assert [r["to"] for r in pkg["receivers"]] == [H41]
    # now 13 goes to those the axis delivered G22's document to, without `to` (another
    # 13: the same bytes again would be the same package, already routed)
    again_13 = cancel.replace(b"2015/09/20 11:08:36", b"2015/09/21 08:00:00")
    later = ok(hub.sdk("vpcp-eoffice").call("sendEdoc", {"from": G22}, again_13))
    (pkg,) = [p for p in hub.packages() if p["docId"] == later["DocId"]]
    assert sorted(r["to"] for r in pkg["receivers"]) == sorted([H41, H14, G17])
    # the same 13 (status packets name no addressee) for one more agency: the same
    # package, one more receiver
    more = ok(hub.sdk("vpcp-eoffice").call("sendEdoc", {"from": G22, "to": [H14]}, cancel))
    assert more["DocId"] == cancel_id
    (pkg,) = [p for p in hub.packages() if p["docId"] == cancel_id]
    assert [r["to"] for r in pkg["receivers"]] == [H17, H14]
    # the package is kept in the object store under its SHA-256
    assert all(len(p["sha256"]) == 64 for p in hub.packages())
    for s in (a80, h17, hg, vpcp):
        s.close()


def test_bad_requests_are_refused_with_a_code_and_nothing_stored(hub: Hub) -> None:
    new = corpus("edoc_new.edxml")
    before = len(hub.packages())
    # wrong secret
    body = refused(
        hub.sdk("a80", secret="not-the-secret-of-a80").call("sendEdoc", {"from": A80}, new),
        "111",
        401,
    )
    assert body["DocId"] == ""  # the SDK needs DocId even in an error answer
    # unknown system
    refused(hub.sdk("nobody", secret="whatever-secret-123").call("getAgenciesList"), "110", 401)
    # a replayed request: the same bytes again
    svc = hub.sdk("h17")
    ok(svc.call("getReceivedEdocList", {"messagetype": "edoc"}))
    refused(svc.send_raw(svc.last_request), "113", 401)
    # a request signed 20 minutes ago (a service object kept too long), or in the future
    refused(
        hub.sdk("h17", created=datetime.now(UTC) - timedelta(minutes=20)).call("getAgenciesList"),
        "112",
        401,
    )
    refused(
        hub.sdk("h17", created=datetime.now(UTC) + timedelta(minutes=10)).call("getAgenciesList"),
        "112",
        401,
    )
    # a header changed after signing
    svc = hub.sdk("h17")
    raw = svc.request("getEdoc", {"docId": "a" * 36}, b"{}")
    tampered = raw.replace(b"XroadVnpt-docId: " + b"a" * 36, b"XroadVnpt-docId: " + b"b" * 36)
    assert tampered != raw
    refused(svc.send_raw(tampered), "111", 401)
    # not edXML, malformed edXML (VNPT's one broken sample), body changed (hash-file)
    refused(hub.sdk("a80").call("sendEdoc", {"from": A80}, b"%PDF-1.7\n%%EOF\n"), "120", 422)
    bad = refused(hub.sdk("a80").call("sendEdoc", {"from": A80}, corpus("edoc.edxml")), "120", 422)
    assert "tag mismatch" in bad["ErrorDesc"]
    svc = hub.sdk("a80")
    raw = svc.request(
        "sendEdoc",
        {"from": A80, "hash-file": unpadded_sha256(new)},
        new.replace(b"7816", b"7817") + b"\r\n",
        "application/octet-stream",
    )
    refused(svc.send_raw(raw), "122", 400)
    # unknown recipient, and a sender that is not one of the system's agencies
    other = new.replace(b"28.22.H17", b"28.22.H99")
    refused(hub.sdk("a80").call("sendEdoc", {"from": A80}, other), "123", 422)
    refused(
        hub.sdk("h17").call("sendEdoc", {"from": A80}, new.replace(b"7816", b"7818")), "124", 403
    )
    # oversized: refused from Content-Length without reading it, a whole answer, then the
    # connection closed cleanly (EOF, not a reset or a hang)
    svc = hub.sdk("a80")
    refused(
        svc.call("sendEdoc", {"from": A80}, b"<a>" + b"x" * (MAX_MB << 20) + b"</a>"), "121", 413
    )
    svc.connections[-1].sock.settimeout(30)
    assert svc.connections[-1].sock.recv(1) == b""
    svc.close()
    # not a POST, an unknown operation
    g = Connection("127.0.0.1", int(hub.base.rsplit(":", 1)[1]))
    got = g.exchange(b"GET /vdxp/getEdoc HTTP/1.1\r\nHost: x\r\n\r\n", b"", False)
    refused(got, "100", 405)
    assert got.json()["data"] == ""
    refused(hub.sdk("a80").call("getEverything"), "101", 404)
    assert len(hub.packages()) == before
    refusals = hub.audit("axis.refused")
    assert {d["ErrorCode"] for _, _, d in refusals} >= {
        "110",
        "111",
        "112",
        "113",
        "120",
        "121",
        "122",
        "123",
        "124",
    }
    assert ("axis:nobody", "getAgenciesList") in {(a, o) for a, o, _ in refusals}
    g.close()


def test_idle_kept_alive_connections_do_not_hold_the_hub(hub: Hub) -> None:
    """The SDK leaves each call's connection open: more of them than the server has
    threads, all idle, and the hub still answers new calls and calls on each of them."""
    now = datetime.now(UTC)  # (objects made in the same millisecond sign alike)
    services = [
        hub.sdk("h17", created=now + timedelta(milliseconds=i)) for i in range(12)
    ]  # gunicorn: 1 worker, 8 threads
    for s in services:
        ok(s.call("getAgenciesList", {}))
    late = hub.sdk("a80")
    ok(late.call("getSynchronizeUnit", {}))  # while twelve connections idle
    for i, s in enumerate(services):  # each kept-alive connection serves another call
        conn = s.connections[0]
        raw = s.request("getReceivedEdocList", {"pageIndex": i + 1}, b"")
        head, _, body = raw.partition(b"\r\n\r\n")
        ok(conn.exchange(head + b"\r\n\r\n", body, False))
    for s in [*services, late]:
        s.close()


def test_systems_register_their_own_units(hub: Hub) -> None:
    hg = hub.sdk("hagiang-edms")
    unit = {
        "id": "",
        "pcode": H41,
        "code": "H41.01",
        "name": "Sở Nội vụ tỉnh Hà Giang",
        "mail": "snv@hagiang.gov.vn",
        "mobile": "",
        "fax": "",
    }
    ok(hg.call("registerAgency", {}, json.dumps(unit, ensure_ascii=False).encode()))
    units = {u["code"]: u for u in ok(hub.sdk("h17").call("getSynchronizeUnit", {}))["data"]}
    u = units["H41.01"]
    assert isinstance(u["version"], int) and u["deleted"] is False and u["isAgency"] is True
    assert u["centerCode"] == "hagiang-edms" and u["pid"] == units[H41]["id"]
    # another system's code, or a top-level agency: refused
    taken = {**unit, "code": G22, "name": "Không phải của Hà Giang"}
    refused(
        hub.sdk("hagiang-edms").call("registerAgency", {}, json.dumps(taken).encode()), "140", 409
    )
    top = {"code": "H99", "name": "Cơ quan cấp trên"}
    refused(
        hub.sdk("hagiang-edms").call("registerAgency", {}, json.dumps(top).encode()), "140", 409
    )
    refused(hub.sdk("h17").call("deleteAgency", {"AgencyCode": "H41.01"}), "140", 409)
    ok(hub.sdk("hagiang-edms").call("deleteAgency", {"AgencyCode": "H41.01"}))
    units = {u["code"]: u for u in ok(hub.sdk("h17").call("getSynchronizeUnit", {}))["data"]}
    assert units["H41.01"]["deleted"] is True and units["H41.01"]["version"] == u["version"] + 1
    listed = ok(hub.sdk("h17").call("getAgenciesList", {}))["data"]
    assert "H41.01" not in {a["code"] for a in listed}


def test_operators_disable_and_rotate_secrets(hub: Hub) -> None:
    out = edms(
        hub.env, "axis", "system", "add", "h18", "--name", "Sở H18", "--agency", "28.22.H18=Sở H18"
    )
    secret = out.split("shown once, give it to the system's operator): ")[1].split()[0]
    listed = {s["code"]: s for s in json.loads(edms(hub.env, "axis", "system", "list", "--json"))}
    assert listed["h18"]["agencies"] == [{"code": "28.22.H18", "name": "Sở H18"}]
    ok(hub.sdk("h18", secret).call("getAgenciesList", {}))
    edms(hub.env, "axis", "system", "disable", "h18")
    refused(hub.sdk("h18", secret).call("getAgenciesList", {}), "110", 401)
    edms(hub.env, "axis", "system", "enable", "h18")
    new = "rotated-secret-of-h18"
    edms(hub.env, "axis", "system", "rotate-secret", "h18", "--secret", new)
    refused(hub.sdk("h18", secret).call("getAgenciesList", {}), "111", 401)
    ok(hub.sdk("h18", new).call("getAgenciesList", {}))
    actions = {
        a
        for a in (
            "axis.system.add",
            "axis.system.disable",
            "axis.system.enable",
            "axis.system.rotate_secret",
        )
        if hub.audit(a)
    }
    assert len(actions) == 4
    assert all(
        new not in json.dumps(d) and secret not in json.dumps(d)
        for a in actions
        for _, _, d in hub.audit(a)
    )
