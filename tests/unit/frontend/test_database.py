"""Migrations: a fresh database migrates to head and matches every model, on both engines."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from frontend.database import check_migrations, migrate
from frontend.tables import metadata


def test_migrations_cover_every_model(db_engine: Engine) -> None:
    migrate(db_engine)
    check_migrations(db_engine)
    assert set(metadata.tables) <= set(inspect(db_engine).get_table_names())


def test_migrating_twice_changes_nothing(db_engine: Engine) -> None:
    migrate(db_engine)
    before = sorted(inspect(db_engine).get_table_names())
    migrate(db_engine)
    assert sorted(inspect(db_engine).get_table_names()) == before
