"""The shared frontier: hosts leased whole, paced by next-fetch times, taken over on expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from registry.db import unit_of_work
from registry.models import persisted_id
from registry.monitoring.frontier import SharedFrontier, url_hash
from registry.monitoring.service import create_job
from similarity.crawl.bloom import BloomFilter
from similarity.crawl.frontier import FrontierEntry

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_job(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        return persisted_id(create_job(session, None, ["http://a.test/"], 100))


def crawler(engine: Engine, job: int, clock: Clock, name: str, **options: int) -> SharedFrontier:
    return SharedFrontier(
        engine,
        job,
        max_pages=int(options.get("max_pages", 100)),
        delay_for=lambda _host: 1.0,
        max_hosts=int(options.get("max_hosts", 8)),
        lease_s=10.0,
        claimer=name,
        clock=clock,
    )


def pages(host: str, count: int, depth: int = 1) -> list[FrontierEntry]:
    return [FrontierEntry(url=f"http://{host}/p/{n}", depth=depth) for n in range(count)]


def test_a_host_gives_one_page_per_delay_and_only_to_its_holder(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first, second = crawler(db_engine, job, clock, "a"), crawler(db_engine, job, clock, "b")
    assert first.add(pages("a.test", 3)) == 3
    assert first.add(pages("a.test", 3)) == 0
    assert [e.url for e in first.lease(10)] == ["http://a.test/p/0"]
    assert second.lease(10) == []
    first.mark_done("http://a.test/p/0")
    assert first.lease(10) == []
    clock.advance(1.0)
    assert [e.url for e in first.lease(10)] == ["http://a.test/p/1"]
    assert second.lease(10) == []


def test_an_expired_lease_hands_the_host_and_its_pages_in_flight_over(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    dead, alive = crawler(db_engine, job, clock, "dead"), crawler(db_engine, job, clock, "alive")
    dead.add(pages("a.test", 2))
    assert [e.url for e in dead.lease(10)] == ["http://a.test/p/0"]
    clock.advance(5)
    assert alive.lease(10) == []
    clock.advance(6)
    assert [e.url for e in alive.lease(10)] == ["http://a.test/p/0"]
    alive.mark_done("http://a.test/p/0")
    clock.advance(1)
    assert [e.url for e in alive.lease(10)] == ["http://a.test/p/1"]
    alive.mark_done("http://a.test/p/1")
    assert alive.next_due() is None
    assert alive.count("done") == 2


def test_hosts_are_shared_out_and_the_budget_is_global(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first = crawler(db_engine, job, clock, "a", max_hosts=1, max_pages=3)
    second = crawler(db_engine, job, clock, "b", max_hosts=1, max_pages=3)
    first.add(pages("a.test", 2) + pages("b.test", 2))
    taken = first.lease(10) + second.lease(10)
    assert {entry.url.split("/")[2] for entry in taken} == {"a.test", "b.test"}
    for entry in taken:
        (first if entry.url.startswith("http://a.test") else second).mark_done(entry.url)
    clock.advance(1)
    assert len(first.lease(10)) == 1
    clock.advance(1)
    assert second.lease(10) == []


def test_a_page_found_again_nearer_the_seeds_keeps_the_lesser_depth(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first, second = crawler(db_engine, job, clock, "a"), crawler(db_engine, job, clock, "b")
    first.add([FrontierEntry("http://a.test/deep", 3)])
    second.add([FrontierEntry("http://a.test/deep", 1)])
    first.add([FrontierEntry("http://a.test/deep", 2)])
    assert first.lease(10) == [FrontierEntry("http://a.test/deep", 1)]


def test_images_are_reported_once_across_crawlers(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first, second = crawler(db_engine, job, clock, "a"), crawler(db_engine, job, clock, "b")
    assert not second.knows_image("http://cdn.test/x.png")
    first.remember_image("http://cdn.test/x.png")
    first.remember_image("http://cdn.test/x.png")
    assert second.knows_image("http://cdn.test/x.png")


def test_a_page_done_far_out_and_found_nearer_is_crawled_again(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first, second = crawler(db_engine, job, clock, "a"), crawler(db_engine, job, clock, "b")
    first.add([FrontierEntry("http://a.test/far", 3)])
    assert first.lease(10) == [FrontierEntry("http://a.test/far", 3)]
    second.add([FrontierEntry("http://a.test/far", 1)])
    first.mark_done("http://a.test/far")
    clock.advance(1)
    assert first.lease(10) == [FrontierEntry("http://a.test/far", 1)]
    first.mark_done("http://a.test/far")
    assert first.next_due() is None


def test_a_url_the_filter_wrongly_calls_seen_is_still_queued(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    # A filter that answers "seen" for a URL the table lacks: a false positive, made certain.
    mistaken = BloomFilter(10, 0.01)
    mistaken.add(url_hash("http://a.test/never-queued"))
    first = SharedFrontier(
        db_engine, job, max_pages=10, delay_for=lambda _host: 1.0, clock=clock, queued=mistaken
    )
    assert first.add([FrontierEntry("http://a.test/never-queued", 1)]) == 1
    assert first.add([FrontierEntry("http://a.test/never-queued", 1)]) == 0
    assert first.lease(10) == [FrontierEntry("http://a.test/never-queued", 1)]


def test_many_urls_in_one_page_are_queued_once_each_across_crawlers(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    first, second = crawler(db_engine, job, clock, "a"), crawler(db_engine, job, clock, "b")
    links = pages("a.test", 1200) + pages("b.test", 300)
    assert first.add(links[:900]) == 900
    assert second.add(links) == 600
    assert first.add(links) == 0
    assert first.count("pending") == 1500


def test_the_filter_given_remembers_what_the_crawler_queued(db_engine: Engine) -> None:
    job, clock = make_job(db_engine), Clock()
    queued = BloomFilter(10, 0.01)
    first = SharedFrontier(
        db_engine, job, max_pages=10, delay_for=lambda _host: 1.0, clock=clock, queued=queued
    )
    first.add(pages("a.test", 3))
    assert len(queued) == 3
    assert all(url_hash(entry.url) in queued for entry in pages("a.test", 3))
