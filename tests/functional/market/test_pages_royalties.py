"""The licensing page draws the owner's royalty history: one stacked bar per counted report."""

from __future__ import annotations

import re

import pytest

from licensing.money import Money
from tests.functional.pages.test_pages import sign_in
from tests.support.market import (
    Market,
    one_line,
)

pytestmark = pytest.mark.pages_on_sqlite


def reported_work(market: Market, revenues: list[int]) -> int:
    work_id = market.work()
    market.activate(work_id)
    taken = market.take(market.offer(work_id, "retail"))
    for number, revenue in enumerate(revenues):
        lines = [{"units": 1, "net_revenue_minor": revenue}]
        sent = market.report(taken.json()["id"], one_line(report_id=f"r{number}", lines=lines))
        assert sent.status_code == 201, sent.text
    return work_id


def bar_groups(page: str) -> list[str]:
    return re.findall(r'<g class="royalty-bar" data-report-id="([^"]+)">', page)


def test_the_owner_sees_one_bar_group_per_report(market: Market) -> None:
    work_id = reported_work(market, [100_000, 50_000, 12_345])
    sign_in(market.client, market.alice)
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert '<svg class="royalties"' in page
    assert bar_groups(page) == ["r0", "r1", "r2"]


def test_amounts_are_shown_in_major_units_with_the_currency(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    grant_id = market.take(market.offer(work_id, "retail")).json()["id"]
    lines = [{"units": 3, "net_revenue_minor": 12_345}]
    sent = market.report(grant_id, one_line(lines=lines)).json()
    sign_in(market.client, market.alice)
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert f'<td class="amount">{Money(sent["royalties_minor"], "USD")}</td>' in page
    for allocation in sent["lines"][0]["allocations"]:
        assert f"{allocation['party']} {Money(allocation['amount_minor'], 'USD')}" in page


def test_a_work_without_reports_draws_no_history(market: Market) -> None:
    work_id = reported_work(market, [])
    sign_in(market.client, market.alice)
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert "Royalty history" not in page
    assert '<svg class="royalties"' not in page


def test_someone_else_sees_the_page_without_the_history(market: Market) -> None:
    work_id = reported_work(market, [100_000])
    sign_in(market.client, market.bob)
    page = market.client.get(f"/works/{work_id}/licensing").text
    assert "Open offers" in page
    assert bar_groups(page) == []
