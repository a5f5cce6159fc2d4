"""The sign-in throttle: a sliding window of stored failures per account and per address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from registry.accounts.throttle import LoginThrottle
from registry.errors import TooManyRequests
from registry.models import LoginFailure

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
THROTTLE = LoginThrottle(per_account=3, per_address=5, window=timedelta(minutes=15))


def fail(session: Session, email: str, address: str, minute: float) -> None:
    THROTTLE.record_failure(session, email, address, START + timedelta(minutes=minute))


def test_the_wait_ends_when_the_failure_that_filled_the_budget_leaves_the_window(
    db_engine: Engine,
) -> None:
    with Session(db_engine) as session:
        for minute in (0, 4, 6):
            fail(session, "ada@example.com", "198.51.100.1", minute)
        with pytest.raises(TooManyRequests) as refused:
            THROTTLE.check(session, "ada@example.com", "198.51.100.2", START + timedelta(minutes=7))
        # The oldest of the three leaves the window at minute 15: eight minutes from minute 7.
        assert refused.value.retry_after_s == 8 * 60
        assert refused.value.status_code == 429
        assert "try again in 8 minutes" in refused.value.message
        THROTTLE.check(session, "ada@example.com", "198.51.100.2", START + timedelta(minutes=15))
        THROTTLE.check(session, "bo@example.com", "198.51.100.1", START + timedelta(minutes=7))


def test_the_address_budget_counts_failures_on_every_account(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        for n in range(5):
            fail(session, f"user{n}@example.com", "198.51.100.1", n / 10)
        with pytest.raises(TooManyRequests, match="network address") as refused:
            THROTTLE.check(session, "new@example.com", "198.51.100.1", START + timedelta(minutes=1))
        assert refused.value.retry_after_s == 14 * 60
        THROTTLE.check(session, "new@example.com", "198.51.100.9", START + timedelta(minutes=1))


def test_the_account_key_is_the_normalised_address_hashed(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        for minute in range(3):
            fail(session, " Ada@Example.com", "198.51.100.1", minute)
        with pytest.raises(TooManyRequests):
            THROTTLE.check(session, "ada@example.com", "198.51.100.7", START)
        stored = session.exec(select(LoginFailure.account_key)).first()
        assert stored is not None
        assert "ada" not in stored
        assert len(stored) == 64


def test_failures_that_left_the_window_are_deleted(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        fail(session, "ada@example.com", "198.51.100.1", 0)
        fail(session, "ada@example.com", "198.51.100.1", 1)
        fail(session, "bo@example.com", "198.51.100.2", 16)
        assert session.exec(select(func.count()).select_from(LoginFailure)).one() == 1
