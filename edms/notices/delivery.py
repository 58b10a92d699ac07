"""Delivering notices: the loop that empties the notification outbox.

A round (:func:`deliver_due`) claims due notices with a lease (so two processes never send
one at once), composes each at its first attempt (:func:`.outbox.compose`; every later
attempt and replay sends the same words and bytes), sends it, and logs the attempt
(``notice_attempts``: when, the outcome, the server's code and answer, how long):

* **e-mail** over SMTP (``EDMS_SMTP_*``: STARTTLS, implicit TLS, or none on a local relay;
  authentication when a user is set): a UTF-8 text message with its ``Message-ID`` made
  from the delivery id, ``Auto-Submitted: auto-generated`` and the event in
  ``X-EDMS-Event``;
* **webhooks**: ``POST`` of the JSON body with ``X-EDMS-Event``, ``X-EDMS-Event-Id``,
  ``X-EDMS-Delivery`` (the delivery id, the same at every retry and replay: receivers
  deduplicate on it), ``X-EDMS-Timestamp`` (Unix seconds) and ``X-EDMS-Signature:
  sha256=<hex HMAC-SHA256 of "<timestamp>." + body, keyed with the webhook's secret>``.
  Any 2xx answer is a delivery; a webhook on a loopback, link-local or private address is
  refused unless ``EDMS_NOTICE_PRIVATE_WEBHOOKS`` allows it (checked on the connected
  peer, whatever the name resolved to).

A failure is retried with exponential back-off (``EDMS_NOTICE_RETRY_BASE_SECONDS``,
doubling up to ``EDMS_NOTICE_RETRY_MAX_SECONDS``) until ``EDMS_NOTICE_MAX_ATTEMPTS``,
then the notice is ``failed`` where administrators see it; an answer that will not change
(SMTP 5xx, HTTP 4xx other than 408/429) fails it at once. An administrator may *replay*
any notice: it is queued again, with its delivery id.

The :class:`Pump` runs the loop on a thread in every process that runs the periodic
maintenance (``edms worker``; ``edms serve`` without Redis): see edms.maintenance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Self

import requests
from sqlalchemy import select

from .. import __version__, audit
from ..config import Settings
from ..db import transaction
from ..errors import EdmsError, NotFound
from ..models import Notice, NoticeAttempt, NoticeWebhook
from ..numbering import VN_TZ
from ..orgs import load_user, require_role
from ..outbox_lease import Loop, lease_free, retry_at, take
from ..system import System
from .outbox import compose
from .webhooks import unseal

log = logging.getLogger("edms.notices")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: str = ""  # the HTTP status or SMTP reply code
    detail: str = ""
    final: bool = False  # a refusal that will not change: no retry


@dataclass
class Round:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


# -- sending ------------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-EDMS-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    max_age: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does (documented for gateways; used by the tests): the signature
    matches, in constant time, and the timestamp is recent."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= max_age and hmac.compare_digest(sign(secret, timestamp, body), header)


def email_message(settings: Settings, n: Notice) -> EmailMessage:
    name, sender = parseaddr(settings.smtp_from)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = n.subject
    msg["From"] = Address(display_name=name, addr_spec=sender) if name else sender
    recipient = json.loads(n.context or "{}").get("recipient") or {}
    to_name = str(recipient.get("name", ""))
    msg["To"] = Address(display_name=to_name, addr_spec=n.address) if to_name else n.address
    msg["Date"] = format_datetime(_now().astimezone(VN_TZ))
    domain = sender.rpartition("@")[2] or "edms.invalid"
    msg["Message-ID"] = f"<{n.delivery_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-EDMS-Event"] = n.event
    msg["X-EDMS-Event-Id"] = n.event_id
    msg["Content-Language"] = "vi"
    msg.set_content(n.body, charset="utf-8", cte="quoted-printable")
    return msg


def send_email(settings: Settings, n: Notice) -> Outcome:
    if not settings.smtp_host:
        return Outcome(
            False,
            "",
            "no SMTP server is configured (EDMS_SMTP_HOST): set it, then replay the notice",
        )
    msg = email_message(settings, n)
    try:
        if settings.smtp_tls == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
            )
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return Outcome(False, str(code), _text(text), final=code >= 500)
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, str(exc.smtp_code), _text(exc.smtp_error), final=exc.smtp_code >= 500)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, "", f"{type(exc).__name__}: {exc}")
    if refused:
        code, text = next(iter(refused.values()))
        return Outcome(False, str(code), _text(text), final=code >= 500)
    return Outcome(True, "250", f"accepted by {settings.smtp_host}")


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value)[:500]


def _session(settings: Settings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # straight to the receiver, no proxy from the environment
    if not settings.notice_private_webhooks:
        # The exchange's guard: the connected peer's address is checked, whatever the
        # name resolved to (no DNS rebinding around it).
        from ..exchange.transport import _GuardedAdapter

        for scheme in ("http://", "https://"):
            session.mount(scheme, _GuardedAdapter())
    return session


def send_webhook(settings: Settings, n: Notice, url: str, secret: str) -> Outcome:
    from ..exchange.transport import _private

    body = n.payload.encode("utf-8")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"EDMS/{__version__} notices",
        "X-EDMS-Event": n.event,
        "X-EDMS-Event-Id": n.event_id,
        "X-EDMS-Delivery": n.delivery_id,
        "X-EDMS-Timestamp": timestamp,
        "X-EDMS-Signature": sign(secret, timestamp, body),
    }
    try:
        with _session(settings) as session:
            resp = session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=settings.notice_webhook_timeout,
            )
    except requests.RequestException as exc:
        if _private(exc) is not None:
            return Outcome(
                False,
                "",
                "the webhook's address is a loopback, link-local or "
                "private address (EDMS_NOTICE_PRIVATE_WEBHOOKS is off)",
                final=True,
            )
        return Outcome(False, "", f"{type(exc).__name__}: {str(exc)[:300]}")
    detail = resp.text[:300] if resp.text else resp.reason or ""
    if 200 <= resp.status_code < 300:
        return Outcome(True, str(resp.status_code), detail)
    final = 400 <= resp.status_code < 500 and resp.status_code not in (408, 425, 429)
    return Outcome(False, str(resp.status_code), detail, final=final)


# -- the round -------------------------------------------------------------------------------------


def _claim(system: System, now: datetime, limit: int) -> list[int]:
    s_ = system.settings
    lease = now + timedelta(seconds=max(s_.smtp_timeout, s_.notice_webhook_timeout) * 3 + 30)
    with transaction(system.sessions) as s:
        due = list(
            s.scalars(
                select(Notice.id)
                .where(
                    Notice.state == "pending",
                    Notice.next_attempt_at <= now,
                    lease_free(Notice, now),
                )
                .order_by(Notice.next_attempt_at, Notice.id)
                .limit(limit)
            )
        )
        claimed = [i for i in due if take(s, Notice, i, now, lease)]
    return claimed


def _attempt(system: System, notice_id: int) -> str:
    settings = system.settings
    with transaction(system.sessions) as s:
        n = s.get(Notice, notice_id)
        assert n is not None
        compose(s, n, settings)
        hook = s.get(NoticeWebhook, n.webhook_id) if n.webhook_id else None
        s.expunge(n)
        target = (hook.url, hook.secret_box, hook.active, hook.id) if hook else None
    started = time.monotonic()
    if n.channel == "email":
        outcome = send_email(settings, n)
    elif target is None or not target[2]:
        outcome = Outcome(False, "", "the webhook was removed or deactivated", final=True)
    else:
        try:
            secret = unseal(settings, target[3], target[1])
        except EdmsError as exc:
            outcome = Outcome(False, "", exc.message, final=True)
        else:
            outcome = send_webhook(settings, n, target[0], secret)
    took = int((time.monotonic() - started) * 1000)
    return _record(system, notice_id, outcome, took)


def _record(system: System, notice_id: int, outcome: Outcome, took: int) -> str:
    settings = system.settings
    with transaction(system.sessions) as s:
        n = s.get(Notice, notice_id)
        assert n is not None
        s.add(
            NoticeAttempt(
                notice_id=n.id,
                at=_now(),
                ok=outcome.ok,
                status=outcome.status,
                detail=outcome.detail[:2000],
                duration_ms=took,
                replay=n.delivered_at is not None,
            )
        )
        n.attempts += 1
        n.lease_until = None
        if outcome.ok:
            n.state, n.delivered_at, n.last_error = "delivered", _now(), None
            return "delivered"
        n.last_error = (f"{outcome.status} {outcome.detail}".strip())[:2000]
        if outcome.final or n.attempts >= settings.notice_max_attempts:
            n.state = "failed"
            audit.record(
                s,
                "system",
                "notice.failed",
                "notice",
                str(n.id),
                {
                    "event": n.event,
                    "channel": n.channel,
                    "attempts": n.attempts,
                    "error": n.last_error[:300],
                },
            )
            return "failed"
        n.next_attempt_at = retry_at(
            _now(),
            n.attempts,
            settings.notice_retry_base_seconds,
            settings.notice_retry_max_seconds,
        )
        return "retried"


def deliver_due(system: System, limit: int = 20) -> Round:
    """One round of the delivery loop."""
    result = Round()
    for notice_id in _claim(system, _now(), limit):
        try:
            outcome = _attempt(system, notice_id)
        except Exception as exc:  # a notice that cannot even be composed
            log.exception("notice %s could not be attempted", notice_id)
            outcome = _record(
                system, notice_id, Outcome(False, "", f"{type(exc).__name__}: {exc}"), 0
            )
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def replay(system: System, actor: str, notice_id: int) -> Notice:
    """Queue a notice again (administrators): a failed one after its cause was fixed, or a
    delivered one a receiver lost. Same delivery id, same body."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="replay notices")
        n = s.get(Notice, notice_id)
        if n is None or n.agency_id != user.agency_id:
            raise NotFound(f"no notice {notice_id}")
        before = n.state
        n.state, n.attempts, n.next_attempt_at, n.lease_until = "pending", 0, _now(), None
        audit.record(
            s,
            user.username,
            "notice.replay",
            "notice",
            str(n.id),
            {"event": n.event, "channel": n.channel, "was": before},
        )
        return n


# -- the loop --------------------------------------------------------------------------------------


class Pump(Loop):
    """The delivery loop on a daemon thread; several processes share the work through the
    leases."""

    def __init__(self, system: System) -> None:
        self.system = system
        super().__init__(
            "edms-notices",
            lambda: _busy(deliver_due(system)),
            system.settings.notice_poll_seconds,
            log,
            "notice delivery round failed",  # the database may be down: the loop goes on
            join_timeout=60,
        )

    def start(self) -> Self:
        self.system.closers.append(self.stop)
        return super().start()


def _busy(r: Round) -> bool:
    return r.delivered + r.retried + r.failed > 0


__all__ = [
    "Outcome",
    "Pump",
    "Round",
    "deliver_due",
    "email_message",
    "replay",
    "send_email",
    "send_webhook",
    "sign",
    "verify_signature",
]
