"""A case settled by a retroactive licence through the app: the rights holder offers it, the site
reads and pays it with the notice's link in the Stripe sandbox, the webhook replays harmlessly,
and every hostile attempt (another case's link, a second payment, a named amount) is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from sqlmodel import select

from registry.certificates import verify_certificate
from registry.enforcement.models import Case, NoticeForm
from registry.enforcement.schemas import LegalProfileUpdate
from registry.enforcement.service import open_case, save_legal_profile, send_notice
from registry.log.events import parse_event
from registry.models import User, Work
from settlement.models import JournalEntry, Payment
from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from tests.factories import random_png
from tests.functional.market.test_payments_api import deliver, succeeded_event
from tests.support.localstripe import brand_card
from tests.support.market import API, Market
from tests.unit.registry.enforcement.support import AlertMaker


def noticed_case(market: Market, domain: str) -> tuple[int, str]:
    """A case on a copy of Alice's licensed work on `domain`, its notice sent; with its link."""
    registered = market.client.post(
        f"{API}/works",
        headers=market.alice.headers,
        files={"file": ("koi.png", random_png(sum(map(ord, domain))))},
    )
    assert registered.status_code == 201, registered.text
    work_id = int(registered.json()["work_id"])
    market.activate(work_id)
    services = market.services
    with services.session() as session:
        alice = session.get(User, market.alice.user_id)
        work = session.get(Work, work_id)
        assert alice is not None
        assert work is not None
    alert = AlertMaker(services, alice, work).alert(f"http://{domain}/gallery")
    with services.session() as session:
        save_legal_profile(
            session,
            alice,
            LegalProfileUpdate(
                legal_name="Alice Example Ltd",
                postal_address="1 Canvas Street, London",
                contact_email="legal@alice.example",
            ),
        )
        case = open_case(session, alice, [alert.id or 0], services.signer)
        send_notice(
            session,
            alice,
            case.id or 0,
            recipients=[f"dmca@{domain}"],
            form=NoticeForm.DMCA,
            resend=False,
            signer=services.signer,
            mailer=services.mailer(),
            links=services.case_links,
        )
        session.commit()
        return case.id or 0, services.case_links.token(case)


def offer(market: Market, case_id: int, **body: Any) -> Any:
    return market.client.post(
        f"{API}/cases/{case_id}/licence-offers", json=body, headers=market.alice.headers
    )


def pay(market: Market, case_id: int, token: str, body: Any = None) -> Any:
    return market.client.post(f"{API}/responses/{case_id}/{token}/payments", json=body)


def payable(market: Market, reference: str) -> int:
    code = f"party:{reference}:payable"
    with market.services.session() as session:
        return -balances(session, code).get((code, "USD"), 0)


def test_the_site_pays_the_offered_licence_and_the_case_closes_as_licensed(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    case_id, token = noticed_case(market, "shop.test")
    case = market.client.get(f"{API}/cases/{case_id}", headers=market.alice.headers).json()
    alert = market.client.get(f"{API}/alerts/{case['alert_ids'][0]}", headers=market.alice.headers)
    market.offer(alert.json()["work_id"], "wholesale", "bundle")
    offered = offer(market, case_id)  # the standard price: the $100 wholesale bundle
    assert offered.status_code == 201, offered.text
    assert offered.json()["price_minor"] == 10_000
    assert offered.json()["licensed_domain"] == "shop.test"
    seen = market.client.get(f"{API}/responses/{case_id}/{token}/licence")
    assert seen.status_code == 200
    assert seen.json()["status"] == "pending_payment"

    paid = pay(market, case_id, token, {"payment_method": brand_card(localstripe)})
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "succeeded"
    # The processor's webhook for the same success comes afterwards, and again: no second post.
    event = succeeded_event(processor, paid.json()["payment_intent_id"])
    for _ in range(2):
        assert deliver(market, event).status_code == 200
    case = market.client.get(f"{API}/cases/{case_id}", headers=market.alice.headers).json()
    assert case["state"] == "resolved_licensed"
    assert [e["action"] for e in case["events"]][-2:] == ["licence_offered", "licence_paid"]
    assert payable(market, "acct:alice@example.com") == 6_000
    assert payable(market, "acct:bob@example.com") == 4_000
    with market.services.session() as session:
        assert len(session.exec(select(JournalEntry)).all()) == 1
    # The use is licensed for the site now, and every step of the case is a verifiable leaf.
    check = market.client.get(
        f"{API}/licenses/check",
        params={"work_id": offered.json()["work_id"], "domain": "shop.test"},
    )
    assert check.json()["licensed"] is True, check.text
    public_key = market.services.signer.public_key
    for step in case["events"]:
        certificate = market.client.get(
            f"{API}/cases/{case_id}/events/{step['id']}/certificate", headers=market.alice.headers
        ).json()
        assert verify_certificate(certificate, public_key).valid
        assert parse_event(certificate["leaf"].encode()).fields()["case_id"] == case_id
    grant = market.client.get(offered.json()["certificate_url"]).json()
    assert verify_certificate(grant, public_key).valid


def test_a_response_link_pays_only_its_own_case(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    ours, our_token = noticed_case(market, "shop.test")
    theirs, _ = noticed_case(market, "other.test")
    assert offer(market, theirs, price_minor=3_000).status_code == 201
    refused = pay(market, theirs, our_token, {"payment_method": brand_card(localstripe)})
    assert refused.status_code == 404
    assert "not valid" in refused.json()["detail"]
    assert market.client.get(f"{API}/responses/{theirs}/{our_token}/licence").status_code == 404
    with market.services.session() as session:
        assert session.exec(select(Payment)).all() == []
    assert ours != theirs


def test_paying_twice_is_refused_and_posts_once(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    case_id, token = noticed_case(market, "shop.test")
    assert offer(market, case_id, price_minor=2_500).status_code == 201
    assert pay(market, case_id, token, {"payment_method": brand_card(localstripe)}).is_success
    again = pay(market, case_id, token, {"payment_method": brand_card(localstripe)})
    assert again.status_code == 409
    assert "resolved licensed" in again.json()["detail"]
    assert payable(market, "acct:alice@example.com") == 1_500


@pytest.mark.parametrize(
    "body",
    [
        {"amount_minor": 1},
        {"payment_method": "pm_x", "amount": 1},
        {"currency": "JPY"},
    ],
)
def test_the_payer_cannot_name_the_amount(market: Market, body: dict[str, Any]) -> None:
    case_id, token = noticed_case(market, "shop.test")
    assert offer(market, case_id, price_minor=2_500).status_code == 201
    refused = pay(market, case_id, token, body)
    assert refused.status_code == 422
    with market.services.session() as session:
        assert session.exec(select(Payment)).all() == []


def test_a_webhook_for_another_amount_settles_nothing(
    market: Market,
    processor: stripe.StripeClient,
) -> None:
    case_id, token = noticed_case(market, "shop.test")
    assert offer(market, case_id, price_minor=2_500).status_code == 201
    started = pay(market, case_id, token)
    assert started.status_code == 201, started.text
    event = {
        "id": "evt_tampered_amount",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": started.json()["payment_intent_id"],
                "status": "succeeded",
                "amount": 1,
                "currency": "usd",
                "metadata": {"grant_id": str(started.json()["grant_id"])},
            }
        },
    }
    answered = deliver(market, json.loads(json.dumps(event)))
    assert answered.status_code == 200
    assert answered.json()["outcome"].startswith("refused")
    with market.services.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state.value == "notice_sent"
        assert session.exec(select(JournalEntry)).all() == []


def test_only_the_case_owner_offers_a_licence(market: Market) -> None:
    case_id, _ = noticed_case(market, "shop.test")
    refused = market.client.post(
        f"{API}/cases/{case_id}/licence-offers", json={}, headers=market.bob.headers
    )
    assert refused.status_code == 404


CARD = {"card_number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}


@pytest.mark.parametrize(
    "changes",
    [
        {"card_number": "<script>alert(1)</script>"},
        {"exp_month": "13"},
        {"exp_year": "99999999999999999999"},
        {"cvc": "12a"},
        {"card_number": ""},
    ],
)
def test_the_card_form_refuses_what_is_not_a_card(market: Market, changes: dict[str, str]) -> None:
    case_id, token = noticed_case(market, "shop.test")
    assert offer(market, case_id, price_minor=2_500).status_code == 201
    refused = market.client.post(
        f"/respond/{case_id}/{token}/payment", data={**CARD, **changes}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert "<script>alert(1)</script>" not in refused.text
    with market.services.session() as session:
        assert session.exec(select(Payment)).all() == []


def test_the_card_form_pays_only_through_its_own_case_link(market: Market) -> None:
    ours, our_token = noticed_case(market, "shop.test")
    theirs, their_token = noticed_case(market, "other.test")
    assert offer(market, theirs, price_minor=2_500).status_code == 201
    refused = market.client.post(
        f"/respond/{theirs}/{our_token}/payment", data=CARD, follow_redirects=False
    )
    assert refused.status_code == 404
    paid = market.client.post(
        f"/respond/{theirs}/{their_token}/payment", data=CARD, follow_redirects=False
    )
    assert paid.status_code == 303
    page = market.client.get(paid.headers["location"])
    assert "licence-status active" in page.text
    assert ours != theirs
