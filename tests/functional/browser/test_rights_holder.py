"""A rights holder triages an alert in headless Chromium, its copy shown beside the original."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from frontend.services import Services
from frontend.settings import Settings
from registry.monitoring.jobs import Monitor
from registry.monitoring.screenshots import NoScreenshots
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.crawl.politeness import HostPoliteness
from tests.factories import photo_jpeg
from tests.functional.browser.test_journeys import snapshot
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import copies_of_originals, make_user, queue_job

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
EMAIL = "alice@example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"crawl_allow_hosts": ["127.0.0.1"]})


@pytest.fixture
def alerted(services: Services) -> None:
    """Alice registered a photo, and a crawl of a page showing a copy raised an alert."""
    owner = make_user(services, EMAIL)
    with services.session() as session:
        services.registrar.register(
            session, owner, Upload(photo_jpeg("coffee"), "coffee.jpg", WorkMetadata(title="Coffee"))
        )
        session.commit()
    monitor: Monitor = services.monitor(
        screenshots=lambda _guard: NoScreenshots("not needed by this test"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    with LoopbackSite(copies_of_originals()) as site:
        job_id = queue_job(services, owner, [site.url("/gallery/img")], 1)
        # Playwright's sync API holds an event loop on this thread; the crawl gets its own.
        crawl = threading.Thread(target=lambda: asyncio.run(monitor.run_job(job_id)))
        crawl.start()
        crawl.join(timeout=120)


def test_a_rights_holder_confirms_an_alert_and_reads_the_notices(
    page: Page, alerted: None, screenshots: Path
) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.click("nav >> text=Alerts")
    card = page.locator(".alert-card").first
    expect(card.locator(".badge.alert-status")).to_have_text("new")
    preview = card.locator("img")
    expect(preview).to_have_count(1)
    # The card shows the evidence picture shrunk, never the full capture.
    assert 0 < preview.evaluate("image => image.complete && image.naturalWidth") <= 320
    snapshot(page, screenshots / "alerts.png")
    card.locator("button[value=confirmed]").click()
    expect(page.locator(".alert-card .badge.alert-status").first).to_have_text("confirmed")
    page.locator(".alert-card h3 a").first.click()
    expect(page.locator("details.notice").first).to_contain_text("17 U.S.C. 512(c)")
    natural_width = page.locator(".alert-evidence-picture img").evaluate(
        "image => image.naturalWidth"
    )
    assert natural_width > 0
    snapshot(page, screenshots / "alert.png")
