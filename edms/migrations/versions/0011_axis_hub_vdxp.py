"""national axis hub (issue 22) — reserved slot; its owner fills upgrade/downgrade and renames the file

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
