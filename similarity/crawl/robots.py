"""No URL is fetched unless its origin's robots.txt (RFC 9309) allows it to our product token.

robots.txt is fetched once per origin per crawl and cached. RFC 9309 section 2.3.1: a 4xx
answer means no rules (everything allowed); a 5xx answer, a network failure or a refused
origin means the site is unreachable and everything is disallowed. Redirects are followed (the
fetcher allows five hops, as the RFC asks). A Crawl-delay slows the origin's host down.
"""

from __future__ import annotations

import asyncio

from protego import Protego

from similarity.crawl.fetcher import Fetcher, FetchError
from similarity.crawl.urls import WebUrl

MAX_ROBOTS_BYTES = 500 * 1024


class _Rules:
    def __init__(self, parser: Protego | None, *, allow_all: bool) -> None:
        self.parser = parser
        self.allow_all = allow_all

    def allows(self, url: str, token: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, token))


class RobotsPolicy:
    """Answers "may we fetch this URL?" from each origin's robots.txt, fetched on first use."""

    def __init__(self, fetcher: Fetcher, *, product: str = "CopymarkBot") -> None:
        self._fetcher = fetcher
        self._token = product
        self._rules: dict[str, _Rules] = {}
        self._loading: dict[str, asyncio.Lock] = {}

    async def allows(self, url: WebUrl) -> bool:
        """Whether robots.txt of the URL's origin lets our token fetch it."""
        rules = self._rules.get(url.origin)
        if rules is None:
            async with self._loading.setdefault(url.origin, asyncio.Lock()):
                rules = self._rules.get(url.origin)
                if rules is None:
                    rules = await self._load(url)
                    self._rules[url.origin] = rules
        return rules.allows(str(url), self._token)

    async def _load(self, url: WebUrl) -> _Rules:
        try:
            record = await self._fetcher.fetch(f"{url.origin}/robots.txt", accept="text/plain")
        except FetchError:
            return _Rules(None, allow_all=False)
        if 400 <= record.status < 500:
            return _Rules(None, allow_all=True)
        if not 200 <= record.status < 300:
            return _Rules(None, allow_all=False)
        text = record.content[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        parser = Protego.parse(text)
        delay = parser.crawl_delay(self._token)
        if delay is not None:
            self._fetcher.politeness.request_delay(url.host, float(delay))
        return _Rules(parser, allow_all=False)
