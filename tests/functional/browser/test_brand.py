"""A brand's journey in the browser: find a work, license it, pay with the sandbox's test card,
and hold an active licence with its certificate; at each screen size and in each language."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from frontend.demo import DEMO_OFFERS
from frontend.services import Services
from frontend.settings import Settings
from registry.certificates import verify_certificate
from settlement.models import ProcessorEvent
from settlement.stripe.sandbox import LocalStripe
from tests.functional.browser.journey import Viewing, snap
from tests.support.localstripe import localstripe  # noqa: F401 - the fixture
from tests.support.market import WEBHOOK_SECRET, published_photo_offer, sandbox_settings

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
BRAND = "buyer@brand.example"


@pytest.fixture
def settings(settings: Settings, localstripe: LocalStripe) -> Settings:  # noqa: F811
    """The app's settings, paying through the local Stripe sandbox."""
    return sandbox_settings(settings, localstripe)


def seed_market(services: Services) -> int:
    """A designer's registered photo under an active contract, offered as a wholesale bundle on
    the demo's terms (500 units, US and CN, 12 months, $125)."""
    sale_type, package, terms = DEMO_OFFERS["Coffee"]
    offer = published_photo_offer(
        services,
        brand_email=BRAND,
        photo="coffee",
        title="Morning coffee",
        sale_terms=terms,
        sale_type=sale_type,
        package=package,
    )
    return offer.work_id


def settled_by_webhook(services: Services, timeout_s: float = 20.0) -> bool:
    """Whether the sandbox's signed payment_intent.succeeded event reached the app."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with services.session() as session:
            events = session.exec(select(ProcessorEvent)).all()
            if any(event.event_type == "payment_intent.succeeded" for event in events):
                return True
        time.sleep(0.2)
    return False


def test_a_brand_finds_licenses_and_pays_for_a_work(  # noqa: PLR0917 - pytest passes fixtures by position
    journey_page: Page,
    journey_shots: Path,
    viewing: Viewing,
    services: Services,
    live_url: str,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    zh = viewing.language == "zh"
    localstripe.send_webhooks_to(f"{live_url}/api/v1/stripe/webhook", WEBHOOK_SECRET)
    work_id = seed_market(services)
    page = journey_page

    page.goto("/login")
    page.fill("#email", BRAND)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(f"{live_url}/")
    expect(page.locator("h1")).to_have_text("授权市场" if zh else "Marketplace")
    snap(page, journey_shots, "01-marketplace")

    page.fill("#q", "coffee")
    page.select_option("#type", "wholesale")
    page.fill("#max_price", "200")
    page.click(".market-filters button[type=submit]")
    expect(page.locator(".market-card")).to_have_count(1)
    expect(page.locator(".market-price")).to_contain_text("125")
    snap(page, journey_shots, "02-search")

    page.click(".market-card")
    expect(page).to_have_url(f"{live_url}/verify/{work_id}")
    offer = page.locator(".market-offer")
    expect(offer).to_contain_text("US, CN")
    expect(offer).to_contain_text("12 个月" if zh else "12 months")
    expect(offer).to_contain_text("500")
    snap(page, journey_shots, "03-work-offers")

    offer.get_by_role("link", name="获取授权" if zh else "License").click()
    expect(page.locator(".market-total")).to_contain_text("125.00")
    snap(page, journey_shots, "04-checkout")

    page.click("#take-licence")
    expect(page.locator("#pay-form")).to_be_visible()
    card = page.locator("#card input")
    expect(card).to_have_count(5)
    for index, value in enumerate(("4242424242424242", "12", "30", "123", "10001")):
        card.nth(index).fill(value)
    snap(page, journey_shots, "05-pay")

    page.click("#pay")
    expect(page.locator("#grant-state")).to_have_text("已生效" if zh else "active")
    assert settled_by_webhook(services), "the signed payment webhook never arrived"
    page.reload()
    expect(page.locator("#grant-state")).to_have_text("已生效" if zh else "active")
    snap(page, journey_shots, "06-licence-active")

    certificate = httpx.get(
        f"{live_url}{page.locator('#certificate-json').get_attribute('href')}", timeout=30
    ).json()
    assert verify_certificate(certificate, services.signer.public_key).valid
    assert json.loads(certificate["leaf"])["type"] == "payment_settled"

    page.get_by_role("link", name="我的全部授权" if zh else "All my licenses").click()
    expect(page.locator(".market-licenses tbody tr")).to_have_count(1)
    expect(page.locator(".market-licenses")).to_contain_text("PDF")
    snap(page, journey_shots, "07-my-licenses")
