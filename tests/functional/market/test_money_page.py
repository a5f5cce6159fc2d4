"""The Money page: a party's share as a balance, payout onboarding, payouts and statements."""

from __future__ import annotations

import re

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from licensing.money import Money
from registry.models import utcnow
from settlement.postings import hold_entry
from settlement.service.ledger import post_entry
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_payouts_api import onboard, payout_round, sold
from tests.support.market import Market

pytestmark = pytest.mark.pages_on_sqlite


def page(market: Market, query: str = "") -> HTMLParser:
    answer = market.client.get(f"/money{query}", headers=market.alice.headers)
    assert answer.status_code == 200, answer.text
    return HTMLParser(answer.text)


def figure(document: HTMLParser, kind: str) -> str:
    node = document.css_first(f"[data-balance={kind}]")
    assert node is not None
    return node.text(strip=True)


def test_a_creator_sees_her_share_accrue_then_onboards_and_is_paid_out(
    market: Market, localstripe: LocalStripe
) -> None:
    sold(market, localstripe)
    before = page(market)
    assert figure(before, "available") == "$3,000.00"
    assert "Accrues until you connect a payout account." in before.text()
    assert before.css_first("form[action='/money/payout-account'] button") is not None

    connect = market.client.post(
        "/money/payout-account", headers=market.alice.headers, follow_redirects=False
    )
    assert connect.status_code == 303
    onboarding = connect.headers["location"]
    assert onboarding.startswith(localstripe.api_base)
    assert "Onboarding not finished" in page(market).text()
    returned = httpx.post(onboarding, follow_redirects=False).headers["location"]
    assert returned.endswith("/money?onboarding=done")
    enabled = page(market, "?onboarding=done")
    assert "Payouts are set up" in enabled.text()
    assert "Payouts enabled" in enabled.text()

    paid = market.client.post(
        "/money/payouts", headers=market.alice.headers, follow_redirects=False
    )
    assert paid.status_code == 303
    after = page(market)
    assert [row.attributes["data-state"] for row in after.css("tr.payout")] == ["paid"]
    assert figure(after, "available") == "$0.00"
    assert figure(after, "paid-out") == "$3,000.00"
    month = utcnow().strftime("%Y-%m")
    (row,) = after.css("tr.statement")
    assert row.attributes["data-period"] == month
    links = [a.attributes["href"] for a in row.css("a")]
    assert links == [f"/api/v1/me/statements/{month}/csv", f"/api/v1/me/statements/{month}/pdf"]
    for link in links:
        assert market.client.get(link, headers=market.alice.headers).status_code == 200
    bars = after.css("svg .earnings-bar rect")
    assert len(bars) == 2  # one month, one work
    assert all(float(bar.attributes["height"] or 0) > 0 for bar in bars)


def test_the_money_page_speaks_chinese(market: Market, localstripe: LocalStripe) -> None:
    sold(market, localstripe)
    chinese = page(market, "?lang=zh")
    assert "可提现" in chinese.text()
    assert re.search(r"3,000\.00", figure(chinese, "available"))


def test_the_money_page_asks_a_stranger_to_sign_in(market: Market) -> None:
    answer = market.client.get("/money", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Fmoney")


def test_a_held_share_is_shown_as_held_with_its_reason_and_is_not_paid_out(
    market: Market, localstripe: LocalStripe
) -> None:
    sale = sold(market, localstripe)
    with market.services.session() as session:
        post_entry(
            session,
            hold_entry(f"hold:grant-{sale['id']}", "acct:alice@example.com", Money(100_000, "USD")),
        )
        session.commit()
    held = page(market)
    assert figure(held, "held") == "$1,000.00"
    assert figure(held, "available") == "$2,000.00"
    (reason,) = held.css("ul.reasons li")
    assert "1000.00 USD held" in reason.text()
    assert "hold" in reason.text()
    onboard(market, market.alice)
    asked = market.client.post(
        "/api/v1/me/payouts",
        json={"currency": "USD", "amount_minor": 250_000},
        headers=market.alice.headers,
    )
    assert asked.status_code == 422
    assert "Only 2000.00 USD is available" in asked.json()["detail"]
    (paid,) = payout_round(market)
    assert paid.amount_minor == 200_000
