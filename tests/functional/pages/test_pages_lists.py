"""List pages: My works a page at a time, in words when a page does not exist, and list pages
that only read never wait for the database's write lock."""

from __future__ import annotations

import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from frontend.pages.works import WORKS_PAGE_SIZE
from frontend.services import Services
from registry.models import Visibility, Work, WorkStatus
from tests.factories import Account
from tests.functional.pages.test_pages import sign_in


def add_works(services: Services, owner: Account, count: int) -> list[int]:
    """`count` works of the owner written straight to the database, oldest first."""
    with services.session() as session:
        works = [
            Work(
                owner_id=owner.user_id,
                title=f"Study {number}",
                tags=["study"],
                sha256=f"{number:064x}",
                mime_type="image/png",
                width=40,
                height=30,
                byte_size=1_000,
                visibility=Visibility.PRIVATE if number % 7 == 0 else Visibility.PUBLIC,
                status=WorkStatus.WITHDRAWN if number % 11 == 0 else WorkStatus.REGISTERED,
            )
            for number in range(count)
        ]
        session.add_all(works)
        session.commit()
        return [work.id or 0 for work in works]


def cards(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'class="card work-card" href="/works/(\d+)"', page)]


def test_my_works_pages_newest_first_with_links_and_counts(
    client: TestClient, services: Services, alice: Account, bob: Account
) -> None:
    ids = add_works(services, alice, 2 * WORKS_PAGE_SIZE + 5)
    add_works(services, bob, 3)
    sign_in(client, alice)
    newest_first = ids[::-1]

    first = client.get("/works")
    assert first.status_code == 200
    assert cards(first.text) == newest_first[:WORKS_PAGE_SIZE]
    assert "Registered works: 53" in first.text
    assert "Works 1–24 of 53 · page 1 of 3" in first.text
    assert 'rel="next" href="http://testserver/works?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    assert 'aria-current="page" href="http://testserver/works?page=1"' in first.text
    assert 'id="drop"' in first.text
    assert all(f'src="/works/{work}/thumbnail"' in first.text for work in cards(first.text))

    second = client.get("/works?page=2")
    assert cards(second.text) == newest_first[WORKS_PAGE_SIZE : 2 * WORKS_PAGE_SIZE]
    assert "Works 25–48 of 53 · page 2 of 3" in second.text
    assert 'rel="prev" href="http://testserver/works?page=1"' in second.text
    assert 'id="drop"' in second.text
    assert 'id="upload"' in second.text

    last = client.get("/works?page=3")
    assert cards(last.text) == newest_first[2 * WORKS_PAGE_SIZE :]
    assert "Works 49–53 of 53 · page 3 of 3" in last.text
    assert 'rel="next"' not in last.text


def test_a_page_past_the_last_is_a_404_that_links_to_the_last(
    client: TestClient, services: Services, alice: Account
) -> None:
    add_works(services, alice, WORKS_PAGE_SIZE + 1)
    sign_in(client, alice)
    past = client.get("/works?page=3")
    assert past.status_code == 404
    assert "There is no page 3: your works fill 2 pages." in past.text
    assert 'href="http://testserver/works?page=2"' in past.text
    assert cards(past.text) == []
    chinese = client.get("/works?page=9&lang=zh")
    assert chinese.status_code == 404
    assert "没有第 9 页：你的作品共 2 页。" in chinese.text


def test_an_account_without_works_has_one_empty_page(client: TestClient, alice: Account) -> None:
    sign_in(client, alice)
    assert 'id="empty-state"' in client.get("/works?page=1").text
    second = client.get("/works?page=2")
    assert second.status_code == 404
    assert 'id="empty-state"' in second.text


@pytest.mark.parametrize("page", ["abc", "1.5", "0", "-1", "", "٣", "1e3", "99999999999999999999"])
def test_a_page_that_is_not_a_whole_number_is_a_422_in_words(
    client: TestClient, services: Services, alice: Account, page: str
) -> None:
    add_works(services, alice, 3)
    sign_in(client, alice)
    answer = client.get("/works", params={"page": page})
    assert answer.status_code == 422
    assert "Pages are numbered 1, 2, 3 and so on" in answer.text
    assert 'href="http://testserver/works?page=1"' in answer.text


def test_a_visitor_is_sent_to_sign_in_and_back_to_the_page(client: TestClient) -> None:
    answer = client.get("/works?page=2", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fworks%3Fpage%3D2"


def test_list_pages_answer_while_a_writer_holds_the_lock(
    client: TestClient, services: Services, alice: Account
) -> None:
    """Pages that only read use read-only transactions: on SQLite they never queue for the write
    lock, which every read-write request takes when it begins."""
    if services.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite locks the whole database for a writer")
    add_works(services, alice, 3)
    sign_in(client, alice)
    writer = sqlite3.connect(services.engine.url.database or "", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        for path in ("/", "/?q=study&tags=study", "/works", "/works?page=1"):
            assert client.get(path).status_code == 200, path
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_marketplace_card_of_a_work_not_yet_on_the_log_names_no_log_index(
    client: TestClient, services: Services, alice: Account
) -> None:
    (work_id,) = [str(added) for added in add_works(services, alice, 2)[1:]]
    page = client.get("/", params={"tags": "study"})
    assert page.status_code == 200
    assert re.findall(r'class="card market-card" href="/verify/(\d+)"', page.text) == [work_id]
    assert f">#{work_id}</div>" in page.text
    assert "log index None" not in page.text
