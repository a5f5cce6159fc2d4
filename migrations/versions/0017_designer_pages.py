"""designer pages: a prior-art conflict keeps the owner's answer and note; a party may decline a
contract draft

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contract_declines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('declined_at', registry.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['contract_versions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'party_id')
    )
    with op.batch_alter_table('contract_declines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_declines_version_id'), ['version_id'], unique=False)

    with op.batch_alter_table('prior_art_conflicts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'resolution_note',
                sqlmodel.sql.sqltypes.AutoString(length=2000),
                nullable=False,
                server_default='',
            )
        )
        batch_op.add_column(
            sa.Column('resolved_at', registry.models.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('prior_art_conflicts', schema=None) as batch_op:
        batch_op.alter_column('resolution_note', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('contract_declines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_declines_version_id'))
    op.drop_table('contract_declines')
    with op.batch_alter_table('prior_art_conflicts', schema=None) as batch_op:
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolution_note')
