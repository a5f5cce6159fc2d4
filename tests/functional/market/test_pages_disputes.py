"""Ownership disputes in the browser: the parties' list and detail with the held royalties, a
dispute opened from a later look-alike registration, the respondent conceding, strangers and
hostile ids refused with a page; and the money paid retroactive licences recovered."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from registry.enforcement.models import OwnershipDispute
from registry.models import PriorArtConflict
from settlement.stripe.sandbox import LocalStripe
from tests.factories import make_account
from tests.functional.market import test_case_licence_api as case_licences
from tests.functional.market import test_disputes_api as disputes
from tests.functional.pages.test_pages import assert_error_page, sign_in
from tests.support.localstripe import brand_card
from tests.support.market import Market

pytestmark = pytest.mark.pages_on_sqlite


def test_both_parties_see_the_dispute_with_its_held_royalties(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, work_id = disputes.dispute_paid_sale(market, localstripe)
    sign_in(market.client, market.alice)
    listing = market.client.get("/disputes")
    assert listing.status_code == 200
    assert f'href="/disputes/{dispute["id"]}"' in listing.text
    assert "You are the respondent." in listing.text
    assert "$100.00" in listing.text
    assert f'src="/disputes/{dispute["id"]}/works/{work_id}/thumbnail"' in listing.text
    page = market.client.get(f"/disputes/{dispute['id']}").text
    assert "Mine since 2019." in page
    assert f">{dispute['opened_log_index']}</a>" in page
    assert page.count("is disputed (dispute") == 2  # Alice's and Bob's shares, with the reason
    assert "$60.00" in page
    assert "$40.00" in page
    assert 'class="concede"' in page
    thumbnail = market.client.get(f"/disputes/{dispute['id']}/works/{work_id}/thumbnail")
    assert thumbnail.headers["content-type"] == "image/jpeg"


def test_the_respondent_concedes_and_the_claimant_is_paid(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, _ = disputes.dispute_paid_sale(market, localstripe)
    token = sign_in(market.client, market.alice)
    conceded = market.client.post(
        f"/disputes/{dispute['id']}/decision",
        data={"csrf_token": token, "outcome": "upheld", "reason": "It is Cleo's."},
        follow_redirects=False,
    )
    assert conceded.status_code == 303, conceded.text
    page = market.client.get(conceded.headers["location"]).text
    assert "upheld" in page
    assert "redirected to the claimant" in page
    assert 'class="concede"' not in page
    assert disputes.owed(market, "acct:cleo@example.com") == 10_000
    # Conceding is upholding; the respondent cannot reject their own dispute.
    again = market.client.post(
        f"/disputes/{dispute['id']}/decision",
        data={"csrf_token": token, "outcome": "rejected"},
    )
    assert_error_page(again, 403, "only an administrator decides")


def test_the_earlier_owner_disputes_a_later_lookalike_from_the_list(market: Market) -> None:
    cleo = make_account(market.client, "cleo@example.com", inbox=market.inbox)
    earlier = disputes.registered(market, cleo, 21)
    later = disputes.registered(market, market.alice, 22)
    with market.services.session() as session:
        session.add(PriorArtConflict(work_id=later, earlier_work_id=earlier, score=0.97))
        session.commit()
    token = sign_in(market.client, cleo)
    listing = market.client.get("/disputes").text
    assert f'name="work_id" value="{later}"' in listing
    assert "Dispute this registration" in listing
    opened = market.client.post(
        "/disputes",
        data={
            "csrf_token": token,
            "work_id": later,
            "earlier_work_id": earlier,
            "reason": "My sketchbook, 2019.",
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    page = market.client.get(opened.headers["location"]).text
    assert "My sketchbook, 2019." in page
    assert "You are the claimant" in page or "you are the claimant" in page
    with market.services.session() as session:
        (row,) = session.exec(select(OwnershipDispute)).all()
        assert (row.work_id, row.earlier_work_id) == (later, earlier)
    # Disputed once, the look-alike leaves the list of registrations to dispute.
    assert f'name="work_id" value="{later}"' not in market.client.get("/disputes").text
    # The later owner cannot dispute back: a dispute rests on the earlier registration.
    market.client.cookies.clear()
    alice_token = sign_in(market.client, market.alice)
    backwards = market.client.post(
        "/disputes",
        data={
            "csrf_token": alice_token,
            "work_id": earlier,
            "earlier_work_id": later,
            "reason": "No, mine.",
        },
    )
    assert_error_page(backwards, 409, "registered after")


def test_someone_outside_the_dispute_gets_not_found(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, work_id = disputes.dispute_paid_sale(market, localstripe)
    sign_in(market.client, market.bob)
    assert_error_page(market.client.get(f"/disputes/{dispute['id']}"), 404, "not found")
    thumbnail = market.client.get(f"/disputes/{dispute['id']}/works/{work_id}/thumbnail")
    assert thumbnail.status_code == 404
    assert f"/disputes/{dispute['id']}" not in market.client.get("/disputes").text


@pytest.mark.parametrize(
    "path", ["/disputes/0", "/disputes/-5", "/disputes/abc", "/disputes/99999999999999999999999"]
)
def test_hostile_dispute_ids_answer_a_page_not_a_crash(market: Market, path: str) -> None:
    sign_in(market.client, market.alice)
    response = market.client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")


def test_hostile_form_values_answer_a_page_not_a_crash(market: Market) -> None:
    token = sign_in(market.client, market.alice)
    for data in (
        {"work_id": "-1", "earlier_work_id": "1", "reason": "x"},
        {"work_id": "1", "earlier_work_id": "1e99", "reason": "x"},
        {"work_id": "1", "earlier_work_id": "2", "reason": "x" * 6000},
    ):
        response = market.client.post("/disputes", data={"csrf_token": token, **data})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("text/html")
    decided = market.client.post(
        "/disputes/1/decision", data={"csrf_token": token, "outcome": "maybe"}
    )
    assert decided.status_code == 422


def test_the_case_report_counts_the_money_paid_licences_recovered(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    case_id, token = case_licences.noticed_case(market, "shop.test")
    case = market.client.get(
        f"{case_licences.API}/cases/{case_id}", headers=market.alice.headers
    ).json()
    alert = market.client.get(
        f"{case_licences.API}/alerts/{case['alert_ids'][0]}", headers=market.alice.headers
    )
    market.offer(alert.json()["work_id"], "wholesale", "bundle")
    assert case_licences.offer(market, case_id).status_code == 201
    sign_in(market.client, market.alice)
    unpaid = market.client.get("/cases").text
    assert "no paid licences yet" in unpaid
    paid = case_licences.pay(market, case_id, token, {"payment_method": brand_card(localstripe)})
    assert paid.status_code == 201, paid.text
    report = market.client.get("/cases").text
    recovered = re.search(r'<tr class="money-recovered">(.*?)</tr>', report, re.S)
    assert recovered is not None
    assert "$100.00 from 1 paid licences" in recovered.group(1)
    assert 'href="/disputes"' in report


def test_an_administrator_rejects_and_the_parties_are_paid(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    dispute, _ = disputes.dispute_paid_sale(market, localstripe)
    judge = disputes.admin(market)
    token = sign_in(market.client, judge)
    page = market.client.get(f"/disputes/{dispute['id']}").text
    assert 'value="rejected"' in page
    assert 'class="concede"' not in page  # conceding is the respondent's
    decided = market.client.post(
        f"/disputes/{dispute['id']}/decision",
        data={"csrf_token": token, "outcome": "rejected", "reason": "No earlier evidence."},
        follow_redirects=False,
    )
    assert decided.status_code == 303, decided.text
    assert "released" in market.client.get(f"/disputes/{dispute['id']}").text
    assert disputes.owed(market, "acct:alice@example.com") == 6_000
    assert disputes.owed(market, "acct:bob@example.com") == 4_000
