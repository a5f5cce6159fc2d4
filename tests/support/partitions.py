"""What PostgreSQL holds of a range-partitioned table: its partitions, and where each row lives."""

from __future__ import annotations

from sqlalchemy import Engine, text


def partitions_of(engine: Engine, table: str) -> list[str]:
    """The names of `table`'s partitions, sorted."""
    with engine.connect() as connection:
        return sorted(
            connection.execute(
                text(
                    "SELECT child.relname FROM pg_inherits "
                    "JOIN pg_class child ON child.oid = inhrelid "
                    "JOIN pg_class parent ON parent.oid = inhparent "
                    "WHERE parent.relname = :table"
                ),
                {"table": table},
            ).scalars()
        )


def homes_of(engine: Engine, table: str, column: str) -> dict[int, str]:
    """The partition each row of `table` lives in, by its `column`."""
    query = f"SELECT {column}, tableoid::regclass::text FROM {table}"  # noqa: S608 - test names
    with engine.connect() as connection:
        return {int(key): str(partition) for key, partition in connection.execute(text(query))}
