"""scale-out: a crawl frontier shared by crawler processes, log submissions, index snapshots

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crawl_frontier_hosts',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=253), nullable=False),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('lease_expires_at', registry.models.UTCDateTime(), nullable=True),
    sa.Column('next_fetch_at', registry.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['crawl_jobs.id'], ),
    sa.PrimaryKeyConstraint('job_id', 'host')
    )
    op.create_table('crawl_frontier_images',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('url_hash', sa.LargeBinary(length=16), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['crawl_jobs.id'], ),
    sa.PrimaryKeyConstraint('job_id', 'url_hash')
    )
    op.create_table('crawl_frontier_urls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('url_hash', sa.LargeBinary(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=253), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['crawl_jobs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'url_hash', name='uq_frontier_urls_seen')
    )
    with op.batch_alter_table('crawl_frontier_urls', schema=None) as batch_op:
        batch_op.create_index('ix_frontier_urls_host_state', ['job_id', 'host', 'state', 'id'], unique=False)

    op.create_table('index_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_work_id', sa.Integer(), nullable=False),
    sa.Column('works', sa.Integer(), nullable=False),
    sa.Column('created_at', registry.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('log_submissions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('leaf', sa.LargeBinary(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('leaf_index')
    )
    with op.batch_alter_table('log_submissions', schema=None) as batch_op:
        batch_op.create_index('ix_log_submissions_waiting', ['id'], unique=False, postgresql_where=sa.text('leaf_index IS NULL'), sqlite_where=sa.text('leaf_index IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('log_submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_log_submissions_waiting', postgresql_where=sa.text('leaf_index IS NULL'), sqlite_where=sa.text('leaf_index IS NULL'))

    op.drop_table('log_submissions')
    op.drop_table('index_snapshots')
    with op.batch_alter_table('crawl_frontier_urls', schema=None) as batch_op:
        batch_op.drop_index('ix_frontier_urls_host_state')

    op.drop_table('crawl_frontier_urls')
    op.drop_table('crawl_frontier_images')
    op.drop_table('crawl_frontier_hosts')
