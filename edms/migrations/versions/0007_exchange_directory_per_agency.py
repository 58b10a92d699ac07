"""exchange: one partner directory per agency, pinned certificate fingerprints, each
agency's public identity on the exchange, who sent each status packet (issue 15)

The directory was one table for every agency of the system, which let one agency's
administrators add or redirect the partners of another. Each entry now belongs to one
agency (unique per agency and code). Existing entries are copied into the directory of
every agency of the system — what each of them trusted before — and their certificates'
SHA-256 fingerprints are pinned. Downgrading keeps one entry per code.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fingerprints(pems_json: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    out = []
    for pem in json.loads(pems_json or "[]"):
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
        out.append(hashlib.sha256(der).hexdigest())
    return json.dumps(out)


def upgrade() -> None:
    op.create_table(
        "exchange_profiles",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("in_charge", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("telephone", sa.String(length=100), nullable=False),
        sa.Column("fax", sa.String(length=100), nullable=False),
        sa.Column("website", sa.String(length=200), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_exchange_profiles_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_exchange_profiles")),
    )
    with op.batch_alter_table("exchange_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("staff", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("staff_unit", sa.String(length=200), server_default="", nullable=False)
        )
    with op.batch_alter_table("exchange_directory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fingerprints", sa.Text(), nullable=True))
        batch_op.drop_constraint("uq_exchange_directory_code", type_="unique")

    conn = op.get_bind()
    agencies = [row[0] for row in conn.execute(sa.text("SELECT id FROM agencies ORDER BY id"))]
    columns = ("code", "alt_code", "name", "endpoint", "certificates", "active", "updated_at")
    rows = [
        dict(zip(("id", *columns), r, strict=True))
        for r in conn.execute(
            sa.text(f"SELECT id, {', '.join(columns)} FROM exchange_directory ORDER BY id")
        )
    ]
    conn.execute(sa.text("DELETE FROM exchange_directory"))
    entries = sa.table(
        "exchange_directory",
        sa.column("agency_id", sa.Integer()),
        sa.column("fingerprints", sa.Text()),
        *(sa.column(c) for c in columns),
    )
    for agency_id in agencies:
        for r in rows:
            values = {c: r[c] for c in columns}
            conn.execute(
                entries.insert().values(
                    agency_id=agency_id, fingerprints=_fingerprints(r["certificates"]), **values
                )
            )

    with op.batch_alter_table("exchange_directory", schema=None) as batch_op:
        batch_op.alter_column("agency_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("fingerprints", existing_type=sa.Text(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_exchange_directory_agency_id_agencies"),
            "agencies",
            ["agency_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_exchange_directory_agency_id"), ["agency_id", "code"]
        )


def downgrade() -> None:
    conn = op.get_bind()
    seen: set[str] = set()
    for entry_id, code in list(
        conn.execute(sa.text("SELECT id, code FROM exchange_directory ORDER BY agency_id, id"))
    ):
        if code in seen:
            conn.execute(sa.text("DELETE FROM exchange_directory WHERE id = :i"), {"i": entry_id})
        seen.add(code)
    with op.batch_alter_table("exchange_directory", schema=None) as batch_op:
        batch_op.drop_constraint("uq_exchange_directory_agency_id", type_="unique")
        batch_op.drop_constraint("fk_exchange_directory_agency_id_agencies", type_="foreignkey")
        batch_op.drop_column("fingerprints")
        batch_op.drop_column("agency_id")
        batch_op.create_unique_constraint("uq_exchange_directory_code", ["code"])
    with op.batch_alter_table("exchange_messages", schema=None) as batch_op:
        batch_op.drop_column("staff_unit")
        batch_op.drop_column("staff")
    op.drop_table("exchange_profiles")
