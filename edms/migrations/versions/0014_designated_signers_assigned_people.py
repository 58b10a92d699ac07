"""the web's working day (issue 19): a draft's designated signer and approvers; an
incoming document assigned to a person in charge and co-operating people

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("designated_signer_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("approver_ids", sa.Text(), nullable=False, server_default="[]")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_designated_signer_id_users"),
            "users",
            ["designated_signer_id"],
            ["id"],
        )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("co_user_ids", sa.Text(), nullable=False, server_default="[]")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_assignments_lead_user_id_users"), "users", ["lead_user_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_assignments_lead_user_id_users", type_="foreignkey")
        batch_op.drop_column("co_user_ids")
        batch_op.drop_column("lead_user_id")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_documents_designated_signer_id_users", type_="foreignkey")
        batch_op.drop_column("approver_ids")
        batch_op.drop_column("designated_signer_id")
