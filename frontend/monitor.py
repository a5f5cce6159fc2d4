"""The app's one Monitor: built on first use, shared by the watch loop and the crawl endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from frontend.services import Services
from registry.monitoring.jobs import Monitor


def app_monitor(app: FastAPI) -> Monitor:
    """The monitor the app runs its crawls on (it tracks the running jobs).

    Built on first use, since it loads the similarity engine; a test may set
    `app.state.monitor` beforehand to run crawls with its own screenshots and politeness.
    """
    monitor: Monitor | None = getattr(app.state, "monitor", None)
    if monitor is None:
        services: Services = app.state.services
        monitor = services.monitor()
        app.state.monitor = monitor
    return monitor


def get_monitor(request: Request) -> Monitor:
    return app_monitor(request.app)


MonitorDep = Annotated[Monitor, Depends(get_monitor)]
