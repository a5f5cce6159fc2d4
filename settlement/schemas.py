"""Settlement request and response bodies; writes refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from settlement.models import PaymentStatus

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
    payment_intent_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    client_secret: str | None
    problem: str | None
    log_index: int | None
    created_at: datetime
    settled_at: datetime | None


class WebhookAnswer(BaseModel):
    event_id: str
    event_type: str
    outcome: str
    duplicate: bool
