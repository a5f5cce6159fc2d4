"""Sales reports under a grant: tiers across reports, replays, corrections, parent shares."""

from __future__ import annotations

import random

import pytest

from licensing.errors import CurrencyMismatchError
from licensing.events import REPORT_LEAF_LINES, ReportSplitEvent
from licensing.models import SalesReport
from licensing.repository import (
    CountedTotals,
    counted_rows,
    counted_totals,
    latest_counted_report,
    report_lines_of_grant,
    report_rows,
)
from licensing.service.offers import publish_offer
from licensing.service.sales import sales_line_openings, submit_sales_report
from registry.errors import Conflict, NotFound
from registry.log.commitments import check_openings, openings_from_json
from registry.log.events import parse_event
from registry.models import persisted_id
from tests.unit.licensing.factories import usd
from tests.unit.licensing.service.support import World, add_work, line, retail_grant


def test_sales_reports_count_earlier_reports_for_tiers_and_recoupment(world: World) -> None:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 100, "rate_bp": 2000}]
    grant = retail_grant(world, retail={"tiers": tiers}, advance={"amount": usd(1500)})
    first = world.report(grant, "r1", line(100, 10_000))
    second = world.report(grant, "r2", line(100, 10_000))
    assert (first.royalties.amount_minor, second.royalties.amount_minor) == (1000, 2000)
    # 90% of each royalty is the parties' pool: 900 recouped, then the last 600 of the advance
    assert (first.rows[0].recouped_minor, second.rows[0].recouped_minor) == (900, 600)


def test_lines_of_one_report_count_the_lines_before_them(world: World) -> None:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 100, "rate_bp": 2000}]
    grant = retail_grant(world, retail={"tiers": tiers})
    outcome = world.report(grant, "r1", line(100, 10_000), line(100, 10_000))
    assert [row.gross_minor for row in outcome.rows] == [1000, 2000]


def test_a_report_is_one_leaf_committing_every_line_and_its_totals(world: World) -> None:
    grant = retail_grant(world)
    size = world.log.tree_size()
    outcome = world.report(grant, "r1", line(3, 999), line(7, 12_345))
    assert world.log.tree_size() == size + 1
    first, second = outcome.rows
    assert first.log_index == second.log_index
    event = parse_event(world.log.leaf(first.log_index or 0).leaf)
    assert isinstance(event, ReportSplitEvent)
    assert (event.grant_id, event.first_line, event.last_line) == (grant.id, 1, 2)
    stored = report_rows(world.session, persisted_id(grant), "r1")
    opened = check_openings(event.committed(), openings_from_json(stored[0].log_openings))
    assert (opened["units"], opened["net_revenue_minor"], opened["gross_minor"]) == (
        10,
        999 + 12_345,
        first.gross_minor + second.gross_minor,
    )
    lines = opened["lines"]
    assert isinstance(lines, list)
    assert [(item["units"], item["gross_minor"]) for item in lines if isinstance(item, dict)] == [
        (3, first.gross_minor),
        (7, second.gross_minor),
    ]
    allocated = opened["allocations"]
    assert isinstance(allocated, list)
    assert (
        sum(int(item["amount_minor"]) for item in allocated if isinstance(item, dict))
        == (opened["gross_minor"])
    )


def test_the_second_line_of_a_report_opens_the_leaf_of_its_first(world: World) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "r1", line(3, 999), line(7, 12_345))
    second = world.session.get(SalesReport, outcome.rows[1].id)
    assert second is not None
    openings = sales_line_openings(world.session, second)
    event = parse_event(world.log.leaf(second.log_index or 0).leaf)
    assert check_openings(event.committed(), openings_from_json(openings))["units"] == 10


def test_a_long_report_is_logged_a_thousand_lines_a_leaf(world: World) -> None:
    grant = retail_grant(world)
    size = world.log.tree_size()
    outcome = world.report(grant, "big", *[line(1, 100) for _ in range(REPORT_LEAF_LINES + 1)])
    assert world.log.tree_size() == size + 2
    last = parse_event(world.log.leaf(outcome.rows[-1].log_index or 0).leaf)
    assert isinstance(last, ReportSplitEvent)
    assert (last.first_line, last.last_line) == (REPORT_LEAF_LINES + 1, REPORT_LEAF_LINES + 1)
    assert outcome.rows[0].log_index != outcome.rows[-1].log_index


def test_resubmitting_a_report_records_nothing_new(world: World) -> None:
    grant = retail_grant(world)
    first = world.report(grant, "r1", line(10, 5000))
    size = world.log.tree_size()
    again = world.report(grant, "r1", line(10, 5000))
    assert (again.replayed, again.rows, world.log.tree_size()) == (True, first.rows, size)


def test_a_report_id_reused_with_other_lines_is_refused(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 5000))
    with pytest.raises(Conflict, match="already recorded"):
        world.report(grant, "r1", line(11, 5000))


def test_a_correction_replaces_the_report_it_names(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 10_000))
    corrected = submit_sales_report(
        world.session,
        world.brand,
        persisted_id(grant),
        report_id="r1-fix",
        lines=[line(10, 5000)],
        log=world.log,
        corrects="r1",
    )
    # royalty 1000 became 500: the parties are owed 500 less than the first report said
    assert sum(amount for _, amount in corrected.owed) == -500


def test_only_the_latest_report_can_be_corrected(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 10_000))
    world.report(grant, "r2", line(10, 10_000))
    with pytest.raises(Conflict, match="only the latest"):
        submit_sales_report(
            world.session,
            world.brand,
            persisted_id(grant),
            report_id="r1-fix",
            lines=[line(1, 100)],
            log=world.log,
            corrects="r1",
        )


def test_a_report_in_another_currency_is_refused(world: World) -> None:
    grant = retail_grant(world)
    with pytest.raises(CurrencyMismatchError, match="EUR"):
        world.report(grant, "r1", line(1, 100, "EUR"))


def test_a_licensee_reports_only_under_their_own_grant(world: World) -> None:
    grant = retail_grant(world)
    with pytest.raises(NotFound):
        submit_sales_report(
            world.session,
            world.ben,
            persisted_id(grant),
            report_id="r1",
            lines=[line(1, 1)],
            log=world.log,
        )


def test_a_derivative_sale_pays_the_parent_contract_parties(world: World) -> None:
    world.activate(world.document())
    child = add_work(world.session, world.ana, "koi remix")
    world.activate(
        world.document(child, parents=[{"work": f"work-{world.work.id}", "share_bp": 2000}])
    )
    offer = publish_offer(world.session, world.ana, persisted_id(child), "retail")
    grant = world.take(offer)
    outcome = world.report(grant, "r1", line(10, 100_000))
    owed = dict(outcome.owed)
    # royalty 10000; fee 1000; the parent work takes 20% of 9000 and splits it 60/40
    assert (owed[f"work-{world.work.id}/ana"], owed["ana"]) == (1080, 4320)


@pytest.mark.parametrize("seed", range(4))
def test_counted_totals_are_the_sum_of_the_lines_still_counted(world: World, seed: int) -> None:
    rng = random.Random(seed)
    grant = retail_grant(world)
    grant_id = persisted_id(grant)
    latest: str | None = None
    for number in range(12):
        lines = [line(rng.randint(1, 40), rng.randint(100, 9000)) for _ in range(rng.randint(1, 4))]
        corrects = latest if latest is not None and rng.random() < 0.4 else None
        latest = f"r{number}"
        submit_sales_report(
            world.session,
            world.brand,
            grant_id,
            report_id=latest,
            lines=lines,
            log=world.log,
            corrects=corrects,
        )
    counted = counted_rows(world.session, grant_id)
    assert counted_totals(world.session, grant_id) == CountedTotals(
        units=sum(row.units for row in counted),
        net_revenue_minor=sum(row.net_revenue_minor for row in counted),
        gross_minor=sum(row.gross_minor for row in counted),
        recouped_minor=sum(row.recouped_minor for row in counted),
    )
    replaced = {row.corrects_report_key for row in report_lines_of_grant(world.session, grant_id)}
    assert {row.report_key for row in counted}.isdisjoint(replaced)
    assert latest_counted_report(world.session, grant_id) == latest
