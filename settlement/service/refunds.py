"""Refunds: what the processor gave back reverses the paid split in proportion.

Each refund event reports the charge's refunded total; only the part not yet accounted is
posted (so repeated or reordered events post nothing twice), under `refund:<intent>:<total>`,
and appended to the attestation log as a `payment_refunded` leaf committing to what came back,
from whom and what the platform absorbed (`settlement.events`); a `PaymentRefund` row keeps its
index and openings.
Each party gives back its share of that part first from what is still held of its share of the
sale (its work's ownership is disputed: the hold records what it gave back, so the dispute's
outcome moves only the rest, `settlement.service.holds`), then from what it still has payable;
what was already paid out is absorbed by the platform (`settlement.postings.refund_entry`).
The split is the grant's for a grant's payment, and the report's royalties for a paid royalty
invoice. A refund of a grant's whole payment ends the grant
(`licensing.service.grants.refund_grant`); a refunded invoice leaves its retail grant as it is,
and shows as refunded.

The rights holder who published a grant's offer refunds its paid price (`refund_grant_payment`)
and its paid invoices (`refund_invoice`) here, under the same refusals, all made before the
processor is asked: the processor is asked only for a refund that fits what is left, and what it
answers is posted at once as its refund event would post it, so the event posts nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.repository import lock_grant, offer_of_grant, report_rows
from licensing.service.grants import refund_grant
from registry.errors import CopymarkError, Forbidden, NotFound
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_, Param
from registry.models import User, persisted_id, utcnow
from settlement import repository
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.events import PaymentRefundedEvent, refund_openings
from settlement.models import Payment, PaymentRefund, PaymentStatus
from settlement.postings import (
    Share,
    payment_entry_key,
    refund_entry,
    report_entry_key,
    report_shares,
    reversal_of,
    shares_of,
)
from settlement.service.holds import held_of_sale, take_back_refunded
from settlement.service.invoices import paid_price, paid_report
from settlement.service.ledger import payable, post_entry
from settlement.stripe.gateway import RefundGateway


def apply_refund(
    session: Session,
    intent_id: str,
    refunded_total: Money,
    *,
    log: AttestationLog,
    now: datetime | None = None,
) -> Payment:
    """Account for the processor having refunded `refunded_total` of a settled payment: post
    the reversal and append its leaf; a total already accounted changes nothing."""
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
    accounts = [share.account for share in shares if share.account is not None]
    owed = {account: payable(session, account, paid.currency).amount_minor for account in accounts}
    holds = held_of_sale(session, _sale_entry_key(payment), accounts)
    held = {account: row.still_held_minor for account, row in holds.items()}
    reversal = reversal_of(Money(increment, paid.currency), paid, shares, owed, held)
    key = f"refund:{intent_id}:{refunded_total.amount_minor}"
    posted = post_entry(session, refund_entry(key, persisted_id(grant), reversal))
    moment = now or utcnow()
    take_back_refunded(session, holds, reversal, key, moment)
    openings = refund_openings(reversal=reversal, journal_entry_digest=posted.digest)
    (index,) = log.append_events(
        [
            PaymentRefundedEvent(
                grant_id=persisted_id(grant),
                payment_intent_id=intent_id,
                currency=paid.currency,
                journal_entry_key=key,
                commitments=commitments_of(openings),
                refunded_at=moment,
            )
        ]
    )
    payment.refunded_minor = refunded_total.amount_minor
    session.add_all(
        [
            payment,
            PaymentRefund(
                payment_id=persisted_id(payment),
                journal_entry_id=posted.entry_id,
                refunded_total_minor=refunded_total.amount_minor,
                log_index=index,
                log_openings=openings_to_json(openings),
                refunded_at=moment,
            ),
        ]
    )
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


def _sale_entry_key(payment: Payment) -> str:
    """The key of the entry that credited the parties what the payment paid, which their holds
    (if its work was disputed) name: the payment's own, or its report's royalty entry."""
    if payment.sales_report_key is None:
        return payment_entry_key(payment.payment_intent_id)
    return report_entry_key(payment.grant_id, payment.sales_report_key)


@dataclass(frozen=True, slots=True)
class Sale:
    """A settled payment of a grant under one of the publisher's offers, and what is left of it
    to refund: the grant's price (`report_id` None) or one report's invoice."""

    grant_id: int
    work_id: int
    report_id: str | None
    paid: Money
    refunded: Money
    last_refund: PaymentRefund | None

    @property
    def left(self) -> Money:
        return Money(self.paid.amount_minor - self.refunded.amount_minor, self.paid.currency)

    @property
    def state(self) -> str:
        """`refunded` when nothing is left, `partly-refunded` once something was, else `paid`."""
        if not self.left.amount_minor:
            return "refunded"
        return "partly-refunded" if self.refunded.amount_minor else "paid"


def sales_of_publisher(session: Session, publisher: User) -> list[Sale]:
    """What the publisher's offers were paid, newest first, each with its latest refund."""
    rows = repository.published_payments(session, publisher)
    refunds = repository.last_refunds(session, [persisted_id(payment) for payment, _ in rows])
    return [
        Sale(
            grant_id=payment.grant_id,
            work_id=grant.work_id,
            report_id=payment.sales_report_key,
            paid=Money(payment.amount_minor, payment.currency),
            refunded=Money(payment.refunded_minor, payment.currency),
            last_refund=refunds.get(persisted_id(payment)),
        )
        for payment, grant in rows
    ]


def refund_grant_payment(
    session: Session,
    publisher: User,
    grant_id: int,
    amount_minor: int | None,
    *,
    gateway: RefundGateway,
    log: AttestationLog,
) -> Payment:
    """Give a licensee back part (`amount_minor`, in the grant's currency) or all (None) of
    what is left of the grant's paid price; all of it ends the grant."""
    grant = _publishers_grant(session, publisher, grant_id)
    payment = paid_price(session, persisted_id(grant))
    if payment is None:
        raise PaymentStateError(
            N_("license grant %(grant)s is not paid: there is nothing to refund"), grant=grant_id
        )
    _check_refundable(
        payment,
        amount_minor,
        refunded=N_("the payment of license grant %(grant)s is already refunded in full"),
        too_much=N_(
            "only %(left)s of the payment of license grant %(grant)s is left to refund, "
            "not %(asked)s"
        ),
        grant=grant_id,
    )
    return _refund(session, payment, amount_minor, gateway=gateway, log=log)


def refund_invoice(
    session: Session,
    publisher: User,
    grant_id: int,
    report_id: str,
    amount_minor: int | None,
    *,
    gateway: RefundGateway,
    log: AttestationLog,
) -> Payment:
    """Give a licensee back part (`amount_minor`, in the invoice's currency) or all (None) of
    what is left of a paid invoice."""
    _publishers_grant(session, publisher, grant_id)
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
    _check_refundable(
        payment,
        amount_minor,
        refunded=N_("the invoice of report %(report)s is already refunded in full"),
        too_much=N_(
            "only %(left)s of the invoice of report %(report)s is left to refund, not %(asked)s"
        ),
        report=report_id,
    )
    return _refund(session, payment, amount_minor, gateway=gateway, log=log)


def _publishers_grant(session: Session, publisher: User, grant_id: int) -> LicenseGrant:
    """The grant, locked, if `publisher` published its offer: a stranger learns nothing of it
    (404), its licensee is told who refunds (403)."""
    grant = lock_grant(session, grant_id)
    offer = offer_of_grant(session, grant)
    if publisher.id not in (grant.licensee_id, offer.created_by):
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    if publisher.id != offer.created_by:
        raise Forbidden(
            N_(
                "only the rights holder who published the offer of license grant %(grant)s "
                "refunds it and its invoices"
            ),
            grant=grant_id,
        )
    return grant


def _check_refundable(
    payment: Payment,
    amount_minor: int | None,
    *,
    refunded: str,
    too_much: str,
    **subject: Param,
) -> None:
    """Refuse a refund of a payment refunded in full (409), or of more than is left (422)."""
    left = Money(payment.amount_minor - payment.refunded_minor, payment.currency)
    if left.amount_minor <= 0:
        raise PaymentStateError(refunded, **subject)
    wanted = left.amount_minor if amount_minor is None else amount_minor
    if not 0 < wanted <= left.amount_minor:
        raise PaymentMismatchError(
            too_much, left=str(left), asked=_amount(wanted, payment.currency), **subject
        )


def _amount(amount_minor: int, currency: str) -> str:
    try:
        return str(Money(amount_minor, currency))
    except CopymarkError:
        # Beyond what money can hold: said as the number asked.
        return f"{amount_minor} {currency}"


def _refund(
    session: Session,
    payment: Payment,
    amount_minor: int | None,
    *,
    gateway: RefundGateway,
    log: AttestationLog,
) -> Payment:
    """Ask the processor for a checked refund, and post what it answers at once."""
    left = payment.amount_minor - payment.refunded_minor
    wanted = Money(left if amount_minor is None else amount_minor, payment.currency)
    refunded = gateway.refund(
        payment.payment_intent_id,
        wanted,
        idempotency_key=(
            f"copymark-refund-{payment.payment_intent_id}-{payment.refunded_minor}-"
            f"{wanted.amount_minor}"
        ),
    )
    return apply_refund(session, payment.payment_intent_id, refunded, log=log)
