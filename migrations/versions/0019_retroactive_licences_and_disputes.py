"""retroactive licences (a grant may settle a case and license the case's site by name, with no
licensee account), ownership disputes, royalties held while a work is disputed, and bought-out
works watched for their buyers

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exclusivity_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("crawl_watch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", registry.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["crawl_watch_id"], ["crawl_watches.id"]),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exclusivity_watches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exclusivity_watches_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exclusivity_watches_work_id"), ["work_id"], unique=False)
    op.create_table(
        "ownership_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("earlier_work_id", sa.Integer(), nullable=False),
        sa.Column("claimant_id", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "upheld", "rejected", name="disputestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("opened_log_index", sa.BigInteger(), nullable=False),
        sa.Column("outcome_log_index", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", registry.models.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", registry.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["claimant_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["earlier_work_id"], ["works.id"]),
        sa.ForeignKeyConstraint(["respondent_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ownership_disputes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ownership_disputes_claimant_id"), ["claimant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ownership_disputes_respondent_id"), ["respondent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ownership_disputes_work_id"), ["work_id"], unique=False)
    op.create_table(
        "held_royalties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("hold_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "account_reference", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("held", "released", "redirected", name="holdstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("outcome_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("held_at", registry.models.UTCDateTime(), nullable=False),
        sa.Column("settled_at", registry.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["dispute_id"], ["ownership_disputes.id"]),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hold_key"),
    )
    with op.batch_alter_table("held_royalties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_held_royalties_dispute_id"), ["dispute_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_held_royalties_work_id"), ["work_id"], unique=False)
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.alter_column("licensee_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "licensed_domain", sqlmodel.sql.sqltypes.AutoString(length=253), nullable=True
            )
        )
        batch_op.create_index(batch_op.f("ix_license_grants_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_license_grants_case_id_cases", "cases", ["case_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.drop_constraint("fk_license_grants_case_id_cases", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_license_grants_case_id"))
        batch_op.drop_column("licensed_domain")
        batch_op.drop_column("case_id")
        batch_op.alter_column("licensee_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("exclusivity_watches")
    op.drop_table("held_royalties")
    op.drop_table("ownership_disputes")
