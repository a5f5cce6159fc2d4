"""The hostile loopback site, a canary that must never be reached, and a crawl runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from similarity.crawl import (
    CrawlConfig,
    Crawler,
    CrawlEvent,
    CrawlScope,
    SqliteFrontierStore,
)
from tests.sites import LoopbackSite
from tests.unit.similarity.crawl.support import WORK_IMAGES, make_fetcher

CrawlRunner = Callable[..., list[CrawlEvent]]


@pytest.fixture
def canary() -> Iterator[LoopbackSite]:
    with LoopbackSite(host="127.0.0.2") as site:
        yield site


@pytest.fixture
def site(canary: LoopbackSite) -> Iterator[LoopbackSite]:
    with LoopbackSite(
        WORK_IMAGES,
        private_redirect=canary.url("/stolen"),
        slow_s=2.0,
        trickle_s=3.0,
        huge_bytes=4 * 1024 * 1024,
        bomb_decoded_bytes=8 * 1024 * 1024,
    ) as served:
        yield served


@pytest.fixture
def crawl(tmp_path: Path) -> CrawlRunner:
    """Run a crawl to completion (or `stop_after` events) and return its events."""

    def run(
        seeds: list[str],
        *,
        max_pages: int = 200,
        max_depth: int = 3,
        store_dir: Path | None = None,
        stop_after: int | None = None,
        **config: object,
    ) -> list[CrawlEvent]:
        async def go() -> list[CrawlEvent]:
            events: list[CrawlEvent] = []
            store = SqliteFrontierStore(store_dir or tmp_path / "frontier")
            scope = CrawlScope.of_seeds(seeds, max_depth=max_depth, max_pages=max_pages)
            try:
                async with make_fetcher() as fetcher:
                    crawler = Crawler(
                        CrawlConfig(seeds=tuple(seeds), scope=scope, **config),  # type: ignore[arg-type]
                        fetcher,
                        store,
                    )
                    stream = crawler.events()
                    async for event in stream:
                        events.append(event)
                        if stop_after is not None and len(events) >= stop_after:
                            break
                    await stream.aclose()
            finally:
                store.close()
            return events

        return asyncio.run(go())

    return run
