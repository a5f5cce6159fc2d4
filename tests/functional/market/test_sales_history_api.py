"""A work's royalty history: counted reports only, each party's exact allocated sums, owner only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from licensing.models import SalesReport
from licensing.service.royalties import RoyaltyReport, sales_history
from registry.errors import NotFound
from registry.models import User
from tests.factories import Account
from tests.support.market import (
    Market,
    one_line,
    usd,
)


def retail_work(market: Market, **contract_overrides: Any) -> tuple[int, int]:
    work_id = market.work()
    market.activate(work_id, **contract_overrides)
    taken = market.take(market.offer(work_id, "retail"))
    assert taken.status_code == 201, taken.text
    return work_id, int(taken.json()["id"])


def history(market: Market, viewer: Account, work_id: int) -> list[RoyaltyReport]:
    with market.services.session() as session:
        user = session.get(User, viewer.user_id)
        assert user is not None
        return sales_history(session, user, work_id)


ESCALATING = {
    "retail": {
        "tiers": [
            {"from_units": 0, "rate_bp": 1_037},
            {"from_units": 25, "rate_bp": 1_511},
        ]
    },
    "advance": {"amount": usd(2_345)},
}


@pytest.mark.parametrize(
    "reports",
    [
        [[(10, 100_000)]],
        [[(7, 33_333), (9, 10_001)], [(11, 99_999)], [(3, 7)]],
        [[(30, 123_457)], [(1, 1), (2, 3), (5, 8)]],
    ],
)
def test_each_party_gets_exactly_what_the_split_allocated(
    market: Market, reports: list[list[tuple[int, int]]]
) -> None:
    work_id, grant_id = retail_work(market, **ESCALATING)
    for number, lines in enumerate(reports):
        body = [{"units": units, "net_revenue_minor": revenue} for units, revenue in lines]
        sent = market.report(grant_id, one_line(report_id=f"r{number}", lines=body))
        assert sent.status_code == 201, sent.text
    with market.services.session() as session:
        rows = session.exec(select(SalesReport).where(SalesReport.grant_id == grant_id)).all()
        allocated: dict[tuple[str, str], int] = {}
        for row in rows:
            for line in row.execution["allocations"]:
                key = (row.report_key, line["party"])
                allocated[key] = allocated.get(key, 0) + line["amount_minor"]
    found = history(market, market.alice, work_id)
    assert [report.report_id for report in found] == [f"r{n}" for n in range(len(reports))]
    assert {
        (report.report_id, party): amount for report in found for party, amount in report.amounts
    } == allocated


def test_the_bars_of_a_report_add_up_to_its_gross(market: Market) -> None:
    work_id, grant_id = retail_work(market, **ESCALATING)
    lines = [{"units": 13, "net_revenue_minor": 77_777}, {"units": 17, "net_revenue_minor": 3}]
    reported = market.report(grant_id, one_line(lines=lines)).json()
    (report,) = history(market, market.alice, work_id)
    assert sum(amount for _party, amount in report.amounts) == report.gross.amount_minor
    assert report.gross.amount_minor == reported["royalties_minor"]


def test_a_corrected_report_gives_way_to_its_correction(market: Market) -> None:
    work_id, grant_id = retail_work(market)
    market.report(grant_id, one_line(report_id="r1"))
    fix = one_line(
        report_id="r1-fix", corrects="r1", lines=[{"units": 1, "net_revenue_minor": 500}]
    )
    assert market.report(grant_id, fix).status_code == 201
    found = history(market, market.alice, work_id)
    assert [(report.report_id, report.gross.amount_minor) for report in found] == [("r1-fix", 50)]


def test_a_party_of_the_contract_sees_the_history(market: Market) -> None:
    work_id, grant_id = retail_work(market)
    market.report(grant_id, one_line())
    assert dict(history(market, market.bob, work_id)[0].amounts) == {"alice": 6000, "bob": 4000}


def test_a_work_without_reports_has_an_empty_history(market: Market) -> None:
    work_id, _grant_id = retail_work(market)
    assert history(market, market.alice, work_id) == []


def test_someone_outside_the_contract_is_answered_not_found(market: Market) -> None:
    work_id, grant_id = retail_work(market)
    market.report(grant_id, one_line())
    with pytest.raises(NotFound, match=f"work {work_id} not found"):
        history(market, market.brand, work_id)


def test_a_work_of_another_owner_without_contract_is_answered_not_found(market: Market) -> None:
    work_id = market.work(owner=market.bob)
    with pytest.raises(NotFound, match=f"work {work_id} not found"):
        history(market, market.alice, work_id)
