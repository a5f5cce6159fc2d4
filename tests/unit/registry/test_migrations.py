"""Migrations: a fresh database migrates to head and matches every model, on both engines."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from registry.migrations import alembic_config, check_migrations, migrate


def test_migrations_cover_every_model(db_engine: Engine) -> None:
    migrate(db_engine)
    check_migrations(db_engine)
    # Migrating loads every context's models (migrations/env.py), so this is the whole schema.
    assert set(SQLModel.metadata.tables) <= set(inspect(db_engine).get_table_names())


def test_migrating_twice_changes_nothing(db_engine: Engine) -> None:
    migrate(db_engine)
    before = sorted(inspect(db_engine).get_table_names())
    migrate(db_engine)
    assert sorted(inspect(db_engine).get_table_names()) == before


def test_append_only_tables_are_range_partitioned_on_postgresql_only(db_engine: Engine) -> None:
    migrate(db_engine)
    names = set(inspect(db_engine).get_table_names())
    ranged = {
        f"{table}_p{number:05d}" for table in ("log_leaves", "journal_lines") for number in (0, 1)
    }
    if db_engine.dialect.name == "postgresql":
        assert ranged <= names
    else:
        assert {"log_leaves", "journal_lines"} <= names
        assert not [name for name in names if name.rpartition("_p")[2].isdigit()]


def openings_compression(engine: Engine) -> str:
    """PostgreSQL's compression method of report openings: l (lz4), or empty for its default."""
    with engine.connect() as connection:
        return str(
            connection.execute(
                text(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = 'sales_reports'::regclass AND attname = 'log_openings'"
                )
            ).scalar_one()
        )


def test_report_openings_are_compressed_with_lz4_on_postgresql(db_engine: Engine) -> None:
    migrate(db_engine)
    if db_engine.dialect.name != "postgresql":
        return
    assert openings_compression(db_engine) == "l"
    command.downgrade(alembic_config(db_engine), "0029")
    assert openings_compression(db_engine) == ""


def test_sales_lines_keep_no_index_on_the_grant_alone(db_engine: Engine) -> None:
    migrate(db_engine)
    indexes = inspect(db_engine).get_indexes("sales_reports")
    assert [
        index["column_names"] for index in indexes if index["column_names"] == ["grant_id"]
    ] == []
