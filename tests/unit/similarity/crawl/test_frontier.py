"""The SQLite frontier queues each URL once and survives a restart."""

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.crawl import FrontierEntry, SqliteFrontierStore


def entries(*urls: str, depth: int = 0) -> list[FrontierEntry]:
    return [FrontierEntry(url=url, depth=depth) for url in urls]


def test_each_url_is_queued_once(tmp_path: Path) -> None:
    store = SqliteFrontierStore(tmp_path)
    assert store.add(entries("http://a/", "http://b/")) == 2
    assert store.add(entries("http://b/", "http://c/")) == 1
    assert store.count("pending") == 3


def test_leases_come_oldest_first_and_are_not_leased_twice(tmp_path: Path) -> None:
    store = SqliteFrontierStore(tmp_path)
    store.add(entries("http://1/", "http://2/", "http://3/"))
    first = store.lease(2)
    second = store.lease(2)
    assert [entry.url for entry in first + second] == ["http://1/", "http://2/", "http://3/"]


def test_done_pages_are_not_queued_again(tmp_path: Path) -> None:
    store = SqliteFrontierStore(tmp_path)
    store.add(entries("http://a/"))
    store.lease(1)
    store.mark_done("http://a/")
    assert store.add(entries("http://a/")) == 0
    assert store.lease(5) == []


def test_leases_of_a_killed_crawl_are_released_on_reopen(tmp_path: Path) -> None:
    store = SqliteFrontierStore(tmp_path)
    store.add(entries("http://a/", "http://b/", depth=2))
    store.lease(2)
    store.mark_done("http://a/")
    store.close()
    reopened = SqliteFrontierStore(tmp_path)
    assert reopened.release_leases() == 1
    assert reopened.lease(5) == [FrontierEntry(url="http://b/", depth=2)]


def test_reported_images_are_remembered_across_restarts(tmp_path: Path) -> None:
    store = SqliteFrontierStore(tmp_path)
    store.remember_image("http://a/i.png")
    store.close()
    reopened = SqliteFrontierStore(tmp_path)
    assert reopened.knows_image("http://a/i.png")
    assert not reopened.knows_image("http://a/j.png")


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(st.lists(st.integers(0, 20), max_size=10), max_size=6))
def test_every_added_url_is_leased_exactly_once(
    tmp_path_factory: object, batches: list[list[int]]
) -> None:

    with tempfile.TemporaryDirectory() as directory:
        store = SqliteFrontierStore(Path(directory))
        for batch in batches:
            store.add(entries(*(f"http://h/{n}" for n in batch)))
        leased = [entry.url for entry in store.lease(1000)]
        store.close()
    assert sorted(leased) == sorted({f"http://h/{n}" for batch in batches for n in batch})
