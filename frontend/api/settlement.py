"""Settlement endpoints: pay a grant through the processor, its payments, the Stripe webhook."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from licensing.money import Money
from registry.bounds import RecordId
from registry.log.store import AttestationLog
from settlement.errors import WebhookTooLargeError
from settlement.models import Payment
from settlement.repository import visible_payments
from settlement.schemas import PaymentCreate, PaymentPublic, WebhookAnswer
from settlement.service.payments import start_payment
from settlement.service.webhooks import MAX_WEBHOOK_BYTES, receive_webhook

router = APIRouter(tags=["settlement"])

_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _payment_public(payment: Payment, client_secret: str | None = None) -> PaymentPublic:
    return PaymentPublic.model_validate(
        {**payment.model_dump(), "client_secret": client_secret}, from_attributes=True
    )


@router.post("/grants/{grant_id}/payments", status_code=201)
def pay_grant(
    grant_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    body: PaymentCreate | None = None,
) -> PaymentPublic:
    """Pay your grant awaiting payment; with a payment method it is charged at once."""
    started = start_payment(
        session,
        user,
        grant_id,
        gateway=services.payment_gateway,
        log=AttestationLog(session, services.signer),
        payment_method=body.payment_method if body is not None else None,
    )
    return _payment_public(started.payment, started.client_secret)


@router.get("/grants/{grant_id}/payments")
def payments_of_grant(
    grant_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[PaymentPublic]:
    """The payments of a grant you took or granted."""
    return [_payment_public(payment) for payment in visible_payments(session, user, grant_id)]


@router.post("/stripe/webhook", openapi_extra=_JSON_BODY)
async def stripe_webhook(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    stripe_signature: Annotated[str | None, Header(max_length=2048)] = None,
) -> WebhookAnswer:
    """Stripe's events, signed with the webhook secret; each event id is applied once."""
    payload = b""
    async for chunk in request.stream():
        payload += chunk
        if len(payload) > MAX_WEBHOOK_BYTES:
            raise WebhookTooLargeError(f"the webhook body exceeds {MAX_WEBHOOK_BYTES} bytes")

    def fee_of(intent_id: str, currency: str) -> Money:
        # Read only once an event needs it: with webhooks off, payments need not be configured.
        return services.payment_gateway.fee_of(intent_id, currency)

    outcome = receive_webhook(
        session,
        payload,
        stripe_signature,
        secret=services.settings.stripe_webhook_secret,
        fee_of=fee_of,
        log=AttestationLog(session, services.signer),
        now=int(time.time()),
    )
    return WebhookAnswer(
        event_id=outcome.event_id,
        event_type=outcome.event_type,
        outcome=outcome.outcome,
        duplicate=outcome.duplicate,
    )
