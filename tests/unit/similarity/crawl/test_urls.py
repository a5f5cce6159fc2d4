"""URL and host canonicalisation: one spelling per resource and per host, numeric IPv4 hosts
read as browsers do."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from similarity.crawl.urls import (
    MAX_HOST_LENGTH,
    MAX_URL_LENGTH,
    InvalidUrlError,
    canonical_host,
    canonical_url,
    host_within,
    parse_web_url,
)


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
        "http://0-1.0/",
        "http://0x1_0.0/",
        "http://0+7.1/",
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


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
        ("Shop.Brand.Example.", "shop.brand.example"),
        ("bücher。example", "xn--bcher-kva.example"),
        ("  brand.example\n", "brand.example"),
        ("brand.example:8443", "brand.example"),
        ("brand.example/koi?size=l", "brand.example"),
        ("https://user:pw@Bücher.Example.:8443/p?q=1#f", "xn--bcher-kva.example"),
        ("//shop.brand.example/koi", "shop.brand.example"),
        ("HTTP://[::FFFF:127.0.0.1]:80/", "::ffff:7f00:1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("0x7f.1", "127.0.0.1"),
        ("ex%41mple.com", "example.com"),
    ],
)
def test_canonical_host_of_a_host_domain_or_url(text: str, host: str) -> None:
    assert canonical_host(text) == host
    assert canonical_host(host) == host


@pytest.mark.parametrize("text", ["bücher.example", "Brand.Example.", "127.0.0.1", "[::1]"])
def test_a_host_alone_passes_host_only(text: str) -> None:
    assert canonical_host(text, host_only=True) == canonical_host(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://brand.example/",
        "brand.example:8443",
        "brand.example:",
        "user@brand.example",
        "brand.example/koi",
        "brand.example?x",
        "//brand.example",
        "[::1]:80",
    ],
)
def test_host_only_refuses_anything_but_a_host(text: str) -> None:
    with pytest.raises(InvalidUrlError, match="not a host name alone"):
        canonical_host(text, host_only=True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no host name given"),
        ("   ", "no host name given"),
        ("https:///koi", "has no host"),
        ("a" * 2048, "label"),
        ("a." * 1024, f"at most {MAX_HOST_LENGTH} characters"),
        ("x" * (MAX_URL_LENGTH + 1), f"at most {MAX_URL_LENGTH} characters"),
        ("brand\x00.example", "control characters"),
        ("brand.example\x1b[2J", "control characters"),
        ("brand\u0085.example", "control characters"),
        ("a..example", "label empty"),
        ("\ue000.example", "Invalid character"),
        ("\u05d0a.example", "BIDI"),
        ("a b.example", "invalid host name"),
        ("brand.example:99999", "Port out of range"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("fe80::1%eth0", "names no host"),
        ("[fe80::1%25eth0]", "zone identifiers"),
        ("evil.test\\@brand.example", "backslash"),
    ],
)
def test_text_naming_no_host_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidUrlError, match=re.escape(reason)):
        canonical_host(text)


@given(st.text(max_size=300))
def test_any_text_gives_a_canonical_host_or_a_refusal(text: str) -> None:
    try:
        host = canonical_host(text)
    except InvalidUrlError:
        return
    assert host == host.lower()
    assert host.isascii()
    assert not host.endswith(".")
    assert canonical_host(host) == host


@pytest.mark.parametrize(
    ("host", "domain", "within"),
    [
        ("brand.example", "brand.example", True),
        ("shop.brand.example", "brand.example", True),
        ("a.b.brand.example", "brand.example", True),
        ("evilbrand.example", "brand.example", False),
        ("brand.example.evil.test", "brand.example", False),
        ("brand.example", "shop.brand.example", False),
        ("brand.example", "", False),
        ("10.0.0.1", "10.0.0.1", True),
        ("10.0.0.1", "0.0.1", False),
    ],
)
def test_a_host_is_within_its_domain_and_subdomains_only(
    host: str, domain: str, within: bool
) -> None:
    assert host_within(host, domain) is within
