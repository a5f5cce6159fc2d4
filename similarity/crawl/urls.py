"""Every URL the crawler handles has one canonical spelling, so equal resources dedupe equal;
every host, domain or URL anyone names has one canonical host, so equal hosts compare equal.

`canonical_host` is the one host normaliser: accounts (organisation domains), monitoring
(licensed domains, alert domains, crawl allow-lists), licensing (license checks), the network
guard and webhooks all use it, and `host_within` is the one "is this host in that domain" rule.
Hosts are read the way browsers read them (WHATWG URL standard): numeric IPv4 forms such as
`2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` become dotted quads, so the network
guard sees the address a browser or `getaddrinfo` would connect to. The query string keeps its
parameter order (reordering can change what a server answers); fragments are dropped.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

MAX_URL_LENGTH = 4096
MAX_HOST_LENGTH = 253
DEFAULT_PORTS = {"http": 80, "https": 443}

_STRIPPED_CHARACTERS = re.compile(r"[\t\n\r]")
_HOST_CHARACTERS = re.compile(r"^[a-z0-9._-]+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BARE_IPV6 = re.compile(r"^[0-9A-Fa-f.%]*:[0-9A-Fa-f.%]*:[0-9A-Fa-f:.%]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DECIMAL_DIGITS = frozenset("0123456789")
_OCTAL_DIGITS = frozenset("01234567")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


class InvalidUrlError(ValueError):
    """A URL that cannot be crawled: unparseable, not http(s), or too long."""


@dataclass(frozen=True)
class WebUrl:
    """An http(s) URL split into canonical parts; `str()` gives the canonical spelling."""

    scheme: str
    host: str
    port: int
    target: str
    userinfo: str | None = None

    @property
    def origin(self) -> str:
        """scheme://host[:port], the unit robots.txt and politeness apply to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def path(self) -> str:
        """The path part of the target, without the query."""
        return self.target.split("?", 1)[0]

    def __str__(self) -> str:
        if self.userinfo is None:
            return self.origin + self.target
        scheme, rest = self.origin.split("://", 1)
        return f"{scheme}://{self.userinfo}@{rest}{self.target}"


def parse_web_url(url: str, base: str | None = None) -> WebUrl:
    """Parse `url` (resolved against `base` when given) into its canonical parts."""
    cleaned = _STRIPPED_CHARACTERS.sub("", url).strip(" \x00\x0b\x0c")
    if len(cleaned) > MAX_URL_LENGTH:
        raise InvalidUrlError(f"URL is longer than {MAX_URL_LENGTH} characters")
    try:
        joined = urljoin(base, cleaned) if base is not None else cleaned
        parts = urlsplit(joined)
        port_text = parts.port
    except ValueError as error:
        raise InvalidUrlError(f"unparseable URL {cleaned[:200]!r}: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidUrlError(f"scheme {scheme!r} is not http or https")
    netloc = parts.netloc
    userinfo = netloc.rsplit("@", 1)[0] if "@" in netloc else None
    host = _canonical_hostname(parts.hostname or "", bracketed="[" in netloc)
    port = DEFAULT_PORTS[scheme] if port_text is None else port_text
    path = _remove_dot_segments(_normalise_escapes(parts.path or "/", _PATH_SAFE))
    target = path if not parts.query else f"{path}?{_normalise_escapes(parts.query, _QUERY_SAFE)}"
    result = WebUrl(scheme=scheme, host=host, port=port, target=target, userinfo=userinfo)
    if len(str(result)) > MAX_URL_LENGTH:
        raise InvalidUrlError(f"URL is longer than {MAX_URL_LENGTH} characters once canonical")
    return result


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical spelling of `url`, resolved against `base` when given."""
    return str(parse_web_url(url, base))


def canonical_host(text: str, *, host_only: bool = False) -> str:
    """The one canonical spelling of the host that a host name, domain or URL names.

    A name becomes lower-case IDNA ASCII (punycode) without a trailing dot; an IPv4 address a
    dotted quad, read as browsers read it; an IPv6 address its compressed form without brackets.
    `Bücher.example.`, `xn--bcher-kva.example` and `https://user@bücher.example:8443/p?q` all
    give `xn--bcher-kva.example`. With `host_only` the text must be a host and nothing else (no
    scheme, userinfo, port or path): what is stored as a domain is typed as one.

    Raises InvalidUrlError, with a message fit to show the user, for text that names no host:
    empty, too long, control characters, a bad port, a name IDNA refuses.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidUrlError("no host name given")
    if len(cleaned) > MAX_URL_LENGTH:
        raise InvalidUrlError(f"a host or URL is at most {MAX_URL_LENGTH} characters")
    if _CONTROL_CHARACTERS.search(cleaned):
        raise InvalidUrlError(f"{cleaned[:100]!r} contains control characters")
    if _BARE_IPV6.match(cleaned):
        return _canonical_hostname(cleaned, bracketed=True)
    has_scheme = _SCHEME.match(cleaned) is not None
    reference = cleaned if has_scheme or cleaned.startswith("//") else f"//{cleaned}"
    try:
        parts = urlsplit(reference)
        port = parts.port
    except ValueError as error:
        raise InvalidUrlError(f"{cleaned[:100]!r} names no host: {error}") from error
    if "\\" in parts.netloc:
        # Browsers read a backslash as the end of the host, Python's urlsplit does not.
        raise InvalidUrlError(f"{cleaned[:100]!r} has a backslash in its host")
    if host_only and (
        has_scheme
        or parts.netloc != cleaned
        or "@" in parts.netloc
        or port is not None
        or parts.netloc.endswith(":")
    ):
        raise InvalidUrlError(
            f"{cleaned[:100]!r} is not a host name alone (no scheme, user, port or path)"
        )
    return _canonical_hostname(parts.hostname or "", bracketed="[" in parts.netloc)


def host_within(host: str, domain: str) -> bool:
    """Whether canonical `host` is canonical `domain` or one of its subdomains.

    Labels decide, not characters: `evilbrand.example` is not within `brand.example`. An IP
    address is within itself only.
    """
    if not domain:
        return False
    if host == domain:
        return True
    return not is_ip_address(host) and host.endswith("." + domain)


def is_ip_address(host: str) -> bool:
    """Whether a canonical host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _canonical_hostname(raw_host: str, *, bracketed: bool) -> str:
    """The canonical form of a host as `urlsplit` gives it (percent-escapes still in)."""
    if not raw_host:
        raise InvalidUrlError("URL has no host")
    if bracketed:
        if "%" in raw_host:
            raise InvalidUrlError("IPv6 zone identifiers are not crawlable")
        try:
            return ipaddress.IPv6Address(raw_host).compressed
        except ValueError as error:
            raise InvalidUrlError(f"invalid IPv6 host {raw_host[:200]!r}") from error
    decoded = unquote(raw_host).lower()
    try:
        ascii_host = decoded.encode("idna").decode("ascii")
    except UnicodeError as error:
        reason = error.__cause__ or error  # the codec wraps IDNA's own reason
        raise InvalidUrlError(f"invalid host name {raw_host[:200]!r}: {reason}") from error
    # After encoding: IDNA reads U+3002 and its kin as dots too, a trailing one included.
    if ascii_host.endswith("."):
        ascii_host = ascii_host[:-1]
    if not ascii_host or not _HOST_CHARACTERS.match(ascii_host) or ".." in ascii_host:
        raise InvalidUrlError(f"invalid host name {raw_host[:200]!r}")
    if len(ascii_host) > MAX_HOST_LENGTH:
        raise InvalidUrlError(f"a host name is at most {MAX_HOST_LENGTH} characters")
    ipv4 = _whatwg_ipv4(ascii_host)
    return ascii_host if ipv4 is None else ipv4


def _whatwg_ipv4(host: str) -> str | None:
    """The dotted quad a browser reads from `host`, or None when `host` is a name."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    if not _ends_in_number(labels[-1]):
        return None
    if len(labels) > 4:
        raise InvalidUrlError(f"invalid IPv4 host {host!r}")
    numbers = [_parse_ipv4_number(label) for label in labels]
    if any(number is None for number in numbers):
        raise InvalidUrlError(f"invalid IPv4 host {host!r}")
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidUrlError(f"IPv4 host {host!r} is out of range")
    address = values[-1]
    for index, value in enumerate(values[:-1]):
        address += value * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(address))


def _ends_in_number(label: str) -> bool:
    if label and all(c in _DECIMAL_DIGITS for c in label):
        return True
    return label[:2] in ("0x", "0X") and all(c in _HEX_DIGITS for c in label[2:])


def _parse_ipv4_number(label: str) -> int | None:
    # Digits are checked by hand: int() would also read a sign, underscores and spaces.
    if label[:2] in ("0x", "0X"):
        digits, base, allowed = label[2:] or "0", 16, _HEX_DIGITS
    elif len(label) > 1 and label.startswith("0"):
        digits, base, allowed = label[1:], 8, _OCTAL_DIGITS
    else:
        digits, base, allowed = label, 10, _DECIMAL_DIGITS
    if not digits or not all(c in allowed for c in digits):
        return None
    return int(digits, base)


def _normalise_escapes(text: str, safe: str) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, escape what must be."""

    def decode_unreserved(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else f"%{match.group(1).upper()}"

    escaped = quote(text, safe=safe, encoding="utf-8", errors="surrogatepass")
    return _PERCENT_ESCAPE.sub(decode_unreserved, escaped)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        if segment == ".":
            if is_last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if is_last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result
