"""The brand's licence page lists each sales report's royalty invoice and pays it by card."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_pages_market import card_id
from tests.support.market import Market, brand_account, one_line

pytestmark = pytest.mark.pages_on_sqlite


def test_an_invoice_is_paid_on_its_page_and_then_shown_paid(
    market: Market, localstripe: LocalStripe
) -> None:
    grant = market.retail_grant()
    assert market.report(grant["id"], one_line()).status_code == 201
    licence = HTMLParser(
        market.client.get(f"/licenses/{grant['id']}", headers=market.brand.headers).text
    )
    row = licence.css_first("#invoices tbody tr")
    assert row is not None
    assert "Awaiting payment" in row.text()
    link = row.css_first("a.button")
    assert link is not None
    pay_url = str(link.attributes["href"])
    assert pay_url == f"/licenses/{grant['id']}/invoices/2026-10/pay"
    page = market.client.get(pay_url, headers=market.brand.headers)
    assert page.status_code == 200
    assert f"script-src 'self' {localstripe.api_base}" in page.headers["content-security-policy"]
    assert "$100.00" in page.text
    paid = market.client.post(
        pay_url,
        data={"payment_method": card_id(localstripe)},
        headers=market.brand.headers,
        follow_redirects=False,
    )
    assert (paid.status_code, paid.headers["location"]) == (303, f"/licenses/{grant['id']}")
    after = HTMLParser(
        market.client.get(f"/licenses/{grant['id']}", headers=market.brand.headers).text
    )
    state = after.css_first("#invoices .invoice-state")
    assert state is not None
    assert "Paid" in state.text()
    assert after.css_first("#invoices a.button") is None
    again = market.client.get(pay_url, headers=market.brand.headers, follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, f"/licenses/{grant['id']}")


def test_a_pay_without_a_card_is_refused_in_words(market: Market) -> None:
    grant = market.retail_grant()
    market.report(grant["id"], one_line())
    answer = market.client.post(
        f"/licenses/{grant['id']}/invoices/2026-10/pay",
        data={"payment_method": ""},
        headers=market.brand.headers,
    )
    assert answer.status_code == 400
    assert "The card form sent no card" in answer.text


def test_another_brands_invoice_page_is_not_found(market: Market) -> None:
    grant = market.retail_grant()
    market.report(grant["id"], one_line())
    rival = brand_account(
        market.client, market.services, "rival@rival.example", "rival.example", market.inbox
    )
    page = market.client.get(f"/licenses/{grant['id']}/invoices/2026-10/pay", headers=rival.headers)
    assert page.status_code == 404
