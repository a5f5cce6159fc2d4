"""The settled split on the attestation log: which payment settled which grant, under which entry.

Appended in the transaction that activates the grant and posts the journal entry, so the leaf,
the entry and the grant's new status exist together or not at all.

The log is public, and what a payment paid, what the processor kept and who received how much
are the parties' business (party ids are often people's names): the leaf carries commitments
(``registry.log.commitments``) to them, never the values. The openings are built here, after
the split is shown to sum to the gross, and kept on the payment row; the grant's parties get
them in the grant's certificate. A refund's leaf (``PaymentRefundedEvent``) is built the same
way, in the transaction that posts the refund's entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from licensing.events import AllocationLine
from registry.log.commitments import Openings, open_values
from registry.log.events import (
    SHA256_HEX,
    JsonValue,
    LogEvent,
    check_commitments,
    utc,
)
from settlement.postings import Reversal, ReversedShare


def settlement_openings(
    *,
    gross_minor: int,
    fee_minor: int,
    allocations: Sequence[AllocationLine],
    journal_entry_digest: str,
) -> Openings:
    """Openings of a settlement's private values, once its allocations sum to its gross."""
    total = sum(line.amount_minor for line in allocations)
    if total != gross_minor:
        raise ValueError(f"allocations sum to {total} minor units, not the gross {gross_minor}")
    if any(line.amount_minor < 0 for line in allocations):
        raise ValueError("an allocation is negative")
    if not SHA256_HEX.fullmatch(journal_entry_digest):
        raise ValueError("journal_entry_digest must be 64 lowercase hex characters")
    return open_values(
        {
            "gross_minor": gross_minor,
            "fee_minor": fee_minor,
            "allocations": [line.to_json() for line in allocations],
            "journal_entry_digest": journal_entry_digest,
        }
    )


# No slots on events: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class PaymentSettledEvent(LogEvent):
    """A payment settled a grant; its gross, fee, split and entry digest are committed.

    In the clear stay only what the grant's own leaf or an opaque record already shows: record
    ids (grant, work, the processor's PaymentIntent), the sale type and currency (public on the
    grant leaf), the time, and the journal entry's key (``payment:<intent id>``, an id again).
    The fee is committed because the processor's tariff turns it back into the gross. The
    entry's digest is committed too: it is an unsalted SHA-256 of the entry's lines (party
    accounts and amounts), so in the clear it would confirm any guessed price and split.
    """

    event_type: ClassVar[str] = "payment_settled"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"gross_minor", "fee_minor", "allocations", "journal_entry_digest"}
    )

    grant_id: int
    work_id: int
    sale_type: str
    payment_intent_id: str
    currency: str
    journal_entry_key: str
    commitments: dict[str, str] = field(hash=False)
    settled_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "commitments", check_commitments(self.commitments, self.PRIVATE_FIELDS)
        )
        object.__setattr__(self, "settled_at", utc(self.settled_at))


def refund_openings(*, reversal: Reversal, journal_entry_digest: str) -> Openings:
    """Openings of a refund's private values: what came back, from whom, what the platform bore.

    An account's part that came back out of what a dispute held of its share says so in
    `held_minor`; a part that took nothing from held keeps the shape refunds always had.
    """
    if not SHA256_HEX.fullmatch(journal_entry_digest):
        raise ValueError("journal_entry_digest must be 64 lowercase hex characters")
    return open_values(
        {
            "refunded_minor": reversal.refunded.amount_minor,
            "allocations": [_reversed_line(part) for part in reversal.parts],
            "absorbed_minor": reversal.absorbed_minor,
            "journal_entry_digest": journal_entry_digest,
        }
    )


def _reversed_line(part: ReversedShare) -> dict[str, JsonValue]:
    line: dict[str, JsonValue] = {"account": part.account, "amount_minor": part.amount.amount_minor}
    if part.held_minor:
        line["held_minor"] = part.held_minor
    return line


@dataclass(frozen=True)
class PaymentRefundedEvent(LogEvent):
    """Part or all of a settled payment was given back; its split reversed in proportion.

    Mirrors ``PaymentSettledEvent``: in the clear only ids (grant, the PaymentIntent, the
    refund's journal entry key ``refund:<intent id>:<refunded total>``), the currency and the
    time; the amount refunded, each account's reversed part (and what of it came out of held),
    what the platform absorbed and the entry's digest are committed, and their openings stay on
    the refund's row.
    """

    event_type: ClassVar[str] = "payment_refunded"
    event_version: ClassVar[int] = 1
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"refunded_minor", "allocations", "absorbed_minor", "journal_entry_digest"}
    )

    grant_id: int
    payment_intent_id: str
    currency: str
    journal_entry_key: str
    commitments: dict[str, str] = field(hash=False)
    refunded_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "commitments", check_commitments(self.commitments, self.PRIVATE_FIELDS)
        )
        object.__setattr__(self, "refunded_at", utc(self.refunded_at))
