"""citizens' dossiers, receipts and notices (issue 21): procedures, dossiers received with
their look-up secret's hash, working days and holidays, the notification outbox and its
delivery log

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossier_lookups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_lookups")),
    )
    op.create_index(
        "ix_dossier_lookups_client_at", "dossier_lookups", ["client", "at"], unique=False
    )
    op.create_index("ix_dossier_lookups_code_at", "dossier_lookups", ["code", "at"], unique=False)
    op.create_table(
        "holiday_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seeded_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("seeded_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_holiday_years")),
    )
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holidays")),
    )
    op.create_table(
        "notice_settings",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_notice_settings_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_notice_settings")),
    )
    op.create_table(
        "notice_templates",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("form", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_notice_templates_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("agency_id", "event", "form", name=op.f("pk_notice_templates")),
    )
    op.create_table(
        "notice_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_box", sa.Text(), nullable=False),
        sa.Column("serves", sa.String(length=8), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_notice_webhooks_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_webhooks")),
    )
    op.create_table(
        "procedure_dossier_counters",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_procedure_dossier_counters_agency_id_agencies"),
        ),
        sa.PrimaryKeyConstraint("agency_id", "day", name=op.f("pk_procedure_dossier_counters")),
    )
    op.create_table(
        "procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("day_kind", sa.String(length=8), nullable=False),
        sa.Column("papers", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_procedures_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
        sa.UniqueConstraint("agency_id", "code", name=op.f("uq_procedures_agency_id")),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", edms.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", edms.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_notices_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["notice_webhooks.id"],
            name=op.f("fk_notices_webhook_id_notice_webhooks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_notices_delivery_id")),
    )
    op.create_index("ix_notices_agency", "notices", ["agency_id", "created_at"], unique=False)
    op.create_index("ix_notices_due", "notices", ["state", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_notices_event_id"), "notices", ["event_id"], unique=False)
    op.create_table(
        "notice_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_attempts_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_attempts")),
    )
    op.create_index("ix_notice_attempts_notice", "notice_attempts", ["notice_id"], unique=False)
    op.create_table(
        "notice_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("channels", sa.String(length=50), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("muted", sa.Text(), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notice_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notice_preferences")),
    )
    op.create_table(
        "procedure_dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_id", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("channels", sa.String(length=50), nullable=False),
        sa.Column("papers", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=False),
        sa.Column("received_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("received_by", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("day_kind", sa.String(length=8), nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("result_document_id", sa.Integer(), nullable=True),
        sa.Column("result_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_procedure_dossiers_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_procedure_dossiers_procedure_id_procedures"),
        ),
        sa.ForeignKeyConstraint(
            ["received_by"], ["users.id"], name=op.f("fk_procedure_dossiers_received_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["result_document_id"],
            ["documents.id"],
            name=op.f("fk_procedure_dossiers_result_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_dossiers")),
        sa.UniqueConstraint("code", name=op.f("uq_procedure_dossiers_code")),
    )
    op.create_index(
        "ix_procedure_dossiers_open",
        "procedure_dossiers",
        ["agency_id", "status", "promised_date"],
        unique=False,
    )
    op.create_table(
        "procedure_dossier_documents",
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_procedure_dossier_documents_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["procedure_dossiers.id"],
            name=op.f("fk_procedure_dossier_documents_dossier_id_procedure_dossiers"),
        ),
        sa.PrimaryKeyConstraint(
            "dossier_id", "document_id", name=op.f("pk_procedure_dossier_documents")
        ),
    )
    op.create_index(
        "ix_procedure_dossier_documents_document",
        "procedure_dossier_documents",
        ["document_id"],
        unique=False,
    )
    op.create_table(
        "procedure_dossier_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["procedure_dossiers.id"],
            name=op.f("fk_procedure_dossier_steps_dossier_id_procedure_dossiers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_dossier_steps")),
    )
    op.create_index(
        "ix_procedure_dossier_steps_dossier",
        "procedure_dossier_steps",
        ["dossier_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("procedure_dossier_steps")
    op.drop_table("procedure_dossier_documents")
    op.drop_table("procedure_dossiers")
    op.drop_table("notice_preferences")
    op.drop_table("notice_attempts")
    op.drop_table("notices")
    op.drop_table("procedures")
    op.drop_table("procedure_dossier_counters")
    op.drop_table("notice_webhooks")
    op.drop_table("notice_templates")
    op.drop_table("notice_settings")
    op.drop_table("holidays")
    op.drop_table("holiday_years")
    op.drop_table("dossier_lookups")
