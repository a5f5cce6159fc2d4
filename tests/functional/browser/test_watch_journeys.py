"""A rights holder's monitoring journeys and the public certificate check, in headless Chromium
at desktop and phone widths, in English and Chinese: set up a watch and follow a crawl live,
triage alerts with filters and a bulk step, the notification bell, and a certificate checked by
uploading its PDF."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from frontend.services import Services
from frontend.settings import Settings
from registry.messages import N_, Message
from registry.models import User, Work
from registry.monitoring.models import Alert
from registry.monitoring.screenshots import NoScreenshots
from registry.monitoring.service import notify_rights_holder
from registry.notifications.service import notify
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.crawl.politeness import HostPoliteness
from tests.factories import photo_jpeg
from tests.functional.browser.journey import Viewing, snap
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import copies_of_originals, make_user, queue_job

pytestmark = pytest.mark.browser

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery"
CRAWL_SECONDS = 240


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"crawl_allow_hosts": ["127.0.0.1"]})


@pytest.fixture
def services(services: Services) -> Services:
    """Crawls on the served app take no screenshots and wait for no host between fetches."""
    build = services.monitor
    services.monitor = functools.partial(  # type: ignore[method-assign]
        build,
        screenshots=lambda _guard: NoScreenshots("not needed by these journeys"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    return services


@pytest.fixture
def owner(services: Services) -> User:
    """Alice, a rights holder who registered a photo of coffee."""
    alice = make_user(services, EMAIL)
    with services.session() as session:
        services.registrar.register(
            session,
            alice,
            Upload(photo_jpeg("coffee"), "coffee.jpg", WorkMetadata(title="Coffee 咖啡")),
        )
        session.commit()
    return alice


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    with LoopbackSite(copies_of_originals()) as serving:
        yield serving


def sign_in(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_load_state("load")


def said(viewing: Viewing, english: str, chinese: str) -> str:
    return chinese if viewing.language == "zh" else english


def test_a_rights_holder_sets_up_a_watch_and_follows_a_crawl(
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
    owner: User,
    site: LoopbackSite,
) -> None:
    page = journey_page
    sign_in(page)
    page.goto("/monitoring")
    snap(page, journey_shots, "1-monitoring")
    page.fill("#watch-seeds", site.url("/gallery/img"))
    page.fill("#watch-pages", "5")
    page.select_option("#watch-interval", str(24 * 3600))
    page.click(".watch-form button[type=submit]")
    watch = page.locator(".watch-list > li")
    expect(watch).to_have_count(1)
    expect(watch).to_contain_text(said(viewing, "Every day", "每天"))
    snap(page, journey_shots, "2-watch-added")
    page.fill("#crawl-seeds", site.url("/gallery/img"))
    page.fill("#crawl-pages", "1")
    page.click(".crawl-form button[type=submit]")
    progress = page.locator("#crawl-progress")
    expect(progress).to_be_visible()
    snap(page, journey_shots, "3-crawl-started")
    expect(progress).to_have_attribute("data-state", "finished", timeout=CRAWL_SECONDS * 1000)
    expect(progress.locator('[data-field="status"]')).to_have_text(
        said(viewing, "finished", "已完成")
    )
    expect(progress.locator('[data-field="pages_fetched"]')).to_have_text("1")
    expect(progress.locator('[data-field="alerts"]')).not_to_have_text("0")
    expect(page.locator("#crawl-done")).to_be_visible()
    snap(page, journey_shots, "4-crawl-finished")


@pytest.fixture
def alerted(services: Services, owner: User, site: LoopbackSite) -> list[int]:
    """A crawl raised an alert for the coffee photo; three more copies sit on shop.example."""
    monitor = services.monitor()
    job_id = queue_job(services, owner, [site.url("/gallery/img")], 1)
    # Playwright's sync API holds an event loop on this thread; the crawl gets its own.
    crawl = threading.Thread(target=lambda: asyncio.run(monitor.run_job(job_id)))
    crawl.start()
    crawl.join(timeout=CRAWL_SECONDS)
    with services.session() as session:
        found = session.query(Alert).all()
        assert found, "the crawl raised no alert"
        real = found[0]
        copies = []
        for number in range(3):
            digest = f"{number + 1:064x}"
            copy = Alert(
                work_id=real.work_id,
                image_sha256=digest,
                image_url=f"https://shop.example/products/{number}.jpg",
                image_url_sha256=digest,
                page_url=f"https://shop.example/products/{number}",
                domain="shop.example",
                score=real.score,
                verified=real.verified,
                evidence_sha256=real.evidence_sha256,
                manifest_sha256=real.manifest_sha256,
                log_index=real.log_index,
            )
            session.add(copy)
            copies.append(copy)
        session.commit()
        return [int(copy.id or 0) for copy in copies]


def test_a_rights_holder_triages_alerts_with_filters_and_a_bulk_step(
    journey_page: Page, journey_shots: Path, viewing: Viewing, alerted: list[int]
) -> None:
    page = journey_page
    sign_in(page)
    page.goto("/alerts")
    expect(page.locator(".alert-card")).to_have_count(4)
    snap(page, journey_shots, "1-inbox")
    page.locator(".alert-filters summary").click()
    page.select_option("#filter-site", "shop.example")
    page.select_option("#filter-status", "new")
    page.click(".filter-actions button")
    cards = page.locator(".alert-card")
    expect(cards).to_have_count(3)
    snap(page, journey_shots, "2-filtered")
    cards.nth(0).locator(".choose-alert").check()
    cards.nth(1).locator(".choose-alert").check()
    page.click(".bulk-buttons button[value=confirmed]")
    expect(page.locator("#bulk-report")).to_contain_text("2")
    expect(page.locator(".alert-card")).to_have_count(1)
    page.goto("/alerts?status=confirmed")
    expect(page.locator(".alert-card .badge.alert-status")).to_have_text(
        [said(viewing, "confirmed", "已确认")] * 2
    )
    expect(page.locator("form.open-case")).to_contain_text("shop.example")
    snap(page, journey_shots, "3-bulk-confirmed")
    page.locator(".alert-card .choose-alert").first.check()
    page.click(".bulk-buttons button[value=confirmed]")
    expect(page.locator(".bulk-left li")).to_contain_text(
        said(viewing, "is already confirmed", "已经是“已确认”")
    )
    snap(page, journey_shots, "4-bulk-left-as-it-was")


def test_the_bell_counts_unread_notifications_and_leads_to_them(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services, owner: User
) -> None:
    with services.session() as session:
        work = session.query(Work).one()
        alert = Alert(
            work_id=work.id,
            image_sha256="b" * 64,
            image_url="https://shop.example/p/1.jpg",
            image_url_sha256="c" * 64,
            page_url="https://shop.example/p/1",
            domain="shop.example",
            score=0.93,
            evidence_sha256="d" * 64,
            manifest_sha256="e" * 64,
            log_index=3,
        )
        session.add(alert)
        session.flush()
        notify_rights_holder(session, alert)
        notify(
            session,
            owner,
            "license_grant_cancelled",
            N_("License grant %(grant)s on work %(work)s cancelled before payment"),
            N_(
                "The %(sale_type)s license grant %(grant)s on work %(work)s was cancelled before "
                "payment."
            ),
            params={"grant": 1, "work": work.id, "sale_type": Message(N_("buyout"))},
        )
        session.commit()
        alert_id = alert.id
    page = journey_page
    sign_in(page)
    page.goto("/monitoring")
    bell = page.locator("#bell")
    expect(bell.locator(".count")).to_contain_text("2")
    snap(page, journey_shots, "1-bell")
    bell.click()
    items = page.locator("ul.notifications > li")
    expect(items).to_have_count(2)
    expect(page.locator("ul.notifications li.unread")).to_have_count(2)
    expect(items.first).to_contain_text(
        said(viewing, "was cancelled before payment", "在付款前已取消")
    )
    expect(items.last).to_contain_text(
        said(
            viewing,
            "Possible copy of “Coffee 咖啡” on shop.example",
            "shop.example 上可能有“Coffee 咖啡”的复制品",
        )
    )
    snap(page, journey_shots, "2-inbox")
    page.locator("ul.notifications li", has_text="shop.example").locator(
        "form[action$='/open'] button"
    ).click()
    expect(page).to_have_url(re.compile(rf"/alerts/{alert_id}$"))
    page.goto("/notifications")
    expect(page.locator("ul.notifications li.unread")).to_have_count(1)
    expect(page.locator("#bell .count")).to_contain_text("1")
    page.click("form[action='/notifications/read-all'] button")
    expect(page.locator("ul.notifications li.unread")).to_have_count(0)
    expect(page.locator("#bell .count")).to_have_count(0)
    snap(page, journey_shots, "3-all-read")


def test_anyone_checks_a_certificate_by_uploading_its_pdf(  # noqa: PLR0917 - fixtures
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
    services: Services,
    owner: User,
    tmp_path: Path,
) -> None:
    with services.session() as session:
        work_id = session.query(Work).one().id
    page = journey_page
    page.goto(f"/verify/{work_id}")
    expect(page.locator("ol.check-steps li.passed")).to_have_count(5)
    snap(page, journey_shots, "1-registration")
    pdf = page.request.get(f"/works/{work_id}/certificate.pdf")
    assert pdf.ok
    assert pdf.body().startswith(b"%PDF-")
    saved = tmp_path / "certificate.pdf"
    saved.write_bytes(pdf.body())
    page.goto("/verify")
    snap(page, journey_shots, "2-check-form")
    page.set_input_files("#certificate-file", str(saved))
    page.click("#certificate-upload button[type=submit]")
    expect(page.locator(".verdict-banner.ok")).to_contain_text(
        said(viewing, "This certificate is valid.", "此证书有效。")
    )
    expect(page.locator("ol.check-steps li.passed")).to_have_count(5)
    snap(page, journey_shots, "3-checked")
    page.goto("/verify")
    page.fill("#certificate-text", '{"format": "copymark-certificate/v2"}')
    page.click("#certificate-upload button[type=submit]")
    expect(page.locator(".verdict-banner.bad")).to_be_visible()
    expect(page.locator("ol.check-steps li.failed")).to_have_count(1)
    snap(page, journey_shots, "4-refused")
