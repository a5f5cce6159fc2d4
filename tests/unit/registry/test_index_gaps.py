"""The index follower on PostgreSQL, where a lower change id can commit after a higher one."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from registry.db import unit_of_work
from registry.models import User, persisted_id
from registry.schemas import WorkMetadata
from registry.service import Upload
from registry.snapshots import GAP_WAIT_S, IndexFollower
from tests.factories import photo_jpeg
from tests.unit.registry.monitoring.support import make_user
from tests.unit.registry.wiring import RegistryParts

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    return postgres_database_url


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registered(parts: RegistryParts) -> tuple[User, int, int]:
    """An owner and two works of theirs, committed."""
    owner = make_user(parts, "owner@example.com")
    with unit_of_work(parts.session) as session:
        first, second = (
            persisted_id(
                parts.registrar.register(
                    session, owner, Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata())
                ).work
            )
            for name in ("coffee", "chelsea")
        )
    return owner, first, second


def opened(parts: RegistryParts, clock: Clock) -> IndexFollower:
    """Another process's follower, its index opened on the works committed so far."""
    with parts.read_session() as session:
        return IndexFollower.open(session, parts.restarted().similarity, clock=clock)


def follow(parts: RegistryParts, follower: IndexFollower) -> int:
    with parts.read_session() as session:
        return follower.follow(session)


def withdrawing(parts: RegistryParts, owner: User, work_id: int) -> Session:
    """A transaction that has withdrawn the work, its change written, not yet committed."""
    session = parts.session()
    parts.registrar.withdraw(session, owner, work_id)
    return session


def test_a_change_committed_after_a_higher_one_is_applied_at_a_later_round(
    parts: RegistryParts,
) -> None:
    owner, first, second = registered(parts)
    clock = Clock()
    follower = opened(parts, clock)
    assert follower.engine.work_ids() == {first, second}

    slow = withdrawing(parts, owner, first)
    with unit_of_work(parts.session) as session:
        parts.registrar.withdraw(session, owner, second)
    assert follow(parts, follower) == 1
    assert follower.engine.work_ids() == {first}
    assert len(follower.gaps) == 1

    slow.commit()
    slow.close()
    assert follow(parts, follower) == 1
    assert follower.engine.work_ids() == set()
    assert follower.gaps == frozenset()


def test_a_rolled_back_change_is_forgotten_after_the_wait(parts: RegistryParts) -> None:
    owner, first, second = registered(parts)
    clock = Clock()
    follower = opened(parts, clock)

    abandoned = withdrawing(parts, owner, first)
    with unit_of_work(parts.session) as session:
        parts.registrar.withdraw(session, owner, second)
    abandoned.rollback()
    abandoned.close()
    follow(parts, follower)
    missing = follower.gaps
    assert len(missing) == 1

    clock.now += GAP_WAIT_S - 1
    assert follow(parts, follower) == 0
    assert follower.gaps == missing
    clock.now += 2
    follow(parts, follower)
    assert follower.gaps == frozenset()
    assert follower.engine.work_ids() == {first}
