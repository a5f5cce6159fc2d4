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
from stripe.params import PaymentIntentCreateParams, TransferCreateParams

from licensing.money import Money
from registry.errors import CopymarkError
from registry.messages import N_
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
            raise MalformedEventError(
                N_("the payment intent is malformed: %(problem)s"),
                problem=error.wording if isinstance(error, CopymarkError) else str(error),
            ) from None


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement of the processor's balance, for reconciliation."""

    id: str
    type: str
    source: str | None
    amount: Money
    fee: Money


@dataclass(frozen=True, slots=True)
class ConnectedAccountSnapshot:
    """What settlement reads of a Connect account: may it receive transfers, and if not, why."""

    id: str
    payouts_enabled: bool
    details_submitted: bool
    requirements: str

    @classmethod
    def from_object(cls, data: Mapping[str, Any]) -> ConnectedAccountSnapshot:
        capabilities = data.get("capabilities") or {}
        requirements = data.get("requirements") or {}
        due = requirements.get("currently_due") or []
        reason = requirements.get("disabled_reason")
        transfers_active = capabilities.get("transfers") == "active"
        missing = ", ".join(str(item) for item in due[:8])
        words = ""
        if not transfers_active or not data.get("payouts_enabled"):
            words = f"Stripe needs {missing}" if missing else "Stripe has not enabled payouts yet"
            if reason:
                words += f" ({reason})"
        return cls(
            id=str(data["id"]),
            payouts_enabled=bool(data.get("payouts_enabled")) and transfers_active,
            details_submitted=bool(data.get("details_submitted")),
            requirements=words[:500],
        )


class TransferRefusedError(Exception):
    """The processor refused a transfer; `reason` says why in its words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentGateway(Protocol):
    def create_intent(
        self, amount: Money, grant_id: int, payment_method: str | None, idempotency_key: str
    ) -> IntentSnapshot: ...

    def fee_of(self, intent_id: str, currency: str) -> Money: ...

    def balance_transactions(self) -> list[BalanceTransaction]: ...

    def card_method(self, card: SandboxCard) -> str: ...

    def create_connected_account(
        self, email: str, account_reference: str, idempotency_key: str
    ) -> ConnectedAccountSnapshot: ...

    def connected_account(self, account_id: str) -> ConnectedAccountSnapshot: ...

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str: ...

    def charge_of(self, intent_id: str) -> str | None: ...

    def create_transfer(
        self,
        amount: Money,
        destination: str,
        *,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> str: ...


class RefundGateway(Protocol):
    """A processor that gives back part of a succeeded payment when the platform asks."""

    def refund(self, intent_id: str, amount: Money, idempotency_key: str) -> Money: ...


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """A card typed into the sandbox's card form. Real Stripe takes card numbers only through
    Stripe.js in the payer's browser, so only the sandbox is ever given one."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str


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
            raise PaymentRefusedError(
                N_("the card was refused: %(reason)s"), reason=str(error.user_message)
            ) from None
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
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
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return Money(int(transaction.get("fee") or 0), currency)

    def card_method(self, card: SandboxCard) -> str:
        """Turn a sandbox test card into a PaymentMethod id (`pm_…`), as Stripe.js would."""
        try:
            method = self._client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {
                        "number": card.number,
                        "exp_month": card.exp_month,
                        "exp_year": card.exp_year,
                        "cvc": card.cvc,
                    },
                }
            )
        except stripe.CardError as error:
            raise PaymentRefusedError(
                N_("the card was refused: %(reason)s"), reason=str(error.user_message)
            ) from None
        except stripe.InvalidRequestError as error:
            raise PaymentRefusedError(
                N_("the card was refused: %(reason)s"), reason=str(error.user_message)
            ) from None
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return str(method.id)

    def balance_transactions(self) -> list[BalanceTransaction]:
        """Return every balance transaction the processor holds, oldest first."""
        try:
            page = self._client.v1.balance_transactions.list(params={"limit": 100})
            found = [item.to_dict() for item in page.auto_paging_iter()]
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
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

    def create_connected_account(
        self, email: str, account_reference: str, idempotency_key: str
    ) -> ConnectedAccountSnapshot:
        """Open an Express account for a party; it receives nothing until onboarded."""
        try:
            account = self._client.v1.accounts.create(
                params={
                    "type": "express",
                    "email": email,
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"account_reference": account_reference},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return ConnectedAccountSnapshot.from_object(account.to_dict())

    def connected_account(self, account_id: str) -> ConnectedAccountSnapshot:
        """Read what Stripe now says a connected account may receive."""
        try:
            account = self._client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return ConnectedAccountSnapshot.from_object(account.to_dict())

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        """A single-use link to Stripe's onboarding for this account."""
        try:
            link = self._client.v1.account_links.create(
                params={
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                }
            )
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return str(link.url)

    def charge_of(self, intent_id: str) -> str | None:
        """The charge that collected a PaymentIntent: the source of its transfers."""
        try:
            intent = self._client.v1.payment_intents.retrieve(intent_id).to_dict()
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        charge = intent.get("latest_charge")
        if isinstance(charge, dict):
            charge = charge.get("id")
        return charge if isinstance(charge, str) else None

    def refund(self, intent_id: str, amount: Money, idempotency_key: str) -> Money:
        """Refund part of a succeeded payment; answers what its charge has refunded in all."""
        try:
            refund = self._client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount.amount_minor},
                options={"idempotency_key": idempotency_key},
            ).to_dict()
            charge = refund.get("charge")
            if isinstance(charge, str):
                charge = self._client.v1.charges.retrieve(charge).to_dict()
            if not isinstance(charge, dict):
                raise ProcessorUnavailableError(
                    N_("the payment processor failed: %(reason)s"),
                    reason=f"refund {refund.get('id')} names no charge",
                )
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return Money(int(charge.get("amount_refunded") or 0), amount.currency)

    def create_transfer(
        self,
        amount: Money,
        destination: str,
        *,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> str:
        """Transfer to a connected account; a refusal raises `TransferRefusedError` with why."""
        params: TransferCreateParams = {
            "amount": amount.amount_minor,
            "currency": amount.currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
        }
        if source_transaction is not None:
            params["source_transaction"] = source_transaction
        try:
            transfer = self._client.v1.transfers.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            raise TransferRefusedError(str(error.user_message or error)) from None
        except stripe.StripeError as error:
            raise ProcessorUnavailableError(
                N_("the payment processor failed: %(reason)s"), reason=str(error)
            ) from None
        return str(transfer.id)
