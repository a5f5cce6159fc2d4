"""payouts: parties' Stripe Connect accounts and per-sale transfers to them

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('connected_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_reference', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stripe_account_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('details_submitted', sa.Boolean(), nullable=False),
    sa.Column('requirements', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', registry.models.UTCDateTime(), nullable=False),
    sa.Column('checked_at', registry.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_reference'),
    sa.UniqueConstraint('stripe_account_id')
    )
    with op.batch_alter_table('connected_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connected_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('payouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('account_reference', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('sale_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('payment_intent_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('status', sa.Enum('pending', 'failed', 'paid', name='payoutstatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('next_attempt_at', registry.models.UTCDateTime(), nullable=False),
    sa.Column('stripe_transfer_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('journal_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', registry.models.UTCDateTime(), nullable=False),
    sa.Column('paid_at', registry.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['grant_id'], ['license_grants.id'], ),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('transfer_key')
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_account_reference'), ['account_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_sale_key'), ['sale_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_sale_key'))
        batch_op.drop_index(batch_op.f('ix_payouts_grant_id'))
        batch_op.drop_index(batch_op.f('ix_payouts_account_reference'))

    op.drop_table('payouts')
    with op.batch_alter_table('connected_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connected_accounts_user_id'))

    op.drop_table('connected_accounts')
