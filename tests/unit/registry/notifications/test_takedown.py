"""Takedown notices: every fact appears, the statutory statements are there, HTML is escaped."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from registry.notifications.takedown import (
    RenderedNotice,
    TakedownFacts,
    chinese_platform_complaint,
    dmca_notice,
)

FACTS = TakedownFacts(
    rights_holder_name="Mei Lin Studio",
    rights_holder_email="rights@meilin.example",
    work_title="Sunflowers in Rain",
    work_id=4242,
    certificate_log_index=1017,
    certificate_root_hash="9f" * 32,
    certificate_key_id="ed25519:5a1b2c3d",
    evidence_sha256="ab" * 32,
    evidence_log_index=2048,
    infringing_page_url="https://shop.example/products/sunflower-tee",
    infringing_image_url="https://cdn.shop.example/img/sunflower.jpg",
    first_seen_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
    signed_on=date(2026, 11, 27),
)
HOSTILE = dataclasses.replace(
    FACTS,
    work_title='<script>alert("x")</script> & "Sunflowers"',
    rights_holder_name="<b>Mallory</b>",
    infringing_page_url='https://shop.example/p?q="><img src=x onerror=alert(1)>',
    infringing_image_url="javascript:alert(1)",
)
Render = Callable[[TakedownFacts], RenderedNotice]
RENDERERS: list[Render] = [dmca_notice, chinese_platform_complaint]


def _facts_as_text(facts: TakedownFacts) -> list[str]:
    return [
        facts.rights_holder_name,
        facts.rights_holder_email,
        facts.work_title,
        str(facts.work_id),
        str(facts.certificate_log_index),
        facts.certificate_root_hash,
        facts.certificate_key_id,
        facts.evidence_sha256,
        str(facts.evidence_log_index),
        facts.infringing_page_url,
        facts.infringing_image_url,
        "2026-11-20 08:30:00 UTC",
        "2026-11-27",
    ]


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs.extend(value or "" for name, value in attrs if name == "href")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(notice: RenderedNotice) -> _TextCollector:
    collector = _TextCollector()
    collector.feed(notice.html)
    return collector


@pytest.mark.parametrize("render", RENDERERS)
def test_every_fact_appears_in_the_text(render: Render) -> None:
    text = render(FACTS).text
    missing = [fact for fact in _facts_as_text(FACTS) if fact not in text]
    assert missing == []


@pytest.mark.parametrize("render", RENDERERS)
def test_every_fact_appears_in_the_html_text(render: Render) -> None:
    shown = "".join(_parsed(render(FACTS)).text)
    missing = [fact for fact in _facts_as_text(FACTS) if fact not in shown]
    assert missing == []


def test_dmca_notice_has_the_statutory_elements() -> None:
    text = dmca_notice(FACTS).text
    for element in (
        "512(c)",
        "Copyrighted work claimed to be infringed",
        "Infringing material",
        "Contact information",
        "good faith belief",
        "not authorized by the copyright owner, its agent, or the law",
        "under penalty of perjury",
        "authorized to act on behalf of the owner",
        "/s/ Mei Lin Studio",
    ):
        assert element in text


def test_chinese_complaint_has_the_required_elements() -> None:
    text = chinese_platform_complaint(FACTS).text
    for element in (
        "侵权投诉通知书",
        "权利人",
        "联系方式",
        "作品名称：《Sunflowers in Rain》",
        "侵权页面地址",
        "初步证明材料",
        "删除",
        "断开",
        "真实性承担法律责任",
    ):
        assert element in text


@pytest.mark.parametrize("render", RENDERERS)
def test_hostile_facts_cannot_add_markup(render: Render) -> None:
    parsed = _parsed(render(HOSTILE))
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert "b" not in parsed.tags
    assert HOSTILE.work_title in "".join(parsed.text)


@pytest.mark.parametrize("render", RENDERERS)
def test_quotes_in_urls_stay_inside_the_href(render: Render) -> None:
    parsed = _parsed(render(HOSTILE))
    assert HOSTILE.infringing_page_url in parsed.hrefs
    assert '"><img' not in render(HOSTILE).html


@pytest.mark.parametrize("render", RENDERERS)
def test_non_web_urls_are_never_links(render: Render) -> None:
    parsed = _parsed(render(HOSTILE))
    assert all(href.startswith("https://") for href in parsed.hrefs)
    assert HOSTILE.infringing_image_url in "".join(parsed.text)
