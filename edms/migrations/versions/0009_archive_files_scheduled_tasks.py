"""archive facts of stored signed files; scheduled maintenance tasks (issue 20)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("signatures", sa.Integer(), nullable=False),
        sa.Column("document_timestamps", sa.Integer(), nullable=False),
        sa.Column("last_timestamp_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("tsa", sa.String(length=200), nullable=False),
        sa.Column("tsa_expires_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("signer_expires_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("algorithms", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("renew_error", sa.Text(), nullable=True),
        sa.Column("renew_attempted_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("analysed_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_archive_files_sha256_blobs")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_archive_files")),
    )
    op.create_table(
        "scheduled_tasks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_started_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("last_finished_at", edms.db.UTCDateTime(), nullable=True),
        sa.Column("lease_until", edms.db.UTCDateTime(), nullable=True),
        sa.Column("worker", sa.String(length=80), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_tasks")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_tasks")
    op.drop_table("archive_files")
