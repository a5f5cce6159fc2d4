"""A creator's share shows on the Money page as a balance, and after onboarding as a payout."""

# The market tests' fixtures are imported by name, which pytest requires: parameters reuse them.
# ruff: noqa: F401, F811

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from settlement.stripe.sandbox import LocalStripe
from tests.functional.browser.journey import Viewing, snap
from tests.functional.market.conftest import (
    account_inbox,
    client,
    localstripe,
    market,
    services,
    settings,
)
from tests.functional.market.test_payouts_api import sold
from tests.support.market import Market

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def test_a_creator_sees_her_share_as_a_balance_then_as_a_payout_after_onboarding(
    market: Market,
    localstripe: LocalStripe,
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
) -> None:
    sold(market, localstripe)
    page = journey_page
    page.goto("/login")
    page.fill("#email", market.alice.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button")
    page.goto("/money")
    expect(page.locator("[data-balance=available]")).to_contain_text("3,000.00")
    snap(page, journey_shots, "money-balance")

    page.click("form[action='/money/payout-account'] button")
    expect(page).to_have_url(re.compile(r"/_config/connect/onboarding/"))
    page.get_by_role("button", name="Submit details").click()
    expect(page).to_have_url(re.compile(r"/money\?onboarding=done$"))
    expect(page.locator("#payout-settings .badge.paid")).to_be_visible()
    snap(page, journey_shots, "money-onboarded")

    page.click("form[action='/money/payouts'] button")
    expect(page.locator("tr.payout[data-state=paid]")).to_have_count(1)
    expect(page.locator("[data-balance=paid-out]")).to_contain_text("3,000.00")
    expect(page.locator("[data-balance=available]")).to_contain_text("0.00")
    expect(page.locator("tr.statement")).to_have_count(1)
    snap(page, journey_shots, "money-paid-out")


def test_the_publisher_refunds_a_sale_and_her_balance_shows_the_reversal(
    market: Market,
    localstripe: LocalStripe,
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
) -> None:
    grant = sold(market, localstripe)
    page = journey_page
    page.goto("/login")
    page.fill("#email", market.alice.email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button")
    page.goto("/money")
    sale = page.locator(f"tr.sale[data-grant='{grant['id']}']")
    expect(sale).to_have_attribute("data-state", "paid")
    expect(page.locator("[data-balance=available]")).to_contain_text("3,000.00")
    snap(page, journey_shots, "money-sale")

    # More than is left is refused in words, in the page's language; nothing moves.
    sale.locator("input[name=amount]").fill("9000")
    sale.locator("button[type=submit]").click()
    expect(page.locator("#refund-error")).to_contain_text(
        "授权" if viewing.language == "zh" else "is left to refund"
    )
    expect(page.locator("[data-balance=available]")).to_contain_text("3,000.00")
    snap(page, journey_shots, "money-refund-refused")

    # A fifth of the 5,000.00 comes back: a fifth of her 3,000.00 share is reversed.
    sale.locator("input[name=amount]").fill("1000")
    sale.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/money\?notice=refunded#sales$"))
    expect(sale).to_have_attribute("data-state", "partly-refunded")
    expect(sale.locator(".refund-leaf")).to_be_visible()
    expect(page.locator("[data-balance=available]")).to_contain_text("2,400.00")
    snap(page, journey_shots, "money-partly-refunded")

    sale.locator("button[type=submit]").click()
    expect(sale).to_have_attribute("data-state", "refunded")
    expect(sale.locator("form")).to_have_count(0)
    expect(sale.locator(".refund-leaf")).to_contain_text(re.compile(r"\d+"))
    expect(page.locator("[data-balance=available]")).to_contain_text("0.00")
    expect(page.locator("tr.statement")).to_have_count(1)
    snap(page, journey_shots, "money-refunded")
