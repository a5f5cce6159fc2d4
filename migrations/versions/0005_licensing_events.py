"""licensing events: log indexes, grant status, named sales reports, one buyout per work

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 13:47:28.748848
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUYOUT_ONLY = sa.text("sale_type = 'buyout'")
_GRANT_STATUS = sa.Enum('PENDING_PAYMENT', 'ACTIVE', name='grantstatus')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # a new value of a native enum cannot be added by batch mode; PostgreSQL needs it said
        op.execute("ALTER TYPE offerstatus ADD VALUE IF NOT EXISTS 'CLOSED'")
        _GRANT_STATUS.create(bind, checkfirst=True)

    with op.batch_alter_table('contract_consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('license_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', _GRANT_STATUS, nullable=False, server_default='PENDING_PAYMENT'))
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))
        batch_op.create_index('uq_license_grants_one_buyout_per_work', ['work_id'], unique=True, sqlite_where=_BUYOUT_ONLY, postgresql_where=_BUYOUT_ONLY)
    op.execute("UPDATE license_grants SET status = 'ACTIVE' WHERE sale_type = 'retail'")
    with op.batch_alter_table('license_grants', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None)

    with op.batch_alter_table('sales_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('line_number', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('corrects_report_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))
    # lines reported before reports had names become one report each
    op.execute("UPDATE sales_reports SET report_key = 'line-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table('sales_reports', schema=None) as batch_op:
        batch_op.alter_column('report_key', server_default=None)
        batch_op.alter_column('line_number', server_default=None)
        batch_op.create_unique_constraint('uq_sales_reports_grant_report_line', ['grant_id', 'report_key', 'line_number'])


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: offerstatus keeps 'CLOSED', unused once downgraded.
    op.execute("UPDATE license_offers SET status = 'WITHDRAWN' WHERE status = 'CLOSED'")
    with op.batch_alter_table('sales_reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sales_reports_grant_report_line', type_='unique')
        batch_op.drop_column('log_index')
        batch_op.drop_column('corrects_report_key')
        batch_op.drop_column('line_number')
        batch_op.drop_column('report_key')

    with op.batch_alter_table('license_grants', schema=None) as batch_op:
        batch_op.drop_index('uq_license_grants_one_buyout_per_work', sqlite_where=_BUYOUT_ONLY, postgresql_where=_BUYOUT_ONLY)
        batch_op.drop_column('log_index')
        batch_op.drop_column('status')

    with op.batch_alter_table('contract_consents', schema=None) as batch_op:
        batch_op.drop_column('log_index')

    if op.get_bind().dialect.name == 'postgresql':
        _GRANT_STATUS.drop(op.get_bind(), checkfirst=True)
