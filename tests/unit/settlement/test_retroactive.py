"""A case settled by a retroactive licence: offered from the case, paid through the sandbox by the
site the case names, split under the work's contract, and the case resolved as licensed."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from sqlmodel import Session, select

from licensing.errors import InvalidSaleEventError
from licensing.models import GrantStatus, LicenseGrant
from licensing.money import Money
from licensing.service.license_check import is_use_licensed
from licensing.service.offers import publish_offer
from licensing.service.retroactive import offer_retroactive_licence, standard_price
from registry.enforcement.errors import IllegalTransition, ResponseLinkInvalid
from registry.enforcement.models import Case, CaseAlert, CaseEvent, CaseState
from registry.enforcement.service import CaseLinks
from registry.errors import NotFound
from registry.log.events import parse_event
from registry.models import persisted_id
from registry.monitoring.models import Alert, AlertStatus
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.models import JournalEntry, Payment, PaymentStatus
from settlement.repository import balances
from settlement.service.payments import settle_intent, start_case_payment
from settlement.service.webhooks import receive_webhook
from settlement.stripe.gateway import IntentSnapshot, StripeGateway
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from settlement.stripe.signatures import sign
from tests.support.localstripe import brand_card, localstripe  # noqa: F401 - the fixture
from tests.unit.licensing.factories import usd
from tests.unit.licensing.service.support import World

LINKS = CaseLinks("https://copymark.test", b"r" * 32)
SECRET = "whsec_retroactive"


@pytest.fixture
def gateway(localstripe: LocalStripe) -> StripeGateway:  # noqa: F811
    return StripeGateway(SANDBOX_API_KEY, localstripe.api_base)


@pytest.fixture
def processor(localstripe: LocalStripe) -> stripe.StripeClient:  # noqa: F811
    return stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": localstripe.api_base})


@pytest.fixture
def market(world: World) -> Iterator[World]:
    """Ana's work under an active contract (10% platform fee, then 60/40 with Ben) that sells
    wholesale packages of $120 and $40."""
    packages = {
        "packages": [
            {"id": "bundle", "units": 100, "fee": usd(12_000)},
            {"id": "single", "units": 1, "fee": usd(4_000)},
        ]
    }
    world.activate(world.document(wholesale=packages))
    return world


def noticed_case(world: World, domain: str = "shop.test", work_id: int | None = None) -> Case:
    """A case whose notice went out about a confirmed copy of the work on `domain`."""
    session = world.session
    case = Case(
        owner_id=persisted_id(world.ana),
        domain=domain,
        state=CaseState.NOTICE_SENT,
        response_nonce=secrets.token_hex(16),
    )
    session.add(case)
    session.flush()
    alert = Alert(
        work_id=work_id or persisted_id(world.work),
        image_sha256=secrets.token_hex(32),
        image_url=f"https://{domain}/copy.png",
        image_url_sha256=secrets.token_hex(32),
        page_url=f"https://{domain}/gallery",
        domain=domain,
        score=0.9,
        verified=True,
        status=AlertStatus.TAKEDOWN_SENT,
        evidence_sha256=secrets.token_hex(32),
        manifest_sha256=secrets.token_hex(32),
        log_index=0,
    )
    session.add(alert)
    session.flush()
    session.add(CaseAlert(case_id=persisted_id(case), alert_id=persisted_id(alert)))
    session.flush()
    return case


def offer(world: World, case: Case, cents: int | None = 7_500) -> LicenseGrant:
    price = None if cents is None else Money(cents, "USD")
    return offer_retroactive_licence(
        world.session, world.ana, persisted_id(case), world.log, price=price
    )


def pay(world: World, case: Case, gateway: StripeGateway, method: str) -> Payment:
    started = start_case_payment(
        world.session,
        persisted_id(case),
        LINKS.token(case),
        links=LINKS,
        gateway=gateway,
        log=world.log,
        payment_method=method,
    )
    return started.payment


def payable(session: Session, reference: str) -> int:
    code = f"party:{reference}:payable"
    return -balances(session, code).get((code, "USD"), 0)


def test_the_standard_price_is_the_cheapest_open_wholesale_offer(market: World) -> None:
    work_id = persisted_id(market.work)
    assert standard_price(market.session, work_id) is None
    publish_offer(market.session, market.ana, work_id, "wholesale", "bundle")
    assert standard_price(market.session, work_id) == Money(12_000, "USD")
    publish_offer(market.session, market.ana, work_id, "wholesale", "single")
    assert standard_price(market.session, work_id) == Money(4_000, "USD")
    case = noticed_case(market)
    assert offer(market, case, cents=None).gross_minor == 4_000


def test_without_an_offer_to_derive_from_the_price_must_be_set_by_hand(market: World) -> None:
    case = noticed_case(market)
    with pytest.raises(InvalidSaleEventError, match="set the licence's price by hand"):
        offer(market, case, cents=None)


def test_a_paid_licence_resolves_the_case_and_splits_like_a_sale(
    market: World,
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    session = market.session
    case = noticed_case(market)
    grant = offer(market, case)
    assert grant.status == GrantStatus.PENDING_PAYMENT
    assert grant.licensee_id is None
    assert not is_use_licensed(session, persisted_id(market.work), "https://shop.test/gallery")

    payment = pay(market, case, gateway, brand_card(localstripe))

    assert payment.status == PaymentStatus.SUCCEEDED
    session.refresh(grant)
    assert grant.status == GrantStatus.ACTIVE
    assert case.state == CaseState.RESOLVED_LICENSED
    # $75 less the platform's 10%, then Ana's 60% and Ben's 40%, to the cent.
    assert payable(session, "acct:ana@example.com") == 4_050
    assert payable(session, "acct:ben@example.com") == 2_700
    revenue = balances(session, "platform:revenue")[("platform:revenue", "USD")]
    assert -revenue == 750
    # The licence now covers the site, and no other.
    assert is_use_licensed(session, persisted_id(market.work), "https://shop.test/other-page")
    assert not is_use_licensed(session, persisted_id(market.work), "https://evilshop.test/")
    # Every step is on the log: the grant, the offer step, the payment, the resolution.
    steps = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [step.action for step in steps] == ["licence_offered", "licence_paid"]
    settled = parse_event(market.log.leaf(payment.log_index or 0).leaf)
    assert settled.fields()["grant_id"] == grant.id
    alert_states = {alert.status for alert in session.exec(select(Alert)).all()}
    assert alert_states == {AlertStatus.LICENSED}


def test_paying_twice_posts_once(
    market: World,
    gateway: StripeGateway,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    session = market.session
    case = noticed_case(market)
    offer(market, case)
    payment = pay(market, case, gateway, brand_card(localstripe))
    with pytest.raises((PaymentStateError, IllegalTransition)):
        pay(market, case, gateway, brand_card(localstripe))
    # The processor's webhook for the same success arrives afterwards, twice.
    event = next(
        item.to_dict()
        for item in processor.v1.events.list().auto_paging_iter()
        if item.type == "payment_intent.succeeded"
        and item.data.object.id == payment.payment_intent_id
    )
    for _ in range(2):
        deliver(market, event, gateway)
    entries = session.exec(select(JournalEntry).where(JournalEntry.kind == "payment")).all()
    assert len(entries) == 1
    assert payable(session, "acct:ana@example.com") == 4_050


def deliver(world: World, event: dict[str, Any], gateway: StripeGateway) -> None:
    payload = json.dumps(event).encode()
    now = int(time.time())
    receive_webhook(
        world.session,
        payload,
        sign(payload, SECRET, now),
        secret=SECRET,
        fee_of=gateway.fee_of,
        log=world.log,
        now=now,
    )


def test_a_tampered_amount_settles_nothing(
    market: World, gateway: StripeGateway, processor: stripe.StripeClient
) -> None:
    session = market.session
    case = noticed_case(market)
    grant = offer(market, case)
    started = start_case_payment(
        session, persisted_id(case), LINKS.token(case), links=LINKS, gateway=gateway, log=market.log
    )
    # The processor reports the intent paid for one cent: nothing is settled.
    tampered = IntentSnapshot(
        id=started.payment.payment_intent_id,
        status="succeeded",
        amount=Money(1, "USD"),
        grant_id=grant.id,
        client_secret=None,
    )
    with pytest.raises(PaymentMismatchError):
        settle_intent(session, tampered, fee=Money.zero("USD"), log=market.log)
    session.refresh(grant)
    assert grant.status == GrantStatus.PENDING_PAYMENT
    assert case.state == CaseState.NOTICE_SENT
    assert session.exec(select(JournalEntry)).all() == []


def test_a_response_link_cannot_pay_another_case(
    market: World,
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    ours = noticed_case(market, "shop.test")
    theirs = noticed_case(market, "other.test")
    offer(market, theirs)
    with pytest.raises(ResponseLinkInvalid):
        start_case_payment(
            market.session,
            persisted_id(theirs),
            LINKS.token(ours),
            links=LINKS,
            gateway=gateway,
            log=market.log,
            payment_method=brand_card(localstripe),
        )
    assert market.session.exec(select(Payment)).all() == []


def test_only_the_case_owner_offers_and_only_while_a_notice_stands(market: World) -> None:
    case = noticed_case(market)
    with pytest.raises(NotFound):
        offer_retroactive_licence(
            market.session, market.ben, persisted_id(case), market.log, price=Money(100, "USD")
        )
    case.state = CaseState.OPEN
    with pytest.raises(IllegalTransition, match="send the notice"):
        offer(market, case)


def test_a_new_offer_replaces_the_one_before(market: World) -> None:
    case = noticed_case(market)
    first = offer(market, case, 9_000)
    second = offer(market, case, 6_000)
    market.session.refresh(first)
    assert first.status == GrantStatus.CANCELLED
    assert second.status == GrantStatus.PENDING_PAYMENT
    assert second.gross_minor == 6_000
