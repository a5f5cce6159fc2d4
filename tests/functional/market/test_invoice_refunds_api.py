"""Refunding a paid royalty invoice through the Stripe sandbox: its split reversed in proportion,
the invoice shown refunded, the grant left active; every refund that cannot be is a 4xx in words
and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from registry.log.events import parse_event
from registry.log.store import AttestationLog
from settlement.events import PaymentSettledEvent
from settlement.ledger import PlatformAccount, platform_account
from settlement.repository import balances
from settlement.service.reconcile import reconcile
from settlement.stripe.sandbox import LocalStripe
from tests.factories import Account
from tests.functional.market.test_invoice_payouts_api import BOB_PAYABLE
from tests.functional.market.test_invoices_api import invoices, pay_invoice, reported_grant
from tests.functional.market.test_payments_api import deliver, refund_event, state
from tests.functional.market.test_payouts_api import onboard, payout_round
from tests.support.localstripe import brand_card
from tests.support.market import API, Market

ALICE_PAYABLE = ("party:acct:alice@example.com:payable", "USD")
ABSORBED = (platform_account(PlatformAccount.ABSORBED_LOSSES), "USD")
CLEARING = (platform_account(PlatformAccount.STRIPE_CLEARING), "USD")


def refund(market: Market, grant_id: int, body: Any = None, account: Account | None = None) -> Any:
    return market.client.post(
        f"{API}/grants/{grant_id}/invoices/2026-10/refunds",
        json=body,
        headers=(account or market.alice).headers,
    )


def ledger(market: Market) -> dict[tuple[str, str], int]:
    with market.services.session() as session:
        return balances(session)


def refunded_event(processor: stripe.StripeClient, intent_id: str) -> dict[str, Any]:
    """The signed event Stripe sends for the charge's refunds so far."""
    charge = processor.v1.payment_intents.retrieve(intent_id).to_dict()["latest_charge"]
    if isinstance(charge, str):
        charge = processor.v1.charges.retrieve(charge).to_dict()
    return {
        "id": f"evt_refunded_{intent_id}_{charge['amount_refunded']}",
        "type": "charge.refunded",
        "data": {"object": charge},
    }


def refunded_at_stripe(processor: stripe.StripeClient, intent_id: str) -> int:
    return int(refunded_event(processor, intent_id)["data"]["object"]["amount_refunded"])


def paid_grant(market: Market, sandbox: LocalStripe) -> tuple[dict[str, Any], str]:
    """A retail grant whose report's invoice of 100.00 is paid: alice is owed 60.00, bob 40.00."""
    grant = reported_grant(market)
    paid = pay_invoice(market, grant["id"], brand_card(sandbox))
    assert paid.json()["status"] == "succeeded", paid.text
    return grant, paid.json()["payment_intent_id"]


def test_an_invoice_refunded_in_part_then_in_full_reverses_its_split_and_shows_refunded(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_grant(market, localstripe)
    assert (ledger(market)[ALICE_PAYABLE], ledger(market)[BOB_PAYABLE]) == (-6_000, -4_000)

    part = refund(market, grant["id"], {"amount_minor": 2_500})
    assert (part.status_code, part.json()["refunded_minor"]) == (201, 2_500), part.text
    figures = ledger(market)
    # A quarter of the invoice comes back from each party's share.
    assert (figures[ALICE_PAYABLE], figures[BOB_PAYABLE]) == (-4_500, -3_000)
    (invoice,) = invoices(market, grant["id"])
    assert (invoice["status"], invoice["refunded_minor"]) == ("paid", 2_500)
    assert refunded_at_stripe(processor, intent) == 2_500

    rest = refund(market, grant["id"])
    assert (rest.status_code, rest.json()["refunded_minor"]) == (201, 10_000), rest.text
    figures = ledger(market)
    assert (figures[ALICE_PAYABLE], figures[BOB_PAYABLE]) == (0, 0)
    assert figures.get(ABSORBED, 0) == 0
    (invoice,) = invoices(market, grant["id"])
    assert (invoice["status"], invoice["refunded_minor"]) == ("refunded", 10_000)
    assert refunded_at_stripe(processor, intent) == 10_000
    with market.services.session() as session:
        settled = parse_event(AttestationLog(session).leaf(invoice["log_index"]).leaf)
    assert isinstance(settled, PaymentSettledEvent)
    assert settled.payment_intent_id == intent
    assert (grant["id"], "active") in state(market)["grants"]

    # Stripe's own event for the same refund comes after: it posts nothing more.
    before = state(market)
    told = deliver(market, refunded_event(processor, intent))
    assert told.json()["outcome"] == f"refunded 10000 of payment {intent}"
    again = pay_invoice(market, grant["id"], brand_card(localstripe))
    assert again.status_code == 409
    assert "refunded in full" in again.json()["detail"]
    assert state(market)["rows"][1:] == before["rows"][1:]
    assert state(market)["leaves"] == before["leaves"]


def test_the_processors_refund_event_for_an_invoice_reverses_its_split_once(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_grant(market, localstripe)
    event = refund_event(processor, intent, 5_000)
    assert deliver(market, event).json()["outcome"] == f"refunded 5000 of payment {intent}"
    settled = state(market)
    deliver(market, {**event, "id": "evt_same_invoice_refund_again"})
    assert state(market)["rows"][2] == settled["rows"][2]
    figures = ledger(market)
    assert (figures[ALICE_PAYABLE], figures[BOB_PAYABLE]) == (-3_000, -2_000)
    (invoice,) = invoices(market, grant["id"])
    assert (invoice["status"], invoice["refunded_minor"]) == ("paid", 5_000)


def test_what_a_party_was_already_paid_out_is_absorbed_by_the_platform(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    httpx.delete(f"{localstripe.api_base}/_config/data").raise_for_status()
    grant, intent = paid_grant(market, localstripe)
    onboard(market, market.bob)
    assert [p.amount_minor for p in payout_round(market)] == [4_000]
    clearing = ledger(market)[CLEARING]

    assert refund(market, grant["id"]).status_code == 201
    figures = ledger(market)
    assert (figures[ALICE_PAYABLE], figures[BOB_PAYABLE]) == (0, 0)
    assert figures[ABSORBED] == 4_000
    assert figures[CLEARING] == clearing - 10_000
    assert refunded_at_stripe(processor, intent) == 10_000
    # Charge, transfer and refund at Stripe are what the ledger says left and came in.
    with market.services.session() as session:
        (result,) = reconcile(session, market.services.payment_gateway)
    assert (result.processor_transactions, result.matched) == (3, True), result


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": "all"}, "amount_minor"),
        ({"amount_minor": 100, "currency": "EUR"}, "currency"),
    ],
)
def test_a_malformed_refund_is_a_422_naming_the_field_and_refunds_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    body: dict[str, Any],
    field: str,
) -> None:
    grant, intent = paid_grant(market, localstripe)
    before = state(market)
    answer = refund(market, grant["id"], body)
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    assert state(market) == before
    assert refunded_at_stripe(processor, intent) == 0


def test_refunds_that_cannot_be_are_refused_in_words_and_write_nothing(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant = reported_grant(market)
    unchanged = state(market)
    unpaid = refund(market, grant["id"])
    assert unpaid.status_code == 409
    assert "is not paid" in unpaid.json()["detail"]
    unknown = market.client.post(
        f"{API}/grants/{grant['id']}/invoices/2026-11/refunds", headers=market.alice.headers
    )
    assert unknown.status_code == 404
    assert "report 2026-11" in unknown.json()["detail"]
    assert state(market) == unchanged

    paid = pay_invoice(market, grant["id"], brand_card(localstripe)).json()
    intent = paid["payment_intent_id"]
    unchanged = state(market)
    stranger = refund(market, grant["id"], account=market.bob)
    assert stranger.status_code == 404
    assert f"license grant {grant['id']} not found" in stranger.json()["detail"]
    own = refund(market, grant["id"], account=market.brand)
    assert own.status_code == 403
    assert "only the rights holder" in own.json()["detail"]
    too_much = refund(market, grant["id"], {"amount_minor": 10_001})
    assert too_much.status_code == 422
    assert "is left to refund" in too_much.json()["detail"]
    assert state(market) == unchanged
    assert refunded_at_stripe(processor, intent) == 0

    assert refund(market, grant["id"]).status_code == 201
    unchanged = state(market)
    twice = refund(market, grant["id"], {"amount_minor": 1})
    assert twice.status_code == 409
    assert "already refunded in full" in twice.json()["detail"]
    assert state(market) == unchanged
    assert refunded_at_stripe(processor, intent) == 10_000
