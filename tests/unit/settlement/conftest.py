"""Settlement use-case tests run in their own SQLite database, in the licensing tests' World."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

import licensing.models  # noqa: F401 - registers the licensing tables
import settlement.models  # noqa: F401 - registers the settlement tables before create_all
from registry.db import make_engine
from tests.unit.licensing.service.support import World


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'settlement.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
        session.rollback()
    engine.dispose()


@pytest.fixture
def world(session: Session) -> World:
    return World(session)
