"""The log's leaves on PostgreSQL: range partitions made by the migration, then by the appender."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, insert
from sqlmodel import Session

from registry.db import make_engine
from registry.log.events import canonical_json
from registry.log.merkle import leaf_hash
from registry.log.store import LEAF_PARTITIONS, LEAVES, AttestationLog
from registry.migrations import alembic_config, migrate
from tests.support.partitions import homes_of, partitions_of

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database_url)
    yield engine
    engine.dispose()


def leaves(start: int, count: int) -> list[bytes]:
    return [
        canonical_json({"type": "test", "version": 1, "n": n}) for n in range(start, start + count)
    ]


def partitions(engine: Engine) -> list[str]:
    return partitions_of(engine, LEAVES.name)


def homes(engine: Engine) -> dict[int, str]:
    return homes_of(engine, LEAVES.name, "leaf_index")


def test_a_new_log_appends_into_its_first_partition_with_the_next_ahead(engine: Engine) -> None:
    with Session(engine) as session:
        AttestationLog(session).append(leaves(0, 3))
        session.commit()
    assert homes(engine) == dict.fromkeys(range(3), LEAF_PARTITIONS.name(0))
    assert partitions(engine) == [LEAF_PARTITIONS.name(0), LEAF_PARTITIONS.name(1)]


def test_leaves_across_a_partition_boundary_land_each_in_its_range(engine: Engine) -> None:
    first, end = LEAF_PARTITIONS.size - 2, LEAF_PARTITIONS.size + 3
    with engine.begin() as connection:
        LEAF_PARTITIONS.ensure(connection, first, end)
        connection.execute(
            insert(LEAVES),
            [
                {
                    "leaf_index": index,
                    "leaf": leaf,
                    "leaf_hash": leaf_hash(leaf),
                    "event_type": "test",
                    "created_at": datetime.now(UTC),
                }
                for index, leaf in zip(range(first, end), leaves(first, end - first), strict=True)
            ],
        )
    assert homes(engine) == {
        index: LEAF_PARTITIONS.name(index // LEAF_PARTITIONS.size) for index in range(first, end)
    }
    assert partitions(engine) == [LEAF_PARTITIONS.name(n) for n in range(3)]


def test_migrating_a_log_down_and_up_keeps_every_leaf(engine: Engine) -> None:
    with Session(engine) as session:
        log = AttestationLog(session)
        log.append(leaves(0, 7))
        session.commit()
        root = log.root_hash()
    config = alembic_config(engine)
    command.downgrade(config, "0025")
    assert partitions(engine) == []
    migrate(engine)
    assert partitions(engine) == [LEAF_PARTITIONS.name(0), LEAF_PARTITIONS.name(1)]
    with Session(engine) as session:
        log = AttestationLog(session)
        assert [log.leaf(n).leaf for n in range(7)] == leaves(0, 7)
        assert log.root_hash() == root
