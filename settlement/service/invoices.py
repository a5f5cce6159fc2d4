"""Royalty invoices: each sales report under a retail grant is invoiced to its licensee and paid
like a grant's price, through a PaymentIntent whose success (reported at once or by the signed
webhook) settles it once.

An invoice is a report's royalties owed by the licensee: the sum of its lines' allocations to
the parties (recoupment of an advance goes back to the licensee and is owed by no one). The
report's posting already made the parties' payables owed (see `settlement.service.royalties`);
the payment turns the licensee's receivable into cash at the processor
(`settlement.postings.royalty_payment_entry`) and appends a `payment_settled` leaf. An invoice
is paid at most once; a report corrected by a later one is no longer payable (its correction's
invoice is), and a paid report cannot be corrected. Once paid, the parties' shares are cash
that payouts transfer (`settlement.service.payouts`); a refund gives part or all of it back
(`settlement.service.refunds`), and an invoice refunded in full shows as refunded, its
`payment_settled` leaf staying in the log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from licensing.models import LicenseGrant, SalesReport
from licensing.money import Money
from licensing.repository import lock_licensee_grant, report_lines_of_grant
from registry.errors import NotFound
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import User, persisted_id, utcnow
from settlement import repository
from settlement.errors import PaymentStateError
from settlement.models import Payment, PaymentStatus
from settlement.service.payments import StartedPayment, invoice_allocations, record_intent
from settlement.stripe.gateway import PaymentGateway


class InvoiceStatus(StrEnum):
    OPEN = "open"  # owed, not yet paid
    PAID = "paid"
    CORRECTED = "corrected"  # replaced by a correction, whose invoice is owed instead
    REFUNDED = "refunded"  # paid, then given back in full


@dataclass(frozen=True, slots=True)
class Invoice:
    """One sales report's royalties, owed by the grant's licensee."""

    grant_id: int
    report_id: str
    corrects_report_id: str | None
    lines: int
    amount: Money
    reported_at: datetime
    status: InvoiceStatus
    payment: Payment | None


def _invoice(
    grant: LicenseGrant, rows: list[SalesReport], replaced: set[str], paid: Payment | None
) -> Invoice:
    report_id = rows[0].report_key
    if paid is not None:
        refunded = paid.refunded_minor >= paid.amount_minor
        status = InvoiceStatus.REFUNDED if refunded else InvoiceStatus.PAID
    elif report_id in replaced:
        status = InvoiceStatus.CORRECTED
    else:
        status = InvoiceStatus.OPEN
    owed = sum(line.amount_minor for line in invoice_allocations(rows))
    return Invoice(
        grant_id=persisted_id(grant),
        report_id=report_id,
        corrects_report_id=rows[0].corrects_report_key,
        lines=len(rows),
        amount=Money(owed, grant.currency),
        reported_at=min(row.reported_at for row in rows),
        status=status,
        payment=paid,
    )


def _licensee_grant(session: Session, licensee: User, grant_id: int) -> LicenseGrant:
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or grant.licensee_id != licensee.id:
        raise NotFound(f"license grant {grant_id} not found")
    return grant


def invoices_of_grant(session: Session, licensee: User, grant_id: int) -> list[Invoice]:
    """The invoices of the licensee's own retail grant, oldest report first."""
    grant = _licensee_grant(session, licensee, grant_id)
    return _invoices(session, grant)


def _invoices(session: Session, grant: LicenseGrant) -> list[Invoice]:
    grant_id = persisted_id(grant)
    reports: dict[str, list[SalesReport]] = defaultdict(list)
    for row in report_lines_of_grant(session, grant_id):
        reports[row.report_key].append(row)
    replaced = {
        rows[0].corrects_report_key for rows in reports.values() if rows[0].corrects_report_key
    }
    paid = {
        payment.sales_report_key: payment
        for payment in repository.payments_of_grant(session, grant_id)
        if payment.sales_report_key is not None and payment.status == PaymentStatus.SUCCEEDED
    }
    return [
        _invoice(grant, rows, replaced, paid.get(report_id))
        for report_id, rows in sorted(reports.items(), key=lambda item: item[1][0].id or 0)
    ]


def invoice_of(session: Session, licensee: User, grant_id: int, report_id: str) -> Invoice:
    """One invoice of the licensee's own grant; any other report or grant is not found."""
    return _invoice_of_report(invoices_of_grant(session, licensee, grant_id), grant_id, report_id)


def _invoice_of_report(invoices: list[Invoice], grant_id: int, report_id: str) -> Invoice:
    for invoice in invoices:
        if invoice.report_id == report_id:
            return invoice
    raise NotFound(f"report {report_id[:140]} of license grant {grant_id} not found")


def start_invoice_payment(
    session: Session,
    licensee: User,
    grant_id: int,
    report_id: str,
    *,
    gateway: PaymentGateway,
    log: AttestationLog,
    payment_method: str | None = None,
    now: datetime | None = None,
) -> StartedPayment:
    """Ask the processor to collect a report's royalties from the grant's licensee.

    The amount is always the invoice's, never one the payer names. Without a payment method
    the intent waits for the browser to confirm it; with one it is confirmed at once and, if it
    succeeds, settles the invoice in this transaction.
    """
    grant = lock_licensee_grant(session, licensee, grant_id)
    invoice = _invoice_of_report(_invoices(session, grant), grant_id, report_id)
    if invoice.status == InvoiceStatus.PAID:
        raise PaymentStateError(f"the invoice of report {report_id} is already paid")
    if invoice.status == InvoiceStatus.REFUNDED:
        raise PaymentStateError(
            N_(
                "the invoice of report %(report)s was paid and refunded in full: report the "
                "sales again as a new report to invoice them"
            ),
            report=report_id,
        )
    if invoice.status == InvoiceStatus.CORRECTED:
        raise PaymentStateError(
            f"report {report_id} was corrected by a later report: pay the correction's invoice"
        )
    if invoice.amount.amount_minor <= 0:
        raise PaymentStateError(f"report {report_id} owes no royalties: there is nothing to pay")
    attempt = 1 + sum(
        1
        for payment in repository.payments_of_grant(session, grant_id)
        if payment.sales_report_key == report_id
    )
    intent = gateway.create_intent(
        invoice.amount,
        grant_id,
        payment_method,
        idempotency_key=f"copymark-invoice-{grant_id}-{report_id}-attempt-{attempt}",
    )
    return record_intent(
        session,
        intent,
        grant_id,
        gateway=gateway,
        log=log,
        moment=now or utcnow(),
        sales_report_key=report_id,
    )


def paid_price(session: Session, grant_id: int) -> Payment | None:
    """The succeeded payment of a grant's own price (not of an invoice), if it was paid."""
    return next(
        (
            payment
            for payment in repository.payments_of_grant(session, grant_id)
            if payment.sales_report_key is None and payment.status == PaymentStatus.SUCCEEDED
        ),
        None,
    )


def paid_report(session: Session, grant_id: int, report_id: str) -> Payment | None:
    """The succeeded payment of a report's invoice, if it was paid."""
    return next(
        (
            payment
            for payment in repository.payments_of_grant(session, grant_id)
            if payment.sales_report_key == report_id and payment.status == PaymentStatus.SUCCEEDED
        ),
        None,
    )
