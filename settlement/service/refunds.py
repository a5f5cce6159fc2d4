"""Refunds: what the processor gave back reverses the grant's split in proportion.

Each refund event reports the charge's refunded total; only the part not yet accounted is
posted (so repeated or reordered events post nothing twice), under `refund:<intent>:<total>`.
Each party gives back its share of that part from what it still has payable; what was already
paid out is absorbed by the platform (`settlement.postings.refund_entry`). A refund of the whole
payment ends the grant (`licensing.service.grants.refund_grant`).
"""

from __future__ import annotations

from sqlmodel import Session

from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.service.grants import refund_grant
from settlement import repository
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.models import Payment, PaymentStatus
from settlement.postings import refund_entry, shares_of
from settlement.service.ledger import payable, post_entry


def apply_refund(session: Session, intent_id: str, refunded_total: Money) -> Payment:
    """Account for the processor having refunded `refunded_total` of a settled payment."""
    payment = repository.payment_with_intent(session, intent_id)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentStateError(f"payment {intent_id} was not settled here: nothing to refund")
    paid = Money(payment.amount_minor, payment.currency)
    if refunded_total.currency != paid.currency or refunded_total.amount_minor > paid.amount_minor:
        raise PaymentMismatchError(
            f"a refund of {refunded_total} does not fit payment {intent_id} of {paid}"
        )
    if payment.sales_report_key is not None:
        raise PaymentStateError(
            f"payment {intent_id} paid the royalty invoice of report {payment.sales_report_key}: "
            "its refund is not posted automatically; an operator accounts for it"
        )
    increment = refunded_total.amount_minor - payment.refunded_minor
    if increment <= 0:
        return payment
    grant = session.get(LicenseGrant, payment.grant_id)
    if grant is None:
        raise PaymentStateError(f"payment {intent_id} names no grant")
    shares = shares_of(grant.execution)
    owed = {
        share.account: payable(session, share.account, paid.currency).amount_minor
        for share in shares
        if share.account is not None
    }
    post_entry(
        session,
        refund_entry(
            f"refund:{intent_id}:{refunded_total.amount_minor}",
            grant.id or 0,
            refunded=Money(increment, paid.currency),
            paid=paid,
            shares=shares,
            payable=owed,
        ),
    )
    payment.refunded_minor = refunded_total.amount_minor
    session.add(payment)
    session.flush()
    if payment.refunded_minor == paid.amount_minor:
        refund_grant(session, payment.grant_id)
    return payment
