"""From an alert to a paid retroactive licence in headless Chromium, on a desktop in English and on
a phone in Chinese: confirm the alert, open a case, send the notice (read back from a loopback
SMTP server), the accused party files a counter-notice, the rights holder offers a retroactive
licence, the infringer pays it in the Stripe sandbox, the case closes as licensed with its split,
and every step's leaf verifies offline with `copymark verify`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from frontend.services import Services
from frontend.settings import Settings
from licensing.contract import parse_contract_data
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.offers import publish_offer
from registry.accounts.verification import seed_verified_email
from registry.log.store import AttestationLog
from registry.models import User, Work, persisted_id
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from tests.functional.browser.conftest import open_tab
from tests.functional.browser.journey import Viewing, snap
from tests.functional.browser.test_enforcement import SITE_CONTACT, response_path
from tests.functional.browser.test_rights_holder import EMAIL, PASSWORD, alerted
from tests.support.localstripe import localstripe  # noqa: F401 - the fixture
from tests.support.receivers import SmtpInbox
from tests.unit.registry.monitoring.support import make_user

pytestmark = pytest.mark.browser
__all__ = ["alerted"]  # the fixture
ROOT = Path(__file__).parents[3]


@pytest.fixture
def settings(
    settings: Settings,
    smtp_inbox: tuple[SmtpInbox, int],
    localstripe: LocalStripe,  # noqa: F811 - the fixture imported above
) -> Settings:
    return settings.model_copy(
        update={
            "crawl_allow_hosts": ["127.0.0.1"],
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox[1],
            "smtp_from": "Copymark <notices@copymark.test>",
            "stripe_api_key": SANDBOX_API_KEY,
            "stripe_api_base": localstripe.api_base,
        }
    )


@pytest.fixture
def licensable(services: Services, alerted: None) -> None:
    """The copied photo is under a contract (Alice 70%, her co-creator Bob 30%) and offered
    wholesale at $45 a use."""
    bob = make_user(services, "bob@example.com")
    with services.session() as session:
        alice = session.exec(select(User).where(User.email == EMAIL)).one()
        stored_bob = session.get(User, persisted_id(bob))
        assert stored_bob is not None
        for person in (alice, stored_bob):
            seed_verified_email(session, person)
        work = session.exec(select(Work).where(Work.owner_id == alice.id)).one()
        document = {
            "format": "copymark.contract/v1",
            "contract_id": f"coffee-{work.id}",
            "version": 1,
            "subject": {"work": f"work-{work.id}"},
            "currency": "USD",
            "ai_training": "not_allowed",
            "parties": [
                {"id": "alice", "account": f"acct:{EMAIL}", "role": "creator", "share_bp": 7000},
                {
                    "id": "bob",
                    "account": "acct:bob@example.com",
                    "role": "co_creator",
                    "share_bp": 3000,
                },
            ],
            "wholesale": {
                "packages": [
                    {"id": "web", "units": 1, "fee": {"amount_minor": 4_500, "currency": "USD"}}
                ]
            },
        }
        version = propose_contract_version(session, alice, parse_contract_data(document))
        log = AttestationLog(session, services.signer)
        consent_to_version(session, alice, persisted_id(version), "alice", log)
        consent_to_version(session, stored_bob, persisted_id(version), "bob", log)
        publish_offer(session, alice, persisted_id(work), "wholesale", "web")
        session.commit()


def verify_offline(certificate: bytes, key: bytes, folder: Path, name: str) -> str:
    """`copymark verify` in a fresh interpreter (no database, no network); what it proved."""
    path = folder / f"{name}.json"
    path.write_bytes(certificate)
    key_path = folder / "log-key.pem"
    key_path.write_bytes(key)
    checked = subprocess.run(
        [sys.executable, "-m", "frontend.cli", "verify", str(path), "--public-key", str(key_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verifies" in checked.stderr, checked.stderr
    return checked.stderr


def offer_licence(page: Page, case_url: str, shots: Path) -> None:
    """The rights holder, answered by a counter-notice, offers a retroactive licence instead."""
    page.goto(case_url)
    expect(page.locator("h1 .badge.case-state.counter_noticed")).to_have_count(1)
    # The form starts from the work's standard price; the rights holder sets one by hand.
    expect(page.locator("#licence-price")).to_have_attribute("placeholder", "45.00")
    page.fill("#licence-price", "60.00")
    page.click("form.offer-licence button")
    expect(page.locator(".licence-status.pending_payment")).to_have_count(1)
    snap(page, shots, "5-licence-offered")


def test_an_infringement_becomes_a_paid_licence(  # noqa: PLR0917 - fixtures
    journey_page: Page,
    browser: Browser,
    live_url: str,
    viewing: Viewing,
    licensable: None,
    smtp_inbox: tuple[SmtpInbox, int],
    journey_shots: Path,
    tmp_path: Path,
) -> None:
    page = journey_page
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.goto("/alerts")
    page.locator(".alert-card button[value=confirmed]").first.click()
    page.locator(".alert-card h3 a").first.click()
    page.click("form.open-case button")
    expect(page.locator("h1 .badge.case-state.open")).to_have_count(1)
    snap(page, journey_shots, "1-case-opened")
    case_url = page.url

    page.click("a[href^='/profile/legal']")
    page.fill("input[name=legal_name]", "Alice Example Ltd")
    page.fill("textarea[name=postal_address]", "1 Canvas Street, London")
    page.fill("input[name=contact_email]", "legal@alice.example")
    page.click("form.legal-profile button")
    page.fill("textarea[name=recipients]", SITE_CONTACT)
    page.click("form.send-notice button")
    expect(page.locator("h1 .badge.case-state.notice_sent")).to_have_count(1)
    snap(page, journey_shots, "2-notice-sent")

    # The accused party has no account: a fresh browser context, from the mailed link.
    path = response_path(smtp_inbox[0])
    locale = "zh-CN" if viewing.language == "zh" else "en-US"
    with open_tab(browser, live_url, viewing.width, viewing.height, locale) as respondent:
        respondent.goto(path)
        expect(respondent.locator(".respond-copy")).to_have_count(1)
        snap(respondent, journey_shots, "3-respond")
        respondent.fill("textarea[name=material]", "The coffee photo on our gallery page")
        respondent.check("input[name=good_faith_statement]")
        respondent.check("input[name=jurisdiction_consent]")
        respondent.fill("form.counter-notice input[name=name]", "Mallory Shop")
        respondent.fill("textarea[name=address]", "2 Market Road, Springfield")
        respondent.fill("form.counter-notice input[name=email]", "mallory@shop.test")
        respondent.fill("input[name=signature]", "Mallory Shop")
        respondent.click("form.counter-notice button")
        expect(respondent.locator(".answered")).to_have_count(1)
        snap(respondent, journey_shots, "4-counter-notice-filed")

        offer_licence(page, case_url, journey_shots)

        respondent.goto(path)
        expect(respondent.locator("form.pay-licence")).to_have_count(1)
        snap(respondent, journey_shots, "6-licence-to-pay")
        respondent.fill("#card-number", "4242 4242 4242 4242")
        respondent.fill("#card-month", "12")
        respondent.fill("#card-year", "2030")
        respondent.fill("#card-cvc", "123")
        respondent.click("form.pay-licence button")
        expect(respondent.locator(".paid")).to_have_count(1)
        expect(respondent.locator(".licence-status.active")).to_have_count(1)
        snap(respondent, journey_shots, "7-licence-paid")

    page.goto(case_url)
    expect(page.locator("h1 .badge.case-state.resolved_licensed")).to_have_count(1)
    split = page.locator(".licence-split tr")
    expect(split).to_have_count(3)  # the header, Alice's $42.00 and Bob's $18.00
    expect(page.locator(".licence-split")).to_contain_text("42")
    expect(page.locator(".licence-split")).to_contain_text("18")
    snap(page, journey_shots, "8-case-licensed")

    # Every step of the case, and the licence itself, verifies offline.
    key = page.request.get("/api/v1/log/key.pem").body()
    links = page.locator("a.step-certificate").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    assert len(links) == 5  # opened, notice sent, counter-notice, licence offered, licence paid
    for number, link in enumerate(links):
        answer = page.request.get(link)
        assert answer.ok, answer.text()
        verify_offline(answer.body(), key, tmp_path, f"step-{number}")
    grant_link = page.locator(".retroactive-licence a[href$='/certificate']").get_attribute("href")
    assert grant_link is not None
    printed = verify_offline(page.request.get(grant_link).body(), key, tmp_path, "licence")
    # The rights holder's copy opens the settled payment's figures: the $60 paid.
    assert "gross_minor = 6000" in printed, printed

    page.goto("/cases")
    expect(page.locator(".cases .badge.case-state.resolved_licensed")).to_have_count(1)
    # One case, opened and resolved this month: one pair of bars in the report's chart.
    expect(page.locator(".cases-chart .case-month rect")).to_have_count(2)
    snap(page, journey_shots, "9-cases")
