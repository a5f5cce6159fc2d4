"""marketplace: offers carry their price, currency and AI-training flag; list indexes

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('license_offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('price_milli', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('ai_training', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index('ix_license_offers_market', ['status', 'sale_type', 'price_milli', 'work_id'], unique=False)
        batch_op.create_index('ix_license_offers_work_status', ['work_id', 'status', 'price_milli'], unique=False)
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.create_index('ix_works_listed', ['visibility', 'id', 'status'], unique=False)
    _stamp_open_offers()


def _stamp_open_offers() -> None:
    """Open offers published before now get the terms of their work's active contract."""
    from licensing.contract import parse_contract_data
    from licensing.terms import terms_of, to_milli

    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT o.id, o.sale_type, o.package, v.document FROM license_offers o "
            "JOIN contract_versions v ON v.contract_id = o.contract_id AND v.status = 'ACTIVE' "
            "WHERE o.status = 'OPEN'"
        )
    ).all()
    for offer_id, sale_type, package, document in rows:
        data = json.loads(document) if isinstance(document, str) else document
        contract = parse_contract_data(data)
        terms = terms_of(contract, sale_type, package)
        connection.execute(
            sa.text(
                "UPDATE license_offers SET price_minor = :price, price_milli = :milli, "
                "currency = :currency, ai_training = :ai WHERE id = :id"
            ),
            {
                "price": terms.price.amount_minor if terms.price is not None else None,
                "milli": to_milli(terms.price) if terms.price is not None else None,
                "currency": contract.currency,
                "ai": contract.ai_training,
                "id": offer_id,
            },
        )


def downgrade() -> None:
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.drop_index('ix_works_listed')
    with op.batch_alter_table('license_offers', schema=None) as batch_op:
        batch_op.drop_index('ix_license_offers_work_status')
        batch_op.drop_index('ix_license_offers_market')
        batch_op.drop_column('ai_training')
        batch_op.drop_column('currency')
        batch_op.drop_column('price_milli')
        batch_op.drop_column('price_minor')
