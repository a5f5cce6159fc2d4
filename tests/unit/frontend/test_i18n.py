"""Choosing a locale from Accept-Language, and money and dates formatted per locale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend.i18n import accepted_locale, format_datetime, format_money
from licensing.money import Money


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, zh;q=0.4, en;q=0.3", "zh"),
        ("en;q=0.2, zh-Hans;q=0.7", "zh"),
        ("zh;q=0, en;q=0.1", "en"),
        ("fr, de", None),
        ("", None),
        ("zh;q=abc, en", "en"),
    ],
)
def test_the_most_preferred_supported_language_wins(header: str, locale: str | None) -> None:
    assert accepted_locale(header) == locale


@given(st.text(max_size=300))
def test_any_accept_language_header_yields_a_supported_locale_or_none(header: str) -> None:
    assert accepted_locale(header) in {"en", "zh", None}


def test_money_is_written_as_each_locale_writes_it() -> None:
    assert format_money(Money(123450, "USD"), "en") == "$1,234.50"
    assert format_money(Money(123450, "CNY"), "zh") == "¥1,234.50"
    assert format_money(Money(500, "JPY"), "en") == "¥500"


def test_dates_say_they_are_utc_in_both_languages() -> None:
    moment = datetime(2026, 11, 30, 18, 5, tzinfo=UTC)
    assert format_datetime(moment, "en") == "Nov 30, 2026, 6:05:00\u202fPM UTC"
    assert format_datetime(moment, "zh").startswith("2026年11月30日")
    assert format_datetime(moment, "zh").endswith("UTC")
