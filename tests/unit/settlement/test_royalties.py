"""Royalties on the ledger: reported lines are owed to the parties once; corrections reverse."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import select

from licensing.models import LicenseGrant
from licensing.service.sales import submit_sales_report
from registry.models import utcnow
from settlement import repository
from settlement.ledger import PartyAccount, party_account
from settlement.postings import report_shares, royalty_entry
from settlement.service.ledger import payable, post_entries
from settlement.service.royalties import post_royalties
from settlement.service.statements import statements_for
from settlement.statements import Period
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


def test_posting_a_report_does_not_read_its_grant_again(world: World) -> None:
    outcome = world.report(retail_grant(world), "2026-10", line(10, 100_000))
    # Nothing the report's use case loaded is at hand any more, as after a request's service call.
    world.session.expunge_all()
    statements: list[str] = []

    def record(*arguments: object) -> None:
        statements.append(str(arguments[2]))

    engine = world.session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        post_royalties(world.session, outcome)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [s for s in statements if "FROM license_grants" in s] == []
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


def test_a_report_is_one_entry_giving_each_party_the_sum_of_its_lines(world: World) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "2026-10", line(1, 999), line(2, 1_001), line(3, 12_347))
    (posted,) = post_royalties(world.session, outcome)
    entry = repository.lines_of(world.session, posted.entry_id)
    lines = {code: amount for code, _currency, amount in entry}
    for reference, party in ((ANA, "ana"), (BEN, "ben")):
        allocated = sum(
            int(item["amount_minor"])
            for row in outcome.rows
            for item in row.execution["allocations"]
            if item["party"] == party
        )
        assert lines[f"party:{reference}:payable"] == -allocated
    assert sum(lines.values()) == 0


def test_a_statement_shows_each_sale_of_a_report_with_the_leaf_that_covers_it(
    world: World,
) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "2026-10", line(1, 999), line(2, 1_001))
    post_royalties(world.session, outcome)
    period = Period.of(utcnow())
    (statement,) = statements_for(world.session, ANA, period)
    shown = [(item.kind, item.price_minor, item.log_index) for item in statement.lines]
    assert shown == [("royalty", row.gross_minor, row.log_index) for row in outcome.rows]
    assert statement.closing_minor == payable(world.session, ANA, "USD").amount_minor


def test_a_correction_of_a_report_posted_line_by_line_reverses_each_line(world: World) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "2026-10", line(10, 100_000), line(5, 20_000))
    # A report stored before reports were posted whole: one entry per line.
    post_entries(
        world.session,
        [
            royalty_entry(
                f"sales-report:{row.id}", grant.id or 0, report_shares([row.execution], "USD")
            )
            for row in outcome.rows
        ],
    )
    before = owed(world)
    corrected = submit_sales_report(
        world.session,
        world.brand,
        grant.id or 0,
        report_id="2026-10-fix",
        lines=[line(10, 50_000)],
        log=world.log,
        corrects="2026-10",
    )
    posted = post_royalties(world.session, corrected)
    assert sorted(p.external_key for p in posted)[:2] == sorted(
        f"reversal:sales-report:{row.id}" for row in outcome.rows
    )
    assert owed(world) == (2700, 1800)
    assert before != owed(world)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 10_000_000)), min_size=1, max_size=40)
)
def test_any_report_posts_each_party_exactly_its_cents_and_balances(
    world: World, sold: list[tuple[int, int]]
) -> None:
    # Hypothesis runs every example in the one world: the grant is taken once, reports add up.
    grant = world.session.exec(select(LicenseGrant)).first() or retail_grant(world)
    report_id = f"p-{uuid.uuid4().hex}"
    outcome = world.report(grant, report_id, *(line(units, revenue) for units, revenue in sold))
    posted = post_royalties(world.session, outcome)
    allocated: dict[str, int] = {}
    for row in outcome.rows:
        for item in row.execution["allocations"]:
            if item["account"] is not None:
                code = party_account(item["account"], PartyAccount.PAYABLE)
                allocated[code] = allocated.get(code, 0) - int(item["amount_minor"])
    if not any(allocated.values()):
        assert posted == []
        return
    (entry,) = posted
    stored = repository.lines_of(world.session, entry.entry_id)
    assert sum(amount for _code, _currency, amount in stored) == 0
    parties = {code: amount for code, _currency, amount in stored if code.startswith("party:")}
    owed = {code: amount for code, amount in allocated.items() if code.startswith("party:")}
    assert parties == {code: amount for code, amount in owed.items() if amount}
