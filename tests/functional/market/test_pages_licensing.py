"""A work's licensing page: its open offers and its active contract's split as a bar."""

from __future__ import annotations

import re

import pytest

from tests.functional.pages.test_pages import assert_error_page, sign_in
from tests.support.market import (
    Market,
)

pytestmark = pytest.mark.pages_on_sqlite


def offer_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-offer-id="(\d+)"', page)]


def test_the_page_lists_the_open_offers(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    retail = market.offer(work_id, "retail")
    bundle = market.offer(work_id, "wholesale", "bundle")
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert offer_ids(page) == [retail, bundle]
    assert "package bundle" in page


def test_a_withdrawn_offer_leaves_the_page(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    offer_id = market.offer(work_id, "retail")
    market.client.delete(f"/api/v1/offers/{offer_id}", headers=market.alice.headers)
    assert offer_ids(market.client.get(f"/works/{work_id}/licensing").text) == []


def test_the_split_is_drawn_one_segment_per_party(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    page = market.client.get(f"/works/{work_id}/licensing").text
    widths = re.findall(r'<rect class="share share-\d" x="[\d.]+" y="0" width="([\d.]+)"', page)
    assert [float(width) for width in widths] == [60.0, 40.0]
    assert "alice (creator) 60%" in page


def test_a_work_without_an_active_contract_says_so(market: Market) -> None:
    work_id = market.work()
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert "No active contract" in page
    assert '<svg class="shares"' not in page


def test_a_private_work_of_another_owner_answers_the_404_page(market: Market) -> None:
    work_id = market.work(visibility="private")
    sign_in(market.client, market.bob)
    assert_error_page(
        market.client.get(f"/works/{work_id}/licensing"), 404, f"work {work_id} not found"
    )
