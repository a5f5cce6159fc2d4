"""A monitor over the registry's parts, works registered by alice, a site serving their copies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from registry.db import unit_of_work
from registry.models import User
from registry.monitoring.jobs import AlertLine, Monitor
from registry.monitoring.models import CrawlJob
from registry.schemas import WorkMetadata
from registry.service import Upload
from tests.factories import photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import (
    ORIGINALS,
    CrawlRun,
    Registered,
    copies_of_originals,
    make_user,
)
from tests.unit.registry.wiring import RegistryParts


@pytest.fixture
def alice(parts: RegistryParts) -> User:
    return make_user(parts, "alice@example.com")


@pytest.fixture
def registered(parts: RegistryParts, alice: User) -> Registered:
    """Three photos registered by alice."""
    works = {}
    with unit_of_work(parts.session) as session:
        for name in ORIGINALS:
            outcome = parts.registrar.register(
                session, alice, Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata(title=name))
            )
            works[name] = outcome.work
    return Registered(alice, works)


@pytest.fixture
def copy_site() -> Iterator[LoopbackSite]:
    with LoopbackSite(copies_of_originals(), unrelated_images=3) as site:
        yield site


@pytest.fixture
def monitor(parts: RegistryParts) -> Monitor:
    return parts.monitor()


@pytest.fixture
def run_crawl(monitor: Monitor) -> CrawlRun:
    def run(job_id: int) -> tuple[CrawlJob, list[AlertLine]]:
        lines: list[AlertLine] = []
        job = asyncio.run(monitor.run_job(job_id, on_alert=lines.append))
        return job, lines

    return run
