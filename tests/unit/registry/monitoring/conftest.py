"""A monitor over the test services, works registered by alice, a site serving their copies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from frontend.api.monitoring import build_monitor
from frontend.services import Services
from registry.models import User
from registry.monitoring.jobs import AlertLine, Monitor
from registry.monitoring.models import CrawlJob
from registry.monitoring.screenshots import NoScreenshots
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.crawl.politeness import HostPoliteness
from tests.factories import photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import (
    ORIGINALS,
    CrawlRun,
    Registered,
    copies_of_originals,
    make_user,
)


@pytest.fixture
def alice(services: Services) -> User:
    return make_user(services, "alice@example.com")


@pytest.fixture
def registered(services: Services, alice: User) -> Registered:
    """Three photos registered by alice."""
    works = {}
    with services.session() as session:
        for name in ORIGINALS:
            outcome = services.registrar.register(
                session, alice, Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata(title=name))
            )
            works[name] = outcome.work
        session.commit()
    return Registered(alice, works)


@pytest.fixture
def copy_site() -> Iterator[LoopbackSite]:
    with LoopbackSite(copies_of_originals(), unrelated_images=3) as site:
        yield site


@pytest.fixture
def monitor(services: Services) -> Monitor:
    return build_monitor(
        services,
        screenshots=lambda _guard: NoScreenshots("not needed by this test"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )


@pytest.fixture
def run_crawl(monitor: Monitor) -> CrawlRun:
    def run(job_id: int) -> tuple[CrawlJob, list[AlertLine]]:
        lines: list[AlertLine] = []
        job = asyncio.run(monitor.run_job(job_id, on_alert=lines.append))
        return job, lines

    return run
