"""A contract written in the form, previewed by the engine, consented to by a co-creator who was
invited in the app and by email; then an offer published and withdrawn."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from frontend.services import Services
from licensing.models import ContractVersion, LicenseOffer, OfferStatus, VersionStatus
from registry.notifications.models import Notification
from tests.factories import Account
from tests.functional.pages.test_pages import sign_in
from tests.support.market import Market
from tests.support.receivers import SmtpInbox, verification_token

pytestmark = pytest.mark.pages_on_sqlite


def terms(token: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf_token": token,
        "party_email": ["alice@example.com", "bob@example.com", "carol@example.com"],
        "party_role": ["creator", "co_creator", "co_creator"],
        "party_share": ["60", "30", "10"],
        "currency": "USD",
        "retail_kind": "rate",
        "retail_rate": "10",
        "package_id": ["pack-100"],
        "package_fee": ["250.00"],
        "package_units": ["100"],
        "buyout_fee": "",
        "territories": "us, cn",
        "term_months": "24",
        "ai_training": "not_allowed",
        "sample_type": "retail",
        "sample_units": "100",
        "sample_price": "20",
    }
    return form | changes


def test_the_preview_splits_a_sample_sale_with_the_engine(
    client: TestClient, services: Services, alice: Account
) -> None:
    work_id = Market(client, services, alice, alice, alice, SmtpInbox()).work()
    token = sign_in(client, alice)
    assert 'id="contract-form"' in client.get(f"/works/{work_id}/contract").text
    answer = client.post(f"/works/{work_id}/contract/preview", data=terms(token)).json()
    assert answer["problems"] == {}
    # 100 units at $20 with a 10% royalty: $200, split 60/30/10.
    assert [line["amount"] for line in answer["split"]["lines"]] == [
        "$120.00",
        "$60.00",
        "$20.00",
    ]
    wrong = client.post(
        f"/works/{work_id}/contract/preview",
        data=terms(token, party_share=["60", "30", "5"]),
        headers={"accept-language": "zh-CN"},
    ).json()
    assert wrong["split"] is None
    assert "95%" in wrong["problems"]["parties"]
    assert "100%" in wrong["problems"]["parties"]


def test_a_refused_form_is_shown_again_with_its_problems(
    client: TestClient, services: Services, alice: Account
) -> None:
    work_id = Market(client, services, alice, alice, alice, SmtpInbox()).work()
    token = sign_in(client, alice)
    page = client.post(
        f"/works/{work_id}/contract",
        data=terms(token, territories="USA", retail_kind="none", package_id=[""], package_fee=[""]),
    )
    assert page.status_code == 422
    assert "two-letter country codes" in page.text
    assert 'value="carol@example.com"' in page.text


def test_a_co_creator_is_invited_consents_and_an_offer_opens(
    client: TestClient, services: Services, inbox: SmtpInbox, alice: Account, bob: Account
) -> None:
    work_id = Market(client, services, alice, bob, bob, inbox).work()
    token = sign_in(client, alice)
    proposed = client.post(f"/works/{work_id}/contract", data=terms(token), follow_redirects=False)
    assert proposed.status_code == 303
    version_id = int(proposed.headers["location"].rsplit("/", 1)[1])
    # carol has no account: she is mailed; bob has one: his inbox and his email say so.
    assert f"/consents/{version_id}" in inbox.wait_for_message_to("carol@example.com").as_string()
    assert "consent" in inbox.wait_for_message_to("bob@example.com", 2).as_string()
    with services.session() as session:
        kinds = session.exec(
            select(Notification.kind).where(Notification.user_id == bob.user_id)
        ).all()
        assert "contract_invitation" in kinds
    client.post(
        f"/consents/{version_id}",
        data={"csrf_token": token, "party_id": "alice", "decision": "consent"},
    )
    client.cookies.clear()
    token = sign_in(client, bob)
    listed = client.get("/consents").text
    assert f'href="/consents/{version_id}"' in listed
    page = client.get(f"/consents/{version_id}").text
    assert "$120.00" in page
    assert "US, CN" in page
    client.post(
        f"/consents/{version_id}",
        data={"csrf_token": token, "party_id": "bob", "decision": "consent"},
    )
    assert f'href="/consents/{version_id}"' not in client.get("/consents").text
    with services.session() as session:
        version = session.get(ContractVersion, version_id)
        assert version is not None
        assert version.status == VersionStatus.DRAFT
    carol = client.post(
        "/api/v1/users", json={"email": "carol@example.com", "password": "correct horse battery"}
    )
    assert carol.status_code == 202
    # Carol verifies her address and consents; the version activates.
    token_mail = inbox.wait_for_message_to("carol@example.com", 2)
    client.post("/api/v1/email-verifications", json={"token": verification_token(token_mail)})
    client.cookies.clear()
    token = sign_in(client, Account("carol@example.com", "", 0))
    client.post(
        f"/consents/{version_id}",
        data={"csrf_token": token, "party_id": "carol", "decision": "consent"},
    )
    assert 'id="active-note"' in client.get(f"/consents/{version_id}").text
    client.cookies.clear()
    token = sign_in(client, alice)
    client.post(
        f"/works/{work_id}/offers",
        data={"csrf_token": token, "sale_type": "wholesale", "package": "pack-100"},
    )
    page = client.get(f"/works/{work_id}/licensing").text
    offer_id = int(re.findall(r'data-offer-id="(\d+)"', page)[0])
    client.post(f"/offers/{offer_id}/withdraw", data={"csrf_token": token})
    with services.session() as session:
        offer = session.get(LicenseOffer, offer_id)
        assert offer is not None
        assert offer.status == OfferStatus.WITHDRAWN


def test_a_declined_draft_never_activates(
    client: TestClient, services: Services, inbox: SmtpInbox, alice: Account, bob: Account
) -> None:
    work_id = Market(client, services, alice, bob, bob, inbox).work()
    token = sign_in(client, alice)
    proposed = client.post(
        f"/works/{work_id}/contract",
        data=terms(
            token,
            party_email=["alice@example.com", "bob@example.com"],
            party_role=["creator", "co_creator"],
            party_share=["70", "30"],
        ),
        follow_redirects=False,
    )
    version_id = int(proposed.headers["location"].rsplit("/", 1)[1])
    client.cookies.clear()
    token = sign_in(client, bob)
    client.post(
        f"/consents/{version_id}",
        data={
            "csrf_token": token,
            "party_id": "bob",
            "decision": "decline",
            "reason": "30% is low",
        },
    )
    client.cookies.clear()
    token = sign_in(client, alice)
    refused = client.post(
        f"/consents/{version_id}",
        data={"csrf_token": token, "party_id": "alice", "decision": "consent"},
    )
    assert refused.status_code == 409
    assert "declined" in refused.text
    with services.session() as session:
        told = session.exec(
            select(Notification.body).where(Notification.user_id == alice.user_id)
        ).all()
        assert any("30% is low" in body for body in told)
