"""Royalties of a disputed work: held while the dispute is open, then released or redirected.

A seeded simulation reports retail sales before, during and after a dispute (replaying some
reports), decides it either way, and checks the money: what was held equals what the sales
allocated to the parties while it was open, and equals what was released plus what was
redirected; no held balance is left; every entry balances; a failing seed replays exactly.
"""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session, select

from licensing.models import LicenseGrant
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer
from licensing.service.sales import SalesLine
from registry.enforcement.disputes import open_dispute
from registry.enforcement.errors import DisputeRefused
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.errors import Conflict, Forbidden
from registry.models import Role, persisted_id
from settlement.models import HeldRoyalty, HoldStatus, JournalEntry
from settlement.repository import balances, unbalanced_entries
from settlement.service.holds import decide
from settlement.service.royalties import post_royalties
from tests.unit.licensing.service.support import World, add_user, add_work, line

PARTIES = ("acct:ana@example.com", "acct:ben@example.com")
CLAIMANT = "acct:cleo@example.com"


def owed(session: Session, reference: str, kind: str = "payable") -> int:
    code = f"party:{reference}:{kind}"
    return -balances(session, code).get((code, "USD"), 0)


def disputed_market(world: World) -> tuple[LicenseGrant, OwnershipDispute]:
    """Ana's work, licensed retail to a brand, disputed by Cleo who registered it first."""
    grant = licensed_market(world)
    return grant, dispute_the_work(world)


def licensed_market(world: World) -> LicenseGrant:
    """Ana's work, licensed retail to a brand."""
    world.activate(world.document())
    return world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "retail"))


def dispute_the_work(world: World) -> OwnershipDispute:
    """Cleo, who registered the work first, disputes Ana's ownership of it."""
    cleo = add_user(world.session, "cleo@example.com")
    earlier = add_work(world.session, cleo, "koi original")
    earlier.log_index, world.work.log_index = 1, 2
    return open_dispute(
        world.session,
        cleo,
        persisted_id(world.work),
        persisted_id(earlier),
        reason="I drew this koi in 2019; the sketches are dated.",
        log=world.log,
    )


def report(world: World, grant: LicenseGrant, report_id: str, lines: list[SalesLine]) -> int:
    """File a report of sales; returns what it allocated to the non-platform parties."""
    outcome = world.report(grant, report_id, *lines)
    post_royalties(world.session, outcome)
    return sum(
        int(allocation["amount_minor"])
        for row in outcome.rows
        for allocation in row.execution["allocations"]
        if allocation["account"] in PARTIES
    )


def random_lines(rng: random.Random) -> list[SalesLine]:
    return [line(rng.randint(1, 50), rng.randint(1, 90_000)) for _ in range(rng.randint(1, 3))]


@pytest.mark.parametrize("seed", range(8))
def test_held_released_and_redirected_money_adds_up(world: World, seed: int) -> None:
    rng = random.Random(seed)
    session = world.session
    grant, dispute = disputed_market(world)
    admin = add_user(session, "judge@copymark.example", [Role.ADMIN.value])
    allocated_while_open = 0
    reports = {f"open-{n}": random_lines(rng) for n in range(rng.randint(1, 6))}
    for report_id, lines in reports.items():
        allocated_while_open += report(world, grant, report_id, lines)
    for report_id in rng.sample(sorted(reports), k=rng.randint(0, len(reports))):
        # A replayed report posts nothing and holds nothing again.
        assert report(world, grant, report_id, reports[report_id]) >= 0
    held = session.exec(select(HeldRoyalty)).all()
    assert sum(row.amount_minor for row in held) == allocated_while_open
    assert sum(owed(session, party, "held") for party in PARTIES) == allocated_while_open
    assert sum(owed(session, party) for party in PARTIES) == 0

    outcome = rng.choice([DisputeStatus.UPHELD, DisputeStatus.REJECTED])
    decide(session, admin, persisted_id(dispute), outcome, reason="decided", log=world.log)

    rows = session.exec(select(HeldRoyalty)).all()
    released = sum(r.amount_minor for r in rows if r.status == HoldStatus.RELEASED)
    redirected = sum(r.amount_minor for r in rows if r.status == HoldStatus.REDIRECTED)
    assert released + redirected == allocated_while_open
    assert all(owed(session, party, "held") == 0 for party in PARTIES)
    if outcome == DisputeStatus.UPHELD:
        assert (released, owed(session, CLAIMANT)) == (0, allocated_while_open)
    else:
        assert redirected == 0
        assert sum(owed(session, party) for party in PARTIES) == allocated_while_open
    # After the decision, sales are owed to the parties again, with nothing held.
    later = report(world, grant, "after", random_lines(rng))
    assert sum(owed(session, party, "held") for party in PARTIES) == 0
    if outcome == DisputeStatus.REJECTED:
        assert sum(owed(session, party) for party in PARTIES) == allocated_while_open + later
    entry_ids = [persisted_id(entry) for entry in session.exec(select(JournalEntry)).all()]
    assert unbalanced_entries(session, entry_ids) == []


def test_a_disputed_work_takes_no_new_licence(world: World) -> None:
    grant, dispute = disputed_market(world)
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    with pytest.raises(Conflict, match="paused until the dispute is decided"):
        take_license(world.session, world.other_brand(), persisted_id(offer), world.log)
    assert grant.status.value == "active"
    assert dispute.status == DisputeStatus.OPEN


def test_only_an_administrator_decides_and_the_respondent_may_only_concede(world: World) -> None:
    _, dispute = disputed_market(world)
    with pytest.raises(Forbidden):
        decide(
            world.session,
            world.ana,
            persisted_id(dispute),
            DisputeStatus.REJECTED,
            reason="mine",
            log=world.log,
        )
    decided = decide(
        world.session,
        world.ana,
        persisted_id(dispute),
        DisputeStatus.UPHELD,
        reason="I concede",
        log=world.log,
    )
    assert decided.status == DisputeStatus.UPHELD
    with pytest.raises(DisputeRefused, match="already upheld"):
        decide(
            world.session,
            world.ana,
            persisted_id(dispute),
            DisputeStatus.UPHELD,
            reason="again",
            log=world.log,
        )


def test_a_later_registration_cannot_dispute_an_earlier_one(world: World) -> None:
    cleo = add_user(world.session, "cleo@example.com")
    later = add_work(world.session, cleo, "copy")
    world.work.log_index, later.log_index = 1, 2
    with pytest.raises(DisputeRefused, match="registered after"):
        open_dispute(
            world.session,
            cleo,
            persisted_id(world.work),
            persisted_id(later),
            reason="mine",
            log=world.log,
        )
