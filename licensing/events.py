"""Licensing leaves of the attestation log: a split's allocations always sum to its gross.

Every consent to a contract version, every license grant and every executed royalty split is
appended as one of these events, in the transaction that writes its row. Each event names the
contract version it ran under by the SHA-256 of the version's canonical document, so anyone
holding the document can check which terms applied.

The log is public, and prices, sales figures, splits, licensee domains and party ids (often a
person's name) are the parties' business: a leaf carries commitments to them
(``registry.log.commitments``), never the values. The openings are built here, after the split
invariant is checked, and kept on the row; a party's certificate proves any of them offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from licensing.engine import Execution
from licensing.money import CURRENCY_EXPONENTS
from registry.log.commitments import Openings, open_values
from registry.log.events import (
    SHA256_HEX,
    JsonValue,
    LogEvent,
    check_commitments,
    utc,
)


@dataclass(frozen=True, slots=True)
class AllocationLine:
    """One line of a split on the log: the party, its minor units and the rule that gave them."""

    party: str
    amount_minor: int
    rule: str

    def to_json(self) -> dict[str, JsonValue]:
        """Return the line as a JSON object."""
        return {"party": self.party, "amount_minor": self.amount_minor, "rule": self.rule}


def allocation_lines(execution: Execution) -> tuple[AllocationLine, ...]:
    """Return an execution's allocations as log lines."""
    return tuple(
        AllocationLine(line.party, line.amount.amount_minor, line.rule)
        for line in execution.allocations
    )


def _check_terms(document_sha256: str, currency: str | None = None) -> None:
    if not SHA256_HEX.fullmatch(document_sha256):
        raise ValueError("document_sha256 must be 64 lowercase hex characters")
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code")


def _check_split(gross_minor: int, amounts: Sequence[int]) -> None:
    """A split's allocated amounts (minor units) must be non-negative and sum to its gross."""
    total = sum(amounts)
    if total != gross_minor:
        raise ValueError(f"allocations sum to {total} minor units, not the gross {gross_minor}")
    if amounts and min(amounts) < 0:
        raise ValueError("an allocation is negative")


def grant_openings(
    licensee_domain: str | None, gross_minor: int, allocations: Sequence[AllocationLine]
) -> Openings:
    """Openings of a grant's private values, once its allocations are shown to sum to its gross."""
    _check_split(gross_minor, [line.amount_minor for line in allocations])
    return open_values(
        {
            "licensee_domain": licensee_domain,
            "gross_minor": gross_minor,
            "allocations": [line.to_json() for line in allocations],
        }
    )


def split_openings(
    *,
    report_id: str,
    corrects_report_id: str | None,
    units: int,
    net_revenue_minor: int,
    gross_minor: int,
    allocations: Sequence[AllocationLine],
) -> Openings:
    """Openings of a sales line's private values, once its allocations sum to its royalty."""
    _check_split(gross_minor, [line.amount_minor for line in allocations])
    return open_values(
        {
            "report_id": report_id,
            "corrects_report_id": corrects_report_id,
            "units": units,
            "net_revenue_minor": net_revenue_minor,
            "gross_minor": gross_minor,
            "allocations": [line.to_json() for line in allocations],
        }
    )


def report_openings(
    *,
    report_id: str,
    corrects_report_id: str | None,
    lines: Sequence[tuple[int, int, int, int, Sequence[Mapping[str, Any]]]],
) -> Openings:
    """Openings of one report leaf: the report's totals, its split by rule and every line.

    Each line is (line number, units, revenue, royalty, split), the split as its execution's
    JSON lists it (`Execution.to_json()["allocations"]`), so no line is converted twice. Each
    line's split is checked to sum to its royalty first; the totals are sums of the lines, and
    `allocations` sums each (party, rule) over them, so it sums to `gross_minor` too.
    """
    totals: dict[tuple[str, str], int] = {}
    committed: list[JsonValue] = []
    # One pass over every allocation of every line (a report's hot loop): each line summed by
    # (party, rule), written out with its figures, and checked.
    for number, units, revenue, gross, allocations in lines:
        split: list[JsonValue] = []
        amounts: list[int] = []
        for line in allocations:
            party, amount, rule = line["party"], line["amount_minor"], line["rule"]
            amounts.append(amount)
            key = (party, rule)
            totals[key] = totals.get(key, 0) + amount
            split.append({"party": party, "amount_minor": amount, "rule": rule})
        _check_split(gross, amounts)
        committed.append(
            {
                "line": number,
                "units": units,
                "net_revenue_minor": revenue,
                "gross_minor": gross,
                "allocations": split,
            }
        )
    return open_values(
        {
            "report_id": report_id,
            "corrects_report_id": corrects_report_id,
            "units": sum(line[1] for line in lines),
            "net_revenue_minor": sum(line[2] for line in lines),
            "gross_minor": sum(line[3] for line in lines),
            "allocations": [
                AllocationLine(party, amount, rule).to_json()
                for (party, rule), amount in sorted(totals.items())
            ],
            "lines": committed,
        }
    )


def consent_openings(party_id: str) -> Openings:
    """Opening of the party a consent was given for."""
    return open_values({"party_id": party_id})


# No slots on events: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class ConsentEvent(LogEvent):
    """A party consented to a contract version; `activates` says it was the last consent needed."""

    event_type: ClassVar[str] = "license_consent"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"party_id"})

    version_id: int
    contract_id: str
    contract_version: int
    work_id: int
    document_sha256: str
    user_id: int
    activates: bool
    commitments: dict[str, str] = field(hash=False)
    consented_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256)
        _check_commitments(self)
        object.__setattr__(self, "consented_at", utc(self.consented_at))


@dataclass(frozen=True)
class GrantEvent(LogEvent):
    """A license granted under an offer; its price, split and licensee domain are committed.

    `licensee_id` is None for a retroactive licence, whose licensee is the site its case named.
    """

    event_type: ClassVar[str] = "license_grant"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"licensee_domain", "gross_minor", "allocations"}
    )

    grant_id: int
    offer_id: int
    work_id: int
    licensee_id: int | None
    sale_type: str
    status: str
    contract_id: str
    contract_version: int
    document_sha256: str
    currency: str
    commitments: dict[str, str] = field(hash=False)
    granted_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256, self.currency)
        _check_commitments(self)
        object.__setattr__(self, "granted_at", utc(self.granted_at))


@dataclass(frozen=True)
class SplitEvent(LogEvent):
    """An executed split of one sales report line; its figures and split are committed.

    Reports are now logged by `ReportSplitEvent`, a leaf per report; leaves of this kind
    appended before stay readable and verifiable.
    """

    event_type: ClassVar[str] = "license_split"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "report_id",
            "corrects_report_id",
            "units",
            "net_revenue_minor",
            "gross_minor",
            "allocations",
        }
    )

    grant_id: int
    sales_report_id: int
    line_number: int
    work_id: int
    contract_id: str
    contract_version: int
    document_sha256: str
    currency: str
    commitments: dict[str, str] = field(hash=False)
    executed_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256, self.currency)
        _check_commitments(self)
        object.__setattr__(self, "executed_at", utc(self.executed_at))


@dataclass(frozen=True)
class ReportSplitEvent(LogEvent):
    """The executed splits of a run of lines of one sales report, committed together.

    One leaf covers lines `first_line` to `last_line` of a report (at most `REPORT_LEAF_LINES`);
    `lines` commits every line's figures and split, so its commitment is the digest of the
    report's allocations, and the totals open without showing single lines.
    """

    event_type: ClassVar[str] = "license_report"
    event_version: ClassVar[int] = 1
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "report_id",
            "corrects_report_id",
            "units",
            "net_revenue_minor",
            "gross_minor",
            "allocations",
            "lines",
        }
    )

    grant_id: int
    work_id: int
    first_line: int
    last_line: int
    contract_id: str
    contract_version: int
    document_sha256: str
    currency: str
    commitments: dict[str, str] = field(hash=False)
    executed_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256, self.currency)
        if not 1 <= self.first_line <= self.last_line:
            raise ValueError("a report leaf covers lines first_line..last_line, from 1")
        _check_commitments(self)
        object.__setattr__(self, "executed_at", utc(self.executed_at))


# A leaf's `lines` opening travels in certificates, which the verifier reads up to 1 MiB.
REPORT_LEAF_LINES = 1_000


def _check_commitments(
    event: ConsentEvent | GrantEvent | SplitEvent | ReportSplitEvent,
) -> None:
    object.__setattr__(
        event, "commitments", check_commitments(event.commitments, event.PRIVATE_FIELDS)
    )
