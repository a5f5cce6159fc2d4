"""Range partitions: every row written has a partition made before it, and one more waits ahead."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, inspect, text

from registry.db import make_engine
from registry.partitions import RangePartitions
from tests.support.partitions import homes_of, partitions_of

# Four keys a partition, so that a few rows cross several boundaries.
SCRATCH = RangePartitions("scratch_rows", "id", size=4)


def test_keys_fall_in_the_partitions_of_their_range_and_one_more_is_kept_ahead() -> None:
    assert list(SCRATCH.covering(0, 0)) == [0, 1]
    assert list(SCRATCH.covering(0, 4)) == [0, 1]
    assert list(SCRATCH.covering(3, 5)) == [0, 1, 2]
    assert list(SCRATCH.covering(8, 9)) == [2, 3]


def test_partitions_are_named_after_the_table_and_sorted_by_number() -> None:
    assert SCRATCH.name(0) == "scratch_rows_p00000"
    assert SCRATCH.name(12) == "scratch_rows_p00012"
    assert SCRATCH.sequence == "scratch_rows_id_seq"


def test_on_sqlite_the_table_stays_one_table(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE scratch_rows (id INTEGER PRIMARY KEY, note TEXT)"))
        SCRATCH.ensure(connection, 0, 10)
        SCRATCH.ensure_sequence_room(connection, 10)
        connection.execute(text("INSERT INTO scratch_rows (note) VALUES ('a'), ('b')"))
    assert inspect(engine).get_table_names() == ["scratch_rows"]
    engine.dispose()


@pytest.fixture
def scratch(postgres_database_url: str) -> Iterator[Engine]:
    """A PostgreSQL table range-partitioned by its serial id, with no partition yet."""
    engine = make_engine(postgres_database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE scratch_rows (id SERIAL PRIMARY KEY, note TEXT NOT NULL) "
                "PARTITION BY RANGE (id)"
            )
        )
    yield engine
    engine.dispose()


def insert_notes(engine: Engine, notes: list[str]) -> None:
    with engine.begin() as connection:
        SCRATCH.ensure_sequence_room(connection, len(notes))
        connection.execute(
            text("INSERT INTO scratch_rows (note) VALUES (:note)"), [{"note": n} for n in notes]
        )


@pytest.mark.postgres
def test_rows_from_the_sequence_land_in_their_ranges_across_boundaries(scratch: Engine) -> None:
    notes = [f"note {n}" for n in range(1, 12)]
    for batch in (notes[:3], notes[3:4], notes[4:11]):
        insert_notes(scratch, batch)
    assert homes_of(scratch, "scratch_rows", "id") == {
        n: SCRATCH.name(n // SCRATCH.size) for n in range(1, 12)
    }
    # Ids 1-11 need partitions 0-2; partition 3 waits ahead.
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(4)]
    with scratch.connect() as connection:
        stored = connection.execute(text("SELECT id, note FROM scratch_rows ORDER BY id")).all()
    assert [tuple(row) for row in stored] == [(n, f"note {n}") for n in range(1, 12)]


@pytest.mark.postgres
def test_a_batch_larger_than_a_partition_gets_every_partition_it_spans(scratch: Engine) -> None:
    insert_notes(scratch, [f"note {n}" for n in range(1, 15)])
    assert set(homes_of(scratch, "scratch_rows", "id").values()) == {
        SCRATCH.name(n) for n in range(4)
    }
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(5)]


@pytest.mark.postgres
def test_asking_again_for_partitions_that_exist_creates_nothing(scratch: Engine) -> None:
    with scratch.begin() as connection:
        SCRATCH.ensure(connection, 0, 6)
        SCRATCH.ensure(connection, 2, 7)
        SCRATCH.ensure(connection, 0, 1)
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(3)]


@pytest.mark.postgres
def test_a_partition_is_made_while_another_writer_holds_rows_uncommitted(
    scratch: Engine,
) -> None:
    insert_notes(scratch, ["first"])
    with scratch.connect() as writer, scratch.connect() as other:
        SCRATCH.ensure_sequence_room(writer, 1)
        writer.execute(text("INSERT INTO scratch_rows (note) VALUES ('uncommitted')"))
        other.execute(text("SET lock_timeout = '2s'"))
        SCRATCH.ensure(other, 20, 21)
        other.commit()
        writer.commit()
    assert SCRATCH.name(6) in partitions_of(scratch, "scratch_rows")


@pytest.mark.postgres
def test_two_writers_needing_the_same_partition_create_it_once(scratch: Engine) -> None:
    insert_notes(scratch, ["first"])
    failures: list[BaseException] = []
    with scratch.connect() as first:
        SCRATCH.ensure(first, 8, 9)

        def second() -> None:
            try:
                with scratch.begin() as connection:
                    SCRATCH.ensure(connection, 8, 9)
            except BaseException as error:  # reported to the test's thread
                failures.append(error)

        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=1)
        assert waiting.is_alive(), "the second creator must wait for the first"
        first.commit()
        waiting.join(timeout=10)
    assert failures == []
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(4)]


def catalog_queries(engine: Engine, work: Callable[[], None]) -> int:
    """How many times `work` asks the catalog whether a partition exists."""
    statements: list[str] = []

    def record(*arguments: object) -> None:
        statements.append(str(arguments[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len([statement for statement in statements if "to_regclass" in statement])


@pytest.mark.postgres
def test_a_writer_asks_the_catalog_nothing_for_partitions_it_saw_committed(
    scratch: Engine,
) -> None:
    assert catalog_queries(scratch, lambda: insert_notes(scratch, ["first"])) > 0
    assert catalog_queries(scratch, lambda: insert_notes(scratch, ["second", "third"])) == 0
    # Id 4 needs partition 2 beyond the one kept ahead: the catalog is asked again.
    assert catalog_queries(scratch, lambda: insert_notes(scratch, ["fourth"])) > 0
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(3)]


@pytest.mark.postgres
def test_partitions_made_by_a_transaction_that_rolls_back_are_made_again(
    scratch: Engine,
) -> None:
    with scratch.connect() as connection:
        SCRATCH.ensure(connection, 0, 10)
        connection.rollback()
        connection.execute(text("SELECT 1"))
        connection.commit()
        assert partitions_of(scratch, "scratch_rows") == []
        SCRATCH.ensure_sequence_room(connection, 9)
        connection.execute(
            text("INSERT INTO scratch_rows (note) VALUES (:note)"),
            [{"note": f"note {n}"} for n in range(1, 10)],
        )
        connection.commit()
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(4)]


@pytest.mark.postgres
def test_partitions_made_in_a_savepoint_that_rolls_back_are_made_again(scratch: Engine) -> None:
    with scratch.begin() as connection:
        savepoint = connection.begin_nested()
        SCRATCH.ensure(connection, 0, 10)
        savepoint.rollback()
        SCRATCH.ensure(connection, 0, 1)
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(2)]
    insert_notes(scratch, [f"note {n}" for n in range(1, 10)])
    assert partitions_of(scratch, "scratch_rows") == [SCRATCH.name(n) for n in range(4)]
