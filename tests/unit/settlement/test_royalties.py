"""Royalties on the ledger: reported lines are owed to the parties once; corrections reverse."""

from __future__ import annotations

from licensing.service.sales import submit_sales_report
from settlement.service.ledger import payable
from settlement.service.royalties import post_royalties
from tests.unit.licensing.service.support import World, line, retail_grant

ANA = "acct:ana@example.com"
BEN = "acct:ben@example.com"


def owed(world: World) -> tuple[int, int]:
    return (
        payable(world.session, ANA, "USD").amount_minor,
        payable(world.session, BEN, "USD").amount_minor,
    )


def test_a_report_is_owed_to_the_parties_by_their_split(world: World) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "2026-10", line(10, 100_000))
    post_royalties(world.session, outcome)
    # 10% royalty of 1,000.00 is 100.00; the platform takes 10%, the rest 60/40.
    assert owed(world) == (5400, 3600)


def test_a_replayed_report_posts_nothing_new(world: World) -> None:
    grant = retail_grant(world)
    post_royalties(world.session, world.report(grant, "2026-10", line(10, 100_000)))
    replayed = world.report(grant, "2026-10", line(10, 100_000))
    assert all(posted.replayed for posted in post_royalties(world.session, replayed))
    assert owed(world) == (5400, 3600)


def test_a_correction_reverses_the_report_it_replaces(world: World) -> None:
    grant = retail_grant(world)
    post_royalties(world.session, world.report(grant, "2026-10", line(10, 100_000)))
    corrected = submit_sales_report(
        world.session,
        world.brand,
        grant.id or 0,
        report_id="2026-10-fix",
        lines=[line(10, 50_000)],
        log=world.log,
        corrects="2026-10",
    )
    post_royalties(world.session, corrected)
    assert owed(world) == (2700, 1800)
