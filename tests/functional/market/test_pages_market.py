"""The marketplace, checkout, payment and *My licenses* pages, hostile queries included."""

from __future__ import annotations

import re
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import select

from frontend.services import Services
from licensing.models import GrantStatus, LicenseGrant, LicenseOffer
from registry.models import Work
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from tests.factories import make_account, random_png
from tests.support.market import (
    API,
    Market,
    brand_account,
    usd,
)

pytestmark = pytest.mark.pages_on_sqlite


def listed(page: str) -> list[int]:
    return [
        int(found) for found in re.findall(r'class="card market-card" href="/verify/(\d+)"', page)
    ]


def titled(market: Market, title: str, tags: list[str], description: str = "") -> int:
    work_id = market.work()
    with market.services.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        work.title, work.tags, work.description = title, tags, description
        session.add(work)
        session.commit()
    return work_id


@pytest.fixture
def shelf(market: Market) -> dict[str, int]:
    """Three works: a cheap wholesale koi that allows AI training, a dear buyout crane, and a
    heron nobody offers."""
    koi = titled(market, "Koi pond", ["fish", "water"], "orange koi under lilies")
    market.activate(
        koi,
        ai_training="allowed",
        wholesale={"packages": [{"id": "bundle", "units": 100, "fee": usd(2_500)}]},
    )
    market.offer(koi, "wholesale", "bundle")
    market.offer(koi, "retail")
    crane = titled(market, "Crane 100%", ["bird"], "a red-crowned crane")
    market.activate(crane, buyout={"fee": usd(90_000), "territories": ["JP"], "term_months": 24})
    market.offer(crane, "buyout")
    heron = titled(market, "Heron", ["bird", "water"])
    return {"koi": koi, "crane": crane, "heron": heron}


def test_the_marketplace_lists_every_published_work_newest_first(
    market: Market, shelf: dict[str, int]
) -> None:
    page = market.client.get("/")
    assert page.status_code == 200
    assert listed(page.text) == [shelf["heron"], shelf["crane"], shelf["koi"]]
    assert "$25.00" in page.text
    assert "$900.00" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=koi", ["koi"]),
        ("q=CRANE", ["crane"]),
        ("q=lilies", ["koi"]),
        ("tags=bird", ["heron", "crane"]),
        ("tags=bird,water", ["heron"]),
        ("type=buyout", ["crane"]),
        ("type=retail", ["koi"]),
        ("ai=1", ["koi"]),
        ("min_price=100", ["crane"]),
        ("max_price=25", ["koi"]),
        ("min_price=25.00&max_price=25", ["koi"]),
        ("max_price=24.99", []),
        ("sort=price_high", ["crane", "koi", "heron"]),
        ("sort=price_low", ["koi", "crane", "heron"]),
        ("sort=title", ["crane", "heron", "koi"]),
        ("sort=oldest", ["koi", "crane", "heron"]),
        ("q=100%25", ["crane"]),
        ("q=%25", ["crane"]),
        ("q=_", []),
        ("tags=bir", []),
        ("tags=bird&type=buyout", ["crane"]),
        ("q=r&tags=water&sort=price_high", ["koi", "heron"]),
        ("q=r&tags=water&ai=1&sort=price_low", ["koi"]),
    ],
)
def test_filters_and_sorts_narrow_the_list(
    market: Market, shelf: dict[str, int], query: str, expected: list[str]
) -> None:
    page = market.client.get(f"/?{query}")
    assert page.status_code == 200, page.text
    assert listed(page.text) == [shelf[name] for name in expected]


@pytest.mark.parametrize(
    ("query", "language", "count"),
    [
        ("q=koi", "en", "1 work found · page 1 of 1"),
        ("tags=bird", "en", "2 works found · page 1 of 1"),
        ("max_price=24.99", "en", "0 works found · page 1 of 1"),
        ("q=koi", "zh-CN", "找到 1 件作品 · 第 1 页，共 1 页"),
        ("tags=bird", "zh-CN", "找到 2 件作品 · 第 1 页，共 1 页"),
    ],
)
def test_the_count_found_reads_as_a_sentence_in_each_language(
    market: Market, shelf: dict[str, int], query: str, language: str, count: str
) -> None:
    page = market.client.get(f"/?{query}", headers={"Accept-Language": language})
    assert page.status_code == 200
    assert count in page.text


def test_a_private_work_is_not_in_the_marketplace(market: Market, shelf: dict[str, int]) -> None:
    hidden = market.work(visibility="private")
    assert hidden not in listed(market.client.get("/").text)


def test_pages_hold_twenty_four_works_and_link_the_next(market: Market) -> None:
    for _ in range(25):
        market.work()
    first = market.client.get("/").text
    assert len(listed(first)) == 24
    assert 'rel="next"' in first
    second = market.client.get("/?page=2").text
    assert len(listed(second)) == 1
    assert 'rel="prev"' in second


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("min_price=50&max_price=10", 400, "the lowest price (50) is above the highest (10)"),
        ("min_price=abc", 400, "must be a number"),
        ("max_price=1e999", 400, "a price must be a number from 0"),
        ("max_price=NaN", 400, "a price must be a number from 0"),
        ("min_price=-1", 400, "a price must be a number from 0"),
        ("type=lease", 400, "there is no licence type"),
        ("sort=random()", 400, "there is no sort order"),
        ("tags=" + "x" * 65, 400, "at most 64 characters"),
        ("tags=" + ",".join("abcdefghijk"), 400, "at most 10 tags"),
        ("page=0", 422, "page"),
        ("page=99999999999999999999999", 422, "page"),
        ("page=-3", 422, "page"),
        ("q=" + "a" * 201, 422, "q"),
        ("q=koi%00", 400, "control characters"),
        ("tags=fi%07sh", 400, "control characters"),
    ],
)
def test_hostile_queries_are_refused_in_words(
    market: Market, shelf: dict[str, int], query: str, status: int, words: str
) -> None:
    page = market.client.get(f"/?{query}")
    assert page.status_code == status, page.text
    assert words in page.text.replace("&#39;", "'")


def test_a_page_past_the_last_is_empty(market: Market, shelf: dict[str, int]) -> None:
    page = market.client.get("/?page=10000")
    assert page.status_code == 200
    assert listed(page.text) == []


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=60), tag=st.text(max_size=20))
def test_any_search_text_answers_without_a_server_error(
    market: Market, shelf: dict[str, int], text: str, tag: str
) -> None:
    page = market.client.get("/", params={"q": text, "tags": tag})
    assert page.status_code in (200, 400, 422), page.text
    if page.status_code == 200:
        # Every listed work really contains the text: nothing in it acts as a wildcard.
        with market.services.session() as session:
            for work_id in listed(page.text):
                work = session.get(Work, work_id)
                assert work is not None
                haystack = f"{work.title}\n{work.description}".lower()
                assert text.strip().lower() in haystack


def test_a_works_public_page_shows_its_offers_terms_before_buying(market: Market) -> None:
    registered = market.client.post(
        f"{API}/works",
        headers=market.alice.headers,
        files={"file": ("crane.png", random_png(11))},
        data={"title": "Crane"},
    )
    assert registered.status_code == 201, registered.text
    work_id = int(registered.json()["work_id"])
    market.activate(work_id, buyout={"fee": usd(90_000), "territories": ["JP"], "term_months": 24})
    buyout = market.offer(work_id, "buyout")
    market.offer(work_id, "wholesale", "bundle")
    page = market.client.get(f"/verify/{work_id}").text
    assert "Exclusive buyout" in page
    assert "$900.00" in page
    assert "JP" in page
    assert "24 months" in page
    assert "not allowed" in page
    assert f'href="/offers/{buyout}/checkout"' in page
    assert "100 units" in page
    assert "worldwide" in page
    assert "$100.00" in page


def offer_of(market: Market, work_id: int, sale_type: str) -> int:
    with market.services.session() as session:
        offer = session.exec(
            select(LicenseOffer).where(
                LicenseOffer.work_id == work_id, LicenseOffer.sale_type == sale_type
            )
        ).one()
        return int(offer.id or 0)


def test_checkout_shows_terms_and_total_and_asks_a_visitor_to_sign_in(
    market: Market, shelf: dict[str, int]
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    page = market.client.get(f"/offers/{offer_id}/checkout")
    assert page.status_code == 200
    assert "Total" in page.text
    assert "$900.00" in page.text
    assert "Sign in with a brand account to license this work." in page.text
    assert 'id="take-licence"' not in page.text


def test_a_withdrawn_offer_is_refused_in_words(market: Market, shelf: dict[str, int]) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    assert market.client.delete(f"{API}/offers/{offer_id}", headers=market.alice.headers).is_success
    page = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    )
    assert page.status_code == 409
    assert "The rights holder withdrew this offer" in page.text


def test_a_reserved_buyout_is_refused_to_a_second_brand_in_words(
    market: Market, shelf: dict[str, int], client: TestClient, services: Services
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    taken = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    )
    assert taken.status_code == 303
    other = brand_account(client, services, "rival@other.example", "other.example", market.inbox)
    page = market.client.post(
        f"/offers/{offer_id}/checkout", headers=other.headers, follow_redirects=False
    )
    assert page.status_code == 409
    assert "Another brand reserved this work for a buyout" in page.text


def test_a_designer_cannot_take_a_licence(market: Market, shelf: dict[str, int]) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    page = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.bob.headers, follow_redirects=False
    )
    assert page.status_code == 409
    assert "Only brand accounts take licences" in page.text


def card_id(sandbox: LocalStripe, number: str = "4242424242424242") -> str:
    """The card a browser's card form tokenises, as the sandbox's Stripe.js does."""
    processor = stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": sandbox.api_base})
    token = processor.v1.tokens.create(
        params={"card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    return str(token.card.id)  # type: ignore[union-attr]


def test_a_buyout_is_paid_on_the_payment_page_and_the_licence_is_active(
    market: Market,
    shelf: dict[str, int],
    localstripe: LocalStripe,
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    taken = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    )
    pay_url = taken.headers["location"]
    assert re.fullmatch(r"/licenses/\d+/pay", pay_url)
    page = market.client.get(pay_url, headers=market.brand.headers, follow_redirects=False)
    policy = page.headers["content-security-policy"]
    assert f"script-src 'self' {localstripe.api_base}" in policy
    assert f"connect-src 'self' {localstripe.api_base}" in policy
    assert f'src="{localstripe.api_base}/js.stripe.com/v3/"' in page.text
    assert "$900.00" in page.text
    assert market.client.get("/").headers["content-security-policy"].count("127.0.0.1") == 0
    paid = market.client.post(
        pay_url,
        data={"payment_method": card_id(localstripe)},
        headers=market.brand.headers,
        follow_redirects=False,
    )
    assert paid.status_code == 303, paid.text
    licence = market.client.get(
        paid.headers["location"], headers=market.brand.headers, follow_redirects=False
    ).text
    assert 'id="grant-state">active' in licence
    grant_id = int(pay_url.split("/")[2])
    certificate = market.client.get(
        f"/licenses/{grant_id}/certificate.pdf",
        headers=market.brand.headers,
        follow_redirects=False,
    )
    assert certificate.headers["content-type"] == "application/pdf"
    assert certificate.content.startswith(b"%PDF")
    listing = market.client.get(
        "/licenses", headers=market.brand.headers, follow_redirects=False
    ).text
    assert f"/api/v1/grants/{grant_id}/certificate" in listing


def test_a_declined_card_is_refused_in_words_and_the_licence_still_waits(
    market: Market,
    shelf: dict[str, int],
    localstripe: LocalStripe,
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    pay_url = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    ).headers["location"]
    refused = market.client.post(
        pay_url,
        data={"payment_method": card_id(localstripe, "4000000000000341")},
        headers=market.brand.headers,
        follow_redirects=False,
    )
    assert refused.status_code == 422, refused.text
    assert "the card was refused" in refused.text
    with market.services.session() as session:
        grant = session.get(LicenseGrant, int(pay_url.split("/")[2]))
        assert grant is not None
        assert grant.status == GrantStatus.PENDING_PAYMENT


@pytest.mark.parametrize("method", ["", "tok_123", "pm_<script>", "card_" + "x" * 300])
def test_a_payment_without_a_card_is_refused_in_words(
    market: Market, shelf: dict[str, int], method: str
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    pay_url = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    ).headers["location"]
    refused = market.client.post(
        pay_url, data={"payment_method": method}, headers=market.brand.headers
    )
    assert refused.status_code in (400, 422)
    assert refused.status_code == 422 or "The card form sent no card" in refused.text


def test_another_brands_licence_is_not_found(
    market: Market, shelf: dict[str, int], client: TestClient, services: Services
) -> None:
    offer_id = offer_of(market, shelf["crane"], "buyout")
    pay_url = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    ).headers["location"]
    other = brand_account(client, services, "rival@other.example", "other.example", market.inbox)
    assert (
        market.client.get(pay_url, headers=other.headers, follow_redirects=False).status_code == 404
    )
    assert (
        market.client.get(
            pay_url.removesuffix("/pay"), headers=other.headers, follow_redirects=False
        ).status_code
        == 404
    )


def retail_licence(market: Market, shelf: dict[str, int]) -> str:
    offer_id = offer_of(market, shelf["koi"], "retail")
    taken = market.client.post(
        f"/offers/{offer_id}/checkout", headers=market.brand.headers, follow_redirects=False
    )
    assert taken.status_code == 303
    return str(taken.headers["location"])


def upload(market: Market, licence: str, report_id: str, csv: bytes, lang: str = "en") -> Any:
    return market.client.post(
        f"{licence}/sales-reports?lang={lang}",
        data={"report_id": report_id},
        files={"report": ("sales.csv", csv, "text/csv")},
        headers=market.brand.headers,
    )


def test_a_sales_report_names_every_bad_line_and_stores_nothing(
    market: Market, shelf: dict[str, int]
) -> None:
    licence = retail_licence(market, shelf)
    csv = b"units,net_revenue\n10,100.00\nten,5.00\n3,1.234\n4,40.00\n"
    answer = upload(market, licence, "2026-11", csv)
    assert answer.status_code == 422
    assert "CSV line 3: units must be a whole number" in answer.text
    assert "CSV line 4: net_revenue" in answer.text
    assert "CSV line 2" not in answer.text
    assert "CSV line 5" not in answer.text
    assert "No sales reported yet." in answer.text


def test_a_sales_report_names_every_bad_line_to_a_chinese_reader(
    market: Market, shelf: dict[str, int]
) -> None:
    licence = retail_licence(market, shelf)
    csv = b"units,net_revenue\n10,100.00\nten,5.00\n3,1.234\n"
    answer = upload(market, licence, "2026-11", csv, "zh")
    assert answer.status_code == 422
    assert "CSV 第 3 行：units 必须是整数" in answer.text
    assert "CSV 第 4 行：net_revenue" in answer.text
    assert "CSV line" not in answer.text
    assert "UTF-8 文本" in upload(market, licence, "2026-11", b"units\n\xff\n", "zh").text
    assert "文件是空的" in upload(market, licence, "2026-11", b"", "zh").text


def test_a_sales_report_makes_the_invoice(market: Market, shelf: dict[str, int]) -> None:
    licence = retail_licence(market, shelf)
    answer = upload(market, licence, "2026-11", b"units,net_revenue\n10,100.00\n4,40.00\n")
    assert answer.status_code == 201, answer.text
    assert "Report 2026-11 stored: 2 lines, royalties $14.00." in answer.text
    assert re.search(r'id="invoice-total">\$14.00<', answer.text)
    one_line = upload(market, licence, "2026-12", b"units,net_revenue\n1,10.00\n")
    assert "Report 2026-12 stored: 1 line, royalties" in one_line.text


def test_a_report_that_is_not_csv_text_is_refused_in_words(
    market: Market, shelf: dict[str, int]
) -> None:
    licence = retail_licence(market, shelf)
    answer = upload(market, licence, "bad", b"\xff\xfe\x00binary")
    assert answer.status_code == 422
    assert "not UTF-8 text" in answer.text


@pytest.mark.parametrize(
    ("roles", "landing"),
    [(["brand"], "/"), (["rights_holder"], "/alerts"), (["creator"], "/works")],
)
def test_signing_in_lands_each_role_on_its_page(
    client: TestClient, roles: list[str], landing: str
) -> None:
    make_account(client, f"{roles[0]}@example.org", roles=roles)
    signed_in = client.post(
        "/login",
        data={"email": f"{roles[0]}@example.org", "password": "correct horse battery"},
        headers={"origin": "http://testserver"},
        follow_redirects=False,
    )
    assert signed_in.headers["location"] == "/landing"
    assert client.get("/landing", follow_redirects=False).headers["location"] == landing


def test_a_new_contract_version_reprices_the_listed_offer(
    market: Market, shelf: dict[str, int]
) -> None:
    crane = shelf["crane"]
    proposed = market.propose(crane, version=2, buyout={"fee": usd(45_000)})
    assert proposed.status_code == 201, proposed.text
    market.consent(proposed.json()["id"], market.alice, "alice")
    assert market.consent(proposed.json()["id"], market.bob, "bob").status_code == 201
    assert listed(market.client.get("/?max_price=450").text) == [shelf["koi"], crane][::-1]
    page = market.client.get(f"/offers/{offer_of(market, crane, 'buyout')}/checkout").text
    assert "$450.00" in page
    assert "$900.00" not in page
