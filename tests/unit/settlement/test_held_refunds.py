"""Refunds of sales held while their work's ownership is disputed: no cent comes back twice.

A seeded simulation sells licences of a work at a random price under a random split (platform
fee and the creators' shares), some before the work is disputed and the rest while it is, then
refunds random parts of random sales, decides the dispute either way, and refunds more. A model
follows every cent, and after every step the ledger must say exactly what the model says: each
party's payable and held balance, the platform's fee kept, what it absorbed and what the
processor still holds. Each refund splits exactly as the same refund of an undisputed sale would
(the same proportional reversal); its leaf says which part came out of held. Throughout: every
entry balances; for each dispute, what its holds moved to held equals what its outcome moved out
plus what refunds took back; once decided, nothing stays held; and until a refund follows an
upheld decision (which the platform absorbs, as before holds knew of refunds), what the parties
are owed or were paid plus what was refunded plus the platform's fee is the gross, to the cent,
so parties and licensees together never get more than was paid. Runs on SQLite and PostgreSQL;
a failing seed replays exactly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from licensing.models import LicenseGrant
from licensing.money import MAX_AMOUNT_MINOR, Money
from licensing.service.offers import publish_offer
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.log.commitments import openings_from_json
from registry.models import persisted_id
from settlement.ledger import PartyAccount, PlatformAccount, party_account, platform_account
from settlement.models import HeldRoyalty, HoldStatus, JournalEntry, Payment, PaymentRefund
from settlement.postings import Share, reversal_of, shares_of
from settlement.repository import balances, entries_on_account, unbalanced_entries
from settlement.service.holds import decide
from settlement.service.payments import settle_intent
from settlement.service.refunds import apply_refund
from settlement.stripe.gateway import IntentSnapshot
from tests.unit.licensing.factories import usd
from tests.unit.licensing.service.support import World
from tests.unit.settlement.test_holds import CLAIMANT, dispute_the_work

ANA, BEN = "acct:ana@example.com", "acct:ben@example.com"
PARTIES = (ANA, BEN, CLAIMANT)
PLATFORM = "platform:copymark"
# Prices that leave cents to round (a cent, a few) and large ones.
PRICES = (
    lambda rng: rng.randint(1, 9),
    lambda rng: rng.randint(10, 9_999),
    lambda rng: rng.randint(10_000, 10**10),
)


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A migrated database of each kind, as the refunds' own tests use."""
    with Session(db_engine) as session:
        yield session
        session.rollback()


@dataclass
class Sale:
    intent: str
    paid: Money
    shares: list[Share]
    held: dict[str, int] = field(default_factory=dict)  # what is still held, per party
    refunded: int = 0


@dataclass
class Model:
    """Where every cent should be."""

    sales: list[Sale] = field(default_factory=list)
    payable: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kept: int = 0  # the platform's fee, less what refunds gave back of it
    absorbed: int = 0
    gross: int = 0
    fees: int = 0
    refunded_after_upheld: bool = False


def owed(session: Session, reference: str, kind: PartyAccount) -> int:
    code = party_account(reference, kind)
    return -balances(session, code).get((code, "USD"), 0)


def platform(session: Session, kind: PlatformAccount) -> int:
    code = platform_account(kind)
    return balances(session, code).get((code, "USD"), 0)


def market(world: World, rng: random.Random) -> list[LicenseGrant]:
    """Ana's work sold wholesale at a random price, split by a random platform fee and a random
    share between Ana and Ben; a few licences taken, none paid yet."""
    ana_bp = rng.randint(1, 9_999)
    world.activate(
        world.document(
            parties=[
                {"id": "platform", "account": PLATFORM, "role": "platform", "share_bp": 0},
                {"id": "ana", "account": ANA, "role": "creator", "share_bp": ana_bp},
                {"id": "ben", "account": BEN, "role": "co_creator", "share_bp": 10_000 - ana_bp},
            ],
            platform_fee={"party": "platform", "rate_bp": rng.choice([0, *range(1, 3_001)])},
            wholesale={
                "packages": [{"id": "bundle", "units": 1, "fee": usd(rng.choice(PRICES)(rng))}]
            },
        )
    )
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "wholesale", "bundle")
    return [world.take(offer) for _ in range(rng.randint(1, 4))]


def pay(
    world: World, model: Model, grant: LicenseGrant, *, disputed: bool, rng: random.Random
) -> None:
    session = world.session
    intent = f"pi_held_{grant.id}"
    paid = Money(grant.gross_minor, grant.currency)
    fee = rng.randint(0, paid.amount_minor // 10)
    session.add(
        Payment(
            grant_id=persisted_id(grant),
            payment_intent_id=intent,
            amount_minor=paid.amount_minor,
            currency=paid.currency,
        )
    )
    session.flush()
    settle_intent(
        session,
        IntentSnapshot(intent, "succeeded", paid, persisted_id(grant), None),
        fee=Money(fee, paid.currency),
        log=world.log,
    )
    sale = Sale(intent, paid, shares_of(grant.execution))
    model.sales.append(sale)
    model.gross += paid.amount_minor
    model.fees += fee
    for share in sale.shares:
        amount = share.amount.amount_minor
        if share.account == PLATFORM:
            model.kept += amount
        elif share.account is not None and disputed and amount:
            sale.held[share.account] = amount
            model.held[share.account] += amount
        elif share.account is not None:
            model.payable[share.account] += amount


def refund(world: World, model: Model, rng: random.Random, outcome: DisputeStatus | None) -> str:
    """Refund part or all of what is left of a random sale, as the processor reports it."""
    left = [sale for sale in model.sales if sale.refunded < sale.paid.amount_minor]
    if not left:
        return "nothing left to refund"
    sale = rng.choice(left)
    rest = sale.paid.amount_minor - sale.refunded
    increment = rng.choice([rest, rng.randint(1, rest), rng.randint(1, max(1, rest // 5))])
    # The same refund of an undisputed sale whose parties still have all of it payable.
    reference = reversal_of(
        Money(increment, sale.paid.currency),
        sale.paid,
        sale.shares,
        {share.account: MAX_AMOUNT_MINOR for share in sale.shares if share.account is not None},
    )
    apply_refund(
        world.session,
        sale.intent,
        Money(sale.refunded + increment, sale.paid.currency),
        log=world.log,
    )
    sale.refunded += increment
    expected = []
    for part in reference.parts:
        amount = part.amount.amount_minor
        line: dict[str, object] = {"account": part.account, "amount_minor": amount}
        if part.account == PLATFORM:
            model.kept -= amount
        elif sale.held.get(part.account, 0):
            assert amount <= sale.held[part.account]
            sale.held[part.account] -= amount
            model.held[part.account] -= amount
            line["held_minor"] = amount
        else:
            taken = min(amount, model.payable[part.account])
            model.payable[part.account] -= taken
            model.absorbed += amount - taken
            model.refunded_after_upheld |= outcome == DisputeStatus.UPHELD
        expected.append(line)
    logged = world.session.exec(
        select(PaymentRefund).order_by(col(PaymentRefund.log_index).desc())
    ).first()
    assert logged is not None
    assert openings_from_json(logged.log_openings)["allocations"].value == expected
    return f"refund {increment} of {sale.intent}"


def settle(model: Model, outcome: DisputeStatus) -> None:
    """What the decision moves: what is still held goes back to its party, or to the claimant."""
    for sale in model.sales:
        for account, amount in sale.held.items():
            model.held[account] -= amount
            model.payable[account if outcome == DisputeStatus.REJECTED else CLAIMANT] += amount
        sale.held.clear()


def check(session: Session, model: Model, dispute: OwnershipDispute) -> None:
    for party in PARTIES:
        assert owed(session, party, PartyAccount.PAYABLE) == model.payable[party], party
        assert owed(session, party, PartyAccount.HELD) == model.held[party], party
    revenue = -platform(session, PlatformAccount.REVENUE)
    assert revenue - platform(session, PlatformAccount.REFUNDS) == model.kept
    assert platform(session, PlatformAccount.ABSORBED_LOSSES) == model.absorbed
    refunded = sum(sale.refunded for sale in model.sales)
    at_processor = platform(session, PlatformAccount.STRIPE_CLEARING)
    assert at_processor == model.gross - model.fees - refunded
    to_parties = sum(model.payable.values()) + sum(model.held.values())
    if not model.refunded_after_upheld:
        assert model.absorbed == 0
        assert to_parties + refunded + model.kept == model.gross
    check_holds(session, dispute)
    entry_ids = [persisted_id(entry) for entry in session.exec(select(JournalEntry))]
    assert unbalanced_entries(session, entry_ids) == []


def check_holds(session: Session, dispute: OwnershipDispute) -> None:
    """What the dispute's holds moved to held is what its outcome moved out plus what refunds
    took back, hold by hold and on the ledger; nothing stays held once it is decided."""
    rows = session.exec(
        select(HeldRoyalty).where(HeldRoyalty.dispute_id == persisted_id(dispute))
    ).all()
    outcome_keys = {row.outcome_key for row in rows if row.status != HoldStatus.REFUNDED}
    moved_out = taken_back = 0
    for party in (ANA, BEN):
        for entry, _currency, amount in entries_on_account(
            session, party_account(party, PartyAccount.HELD)
        ):
            if entry.external_key in outcome_keys:
                moved_out += amount
            elif entry.kind == "refund":
                taken_back += amount
    assert sum(row.refunded_minor for row in rows) == taken_back
    assert sum(row.amount_minor for row in rows) == moved_out + taken_back + sum(
        row.amount_minor - row.refunded_minor for row in rows if row.status == HoldStatus.HELD
    )
    for row in rows:
        assert 0 <= row.refunded_minor <= row.amount_minor
        assert (row.status == HoldStatus.REFUNDED) == (row.refunded_minor == row.amount_minor)
        if dispute.status != DisputeStatus.OPEN:
            assert row.status != HoldStatus.HELD


@pytest.mark.parametrize("seed", range(16))
def test_refunds_of_held_sales_and_the_decision_account_for_every_cent(
    world: World, seed: int
) -> None:
    rng = random.Random(seed)
    session = world.session
    model = Model()
    grants = market(world, rng)
    before = rng.randint(0, len(grants) - 1)
    taken: list[str] = []
    try:
        for grant in grants[:before]:
            pay(world, model, grant, disputed=False, rng=rng)
        dispute = dispute_the_work(world)
        for grant in grants[before:]:
            pay(world, model, grant, disputed=True, rng=rng)
        taken.append(f"{len(grants)} sales, {before} before the dispute")
        check(session, model, dispute)
        for _ in range(rng.randint(0, 4)):
            taken.append(refund(world, model, rng, None))
            check(session, model, dispute)
        outcome = rng.choice([DisputeStatus.REJECTED, DisputeStatus.UPHELD])
        decide(session, world.admin, persisted_id(dispute), outcome, reason="x", log=world.log)
        settle(model, outcome)
        taken.append(f"decided {outcome.value}")
        check(session, model, dispute)
        assert all(owed(session, party, PartyAccount.HELD) == 0 for party in PARTIES)
        for _ in range(rng.randint(0, 3)):
            taken.append(refund(world, model, rng, outcome))
            check(session, model, dispute)
    except AssertionError as failure:
        raise AssertionError(f"seed {seed}, after {taken}: {failure}") from failure
