"""Sign-in sends a person back only to a path on this site: every way of naming another site is
refused, however it is written or encoded."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend.pages.return_to import safe_return_path

HOSTILE = [
    "//evil.example",
    "//evil.example/works",
    "///evil.example",
    "https://evil.example",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "works/3",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "/%2525252F%2525252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/\x00/evil.example",
    " //evil.example",
    "",
    "/" + "a" * 2001,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_another_site_is_never_a_place_to_return_to(value: str) -> None:
    assert safe_return_path(value) is None


@pytest.mark.parametrize(
    "value",
    ["/", "/works", "/works/3", "/alerts?status=new&page=2", "/find#results", "/works?q=a%20b"],
)
def test_a_path_on_this_site_is_returned_to_as_it_was(value: str) -> None:
    assert safe_return_path(value) == value


@given(st.text(max_size=60))
def test_whatever_passes_resolves_to_this_site(value: str) -> None:
    returned = safe_return_path(value)
    if returned is not None:
        resolved = urljoin("https://copymark.example/here", returned)
        assert resolved.startswith("https://copymark.example/")
        assert "\\" not in returned
