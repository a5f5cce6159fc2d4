"""works: the log submission a work's leaf waits in while the sequencer has yet to append it

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-02 20:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_submission_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_works_log_submission_id"), ["log_submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_works_log_submission_id"))
        batch_op.drop_column("log_submission_id")
