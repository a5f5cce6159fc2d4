"""The public "is this licensed?" page: active grants to verified domains only, and certificates."""

from __future__ import annotations

import pytest

from tests.support.market import Market

pytestmark = pytest.mark.pages_on_sqlite


def test_a_licensed_site_sees_yes_and_the_grants_certificate(market: Market) -> None:
    grant = market.retail_grant()
    page = market.client.get(
        "/licensed", params={"work": str(grant["work_id"]), "site": "https://shop.brand.example/a"}
    )
    assert page.status_code == 200
    assert "is licensed for use on https://shop.brand.example/a" in page.text
    assert f'href="/api/v1/grants/{grant["id"]}/certificate"' in page.text


def test_another_site_sees_no(market: Market) -> None:
    grant = market.retail_grant()
    page = market.client.get(
        "/licensed", params={"work": str(grant["work_id"]), "site": "brand.example.evil"}
    ).text
    assert "No: no active licence of" in page
    assert "/api/v1/grants/" not in page


def test_the_answer_is_in_chinese_for_a_chinese_reader(market: Market) -> None:
    grant = market.retail_grant()
    page = market.client.get(
        "/licensed",
        params={"work": str(grant["work_id"]), "site": "brand.example", "lang": "zh"},
    ).text
    assert "已获授权" in page


def test_a_question_naming_no_work_or_no_site_is_answered_in_words(market: Market) -> None:
    missing_site = market.client.get("/licensed", params={"work": "1", "site": ""})
    assert missing_site.status_code == 422
    assert "enter the site" in missing_site.text
    bad_work = market.client.get("/licensed", params={"work": "twelve", "site": "a.example"})
    assert bad_work.status_code == 422
    assert "enter the work&#39;s number" in bad_work.text
    unknown = market.client.get("/licensed", params={"work": "99999", "site": "a.example"})
    assert unknown.status_code == 404
    assert "work 99999 not found" in unknown.text
