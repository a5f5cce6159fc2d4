"""The payment_settled leaf: figures and parties only as commitments, opened by its openings."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from licensing.events import AllocationLine
from registry.log.commitments import Opening, OpeningError, Openings, check_openings
from registry.log.events import EventFormatError, canonical_json, parse_event
from settlement.events import PaymentSettledEvent, settlement_openings

DIGEST = hashlib.sha256(b"the journal entry's lines").hexdigest()
SPLIT = (
    AllocationLine("Jeanne Dupont", 731_295, "share"),
    AllocationLine("Ravi Shankar", 187_350, "share"),
)


def settled(
    *,
    gross_minor: int = 918_645,
    fee_minor: int = 26_941,
    allocations: tuple[AllocationLine, ...] = SPLIT,
) -> tuple[PaymentSettledEvent, Openings]:
    opened = settlement_openings(
        gross_minor=gross_minor,
        fee_minor=fee_minor,
        allocations=allocations,
        journal_entry_digest=DIGEST,
    )
    event = PaymentSettledEvent(
        grant_id=4,
        work_id=2,
        sale_type="buyout",
        payment_intent_id="pi_123",
        currency="EUR",
        journal_entry_key="payment:pi_123",
        commitments={name: opening.commitment for name, opening in opened.items()},
        settled_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
    )
    return event, opened


def test_the_leaf_shows_no_figure_party_or_entry_digest() -> None:
    event, _ = settled()
    # The commitments are random hex, which may spell any figure by chance: look at the rest.
    shown = canonical_json(
        {k: v for k, v in json.loads(event.to_leaf()).items() if k != "commitments"}
    )
    for value in ["918645", "26941", "731295", "187350", "Jeanne", "Ravi", DIGEST]:
        assert value.encode() not in shown, f"the leaf shows {value}"


def test_the_leaf_parses_back_and_its_openings_open_its_commitments() -> None:
    event, openings = settled()
    parsed = parse_event(event.to_leaf())
    assert parsed == event
    opened = check_openings(parsed.committed(), openings)
    assert opened["gross_minor"] == 918_645
    assert opened["fee_minor"] == 26_941
    assert opened["journal_entry_digest"] == DIGEST
    assert opened["allocations"] == [line.to_json() for line in SPLIT]


def test_a_split_that_does_not_sum_to_the_gross_is_never_committed() -> None:
    with pytest.raises(ValueError, match="not the gross 918646"):
        settled(gross_minor=918_646)


def test_a_leaf_naming_other_commitments_is_refused() -> None:
    event, _ = settled()
    leaf = event.to_leaf().replace(b'"fee_minor"', b'"fee_minr"')
    with pytest.raises(EventFormatError, match="commitments must name exactly"):
        parse_event(leaf)


@given(
    shares=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=5),
    fee=st.integers(min_value=0, max_value=10**9),
    forged=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_an_opening_of_any_other_gross_is_refused(shares: list[int], fee: int, forged: int) -> None:
    split = tuple(AllocationLine(f"party-{n}", amount, "share") for n, amount in enumerate(shares))
    event, openings = settled(gross_minor=sum(shares), fee_minor=fee, allocations=split)
    assume(forged != sum(shares))
    lying = {"gross_minor": Opening(openings["gross_minor"].salt, forged)}
    with pytest.raises(OpeningError, match="does not match"):
        check_openings(event.committed(), lying)
