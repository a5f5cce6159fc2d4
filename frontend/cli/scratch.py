"""The app's services on a throw-away home: the wiring `copymark bench` hands to the benchmarks.

Built from the same `Services` as `copymark serve`, so a benchmark measures the app as deployed
(migrations, engines, registrar, monitor); only the home, its SQLite database and a fixed
secret differ, so a benchmark never touches the configured database or data folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from bench.wiring import AppServices, ScratchApp
from frontend.services import Services
from frontend.settings import Settings


def scratch_app(models_dir: Path, database_url: str = "") -> ScratchApp:
    """Initialised services on a given empty home, sharing the exported model in `models_dir`;
    on `database_url` (an empty database) instead of the home's SQLite file when given.

    A partial of a module-level function, so a benchmark can hand it to spawned processes.
    """
    return partial(_scratch_services, models_dir, database_url)


@contextmanager
def _scratch_services(models_dir: Path, database_url: str, home: Path) -> Iterator[AppServices]:
    settings = Settings(
        home=home,
        database_url=database_url,
        secret_key="benchmark-scratch-home",  # noqa: S106 - a throw-away home
        models_dir=models_dir,
    )
    services = Services(settings)
    services.initialise()
    # As `copymark serve` does once started, so the benchmark meets the collector as it does.
    services.freeze_start_up_heap()
    try:
        yield services
    finally:
        services.close()


@contextmanager
def scratch_postgres_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database on a PostgreSQL server for one benchmark, dropped afterwards."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"copymark_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
