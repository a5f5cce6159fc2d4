"""the ledger's journal lines range-partitioned by line id on PostgreSQL, 2**20 lines a partition

The table is rebuilt as `PARTITION BY RANGE (id)` with the partitions its lines need and one
ahead (`settlement.models.JOURNAL_LINE_PARTITIONS`); the writer creates later ones. Its primary
key is the partition key and no foreign key points at it, so its id sequence, foreign keys,
indexes and the append-only and balance triggers come back as they were. A look-up by entry
(the balance trigger, an entry's lines) probes every partition's entry index, one more per 2**20
lines. On SQLite nothing changes.

The crawler's sightings (`alert_sightings`) stay one table: `uq_sightings_once` (alert, job,
page and image), which keeps a resumed crawl from recording a sighting twice, would have to
include the partition key, and with the id in it the constraint would refuse nothing.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from settlement.models import JOURNAL_LINE_PARTITIONS

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINES = JOURNAL_LINE_PARTITIONS.table
SEQUENCE = JOURNAL_LINE_PARTITIONS.sequence
COLUMNS = f"""
    id INTEGER NOT NULL DEFAULT nextval('{SEQUENCE}'),
    entry_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    currency VARCHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL,
    CONSTRAINT {LINES}_pkey PRIMARY KEY (id),
    CONSTRAINT {LINES}_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES journal_entries (id),
    CONSTRAINT {LINES}_account_id_fkey FOREIGN KEY (account_id) REFERENCES ledger_accounts (id)
"""
INDEXED = ("account_id", "entry_id")
# The same triggers migration 0011 made; their functions outlive the rebuilt table.
TRIGGERS = (
    f"CREATE TRIGGER {LINES}_append_only BEFORE UPDATE OR DELETE ON {LINES} "
    "FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()",
    f"CREATE CONSTRAINT TRIGGER {LINES}_balanced AFTER INSERT ON {LINES} "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()",
)


def _rebuild(*, partitioned: bool) -> None:
    connection = op.get_bind()
    old = f"{LINES}_before"
    # The sequence outlives the old table: it is handed to the new one.
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY NONE")
    op.execute(f"ALTER TABLE {LINES} RENAME TO {old}")
    op.execute(f"ALTER INDEX {LINES}_pkey RENAME TO {old}_pkey")
    for column in INDEXED:
        op.execute(f"ALTER INDEX ix_{LINES}_{column} RENAME TO ix_{old}_{column}")
    op.execute(
        f"CREATE TABLE {LINES} ({COLUMNS})" + (" PARTITION BY RANGE (id)" if partitioned else "")
    )
    for column in INDEXED:
        op.execute(f"CREATE INDEX ix_{LINES}_{column} ON {LINES} ({column})")
    if partitioned:
        highest = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {old}")
        for number in JOURNAL_LINE_PARTITIONS.covering(0, int(highest.scalar_one()) + 1):
            JOURNAL_LINE_PARTITIONS.create(connection, number)
    # Copied before the triggers exist: every entry was checked balanced when it was posted.
    op.execute(f"INSERT INTO {LINES} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {LINES}.id")
    for trigger in TRIGGERS:
        op.execute(trigger)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)
