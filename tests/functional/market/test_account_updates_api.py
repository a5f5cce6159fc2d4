"""Stripe's `account.updated` webhook: a connected account's payouts start and stop with it."""

from __future__ import annotations

import time
from typing import Any

import stripe
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlmodel import select

from settlement.models import ConnectedAccount, Payout
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_payments_api import deliver
from tests.functional.market.test_payouts_api import onboard, payout_round, sold
from tests.support.market import API, Market


def stored_account(market: Market) -> ConnectedAccount:
    with market.services.session() as session:
        account = session.exec(select(ConnectedAccount)).one()
        session.expunge(account)
        return account


def account_updated(
    processor: stripe.StripeClient, account_id: str, event_id: str, created: int
) -> dict[str, Any]:
    """The event Stripe sends when an account changes, carrying the account as it is now."""
    account = processor.v1.accounts.retrieve(account_id).to_dict()
    return {
        "id": event_id,
        "object": "event",
        "type": "account.updated",
        "created": created,
        "data": {"object": account},
    }


def onboarded(market: Market) -> str:
    """Alice onboards and the app reads her account back from Stripe: payouts are enabled."""
    onboard(market, market.alice)
    shown = market.client.get(f"{API}/me/payout-account", headers=market.alice.headers).json()
    assert shown["payouts_enabled"] is True
    assert stored_account(market).payouts_enabled is True
    return str(shown["stripe_account_id"])


def connect(market: Market) -> str:
    connected = market.client.post(f"{API}/me/payout-account", headers=market.alice.headers)
    assert connected.status_code == 200, connected.text
    return str(connected.json()["stripe_account_id"])


def test_an_account_enabled_by_stripe_is_paid_its_accrued_balance_at_the_next_round(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    sold(market, localstripe)
    account_id = connect(market)
    assert stored_account(market).payouts_enabled is False
    localstripe.restrict_account(account_id, None)
    delivered = deliver(market, account_updated(processor, account_id, "evt_on", int(time.time())))
    assert delivered.json()["outcome"] == f"payouts enabled for account {account_id}"
    assert (stored_account(market).payouts_enabled, stored_account(market).requirements) == (
        True,
        "",
    )
    paid = payout_round(market)
    assert [(payout.status, payout.amount_minor) for payout in paid] == [("paid", 300_000)]


def test_an_account_that_loses_payouts_is_paid_nothing_and_the_money_page_says_why(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    account_id = onboarded(market)
    localstripe.restrict_account(account_id, "requirements.past_due")
    event = account_updated(processor, account_id, "evt_off", int(time.time()))
    delivered = deliver(market, event)
    assert delivered.json()["outcome"].startswith(f"payouts stopped for account {account_id}")
    assert stored_account(market).payouts_enabled is False
    sold(market, localstripe)
    assert payout_round(market) == []
    with market.services.session() as session:
        assert session.exec(select(Payout)).all() == []
    page = HTMLParser(market.client.get("/money", headers=market.alice.headers).text)
    assert "requirements.past_due" in page.text()
    assert deliver(market, event).json()["duplicate"] is True


def test_a_late_delivery_of_an_older_state_changes_nothing(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    account_id = onboarded(market)
    localstripe.restrict_account(account_id, "requirements.past_due")
    stale = account_updated(processor, account_id, "evt_stale", int(time.time()) - 3600)
    assert "older than its state" in deliver(market, stale).json()["outcome"]
    assert stored_account(market).payouts_enabled is True


def test_an_account_update_for_someone_elses_account_is_ignored(
    market: Market, processor: stripe.StripeClient
) -> None:
    created = processor.v1.accounts.create(params={"type": "express", "email": "x@x.example"})
    event = account_updated(processor, created.id, "evt_foreign", int(time.time()))
    assert "is not ours" in deliver(market, event).json()["outcome"]
