"""The settled split on the attestation log: what a payment paid, to whom, under which entry.

Appended in the transaction that activates the grant and posts the journal entry, so the leaf,
the entry and the grant's new status exist together or not at all. The entry's digest
(`settlement.ledger.EntryDraft.digest`) ties the leaf to the ledger: anyone holding the entry's
lines can recompute it. Parties are named by contract party ids, never by account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from licensing.events import AllocationLine
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

_FIELDS = {
    "grant_id",
    "work_id",
    "sale_type",
    "payment_intent_id",
    "gross_minor",
    "fee_minor",
    "currency",
    "allocations",
    "journal_entry_key",
    "journal_entry_digest",
    "settled_at",
}


@dataclass(frozen=True)
class PaymentSettledEvent(LogEvent):
    """A payment settled a grant: its split, as posted to the ledger."""

    event_type: ClassVar[str] = "payment_settled"
    event_version: ClassVar[int] = 1

    grant_id: int
    work_id: int
    sale_type: str
    payment_intent_id: str
    gross_minor: int
    fee_minor: int
    currency: str
    allocations: tuple[AllocationLine, ...]
    journal_entry_key: str
    journal_entry_digest: str
    settled_at: datetime

    def __post_init__(self) -> None:
        if not SHA256_HEX.fullmatch(self.journal_entry_digest):
            raise ValueError("journal_entry_digest must be 64 lowercase hex characters")
        total = sum(line.amount_minor for line in self.allocations)
        if total != self.gross_minor:
            raise ValueError(f"allocations sum to {total}, not the gross {self.gross_minor}")
        object.__setattr__(self, "allocations", tuple(self.allocations))
        object.__setattr__(self, "settled_at", utc(self.settled_at))

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the settlement."""
        return {
            "grant_id": self.grant_id,
            "work_id": self.work_id,
            "sale_type": self.sale_type,
            "payment_intent_id": self.payment_intent_id,
            "gross_minor": self.gross_minor,
            "fee_minor": self.fee_minor,
            "currency": self.currency,
            "allocations": [line.to_json() for line in self.allocations],
            "journal_entry_key": self.journal_entry_key,
            "journal_entry_digest": self.journal_entry_digest,
            "settled_at": format_timestamp(self.settled_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(fields, _FIELDS)
        raw = fields["allocations"]
        if not isinstance(raw, list) or not all(isinstance(line, dict) for line in raw):
            raise EventFormatError("allocations must be a list of objects")
        allocations = []
        for line in raw:
            expect_fields(line, {"party", "amount_minor", "rule"})
            allocations.append(
                AllocationLine(
                    str_field(line["party"], "party"),
                    int_field(line["amount_minor"], "amount_minor"),
                    str_field(line["rule"], "rule"),
                )
            )
        return cls(
            grant_id=int_field(fields["grant_id"], "grant_id"),
            work_id=int_field(fields["work_id"], "work_id"),
            sale_type=str_field(fields["sale_type"], "sale_type"),
            payment_intent_id=str_field(fields["payment_intent_id"], "payment_intent_id"),
            gross_minor=int_field(fields["gross_minor"], "gross_minor"),
            fee_minor=int_field(fields["fee_minor"], "fee_minor"),
            currency=str_field(fields["currency"], "currency"),
            allocations=tuple(allocations),
            journal_entry_key=str_field(fields["journal_entry_key"], "journal_entry_key"),
            journal_entry_digest=str_field(fields["journal_entry_digest"], "journal_entry_digest"),
            settled_at=parse_timestamp(str_field(fields["settled_at"], "settled_at")),
        )
