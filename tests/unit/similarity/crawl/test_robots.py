"""robots.txt is honoured per origin with RFC 9309's handling of missing and failing files."""

import asyncio

from similarity.crawl import RobotsPolicy, parse_web_url
from tests.sites import LoopbackSite
from tests.unit.similarity.crawl.support import make_fetcher


def allows(site: LoopbackSite, *paths: str) -> list[bool]:
    async def go() -> list[bool]:
        async with make_fetcher() as fetcher:
            robots = RobotsPolicy(fetcher)
            return [await robots.allows(parse_web_url(site.url(path))) for path in paths]

    return asyncio.run(go())


def test_disallowed_paths_are_refused_and_others_allowed(site: LoopbackSite) -> None:
    assert allows(site, "/private/secret", "/images/secret.png", "/gallery/img") == [
        False,
        False,
        True,
    ]


def test_robots_txt_is_fetched_once_per_origin(site: LoopbackSite) -> None:
    allows(site, "/a", "/b", "/c")
    assert site.hits("/robots.txt") == 1


def test_missing_robots_txt_allows_everything(site: LoopbackSite) -> None:
    site.add_page("/robots.txt", b"gone", "text/plain", status=404)
    assert allows(site, "/private/secret") == [True]


def test_failing_robots_txt_disallows_everything(site: LoopbackSite) -> None:
    site.add_page("/robots.txt", b"down", "text/plain", status=500)
    assert allows(site, "/gallery/img") == [False]


def test_refused_origin_is_disallowed(canary: LoopbackSite) -> None:
    assert allows(canary, "/page") == [False]
    assert canary.total_hits == 0


def test_crawl_delay_slows_the_host_down(site: LoopbackSite) -> None:
    site.add_page("/robots.txt", b"User-agent: *\nCrawl-delay: 2\n", "text/plain")

    async def go() -> float:
        async with make_fetcher() as fetcher:
            await RobotsPolicy(fetcher).allows(parse_web_url(site.url("/")))
            return fetcher.politeness.delay_for("127.0.0.1")

    assert asyncio.run(go()) == 2.0
