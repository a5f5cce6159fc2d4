"""The unit of work: one transaction, committed on success, rolled back on error, then closed."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.models import User


def emails(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(User.email)))


def test_a_unit_of_work_commits_when_its_block_ends(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as session:
        user = create_user(session, email="kept@example.com", password="long enough")
    assert emails(db_engine) == ["kept@example.com"]
    assert user.email == "kept@example.com"  # still readable: nothing expires on commit


def test_a_unit_of_work_rolls_back_when_its_block_raises(db_engine: Engine) -> None:
    def fail_halfway() -> None:
        with unit_of_work(db_engine) as session:
            create_user(session, email="lost@example.com", password="long enough")
            session.flush()
            raise RuntimeError("halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        fail_halfway()
    assert emails(db_engine) == []


def test_a_unit_of_work_closes_the_session_a_factory_opened(db_engine: Engine) -> None:
    opened: list[Session] = []

    def sessions() -> Session:
        opened.append(Session(db_engine))
        return opened[-1]

    with unit_of_work(sessions) as session:
        user = create_user(session, email="made@example.com", password="long enough")
    assert opened == [session]
    assert user not in session  # closing expunges what the session held
    assert emails(db_engine) == ["made@example.com"]
