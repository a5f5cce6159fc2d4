"""The app's services on a throw-away home: the wiring `copymark bench` hands to the benchmarks.

Built from the same `Services` as `copymark serve`, so a benchmark measures the app as deployed
(migrations, engines, registrar, monitor); only the home, its SQLite database and a fixed
secret differ, so a benchmark never touches the configured database or data folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.wiring import AppServices, ScratchApp
from frontend.services import Services
from frontend.settings import Settings


def scratch_app(models_dir: Path) -> ScratchApp:
    """Initialised services on a given empty home, sharing the exported model in `models_dir`."""

    @contextmanager
    def open_app(home: Path) -> Iterator[AppServices]:
        settings = Settings(
            home=home,
            database_url="",
            secret_key="benchmark-scratch-home",  # noqa: S106 - a throw-away home
            models_dir=models_dir,
        )
        services = Services(settings)
        services.initialise()
        try:
            yield services
        finally:
            services.close()

    return open_app
