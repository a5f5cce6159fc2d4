"""Retail royalty invoices paid through the Stripe sandbox: once, for their amount, by their
brand."""

from __future__ import annotations

from typing import Any

import stripe
from sqlmodel import select

from registry.log.events import parse_event
from registry.log.store import AttestationLog
from settlement.events import PaymentSettledEvent
from settlement.ledger import PlatformAccount, platform_account
from settlement.models import JournalEntry
from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_payments_api import (
    confirm_in_browser,
    deliver,
    state,
    succeeded_event,
)
from tests.support.localstripe import brand_card
from tests.support.market import API, Market, brand_account, one_line

RECEIVABLE = platform_account(PlatformAccount.ROYALTIES_RECEIVABLE)
CLEARING = platform_account(PlatformAccount.STRIPE_CLEARING)


def reported_grant(market: Market) -> dict[str, Any]:
    grant = market.retail_grant()
    reported = market.report(grant["id"], one_line())
    assert reported.status_code == 201, reported.text
    return grant


def invoices(market: Market, grant_id: int) -> list[dict[str, Any]]:
    answer = market.client.get(f"{API}/grants/{grant_id}/invoices", headers=market.brand.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def pay_invoice(market: Market, grant_id: int, method: str | None = None) -> Any:
    return market.client.post(
        f"{API}/grants/{grant_id}/invoices/2026-10/payments",
        json={"payment_method": method} if method else None,
        headers=market.brand.headers,
    )


def ledger(market: Market) -> dict[tuple[str, str], int]:
    with market.services.session() as session:
        return balances(session, "platform:")


def test_a_sales_report_is_an_open_invoice_of_its_royalties(market: Market) -> None:
    grant = reported_grant(market)
    (invoice,) = invoices(market, grant["id"])
    assert (invoice["report_id"], invoice["status"], invoice["amount_minor"]) == (
        "2026-10",
        "open",
        10_000,
    )
    assert ledger(market)[(RECEIVABLE, "USD")] == 10_000


def test_an_invoice_paid_by_card_clears_the_receivable_and_is_logged(
    market: Market, localstripe: LocalStripe
) -> None:
    grant = reported_grant(market)
    paid = pay_invoice(market, grant["id"], brand_card(localstripe))
    assert (paid.status_code, paid.json()["status"]) == (201, "succeeded"), paid.text
    assert paid.json()["sales_report_key"] == "2026-10"
    figures = ledger(market)
    assert figures.get((RECEIVABLE, "USD"), 0) == 0
    assert figures[(CLEARING, "USD")] > 0
    (invoice,) = invoices(market, grant["id"])
    assert (invoice["status"], invoice["log_index"]) == ("paid", paid.json()["log_index"])
    with market.services.session() as session:
        event = parse_event(AttestationLog(session).leaf(invoice["log_index"]).leaf)
    assert isinstance(event, PaymentSettledEvent)
    assert event.grant_id == grant["id"]
    again = pay_invoice(market, grant["id"], brand_card(localstripe))
    assert again.status_code == 409
    assert "already paid" in again.json()["detail"]


def test_an_invoice_confirmed_in_the_browser_is_settled_once_by_the_webhook(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant = reported_grant(market)
    started = pay_invoice(market, grant["id"]).json()
    assert started["status"] == "requires_payment"
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    first = deliver(market, event)
    assert (
        first.json()["outcome"] == f"settled the invoice of report 2026-10 of grant {grant['id']}"
    )
    settled = state(market)
    assert deliver(market, event).json()["duplicate"] is True
    replayed_under_new_id = deliver(market, {**event, "id": "evt_invoice_again"})
    assert replayed_under_new_id.status_code == 200
    assert state(market)["rows"][1:] == settled["rows"][1:]
    assert state(market)["leaves"] == settled["leaves"]
    with market.services.session() as session:
        kinds = [entry.kind for entry in session.exec(select(JournalEntry))]
    assert kinds.count("royalty_payment") == 1
    assert invoices(market, grant["id"])[0]["status"] == "paid"


def test_an_invoice_payment_of_another_amount_or_currency_settles_nothing(
    market: Market, processor: stripe.StripeClient, localstripe: LocalStripe
) -> None:
    grant = reported_grant(market)
    started = pay_invoice(market, grant["id"]).json()
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    short = {**event, "id": "evt_short", "data": {"object": {**event["data"]["object"]}}}
    short["data"]["object"]["amount"] = 1
    assert "does not match the invoice" in deliver(market, short).json()["outcome"]
    euro = {**event, "id": "evt_euro", "data": {"object": {**event["data"]["object"]}}}
    euro["data"]["object"]["currency"] = "eur"
    assert "does not match the invoice" in deliver(market, euro).json()["outcome"]
    assert invoices(market, grant["id"])[0]["status"] == "open"
    assert ledger(market)[(RECEIVABLE, "USD")] == 10_000


def test_another_brand_neither_sees_nor_pays_an_invoice(
    market: Market, localstripe: LocalStripe
) -> None:
    grant = reported_grant(market)
    rival = brand_account(
        market.client, market.services, "rival@rival.example", "rival.example", market.inbox
    )
    listed = market.client.get(f"{API}/grants/{grant['id']}/invoices", headers=rival.headers)
    paid = market.client.post(
        f"{API}/grants/{grant['id']}/invoices/2026-10/payments",
        json={"payment_method": brand_card(localstripe)},
        headers=rival.headers,
    )
    assert (listed.status_code, paid.status_code) == (404, 404)
    assert "not found" in paid.json()["detail"]
    assert invoices(market, grant["id"])[0]["status"] == "open"


def test_an_unknown_report_has_no_invoice(market: Market) -> None:
    grant = reported_grant(market)
    missing = market.client.post(
        f"{API}/grants/{grant['id']}/invoices/2026-11/payments", headers=market.brand.headers
    )
    assert missing.status_code == 404
    assert "report 2026-11" in missing.json()["detail"]


def test_a_paid_report_cannot_be_corrected(market: Market, localstripe: LocalStripe) -> None:
    grant = reported_grant(market)
    pay_invoice(market, grant["id"], brand_card(localstripe))
    corrected = market.report(grant["id"], one_line(report_id="2026-10-fix", corrects="2026-10"))
    assert corrected.status_code == 409
    assert "already paid" in corrected.json()["detail"]
    assert [invoice["report_id"] for invoice in invoices(market, grant["id"])] == ["2026-10"]
