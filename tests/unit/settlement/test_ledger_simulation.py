"""The ledger's invariants under a seeded, fault-injecting simulation that replays from its seed.

Each run drives random splits, replays, conflicting replays, payouts, reversals, transactions
that fail half-way and direct attempts to edit or unbalance the journal, and after every step
checks: every entry balances per currency, no external key is posted twice, and each party's
payable equals its allocations less its payouts, holds and reversals. A failure names the seed and
the steps taken, so `SEED=<n>` reproduces it exactly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from licensing.money import Money
from registry.db import unit_of_work
from settlement import repository
from settlement.errors import EntryConflictError
from settlement.ledger import EntryDraft
from settlement.models import JournalEntry
from settlement.postings import Share, hold_entry, payment_entry, payout_entry
from settlement.service.ledger import payable, post_entry, reversal_of

PARTIES = ("acct:ana@example.com", "acct:ben@example.com", "acct:cy@example.com")
PLATFORM = "platform:copymark"
STEPS = 120


class InjectedFault(RuntimeError):
    """A failure the simulation raises inside a transaction after it posted."""


@dataclass
class Model:
    """What the ledger must show: per party, allocations less payouts, holds and reversals."""

    payable: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    splits: dict[str, tuple[EntryDraft, list[Share]]] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)


def random_split(rng: random.Random, key: str) -> tuple[EntryDraft, list[Share]]:
    gross = rng.randint(1, 10**9)
    fee = rng.randint(0, gross // 20)
    weights = [rng.randint(0, 100) for _ in PARTIES]
    platform_cut = gross * rng.randint(0, 2000) // 10_000
    pool = gross - platform_cut
    total_weight = sum(weights) or 1
    amounts = [pool * weight // total_weight for weight in weights]
    amounts[0] += pool - sum(amounts)
    shares = [Share(PLATFORM, Money(platform_cut, "USD"))] + [
        Share(party, Money(amount, "USD")) for party, amount in zip(PARTIES, amounts, strict=True)
    ]
    return payment_entry(key, 0, Money(gross, "USD"), shares, Money(fee, "USD")), shares


def _without_grant(draft: EntryDraft) -> EntryDraft:
    # The simulation has no grants table rows: entries name none.
    return EntryDraft(draft.external_key, draft.kind, draft.postings, draft.reverses_key)


def step(rng: random.Random, engine: Engine, model: Model, number: int) -> str:
    action = rng.choice(
        ["split", "split", "replay", "conflict", "payout", "hold", "reverse", "fault", "tamper"]
    )
    if action == "split" or not model.splits:
        key = f"pi_{number}"
        draft, shares = random_split(rng, key)
        draft = _without_grant(draft)
        with unit_of_work(engine) as session:
            assert not post_entry(session, draft).replayed
        model.splits[key] = (draft, shares)
        model.keys.add(key)
        for share in shares:
            if share.account != PLATFORM and share.account is not None:
                model.payable[share.account] += share.amount.amount_minor
        return f"split {key}"
    key = rng.choice(sorted(model.splits))
    draft, shares = model.splits[key]
    if action == "replay":
        with unit_of_work(engine) as session:
            assert post_entry(session, draft).replayed
        return f"replay {key}"
    if action == "conflict":
        other, _ = random_split(rng, key)
        with pytest.raises(EntryConflictError), unit_of_work(engine) as session:
            post_entry(session, _without_grant(other))
        return f"conflict {key}"
    if action in {"payout", "hold"}:
        party = rng.choice(PARTIES)
        owed = model.payable[party]
        if owed <= 0:
            return f"no {action} for {party}"
        amount = rng.randint(1, owed)
        movement_key = f"{action}_{number}"
        movement = payout_entry if action == "payout" else hold_entry
        with unit_of_work(engine) as session:
            post_entry(session, movement(movement_key, party, Money(amount, "USD")))
        model.payable[party] -= amount
        model.keys.add(movement_key)
        return f"{action} {amount} for {party}"
    if action == "reverse":
        if key in model.reversed:
            return f"{key} already reversed"
        with unit_of_work(engine) as session:
            post_entry(session, reversal_of(session, key, f"reversal:{key}"))
        model.reversed.add(key)
        model.keys.add(f"reversal:{key}")
        for share in shares:
            if share.account != PLATFORM and share.account is not None:
                model.payable[share.account] -= share.amount.amount_minor
        return f"reverse {key}"
    if action == "fault":
        doomed, _ = random_split(rng, f"pi_doomed_{number}")
        with pytest.raises(InjectedFault):
            _post_then_fail(engine, _without_grant(doomed))
        return "fault after posting"
    with pytest.raises(DBAPIError), unit_of_work(engine) as session:
        session.execute(text("UPDATE journal_lines SET amount_minor = amount_minor + 1"))
    return "tamper refused"


def _post_then_fail(engine: Engine, draft: EntryDraft) -> None:
    with unit_of_work(engine) as session:
        post_entry(session, draft)
        raise InjectedFault


def _forge_unbalanced_entry(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        accounts = repository.account_ids(session, ["platform:stripe_clearing"])
        session.execute(
            text(
                "INSERT INTO journal_entries (external_key, kind, digest, posted_at) "
                "VALUES ('forged', 'payment', '0', now())"
            )
        )
        entry_id = session.execute(
            text("SELECT id FROM journal_entries WHERE external_key = 'forged'")
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO journal_lines (entry_id, account_id, currency, amount_minor) "
                "VALUES (:entry, :account, 'USD', 100)"
            ),
            {"entry": entry_id, "account": accounts["platform:stripe_clearing"]},
        )


def check(engine: Engine, model: Model) -> None:
    with Session(engine) as session:
        ids = [entry_id for entry_id in session.exec(select(JournalEntry.id)).all() if entry_id]
        assert repository.unbalanced_entries(session, ids) == []
        keys = session.exec(select(JournalEntry.external_key)).all()
        assert sorted(keys) == sorted(model.keys)
        assert session.exec(select(func.count()).select_from(JournalEntry)).one() == len(set(keys))
        for party in PARTIES:
            assert payable(session, party, "USD").amount_minor == model.payable[party], party


@pytest.mark.parametrize("seed", [11, 23, 47])
def test_the_ledger_keeps_its_invariants_under_random_faults(db_engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    model = Model()
    steps: list[str] = []
    for number in range(STEPS):
        try:
            steps.append(step(rng, db_engine, model, number))
            check(db_engine, model)
        except AssertionError as failure:
            raise AssertionError(f"seed {seed}, after {steps[-5:]}: {failure}") from failure


# SQLite cannot defer a check to commit; there the write path checks before the commit.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_database_refuses_an_unbalanced_entry_at_commit(db_engine: Engine) -> None:
    with pytest.raises(DBAPIError, match="does not balance"):
        _forge_unbalanced_entry(db_engine)
    with Session(db_engine) as session:
        assert repository.entry_with_key(session, "forged") is None
