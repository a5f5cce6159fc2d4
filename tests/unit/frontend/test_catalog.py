"""Every wrapped message has its Chinese translation, and translations keep their placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from frontend.i18n import CHINESE, CLDR_LOCALE, catalog_files, translations

ROOT = Path(__file__).parents[3]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# The pages; the emails lower layers write through a translator the app wires in; and the
# notifications and error messages every domain marks `N_` for the reader's language.
SOURCES = {
    ROOT / "frontend": [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
    ROOT / "registry": [("**.py", "python")],
    ROOT / "licensing": [("**.py", "python")],
    ROOT / "settlement": [("**.py", "python")],
}
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def wrapped_messages() -> dict[str, str]:
    """Each msgid the pages and emails wrap, with where it was first seen; a message with plural
    forms by its singular, as gettext looks it up."""
    found: dict[str, str] = {}
    for root, methods in SOURCES.items():
        for filename, line, message, _comments, _context in extract_from_dir(
            root, methods, keywords=KEYWORDS
        ):
            singular = message if isinstance(message, str) else message[0]
            if isinstance(singular, str):
                found.setdefault(singular, f"{root.name}/{filename}:{line}")
    return found


def chinese_entries() -> list[tuple[Path, str, str]]:
    """(catalog, msgid, translation) for each message; a message with plural forms gives its
    singular, as gettext looks it up, and its one Chinese form (Chinese has no plural)."""
    entries = []
    for path in catalog_files(CHINESE):
        with path.open("rb") as stream:
            for message in read_po(stream, locale=CLDR_LOCALE[CHINESE]):
                msgid = message.id[0] if isinstance(message.id, tuple) else message.id
                string = message.string
                if isinstance(string, tuple):
                    (string,) = string
                if msgid:
                    entries.append((path, str(msgid), str(string)))
    return entries


def test_the_pages_wrap_messages_for_translation() -> None:
    assert "Sign in" in wrapped_messages()


def test_the_domains_mark_notifications_and_errors_for_translation() -> None:
    found = wrapped_messages()
    assert "Possible copy of “%(title)s” on %(domain)s" in found
    assert "License grant %(grant)s on work %(work)s taken" in found


def test_every_wrapped_message_has_a_chinese_translation() -> None:
    translated = {msgid for _path, msgid, string in chinese_entries() if string}
    missing = [
        f"{where}: {msgid!r}"
        for msgid, where in wrapped_messages().items()
        if msgid not in translated
    ]
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    broken = [
        f"{path.name}: {msgid!r} -> {string!r}"
        for path, msgid, string in chinese_entries()
        if string and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(string))
    ]
    assert not broken, "\n".join(broken)


def test_a_message_translated_in_two_areas_is_translated_the_same_way() -> None:
    seen: dict[str, tuple[str, str]] = {}
    different = []
    for path, msgid, string in chinese_entries():
        earlier = seen.setdefault(msgid, (path.name, string))
        if string and earlier[1] and earlier[1] != string:
            different.append(f"{msgid!r}: {earlier[0]} {earlier[1]!r} vs {path.name} {string!r}")
    assert not different, "\n".join(different)


@pytest.mark.parametrize("msgid", ["Sign in", "My works"])
def test_the_merged_catalog_answers_chinese(msgid: str) -> None:
    assert translations(CHINESE).gettext(msgid) != msgid
