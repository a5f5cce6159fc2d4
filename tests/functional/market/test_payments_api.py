"""Paying grants through the Stripe sandbox: settlement, webhooks, and hostile deliveries."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient
from sqlmodel import func, select
from typer.testing import CliRunner

from frontend.cli import app as cli
from licensing.models import LicenseGrant
from registry.certificates import verify_certificate
from registry.log.events import canonical_json, parse_event
from registry.log.store import AttestationLog
from registry.models import Work
from settlement.events import PaymentSettledEvent
from settlement.models import JournalEntry, Payment, ProcessorEvent
from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from settlement.stripe.signatures import sign
from tests.support.localstripe import brand_card
from tests.support.market import (
    API,
    WEBHOOK_SECRET,
    Market,
    brand_account,
    copymark,
)


def pending_grant(market: Market, sale_type: str = "buyout") -> dict[str, Any]:
    work_id = market.work()
    market.activate(work_id)
    offer = market.offer(work_id, sale_type, "bundle" if sale_type == "wholesale" else None)
    taken = market.take(offer)
    assert taken.status_code == 201, taken.text
    return dict(taken.json())


def pay(market: Market, grant_id: int, payment_method: str | None = None) -> Any:
    body = {"payment_method": payment_method} if payment_method else None
    return market.client.post(
        f"{API}/grants/{grant_id}/payments", json=body, headers=market.brand.headers
    )


def deliver(market: Market, event: dict[str, Any], **signing: Any) -> Any:
    payload = json.dumps(event).encode()
    secret = signing.get("secret", WEBHOOK_SECRET)
    header = signing.get("header") or sign(payload, secret, signing.get("at", int(time.time())))
    return market.client.post(
        f"{API}/stripe/webhook",
        content=signing.get("body", payload),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def succeeded_event(processor: stripe.StripeClient, intent_id: str) -> dict[str, Any]:
    for event in processor.v1.events.list().auto_paging_iter():
        if event.type == "payment_intent.succeeded" and event.data.object.id == intent_id:
            return dict(event.to_dict())
    raise AssertionError(f"no succeeded event for {intent_id}")


def confirm_in_browser(processor: stripe.StripeClient, intent_id: str, method: str) -> None:
    processor.v1.payment_intents.update(intent_id, params={"payment_method": method})
    processor.v1.payment_intents.confirm(intent_id)


def state(market: Market) -> dict[str, Any]:
    """Everything a webhook could change: settlement rows, grant states, owners, the log."""
    with market.services.session() as session:
        return {
            "rows": [
                session.exec(select(func.count()).select_from(table)).one()
                for table in (ProcessorEvent, Payment, JournalEntry)
            ],
            "payments": [(p.id, p.status) for p in session.exec(select(Payment))],
            "grants": [(g.id, g.status) for g in session.exec(select(LicenseGrant))],
            "owners": [(w.id, w.owner_id) for w in session.exec(select(Work))],
            "leaves": AttestationLog(session).tree_size(),
        }


def test_a_buyout_paid_by_card_is_settled_in_one_step(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(localstripe))
    assert (paid.status_code, paid.json()["status"]) == (201, "succeeded"), paid.text
    settled = market.client.get(f"{API}/grants/{grant['id']}", headers=market.brand.headers).json()
    assert settled["status"] == "active"
    assert (grant["work_id"], market.brand.user_id) in state(market)["owners"]
    with market.services.session() as session:
        owed = balances(session, "party:")
        event = parse_event(AttestationLog(session).leaf(paid.json()["log_index"]).leaf)
    assert owed == {
        ("party:acct:alice@example.com:payable", "USD"): -300_000,
        ("party:acct:bob@example.com:payable", "USD"): -200_000,
    }
    assert isinstance(event, PaymentSettledEvent)
    assert (event.grant_id, event.currency) == (grant["id"], "USD")


def test_a_paid_grant_certificate_proves_the_settled_payment(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market, "wholesale")
    pay(market, grant["id"], brand_card(localstripe))
    certificate = market.client.get(grant["certificate_url"]).json()
    check = verify_certificate(certificate, market.services.signer.public_key)
    assert check.valid
    assert isinstance(check.event, PaymentSettledEvent)


def test_a_stranger_sees_no_figure_of_a_settled_payment_and_its_parties_prove_them(
    market: Market,
    tmp_path: Path,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(localstripe)).json()
    stranger = TestClient(market.client.app)
    read = stranger.get(f"{API}/log/leaves/{paid['log_index']}")
    leaf = base64.b64decode(read.json()["leaf_base64"])
    assert isinstance(parse_event(leaf), PaymentSettledEvent)
    with market.services.session() as session:
        entry = session.exec(select(JournalEntry).where(JournalEntry.grant_id == grant["id"])).one()
        fee = balances(session, "platform:processor")
    # The sandbox keeps no fee, so only the unit tests can look for one on a leaf.
    fee_minor = sum(fee.values())
    private_values = ["500000", "300000", "200000", entry.digest]
    private_values += ['"alice"', '"bob"', "acct:", "@example.com"]
    # The commitments are random hex, which may spell any figure by chance: look at the rest.
    shown = canonical_json({k: v for k, v in json.loads(leaf).items() if k != "commitments"})
    for value in private_values:
        assert value.encode() not in shown, f"the public leaf shows {value}"

    certificate = market.client.get(grant["certificate_url"], headers=market.brand.headers).json()
    check = verify_certificate(certificate, market.services.signer.public_key)
    assert check.valid, check.reason
    assert check.log_index == paid["log_index"]
    disclosed = dict(check.disclosed)
    allocations: Any = disclosed.pop("allocations")
    assert disclosed == {
        "gross_minor": 500_000,
        "fee_minor": fee_minor,
        "journal_entry_digest": entry.digest,
    }
    assert {line["party"]: line["amount_minor"] for line in allocations} == {
        "alice": 300_000,
        "bob": 200_000,
    }
    publisher = market.client.get(grant["certificate_url"], headers=market.alice.headers).json()
    assert (
        verify_certificate(publisher, market.services.signer.public_key).disclosed
        == check.disclosed
    )
    public = stranger.get(grant["certificate_url"]).json()
    assert (
        public["openings"],
        verify_certificate(public, market.services.signer.public_key).valid,
    ) == ({}, True)

    path = tmp_path / "grant.json"
    path.write_text(json.dumps(certificate))
    key = tmp_path / "key.pem"
    key.write_text(stranger.get(f"{API}/log/key.pem").text)
    offline = copymark("verify", str(path), "--public-key", str(key), "--json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["disclosed"]["gross_minor"] == 500_000

    for name, forged in [("gross_minor", 1), ("fee_minor", fee_minor + 1), ("allocations", [])]:
        tampered = copy.deepcopy(certificate)
        tampered["openings"][name]["value"] = forged
        refused = verify_certificate(tampered, market.services.signer.public_key)
        assert not refused.valid
        assert refused.reason == f"the opening of {name} does not match the leaf's commitment"
    swapped = copy.deepcopy(certificate)
    openings = swapped["openings"]
    openings["gross_minor"]["salt"], openings["fee_minor"]["salt"] = (
        openings["fee_minor"]["salt"],
        openings["gross_minor"]["salt"],
    )
    assert not verify_certificate(swapped, market.services.signer.public_key).valid


def test_a_webhook_settles_a_payment_confirmed_in_the_browser_once(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market, "wholesale")
    started = pay(market, grant["id"]).json()
    assert started["status"] == "requires_payment"
    assert started["client_secret"].startswith(started["payment_intent_id"])
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    first = deliver(market, event)
    assert (first.status_code, first.json()["outcome"]) == (200, f"settled grant {grant['id']}")
    checked = market.client.get(
        f"{API}/licenses/check", params={"work_id": grant["work_id"], "domain": "brand.example"}
    ).json()
    assert checked["licensed"]
    before = state(market)
    again = deliver(market, event)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert state(market) == before


def test_a_webhook_after_a_synchronous_success_changes_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(localstripe)).json()
    before = state(market)
    delivered = deliver(market, succeeded_event(processor, paid["payment_intent_id"]))
    assert delivered.status_code == 200
    after = state(market)
    assert (after["rows"][1:], after["leaves"]) == (before["rows"][1:], before["leaves"])


def test_a_failure_reported_after_the_success_leaves_it_settled(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(localstripe)).json()
    event = succeeded_event(processor, paid["payment_intent_id"])
    late_failure = {**event, "id": "evt_late_failure", "type": "payment_intent.payment_failed"}
    assert deliver(market, late_failure).status_code == 200
    assert state(market)["payments"] == [(paid["id"], "succeeded")]


def test_a_payment_of_another_amount_settles_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    started = pay(market, grant["id"]).json()
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    event["data"]["object"]["amount"] = 1
    answer = deliver(market, event)
    assert "does not match license grant" in answer.json()["outcome"]
    after = state(market)
    assert (grant["id"], "pending_payment") in after["grants"]
    assert after["rows"][2] == 0


@pytest.mark.parametrize("currency", ["eur", "jpy"])
def test_a_payment_in_another_currency_settles_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    currency: str,
) -> None:
    grant = pending_grant(market)
    started = pay(market, grant["id"]).json()
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    event["data"]["object"]["currency"] = currency
    assert "does not match" in deliver(market, event).json()["outcome"]
    assert state(market)["rows"][2] == 0


def _flip_a_byte(event: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(event).encode()
    header = sign(payload, WEBHOOK_SECRET, int(time.time()))
    flipped = payload.replace(b'"amount": ', b'"amount": 9', 1)
    return {"header": header, "body": flipped}


HOSTILE: dict[str, Any] = {
    "flipped byte": _flip_a_byte,
    "wrong secret": lambda _event: {"secret": "whsec_someone_else"},
    "stale": lambda _event: {"at": int(time.time()) - 301},
    "future": lambda _event: {"at": int(time.time()) + 600},
    "malformed header": lambda _event: {"header": "t=abc,v1=zz"},
    "no v1": lambda _event: {"header": f"t={int(time.time())}"},
    "two timestamps": lambda _event: {"header": f"t=1,t={int(time.time())},v1={'0' * 64}"},
}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_tampered_webhook_is_refused_and_changes_nothing(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    attack: str,
) -> None:
    grant = pending_grant(market)
    started = pay(market, grant["id"]).json()
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    before = state(market)
    answer = deliver(market, event, **HOSTILE[attack](event))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "webhook_signature_invalid"
    assert state(market) == before


def test_an_oversized_webhook_is_refused_unread(market: Market) -> None:
    before = state(market)
    answer = deliver(market, {"id": "evt_big", "padding": "x" * 600_000})
    assert (answer.status_code, answer.json()["code"]) == (413, "webhook_too_large")
    assert state(market) == before


def test_a_replayed_event_id_with_other_content_is_refused(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    started = pay(market, grant["id"]).json()
    confirm_in_browser(processor, started["payment_intent_id"], brand_card(localstripe))
    event = succeeded_event(processor, started["payment_intent_id"])
    deliver(market, event)
    before = state(market)
    forged = {**event, "type": "payment_intent.payment_failed"}
    answer = deliver(market, forged)
    assert (answer.status_code, answer.json()["code"]) == (409, "webhook_event_conflict")
    assert state(market) == before


def test_a_grant_already_paid_is_not_paid_again(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market)
    pay(market, grant["id"], brand_card(localstripe))
    again = pay(market, grant["id"], brand_card(localstripe))
    assert again.status_code == 409
    assert "only a grant awaiting payment" in again.json()["detail"]


def test_another_brand_cannot_pay_or_see_a_grant(market: Market) -> None:
    grant = pending_grant(market)
    rival = brand_account(
        market.client, market.services, "rival@rival.example", "rival.example", market.inbox
    )
    paid = market.client.post(f"{API}/grants/{grant['id']}/payments", headers=rival.headers)
    listed = market.client.get(f"{API}/grants/{grant['id']}/payments", headers=rival.headers)
    assert (paid.status_code, listed.status_code) == (404, 404)


def reconcile_cli(market: Market, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    settings = market.services.settings
    for name, value in {
        "COPYMARK_HOME": str(settings.home),
        "COPYMARK_DATABASE_URL": settings.resolved_database_url,
        "COPYMARK_STRIPE_API_KEY": settings.stripe_api_key,
        "COPYMARK_STRIPE_API_BASE": settings.stripe_api_base,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["settlement", "reconcile", "--json"])
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [{**record, "exit": result.exit_code} for record in records]


def test_reconcile_matches_the_ledger_with_the_sandbox_and_names_a_stray_charge(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    httpx.delete(f"{localstripe.api_base}/_config/data").raise_for_status()
    pay(market, pending_grant(market)["id"], brand_card(localstripe))
    pay(market, pending_grant(market, "wholesale")["id"], brand_card(localstripe))
    matched = reconcile_cli(market, monkeypatch)
    assert [(r["currency"], r["ledger_minor"], r["matched"], r["exit"]) for r in matched] == [
        ("USD", 510_000, True, 0)
    ]
    processor.v1.payment_intents.create(
        params={
            "amount": 700,
            "currency": "usd",
            "payment_method": brand_card(localstripe),
            "confirm": True,
        }
    )
    stray = reconcile_cli(market, monkeypatch)
    assert [(r["difference_minor"], r["matched"], r["exit"]) for r in stray] == [(700, False, 1)]


def refund_event(processor: stripe.StripeClient, intent_id: str, amount: int) -> dict[str, Any]:
    """Refund at the processor, then the signed event Stripe sends for the charge."""
    processor.v1.refunds.create(params={"payment_intent": intent_id, "amount": amount})
    charge = processor.v1.payment_intents.retrieve(intent_id).to_dict()["latest_charge"]
    if isinstance(charge, str):
        charge = processor.v1.charges.retrieve(charge).to_dict()
    return {
        "id": f"evt_refund_{intent_id}_{charge['amount_refunded']}",
        "type": "charge.refunded",
        "data": {"object": charge},
    }


def test_a_partial_refund_reverses_the_split_in_proportion(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
) -> None:
    grant = pending_grant(market, "wholesale")
    paid = pay(market, grant["id"], brand_card(localstripe)).json()
    event = refund_event(processor, paid["payment_intent_id"], 2_500)
    assert deliver(market, event).json()["outcome"] == (
        f"refunded 2500 of payment {paid['payment_intent_id']}"
    )
    deliver(market, {**event, "id": "evt_same_refund_again"})
    with market.services.session() as session:
        owed = balances(session, "party:")
    # 10,000 paid, split 60/40; a quarter refunded comes back from each party.
    assert owed == {
        ("party:acct:alice@example.com:payable", "USD"): -4_500,
        ("party:acct:bob@example.com:payable", "USD"): -3_000,
    }
    assert (grant["id"], "active") in state(market)["grants"]


def test_a_full_refund_of_a_buyout_ends_it_and_returns_the_work(
    market: Market,
    processor: stripe.StripeClient,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    httpx.delete(f"{localstripe.api_base}/_config/data").raise_for_status()
    grant = pending_grant(market)
    paid = pay(market, grant["id"], brand_card(localstripe)).json()
    deliver(market, refund_event(processor, paid["payment_intent_id"], 500_000))
    after = state(market)
    assert (grant["id"], "refunded") in after["grants"]
    assert (grant["work_id"], market.alice.user_id) in after["owners"]
    with market.services.session() as session:
        assert set(balances(session, "party:").values()) == {0}
    assert market.client.get(grant["certificate_url"]).status_code == 404
    assert [r["matched"] for r in reconcile_cli(market, monkeypatch)] == [True]
