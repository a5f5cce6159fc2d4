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


def _run(connection: object) -> None:
    # Batch mode lets ALTER TABLE migrations run on SQLite as on PostgreSQL.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
