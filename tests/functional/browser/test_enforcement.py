"""A rights holder takes a copy from alert to counter-notice in headless Chromium: confirm, open a
case, sign the legal profile, send the notice (read back from a loopback SMTP server), and the
accused party answers on the page the notice links to."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from frontend.settings import Settings
from tests.functional.browser.test_journeys import snapshot
from tests.functional.browser.test_rights_holder import EMAIL, PASSWORD, alerted
from tests.support.receivers import SmtpInbox

pytestmark = pytest.mark.browser
__all__ = ["alerted"]  # the fixture, shared with the triage journey
SITE_CONTACT = "dmca@shop.test"


@pytest.fixture
def settings(settings: Settings, smtp_inbox: tuple[SmtpInbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "crawl_allow_hosts": ["127.0.0.1"],
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox[1],
            "smtp_from": "Copymark <notices@copymark.test>",
        }
    )


def response_path(inbox: SmtpInbox) -> str:
    """The response page's path in the notice the site's contact received."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in inbox.messages:
            if message["To"] == SITE_CONTACT:
                body = message.get_payload(decode=True).decode()
                found = re.search(r"https?://[^/\s]+(/respond/\d+/[0-9a-f]{64})\s", body)
                assert found is not None, body
                return found.group(1)
        inbox.wait_for(len(inbox.messages) + 1, timeout_s=0.5)
    raise AssertionError("no notice reached the site's contact")


def test_a_confirmed_alert_becomes_a_case_whose_notice_is_answered(  # noqa: PLR0917 - fixtures
    page: Page,
    browser: Browser,
    live_url: str,
    alerted: None,
    smtp_inbox: tuple[SmtpInbox, int],
    screenshots: Path,
) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.click("nav >> text=Alerts")
    page.locator(".alert-card button[value=confirmed]").first.click()
    page.locator(".alert-card h3 a").first.click()
    page.click("form.open-case button")
    expect(page.locator("h1 .badge.case-state")).to_have_text("open")

    page.click("text=Add them to your legal profile")
    page.fill("input[name=legal_name]", "Alice Example Ltd")
    page.fill("textarea[name=postal_address]", "1 Canvas Street, London")
    page.fill("input[name=contact_email]", "legal@alice.example")
    page.click("form.legal-profile button")
    expect(page.locator(".notice-send")).to_contain_text("Signed by Alice Example Ltd")

    page.fill("textarea[name=recipients]", SITE_CONTACT)
    page.click("form.send-notice button")
    expect(page.locator("h1 .badge.case-state")).to_have_text("notice sent")
    expect(page.locator(".case-event.notice_sent")).to_contain_text("accepted by the mail server")
    snapshot(page, screenshots / "case-notice-sent.png")
    case_url = page.url

    path = response_path(smtp_inbox[0])
    # The accused party has no account: a fresh browser context with no cookies.
    stranger = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 900})
    respondent = stranger.new_page()
    respondent.goto(path)
    expect(respondent.locator(".respond-copy")).to_have_count(1)
    assert respondent.locator(".respond-copy img").evaluate("image => image.naturalWidth") > 0
    snapshot(respondent, screenshots / "respond.png")
    respondent.fill("textarea[name=material]", "The coffee photo on our gallery page")
    respondent.check("input[name=good_faith_statement]")
    respondent.check("input[name=jurisdiction_consent]")
    respondent.fill("input[name=name]", "Mallory Shop")
    respondent.fill("textarea[name=address]", "2 Market Road, Springfield")
    respondent.fill("input[name=email]", "mallory@shop.test")
    respondent.fill("input[name=signature]", "Mallory Shop")
    respondent.click("form.counter-notice button")
    expect(respondent.locator(".answered")).to_contain_text("received and recorded")
    expect(respondent.locator("form.counter-notice")).to_have_count(0)
    snapshot(respondent, screenshots / "respond-answered.png")
    stranger.close()

    page.goto(case_url)
    expect(page.locator("h1 .badge.case-state")).to_have_text("counter noticed")
    expect(page.locator(".deadline")).to_contain_text("512(g)(2)(C)")
    snapshot(page, screenshots / "case-counter-noticed.png")
