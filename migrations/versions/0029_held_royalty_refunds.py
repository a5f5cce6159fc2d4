"""held royalty refunds: what refunds of a held sale took back out of held

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Holds made before this had no refund taken out of them.
    with op.batch_alter_table("held_royalties", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refunded_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("held_royalties", schema=None) as batch_op:
        batch_op.alter_column("refunded_minor", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("held_royalties", schema=None) as batch_op:
        batch_op.drop_column("refunded_minor")
