"""Reconciliation: the ledger's Stripe clearing account against the processor's own balance.

For each currency, what the ledger says is held at the processor (payments received, less the
processor's fees, refunds and what was transferred to parties' connected accounts) must equal
the net of the processor's balance transactions (charges less fees, refunds, transfers). A
difference names money the ledger missed or invented.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session

from settlement import repository
from settlement.ledger import PartyAccount, PlatformAccount, platform_account
from settlement.stripe.gateway import PaymentGateway


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One currency's comparison; `matched` when the two sides agree to the minor unit."""

    currency: str
    ledger_minor: int
    processor_minor: int
    difference_minor: int
    processor_transactions: int

    @property
    def matched(self) -> bool:
        return self.difference_minor == 0


def reconcile(session: Session, gateway: PaymentGateway) -> list[Reconciliation]:
    """Compare the clearing account's balance with the processor's, per currency."""
    clearing = platform_account(PlatformAccount.STRIPE_CLEARING)
    ledger: dict[str, int] = defaultdict(int)
    for (code, currency), amount in repository.balances(session, clearing).items():
        if code == clearing:
            ledger[currency] += amount
    # A payout left the processor's balance: the parties' paid-out accounts carry it (credits).
    for (code, currency), amount in repository.balances(session, "party:").items():
        if code.endswith(f":{PartyAccount.PAID_OUT.value}"):
            ledger[currency] += amount
    processor: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for transaction in gateway.balance_transactions():
        currency = transaction.amount.currency
        processor[currency] += transaction.amount.amount_minor - transaction.fee.amount_minor
        counts[currency] += 1
    return [
        Reconciliation(
            currency=currency,
            ledger_minor=ledger.get(currency, 0),
            processor_minor=processor.get(currency, 0),
            difference_minor=processor.get(currency, 0) - ledger.get(currency, 0),
            processor_transactions=counts.get(currency, 0),
        )
        for currency in sorted(set(ledger) | set(processor))
    ]
