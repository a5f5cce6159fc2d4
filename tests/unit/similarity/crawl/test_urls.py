"""URL canonicalisation: one spelling per resource, numeric IPv4 hosts read as browsers do."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from similarity.crawl.urls import MAX_URL_LENGTH, InvalidUrlError, canonical_url, parse_web_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://example.com:8080/", "http://example.com:8080/"),
        ("http://example.com./x", "http://example.com/x"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/%7euser/%2f", "http://example.com/~user/%2F"),
        ("http://example.com/a b?q=1 2#frag", "http://example.com/a%20b?q=1%202"),
        ("http://example.com/?b=2&a=1", "http://example.com/?b=2&a=1"),
        ("http://bücher.de/ä", "http://xn--bcher-kva.de/%C3%A4"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f000001/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://127.0.0.%31/", "http://127.0.0.1/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        (" http://exa\tmple.com/\n", "http://example.com/"),
    ],
)
def test_canonical_spelling(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_relative_reference_resolves_against_base() -> None:
    assert canonical_url("../img/a.png", base="http://h.com/p/q/page") == "http://h.com/p/img/a.png"


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.com/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http:///nohost",
        "http://exa mple.com/",
        "http://1.2.3.08/",
        "http://256.256.256.256.256/",
        "http://4294967296/",
        "http://[fe80::1%25eth0]/",
        "http://example.com:99999/",
        "http://example.com/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_uncrawlable_urls_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidUrlError):
        canonical_url(raw)


def test_userinfo_is_kept_for_the_guard_to_see() -> None:
    assert parse_web_url("http://user:pw@example.com/").userinfo == "user:pw"


_segments = st.text(alphabet="abcXYZ09-._~%/ ?=&é", max_size=30)


@given(host=st.sampled_from(["example.com", "EXAMPLE.org", "127.0.0.1", "[::1]"]), path=_segments)
def test_canonicalisation_is_idempotent(host: str, path: str) -> None:
    try:
        once = canonical_url(f"http://{host}/{path}")
    except InvalidUrlError:
        return
    assert canonical_url(once) == once


@given(address=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_numeric_ipv4_spelling_names_the_same_address(address: int) -> None:
    dotted = ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))
    spellings = [str(address), hex(address), f"{address >> 24}.{address & 0xFFFFFF}"]
    assert {parse_web_url(f"http://{spelling}/").host for spelling in spellings} == {dotted}
