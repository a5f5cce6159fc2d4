"""The payment processor behind a small protocol; the real one is Stripe through its library.

`StripeGateway` talks to whatever API base it is given: Stripe itself with real (test or live)
keys, or the local sandbox (`settlement.stripe.sandbox`) that `make run` and the tests start
when no keys are configured. Every failure to reach or be answered by the processor becomes
`ProcessorUnavailableError` (503): the client or Stripe's webhook retries later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import stripe
from stripe.params import PaymentIntentCreateParams

from licensing.money import Money
from registry.errors import CopymarkError
from settlement.errors import MalformedEventError, PaymentRefusedError, ProcessorUnavailableError


@dataclass(frozen=True, slots=True)
class IntentSnapshot:
    """What settlement reads of a PaymentIntent: amounts in minor units, currency upper case."""

    id: str
    status: str
    amount: Money
    grant_id: int | None
    client_secret: str | None

    @classmethod
    def from_object(cls, data: Mapping[str, Any]) -> IntentSnapshot:
        """Read a PaymentIntent as the API or a webhook event carries it."""
        metadata = data.get("metadata") or {}
        grant = metadata.get("grant_id") if isinstance(metadata, Mapping) else None
        secret = data.get("client_secret")
        try:
            amount = Money(data["amount"], str(data["currency"]).upper())
            return cls(
                id=str(data["id"]),
                status=str(data["status"]),
                amount=amount,
                grant_id=int(grant) if isinstance(grant, str) and grant.isdigit() else None,
                client_secret=secret if isinstance(secret, str) else None,
            )
        except (KeyError, CopymarkError) as error:
            raise MalformedEventError(f"the payment intent is malformed: {error}") from None


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement of the processor's balance, for reconciliation."""

    id: str
    type: str
    source: str | None
    amount: Money
    fee: Money


class PaymentGateway(Protocol):
    def create_intent(
        self, amount: Money, grant_id: int, payment_method: str | None, idempotency_key: str
    ) -> IntentSnapshot: ...

    def fee_of(self, intent_id: str, currency: str) -> Money: ...

    def balance_transactions(self) -> list[BalanceTransaction]: ...


class StripeGateway:
    """Stripe through the official library, at `api_base` (Stripe's own when empty)."""

    def __init__(self, api_key: str, api_base: str = "") -> None:
        addresses: Any = {"api": api_base} if api_base else {}
        self._client = stripe.StripeClient(api_key, base_addresses=addresses, max_network_retries=2)

    def create_intent(
        self, amount: Money, grant_id: int, payment_method: str | None, idempotency_key: str
    ) -> IntentSnapshot:
        """Create a PaymentIntent for a grant; with a payment method it is confirmed at once."""
        params: PaymentIntentCreateParams = {
            "amount": amount.amount_minor,
            "currency": amount.currency.lower(),
            "metadata": {"grant_id": str(grant_id)},
        }
        if payment_method is not None:
            params["payment_method"] = payment_method
            params["confirm"] = True
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as error:
            raise PaymentRefusedError(f"the card was refused: {error.user_message}") from None
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(f"the payment processor failed: {error}") from None
        return IntentSnapshot.from_object(intent.to_dict())

    def fee_of(self, intent_id: str, currency: str) -> Money:
        """Return what the processor kept of a succeeded payment (its balance transaction fee)."""
        try:
            intent = self._client.v1.payment_intents.retrieve(intent_id).to_dict()
            charge = intent.get("latest_charge")
            if isinstance(charge, str):
                charge = self._client.v1.charges.retrieve(charge).to_dict()
            transaction_id = charge.get("balance_transaction") if isinstance(charge, dict) else None
            if not isinstance(transaction_id, str):
                return Money.zero(currency)
            transaction = self._client.v1.balance_transactions.retrieve(transaction_id).to_dict()
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(f"the payment processor failed: {error}") from None
        return Money(int(transaction.get("fee") or 0), currency)

    def balance_transactions(self) -> list[BalanceTransaction]:
        """Return every balance transaction the processor holds, oldest first."""
        try:
            page = self._client.v1.balance_transactions.list(params={"limit": 100})
            found = [item.to_dict() for item in page.auto_paging_iter()]
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(f"the payment processor failed: {error}") from None
        return [
            BalanceTransaction(
                id=str(item["id"]),
                type=str(item["type"]),
                source=item.get("source"),
                amount=Money(int(item["amount"]), str(item["currency"]).upper()),
                fee=Money(int(item.get("fee") or 0), str(item["currency"]).upper()),
            )
            for item in reversed(found)
        ]
