"""task outbox and completed task keys: background work enqueued only by committed transactions

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('task_completed',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('completed_at', registry.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('task_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('created_at', registry.models.UTCDateTime(), nullable=False),
    sa.Column('relayed_at', registry.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('task_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_outbox_relayed_at'), ['relayed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_outbox_relayed_at'))

    op.drop_table('task_outbox')
    op.drop_table('task_completed')
