"""Crawler engine: guarded fetching, robots.txt, politeness, HTML extraction, resumable frontier.

Typical use::

    guard = NetGuard()
    async with Fetcher(guard) as fetcher:
        crawler = Crawler(config, fetcher, SqliteFrontierStore(job_dir))
        async for event in crawler.events():
            ...  # PageFetched, ImageFound, Unchanged, PageIssue, CrawlFinished
"""

from similarity.crawl.crawler import (
    CrawlConfig,
    Crawler,
    CrawlEvent,
    CrawlFinished,
    CrawlScope,
    ImageFound,
    PageFetched,
    Unchanged,
)
from similarity.crawl.fetcher import Fetcher, FetchError, FetchLimits
from similarity.crawl.frontier import FrontierEntry, FrontierStore, SqliteFrontierStore
from similarity.crawl.netguard import NetGuard, Resolver, SystemResolver, TargetRefusedError
from similarity.crawl.politeness import HostPoliteness
from similarity.crawl.proxy import GuardedProxy
from similarity.crawl.records import FetchRecord, IssueKind, PageIssue, RedirectHop, Validators
from similarity.crawl.robots import RobotsPolicy
from similarity.crawl.urls import InvalidUrlError, WebUrl, canonical_url, parse_web_url

__all__ = [
    "CrawlConfig",
    "CrawlEvent",
    "CrawlFinished",
    "CrawlScope",
    "Crawler",
    "FetchError",
    "FetchLimits",
    "FetchRecord",
    "Fetcher",
    "FrontierEntry",
    "FrontierStore",
    "GuardedProxy",
    "HostPoliteness",
    "ImageFound",
    "InvalidUrlError",
    "IssueKind",
    "NetGuard",
    "PageFetched",
    "PageIssue",
    "RedirectHop",
    "Resolver",
    "RobotsPolicy",
    "SqliteFrontierStore",
    "SystemResolver",
    "TargetRefusedError",
    "Unchanged",
    "Validators",
    "WebUrl",
    "canonical_url",
    "parse_web_url",
]
