"""notification templates: each notification keeps its English templates and their values

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 22:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before keep only their English text, which is what they show.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_template', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_template', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('message_params', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('message_params')
        batch_op.drop_column('body_template')
        batch_op.drop_column('subject_template')
