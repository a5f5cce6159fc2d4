"""An ownership dispute in headless Chromium, on a desktop in English and on a phone in Chinese:
the earlier owner disputes a later look-alike registration from the disputes page, a sale of the
disputed work is held, and the respondent sees the held money and concedes it to the claimant."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from registry.models import PriorArtConflict
from settlement.stripe.sandbox import LocalStripe
from tests.factories import make_account
from tests.functional.browser.conftest import open_tab
from tests.functional.browser.journey import Viewing, snap
from tests.functional.market import test_disputes_api as disputes
from tests.functional.market.conftest import (  # noqa: F401 - the fixtures
    account_inbox,
    client,
    market,
    services,
    settings,
)
from tests.functional.pages.test_pages import PASSWORD
from tests.support.localstripe import brand_card, localstripe  # noqa: F401 - the fixture
from tests.support.market import API, Market

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_dispute_holds_the_sale_and_the_respondent_concedes(  # noqa: PLR0917 - fixtures
    journey_page: Page,
    browser: Browser,
    live_url: str,
    viewing: Viewing,
    market: Market,  # noqa: F811
    localstripe: LocalStripe,  # noqa: F811
    journey_shots: Path,
) -> None:
    cleo = make_account(market.client, "cleo@example.com", inbox=market.inbox)
    earlier = disputes.registered(market, cleo, 31)
    later = disputes.registered(market, market.alice, 32)
    market.activate(later)
    taken = market.take(market.offer(later, "wholesale", "bundle"))
    assert taken.status_code == 201, taken.text
    with market.services.session() as session:
        session.add(PriorArtConflict(work_id=later, earlier_work_id=earlier, score=0.96))
        session.commit()

    page = journey_page
    sign_in(page, cleo.email)
    page.goto("/cases")
    page.click("a[href='/disputes']")
    expect(page.locator(".lookalike")).to_have_count(1)
    snap(page, journey_shots, "1-lookalike")
    page.fill(".open-dispute textarea[name=reason]", "My sketchbook, dated 2019.")
    page.click("form.open-dispute button")
    expect(page.locator("h1 .badge.dispute-state.open")).to_have_count(1)
    expect(page.locator(".dispute-reason")).to_have_text("My sketchbook, dated 2019.")
    snap(page, journey_shots, "2-dispute-opened")
    dispute_url = page.url

    # The brand pays for its licence while the dispute is open: the parties' shares are held.
    paid = market.client.post(
        f"{API}/grants/{taken.json()['id']}/payments",
        json={"payment_method": brand_card(localstripe)},
        headers=market.brand.headers,
    )
    assert paid.json()["status"] == "succeeded", paid.text

    locale = "zh-CN" if viewing.language == "zh" else "en-US"
    with open_tab(browser, live_url, viewing.width, viewing.height, locale) as respondent:
        sign_in(respondent, market.alice.email)
        respondent.goto("/disputes")
        expect(respondent.locator(".dispute-item .held-amount .mono")).to_have_count(1)
        expect(respondent.locator(".dispute-item .held-amount")).to_contain_text("100.00")
        snap(respondent, journey_shots, "3-respondent-list")
        respondent.click(".dispute-item h2 a")
        expect(respondent.locator(".hold-state.held")).to_have_count(2)
        snap(respondent, journey_shots, "4-held-royalties")
        respondent.click("button.concede")
        expect(respondent.locator("h1 .badge.dispute-state.upheld")).to_have_count(1)
        expect(respondent.locator(".hold-state.redirected")).to_have_count(2)
        expect(respondent.locator("button.concede")).to_have_count(0)
        snap(respondent, journey_shots, "5-conceded")

    page.goto(dispute_url)
    expect(page.locator(".dispute-step")).to_have_count(2)
    snap(page, journey_shots, "6-claimant-sees-the-outcome")
    assert disputes.owed(market, "acct:cleo@example.com") == 10_000


def test_a_refund_of_a_held_sale_comes_out_of_held_and_the_outcome_moves_the_rest(
    journey_page: Page,
    viewing: Viewing,
    market: Market,  # noqa: F811
    localstripe: LocalStripe,  # noqa: F811
    journey_shots: Path,
) -> None:
    dispute, _work_id = disputes.dispute_paid_sale(market, localstripe)
    page = journey_page
    sign_in(page, market.alice.email)
    page.goto("/money")
    expect(page.locator("[data-balance=held]")).to_contain_text("60.00")
    sale = page.locator("tr.sale").first
    # A quarter of the 100.00 comes back: her 60.00 held share gives back 15.00 of it.
    sale.locator("input[name=amount]").fill("25")
    sale.locator("button[type=submit]").click()
    expect(sale).to_have_attribute("data-state", "partly-refunded")
    expect(page.locator("[data-balance=held]")).to_contain_text("45.00")
    expect(page.locator("ul.reasons li")).to_have_count(2)
    expect(page.locator("ul.reasons li").nth(1)).to_contain_text(
        "退还被许可方" if viewing.language == "zh" else "given back to the licensee"
    )
    snap(page, journey_shots, "1-held-sale-partly-refunded")

    page.goto(f"/disputes/{dispute['id']}")
    expect(page.locator(".held-amount")).to_contain_text("75.00")
    expect(page.locator("span.refunded")).to_have_count(2)
    snap(page, journey_shots, "2-holds-after-the-refund")
    page.click("button.concede")
    expect(page.locator(".hold-state.redirected")).to_have_count(2)
    snap(page, journey_shots, "3-rest-conceded")
    assert disputes.owed(market, "acct:cleo@example.com") == 7_500
