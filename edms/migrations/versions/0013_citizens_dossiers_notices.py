"""citizens' results and notices (issue 21) — reserved slot; its owner fills upgrade/downgrade and renames the file

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
