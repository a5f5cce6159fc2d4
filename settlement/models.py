"""Settlement tables: ledger accounts, journal entries and lines (append-only), payments, and the
inbox of processor events (one row per event id).

Journal entries and lines are never updated or deleted (database triggers refuse it); each
entry's lines sum to zero per currency (see `settlement.ledger`). Payments and inbox rows
change status as the processor reports; the money they move is only ever in the journal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Enum
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow
from registry.partitions import RangePartitions


class LedgerAccount(SQLModel, table=True):
    """An account of the platform (`platform:<purpose>`) or of a party (`party:<ref>:<kind>`)."""

    __tablename__ = "ledger_accounts"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=320, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JournalEntry(SQLModel, table=True):
    """One balanced movement of money, posted once under its external key."""

    __tablename__ = "journal_entries"

    id: int | None = Field(default=None, primary_key=True)
    external_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)
    digest: str = Field(max_length=64)
    reverses_entry_id: int | None = Field(
        default=None, foreign_key="journal_entries.id", unique=True
    )
    grant_id: int | None = Field(default=None, foreign_key="license_grants.id", index=True)
    posted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JournalLine(SQLModel, table=True):
    """One line of an entry: a signed amount (debit positive) on one account."""

    __tablename__ = "journal_lines"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="journal_entries.id", index=True)
    account_id: int = Field(foreign_key="ledger_accounts.id", index=True)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))


# On PostgreSQL, 2**20 lines a partition by line id (migration 0028), made ahead by the writer.
JOURNAL_LINE_PARTITIONS = RangePartitions("journal_lines", "id")


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"
    SUCCEEDED = "succeeded"
    REFUSED = "refused"


class Payment(SQLModel, table=True):
    """A payment the processor collects for a grant (a Stripe PaymentIntent): its price, or the
    royalties of one of its sales reports (`sales_report_key`, the report's invoice)."""

    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    grant_id: int = Field(foreign_key="license_grants.id", index=True)
    sales_report_key: str | None = Field(default=None, max_length=128)
    payment_intent_id: str = Field(max_length=255, unique=True)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    # Stored as its value in a VARCHAR: no database enum type to alter when a status is added.
    status: PaymentStatus = Field(
        default=PaymentStatus.REQUIRES_PAYMENT,
        sa_column=Column(
            Enum(
                PaymentStatus,
                native_enum=False,
                length=32,
                values_callable=lambda kind: [member.value for member in kind],
            ),
            nullable=False,
        ),
    )
    # Why a succeeded payment could not settle its grant (an operator refunds it).
    problem: str | None = Field(default=None, max_length=500)
    journal_entry_id: int | None = Field(default=None, foreign_key="journal_entries.id")
    # How much of it the processor has refunded so far (each refund event reports the total).
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The openings of the commitments its payment_settled leaf carries (registry.log.commitments);
    # only the grant's parties get them, in the grant's certificate.
    log_openings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentRefund(SQLModel, table=True):
    """One refund posted against a payment: its journal entry and its leaf on the log."""

    __tablename__ = "payment_refunds"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    journal_entry_id: int = Field(foreign_key="journal_entries.id", unique=True)
    # The payment's refunded total once this refund is posted (the processor reports totals).
    refunded_total_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    log_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The openings of the commitments its payment_refunded leaf carries.
    log_openings: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    refunded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProcessorEvent(SQLModel, table=True):
    """A verified webhook event, stored once per event id and processed once."""

    __tablename__ = "processor_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255, unique=True)
    event_type: str = Field(max_length=128)
    payload_sha256: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", max_length=500)


class ConnectedAccount(SQLModel, table=True):
    """A party's Stripe Connect (Express) account, and what Stripe last said it may receive."""

    __tablename__ = "connected_accounts"

    id: int | None = Field(default=None, primary_key=True)
    account_reference: str = Field(max_length=256, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    stripe_account_id: str = Field(max_length=255, unique=True)
    payouts_enabled: bool = False
    details_submitted: bool = False
    # What Stripe still needs before money can reach the party (its `requirements`), in words.
    requirements: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PayoutStatus(StrEnum):
    PENDING = "pending"  # planned, not yet transferred
    FAILED = "failed"  # the last transfer attempt failed; retried at `next_attempt_at`
    PAID = "paid"  # transferred to the party's connected account and posted to the ledger


class Payout(SQLModel, table=True):
    """One transfer of what a party earned on one sale to its connected account.

    `transfer_key` is derived from the sale, the party and what the party had been paid for the
    sale before, so planning the same payout twice (a redelivered task) finds the same row, the
    same Stripe idempotency key and the same ledger key.
    """

    __tablename__ = "payouts"

    id: int | None = Field(default=None, primary_key=True)
    transfer_key: str = Field(max_length=64, unique=True)
    account_reference: str = Field(max_length=256, index=True)
    sale_key: str = Field(max_length=200, index=True)
    grant_id: int = Field(foreign_key="license_grants.id", index=True)
    payment_intent_id: str = Field(max_length=255)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: PayoutStatus = Field(
        default=PayoutStatus.PENDING,
        sa_column=Column(
            Enum(
                PayoutStatus,
                native_enum=False,
                length=16,
                values_callable=lambda kind: [member.value for member in kind],
            ),
            nullable=False,
        ),
    )
    attempts: int = 0
    # Why the last attempt failed, and what the payee can do about it.
    problem: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    stripe_transfer_id: str | None = Field(default=None, max_length=255)
    journal_entry_id: int | None = Field(default=None, foreign_key="journal_entries.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HoldStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    REDIRECTED = "redirected"
    REFUNDED = "refunded"  # the licensee got all of it back before the dispute was decided


class HeldRoyalty(SQLModel, table=True):
    """A party's share of a sale held while its work's ownership is disputed, and where it went.

    `hold_key` is the journal entry that moved it from the party's payable to its held account;
    `refunded_minor` what refunds of the sale took back out of held since; `outcome_key` the
    entry that released the rest back or redirected it to the rightful owner, or the refund that
    took back the last of it.
    """

    __tablename__ = "held_royalties"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: int = Field(foreign_key="ownership_disputes.id", index=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    hold_key: str = Field(max_length=200, unique=True)
    account_reference: str = Field(max_length=300)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=500)
    status: HoldStatus = Field(
        default=HoldStatus.HELD,
        sa_column=Column(
            Enum(
                HoldStatus,
                native_enum=False,
                length=20,
                values_callable=lambda kind: [member.value for member in kind],
            ),
            nullable=False,
        ),
    )
    outcome_key: str | None = Field(default=None, max_length=200)
    held_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def still_held_minor(self) -> int:
        """What the dispute's outcome still decides about: the hold less what refunds took."""
        return self.amount_minor - self.refunded_minor
