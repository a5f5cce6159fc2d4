"""Payments for grants: a PaymentIntent per attempt; a succeeded one settles its grant once.

Settling is one transaction: the grant becomes active (a buyout moves the work), the split the
grant agreed is posted to the ledger under the key `payment:<intent id>`, and the settled split
is appended to the attestation log as commitments, whose openings stay on the payment. A second
report of the same success (the synchronous answer, then the webhook, or a webhook delivered
twice) changes nothing. A payment whose amount or currency is not the grant's price settles nothing.
A retroactive licence is paid the same way, by the site a case names through its response link;
its settlement also resolves the case as licensed, in the same transaction. A retail grant's
royalty invoice (one sales report, `settlement.service.invoices`) is paid the same way too; its
settlement clears the licensee's receivable and leaves the grant as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session

from licensing.events import AllocationLine
from licensing.models import GrantStatus, LicenseGrant, SalesReport
from licensing.money import Money
from licensing.repository import (
    lock_grant,
    lock_licensee_grant,
    report_is_replaced,
    report_rows,
)
from licensing.service.grants import activate_grant, expire_unpaid_grants
from licensing.service.retroactive import case_licence, licence_terms
from licensing.wording import in_words
from registry.enforcement.service import (
    CaseLinks,
    case_for_response,
    check_licence_offerable,
    settle_by_licence,
)
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_, Message, Param
from registry.models import User, persisted_id, utcnow
from settlement import repository
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.events import PaymentSettledEvent, settlement_openings
from settlement.models import Payment, PaymentStatus
from settlement.postings import (
    payment_entry,
    payment_entry_key,
    report_entry_key,
    report_shares,
    royalty_payment_entry,
    shares_of,
)
from settlement.service.holds import hold_if_disputed
from settlement.service.ledger import post_entry
from settlement.stripe.gateway import IntentSnapshot, PaymentGateway

# The states Stripe gives a PaymentIntent, as words the catalogs translate.
_INTENT_STATES: Final = {
    "requires_payment_method": N_("requires payment method"),
    "requires_confirmation": N_("requires confirmation"),
    "requires_action": N_("requires action"),
    "processing": N_("processing"),
    "requires_capture": N_("requires capture"),
    "canceled": N_("canceled"),
}


@dataclass(frozen=True, slots=True)
class StartedPayment:
    """A payment asked of the processor, with the secret the brand's browser confirms it with
    (never stored here)."""

    payment: Payment
    client_secret: str | None


def start_payment(
    session: Session,
    licensee: User,
    grant_id: int,
    *,
    gateway: PaymentGateway,
    log: AttestationLog,
    payment_method: str | None = None,
    now: datetime | None = None,
) -> StartedPayment:
    """Ask the processor to collect a grant's price from its licensee.

    Without a payment method the intent waits for the brand to confirm it (its client secret
    goes to the browser); with one it is confirmed at once and, if it succeeds, settles the
    grant in this transaction.
    """
    grant = lock_licensee_grant(session, licensee, grant_id)
    return _start(
        session,
        grant,
        gateway=gateway,
        log=log,
        payment_method=payment_method,
        moment=now or utcnow(),
    )


def start_case_payment(
    session: Session,
    case_id: int,
    token: str,
    *,
    links: CaseLinks,
    gateway: PaymentGateway,
    log: AttestationLog,
    payment_method: str | None = None,
    now: datetime | None = None,
) -> StartedPayment:
    """Collect a case's retroactive licence from the site, reached by the case's response link.

    The token opens this case only; the amount is the licence's price as offered, never one the
    payer names.
    """
    case = case_for_response(session, case_id, token, links)
    check_licence_offerable(case)
    offered = case_licence(session, persisted_id(case))
    if offered is None:
        raise PaymentStateError(
            N_(
                "no retroactive licence has been offered in case %(case)s: answer the notice, or "
                "ask the rights holder for a licence offer"
            ),
            case=case_id,
        )
    grant = lock_grant(session, persisted_id(offered))
    return _start(
        session,
        grant,
        gateway=gateway,
        log=log,
        payment_method=payment_method,
        moment=now or utcnow(),
    )


def _start(
    session: Session,
    grant: LicenseGrant,
    *,
    gateway: PaymentGateway,
    log: AttestationLog,
    payment_method: str | None,
    moment: datetime,
) -> StartedPayment:
    grant_id = persisted_id(grant)
    expire_unpaid_grants(session, moment, work_id=grant.work_id)
    if grant.status != GrantStatus.PENDING_PAYMENT:
        raise PaymentStateError(
            N_("license grant %(grant)s is %(status)s: only a grant awaiting payment is paid"),
            grant=grant_id,
            status=in_words(grant.status),
        )
    if grant.gross_minor <= 0:
        raise PaymentStateError(
            N_("license grant %(grant)s costs nothing: there is nothing to pay"), grant=grant_id
        )
    attempt = len(repository.payments_of_grant(session, grant_id)) + 1
    intent = gateway.create_intent(
        Money(grant.gross_minor, grant.currency),
        grant_id,
        payment_method,
        idempotency_key=f"copymark-grant-{grant_id}-attempt-{attempt}",
    )
    return record_intent(session, intent, grant_id, gateway=gateway, log=log, moment=moment)


def record_intent(
    session: Session,
    intent: IntentSnapshot,
    grant_id: int,
    *,
    gateway: PaymentGateway,
    log: AttestationLog,
    moment: datetime,
    sales_report_key: str | None = None,
) -> StartedPayment:
    """Record an intent just created as the grant's (or a report's) payment, and settle it in
    this transaction if the processor already says it succeeded."""
    payment = Payment(
        grant_id=grant_id,
        sales_report_key=sales_report_key,
        payment_intent_id=intent.id,
        amount_minor=intent.amount.amount_minor,
        currency=intent.amount.currency,
        created_at=moment,
    )
    session.add(payment)
    session.flush()
    if intent.status == "succeeded":
        fee = gateway.fee_of(intent.id, intent.amount.currency)
        payment = settle_intent(session, intent, fee=fee, log=log, now=moment)
    return StartedPayment(payment, intent.client_secret)


def settle_intent(
    session: Session,
    intent: IntentSnapshot,
    *,
    fee: Money,
    log: AttestationLog,
    now: datetime | None = None,
) -> Payment:
    """Settle the grant a succeeded PaymentIntent paid for; a second call changes nothing.

    Refuses (422) an intent whose amount or currency is not the grant's price, and (409) one
    that is not ours or whose grant can no longer be activated.
    """
    payment = repository.payment_with_intent(session, intent.id)
    if payment is None:
        raise PaymentStateError(
            N_("payment %(payment)s was not started by this platform"), payment=intent.id
        )
    if payment.status == PaymentStatus.SUCCEEDED:
        return payment
    if intent.status != "succeeded":
        raise PaymentStateError(
            N_("payment %(payment)s is %(status)s, not succeeded"),
            payment=intent.id,
            status=_intent_state(intent.status),
        )
    grant = session.get(LicenseGrant, payment.grant_id)
    if grant is None:
        raise PaymentStateError(N_("payment %(payment)s names no grant"), payment=intent.id)
    if payment.sales_report_key is not None:
        return _settle_invoice(
            session, payment, grant, intent, fee=fee, log=log, moment=now or utcnow()
        )
    price = Money(grant.gross_minor, grant.currency)
    if intent.amount != price or intent.grant_id != payment.grant_id:
        raise PaymentMismatchError(
            N_(
                "payment %(payment)s of %(amount)s does not match license grant %(grant)s's "
                "price of %(price)s: nothing is settled"
            ),
            payment=intent.id,
            amount=str(intent.amount),
            grant=str(grant.id),
            price=str(price),
        )
    moment = now or utcnow()
    activate_grant(session, persisted_id(grant), now=moment)
    draft = payment_entry(
        payment_entry_key(intent.id),
        persisted_id(grant),
        intent.amount,
        shares_of(grant.execution),
        fee,
    )
    posted = post_entry(session, draft)
    hold_if_disputed(session, grant.work_id, draft.external_key, shares_of(grant.execution))
    openings = settlement_openings(
        gross_minor=intent.amount.amount_minor,
        fee_minor=fee.amount_minor,
        allocations=[
            AllocationLine(line["party"], int(line["amount_minor"]), line["rule"])
            for line in grant.execution["allocations"]
        ],
        journal_entry_digest=posted.digest,
    )
    (index,) = log.append_events(
        [
            PaymentSettledEvent(
                grant_id=persisted_id(grant),
                work_id=grant.work_id,
                sale_type=grant.sale_type,
                payment_intent_id=intent.id,
                currency=intent.amount.currency,
                journal_entry_key=draft.external_key,
                commitments=commitments_of(openings),
                settled_at=moment,
            )
        ]
    )
    grant.activation_log_index = index
    if grant.case_id is not None:
        settle_by_licence(session, grant.case_id, licence_terms(session, grant), log)
    payment.status = PaymentStatus.SUCCEEDED
    payment.settled_at = moment
    payment.journal_entry_id = posted.entry_id
    payment.log_index = index
    payment.log_openings = openings_to_json(openings)
    session.add_all([grant, payment])
    session.flush()
    return payment


def _intent_state(status: str) -> Param:
    word = _INTENT_STATES.get(status)
    return status if word is None else Message(word)


def invoice_allocations(rows: Sequence[SalesReport]) -> list[AllocationLine]:
    """What a sales report's royalties owe each party (its invoice), summed over its lines.

    Lines going back to the licensee (recoupment of an advance) are owed by no one.
    """
    owed: dict[str, int] = {}
    for row in rows:
        for line in row.execution["allocations"]:
            if isinstance(line.get("account"), str) and line["amount_minor"]:
                owed[line["party"]] = owed.get(line["party"], 0) + int(line["amount_minor"])
    return [AllocationLine(party, amount, "royalties") for party, amount in sorted(owed.items())]


def _settle_invoice(
    session: Session,
    payment: Payment,
    grant: LicenseGrant,
    intent: IntentSnapshot,
    *,
    fee: Money,
    log: AttestationLog,
    moment: datetime,
) -> Payment:
    """Settle a paid royalty invoice: the receivable the report posted is now cash.

    The payment must be for the report's royalties exactly, in the grant's currency; a report
    corrected since the payment started settles nothing (its invoice was replaced).
    """
    grant_id = persisted_id(grant)
    report_id = payment.sales_report_key or ""
    if report_is_replaced(session, grant_id, report_id):
        raise PaymentStateError(
            N_(
                "report %(report)s was corrected after its invoice was sent: pay the "
                "correction's invoice instead; this payment will be refunded"
            ),
            report=report_id,
        )
    rows = report_rows(session, grant_id, report_id)
    allocations = invoice_allocations(rows)
    owed = Money(sum(line.amount_minor for line in allocations), grant.currency)
    if intent.amount != owed or intent.grant_id != grant_id:
        raise PaymentMismatchError(
            N_(
                "payment %(payment)s of %(amount)s does not match the invoice of report "
                "%(report)s for %(owed)s: nothing is settled"
            ),
            payment=intent.id,
            amount=str(intent.amount),
            report=report_id,
            owed=str(owed),
        )
    draft = royalty_payment_entry(payment_entry_key(intent.id), grant_id, intent.amount, fee)
    posted = post_entry(session, draft)
    # Royalties reported before a dispute was opened were not held then; once paid during it they
    # could be paid out, so they are held now, under the report's own key (held once, whichever
    # comes first).
    hold_if_disputed(
        session,
        grant.work_id,
        report_entry_key(grant_id, report_id),
        report_shares((row.execution for row in rows), grant.currency),
    )
    openings = settlement_openings(
        gross_minor=owed.amount_minor,
        fee_minor=fee.amount_minor,
        allocations=allocations,
        journal_entry_digest=posted.digest,
    )
    (index,) = log.append_events(
        [
            PaymentSettledEvent(
                grant_id=grant_id,
                work_id=grant.work_id,
                sale_type=grant.sale_type,
                payment_intent_id=intent.id,
                currency=intent.amount.currency,
                journal_entry_key=draft.external_key,
                commitments=commitments_of(openings),
                settled_at=moment,
            )
        ]
    )
    payment.status = PaymentStatus.SUCCEEDED
    payment.settled_at = moment
    payment.journal_entry_id = posted.entry_id
    payment.log_index = index
    payment.log_openings = openings_to_json(openings)
    session.add(payment)
    session.flush()
    return payment


def activation_openings(session: Session, grant: LicenseGrant) -> dict[str, Any] | None:
    """The openings of the leaf that made a grant active, for its parties' certificate.

    A paid grant was activated by its settled payment's leaf, a free one by its own.
    """
    if grant.activation_log_index is None or grant.activation_log_index == grant.log_index:
        return grant.log_openings
    payment = repository.payment_logged_at(session, persisted_id(grant), grant.activation_log_index)
    return payment.log_openings if payment is not None else None


def refuse_intent(session: Session, intent: IntentSnapshot, reason: str) -> Payment | None:
    """Record that a payment failed; a payment that already succeeded stays succeeded."""
    payment = repository.payment_with_intent(session, intent.id)
    if payment is None or payment.status == PaymentStatus.SUCCEEDED:
        return payment
    payment.status = PaymentStatus.REFUSED
    payment.problem = reason[:500]
    session.add(payment)
    session.flush()
    return payment
