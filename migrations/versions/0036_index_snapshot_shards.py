"""index_snapshots: the index shard a snapshot holds (`shard/of`), none for the whole index

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("index_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shard", sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f("ix_index_snapshots_shard"), ["shard"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("index_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_index_snapshots_shard"))
        batch_op.drop_column("shard")
