"""Whole crawls of the hostile loopback site: images found, rules kept, problems logged."""

from collections import Counter
from pathlib import Path

import pytest

from similarity.crawl import (
    CrawlEvent,
    CrawlFinished,
    ImageFound,
    IssueKind,
    PageFetched,
    PageIssue,
    Unchanged,
    Validators,
)
from tests.sites import EMBEDDING_STYLES, LoopbackSite
from tests.unit.similarity.crawl.conftest import CrawlRunner
from tests.unit.similarity.crawl.support import WORK_IMAGES


def found_images(events: list[CrawlEvent]) -> list[ImageFound]:
    return [event for event in events if isinstance(event, ImageFound)]


def issue_kinds(events: list[CrawlEvent]) -> Counter[IssueKind]:
    return Counter(event.kind for event in events if isinstance(event, PageIssue))


@pytest.fixture
def full_crawl(site: LoopbackSite, crawl: CrawlRunner) -> list[CrawlEvent]:
    return crawl([site.url("/")], max_pages=40, max_depth=2)


def test_every_work_image_is_found_in_every_embedding_style(
    site: LoopbackSite, full_crawl: list[CrawlEvent]
) -> None:
    found = {(e.image_url, e.image.content) for e in found_images(full_crawl)}
    for style in EMBEDDING_STYLES:
        for name, data in WORK_IMAGES.items():
            assert (site.url(f"/images/{name}?via={style}"), data) in found


def test_image_event_carries_both_exchanges(
    site: LoopbackSite, full_crawl: list[CrawlEvent]
) -> None:
    event = next(e for e in found_images(full_crawl) if e.image_url.endswith("via=img"))
    assert event.page_url == site.url("/gallery/img")
    assert event.page.final_url == event.page_url
    assert b"work-a.png" in event.page.content
    assert event.image.resolved_ip == "127.0.0.1"


def test_robots_disallowed_paths_are_never_requested(
    site: LoopbackSite, full_crawl: list[CrawlEvent]
) -> None:
    assert site.disallowed_hits() == 0
    assert issue_kinds(full_crawl)[IssueKind.DISALLOWED_BY_ROBOTS] >= 1


def test_private_redirect_target_is_never_reached(
    canary: LoopbackSite, full_crawl: list[CrawlEvent]
) -> None:
    assert canary.total_hits == 0
    assert IssueKind.REFUSED in issue_kinds(full_crawl)


def test_problems_are_logged_and_the_crawl_goes_on(full_crawl: list[CrawlEvent]) -> None:
    kinds = issue_kinds(full_crawl)
    expected = {
        IssueKind.HTTP_STATUS,
        IssueKind.NOT_AN_IMAGE,
        IssueKind.REDIRECT_LOOP,
        IssueKind.TOO_MANY_REDIRECTS,
        IssueKind.TIMEOUT,
        IssueKind.TOO_LARGE,
        IssueKind.CONTENT_TYPE,
        IssueKind.INVALID_URL,
    }
    assert expected <= set(kinds)
    assert isinstance(full_crawl[-1], CrawlFinished)


def test_mislabelled_image_is_recognised_by_its_bytes(full_crawl: list[CrawlEvent]) -> None:
    assert any(e.image_url.endswith("via=mislabelled") for e in found_images(full_crawl))


def test_out_of_scope_links_are_not_fetched(full_crawl: list[CrawlEvent]) -> None:
    assert all("elsewhere.invalid" not in getattr(e, "url", "") for e in full_crawl)


def test_endless_calendar_stops_at_the_depth_limit(site: LoopbackSite, crawl: CrawlRunner) -> None:
    events = crawl([site.url("/calendar/2024/1")], max_depth=4, max_pages=1000)
    pages = [e for e in events if isinstance(e, PageFetched)]
    assert max(page.depth for page in pages) == 4
    assert site.hits_under("/calendar/") == 9


def test_page_budget_bounds_the_crawl(site: LoopbackSite, crawl: CrawlRunner) -> None:
    crawl([site.url("/calendar/2024/1")], max_depth=1000, max_pages=25)
    assert site.hits_under("/calendar/") == 25


def test_killed_crawl_resumes_without_refetching_done_pages(
    site: LoopbackSite, crawl: CrawlRunner, tmp_path: Path
) -> None:
    seed = [site.url("/calendar/2024/1")]
    crawl(seed, max_depth=6, store_dir=tmp_path / "job", stop_after=4, workers=1)
    hits_before_resume = site.hits_under("/calendar/")
    events = crawl(seed, max_depth=6, store_dir=tmp_path / "job", workers=1)
    finished = events[-1]
    assert isinstance(finished, CrawlFinished)
    assert finished.pages_done == 13
    assert site.hits_under("/calendar/") < hits_before_resume + 13
    assert site.hits("/calendar/2024/1") == 1


def test_unchanged_page_is_reported_as_such(site: LoopbackSite, crawl: CrawlRunner) -> None:
    url = site.url("/etag")
    events = crawl([url], validators={url: Validators(etag='"v1"')})
    assert [e.url for e in events if isinstance(e, Unchanged)] == [url]
