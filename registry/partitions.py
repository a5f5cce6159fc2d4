"""Every row of a range-partitioned table has a partition before it is written, and one more waits.

Append-only tables that grow without end (the log's leaves, the ledger's journal lines) are
range-partitioned on PostgreSQL by their ever-growing integer key, `size` keys a partition: such
a table is vacuumed, backed up and moved partition by partition, and a look-up by key touches one
partition's index. Their migrations create the partitions the rows already there need and one
ahead; every writer then calls `ensure` (keys it chose) or `ensure_sequence_room` (keys its
sequence will hand out) in its own transaction before it writes, so a writer finds its partition
made, and one is created about once per `size` rows. SQLite keeps one plain table.

A connection of an engine made by `registry.db.make_engine` remembers the partitions it has seen
committed, so a writer whose keys fall in them asks the catalog nothing: partitions are only
ever created, in order, and kept while the table is in use. What a transaction finds or makes
counts only once it commits, since a partition made by a transaction (or savepoint) that rolls
back is gone with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, text

PARTITION_SIZE = 1 << 20
# Keys of a database connection's `info`: {table: the highest partition number known to exist},
# committed (known) and seen by the transaction in progress (seen).
_KNOWN = "partitions_known"
_SEEN = "partitions_seen"


def remember_committed_partitions(engine: Engine) -> None:
    """Let `ensure` skip the catalog for partitions the engine's connections saw committed."""
    event.listen(engine, "begin", _forget_seen)
    event.listen(engine, "rollback_savepoint", _forget_seen)
    event.listen(engine, "commit", _commit_seen)


def _forget_seen(connection: Connection, *_savepoint: Any) -> None:
    connection.info.pop(_SEEN, None)


def _commit_seen(connection: Connection) -> None:
    seen: dict[str, int] | None = connection.info.pop(_SEEN, None)
    if seen:
        known: dict[str, int] = connection.info.setdefault(_KNOWN, {})
        for table, number in seen.items():
            known[table] = max(known.get(table, -1), number)


@dataclass(frozen=True, slots=True)
class RangePartitions:
    """`table` partitioned by range of `column`; partition n holds keys [n * size, (n+1) * size)."""

    table: str
    column: str
    size: int = PARTITION_SIZE

    def name(self, number: int) -> str:
        return f"{self.table}_p{number:05d}"

    @property
    def sequence(self) -> str:
        """The serial sequence that hands out the key (PostgreSQL's name for it)."""
        return f"{self.table}_{self.column}_seq"

    def covering(self, start: int, end: int) -> range:
        """The partitions that keys [start, end) fall in, and the next one ahead."""
        return range(start // self.size, max(start, end - 1) // self.size + 2)

    def create(self, connection: Connection, number: int) -> None:
        """Create partition `number` and attach it.

        Attaching takes a SHARE UPDATE EXCLUSIVE lock on the table where `PARTITION OF` takes
        an ACCESS EXCLUSIVE one, so a partition made by a writer blocks no reader and no
        other writer, and cannot deadlock with a writer that has already inserted rows.
        """
        low = number * self.size
        connection.execute(text(f"CREATE TABLE {self.name(number)} (LIKE {self.table})"))
        connection.execute(
            text(
                f"ALTER TABLE {self.table} ATTACH PARTITION {self.name(number)} "
                f"FOR VALUES FROM ({low}) TO ({low + self.size})"
            )
        )

    def ensure(self, connection: Connection, start: int, end: int) -> None:
        """Make sure keys [start, end), and the partition after the last of them, have a home.

        Asks the catalog at most once, and not at all when the connection saw them committed;
        when a partition is missing, locks the table against other creators (not against
        readers or writers) and creates what is still missing in order.
        """
        if connection.dialect.name != "postgresql":
            return
        needed = self.covering(start, end)
        # Partitions are only ever created in order, so when the last one needed exists, all do.
        if connection.info.get(_KNOWN, {}).get(self.table, -1) >= needed[-1]:
            return
        if not self._exists(connection, needed[-1]):
            connection.execute(text(f"LOCK TABLE ONLY {self.table} IN SHARE UPDATE EXCLUSIVE MODE"))
            for number in needed:
                if not self._exists(connection, number):
                    self.create(connection, number)
        seen: dict[str, int] = connection.info.setdefault(_SEEN, {})
        seen[self.table] = max(seen.get(self.table, -1), needed[-1])

    def ensure_sequence_room(self, connection: Connection, count: int) -> None:
        """Make sure the next `count` keys of the sequence, and a partition beyond, have a home.

        The sequence is read outside any transaction's view, so writers running at the same
        time may take keys first; the partition kept ahead leaves them `size` keys of room.
        """
        if connection.dialect.name != "postgresql" or count <= 0:
            return
        last = connection.execute(
            text(f"SELECT last_value FROM {self.sequence}")  # noqa: S608 - a name from code
        ).scalar_one()
        self.ensure(connection, int(last), int(last) + count + 1)

    def _exists(self, connection: Connection, number: int) -> bool:
        return bool(
            connection.execute(
                text("SELECT to_regclass(:name) IS NOT NULL"), {"name": self.name(number)}
            ).scalar_one()
        )
