"""Ownership disputes through the app: a grant paid in the Stripe sandbox while its work is
disputed is held, new licences are refused, and the decision moves the money on the ledger."""

from __future__ import annotations

import base64
from typing import Any

from sqlmodel import select

from registry.log.events import parse_event
from registry.models import Role, User, Work
from settlement.models import HeldRoyalty
from settlement.repository import balances
from settlement.stripe.sandbox import LocalStripe
from tests.factories import Account, make_account, random_png
from tests.support.localstripe import brand_card
from tests.support.market import API, Market


def owed(market: Market, reference: str, kind: str = "payable") -> int:
    code = f"party:{reference}:{kind}"
    with market.services.session() as session:
        return -balances(session, code).get((code, "USD"), 0)


def registered(market: Market, account: Account, seed: int) -> int:
    answer = market.client.post(
        f"{API}/works", headers=account.headers, files={"file": ("w.png", random_png(seed))}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["work_id"])


def admin(market: Market) -> Account:
    judge = make_account(market.client, "judge@copymark.example", inbox=market.inbox)
    with market.services.session() as session:
        user = session.get(User, judge.user_id)
        assert user is not None
        user.roles = [*user.roles, Role.ADMIN.value]
        session.add(user)
        session.commit()
    return judge


def dispute_paid_sale(market: Market, localstripe: LocalStripe) -> tuple[dict[str, Any], int]:
    """Cleo registered first; Alice's later registration sells a wholesale licence, disputed
    before the brand pays."""
    cleo = make_account(market.client, "cleo@example.com", inbox=market.inbox)
    earlier = registered(market, cleo, 11)
    work_id = registered(market, market.alice, 12)
    market.activate(work_id)
    taken = market.take(market.offer(work_id, "wholesale", "bundle"))
    assert taken.status_code == 201, taken.text
    raised = market.client.post(
        f"{API}/disputes",
        json={"work_id": work_id, "earlier_work_id": earlier, "reason": "Mine since 2019."},
        headers=cleo.headers,
    )
    assert raised.status_code == 201, raised.text
    paid = market.client.post(
        f"{API}/grants/{taken.json()['id']}/payments",
        json={"payment_method": brand_card(localstripe)},
        headers=market.brand.headers,
    )
    assert paid.json()["status"] == "succeeded", paid.text
    return raised.json(), work_id


def test_a_disputed_sale_is_held_then_redirected_to_the_rightful_owner(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, work_id = dispute_paid_sale(market, localstripe)
    assert owed(market, "acct:alice@example.com") == 0
    assert owed(market, "acct:alice@example.com", "held") == 6_000
    assert owed(market, "acct:bob@example.com", "held") == 4_000
    held = market.client.get(
        f"{API}/disputes/{dispute['id']}/held-royalties", headers=market.alice.headers
    ).json()
    assert {row["status"] for row in held} == {"held"}
    assert all("disputed" in row["reason"] for row in held)
    # Its offers are paused: no new licence while the dispute is open.
    refused = market.take(market.offer(work_id, "retail"))
    assert refused.status_code == 409
    assert "disputed" in refused.json()["detail"]

    judge = admin(market)
    decided = market.client.post(
        f"{API}/disputes/{dispute['id']}/decision",
        json={"outcome": "upheld", "reason": "The sketches predate the registration."},
        headers=judge.headers,
    )
    assert decided.status_code == 200, decided.text
    assert owed(market, "acct:alice@example.com", "held") == 0
    assert owed(market, "acct:bob@example.com", "held") == 0
    assert owed(market, "acct:cleo@example.com") == 10_000
    leaf = market.client.get(f"{API}/log/leaves/{decided.json()['outcome_log_index']}").json()
    event = parse_event(base64.b64decode(leaf["leaf_base64"]))
    assert (event.event_type, event.fields()["action"]) == ("ownership_dispute", "upheld")
    with market.services.session() as session:
        rows = session.exec(select(HeldRoyalty)).all()
        assert sum(row.amount_minor for row in rows) == 10_000
        assert session.get(Work, work_id) is not None


def test_a_rejected_dispute_releases_the_held_royalties(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, _ = dispute_paid_sale(market, localstripe)
    not_an_admin = market.client.post(
        f"{API}/disputes/{dispute['id']}/decision",
        json={"outcome": "rejected"},
        headers=market.alice.headers,
    )
    assert not_an_admin.status_code == 403
    judge = admin(market)
    decided = market.client.post(
        f"{API}/disputes/{dispute['id']}/decision",
        json={"outcome": "rejected"},
        headers=judge.headers,
    )
    assert decided.status_code == 200, decided.text
    assert owed(market, "acct:alice@example.com") == 6_000
    assert owed(market, "acct:bob@example.com") == 4_000
    assert owed(market, "acct:cleo@example.com") == 0
    again = market.client.post(
        f"{API}/disputes/{dispute['id']}/decision",
        json={"outcome": "upheld"},
        headers=judge.headers,
    )
    assert again.status_code == 409
