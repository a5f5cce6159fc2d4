"""The Money page's Refund form: the publisher refunds a sale's price or invoice; whatever it
cannot refund is a 4xx page saying why, in the viewer's language, and writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
import stripe

from settlement.stripe.sandbox import LocalStripe
from tests.factories import Account
from tests.functional.market.test_grant_refunds_api import everything, paid_grant, payable
from tests.functional.market.test_invoice_refunds_api import paid_grant as paid_invoice
from tests.functional.market.test_invoice_refunds_api import refunded_at_stripe
from tests.functional.market.test_payments_api import pending_grant
from tests.support.market import Market

pytestmark = pytest.mark.pages_on_sqlite

PASSWORD = "correct horse battery"


def signed_in(market: Market, account: Account) -> str:
    """Sign the market's client in as `account` through the page; its form token."""
    market.client.cookies.clear()
    answer = market.client.post(
        "/login", data={"email": account.email, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', market.client.get("/money").text)
    assert token is not None
    return token.group(1)


def refund_form(
    market: Market, token: str, grant_id: int, language: str = "en", **fields: str
) -> Any:
    return market.client.post(
        f"/money/refunds?lang={language}",
        data={"csrf_token": token, "grant_id": str(grant_id), "currency": "USD", **fields},
        follow_redirects=False,
    )


def test_the_publisher_refunds_a_sale_from_the_money_page(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_grant(market, localstripe)
    token = signed_in(market, market.alice)
    page = market.client.get("/money").text
    assert f'data-grant="{grant["id"]}"' in page
    assert 'data-state="paid"' in page

    part = refund_form(market, token, grant["id"], amount="25.00")
    assert (part.status_code, part.headers["location"]) == (303, "/money?notice=refunded#sales")
    assert payable(market) == (-4_500, -3_000)
    page = market.client.get("/money").text
    assert 'data-state="partly-refunded"' in page
    assert re.search(r"Refund on the log at index \d+", page)

    assert refund_form(market, token, grant["id"]).status_code == 303
    assert payable(market) == (0, 0)
    assert refunded_at_stripe(processor, intent) == 10_000
    page = market.client.get("/money").text
    assert 'data-state="refunded"' in page
    assert 'action="/money/refunds"' not in page


def test_a_paid_invoice_is_refunded_from_the_money_page(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant, intent = paid_invoice(market, localstripe)
    token = signed_in(market, market.alice)
    assert 'data-report="2026-10"' in market.client.get("/money").text
    answer = refund_form(market, token, grant["id"], report_id="2026-10")
    assert answer.status_code == 303, answer.text
    assert refunded_at_stripe(processor, intent) == 10_000
    assert 'data-state="refunded"' in market.client.get("/money").text


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("-5", "is left to refund, not -5.00 USD"),
        ("0", "is left to refund, not 0.00 USD"),
        ("100.01", "is left to refund"),
        ("1.005", "decimal places"),
        ("9" * 30, "beyond the largest amount"),
        ("ten", "is not a decimal number"),
    ],
)
def test_a_refund_the_form_cannot_make_is_a_4xx_page_in_words_that_writes_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    amount: str,
    words: str,
) -> None:
    grant, intent = paid_grant(market, localstripe)
    token = signed_in(market, market.alice)
    before = everything(market)
    answer = refund_form(market, token, grant["id"], amount=amount)
    assert answer.status_code == 422, answer.text
    assert 'id="refund-error"' in answer.text
    assert words in answer.text
    assert everything(market) == before
    assert refunded_at_stripe(processor, intent) == 0


def test_refusals_of_the_form_name_the_problem_in_the_viewers_language(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    unpaid = pending_grant(market, "wholesale")
    grant, intent = paid_grant(market, localstripe)
    before = everything(market)

    token = signed_in(market, market.alice)
    answer = refund_form(market, token, unpaid["id"], "zh")
    assert answer.status_code == 409
    assert f"许可授权 {unpaid['id']} 尚未支付" in answer.text
    too_much = refund_form(market, token, grant["id"], "zh", amount="100.01")
    assert too_much.status_code == 422
    assert "可退款" in too_much.text

    token = signed_in(market, market.bob)
    stranger = refund_form(market, token, grant["id"])
    assert stranger.status_code == 404
    assert f"license grant {grant['id']} not found" in stranger.text
    token = signed_in(market, market.brand)
    licensee = refund_form(market, token, grant["id"])
    assert licensee.status_code == 403
    assert "only the rights holder" in licensee.text
    assert everything(market) == before
    assert refunded_at_stripe(processor, intent) == 0


def test_the_refund_form_refuses_a_post_without_its_token(
    market: Market, localstripe: LocalStripe
) -> None:
    grant, _intent = paid_grant(market, localstripe)
    signed_in(market, market.alice)
    before = everything(market)
    assert refund_form(market, "0" * 64, grant["id"]).status_code == 403
    assert everything(market) == before
