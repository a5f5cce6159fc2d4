"""A fresh SQLite database file per test, holding the log tables."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, create_engine

import registry.log.models  # noqa: F401 - registers the log tables on the metadata
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture(scope="session")
def signer() -> LogSigner:
    return LogSigner.generate()


@pytest.fixture
def log(session: Session, signer: LogSigner) -> AttestationLog:
    return AttestationLog(session, signer, clock=lambda: 1_700_000_000_000)
