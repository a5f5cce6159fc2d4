"""Pages speak the language the visitor chose, or the one the browser asks for."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.pages_on_sqlite


def test_a_browser_asking_for_chinese_gets_chinese_pages(client: TestClient) -> None:
    page = client.get("/log", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "登录" in page.text
    assert ">Sign in<" not in page.text


def test_a_browser_preferring_english_gets_english_pages(client: TestClient) -> None:
    page = client.get("/log", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in page.text
    assert ">Sign in<" in page.text


def test_the_switcher_choice_is_remembered_over_the_browser_preference(client: TestClient) -> None:
    switched = client.get("/log?lang=zh", headers={"Accept-Language": "en"})
    assert "lang=zh" in switched.headers["set-cookie"]
    assert "登录" in switched.text
    later = client.get("/log", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in later.text
    back = client.get("/log?lang=en")
    assert ">Sign in<" in back.text
    assert ">Sign in<" in client.get("/log", headers={"Accept-Language": "zh"}).text


def test_the_switcher_links_to_the_same_page_in_the_other_language(client: TestClient) -> None:
    page = client.get("/log", headers={"Accept-Language": "en"})
    assert 'hreflang="zh" href="http://testserver/log?lang=zh"' in page.text


def test_an_unknown_language_falls_back_to_english_unremembered(client: TestClient) -> None:
    page = client.get("/log?lang=xx", headers={"Accept-Language": "fr, de;q=0.5"})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "set-cookie" not in page.headers or "lang=" not in page.headers["set-cookie"]
