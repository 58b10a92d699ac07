"""Webhooks: where signed JSON notices go (an SMS or Zalo gateway, or another system).

Invariants:

* **The secret is shown once and kept sealed.** Each webhook has its own HMAC secret,
  generated here (32 random bytes, URL-safe), shown to the administrator when it is made or
  rotated, and never again; the delivery loop must read it back to sign, so it is sealed
  with AES-256-GCM under a key derived (HKDF-SHA256) from ``EDMS_SECRET_KEY`` and bound to
  the webhook's id (a sealed secret copied to another row does not open). Without
  ``EDMS_SECRET_KEY`` (development only) a fixed key is used, which protects nothing.
* **The address is an http(s) URL** without credentials; private and loopback addresses
  are refused at delivery unless ``EDMS_NOTICE_PRIVATE_WEBHOOKS`` (edms.notices.delivery).
* A webhook that notices were sent to is deactivated, never deleted: the log keeps its
  history. Every change is audited (never the secret).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..config import Settings
from ..db import transaction
from ..errors import ClientError, InternalError, NotFound
from ..models import NoticeWebhook
from ..orgs import load_user, require_role
from ..system import System
from .catalog import NOTICES

SERVES = {"events": "Tích hợp (mọi sự kiện đã chọn)", "sms": "Cổng SMS", "zalo": "Cổng Zalo"}
_DEV_KEY = b"edms development notice key (not a protection)"


def _key(settings: Settings) -> bytes:
    master = settings.secret_key.encode() if settings.secret_key else _DEV_KEY
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"edms-notices", info=b"webhook secrets v1"
    ).derive(master)


def seal(settings: Settings, webhook_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    box = AESGCM(_key(settings)).encrypt(nonce, secret.encode(), str(webhook_id).encode())
    return "v1:" + base64.b64encode(nonce + box).decode()


def unseal(settings: Settings, webhook_id: int, box: str) -> str:
    try:
        raw = base64.b64decode(box.removeprefix("v1:"))
        return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], str(webhook_id).encode()).decode()
    except (InvalidTag, ValueError):
        raise InternalError(
            f"the secret of webhook {webhook_id} cannot be opened (was "
            "EDMS_SECRET_KEY changed?): rotate it on the notices page"
        ) from None


@dataclass(frozen=True)
class WebhookSpec:
    name: str
    url: str
    serves: str = "events"
    events: tuple[str, ...] = ()  # for "events": the notices wanted; () = all
    active: bool = True


def _check(spec: WebhookSpec) -> WebhookSpec:
    name = spec.name.strip()
    if not name or len(name) > 100:
        raise ClientError("name the webhook (up to 100 characters)")
    url = spec.url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ClientError(
            "the webhook's address is an http:// or https:// URL (up to 500 characters)"
        )
    if parts.username or parts.password:
        raise ClientError(
            "put no credentials in the webhook's address: receivers check the "
            "signature (X-EDMS-Signature) instead"
        )
    if spec.serves not in SERVES:
        raise ClientError(f"a webhook serves one of: {', '.join(SERVES)}")
    unknown = [e for e in spec.events if e not in NOTICES]
    if unknown:
        raise ClientError(f"unknown notices: {', '.join(unknown)}")
    return WebhookSpec(name, url, spec.serves, tuple(dict.fromkeys(spec.events)), spec.active)


def _admin(system: System, actor: str) -> int:
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="manage the notices' webhooks")
        return user.agency_id


def _get(s: Session, agency_id: int, webhook_id: int) -> NoticeWebhook:
    row = s.get(NoticeWebhook, webhook_id)
    if row is None or row.agency_id != agency_id:
        raise NotFound(f"no webhook {webhook_id}")
    return row


def add(system: System, actor: str, spec: WebhookSpec) -> tuple[NoticeWebhook, str]:
    """A new webhook and its secret (shown this once)."""
    spec = _check(spec)
    agency_id = _admin(system, actor)
    secret = secrets.token_urlsafe(32)
    with transaction(system.sessions) as s:
        row = NoticeWebhook(
            agency_id=agency_id,
            name=spec.name,
            url=spec.url,
            serves=spec.serves,
            events=json.dumps(list(spec.events)),
            active=spec.active,
            secret_box="",
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        row.secret_box = seal(system.settings, row.id, secret)
        audit.record(
            s,
            actor,
            "notice.webhook_add",
            "notice_webhook",
            str(row.id),
            {
                "name": spec.name,
                "url": spec.url,
                "serves": spec.serves,
                "events": list(spec.events),
            },
        )
        return row, secret


def update(system: System, actor: str, webhook_id: int, spec: WebhookSpec) -> NoticeWebhook:
    spec = _check(spec)
    agency_id = _admin(system, actor)
    with transaction(system.sessions) as s:
        row = _get(s, agency_id, webhook_id)
        row.name, row.url, row.serves = spec.name, spec.url, spec.serves
        row.events, row.active = json.dumps(list(spec.events)), spec.active
        row.updated_at = datetime.now(UTC)
        audit.record(
            s,
            actor,
            "notice.webhook_update",
            "notice_webhook",
            str(row.id),
            {
                "name": spec.name,
                "url": spec.url,
                "serves": spec.serves,
                "events": list(spec.events),
                "active": spec.active,
            },
        )
        return row


def rotate(system: System, actor: str, webhook_id: int) -> str:
    """A new secret (shown this once); the old one stops signing at once."""
    agency_id = _admin(system, actor)
    secret = secrets.token_urlsafe(32)
    with transaction(system.sessions) as s:
        row = _get(s, agency_id, webhook_id)
        row.secret_box = seal(system.settings, row.id, secret)
        row.updated_at = datetime.now(UTC)
        audit.record(s, actor, "notice.webhook_rotate", "notice_webhook", str(row.id))
    return secret


def list_webhooks(system: System, actor: str) -> list[NoticeWebhook]:
    agency_id = _admin(system, actor)
    with system.sessions() as s:
        return list(
            s.scalars(
                select(NoticeWebhook)
                .where(NoticeWebhook.agency_id == agency_id)
                .order_by(NoticeWebhook.id)
            )
        )
