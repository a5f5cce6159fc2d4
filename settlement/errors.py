"""Settlement errors a user, a client or the payment processor can cause, kinds of the root."""

from __future__ import annotations

from registry.errors import (
    BadRequest,
    Conflict,
    CopymarkError,
    Invalid,
    PayloadTooLarge,
    StorageFault,
    Unavailable,
)


class SettlementError(CopymarkError):
    """Base of every settlement error; the kind each subclass adds decides status and code."""


class LedgerIntegrityError(SettlementError, StorageFault):
    """An entry would break a ledger invariant (unbalanced, empty): a fault, never posted."""

    code = "ledger_integrity"


class InvalidAccountError(SettlementError, Invalid):
    """An account reference cannot name a ledger account."""

    code = "ledger_account_invalid"


class EntryConflictError(SettlementError, Conflict):
    """An external key was already posted with other content."""

    code = "ledger_entry_conflict"


class PaymentMismatchError(SettlementError, Invalid):
    """A payment's amount or currency is not what the grant costs."""

    code = "payment_mismatch"


class PaymentStateError(SettlementError, Conflict):
    """The grant or payment is not in a state that takes this step."""

    code = "payment_state"


class WebhookSignatureError(SettlementError, BadRequest):
    """A webhook's signature header is missing, malformed, stale or does not match."""

    code = "webhook_signature_invalid"


class WebhookDisabledError(SettlementError, Unavailable):
    """No webhook secret is configured, so no webhook is accepted."""

    code = "webhook_disabled"


class EventConflictError(SettlementError, Conflict):
    """An event id arrived again with other content."""

    code = "webhook_event_conflict"


class ProcessorUnavailableError(SettlementError, Unavailable):
    """The payment processor could not be reached or refused the request."""

    code = "payment_processor_unavailable"


class PaymentRefusedError(SettlementError, Invalid):
    """The processor refused the payment method (a declined card)."""

    code = "payment_refused"


class MalformedEventError(SettlementError, BadRequest):
    """A signed webhook body is not a Stripe event of the expected shape."""

    code = "webhook_event_malformed"


class PaymentsNotConfiguredError(SettlementError, Unavailable):
    """No payment processor is configured (no Stripe key and no sandbox)."""

    code = "payments_not_configured"


class WebhookTooLargeError(SettlementError, PayloadTooLarge):
    """A webhook body is larger than any event the processor sends."""

    code = "webhook_too_large"


class PayoutsNotEnabledError(SettlementError, Conflict):
    """The party has no connected account, or Stripe does not yet let it receive money."""

    code = "payouts_not_enabled"


class PayoutAmountError(SettlementError, Invalid):
    """A payout asked for more than is available, or less than the minimum."""

    code = "payout_amount"


class StatementPeriodError(SettlementError, Invalid):
    """A statement period is not a month written YYYY-MM."""

    code = "statement_period_invalid"


class StatementFontMissingError(SettlementError, Unavailable):
    """The font that draws every script in a statement PDF is not installed."""

    code = "statement_font_missing"
