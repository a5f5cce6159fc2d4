"""Licensing leaves of the attestation log: a split's allocations always sum to its gross.

Every consent to a contract version, every license grant and every executed royalty split is
appended as one of these events, in the transaction that writes its row. Amounts are integer
minor units; each event names the contract version it ran under by the SHA-256 of the version's
canonical document, so anyone holding the document can check which terms applied. Parties are
named by their contract party ids, never by account, so the public log carries no email address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from licensing.engine import Execution
from licensing.money import CURRENCY_EXPONENTS
from registry.log.events import (
    SHA256_HEX,
    EventFormatError,
    JsonValue,
    LogEvent,
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


def _optional_str(fields: Mapping[str, object], name: str) -> str | None:
    return None if fields[name] is None else _str(fields, name)


def _bool(fields: Mapping[str, object], name: str) -> bool:
    value = fields[name]
    if not isinstance(value, bool):
        raise EventFormatError(f"{name} must be a boolean")
    return value


def _allocations(fields: Mapping[str, object]) -> tuple[AllocationLine, ...]:
    raw = fields["allocations"]
    if not isinstance(raw, list):
        raise EventFormatError("allocations must be a list")
    lines = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise EventFormatError("each allocation must be an object")
        expect_fields(entry, {"party", "amount_minor", "rule"})
        lines.append(
            AllocationLine(_str(entry, "party"), _int(entry, "amount_minor"), _str(entry, "rule"))
        )
    return tuple(lines)


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


# No slots on events: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class ConsentEvent(LogEvent):
    """A party consented to a contract version; `activates` says it was the last consent needed."""

    event_type: ClassVar[str] = "license_consent"
    event_version: ClassVar[int] = 1

    version_id: int
    contract_id: str
    contract_version: int
    work_id: int
    document_sha256: str
    party_id: str
    user_id: int
    activates: bool
    consented_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256)
        object.__setattr__(self, "consented_at", utc(self.consented_at))

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the consent."""
        return {
            "version_id": self.version_id,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "work_id": self.work_id,
            "document_sha256": self.document_sha256,
            "party_id": self.party_id,
            "user_id": self.user_id,
            "activates": self.activates,
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
                "party_id",
                "user_id",
                "activates",
                "consented_at",
            },
        )
        return cls(
            version_id=_int(fields, "version_id"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            work_id=_int(fields, "work_id"),
            document_sha256=_str(fields, "document_sha256"),
            party_id=_str(fields, "party_id"),
            user_id=_int(fields, "user_id"),
            activates=_bool(fields, "activates"),
            consented_at=parse_timestamp(_str(fields, "consented_at")),
        )


@dataclass(frozen=True)
class GrantEvent(LogEvent):
    """A license granted under an offer, with the price and the split it agrees to."""

    event_type: ClassVar[str] = "license_grant"
    event_version: ClassVar[int] = 1

    grant_id: int
    offer_id: int
    work_id: int
    licensee_id: int
    licensee_domain: str | None
    sale_type: str
    status: str
    contract_id: str
    contract_version: int
    document_sha256: str
    gross_minor: int
    currency: str
    allocations: tuple[AllocationLine, ...]
    granted_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256, self.currency)
        _check_split(self.gross_minor, self.allocations)
        object.__setattr__(self, "allocations", tuple(self.allocations))
        object.__setattr__(self, "granted_at", utc(self.granted_at))

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the grant."""
        return {
            "grant_id": self.grant_id,
            "offer_id": self.offer_id,
            "work_id": self.work_id,
            "licensee_id": self.licensee_id,
            "licensee_domain": self.licensee_domain,
            "sale_type": self.sale_type,
            "status": self.status,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "document_sha256": self.document_sha256,
            "gross_minor": self.gross_minor,
            "currency": self.currency,
            "allocations": [line.to_json() for line in self.allocations],
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
                "licensee_domain",
                "sale_type",
                "status",
                "contract_id",
                "contract_version",
                "document_sha256",
                "gross_minor",
                "currency",
                "allocations",
                "granted_at",
            },
        )
        return cls(
            grant_id=_int(fields, "grant_id"),
            offer_id=_int(fields, "offer_id"),
            work_id=_int(fields, "work_id"),
            licensee_id=_int(fields, "licensee_id"),
            licensee_domain=_optional_str(fields, "licensee_domain"),
            sale_type=_str(fields, "sale_type"),
            status=_str(fields, "status"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            document_sha256=_str(fields, "document_sha256"),
            gross_minor=_int(fields, "gross_minor"),
            currency=_str(fields, "currency"),
            allocations=_allocations(fields),
            granted_at=parse_timestamp(_str(fields, "granted_at")),
        )


@dataclass(frozen=True)
class SplitEvent(LogEvent):
    """An executed split of one sales report line: who receives what of the royalty, and why."""

    event_type: ClassVar[str] = "license_split"
    event_version: ClassVar[int] = 1

    grant_id: int
    sales_report_id: int
    report_id: str
    line_number: int
    corrects_report_id: str | None
    work_id: int
    contract_id: str
    contract_version: int
    document_sha256: str
    units: int
    net_revenue_minor: int
    gross_minor: int
    currency: str
    allocations: tuple[AllocationLine, ...]
    executed_at: datetime

    def __post_init__(self) -> None:
        _check_terms(self.document_sha256, self.currency)
        _check_split(self.gross_minor, self.allocations)
        object.__setattr__(self, "allocations", tuple(self.allocations))
        object.__setattr__(self, "executed_at", utc(self.executed_at))

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the split."""
        return {
            "grant_id": self.grant_id,
            "sales_report_id": self.sales_report_id,
            "report_id": self.report_id,
            "line_number": self.line_number,
            "corrects_report_id": self.corrects_report_id,
            "work_id": self.work_id,
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "document_sha256": self.document_sha256,
            "units": self.units,
            "net_revenue_minor": self.net_revenue_minor,
            "gross_minor": self.gross_minor,
            "currency": self.currency,
            "allocations": [line.to_json() for line in self.allocations],
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
                "report_id",
                "line_number",
                "corrects_report_id",
                "work_id",
                "contract_id",
                "contract_version",
                "document_sha256",
                "units",
                "net_revenue_minor",
                "gross_minor",
                "currency",
                "allocations",
                "executed_at",
            },
        )
        return cls(
            grant_id=_int(fields, "grant_id"),
            sales_report_id=_int(fields, "sales_report_id"),
            report_id=_str(fields, "report_id"),
            line_number=_int(fields, "line_number"),
            corrects_report_id=_optional_str(fields, "corrects_report_id"),
            work_id=_int(fields, "work_id"),
            contract_id=_str(fields, "contract_id"),
            contract_version=_int(fields, "contract_version"),
            document_sha256=_str(fields, "document_sha256"),
            units=_int(fields, "units"),
            net_revenue_minor=_int(fields, "net_revenue_minor"),
            gross_minor=_int(fields, "gross_minor"),
            currency=_str(fields, "currency"),
            allocations=_allocations(fields),
            executed_at=parse_timestamp(_str(fields, "executed_at")),
        )
