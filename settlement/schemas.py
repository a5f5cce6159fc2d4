"""Settlement request and response bodies; writes refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictInt, StringConstraints

from licensing.money import MAX_AMOUNT_MINOR
from registry.bounds import bounded
from settlement.models import HoldStatus, PaymentStatus, PayoutStatus
from settlement.service.invoices import InvoiceStatus

_Write = ConfigDict(extra="forbid")
PaymentMethodId = Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,250}$")]


class PaymentCreate(BaseModel):
    """Pay a grant; `payment_method` (a `pm_…` id from Stripe.js) confirms at once."""

    model_config = _Write

    payment_method: (
        Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,250}$")] | None
    ) = None


class PaymentPublic(BaseModel):
    id: int
    grant_id: int
    # The sales report whose royalty invoice the payment pays; null for a grant's price.
    sales_report_key: str | None
    payment_intent_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    # How much of it was given back so far.
    refunded_minor: int
    client_secret: str | None
    problem: str | None
    log_index: int | None
    created_at: datetime
    settled_at: datetime | None


class InvoicePublic(BaseModel):
    """A sales report's royalties owed by the licensee, and whether they are paid."""

    grant_id: int
    report_id: str
    corrects: str | None
    lines: int
    amount_minor: int
    currency: str
    reported_at: datetime
    status: InvoiceStatus
    # The payment that paid it and its `payment_settled` leaf, once paid.
    payment_id: int | None
    log_index: int | None
    # How much of its payment was given back; refunded in full, the status is `refunded`.
    refunded_minor: int
    pay_url: str
    refund_url: str


class WebhookAnswer(BaseModel):
    event_id: str
    event_type: str
    outcome: str
    duplicate: bool


PayoutAmount = Annotated[
    StrictInt, bounded(1, MAX_AMOUNT_MINOR, "a positive amount in the currency's minor unit")
]


class RefundCreate(BaseModel):
    """Refund `amount_minor` of a paid price or invoice, in its currency; all that is left when
    omitted."""

    model_config = _Write

    amount_minor: PayoutAmount | None = None


class PayoutRequest(BaseModel):
    """Pay out now up to `amount_minor` of what is available in `currency`."""

    model_config = _Write

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    amount_minor: PayoutAmount


class PayoutAccountPublic(BaseModel):
    """Your payout account: connected or not, whether Stripe lets it receive money, and why not."""

    connected: bool
    stripe_account_id: str | None
    payouts_enabled: bool
    details_submitted: bool
    requirements: str
    onboarding_url: str | None


class BalancePublic(BaseModel):
    currency: str
    available_minor: int
    pending_minor: int
    in_transfer_minor: int
    awaiting_collection_minor: int
    held_minor: int
    held_reasons: list[str]
    paid_out_minor: int


class PayoutPublic(BaseModel):
    id: int
    sale_key: str
    grant_id: int
    amount_minor: int
    currency: str
    status: PayoutStatus
    attempts: int
    problem: str | None
    next_attempt_at: datetime
    stripe_transfer_id: str | None
    created_at: datetime
    paid_at: datetime | None


StatementPeriodText = Annotated[str, StringConstraints(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


class StatementLinePublic(BaseModel):
    posted_at: datetime
    kind: str
    grant_id: int | None
    work_id: int | None
    work_title: str
    sale_type: str
    price_minor: int | None
    fee_minor: int | None
    split_formula: str
    amount_minor: int
    currency: str
    log_index: int | None
    reference: str


class StatementPublic(BaseModel):
    """One currency of a party's month: opening, every line, closing."""

    period: str
    currency: str
    opening_minor: int
    earned_minor: int
    paid_out_minor: int
    closing_minor: int
    lines: list[StatementLinePublic]


class HeldRoyaltyPublic(BaseModel):
    """A party's share held while its work was disputed, and where it went."""

    account_reference: str
    amount_minor: int
    # What refunds of the sale took back out of it for the licensee before the decision.
    refunded_minor: int
    currency: str
    reason: str
    status: HoldStatus
    hold_key: str
    outcome_key: str | None
