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
from typing import ClassVar, Self

from licensing.engine import Execution
from licensing.money import CURRENCY_EXPONENTS
from registry.log.commitments import Openings, open_values
from registry.log.events import (
    SHA256_HEX,
    EventFormatError,
    JsonValue,
    LogEvent,
    check_commitments,
    expect_fields,
    format_timestamp,
    int_field,
    parse_timestamp,
    str_field,
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


def _int(fields: Mapping[str, object], name: str) -> int:
    return int_field(fields[name], name)


def _str(fields: Mapping[str, object], name: str) -> str:
    return str_field(fields[name], name)


def _bool(fields: Mapping[str, object], name: str) -> bool:
    value = fields[name]
    if not isinstance(value, bool):
        raise EventFormatError(f"{name} must be a boolean")
    return value


def _check_terms(document_sha256: str, currency: str | None = None) -> None:
    if not SHA256_HEX.fullmatch(document_sha256):
        raise ValueError("document_sha256 must be 64 lowercase hex characters")
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code")


def _check_split(gross_minor: int, allocations: Sequence[AllocationLine]) -> None:
    total = sum(line.amount_minor for line in allocations)
    if total != gross_minor:
        raise ValueError(f"allocations sum to {total} minor units, not the gross {gross_minor}")
    if any(line.amount_minor < 0 for line in allocations):
        raise ValueError("an allocation is negative")


def grant_openings(
    licensee_domain: str | None, gross_minor: int, allocations: Sequence[AllocationLine]
) -> Openings:
    """Openings of a grant's private values, once its allocations are shown to sum to its gross."""
    _check_split(gross_minor, allocations)
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
    _check_split(gross_minor, allocations)
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

    def committed(self) -> Mapping[str, str]:
        """Commitment to the party id."""
        return self.commitments

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the consent."""
        return {
            "version_id": self.version_id,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "work_id": self.work_id,
            "document_sha256": self.document_sha256,
            "user_id": self.user_id,
            "activates": self.activates,
            "commitments": dict(self.commitments),
            "consented_at": format_timestamp(self.consented_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(
            fields,
            {
                "version_id",
                "contract_id",
                "contract_version",
                "work_id",
                "document_sha256",
                "user_id",
                "activates",
                "commitments",
                "consented_at",
            },
        )
        return cls(
            version_id=_int(fields, "version_id"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            work_id=_int(fields, "work_id"),
            document_sha256=_str(fields, "document_sha256"),
            user_id=_int(fields, "user_id"),
            activates=_bool(fields, "activates"),
            commitments=check_commitments(fields["commitments"], cls.PRIVATE_FIELDS),
            consented_at=parse_timestamp(_str(fields, "consented_at")),
        )


@dataclass(frozen=True)
class GrantEvent(LogEvent):
    """A license granted under an offer; its price, split and licensee domain are committed."""

    event_type: ClassVar[str] = "license_grant"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"licensee_domain", "gross_minor", "allocations"}
    )

    grant_id: int
    offer_id: int
    work_id: int
    licensee_id: int
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

    def committed(self) -> Mapping[str, str]:
        """Commitments to the price, the split and the licensee's domain."""
        return self.commitments

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the grant."""
        return {
            "grant_id": self.grant_id,
            "offer_id": self.offer_id,
            "work_id": self.work_id,
            "licensee_id": self.licensee_id,
            "sale_type": self.sale_type,
            "status": self.status,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "document_sha256": self.document_sha256,
            "currency": self.currency,
            "commitments": dict(self.commitments),
            "granted_at": format_timestamp(self.granted_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(
            fields,
            {
                "grant_id",
                "offer_id",
                "work_id",
                "licensee_id",
                "sale_type",
                "status",
                "contract_id",
                "contract_version",
                "document_sha256",
                "currency",
                "commitments",
                "granted_at",
            },
        )
        return cls(
            grant_id=_int(fields, "grant_id"),
            offer_id=_int(fields, "offer_id"),
            work_id=_int(fields, "work_id"),
            licensee_id=_int(fields, "licensee_id"),
            sale_type=_str(fields, "sale_type"),
            status=_str(fields, "status"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            document_sha256=_str(fields, "document_sha256"),
            currency=_str(fields, "currency"),
            commitments=check_commitments(fields["commitments"], cls.PRIVATE_FIELDS),
            granted_at=parse_timestamp(_str(fields, "granted_at")),
        )


@dataclass(frozen=True)
class SplitEvent(LogEvent):
    """An executed split of one sales report line; its figures and split are committed."""

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

    def committed(self) -> Mapping[str, str]:
        """Commitments to the line's figures, split and report ids."""
        return self.commitments

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the split."""
        return {
            "grant_id": self.grant_id,
            "sales_report_id": self.sales_report_id,
            "line_number": self.line_number,
            "work_id": self.work_id,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "document_sha256": self.document_sha256,
            "currency": self.currency,
            "commitments": dict(self.commitments),
            "executed_at": format_timestamp(self.executed_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(
            fields,
            {
                "grant_id",
                "sales_report_id",
                "line_number",
                "work_id",
                "contract_id",
                "contract_version",
                "document_sha256",
                "currency",
                "commitments",
                "executed_at",
            },
        )
        return cls(
            grant_id=_int(fields, "grant_id"),
            sales_report_id=_int(fields, "sales_report_id"),
            line_number=_int(fields, "line_number"),
            work_id=_int(fields, "work_id"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            document_sha256=_str(fields, "document_sha256"),
            currency=_str(fields, "currency"),
            commitments=check_commitments(fields["commitments"], cls.PRIVATE_FIELDS),
            executed_at=parse_timestamp(_str(fields, "executed_at")),
        )


def _check_commitments(event: ConsentEvent | GrantEvent | SplitEvent) -> None:
    object.__setattr__(
        event, "commitments", check_commitments(event.commitments, event.PRIVATE_FIELDS)
    )
