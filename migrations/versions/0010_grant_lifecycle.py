"""grant lifecycle: payment deadlines, activation, expired / cancelled / refunded grants, and
only a live buyout reserves its work

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import registry.models
from alembic import op


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ANY_BUYOUT = sa.text("sale_type = 'buyout'")
_LIVE_BUYOUT = sa.text("sale_type = 'buyout' AND status IN ('PENDING_PAYMENT', 'ACTIVE')")
_NEW_STATUSES = ("EXPIRED", "CANCELLED", "REFUNDED")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # a native enum takes new values only by ALTER TYPE; none is used in this transaction
        for status in _NEW_STATUSES:
            op.execute(f"ALTER TYPE grantstatus ADD VALUE IF NOT EXISTS '{status}'")
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", registry.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("activated_at", registry.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("activation_log_index", sa.BigInteger(), nullable=True))
        batch_op.drop_index(
            "uq_license_grants_one_buyout_per_work",
            sqlite_where=_ANY_BUYOUT,
            postgresql_where=_ANY_BUYOUT,
        )
        batch_op.create_index(
            "uq_license_grants_one_live_buyout_per_work",
            ["work_id"],
            unique=True,
            sqlite_where=_LIVE_BUYOUT,
            postgresql_where=_LIVE_BUYOUT,
        )
    # retail grants were active from their own leaf; paid ones stay as they were recorded
    op.execute(
        "UPDATE license_grants SET activated_at = granted_at, activation_log_index = log_index "
        "WHERE status = 'ACTIVE'"
    )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: grantstatus keeps the new ones, unused once downgraded.
    op.execute(
        "UPDATE license_grants SET status = 'PENDING_PAYMENT' "
        "WHERE status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')"
    )
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_license_grants_one_live_buyout_per_work",
            sqlite_where=_LIVE_BUYOUT,
            postgresql_where=_LIVE_BUYOUT,
        )
        batch_op.create_index(
            "uq_license_grants_one_buyout_per_work",
            ["work_id"],
            unique=True,
            sqlite_where=_ANY_BUYOUT,
            postgresql_where=_ANY_BUYOUT,
        )
        batch_op.drop_column("activation_log_index")
        batch_op.drop_column("activated_at")
        batch_op.drop_column("expires_at")
