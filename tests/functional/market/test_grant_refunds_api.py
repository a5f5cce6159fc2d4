"""The publisher refunds a grant's paid price through the Stripe sandbox: the split reversed in
proportion, a `payment_refunded` leaf on the log, the grant ended by a full refund; every refund
that cannot be is a 4xx in words and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from sqlmodel import func, select

from registry.log.commitments import openings_from_json
from registry.log.events import parse_event
from registry.log.merkle import leaf_hash, verify_inclusion
from registry.log.store import AttestationLog
from settlement.events import PaymentRefundedEvent
from settlement.models import JournalEntry, PaymentRefund
from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from tests.factories import Account
from tests.functional.market.test_invoice_refunds_api import refunded_at_stripe, refunded_event
from tests.functional.market.test_payments_api import deliver, pay, pending_grant, state
from tests.functional.market.test_payouts_api import onboard, payout_round
from tests.support.localstripe import brand_card
from tests.support.market import API, Market

ALICE = "acct:alice@example.com"
BOB = "acct:bob@example.com"


def refund(market: Market, grant_id: int, body: Any = None, account: Account | None = None) -> Any:
    return market.client.post(
        f"{API}/grants/{grant_id}/refunds", json=body, headers=(account or market.alice).headers
    )


def paid_grant(market: Market, sandbox: LocalStripe) -> tuple[dict[str, Any], str]:
    """A wholesale grant of 100.00 paid by card: alice is owed 60.00, bob 40.00."""
    grant = pending_grant(market, "wholesale")
    paid = pay(market, grant["id"], brand_card(sandbox))
    assert paid.json()["status"] == "succeeded", paid.text
    return grant, paid.json()["payment_intent_id"]


def everything(market: Market) -> dict[str, Any]:
    """What a refund could write: the market's state, refund rows and every balance."""
    market_state = state(market)
    with market.services.session() as session:
        refunds = session.exec(select(func.count()).select_from(PaymentRefund)).one()
        return {**market_state, "refunds": refunds, "balances": balances(session)}


def payable(market: Market) -> tuple[int, int]:
    with market.services.session() as session:
        owed = balances(session, "party:")
    return owed[(f"party:{ALICE}:payable", "USD")], owed[(f"party:{BOB}:payable", "USD")]


def refund_leaf(market: Market, log_index: int) -> tuple[PaymentRefundedEvent, PaymentRefund]:
    """The refund's leaf, checked against the log's root by its inclusion proof, and its row."""
    with market.services.session() as session:
        log = AttestationLog(session)
        leaf = log.leaf(log_index).leaf
        size = log.tree_size()
        proof = log.inclusion_proof(log_index, size)
        assert verify_inclusion(leaf_hash(leaf), log_index, size, proof, log.root_hash(size))
        row = session.exec(select(PaymentRefund).where(PaymentRefund.log_index == log_index)).one()
        session.expunge(row)
    event = parse_event(leaf)
    assert isinstance(event, PaymentRefundedEvent)
    return event, row


def test_a_grant_refunded_in_part_then_in_full_reverses_its_split_and_logs_each_refund(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_grant(market, localstripe)
    assert payable(market) == (-6_000, -4_000)

    part = refund(market, grant["id"], {"amount_minor": 2_500})
    assert (part.status_code, part.json()["refunded_minor"]) == (201, 2_500), part.text
    assert payable(market) == (-4_500, -3_000)
    assert refunded_at_stripe(processor, intent) == 2_500
    assert (grant["id"], "active") in state(market)["grants"]
    with market.services.session() as session:
        (first,) = session.exec(select(PaymentRefund)).all()
        digest = session.get(JournalEntry, first.journal_entry_id)
        assert digest is not None
        entry_digest = digest.digest
    event, row = refund_leaf(market, first.log_index)
    assert (event.grant_id, event.payment_intent_id, event.currency) == (grant["id"], intent, "USD")
    assert event.journal_entry_key == f"refund:{intent}:2500"
    openings = openings_from_json(row.log_openings)
    assert {name: opening.commitment for name, opening in openings.items()} == event.commitments
    assert {name: opening.value for name, opening in openings.items()} == {
        "refunded_minor": 2_500,
        "allocations": [
            {"account": ALICE, "amount_minor": 1_500},
            {"account": BOB, "amount_minor": 1_000},
        ],
        "absorbed_minor": 0,
        "journal_entry_digest": entry_digest,
    }
    assert row.refunded_total_minor == 2_500

    rest = refund(market, grant["id"])
    assert (rest.status_code, rest.json()["refunded_minor"]) == (201, 10_000), rest.text
    assert payable(market) == (0, 0)
    assert (grant["id"], "refunded") in state(market)["grants"]
    assert refunded_at_stripe(processor, intent) == 10_000
    with market.services.session() as session:
        last_index = max(row.log_index for row in session.exec(select(PaymentRefund)))
    event, row = refund_leaf(market, last_index)
    assert last_index > first.log_index
    assert event.journal_entry_key == f"refund:{intent}:10000"
    assert openings_from_json(row.log_openings)["refunded_minor"].value == 7_500

    # Stripe's own event for the same refund, delivered after and again: nothing more.
    before = everything(market)
    told = deliver(market, refunded_event(processor, intent))
    assert told.json()["outcome"] == f"refunded 10000 of payment {intent}"
    deliver(market, {**refunded_event(processor, intent), "id": "evt_grant_refund_replayed"})
    after = everything(market)
    assert after["leaves"] == before["leaves"]
    assert after["refunds"] == before["refunds"] == 2
    assert after["balances"] == before["balances"]
    assert after["rows"][1:] == before["rows"][1:]


def test_the_processors_refund_event_appends_its_leaf_once(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_grant(market, localstripe)
    processor.v1.refunds.create(params={"payment_intent": intent, "amount": 4_000})
    event = refunded_event(processor, intent)
    leaves = state(market)["leaves"]
    assert deliver(market, event).json()["outcome"] == f"refunded 4000 of payment {intent}"
    assert state(market)["leaves"] == leaves + 1
    logged = everything(market)
    deliver(market, {**event, "id": "evt_same_grant_refund_again"})
    again = everything(market)
    assert (again["leaves"], again["refunds"], again["balances"]) == (
        logged["leaves"],
        logged["refunds"],
        logged["balances"],
    )
    event_leaf, row = refund_leaf(market, leaves)
    assert event_leaf.journal_entry_key == f"refund:{intent}:4000"
    assert openings_from_json(row.log_openings)["allocations"].value == [
        {"account": ALICE, "amount_minor": 2_400},
        {"account": BOB, "amount_minor": 1_600},
    ]
    assert (grant["id"], "active") in state(market)["grants"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": 2**63}, "amount_minor"),
        ({"amount_minor": 10**40}, "amount_minor"),
        ({"amount_minor": "all"}, "amount_minor"),
        ({"amount_minor": 1.5}, "amount_minor"),
        ({"amount_minor": 100, "currency": "EUR"}, "currency"),
    ],
)
def test_a_malformed_grant_refund_is_a_422_naming_the_field_and_refunds_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    body: dict[str, Any],
    field: str,
) -> None:
    grant, intent = paid_grant(market, localstripe)
    before = everything(market)
    answer = refund(market, grant["id"], body)
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    assert everything(market) == before
    assert refunded_at_stripe(processor, intent) == 0


def test_grant_refunds_that_cannot_be_are_refused_in_words_and_write_nothing(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    unpaid_grant = pending_grant(market, "wholesale")
    unchanged = everything(market)
    unpaid = refund(market, unpaid_grant["id"])
    assert unpaid.status_code == 409
    assert f"license grant {unpaid_grant['id']} is not paid" in unpaid.json()["detail"]
    missing = refund(market, 2**31 - 1)
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    assert everything(market) == unchanged

    grant, intent = paid_grant(market, localstripe)
    unchanged = everything(market)
    stranger = refund(market, grant["id"], account=market.bob)
    assert stranger.status_code == 404
    assert f"license grant {grant['id']} not found" in stranger.json()["detail"]
    own = refund(market, grant["id"], account=market.brand)
    assert own.status_code == 403
    assert "only the rights holder" in own.json()["detail"]
    too_much = refund(market, grant["id"], {"amount_minor": 10_001})
    assert too_much.status_code == 422
    assert "is left to refund" in too_much.json()["detail"]
    assert everything(market) == unchanged
    assert refunded_at_stripe(processor, intent) == 0

    assert refund(market, grant["id"]).status_code == 201
    unchanged = everything(market)
    twice = refund(market, grant["id"], {"amount_minor": 1})
    assert twice.status_code == 409
    assert "already refunded in full" in twice.json()["detail"]
    assert everything(market) == unchanged
    assert refunded_at_stripe(processor, intent) == 10_000


def test_the_refund_leaf_names_what_the_platform_absorbed(
    market: Market, localstripe: LocalStripe
) -> None:
    grant, _intent = paid_grant(market, localstripe)
    onboard(market, market.bob)
    assert [p.amount_minor for p in payout_round(market)] == [4_000]
    assert refund(market, grant["id"]).status_code == 201
    with market.services.session() as session:
        (row,) = session.exec(select(PaymentRefund)).all()
        index = row.log_index
    _event, row = refund_leaf(market, index)
    openings = openings_from_json(row.log_openings)
    assert openings["absorbed_minor"].value == 4_000
