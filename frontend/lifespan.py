"""The app's lifespan: readiness, then every background loop, each stopped when the app stops.

The loops are the notification worker (deliveries, digests and case deadline reminders), the
sweep that expires grants left unpaid past their deadline (freeing the works their buyouts
reserved, and telling the owners), and, when the settings enable it, the watch loop that
re-crawls due watches.
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
from licensing.service.grants import expire_unpaid_grants
from registry.db import unit_of_work
from registry.enforcement.service import send_deadline_reminders
from registry.models import utcnow
from registry.notifications.worker import NotificationWorker

logger = logging.getLogger(__name__)
WATCH_POLL_S: Final = 60.0
GRANT_EXPIRY_POLL_S: Final = 60.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Repair what a crash left behind, start the loops, report ready; stop the loops on exit."""
    services: Services = app.state.services
    repaired = services.start()
    logger.info("ready: %s", repaired)
    notifications = NotificationWorker(
        services, services.engine, periodic=[lambda: remind_case_deadlines(services)]
    )
    notifications.start()
    try:
        async with watch_runner(app), grant_expiry_runner(services):
            app.state.ready = True
            yield
    finally:
        notifications.stop()


def remind_case_deadlines(services: Services) -> int:
    """One round of case deadline reminders, in its own transaction."""
    with unit_of_work(services.session) as session:
        return send_deadline_reminders(session)


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


def _expire_unpaid_grants(services: Services) -> int:
    with unit_of_work(services.session) as session:
        return len(expire_unpaid_grants(session, utcnow()))


async def _expire_forever(services: Services) -> None:
    while True:
        try:
            await asyncio.to_thread(_expire_unpaid_grants, services)
        except Exception:
            # A failed sweep is retried at the next poll; the loop must outlive it.
            logger.exception("expiring unpaid grants failed")
        await asyncio.sleep(GRANT_EXPIRY_POLL_S)


@asynccontextmanager
async def grant_expiry_runner(services: Services) -> AsyncIterator[None]:
    """Expire unpaid grants past their deadline while the app runs."""
    task = asyncio.get_running_loop().create_task(_expire_forever(services))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
