"""The app's lifespan: readiness, then every background loop, each stopped when the app stops.

The loops are the background work (the outbox relay; the tickers of the periodic tasks: the
delivery round, case deadline reminders and the expiry of grants left unpaid past their deadline;
and, embedded, the threads that run tasks) and the watch loop that queues due watches (on unless
COPYMARK_RUN_WATCHES is off).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI

from frontend.monitor import app_monitor
from frontend.services import Services
from frontend.tasks import BackgroundWork, task_kinds

logger = logging.getLogger(__name__)
WATCH_POLL_S: Final = 60.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Repair what a crash left behind, start the loops, report ready; stop the loops on exit."""
    services: Services = app.state.services
    repaired = services.start()
    services.freeze_start_up_heap()
    logger.info("ready: %s", repaired)
    work = BackgroundWork(services, task_kinds(services, lambda: app_monitor(app)))
    work.start()
    try:
        async with watch_runner(app):
            app.state.ready = True
            yield
    finally:
        work.stop()


@asynccontextmanager
async def watch_runner(app: FastAPI) -> AsyncIterator[None]:
    """Re-crawl due watches in the background while the app runs, when the setting enables it."""
    services: Services = app.state.services
    if not services.settings.run_watches:
        yield
        return
    loop_task = asyncio.get_running_loop().create_task(app_monitor(app).watch_loop(WATCH_POLL_S))
    try:
        yield
    finally:
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
