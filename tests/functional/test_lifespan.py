"""The app's lifespan starts its background loops with the app and stops them with it."""

from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.lifespan import WATCH_POLL_S
from frontend.services import Services
from frontend.settings import Settings
from similarity.engine import SimilarityEngine


class WatchLoopRecorder:
    """Stands in for the app's Monitor: records the watch loop's start and its cancellation."""

    def __init__(self) -> None:
        self.polls: list[float] = []
        self.cancelled = False

    async def watch_loop(self, poll_s: float) -> None:
        self.polls.append(poll_s)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def started_app(services: Services, recorder: WatchLoopRecorder) -> TestClient:
    # Recovery at start-up never compares images here: a hash-only engine spares the CNN.
    services.similarity = SimilarityEngine(services.settings.index_dir, None, lambda _id: None)
    app = create_app(services=services)
    app.state.monitor = recorder
    return TestClient(app)


def test_the_watch_loop_runs_while_the_app_runs_when_enabled(settings: Settings) -> None:
    services = Services(settings.model_copy(update={"run_watches": True}))
    services.initialise()
    recorder = WatchLoopRecorder()
    try:
        with started_app(services, recorder) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            deadline = time.monotonic() + 5
            while not recorder.polls and time.monotonic() < deadline:
                time.sleep(0.01)
            assert recorder.polls == [WATCH_POLL_S]
            assert not recorder.cancelled
        assert recorder.cancelled
    finally:
        services.close()


def test_no_watch_loop_runs_unless_enabled(services: Services) -> None:
    recorder = WatchLoopRecorder()
    with started_app(services, recorder) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
    assert recorder.polls == []
