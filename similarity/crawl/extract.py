"""Image references and links of an HTML page, resolved against its base URL and canonical.

Images come from `img` src/srcset (and the lazy-loading data-src/data-srcset), `picture/source`
srcset, `og:image`/`twitter:image` meta tags, and CSS `url(...)` in style attributes and
`<style>` blocks. Links come from `a`/`area` href. Values that do not make a crawlable URL
(javascript:, mailto:, data:, malformed or over-long) are reported in `invalid`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from similarity.crawl.urls import InvalidUrlError, canonical_url

MAX_REFERENCES = 5000
MAX_REPORTED_INVALID = 20

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*?)\1\s*\)""", re.IGNORECASE)
_IMAGE_META = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
)
_NON_WEB_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "blob:")


@dataclass(frozen=True)
class ImageReference:
    """An image URL found on a page and the markup it came from (`img`, `srcset`, `meta`...)."""

    url: str
    source: str


@dataclass(frozen=True)
class ExtractedPage:
    """What a page points at: images to check, links to follow, values that were not URLs."""

    base_url: str
    images: tuple[ImageReference, ...]
    links: tuple[str, ...]
    invalid: tuple[str, ...]


def srcset_urls(srcset: str) -> list[str]:
    """The candidate URLs of a srcset attribute (HTML's srcset parsing, descriptors dropped)."""
    urls: list[str] = []
    position = 0
    length = len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        candidate = srcset[start:position]
        if candidate.endswith(","):
            candidate = candidate.rstrip(",")
        else:
            depth = 0
            while position < length and (srcset[position] != "," or depth > 0):
                depth += {"(": 1, ")": -1}.get(srcset[position], 0)
                position += 1
        if candidate:
            urls.append(candidate)
    return urls


class _Collector:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.images: dict[str, ImageReference] = {}
        self.links: dict[str, None] = {}
        self.invalid: list[str] = []

    def _resolve(self, value: str) -> str | None:
        value = value.strip()
        if not value or value.startswith("#"):
            return None
        if value.lower().startswith(_NON_WEB_SCHEMES):
            return None
        try:
            return canonical_url(value, base=self.base_url)
        except InvalidUrlError as error:
            if len(self.invalid) < MAX_REPORTED_INVALID:
                self.invalid.append(f"{value[:120]!r}: {error}")
            return None

    def image(self, value: str | None, source: str) -> None:
        if value is None or len(self.images) >= MAX_REFERENCES:
            return
        url = self._resolve(value)
        if url is not None and url not in self.images:
            self.images[url] = ImageReference(url=url, source=source)

    def link(self, value: str | None) -> None:
        if value is None or len(self.links) >= MAX_REFERENCES:
            return
        url = self._resolve(value)
        if url is not None:
            self.links.setdefault(url, None)

    def css(self, text: str, source: str) -> None:
        for match in _CSS_URL.finditer(text):
            self.image(match.group(2), source)


def extract_page(html: bytes | str, page_url: str) -> ExtractedPage:
    """Parse `html` fetched from `page_url` and collect its images and links."""
    tree = LexborHTMLParser(html, encoding=isinstance(html, bytes))
    base_url = page_url
    base = tree.css_first("base[href]")
    if base is not None:
        try:
            base_url = canonical_url(base.attributes.get("href") or "", base=page_url)
        except InvalidUrlError:
            base_url = page_url
    found = _Collector(base_url)
    for node in tree.css("img"):
        attributes = node.attributes
        found.image(attributes.get("src"), "img")
        found.image(attributes.get("data-src"), "img")
        for attribute in ("srcset", "data-srcset"):
            for candidate in srcset_urls(attributes.get(attribute) or ""):
                found.image(candidate, "srcset")
    for node in tree.css("picture source"):
        for candidate in srcset_urls(node.attributes.get("srcset") or ""):
            found.image(candidate, "picture")
    for node in tree.css("meta[content]"):
        key = (node.attributes.get("property") or node.attributes.get("name") or "").lower()
        if key in _IMAGE_META:
            found.image(node.attributes.get("content"), "meta")
    for node in tree.css("[style]"):
        found.css(node.attributes.get("style") or "", "style")
    for node in tree.css("style"):
        found.css(node.text(deep=True), "css")
    for node in tree.css("a[href], area[href]"):
        found.link(node.attributes.get("href"))
    return ExtractedPage(
        base_url=base_url,
        images=tuple(found.images.values()),
        links=tuple(found.links),
        invalid=tuple(found.invalid),
    )
