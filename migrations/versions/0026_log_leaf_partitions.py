"""the log's leaves range-partitioned by leaf index on PostgreSQL, 2**20 leaves a partition

The table is rebuilt as `PARTITION BY RANGE (leaf_index)` with the partitions its leaves need
and one ahead (`registry.partitions`); the appender creates later ones. Its primary key is
the partition key, so nothing else changes. On SQLite nothing changes.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 10:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from registry.log.store import LEAF_PARTITIONS

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAVES_TABLE = LEAF_PARTITIONS.table
COLUMNS = """
    leaf_index BIGINT NOT NULL,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT log_leaves_pkey PRIMARY KEY (leaf_index)
"""


def _rebuild(*, partitioned: bool) -> None:
    old = f"{LEAVES_TABLE}_before"
    op.execute(f"ALTER TABLE {LEAVES_TABLE} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT log_leaves_pkey TO {old}_pkey")
    op.execute(
        f"CREATE TABLE {LEAVES_TABLE} ({COLUMNS})"
        + (" PARTITION BY RANGE (leaf_index)" if partitioned else "")
    )
    if partitioned:
        connection = op.get_bind()
        count = connection.exec_driver_sql(f"SELECT count(*) FROM {old}").scalar_one()
        for number in LEAF_PARTITIONS.covering(0, int(count)):
            LEAF_PARTITIONS.create(connection, number)
    op.execute(f"INSERT INTO {LEAVES_TABLE} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)
