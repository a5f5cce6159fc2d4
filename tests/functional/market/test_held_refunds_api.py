"""Refunding a sale whose shares are held while its work's ownership is disputed: the refund takes
the parties' parts back out of held, the holds record it, and the decision moves only the rest,
so no cent the licensee got back is paid out as well."""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlmodel import select

from licensing.models import LicenseGrant
from registry.log.commitments import openings_from_json
from registry.models import persisted_id
from settlement.ledger import PlatformAccount, platform_account
from settlement.models import JournalEntry, PaymentRefund
from settlement.repository import balances, unbalanced_entries
from settlement.service.statements import royalty_history
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_disputes_api import admin, dispute_paid_sale, owed
from tests.functional.market.test_grant_refunds_api import refund
from tests.functional.market.test_money_page import figure
from tests.support.market import API, Market

ALICE = "acct:alice@example.com"
BOB = "acct:bob@example.com"
CLEO = "acct:cleo@example.com"


def decide(market: Market, dispute: dict[str, Any], outcome: str) -> None:
    decided = market.client.post(
        f"{API}/disputes/{dispute['id']}/decision",
        json={"outcome": outcome, "reason": "decided"},
        headers=admin(market).headers,
    )
    assert decided.status_code == 200, decided.text


def holds(market: Market, dispute: dict[str, Any]) -> dict[str, tuple[str, int, int]]:
    """Each party's hold: its state, what was held and what refunds took back of it."""
    answer = market.client.get(
        f"{API}/disputes/{dispute['id']}/held-royalties", headers=market.alice.headers
    )
    assert answer.status_code == 200, answer.text
    return {
        row["account_reference"]: (row["status"], row["amount_minor"], row["refunded_minor"])
        for row in answer.json()
    }


def grant_of(market: Market, work_id: int) -> int:
    """The licence the disputed sale granted."""
    with market.services.session() as session:
        return persisted_id(
            session.exec(select(LicenseGrant).where(LicenseGrant.work_id == work_id)).one()
        )


def platform(market: Market, kind: PlatformAccount) -> int:
    code = platform_account(kind)
    with market.services.session() as session:
        return balances(session, code).get((code, "USD"), 0)


def ledger_balances(market: Market) -> None:
    with market.services.session() as session:
        ids = [entry.id for entry in session.exec(select(JournalEntry)) if entry.id is not None]
        assert unbalanced_entries(session, ids) == []


def last_refund_allocations(market: Market) -> list[dict[str, Any]]:
    with market.services.session() as session:
        rows = session.exec(select(PaymentRefund)).all()
        latest = max(rows, key=lambda row: row.log_index)
        allocations = openings_from_json(latest.log_openings)["allocations"].value
    assert isinstance(allocations, list)
    return allocations


def test_a_held_sale_refunded_in_full_then_rejected_releases_nothing(
    market: Market, localstripe: LocalStripe
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    grant_id = grant_of(market, work_id)
    refunded = refund(market, grant_id)
    assert (refunded.status_code, refunded.json()["refunded_minor"]) == (201, 10_000)
    assert [owed(market, party, "held") for party in (ALICE, BOB)] == [0, 0]
    assert holds(market, dispute) == {
        ALICE: ("refunded", 6_000, 6_000),
        BOB: ("refunded", 4_000, 4_000),
    }
    assert last_refund_allocations(market) == [
        {"account": ALICE, "amount_minor": 6_000, "held_minor": 6_000},
        {"account": BOB, "amount_minor": 4_000, "held_minor": 4_000},
    ]

    decide(market, dispute, "rejected")
    for party in (ALICE, BOB, CLEO):
        assert (owed(market, party), owed(market, party, "held")) == (0, 0), party
    assert set(holds(market, dispute).values()) == {
        ("refunded", 6_000, 6_000),
        ("refunded", 4_000, 4_000),
    }
    with market.services.session() as session:
        kinds = {entry.kind for entry in session.exec(select(JournalEntry))}
    assert not kinds & {"release", "redirect"}
    assert platform(market, PlatformAccount.ABSORBED_LOSSES) == 0
    with market.services.session() as session:
        # The earnings chart nets the sale against its refund: nothing was earned.
        for party in (ALICE, BOB):
            assert sum(point.amount_minor for point in royalty_history(session, party)) == 0
    ledger_balances(market)


def test_a_held_sale_refunded_in_part_then_upheld_gives_the_claimant_only_the_rest(
    market: Market, localstripe: LocalStripe
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    grant_id = grant_of(market, work_id)
    assert refund(market, grant_id, {"amount_minor": 2_501}).status_code == 201
    # 60% and 40% of 25.01, rounded by largest remainder as every refund is: 15.01 and 10.00.
    assert last_refund_allocations(market) == [
        {"account": ALICE, "amount_minor": 1_501, "held_minor": 1_501},
        {"account": BOB, "amount_minor": 1_000, "held_minor": 1_000},
    ]
    assert (owed(market, ALICE, "held"), owed(market, BOB, "held")) == (4_499, 3_000)
    assert (owed(market, ALICE), owed(market, BOB)) == (0, 0)

    decide(market, dispute, "upheld")
    assert owed(market, CLEO) == 7_499
    for party in (ALICE, BOB):
        assert (owed(market, party), owed(market, party, "held")) == (0, 0), party
    assert holds(market, dispute) == {
        ALICE: ("redirected", 6_000, 1_501),
        BOB: ("redirected", 4_000, 1_000),
    }
    assert platform(market, PlatformAccount.ABSORBED_LOSSES) == 0
    ledger_balances(market)


def test_a_refund_after_the_dispute_was_rejected_takes_back_from_payable(
    market: Market, localstripe: LocalStripe
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    grant_id = grant_of(market, work_id)
    decide(market, dispute, "rejected")
    assert refund(market, grant_id, {"amount_minor": 2_500}).status_code == 201
    assert last_refund_allocations(market) == [
        {"account": ALICE, "amount_minor": 1_500},
        {"account": BOB, "amount_minor": 1_000},
    ]
    assert (owed(market, ALICE), owed(market, BOB)) == (4_500, 3_000)
    assert (owed(market, ALICE, "held"), owed(market, BOB, "held")) == (0, 0)
    assert holds(market, dispute) == {
        ALICE: ("released", 6_000, 0),
        BOB: ("released", 4_000, 0),
    }
    ledger_balances(market)


def test_the_money_page_shows_what_a_refund_took_back_out_of_held(
    market: Market, localstripe: LocalStripe
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    assert refund(market, grant_of(market, work_id), {"amount_minor": 2_500}).status_code == 201
    answer = market.client.get("/money", headers=market.alice.headers)
    assert answer.status_code == 200, answer.text
    page = HTMLParser(answer.text)
    assert figure(page, "held") == "$45.00"
    reasons = [item.text() for item in page.css("ul.reasons li")]
    assert len(reasons) == 2
    assert "60.00 USD held on" in reasons[0]
    assert f"(dispute {dispute['id']} over work {work_id})" in reasons[0]
    assert "15.00 USD given back to the licensee" in reasons[1]
    assert f"license grant {grant_of(market, work_id)}" in reasons[1]
    chinese = market.client.get("/money?lang=zh", headers=market.alice.headers)
    reasons = [item.text() for item in HTMLParser(chinese.text).css("ul.reasons li")]
    assert "从暂扣款项中退还被许可方 15.00 USD" in reasons[1]
    api = market.client.get(f"{API}/me/balances", headers=market.alice.headers).json()
    assert api[0]["held_minor"] == 4_500
    assert "given back to the licensee" in api[0]["held_reasons"][1]


def test_the_dispute_page_shows_what_refunds_took_back_of_each_hold(
    market: Market, localstripe: LocalStripe
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    assert refund(market, grant_of(market, work_id), {"amount_minor": 2_500}).status_code == 201
    answer = market.client.get(f"/disputes/{dispute['id']}", headers=market.alice.headers)
    assert answer.status_code == 200, answer.text
    page = HTMLParser(answer.text)
    total = page.css_first("p.held-amount")
    assert total is not None
    assert "$75.00" in total.text()
    assert [node.text() for node in page.css("span.refunded")] == [
        "$15.00 refunded",
        "$10.00 refunded",
    ]
