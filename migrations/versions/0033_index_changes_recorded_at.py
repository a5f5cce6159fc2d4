"""index changes by time: a follower opening and the pruning of old changes read by it

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_index_changes_recorded_at"), "index_changes", ["recorded_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_index_changes_recorded_at"), table_name="index_changes")
