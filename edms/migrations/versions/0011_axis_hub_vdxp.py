"""the national exchange axis (issue 22): the VDXP transport's handle and poll lease; the
hub's connected systems, their agencies, packages, deliveries and seen requests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport_ref", sa.String(length=64), nullable=True))
    op.create_table(
        "exchange_polls",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("lease_until", edms.db.UTCDateTime(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("last_polled_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_exchange_polls")),
    )
    op.create_table(
        "axis_systems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_box", sa.Text(), nullable=False),
        sa.Column("secret_set_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", edms.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_axis_systems")),
        sa.UniqueConstraint("code", name=op.f("uq_axis_systems_code")),
    )
    op.create_table(
        "axis_agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=35), nullable=False),
        sa.Column("parent_code", sa.String(length=35), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mail", sa.String(length=200), nullable=False),
        sa.Column("mobile", sa.String(length=50), nullable=False),
        sa.Column("fax", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("modified_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["axis_systems.id"], name=op.f("fk_axis_agencies_system_id_axis_systems")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_axis_agencies")),
        sa.UniqueConstraint("code", name=op.f("uq_axis_agencies_code")),
    )
    op.create_table(
        "axis_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_id", sa.String(length=36), nullable=False),
        sa.Column("sender_system_id", sa.Integer(), nullable=False),
        sa.Column("from_code", sa.String(length=35), nullable=False),
        sa.Column("service_type", sa.String(length=20), nullable=False),
        sa.Column("message_type", sa.String(length=10), nullable=False),
        sa.Column("document_key", sa.String(length=200), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("notation", sa.String(length=100), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_sha256"], ["blobs.sha256"], name=op.f("fk_axis_packages_package_sha256_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["sender_system_id"],
            ["axis_systems.id"],
            name=op.f("fk_axis_packages_sender_system_id_axis_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_axis_packages")),
        sa.UniqueConstraint("doc_id", name=op.f("uq_axis_packages_doc_id")),
        sa.UniqueConstraint(
            "sender_system_id", "package_sha256", name=op.f("uq_axis_packages_sender_system_id")
        ),
    )
    op.create_table(
        "axis_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("receiver_system_id", sa.Integer(), nullable=False),
        sa.Column("to_code", sa.String(length=35), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_desc", sa.Text(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.Column("fetched_at", edms.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["axis_packages.id"],
            name=op.f("fk_axis_deliveries_package_id_axis_packages"),
        ),
        sa.ForeignKeyConstraint(
            ["receiver_system_id"],
            ["axis_systems.id"],
            name=op.f("fk_axis_deliveries_receiver_system_id_axis_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_axis_deliveries")),
        sa.UniqueConstraint("doc_id", name=op.f("uq_axis_deliveries_doc_id")),
        sa.UniqueConstraint("package_id", "to_code", name=op.f("uq_axis_deliveries_package_id")),
    )
    with op.batch_alter_table("axis_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_axis_deliveries_inbox", ["receiver_system_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_axis_deliveries_package_id"), ["package_id"], unique=False
        )
    op.create_table(
        "axis_nonces",
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("expires_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["axis_systems.id"], name=op.f("fk_axis_nonces_system_id_axis_systems")
        ),
        sa.PrimaryKeyConstraint("system_id", "mac", name=op.f("pk_axis_nonces")),
    )
    with op.batch_alter_table("axis_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_axis_nonces_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("axis_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_axis_nonces_expires_at"))
    op.drop_table("axis_nonces")
    with op.batch_alter_table("axis_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_axis_deliveries_package_id"))
        batch_op.drop_index("ix_axis_deliveries_inbox")
    op.drop_table("axis_deliveries")
    op.drop_table("axis_packages")
    op.drop_table("axis_agencies")
    op.drop_table("axis_systems")
    op.drop_table("exchange_polls")
    with op.batch_alter_table("exchange_messages", schema=None) as batch_op:
        batch_op.drop_column("transport_ref")
