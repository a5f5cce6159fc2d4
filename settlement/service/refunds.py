"""Refunds: what the processor gave back reverses the paid split in proportion.

Each refund event reports the charge's refunded total; only the part not yet accounted is
posted (so repeated or reordered events post nothing twice), under `refund:<intent>:<total>`.
Each party gives back its share of that part from what it still has payable; what was already
paid out is absorbed by the platform (`settlement.postings.refund_entry`). The split is the
grant's for a grant's payment, and the report's royalties for a paid royalty invoice. A refund of
a grant's whole payment ends the grant (`licensing.service.grants.refund_grant`); a refunded
invoice leaves its retail grant as it is, and shows as refunded.

The rights holder who published a grant's offer refunds its paid invoices here
(`refund_invoice`): the processor is asked only for a refund that fits what is left, and what it
answers is posted at once as its refund event would post it, so the event posts nothing more.
"""

from __future__ import annotations

from sqlmodel import Session

from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.repository import lock_grant, offer_of_grant, report_rows
from licensing.service.grants import refund_grant
from registry.errors import Forbidden, NotFound
from registry.messages import N_
from registry.models import User, persisted_id
from settlement import repository
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.models import Payment, PaymentStatus
from settlement.postings import Share, refund_entry, report_shares, shares_of
from settlement.service.invoices import paid_report
from settlement.service.ledger import payable, post_entry
from settlement.stripe.gateway import RefundGateway


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
    increment = refunded_total.amount_minor - payment.refunded_minor
    if increment <= 0:
        return payment
    grant = session.get(LicenseGrant, payment.grant_id)
    if grant is None:
        raise PaymentStateError(f"payment {intent_id} names no grant")
    shares = _split_paid(session, grant, payment)
    owed = {
        share.account: payable(session, share.account, paid.currency).amount_minor
        for share in shares
        if share.account is not None
    }
    post_entry(
        session,
        refund_entry(
            f"refund:{intent_id}:{refunded_total.amount_minor}",
            persisted_id(grant),
            refunded=Money(increment, paid.currency),
            paid=paid,
            shares=shares,
            payable=owed,
        ),
    )
    payment.refunded_minor = refunded_total.amount_minor
    session.add(payment)
    session.flush()
    if payment.refunded_minor == paid.amount_minor and payment.sales_report_key is None:
        refund_grant(session, payment.grant_id)
    return payment


def _split_paid(session: Session, grant: LicenseGrant, payment: Payment) -> list[Share]:
    """The split a payment paid: the grant's, or its report's royalties summed per account.

    A report's lines that go back to the licensee (recoupment) were not invoiced, so not paid.
    """
    if payment.sales_report_key is None:
        return shares_of(grant.execution)
    rows = report_rows(session, payment.grant_id, payment.sales_report_key)
    return report_shares((row.execution for row in rows), payment.currency)


def refund_invoice(
    session: Session,
    publisher: User,
    grant_id: int,
    report_id: str,
    amount_minor: int | None,
    *,
    gateway: RefundGateway,
) -> Payment:
    """Give a licensee back part (`amount_minor`, in the invoice's currency) or all (None) of
    what is left of a paid invoice."""
    grant = lock_grant(session, grant_id)
    offer = offer_of_grant(session, grant)
    if publisher.id not in (grant.licensee_id, offer.created_by):
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    if publisher.id != offer.created_by:
        raise Forbidden(
            N_(
                "only the rights holder who published the offer of license grant %(grant)s "
                "refunds its invoices"
            ),
            grant=grant_id,
        )
    payment = paid_report(session, grant_id, report_id)
    if payment is None:
        if not report_rows(session, grant_id, report_id):
            raise NotFound(
                N_("report %(report)s of license grant %(grant)s not found"),
                report=report_id[:140],
                grant=grant_id,
            )
        raise PaymentStateError(
            N_("the invoice of report %(report)s is not paid: there is nothing to refund"),
            report=report_id,
        )
    left = Money(payment.amount_minor - payment.refunded_minor, payment.currency)
    if left.amount_minor <= 0:
        raise PaymentStateError(
            N_("the invoice of report %(report)s is already refunded in full"), report=report_id
        )
    wanted = left if amount_minor is None else Money(amount_minor, payment.currency)
    if not 0 < wanted.amount_minor <= left.amount_minor:
        raise PaymentMismatchError(
            N_(
                "only %(left)s of the invoice of report %(report)s is left to refund, not %(asked)s"
            ),
            left=str(left),
            report=report_id,
            asked=str(wanted),
        )
    refunded = gateway.refund(
        payment.payment_intent_id,
        wanted,
        idempotency_key=(
            f"copymark-refund-{payment.payment_intent_id}-{payment.refunded_minor}-"
            f"{wanted.amount_minor}"
        ),
    )
    return apply_refund(session, payment.payment_intent_id, refunded)
