"""With the log sequenced (PostgreSQL), a work whose entry the log has yet to append says so on
its page, at desktop and phone width, in English and Chinese; once the sequencer has appended it,
the page offers the certificate and its check."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from frontend.services import Services
from frontend.settings import Settings
from tests.functional.api.test_sequenced_registration import sequencing, stored_log_index
from tests.functional.browser.journey import Viewing, snap
from tests.functional.browser.test_designer import make_user, register, sign_in, words
from tests.support.workers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """PostgreSQL: the sequencer's lease is an advisory lock."""
    return postgres_database_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"log_sequenced": True, "log_sequenced_wait_s": 0.5})


def test_a_work_waiting_for_its_log_entry_says_so_then_offers_its_certificate(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    owner = make_user(services, "ada@example.com")
    work_id = register(services, owner, "coffee", "Morning coffee")
    sign_in(journey_page, "ada@example.com")
    journey_page.goto(f"/works/{work_id}")
    expect(journey_page.locator("#certificate-pending")).to_contain_text(
        words(viewing, "has not appended this work's entry yet", "尚未追加此作品的条目")
    )
    expect(journey_page.locator("#verify-panel")).to_have_count(0)
    snap(journey_page, journey_shots, "01-log-entry-pending")

    with sequencing(services):
        wait_for(
            lambda: stored_log_index(services, work_id) is not None, 30, "the work's log index"
        )
    journey_page.reload()
    expect(journey_page.locator("#certificate-pending")).to_have_count(0)
    expect(journey_page.locator("#server-check")).to_have_class("badge valid")
    snap(journey_page, journey_shots, "02-log-entry-appended")
