"""Notices, delivered for real: a local SMTP server (aiosmtpd) receives the Vietnamese
"result ready" mail with correct headers; a webhook receiver verifies the HMAC of the JSON
it gets; a receiver that is down gets each notice later, once per delivery id; staff are
told of documents waiting for their signature, assigned to them, due and overdue, on the
channels they chose, outside their quiet hours; replays and the delivery log."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from edms import devseed, procedures, reception, workdays
from edms import documents as docs
from edms.config import Settings
from edms.digitization.pipeline import CopyRequest, digitize
from edms.errors import EdmsError, Forbidden
from edms.models import Notice, NoticeAttempt
from edms.notices import admin, daily, delivery, outbox, webhooks
from edms.system import System
from tests.support.agency import BODY, draft_meta, sign
from tests.support.live import free_port
from tests.support.scans import scan_page
from tests.test_dossiers_reception import APPLICANT, PROCEDURE

FROM = "Bộ phận một cửa <motcua@tuyenquang.gov.vn>"


class Mailbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
            )
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, box
    finally:
        controller.stop()


class Receiver:
    """A webhook receiver: verifies the signature with the secret it was given, keeps the
    deliveries (deduplicated on X-EDMS-Delivery), and can be told to fail."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.seen: list[str] = []  # every delivery id received, repeats included
        self.processed: dict[str, dict[str, Any]] = {}  # once per delivery id
        self.bad_signatures = 0
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers["X-EDMS-Timestamp"]
                expected = (
                    "sha256="
                    + hmac.new(
                        receiver.secret.encode(), ts.encode() + b"." + body, hashlib.sha256
                    ).hexdigest()
                )
                if (
                    not hmac.compare_digest(expected, self.headers["X-EDMS-Signature"])
                    or abs(time.time() - int(ts)) > 300
                ):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                delivery_id = self.headers["X-EDMS-Delivery"]
                receiver.seen.append(delivery_id)
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.processed.setdefault(delivery_id, json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agency(tmp_path: Path, dev_pki: Any, smtp: tuple[int, Mailbox]) -> Iterator[System]:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_PUBLIC_URL": "https://motcua.tuyenquang.gov.vn",
        "EDMS_SMTP_HOST": "127.0.0.1",
        "EDMS_SMTP_PORT": str(smtp[0]),
        "EDMS_SMTP_TLS": "none",
        "EDMS_SMTP_FROM": FROM,
        "EDMS_NOTICE_PRIVATE_WEBHOOKS": "true",
        "EDMS_NOTICE_RETRY_BASE_SECONDS": "0.05",
        "EDMS_NOTICE_RETRY_MAX_SECONDS": "0.2",
        "EDMS_NOTICE_WEBHOOK_TIMEOUT": "5",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    procedures.save(system, "quantri", PROCEDURE)
    admin.set_quiet_hours(system, "quantri", "", "")  # the tests run at any hour
    yield system
    system.close()


def _deliver_all(system: System, rounds: int = 50) -> delivery.Round:
    """Delivery rounds until nothing is due (retries wait their back-off)."""
    total = delivery.Round()
    for _ in range(rounds):
        r = delivery.deliver_due(system)
        total.delivered += r.delivered
        total.retried += r.retried
        total.failed += r.failed
        with system.sessions() as s:
            pending = s.scalars(select(Notice).where(Notice.state == "pending")).all()
        if not pending:
            break
        if not (r.delivered or r.retried or r.failed):
            time.sleep(0.05)
    return total


def test_result_ready_by_email_and_signed_webhooks(
    agency: System, smtp: tuple[int, Mailbox], tmp_path: Path
) -> None:
    system, (_port, box) = agency, smtp
    # An SMS gateway, and an integration that listens to results only. The integration's
    # receiver is down at first.
    sms_port, hook_port = free_port(), free_port()
    _sms, sms_secret = webhooks.add(
        system,
        "quantri",
        webhooks.WebhookSpec("Cổng SMS Viettel", f"http://127.0.0.1:{sms_port}/sms", "sms"),
    )
    hook, hook_secret = webhooks.add(
        system,
        "quantri",
        webhooks.WebhookSpec(
            "Cổng dịch vụ công tỉnh",
            f"http://127.0.0.1:{hook_port}/events",
            "events",
            ("dossier.result_ready",),
        ),
    )
    gateway = Receiver(sms_port, sms_secret)
    app = APPLICANT.__class__(**{**vars(APPLICANT), "channels": ("email", "sms")})
    try:
        r = reception.receive(system, "vanthu", app)
        digitize(
            system,
            "vanthu",
            [
                scan_page(
                    tmp_path / "kq.png", ["GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH", "Số: 10A8012345"]
                )
            ],
            CopyRequest(r.code, "Giấy chứng nhận đăng ký hộ kinh doanh"),
        )
        first = _deliver_all(system, rounds=8)
        assert first.delivered == 4 and first.retried >= 1  # the integration is down
        # The "result ready" mail, in Vietnamese, with correct headers.
        assert len(box.messages) == 2
        sender, rcpts, raw = box.messages[1]
        assert sender == "motcua@tuyenquang.gov.vn" and rcpts == ["huong@example.vn"]
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are 7-bit
        assert "Subject: =?utf-8?" in head and "MIME-Version: 1.0" in head
        assert 'Content-Type: text/plain; charset="utf-8"' in head
        assert "Content-Transfer-Encoding: quoted-printable" in head
        assert "Auto-Submitted: auto-generated" in head
        msg = email.message_from_bytes(raw, policy=default_policy)
        assert msg["Subject"] == f"Hồ sơ {r.code} đã có kết quả"
        assert msg["From"].addresses[0].display_name == "Bộ phận một cửa"
        assert msg["To"].addresses[0].display_name == "Nguyễn Thị Hương"
        assert msg["X-EDMS-Event"] == "dossier.result_ready"
        with system.sessions() as s:
            ready = s.scalars(
                select(Notice).where(
                    Notice.event == "dossier.result_ready", Notice.channel == "email"
                )
            ).one()
        assert msg["Message-ID"] == f"<{ready.delivery_id}@tuyenquang.gov.vn>"
        text = msg.get_content()
        assert "Kính gửi Ông/Bà Nguyễn Thị Hương" in text
        assert "https://motcua.tuyenquang.gov.vn/tra-cuu" in text
        assert "Ủy ban nhân dân tỉnh Tuyên Quang" in text
        # The SMS gateway got both notices, signed, with the phone number and the text.
        assert gateway.bad_signatures == 0 and len(gateway.processed) == 2
        events = {p["event"]: p for p in gateway.processed.values()}
        sms_ready = events["dossier.result_ready"]
        assert sms_ready["recipient"]["phone"] == "0912 345 678"
        assert sms_ready["channel"] == "sms" and sms_ready["data"]["code"] == r.code
        assert sms_ready["message"]["text"].startswith("Ủy ban nhân dân tỉnh Tuyên Quang: hồ sơ")
        assert sms_ready["message"]["text_ascii"].startswith("Uy ban nhan dan tinh Tuyen Quang")
        assert sms_ready["data"]["lookup_url"] == (
            f"https://motcua.tuyenquang.gov.vn/tra-cuu?ma={r.code}"
        )

        # The integration comes up: it gets the result notice, exactly once per event id.
        integration = Receiver(hook_port, hook_secret)
        with system.sessions() as s:
            s.execute(update(Notice).values(next_attempt_at=datetime.now(UTC)))
            s.commit()
        later = _deliver_all(system)
        assert later.delivered == 1 and later.failed == 0
        assert delivery.deliver_due(system).delivered == 0  # nothing more to send
        assert len(integration.processed) == 1 and integration.bad_signatures == 0
        payload = next(iter(integration.processed.values()))
        assert payload["event"] == "dossier.result_ready" and payload["recipient"] is None
        assert payload["event_id"] == ready.event_id
        with system.sessions() as s:
            n = s.scalars(select(Notice).where(Notice.webhook_id == hook.id)).one()
            attempts = s.scalars(
                select(NoticeAttempt)
                .where(NoticeAttempt.notice_id == n.id)
                .order_by(NoticeAttempt.id)
            ).all()
        assert n.state == "delivered" and [a.ok for a in attempts][-1] is True
        assert not attempts[0].ok and "Connection" in attempts[0].detail
        assert attempts[-1].status == "204"
        # An answer of 503 is retried; the receiver sees the same delivery id again and
        # processes it once. A replay sends it again, with the same id.
        integration.fail_next = 1
        replayed = delivery.replay(system, "quantri", n.id)
        assert replayed.state == "pending"
        _deliver_all(system)
        assert integration.seen.count(n.delivery_id) == 3
        assert len(integration.processed) == 1
        with system.sessions() as s:
            log = s.scalars(
                select(NoticeAttempt)
                .where(NoticeAttempt.notice_id == n.id)
                .order_by(NoticeAttempt.id)
            ).all()
        assert [(a.ok, a.replay) for a in log[-2:]] == [(False, True), (True, True)]
        integration.stop()
    finally:
        gateway.stop()
    with pytest.raises(Forbidden):
        delivery.replay(system, "vanthu", n.id)
    total, rows = admin.log(system, "quantri", state="delivered")
    assert total == 5 and all(row.state == "delivered" for row in rows)


def test_a_receiver_that_refuses_for_good_and_a_secret_rotated(agency: System) -> None:
    system = agency
    port = free_port()
    hook, secret = webhooks.add(
        system, "quantri", webhooks.WebhookSpec("Tích hợp", f"http://127.0.0.1:{port}/", "events")
    )
    receiver = Receiver(port, "not-the-secret")  # signatures do not verify: 401
    try:
        reception.receive(system, "vanthu", APPLICANT)
        r = _deliver_all(system)
        assert r.failed == 1 and r.retried == 0  # a 4xx is final, not retried
        with system.sessions() as s:
            n = s.scalars(select(Notice).where(Notice.webhook_id == hook.id)).one()
        assert n.state == "failed" and n.last_error.startswith("401")
        # The administrator rotates the secret and gives it to the receiver: a replay now
        # goes through.
        receiver.secret = webhooks.rotate(system, "quantri", hook.id)
        assert receiver.secret != secret
        delivery.replay(system, "quantri", n.id)
        assert _deliver_all(system).delivered == 1
    finally:
        receiver.stop()
    # Bad webhooks are refused when made.
    for spec, message in (
        (webhooks.WebhookSpec("x", "ftp://a.vn/"), "http"),
        (webhooks.WebhookSpec("x", "https://u:p@a.vn/"), "credentials"),
        (webhooks.WebhookSpec("x", "https://a.vn/", "fax"), "serves"),
        (webhooks.WebhookSpec("x", "https://a.vn/", "events", ("khong.co",)), "unknown"),
    ):
        with pytest.raises(EdmsError, match=message):
            webhooks.add(system, "quantri", spec)


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    import socket

    settings = Settings.from_env({"EDMS_DATA_DIR": str(tmp_path / "d")})
    n = Notice(delivery_id="d", event_id="e", event="dossier.received", payload="{}")
    with socket.socket() as listener:  # something listens: the guard, not a refusal, stops it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        out = delivery.send_webhook(settings, n, url, "s")
    assert not out.ok and out.final and "private" in out.detail


def test_staff_notices_on_their_channels_outside_quiet_hours(
    agency: System, smtp: tuple[int, Mailbox], tmp_path: Path
) -> None:
    system, (_port, box) = agency, smtp
    admin.save_preference(
        system, "chutich", admin.Preference(email="thanh@tuyenquang.gov.vn", channels=("email",))
    )
    admin.save_preference(
        system,
        "phochutich",
        admin.Preference(
            email="nhung@tuyenquang.gov.vn",
            channels=("email",),
            muted=("document.awaiting_signature",),
        ),
    )
    admin.save_preference(
        system,
        "chuyenvien",
        admin.Preference(
            email="quan@tuyenquang.gov.vn",
            channels=("email",),
            quiet_start="00:00",
            quiet_end="00:00",
        ),
    )
    with pytest.raises(EdmsError, match="e-mail address"):
        admin.save_preference(system, "chuyenvien", admin.Preference(channels=("email",)))
    # A draft submitted: the leaders are told (not the one who turned it off).
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    _deliver_all(system)
    assert [m[1] for m in box.messages] == [["thanh@tuyenquang.gov.vn"]]
    msg = email.message_from_bytes(box.messages[0][2], policy=default_policy)
    assert msg["Subject"].startswith("Văn bản chờ Ông/Bà duyệt, ký: Về việc phê duyệt")
    assert f"https://motcua.tuyenquang.gov.vn/van-ban/{doc.id}" in msg.get_content()
    # Signed, numbered, sealed and received back as an incoming document, then assigned to
    # the officer's unit with a deadline: the officer is told.
    docs.approve(system, "chutich", doc.id)
    sign(system, "chutich", doc.id)
    docs.number(system, "vanthu", doc.id)
    docs.seal(system, "vanthu", doc.id)
    sent = tmp_path / "sent.pdf"
    docs.download(system, "vanthu", doc.id, sent)
    with open(sent, "rb") as f:
        got = docs.receive(
            system,
            "vanthu",
            f,
            "den.pdf",
            docs.IncomingMeta(
                type_code="quyet-dinh",
                subject="Về việc triển khai chuyển đổi số",
                organ_name="Bộ Nội vụ",
                code_number="05",
                code_notation="QĐ-BNV",
                issued_date=docs.vn_today(),
            ),
        )
    incoming = got.document.id
    docs.verify(system, "vanthu", incoming)
    docs.register_incoming(system, "vanthu", incoming)
    with system.sessions() as s, s.begin():  # a working day ten days on, and the one before
        day_before = workdays.next_working_day(s, docs.vn_today() + timedelta(days=9))
        deadline = workdays.next_working_day(s, day_before)
    docs.assign(system, "chutich", incoming, "VX", (), "Tham mưu", deadline)
    box.messages.clear()
    _deliver_all(system)
    assert [m[1] for m in box.messages] == [["quan@tuyenquang.gov.vn"]]
    assert (
        "Văn bản được giao xử lý"
        in email.message_from_bytes(box.messages[0][2], policy=default_policy)["Subject"]
    )
    # The daily check: due on the next working day, then overdue (and the leader who
    # assigned it is told too); run twice, it writes each notice once.
    box.messages.clear()
    assert daily.run(system, today=day_before)["due_tomorrow"] == 1
    assert daily.run(system, today=day_before)["due_tomorrow"] == 1  # the same finding
    assert daily.run(system, today=deadline + timedelta(days=1))["overdue"] == 1
    _deliver_all(system)
    got = sorted(
        (m[1][0], email.message_from_bytes(m[2], policy=default_policy)["Subject"])
        for m in box.messages
    )
    assert [
        (to, "đến hạn xử lý" in subject, "quá hạn xử lý" in subject) for to, subject in got
    ] == [
        ("quan@tuyenquang.gov.vn", False, True),
        ("quan@tuyenquang.gov.vn", True, False),
        ("thanh@tuyenquang.gov.vn", False, True),
    ]


def test_quiet_hours_hold_notices_until_morning(agency: System) -> None:
    at_night = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # 22:30 in Việt Nam
    assert outbox.after_quiet(at_night, ("21:00", "07:00")) == datetime(
        2026, 12, 3, 0, 0, tzinfo=UTC
    )  # 07:00 the next morning
    early = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)  # 05:00
    assert outbox.after_quiet(early, ("21:00", "07:00")) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    noon = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
    assert outbox.after_quiet(noon, ("21:00", "07:00")) == noon
    assert outbox.after_quiet(noon, ("11:30", "13:30")) == datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
    # A citizen's notice made inside the agency's quiet hours waits for their end.
    system = agency
    admin.set_quiet_hours(system, "quantri", "00:00", "23:59")
    reception.receive(system, "vanthu", APPLICANT)
    with system.sessions() as s:
        n = s.scalars(select(Notice)).one()
    assert n.next_attempt_at > datetime.now(UTC)
    assert delivery.deliver_due(system).delivered == 0
    with pytest.raises(EdmsError, match="HH:MM"):
        admin.set_quiet_hours(system, "quantri", "9h", "7h")


def test_refused_exchange_and_late_dossiers(agency: System, smtp: tuple[int, Mailbox]) -> None:
    from edms.models import ExchangeMessage

    system, (_port, box) = agency, smtp
    admin.save_preference(
        system, "vanthu", admin.Preference(email="mai@tuyenquang.gov.vn", channels=("email",))
    )
    # A partner's refusal of one of our documents, recorded by the exchange (status 02
    # from the receiver): the clerks and the document's author are told.
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    with system.sessions() as s, s.begin():
        s.add(
            ExchangeMessage(
                agency_id=doc.agency_id,
                direction="in",
                kind="status",
                peer_code="000.00.00.G22",
                document_id=doc.id,
                document_key="k",
                status_code="02",
                description="Gửi nhầm cơ quan",
                state="accepted",
                attempts=0,
            )
        )
    # A dossier received ten days ago and still open is late: the citizen gets an
    # apology, the clerk who received it a notice; the check run twice writes them once.
    r = reception.receive(system, "vanthu", APPLICANT, at=datetime.now(UTC) - timedelta(days=10))
    assert reception.is_late(reception.get(system, "vanthu", r.code).dossier)
    assert daily.run(system)["late"] == 1
    assert daily.run(system)["late"] == 1
    _deliver_all(system)
    got = sorted(
        (m[1][0], email.message_from_bytes(m[2], policy=default_policy)["Subject"])
        for m in box.messages
    )
    assert got == sorted(
        [
            ("huong@example.vn", f"Đã tiếp nhận hồ sơ {r.code}"),
            ("huong@example.vn", f"Xin lỗi: hồ sơ {r.code} chưa có kết quả đúng hẹn"),
            ("mai@tuyenquang.gov.vn", f"Xin lỗi: hồ sơ {r.code} chưa có kết quả đúng hẹn"),
            (
                "mai@tuyenquang.gov.vn",
                "Văn bản (chưa có số, mã " + str(doc.id) + ") bị 000.00.00.G22 trả lại",
            ),
        ]
    )
    body = [m for m in box.messages if m[1] == ["mai@tuyenquang.gov.vn"]]
    assert any(
        "Gửi nhầm cơ quan" in email.message_from_bytes(m[2], policy=default_policy).get_content()
        for m in body
    )
