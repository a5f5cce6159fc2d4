"""sales report lines: lz4 for a report leaf's openings on PostgreSQL, no index on the grant alone

Every line written updated `ix_sales_reports_grant_id`, which no query needs: the unique
(grant, report, line) index begins with the grant, so it serves every look-up by grant.

The first line of each report leaf keeps the openings of every line the leaf covers (about
200 KB of JSON for 500 lines), which PostgreSQL compresses and stores out of line. With its
default compression (pglz), a COPY of that one row took about 6.7 ms; with lz4, 4.1 ms. Values
stored before keep their compression and read as before. A server built without lz4 keeps its
default; SQLite has no such setting.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMN = "ALTER TABLE sales_reports ALTER COLUMN log_openings SET COMPRESSION"


def upgrade() -> None:
    with op.batch_alter_table("sales_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_reports_grant_id")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"DO $$ BEGIN {COLUMN} lz4; "
        # A server built without lz4 refuses it as a feature it does not support.
        "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"{COLUMN} DEFAULT")
    with op.batch_alter_table("sales_reports", schema=None) as batch_op:
        batch_op.create_index("ix_sales_reports_grant_id", ["grant_id"], unique=False)
