"""The app's one Monitor, built on first use: the watch loop, crawl and evidence tasks share it."""

from __future__ import annotations

import threading

from fastapi import FastAPI

from frontend.services import Services
from registry.monitoring.jobs import Monitor

# Crawl tasks (on worker threads) and the watch loop (on the event loop) may ask first at once.
_building = threading.Lock()


def app_monitor(app: FastAPI) -> Monitor:
    """The monitor the app runs its crawls on.

    Built on first use, since it loads the similarity engine; a test may set
    `app.state.monitor` beforehand to run crawls with its own screenshots and politeness.
    """
    with _building:
        monitor: Monitor | None = getattr(app.state, "monitor", None)
        if monitor is None:
            services: Services = app.state.services
            monitor = services.monitor()
            app.state.monitor = monitor
        return monitor
