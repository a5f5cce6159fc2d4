"""the crawl frontier's seen-URL tables hash-partitioned by URL hash on PostgreSQL

A frontier that has seen tens of millions of URLs keeps them in 16 partitions by the hash of
`url_hash`: each de-duplicating insert and each look-up touches one partition's index, and
vacuum works partition by partition. The primary key of `crawl_frontier_urls` becomes
(`url_hash`, `id`), since a partitioned table's unique keys must include its partition key. On
SQLite nothing changes: the tables stay as they are.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 22:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16
URL_COLUMNS = """
    id BIGINT NOT NULL DEFAULT nextval('crawl_frontier_urls_id_seq'),
    job_id INTEGER NOT NULL REFERENCES crawl_jobs (id),
    url_hash BYTEA NOT NULL,
    url TEXT NOT NULL,
    host VARCHAR(253) NOT NULL,
    depth INTEGER NOT NULL,
    state VARCHAR(10) NOT NULL
"""
IMAGE_COLUMNS = """
    job_id INTEGER NOT NULL REFERENCES crawl_jobs (id),
    url_hash BYTEA NOT NULL
"""
SEEN_URL = "ADD CONSTRAINT uq_frontier_urls_seen UNIQUE (job_id, url_hash)"


def _partitions(table: str) -> None:
    for remainder in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE {table}_p{remainder:02d} PARTITION OF {table} "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder})"
        )


def _rebuild(table: str, columns: str, *, partitioned: bool) -> None:
    """Copy `table` into a new one of the same columns, hash-partitioned or plain."""
    old = f"{table}_before"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(
        f"CREATE TABLE {table} ({columns})"
        + (" PARTITION BY HASH (url_hash)" if partitioned else "")
    )
    if partitioned:
        _partitions(table)
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")


def _rebuild_frontier(*, partitioned: bool) -> None:
    # The id sequence outlives the old table: it is handed to the new one.
    op.execute("ALTER SEQUENCE crawl_frontier_urls_id_seq OWNED BY NONE")
    _rebuild("crawl_frontier_urls", URL_COLUMNS, partitioned=partitioned)
    op.execute("ALTER SEQUENCE crawl_frontier_urls_id_seq OWNED BY crawl_frontier_urls.id")
    # A partitioned table's unique keys must include its partition key.
    if partitioned:
        primary = "ADD CONSTRAINT crawl_frontier_urls_pkey PRIMARY KEY (url_hash, id)"
    else:
        primary = "ADD PRIMARY KEY (id)"
    op.execute(f"ALTER TABLE crawl_frontier_urls {primary}, {SEEN_URL}")
    op.execute(
        "CREATE INDEX ix_frontier_urls_host_state ON crawl_frontier_urls (job_id, host, state, id)"
    )
    _rebuild("crawl_frontier_images", IMAGE_COLUMNS, partitioned=partitioned)
    op.execute("ALTER TABLE crawl_frontier_images ADD PRIMARY KEY (job_id, url_hash)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_frontier(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_frontier(partitioned=False)
