"""A browser asking for Chinese reads refusals and notifications in Chinese; the JSON API keeps
the English sentence."""

from __future__ import annotations

from email.header import decode_header, make_header

import pytest

from frontend.i18n import gettext_in
from registry.errors import CopymarkError
from registry.messages import N_
from registry.models import User
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_pages_designer_contracts import terms
from tests.functional.market.test_pages_market import card_id, offer_of
from tests.support.market import Market

pytestmark = pytest.mark.pages_on_sqlite

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def _in_chinese(market: Market, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, **CHINESE}


def test_a_declined_card_is_refused_in_chinese(market: Market, localstripe: LocalStripe) -> None:
    work_id = market.work()
    market.activate(work_id)
    offer_id = market.offer(work_id, "buyout")
    brand = _in_chinese(market, market.brand.headers)
    pay_url = market.client.post(
        f"/offers/{offer_id}/checkout", headers=brand, follow_redirects=False
    ).headers["location"]
    refused = market.client.post(
        pay_url,
        data={"payment_method": card_id(localstripe, "4000000000000341")},
        headers=brand,
        follow_redirects=False,
    )
    assert refused.status_code == 422, refused.text
    assert "银行卡被拒绝" in refused.text
    assert "the card was refused" not in refused.text
    assert offer_of(market, work_id, "buyout") == offer_id


def test_a_second_checkout_of_a_reserved_buyout_is_refused_in_chinese(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    offer_id = market.offer(work_id, "buyout")
    brand = _in_chinese(market, market.brand.headers)
    first = market.client.post(
        f"/offers/{offer_id}/checkout", headers=brand, follow_redirects=False
    )
    assert first.status_code == 303, first.text
    again = market.client.post(f"/offers/{offer_id}/checkout", headers=brand)
    assert again.status_code == 409
    assert f"作品 {work_id} 已被一笔等待付款的买断预留" in again.text
    assert "reserved by a buyout" not in again.text


def test_consent_to_a_declined_draft_is_refused_in_chinese_and_the_owner_is_told_in_chinese(
    market: Market,
) -> None:
    work_id = market.work()
    version_id = market.propose(work_id).json()["id"]
    declined = market.client.post(
        f"/consents/{version_id}",
        data={"party_id": "bob", "decision": "decline", "reason": "100% {} %(x)s"},
        headers=market.bob.headers,
        follow_redirects=False,
    )
    assert declined.status_code == 303, declined.text
    refused = market.client.post(
        f"/consents/{version_id}",
        data={"party_id": "alice", "decision": "consent"},
        headers=_in_chinese(market, market.alice.headers),
    )
    assert refused.status_code == 409
    assert f"参与方 &#39;bob&#39; 拒绝了合同版本 {version_id}" in refused.text
    inbox = market.client.get("/notifications", headers=_in_chinese(market, market.alice.headers))
    assert "拒绝了“koi”的合同" in inbox.text
    assert "对方的理由：100% {} %(x)s" in inbox.text
    assert "declined the contract" not in inbox.text
    english = market.client.get("/notifications", headers=market.alice.headers)
    assert "declined the contract of “koi”" in english.text


def test_disputing_ones_own_work_is_refused_in_chinese_on_the_page_and_english_in_the_api(
    market: Market,
) -> None:
    earlier, later = market.work(), market.work()
    form = {"work_id": str(later), "earlier_work_id": str(earlier), "reason": "mine"}
    page = market.client.post(
        "/disputes", data=form, headers=_in_chinese(market, market.alice.headers)
    )
    assert page.status_code == 409
    assert f"作品 {later} 已经是您的：没有可争议的内容" in page.text
    api = market.client.post(
        "/api/v1/disputes",
        json={"work_id": later, "earlier_work_id": earlier, "reason": "mine"},
        headers=_in_chinese(market, market.alice.headers),
    )
    assert api.status_code == 409
    assert api.json()["detail"] == f"work {later} is yours already: there is nothing to dispute"


def test_a_wrong_password_is_refused_in_chinese_on_the_sign_in_page(market: Market) -> None:
    page = market.client.post(
        "/login",
        data={"email": market.alice.email, "password": "not the password at all"},
        headers=CHINESE,
    )
    assert page.status_code == 401
    assert "电子邮件地址或密码错误：请检查两者后重试。" in page.text


def test_a_weak_password_is_refused_in_chinese_on_the_sign_up_page(market: Market) -> None:
    page = market.client.post(
        "/signup",
        data={"email": "ada@example.com", "password": " " * 8, "role": "creator"},
        headers=CHINESE,
    )
    assert page.status_code == 422
    assert "请选择至少 10 个字符的密码" in page.text


def test_an_error_keeps_its_english_message_and_translates_on_request() -> None:
    error = CopymarkError(N_("the card was refused: %(reason)s"), reason="50% {} %(x)s")
    assert error.message == "the card was refused: 50% {} %(x)s"
    assert str(error) == error.message
    assert error.translated(gettext_in("zh")) == "银行卡被拒绝：50% {} %(x)s"


def test_a_party_without_an_account_is_invited_in_the_inviters_language(market: Market) -> None:
    with market.services.session() as session:
        owner = session.get(User, market.alice.user_id)
        assert owner is not None
        owner.locale = "zh"
        session.add(owner)
        session.commit()
    work_id = market.work()
    proposed = market.client.post(
        f"/works/{work_id}/contract",
        data=terms(""),
        headers=market.alice.headers,
        follow_redirects=False,
    )
    assert proposed.status_code == 303, proposed.text
    invitation = market.inbox.wait_for_message_to("carol@example.com")
    subject = str(make_header(decode_header(invitation["Subject"])))
    assert subject == "alice 邀请您共同签署“koi”的合同"
    payload = invitation.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "请用此地址（carol@example.com）创建账户" in payload.decode()
