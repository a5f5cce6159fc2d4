"""Where to send a notice: the site's security.txt contacts, then `mailto:` links on its page.

Both are fetched through the crawler's Fetcher and its network guard (private and metadata
addresses refused, bounded in time and bytes), so this module adds no second guard. Only
addresses that parse as email addresses are offered; the rights holder chooses among them or
types their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

from similarity.crawl.fetcher import Fetcher, FetchError, FetchLimits
from similarity.crawl.netguard import NetGuard

MAX_CONTACTS: Final = 10
CONTACT_LIMITS: Final = FetchLimits(
    connect_timeout_s=5.0,
    read_timeout_s=5.0,
    deadline_s=10.0,
    max_body_bytes=512 * 1024,
    max_decoded_bytes=1024 * 1024,
    max_redirects=3,
    max_retries=0,
)
_SECURITY_CONTACT = re.compile(r"^\s*contact\s*:\s*mailto:(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_PAGE_MAILTO = re.compile(r"""mailto:([^"'<>\s?]+)""", re.IGNORECASE)
# Addresses whose local part says they take copyright complaints come first.
_PREFERRED = re.compile(r"dmca|copyright|abuse|legal|takedown|infring", re.IGNORECASE)
_OK = 200


@dataclass(frozen=True)
class FoundContact:
    """An address to send a notice to and where it was found."""

    address: str
    source: str


@dataclass(frozen=True)
class ContactSearch:
    """The addresses found, best first, and why a place could not be read (in words)."""

    contacts: list[FoundContact]
    problems: list[str]


def normalise_address(text: str) -> str | None:
    """The address in canonical form, or None when it is not one email address."""
    try:
        parsed = validate_email(text.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return parsed.normalized.lower()


def security_txt_contacts(text: str) -> list[str]:
    """The `Contact: mailto:` addresses of a security.txt (RFC 9116), in file order."""
    return [unquote(match) for match in _SECURITY_CONTACT.findall(text)]


def page_mailto_addresses(html: str) -> list[str]:
    """The addresses of `mailto:` links in a page, in page order."""
    return [unquote(match) for match in _PAGE_MAILTO.findall(html)]


async def discover_contacts(page_url: str, guard: NetGuard) -> ContactSearch:
    """Where a notice about `page_url` may go: security.txt first, then the page's mailto links."""
    parts = urlsplit(page_url)
    security_txt = f"{parts.scheme}://{parts.netloc}/.well-known/security.txt"
    found: dict[str, FoundContact] = {}
    problems: list[str] = []
    async with Fetcher(guard, limits=CONTACT_LIMITS) as fetcher:
        for url, source, parse in (
            (security_txt, "security.txt", security_txt_contacts),
            (page_url, "page", page_mailto_addresses),
        ):
            text, problem = await _fetch_text(fetcher, url)
            if problem:
                problems.append(f"{source}: {problem}")
            for candidate in parse(text):
                address = normalise_address(candidate)
                if address is not None and address not in found:
                    found[address] = FoundContact(address, source)
    ranked = sorted(found.values(), key=lambda contact: _PREFERRED.search(contact.address) is None)
    return ContactSearch(ranked[:MAX_CONTACTS], problems)


async def _fetch_text(fetcher: Fetcher, url: str) -> tuple[str, str]:
    """The body of a 200 answer as text, or '' and why not (refused by the guard, no answer)."""
    try:
        record = await fetcher.fetch(url, accept="text/plain, text/html;q=0.9, */*;q=0.1")
    except FetchError as failure:
        return "", f"{url[:200]} could not be read ({failure.kind.value}: {failure.message})"
    if record.status != _OK:
        return "", f"{url[:200]} answered HTTP {record.status}"
    return record.content.decode("utf-8", errors="replace"), ""
