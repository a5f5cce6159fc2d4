"""Licensing leaves: canonical round trips, committed figures, exact splits, malformed leaves."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.events import (
    AllocationLine,
    ConsentEvent,
    GrantEvent,
    SplitEvent,
    consent_openings,
    grant_openings,
    report_openings,
    split_openings,
)
from registry.log.commitments import check_openings, commitments_of
from registry.log.events import EventFormatError, canonical_json, parse_event

DIGEST = "ab" * 32
MOMENT = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
ALLOCATIONS = (AllocationLine("ana", 300, "share:creator"), AllocationLine("ben", 200, "r"))


def split(commitments: dict[str, str]) -> SplitEvent:
    return SplitEvent(
        grant_id=1,
        sales_report_id=2,
        line_number=1,
        work_id=3,
        contract_id="c-3",
        contract_version=1,
        document_sha256=DIGEST,
        currency="USD",
        commitments=commitments,
        executed_at=MOMENT,
    )


def grant(commitments: dict[str, str]) -> GrantEvent:
    return GrantEvent(
        grant_id=1,
        offer_id=2,
        work_id=3,
        licensee_id=4,
        sale_type="buyout",
        status="pending_payment",
        contract_id="c-3",
        contract_version=1,
        document_sha256=DIGEST,
        currency="USD",
        commitments=commitments,
        granted_at=MOMENT,
    )


def consent(commitments: dict[str, str]) -> ConsentEvent:
    return ConsentEvent(
        version_id=1,
        contract_id="c-3",
        contract_version=1,
        work_id=3,
        document_sha256=DIGEST,
        user_id=4,
        activates=True,
        commitments=commitments,
        consented_at=MOMENT,
    )


amounts = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=8)


@given(amounts)
def test_a_split_round_trips_and_its_openings_prove_its_figures(parts: list[int]) -> None:
    lines = tuple(
        AllocationLine(f"p{n}", amount, "share:creator") for n, amount in enumerate(parts)
    )
    openings = split_openings(
        report_id="2026-10",
        corrects_report_id=None,
        units=10,
        net_revenue_minor=100_000,
        gross_minor=sum(parts),
        allocations=lines,
    )
    event = split(commitments_of(openings))
    parsed = parse_event(event.to_leaf())
    assert parsed == event
    opened = check_openings(parsed.committed(), openings)
    assert (opened["units"], opened["gross_minor"]) == (10, sum(parts))
    # The commitments are random hex, which may spell any figure by chance: look at the rest.
    shown = {k: v for k, v in json.loads(event.to_leaf()).items() if k != "commitments"}
    for private in (b"100000", b"2026-10"):
        assert private not in canonical_json(shown)


@given(amounts, st.integers(min_value=1, max_value=1000))
def test_a_split_that_does_not_sum_to_its_gross_is_refused(parts: list[int], extra: int) -> None:
    lines = tuple(
        AllocationLine(f"p{n}", amount, "share:creator") for n, amount in enumerate(parts)
    )
    with pytest.raises(ValueError, match="sum to"):
        split_openings(
            report_id="2026-10",
            corrects_report_id=None,
            units=1,
            net_revenue_minor=1,
            gross_minor=sum(parts) + extra,
            allocations=lines,
        )


@pytest.mark.parametrize(
    ("amounts", "gross", "refusal"),
    [
        ((300, 200), 501, "allocations sum to 500 minor units, not the gross 501"),
        ((600, -100), 500, "an allocation is negative"),
    ],
)
def test_a_report_line_whose_split_is_not_its_royalty_is_refused(
    amounts: tuple[int, int], gross: int, refusal: str
) -> None:
    good = [line.to_json() for line in ALLOCATIONS]
    bad = [{"party": f"p{n}", "amount_minor": a, "rule": "r"} for n, a in enumerate(amounts)]
    with pytest.raises(ValueError, match=refusal):
        report_openings(
            report_id="2026-10",
            corrects_report_id=None,
            lines=[(1, 5, 5_000, 500, good), (2, 5, 5_000, gross, bad)],
        )


def test_a_grant_round_trips_and_shows_neither_price_nor_split_nor_domain() -> None:
    openings = grant_openings("brand.example", 500, ALLOCATIONS)
    event = grant(commitments_of(openings))
    assert parse_event(event.to_leaf()) == event
    # The commitments are random hex, which may spell any figure by chance: look at the rest.
    shown = {k: v for k, v in json.loads(event.to_leaf()).items() if k != "commitments"}
    for private in (b"brand.example", b"500", b"ana", b"share:creator"):
        assert private not in canonical_json(shown)
    assert check_openings(event.committed(), openings)["licensee_domain"] == "brand.example"


def test_a_consent_round_trips_without_naming_the_party() -> None:
    event = consent(commitments_of(consent_openings("ana")))
    assert parse_event(event.to_leaf()) == event
    assert b"ana" not in event.to_leaf()


def test_the_same_figure_commits_differently_each_time() -> None:
    first = grant_openings("brand.example", 500, ALLOCATIONS)
    second = grant_openings("brand.example", 500, ALLOCATIONS)
    assert commitments_of(first)["gross_minor"] != commitments_of(second)["gross_minor"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"activates":true', '"activates":1'),
        ('"contract_version":1', '"contract_version":1.0'),
        (f'"document_sha256":"{DIGEST}"', '"document_sha256":"not-a-digest"'),
        ('"currency":"USD"', '"currency":"XXY"'),
        ('"commitments":{', '"commitments":{"extra":"' + "00" * 32 + '",'),
        ('"party_id":"', '"party_id":"zz'),
        ('"gross_minor":"', '"gross_minor":"A'),
        (',"licensee_domain":"', ',"licensee-domain":"'),
    ],
)
def test_a_malformed_licensing_leaf_is_refused(old: str, new: str) -> None:
    leaves = [
        grant(commitments_of(grant_openings(None, 500, ALLOCATIONS))).to_leaf(),
        consent(commitments_of(consent_openings("ana"))).to_leaf(),
    ]
    tampered = [leaf.decode().replace(old, new).encode() for leaf in leaves]
    changed = [leaf for leaf, original in zip(tampered, leaves, strict=True) if leaf != original]
    assert changed
    for leaf in changed:
        with pytest.raises(EventFormatError):
            parse_event(leaf)
