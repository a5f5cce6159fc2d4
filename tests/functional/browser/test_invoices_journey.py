"""A brand pays a retail licence's royalty invoice in the browser: the licence page lists the
report's invoice, the card form charges exactly its royalties, and the invoice shows paid; at
each screen size and in each language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from frontend.services import Services
from frontend.settings import Settings
from licensing.money import Money
from licensing.service.grants import take_license
from licensing.service.sales import SalesLine, submit_sales_report
from registry.log.store import AttestationLog
from registry.models import User, persisted_id
from settlement.service.royalties import post_royalties
from settlement.stripe.sandbox import LocalStripe
from tests.functional.browser.journey import Viewing, snap
from tests.support.localstripe import localstripe  # noqa: F401 - the fixture
from tests.support.market import WEBHOOK_SECRET, published_photo_offer, sandbox_settings

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
BRAND = "shop@brand.example"


@pytest.fixture
def settings(settings: Settings, localstripe: LocalStripe) -> Settings:  # noqa: F811
    """The app's settings, paying through the local Stripe sandbox."""
    return sandbox_settings(settings, localstripe)


def reported_retail_licence(services: Services) -> int:
    """A brand's retail licence of a designer's photo (10% royalty), with one report of $250."""
    offer = published_photo_offer(
        services,
        brand_email=BRAND,
        photo="astronaut",
        title="Afternoon tea",
        sale_terms={"retail": {"tiers": [{"from_units": 0, "rate_bp": 1000}]}},
        sale_type="retail",
    )
    with services.session() as session:
        brand = session.exec(select(User).where(User.email == BRAND)).one()
        log = AttestationLog(session, services.signer)
        grant, _ = take_license(session, brand, persisted_id(offer), log)
        grant_id = persisted_id(grant)
        session.commit()
        reported = submit_sales_report(
            session,
            brand,
            grant_id,
            report_id="2026-11",
            lines=[
                SalesLine(units=10, net_revenue=Money(150_00, "USD")),
                SalesLine(units=5, net_revenue=Money(100_00, "USD")),
            ],
            log=log,
        )
        post_royalties(session, reported)
        session.commit()
    return grant_id


def test_a_brand_pays_the_royalty_invoice_of_a_sales_report(  # noqa: PLR0917 - pytest passes fixtures by position
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
    services: Services,
    live_url: str,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    zh = viewing.language == "zh"
    localstripe.send_webhooks_to(f"{live_url}/api/v1/stripe/webhook", WEBHOOK_SECRET)
    grant_id = reported_retail_licence(services)
    page = journey_page

    page.goto("/login")
    page.fill("#email", BRAND)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.goto(f"/licenses/{grant_id}")
    invoice = page.locator("#invoices tbody tr")
    expect(invoice).to_have_count(1)
    expect(invoice).to_contain_text("25.00")
    expect(invoice).to_contain_text("待付款" if zh else "Awaiting payment")
    snap(page, journey_shots, "01-licence-invoice")

    invoice.locator("a.button").click()
    expect(page.locator("#total")).to_contain_text("25.00")
    card = page.locator("#card input")
    expect(card).to_have_count(5)
    for index, value in enumerate(("4242424242424242", "12", "30", "123", "10001")):
        card.nth(index).fill(value)
    snap(page, journey_shots, "02-pay-invoice")

    page.click("#pay")
    expect(page).to_have_url(f"{live_url}/licenses/{grant_id}")
    expect(page.locator("#invoices .invoice-state")).to_contain_text("已付款" if zh else "Paid")
    expect(page.locator("#invoices a.button")).to_have_count(0)
    snap(page, journey_shots, "03-invoice-paid")
