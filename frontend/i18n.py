"""The pages' language, English or Simplified Chinese, and money and dates formatted for it.

A request's locale is the first of: the switcher's `?lang=` (remembered in the `lang` cookie),
that cookie, the signed-in user's stored language (`users.locale`, which the switcher also sets,
so it follows them to other browsers and chooses their emails' language), the browser's
`Accept-Language`, English. Translations are gettext catalogs under
`frontend/locales/<locale>/LC_MESSAGES/`; every `.po` file there holds one area's messages and
all of them are merged when first needed, so each area of the site keeps its own catalog.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Final

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensing.money import Money, currency_exponent

LOCALE_DIR: Final = Path(__file__).parent / "locales"
ENGLISH: Final = "en"
CHINESE: Final = "zh"
LOCALES: Final = (ENGLISH, CHINESE)
LANG_COOKIE: Final = "lang"
LANG_QUERY: Final = "lang"
LANG_COOKIE_SECONDS: Final = 365 * 24 * 3600
# What `<html lang>` says, and which CLDR locale formats money and dates.
HTML_LANG: Final = {ENGLISH: "en", CHINESE: "zh-CN"}
CLDR_LOCALE: Final = {ENGLISH: "en_US", CHINESE: "zh_Hans_CN"}
# The switcher names each language in itself.
LANGUAGE_NAMES: Final = {ENGLISH: "English", CHINESE: "中文"}


def catalog_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The merged catalog of a locale; English is the source language and needs none."""
    if locale not in LOCALES or locale == ENGLISH:
        return gettext.NullTranslations()
    merged = Catalog(locale=CLDR_LOCALE[locale])
    for path in catalog_files(locale):
        with path.open("rb") as stream:
            for message in read_po(stream, locale=CLDR_LOCALE[locale]):
                if message.id and message.string:
                    merged.add(message.id, message.string, context=message.context)
    compiled = BytesIO()
    write_mo(compiled, merged)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def accepted_locale(accept_language: str) -> str | None:
    """The supported locale the browser prefers most, from an `Accept-Language` header."""
    preferences: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:32]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            preferences.append((-quality, position, language))
    return min(preferences)[2] if preferences else None


def chosen_locale(connection: HTTPConnection) -> str | None:
    """The language the switcher chose: this request's `?lang=`, else the remembered cookie."""
    chosen = connection.query_params.get(LANG_QUERY) or connection.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else None


def note_user_locale(connection: HTTPConnection, stored: str | None) -> None:
    """Record the signed-in user's stored language for this request (the user lookup calls it)."""
    connection.state.user_locale = stored


def locale_for(connection: HTTPConnection) -> str:
    chosen = chosen_locale(connection)
    if chosen is not None:
        return chosen
    stored = getattr(connection.state, "user_locale", None)
    if stored in LOCALES:
        return str(stored)
    return accepted_locale(connection.headers.get("accept-language", "")) or ENGLISH


def gettext_for(connection: HTTPConnection) -> Callable[[str], str]:
    return translations(locale_for(connection)).gettext


def gettext_in(locale: str | None) -> Callable[[str], str]:
    """The message translator of a stored language (an email's recipient's); English if unknown."""
    return translations(locale if locale in LOCALES else ENGLISH).gettext


def format_money(money: Money, locale: str) -> str:
    """An amount as the locale writes it, with the currency's exact decimals: "$1,234.50"."""
    return _formatted_money(
        money.amount_minor, money.currency, CLDR_LOCALE.get(locale, CLDR_LOCALE[ENGLISH])
    )


# A list page shows a few dozen prices, many of them alike; Babel takes about 0.1 ms for each.
@lru_cache(maxsize=16_384)
def _formatted_money(amount_minor: int, currency: str, cldr_locale: str) -> str:
    amount = Decimal(amount_minor).scaleb(-currency_exponent(currency))
    return format_currency(amount, currency, locale=cldr_locale)


def format_datetime(moment: datetime, locale: str) -> str:
    """A moment in UTC, as the locale writes dates and times, saying that it is UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    cldr = CLDR_LOCALE.get(locale, CLDR_LOCALE[ENGLISH])
    return f"{babel_format_datetime(aware, 'medium', tzinfo=UTC, locale=cldr)} UTC"


def format_date(day: date | datetime, locale: str) -> str:
    return babel_format_date(day, "medium", locale=CLDR_LOCALE.get(locale, CLDR_LOCALE[ENGLISH]))


def template_context(connection: HTTPConnection) -> dict[str, object]:
    """What every template gets: `_`, `ngettext`, the locale and its formatters."""
    locale = locale_for(connection)
    catalog = translations(locale)
    return {
        "_": catalog.gettext,
        "ngettext": catalog.ngettext,
        "locale": locale,
        "html_lang": HTML_LANG[locale],
        "language_names": LANGUAGE_NAMES,
        "format_money": lambda money: format_money(money, locale),
        "format_datetime": lambda moment: format_datetime(moment, locale),
        "format_date": lambda day: format_date(day, locale),
    }


class RememberLanguage:
    """ASGI middleware: a page asked for with `?lang=` remembers that language in a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = (
            HTTPConnection(scope).query_params.get(LANG_QUERY) if scope["type"] == "http" else None
        )
        if chosen not in LOCALES:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie",
                    f"{LANG_COOKIE}={chosen}; Path=/; Max-Age={LANG_COOKIE_SECONDS}; SameSite=Lax",
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
