"""Anyone asks whether a work is licensed on a site, and sees the grant's certificate, in
headless Chromium at desktop and phone widths, in English and Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.functional.browser.journey import Viewing, snap
from tests.functional.market import conftest as licensing_market
from tests.support.market import Market

pytestmark = pytest.mark.browser

# The market tests' fixtures: alice's work under contract, a brand with a verified domain.
settings = licensing_market.settings
localstripe = licensing_market.localstripe
services = licensing_market.services
account_inbox = licensing_market.account_inbox
client = licensing_market.client
market = licensing_market.market


def test_anyone_checks_whether_a_site_is_licensed(
    journey_page: Page, journey_shots: Path, viewing: Viewing, market: Market
) -> None:
    grant = market.retail_grant()
    page = journey_page
    page.goto("/licensed")
    snap(page, journey_shots, "1-form")
    page.fill("#check-work", str(grant["work_id"]))
    page.fill("#check-site", "https://shop.brand.example/products/koi")
    page.click("#licence-check button[type=submit]")
    answer = page.locator("#licence-answer .verdict-banner.ok")
    expect(answer).to_contain_text("已获授权" if viewing.language == "zh" else "is licensed")
    certificate = page.locator(f"a[href='/api/v1/grants/{grant['id']}/certificate']")
    expect(certificate).to_be_visible()
    snap(page, journey_shots, "2-licensed")
    assert page.request.get(f"/api/v1/grants/{grant['id']}/certificate").ok
    page.fill("#check-site", "copies.example")
    page.click("#licence-check button[type=submit]")
    expect(page.locator("#licence-answer .verdict-banner.bad")).to_be_visible()
    snap(page, journey_shots, "3-not-licensed")
