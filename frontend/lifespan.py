"""The app's lifespan: readiness, then every background loop, each stopped when the app stops.

The loops are the background work (the outbox relay; the tickers of the periodic tasks: the
delivery round, case deadline reminders and the expiry of grants left unpaid past their deadline;
and, embedded, the threads that run tasks) and the watch loop that queues due watches (on unless
COPYMARK_RUN_WATCHES is off). Where several server processes share a home, one of them runs
them (`background_duty`); a task the others enqueue reaches it at its relay's next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Final

from fastapi import FastAPI

from frontend.monitor import app_monitor
from frontend.services import Services
from frontend.settings import Settings
from frontend.tasks import BackgroundWork, task_kinds

logger = logging.getLogger(__name__)
WATCH_POLL_S: Final = 60.0
# In the home folder; held by the one server process that runs the background work.
BACKGROUND_LOCK: Final = "background.lock"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the background work where this process has that duty, report ready; stop on exit."""
    services: Services = app.state.services
    with background_duty(services.settings) as leads:
        if leads:
            async with background_work(app):
                app.state.ready = True
                yield
        else:
            services.freeze_start_up_heap()
            logger.info("ready: serving; another process runs the background work")
            app.state.ready = True
            yield


@contextmanager
def background_duty(settings: Settings) -> Iterator[bool]:
    """Whether this process runs the background work, decided for as long as the block lasts.

    Alone on its home, a process always does. Sharing it (`settings.shared_serving`), the one
    that holds the home's background lock does: the lock is the operating system's, so it is
    released the moment its holder exits, and the process started in its place takes it.
    """
    if not settings.shared_serving:
        yield True
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / BACKGROUND_LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def background_work(app: FastAPI) -> AsyncIterator[None]:
    """Repair what a crash left behind, then run every background loop until the block ends."""
    services: Services = app.state.services
    repaired = services.start()
    services.freeze_start_up_heap()
    logger.info("ready: %s", repaired)
    work = BackgroundWork(services, task_kinds(services, lambda: app_monitor(app)))
    work.start()
    try:
        async with watch_runner(app):
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
