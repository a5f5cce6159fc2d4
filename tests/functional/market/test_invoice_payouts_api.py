"""A paid royalty invoice's shares reach the parties' payouts through the Stripe sandbox, like a
sale's; an unpaid invoice's shares wait, awaiting collection."""

from __future__ import annotations

from typing import Any

import stripe

from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_invoices_api import pay_invoice, reported_grant
from tests.functional.market.test_payouts_api import onboard, payout_round, transfers
from tests.support.localstripe import brand_card
from tests.support.market import API, Market

BOB_PAYABLE = ("party:acct:bob@example.com:payable", "USD")
BOB_PAID_OUT = ("party:acct:bob@example.com:paid_out", "USD")


def bob_ledger(market: Market) -> dict[tuple[str, str], int]:
    with market.services.session() as session:
        return balances(session, "party:acct:bob@example.com:")


def bob_balance(market: Market) -> dict[str, Any]:
    shown = market.client.get(f"{API}/me/balances", headers=market.bob.headers)
    assert shown.status_code == 200, shown.text
    (balance,) = shown.json()
    return dict(balance)


def test_a_paid_invoice_reaches_a_connected_co_creator_once_and_an_unpaid_one_never(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = reported_grant(market)
    share = -bob_ledger(market)[BOB_PAYABLE]
    assert share > 0
    onboard(market, market.bob)
    assert payout_round(market) == []
    waiting = bob_balance(market)
    assert (waiting["available_minor"], waiting["awaiting_collection_minor"]) == (0, share)

    paid = pay_invoice(market, grant["id"], brand_card(localstripe))
    assert paid.json()["status"] == "succeeded", paid.text
    intent = paid.json()["payment_intent_id"]
    assert bob_balance(market)["available_minor"] == share

    sent = payout_round(market)
    assert [(p.account_reference, p.status, p.amount_minor) for p in sent] == [
        ("acct:bob@example.com", "paid", share)
    ]
    account = market.client.get(f"{API}/me/payout-account", headers=market.bob.headers).json()
    (transfer,) = transfers(processor, intent)
    assert (transfer["amount"], transfer["destination"]) == (share, account["stripe_account_id"])
    assert transfer["source_transaction"].startswith("ch_")
    assert bob_ledger(market) == {BOB_PAYABLE: 0, BOB_PAID_OUT: -share}

    assert payout_round(market) == []
    assert len(transfers(processor, intent)) == 1
    after = bob_balance(market)
    assert (after["available_minor"], after["paid_out_minor"]) == (0, share)
    # Alice has no payout account: her share of the same invoice accrues, visibly.
    alice = market.client.get(f"{API}/me/balances", headers=market.alice.headers).json()
    assert alice[0]["available_minor"] > 0
