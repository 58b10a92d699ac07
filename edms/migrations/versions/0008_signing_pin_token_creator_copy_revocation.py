"""security hardening (issue 16): leaders' signing PIN, who minted each API token, revoked
digitized copies

Tokens minted before this revision get their creator from the audit trail (the
``token.create`` event); a token minted by someone other than its user loses the ``sign``
scope, which such a token may no longer carry.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_pin_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("pin_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("pin_failed_at", edms.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_created_by_users"), "users", ["created_by"], ["id"]
        )
    with op.batch_alter_table("digitized_copies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", edms.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_reason", sa.Text(), nullable=True))
    _backfill_token_creators()


def _backfill_token_creators() -> None:
    conn = op.get_bind()
    users = {name: uid for uid, name in conn.execute(sa.text("SELECT id, username FROM users"))}
    creators = {}
    for actor, object_id in conn.execute(
        sa.text("SELECT actor, object_id FROM audit_events WHERE action = 'token.create'")
    ):
        creators[object_id] = users.get(actor)
    for token_id, user_id, scopes in list(
        conn.execute(sa.text("SELECT id, user_id, scopes FROM api_tokens"))
    ):
        creator = creators.get(str(token_id))
        kept = scopes
        if creator != user_id:  # minted by someone else, or unknown: never a signing token
            kept = ",".join(s for s in scopes.split(",") if s != "sign") or "read"
        conn.execute(
            sa.text("UPDATE api_tokens SET created_by = :c, scopes = :s WHERE id = :i"),
            {"c": creator, "s": kept, "i": token_id},
        )
        if kept != scopes:
            _note(token_id, scopes, kept)


def _note(token_id: int, before: str, after: str) -> None:
    """Logged for the operator (the audit chain is written by the application only)."""
    import logging

    logging.getLogger("alembic").warning(
        "api token %s: scopes %s -> %s (minted by someone else: no signing)",
        token_id,
        before,
        after,
    )


def downgrade() -> None:
    with op.batch_alter_table("digitized_copies", schema=None) as batch_op:
        batch_op.drop_column("revoked_reason")
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_created_by_users"), type_="foreignkey")
        batch_op.drop_column("created_by")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("pin_failed_at")
        batch_op.drop_column("pin_failures")
        batch_op.drop_column("signing_pin_hash")
