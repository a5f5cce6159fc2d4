"""sales report totals: one row per report, so counting what came before a report sums reports, not lines

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 10:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sales_report_totals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('report_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('corrects_report_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('net_revenue_minor', sa.BigInteger(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('recouped_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['grant_id'], ['license_grants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('grant_id', 'report_key', name='uq_sales_report_totals_grant_report')
    )
    with op.batch_alter_table('sales_report_totals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_report_totals_grant_id'), ['grant_id'], unique=False)
    # Reports already stored, in the order their first lines were written (the latest counted
    # report is the one with the highest id).
    op.execute(
        "INSERT INTO sales_report_totals (grant_id, report_key, corrects_report_key, lines, units, "
        "net_revenue_minor, gross_minor, recouped_minor) "
        "SELECT grant_id, report_key, MIN(corrects_report_key), COUNT(*), SUM(units), "
        "SUM(net_revenue_minor), SUM(gross_minor), SUM(recouped_minor) "
        "FROM sales_reports GROUP BY grant_id, report_key ORDER BY MIN(id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('sales_report_totals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_report_totals_grant_id'))
    op.drop_table('sales_report_totals')
