"""Licensing leaves: canonical round trips, exact splits, malformed leaves refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.events import AllocationLine, ConsentEvent, GrantEvent, SplitEvent
from registry.log.events import EventFormatError, parse_event

DIGEST = "ab" * 32
MOMENT = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def split(allocations: tuple[AllocationLine, ...], gross: int) -> SplitEvent:
    return SplitEvent(
        grant_id=1,
        sales_report_id=2,
        report_id="2026-10",
        line_number=1,
        corrects_report_id=None,
        work_id=3,
        contract_id="c-3",
        contract_version=1,
        document_sha256=DIGEST,
        units=10,
        net_revenue_minor=100_000,
        gross_minor=gross,
        currency="USD",
        allocations=allocations,
        executed_at=MOMENT,
    )


amounts = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=8)


@given(amounts)
def test_a_split_round_trips_through_its_leaf(parts: list[int]) -> None:
    lines = tuple(
        AllocationLine(f"p{n}", amount, "share:creator") for n, amount in enumerate(parts)
    )
    event = split(lines, sum(parts))
    assert parse_event(event.to_leaf()) == event


@given(amounts, st.integers(min_value=1, max_value=1000))
def test_a_split_that_does_not_sum_to_its_gross_is_refused(parts: list[int], extra: int) -> None:
    lines = tuple(
        AllocationLine(f"p{n}", amount, "share:creator") for n, amount in enumerate(parts)
    )
    with pytest.raises(ValueError, match="sum to"):
        split(lines, sum(parts) + extra)


def test_a_grant_round_trips_through_its_leaf() -> None:
    event = GrantEvent(
        grant_id=1,
        offer_id=2,
        work_id=3,
        licensee_id=4,
        licensee_domain="brand.example",
        sale_type="buyout",
        status="pending_payment",
        contract_id="c-3",
        contract_version=1,
        document_sha256=DIGEST,
        gross_minor=500,
        currency="USD",
        allocations=(AllocationLine("ana", 300, "share:creator"), AllocationLine("ben", 200, "r")),
        granted_at=MOMENT,
    )
    assert parse_event(event.to_leaf()) == event


def test_a_consent_round_trips_through_its_leaf() -> None:
    event = ConsentEvent(
        version_id=1,
        contract_id="c-3",
        contract_version=1,
        work_id=3,
        document_sha256=DIGEST,
        party_id="ana",
        user_id=4,
        activates=True,
        consented_at=MOMENT,
    )
    assert parse_event(event.to_leaf()) == event


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"gross_minor":500', '"gross_minor":500.0'),
        ('"amount_minor":300', '"amount_minor":"300"'),
        ('"activates":true', '"activates":1'),
        (f'"document_sha256":"{DIGEST}"', '"document_sha256":"not-a-digest"'),
        ('"currency":"USD"', '"currency":"XXY"'),
        ('"amount_minor":300', '"amount_minor":301'),
        ('"party":"ana",', ""),
    ],
)
def test_a_malformed_licensing_leaf_is_refused(old: str, new: str) -> None:
    leaves = [
        GrantEvent(
            grant_id=1,
            offer_id=2,
            work_id=3,
            licensee_id=4,
            licensee_domain=None,
            sale_type="buyout",
            status="pending_payment",
            contract_id="c-3",
            contract_version=1,
            document_sha256=DIGEST,
            gross_minor=500,
            currency="USD",
            allocations=(AllocationLine("ana", 300, "r"), AllocationLine("ben", 200, "r")),
            granted_at=MOMENT,
        ).to_leaf(),
        ConsentEvent(
            version_id=1,
            contract_id="c-3",
            contract_version=1,
            work_id=3,
            document_sha256=DIGEST,
            party_id="ana",
            user_id=4,
            activates=True,
            consented_at=MOMENT,
        ).to_leaf(),
    ]
    tampered = [leaf.decode().replace(old, new).encode() for leaf in leaves]
    changed = [leaf for leaf, original in zip(tampered, leaves, strict=True) if leaf != original]
    assert changed
    for leaf in changed:
        with pytest.raises(EventFormatError):
            parse_event(leaf)
