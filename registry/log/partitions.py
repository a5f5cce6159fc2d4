"""Range partitions of the log's leaves on PostgreSQL: 2**20 leaves a partition.

An append-only table of hundreds of millions of leaves is easier to vacuum, back up and move
partition by partition, and a leaf look-up touches one partition's index. The appender makes
sure the partition of every leaf it writes, and the next one, exist before it writes
(`ensure_leaf_partitions`), so a partition is created ahead of need, about once per million
leaves. SQLite keeps one table.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

LEAF_PARTITION_SIZE = 1 << 20
LEAVES_TABLE = "log_leaves"


def partition_name(number: int) -> str:
    """The name of the partition holding leaves [number * size, (number + 1) * size)."""
    return f"{LEAVES_TABLE}_p{number:05d}"


def create_partition_sql(number: int) -> str:
    """The DDL creating one partition, if it does not exist yet."""
    low = number * LEAF_PARTITION_SIZE
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(number)} PARTITION OF {LEAVES_TABLE} "
        f"FOR VALUES FROM ({low}) TO ({low + LEAF_PARTITION_SIZE})"
    )


def partitions_for(start: int, end: int) -> range:
    """The partitions that leaves [start, end) fall in, and the next one ahead."""
    return range(start // LEAF_PARTITION_SIZE, max(start, end - 1) // LEAF_PARTITION_SIZE + 2)


def ensure_leaf_partitions(connection: Connection, start: int, end: int) -> None:
    """Make sure leaves [start, end), and the partition after the last of them, have a home.

    Runs inside the appender's transaction, which holds the log's append lock, so two appenders
    never create the same partition at once. Asking the catalog costs one query per append;
    a partition is created about once per million leaves.
    """
    if connection.dialect.name != "postgresql":
        return
    needed = partitions_for(start, end)
    # Partitions are only ever created in order, so when the last one needed exists, all do.
    if _exists(connection, needed[-1]):
        return
    for number in needed:
        if not _exists(connection, number):
            connection.execute(text(create_partition_sql(number)))


def _exists(connection: Connection, number: int) -> bool:
    return bool(
        connection.execute(
            text("SELECT to_regclass(:name) IS NOT NULL"), {"name": partition_name(number)}
        ).scalar_one()
    )
