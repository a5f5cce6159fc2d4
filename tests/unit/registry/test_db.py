"""The unit of work: one transaction, committed on success, rolled back on error, then closed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.accounts.service import create_user
from registry.db import insert_rows, unit_of_work
from registry.models import User, UTCDateTime


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


def test_rows_inserted_in_bulk_read_back_as_written(db_engine: Engine) -> None:
    probe = Table(
        "bulk_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(200), nullable=True),
        Column("document", JSON, nullable=True),
        Column("at", UTCDateTime, nullable=False),
    )
    probe.create(db_engine)
    moment = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {
            "id": number,
            "note": note,
            "document": document,
            "at": moment,
        }
        for number, (note, document) in enumerate(
            [
                ("tab\tnew line\nback\\slash", {"quote": '"', "list": [1, None, "二"]}),
                (None, None),
                ("\\N", {"nested": {"key": "\\N\t\r"}}),
                ("版税 ✓", []),
            ]
        )
    ]
    with Session(db_engine) as session:
        insert_rows(session, probe, rows)
        session.commit()
    with db_engine.connect() as connection:
        stored = [
            dict(row._mapping) for row in connection.execute(probe.select().order_by(probe.c.id))
        ]
    assert stored == rows
