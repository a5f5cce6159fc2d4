"""verified emails and organisation domains: email verification links, domain challenges

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERIFIED_DOMAIN = 'domain_verified_at IS NOT NULL'


def upgrade() -> None:
    op.create_table('email_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', registry.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('email_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_verifications_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', registry.models.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('domain_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('domain_verified_at', registry.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('uq_organisations_verified_domain', ['domain'], unique=True, sqlite_where=sa.text(_VERIFIED_DOMAIN), postgresql_where=sa.text(_VERIFIED_DOMAIN))


def downgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index('uq_organisations_verified_domain', sqlite_where=sa.text(_VERIFIED_DOMAIN), postgresql_where=sa.text(_VERIFIED_DOMAIN))
        batch_op.drop_column('domain_verified_at')
        batch_op.drop_column('domain_token')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')

    with op.batch_alter_table('email_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_verifications_user_id'))

    op.drop_table('email_verifications')
