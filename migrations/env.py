"""Alembic environment: migrates the database the app's settings (or the caller) point at."""

from __future__ import annotations

# ruff: noqa: F401 - importing a models module registers its tables on the shared metadata
from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

# Every table of every context. The schema spans the layers, so it is gathered here, outside
# them: registry.migrations runs this file and itself names no context above the registry.
import licensing.models
import registry.enforcement.models
import registry.log.models
import registry.models
import registry.monitoring.models
import registry.notifications.models
import registry.tasks.models
import settlement.models

metadata = SQLModel.metadata
config = context.config

# Text-search structures the database keeps and no model declares (migration 0021): SQLite's
# FTS5 table with its shadow tables, PostgreSQL's trigram indexes.
DATABASE_KEPT_INDEXES = frozenset({"ix_works_title_trgm", "ix_works_description_trgm"})


def _compared(name: str | None, kind: str, parents: object) -> bool:
    if kind == "table" and name is not None and name.startswith("works_fts"):
        return False
    if kind == "index" and name in DATABASE_KEPT_INDEXES:
        return False
    return _include_name(name, kind, parents)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        {"sqlalchemy.url": config.get_main_option("sqlalchemy.url")},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as fresh_connection:
        _run(fresh_connection)


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave out the partitions of a partitioned table (`crawl_frontier_urls_p03`): they are
    that table's storage, made by its migration, not tables a model declares."""
    if type_ != "table" or name is None:
        return True
    parent, _, number = name.rpartition("_p")
    return not (number.isdigit() and parent in metadata.tables)


def _run(connection: object) -> None:
    # Batch mode lets ALTER TABLE migrations run on SQLite as on PostgreSQL.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=_compared,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
