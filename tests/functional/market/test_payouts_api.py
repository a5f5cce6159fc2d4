"""Payouts through the Stripe sandbox: onboarding, per-sale transfers once, retries, bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlmodel import func, select

from registry.models import utcnow
from settlement.models import JournalEntry, Payout
from settlement.repository import balances
from settlement.service.payouts import run_payouts
from settlement.service.reconcile import reconcile
from settlement.stripe.sandbox import LocalStripe
from tests.factories import Account
from tests.functional.market.test_payments_api import pay, pending_grant
from tests.support.localstripe import brand_card
from tests.support.market import API, Market

ALICE_PAYABLE = ("party:acct:alice@example.com:payable", "USD")
ALICE_PAID_OUT = ("party:acct:alice@example.com:paid_out", "USD")


def sold(market: Market, sandbox: LocalStripe) -> dict[str, Any]:
    """A buyout of 5,000.00 paid by card: alice is owed 3,000.00 and bob 2,000.00."""
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(sandbox))
    assert paid.json()["status"] == "succeeded", paid.text
    return {**grant, "payment_intent_id": paid.json()["payment_intent_id"]}


def payout_round(market: Market, *, later: timedelta = timedelta(0)) -> list[Payout]:
    with market.services.session() as session:
        attempted = run_payouts(
            session,
            gateway=market.services.payment_gateway,
            policy=market.services.payout_policy,
            now=utcnow() + later,
        )
        session.commit()
        return attempted


def ledger(market: Market) -> dict[tuple[str, str], int]:
    with market.services.session() as session:
        return balances(session, "party:acct:alice@example.com:")


def entries(market: Market) -> int:
    with market.services.session() as session:
        return int(session.exec(select(func.count()).select_from(JournalEntry)).one())


def onboard(market: Market, account: Account) -> None:
    """Connect a payout account and fill in Stripe's onboarding form, as the payee would."""
    connected = market.client.post(f"{API}/me/payout-account", headers=account.headers)
    assert connected.status_code == 200, connected.text
    link = connected.json()["onboarding_url"]
    assert link is not None
    assert httpx.get(link).status_code == 200
    submitted = httpx.post(link, follow_redirects=False)
    assert submitted.status_code == 303
    assert submitted.headers["location"].endswith("/money?onboarding=done")


def transfers(processor: stripe.StripeClient, intent_id: str) -> list[dict[str, Any]]:
    found = processor.v1.transfers.list(params={"transfer_group": f"sale-{intent_id}"})
    return [transfer.to_dict() for transfer in found.data]


def test_a_party_without_a_payout_account_accrues_visibly(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    sold(market, localstripe)
    assert payout_round(market) == []
    shown = market.client.get(f"{API}/me/balances", headers=market.alice.headers).json()
    assert [(b["currency"], b["available_minor"], b["pending_minor"]) for b in shown] == [
        ("USD", 300_000, 0)
    ]
    account = market.client.get(f"{API}/me/payout-account", headers=market.alice.headers).json()
    assert (account["connected"], account["payouts_enabled"]) == (False, False)
    assert "accrue" in account["requirements"]
    assert ledger(market) == {ALICE_PAYABLE: -300_000}


def test_after_onboarding_each_sale_is_transferred_once_and_posted_payable_to_paid_out(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    sale = sold(market, localstripe)
    connected = market.client.post(f"{API}/me/payout-account", headers=market.alice.headers)
    assert connected.json()["payouts_enabled"] is False
    assert "Stripe needs" in connected.json()["requirements"]
    assert payout_round(market) == []

    onboard(market, market.alice)
    account = market.client.get(f"{API}/me/payout-account", headers=market.alice.headers).json()
    assert (account["payouts_enabled"], account["requirements"]) == (True, "")
    paid = payout_round(market)
    assert [(p.status, p.amount_minor) for p in paid] == [("paid", 300_000)]
    assert ledger(market) == {ALICE_PAYABLE: 0, ALICE_PAID_OUT: -300_000}
    (transfer,) = transfers(processor, sale["payment_intent_id"])
    assert (transfer["amount"], transfer["destination"]) == (300_000, account["stripe_account_id"])
    assert transfer["source_transaction"].startswith("ch_")

    assert payout_round(market) == []
    assert len(transfers(processor, sale["payment_intent_id"])) == 1
    shown = market.client.get(f"{API}/me/payouts", headers=market.alice.headers).json()
    assert [(p["status"], p["stripe_transfer_id"]) for p in shown] == [("paid", transfer["id"])]
    balance = market.client.get(f"{API}/me/balances", headers=market.alice.headers).json()
    assert (balance[0]["available_minor"], balance[0]["paid_out_minor"]) == (0, 300_000)


def test_a_round_rolled_back_after_its_transfer_transfers_nothing_more_when_run_again(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    sale = sold(market, localstripe)
    onboard(market, market.alice)
    with market.services.session() as session:
        run_payouts(
            session,
            gateway=market.services.payment_gateway,
            policy=market.services.payout_policy,
            now=utcnow(),
        )
        session.rollback()  # the worker died before its transaction committed
    assert len(transfers(processor, sale["payment_intent_id"])) == 1
    assert ledger(market) == {ALICE_PAYABLE: -300_000}

    assert [p.status for p in payout_round(market)] == ["paid"]
    assert len(transfers(processor, sale["payment_intent_id"])) == 1
    assert ledger(market) == {ALICE_PAYABLE: 0, ALICE_PAID_OUT: -300_000}


def test_a_refused_transfer_is_shown_with_what_to_do_and_retried(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    sale = sold(market, localstripe)
    onboard(market, market.alice)
    account = market.client.get(f"{API}/me/payout-account", headers=market.alice.headers).json()
    localstripe.restrict_account(account["stripe_account_id"], "requirements.past_due")
    # Stripe restricted the account after our last look: the transfer itself is refused.
    (failed,) = payout_round(market)
    assert (failed.status, failed.attempts) == ("failed", 1)
    shown = market.client.get(f"{API}/me/payouts", headers=market.alice.headers).json()
    assert "capabilities" in shown[0]["problem"]
    assert "Finish onboarding under Payout settings" in shown[0]["problem"]
    assert "We retry automatically" in shown[0]["problem"]
    assert ledger(market) == {ALICE_PAYABLE: -300_000}
    pending = market.client.get(f"{API}/me/balances", headers=market.alice.headers).json()[0]
    assert (pending["available_minor"], pending["in_transfer_minor"]) == (0, 300_000)

    assert payout_round(market) == []  # not due before its retry time
    localstripe.restrict_account(account["stripe_account_id"], None)
    (retried,) = payout_round(market, later=timedelta(minutes=2))
    assert (retried.status, retried.attempts, retried.problem) == ("paid", 2, None)
    assert len(transfers(processor, sale["payment_intent_id"])) == 1
    assert ledger(market) == {ALICE_PAYABLE: 0, ALICE_PAID_OUT: -300_000}


def test_a_payout_asked_for_now_moves_only_what_is_available(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    sale = sold(market, localstripe)
    onboard(market, market.alice)
    asked = market.client.post(
        f"{API}/me/payouts",
        json={"currency": "USD", "amount_minor": 120_000},
        headers=market.alice.headers,
    )
    assert asked.status_code == 201, asked.text
    assert [(p["status"], p["amount_minor"]) for p in asked.json()] == [("paid", 120_000)]
    assert ledger(market) == {ALICE_PAYABLE: -180_000, ALICE_PAID_OUT: -120_000}
    (rest,) = payout_round(market)
    assert rest.amount_minor == 180_000
    assert [t["amount"] for t in transfers(processor, sale["payment_intent_id"])] == [
        120_000,
        180_000,
    ]


def test_a_payout_to_an_account_stripe_has_not_enabled_is_refused_and_posts_nothing(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    sold(market, localstripe)
    body = {"currency": "USD", "amount_minor": 10_000}
    before = entries(market)
    unconnected = market.client.post(f"{API}/me/payouts", json=body, headers=market.alice.headers)
    assert (unconnected.status_code, unconnected.json()["code"]) == (409, "payouts_not_enabled")
    assert "connect one under Payout settings" in unconnected.json()["detail"]
    market.client.post(f"{API}/me/payout-account", headers=market.alice.headers)
    refused = market.client.post(f"{API}/me/payouts", json=body, headers=market.alice.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "payouts_not_enabled")
    assert "finish onboarding" in refused.json()["detail"]
    assert entries(market) == before
    with market.services.session() as session:
        assert session.exec(select(func.count()).select_from(Payout)).one() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "USD", "amount_minor": -500}, "amount_minor"),
        ({"currency": "USD", "amount_minor": 0}, "amount_minor"),
        ({"currency": "USD", "amount_minor": 10**15 + 1}, "amount_minor"),
        ({"currency": "USD", "amount_minor": 2**63}, "amount_minor"),
        ({"currency": "USD", "amount_minor": 12.5}, "amount_minor"),
        ({"currency": "USD", "amount_minor": "1000"}, "amount_minor"),
        ({"currency": "usd", "amount_minor": 1000}, "currency"),
        ({"currency": "USD", "amount_minor": 1000, "destination": "acct_x"}, "destination"),
    ],
)
def test_a_malformed_payout_request_is_a_422_naming_the_field_and_posts_nothing(
    market: Market,
    localstripe: LocalStripe,
    body: dict[str, Any],
    field: str,
) -> None:
    sold(market, localstripe)
    onboard(market, market.alice)
    before = entries(market)
    refused = market.client.post(f"{API}/me/payouts", json=body, headers=market.alice.headers)
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["detail"]
    assert entries(market) == before


def test_more_than_is_available_or_less_than_the_minimum_is_refused_in_words(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    sold(market, localstripe)
    onboard(market, market.alice)
    before = entries(market)
    too_much = market.client.post(
        f"{API}/me/payouts",
        json={"currency": "USD", "amount_minor": 300_001},
        headers=market.alice.headers,
    )
    assert (too_much.status_code, too_much.json()["code"]) == (422, "payout_amount")
    assert "Only 3000.00 USD is available" in too_much.json()["detail"]
    too_little = market.client.post(
        f"{API}/me/payouts",
        json={"currency": "USD", "amount_minor": 999},
        headers=market.alice.headers,
    )
    assert (too_little.status_code, too_little.json()["code"]) == (422, "payout_amount")
    unknown = market.client.post(
        f"{API}/me/payouts",
        json={"currency": "XQZ", "amount_minor": 5_000},
        headers=market.alice.headers,
    )
    assert unknown.status_code == 422, unknown.text
    assert entries(market) == before


def test_payouts_need_a_signed_in_party(market: Market) -> None:
    anonymous = market.client.post(
        f"{API}/me/payouts", json={"currency": "USD", "amount_minor": 5_000}
    )
    assert anonymous.status_code == 401


def test_the_ledger_still_reconciles_with_stripe_after_a_transfer(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    httpx.delete(f"{localstripe.api_base}/_config/data").raise_for_status()
    sold(market, localstripe)
    onboard(market, market.alice)
    assert [p.status for p in payout_round(market)] == ["paid"]
    with market.services.session() as session:
        (result,) = reconcile(session, market.services.payment_gateway)
    assert (result.ledger_minor, result.processor_transactions, result.matched) == (
        200_000,
        2,
        True,
    )
