"""enforcement: cases, the alerts they enforce, their timeline, legal profiles

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:24:52.983282
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import registry.models
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('domain', sqlmodel.sql.sqltypes.AutoString(length=253), nullable=False),
    sa.Column('state', sa.Enum('open', 'notice_sent', 'resolved_removed', 'resolved_licensed', 'counter_noticed', 'reinstated', 'escalated', 'closed', name='casestate', native_enum=False, length=20), nullable=False),
    sa.Column('response_nonce', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('notice_form', sa.Enum('dmca', 'cn_platform', name='noticeform', native_enum=False, length=20), nullable=True),
    sa.Column('notices_sent', sa.Integer(), nullable=False),
    sa.Column('deadline_at', registry.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deadline_kind', sa.Enum('reply', 'reinstatement', name='deadlinekind', native_enum=False, length=20), nullable=True),
    sa.Column('reminded_at', registry.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_notice_at', registry.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', registry.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('state_changed_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_deadline_at'), ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_domain'), ['domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_owner_id'), ['owner_id'], unique=False)

    op.create_table('legal_profiles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('legal_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('postal_address', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('updated_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('from_state', sa.Enum('open', 'notice_sent', 'resolved_removed', 'resolved_licensed', 'counter_noticed', 'reinstated', 'escalated', 'closed', name='casestate', native_enum=False, length=20), nullable=True),
    sa.Column('to_state', sa.Enum('open', 'notice_sent', 'resolved_removed', 'resolved_licensed', 'counter_noticed', 'reinstated', 'escalated', 'closed', name='casestate', native_enum=False, length=20), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('document', sa.Text(), nullable=True),
    sa.Column('document_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('log_index', sa.BigInteger(), nullable=False),
    sa.Column('created_at', registry.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', name='uq_case_alerts_alert')
    )
    with op.batch_alter_table('case_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_alerts_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_alerts_case_id'))

    op.drop_table('case_alerts')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    op.drop_table('legal_profiles')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_owner_id'))
        batch_op.drop_index(batch_op.f('ix_cases_domain'))
        batch_op.drop_index(batch_op.f('ix_cases_deadline_at'))

    op.drop_table('cases')
