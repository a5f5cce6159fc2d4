"""Processor webhooks: verified, stored once per event id in an inbox, processed once.

Nothing is written for a webhook whose signature fails (`settlement.stripe.signatures`) or whose
body is not a Stripe event. An event id seen before with the same content is answered as
already processed; with other content it is refused (409) and nothing changes. Order does not
matter: a failure reported after a success leaves the payment succeeded, a success after a
failure settles it, and an `account.updated` older than what was last read of the account is
not applied. An event that cannot be applied (an amount that does not match the grant, a
grant that can no longer be activated) is kept with the reason, settles nothing, and is
answered 200 so that the processor stops retrying; an operator refunds it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from licensing.money import Money
from registry.errors import CopymarkError
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import utcnow
from settlement import repository
from settlement.errors import (
    EventConflictError,
    MalformedEventError,
    WebhookDisabledError,
    WebhookTooLargeError,
)
from settlement.models import ProcessorEvent
from settlement.service.payments import refuse_intent, settle_intent
from settlement.service.payouts import apply_account_update
from settlement.service.refunds import apply_refund
from settlement.stripe import signatures
from settlement.stripe.gateway import ConnectedAccountSnapshot, IntentSnapshot

MAX_WEBHOOK_BYTES = 512 * 1024

FeeLookup = Callable[[str, str], Money]
"""Returns the processor's fee on a succeeded intent (`PaymentGateway.fee_of`)."""


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    event_type: str
    outcome: str
    duplicate: bool


def _event_fields(payload: bytes) -> tuple[dict[str, Any], str, str, Mapping[str, Any]]:
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedEventError(N_("the webhook body is not JSON")) from None
    if not isinstance(event, dict):
        raise MalformedEventError(N_("the webhook body is not a Stripe event object"))
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
        raise MalformedEventError(N_("the webhook event has no id"))
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 128:
        raise MalformedEventError(N_("the webhook event has no type"))
    if not isinstance(obj, dict):
        raise MalformedEventError(N_("the webhook event carries no object"))
    return event, event_id, event_type, obj


def receive_webhook(
    session: Session,
    payload: bytes,
    signature: str | None,
    *,
    secret: str,
    fee_of: FeeLookup,
    log: AttestationLog,
    now: int,
) -> WebhookOutcome:
    """Verify a delivery, store its event once, and apply it; see the module docstring."""
    if not secret:
        raise WebhookDisabledError(N_("no webhook secret is configured: webhooks are turned off"))
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise WebhookTooLargeError(
            N_("the webhook body exceeds %(most)s bytes"), most=MAX_WEBHOOK_BYTES
        )
    signatures.verify(payload, signature, secret, now)
    event, event_id, event_type, obj = _event_fields(payload)
    digest = hashlib.sha256(
        json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    stored = repository.event_with_id(session, event_id)
    if stored is not None:
        return _seen_before(stored, digest)
    record = ProcessorEvent(
        event_id=event_id, event_type=event_type, payload_sha256=digest, payload=event
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        # Another delivery of this event committed first.
        stored = repository.event_with_id(session, event_id)
        if stored is None:
            raise
        return _seen_before(stored, digest)
    try:
        with session.begin_nested():
            record.outcome = _apply(
                session, event_type, obj, fee_of=fee_of, log=log, reported_at=_created(event, now)
            )
    except CopymarkError as error:
        record.outcome = f"refused: {error.message}"[:500]
        if event_type == "payment_intent.succeeded":
            refuse_intent(session, IntentSnapshot.from_object(obj), error.message)
    record.processed_at = utcnow()
    session.add(record)
    session.flush()
    return WebhookOutcome(event_id, event_type, record.outcome, duplicate=False)


def _created(event: Mapping[str, Any], now: int) -> datetime:
    """When Stripe created the event (its `created`), or now when it does not say."""
    created = event.get("created")
    moment = created if isinstance(created, int) and 0 < created <= now else now
    return datetime.fromtimestamp(moment, UTC)


def _seen_before(stored: ProcessorEvent, digest: str) -> WebhookOutcome:
    if stored.payload_sha256 != digest:
        raise EventConflictError(
            N_("event %(event)s was already received with other content: refused"),
            event=stored.event_id,
        )
    return WebhookOutcome(stored.event_id, stored.event_type, stored.outcome, duplicate=True)


def _apply(
    session: Session,
    event_type: str,
    obj: Mapping[str, Any],
    *,
    fee_of: FeeLookup,
    log: AttestationLog,
    reported_at: datetime,
) -> str:
    if event_type == "payment_intent.succeeded":
        intent = IntentSnapshot.from_object(obj)
        fee = fee_of(intent.id, intent.amount.currency)
        payment = settle_intent(session, intent, fee=fee, log=log)
        if payment.sales_report_key is not None:
            report = payment.sales_report_key
            return f"settled the invoice of report {report} of grant {payment.grant_id}"
        return f"settled grant {payment.grant_id}"
    if event_type == "payment_intent.payment_failed":
        intent = IntentSnapshot.from_object(obj)
        error = obj.get("last_payment_error")
        reason = error.get("message") if isinstance(error, dict) else None
        refused = refuse_intent(session, intent, str(reason or "the payment failed"))
        return f"payment {intent.id} is {refused.status if refused else 'not ours'}"
    if event_type == "charge.refunded":
        intent_id = obj.get("payment_intent")
        if not isinstance(intent_id, str):
            raise MalformedEventError(N_("the refunded charge names no payment intent"))
        try:
            total = Money(obj["amount_refunded"], str(obj["currency"]).upper())
        except (KeyError, CopymarkError) as error:
            raise MalformedEventError(
                N_("the refunded charge is malformed: %(problem)s"),
                problem=error.wording if isinstance(error, CopymarkError) else str(error),
            ) from None
        refunded = apply_refund(session, intent_id, total, log=log)
        return f"refunded {refunded.refunded_minor} of payment {intent_id}"
    if event_type == "account.updated":
        try:
            snapshot = ConnectedAccountSnapshot.from_object(obj)
        except KeyError:
            raise MalformedEventError(N_("the updated account has no id")) from None
        account = apply_account_update(session, snapshot, reported_at)
        if account is None:
            return (
                f"ignored: account {snapshot.id} is not ours or the event is older than its state"
            )
        if account.payouts_enabled:
            return f"payouts enabled for account {snapshot.id}"
        return f"payouts stopped for account {snapshot.id}: {account.requirements}"
    return "ignored"
