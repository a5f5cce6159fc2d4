"""Settlement endpoints: pay a grant, its payments, the Stripe webhook; payouts and balances."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from licensing.money import Money
from licensing.references import account_reference
from licensing.service.sales import REPORT_ID_PATTERN
from registry.bounds import RecordId
from registry.log.store import AttestationLog
from settlement.errors import WebhookTooLargeError
from settlement.models import ConnectedAccount, Payment, Payout
from settlement.repository import visible_payments
from settlement.schemas import (
    BalancePublic,
    InvoicePublic,
    PaymentCreate,
    PaymentPublic,
    PayoutAccountPublic,
    PayoutPublic,
    PayoutRequest,
    RefundCreate,
    StatementLinePublic,
    StatementPeriodText,
    StatementPublic,
    WebhookAnswer,
)
from settlement.service import invoices, payouts, refunds
from settlement.service.invoices import Invoice
from settlement.service.payments import start_payment
from settlement.service.statements import statement_periods, statements_for
from settlement.service.webhooks import MAX_WEBHOOK_BYTES, receive_webhook
from settlement.statements import Period, Statement, to_csv, to_pdf

router = APIRouter(tags=["settlement"])

_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def payment_public(payment: Payment, client_secret: str | None = None) -> PaymentPublic:
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
    return payment_public(started.payment, started.client_secret)


@router.get("/grants/{grant_id}/payments")
def payments_of_grant(
    grant_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[PaymentPublic]:
    """The payments of a grant you took or granted."""
    return [payment_public(payment) for payment in visible_payments(session, user, grant_id)]


ReportIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=REPORT_ID_PATTERN.pattern)]


def invoice_public(invoice: Invoice) -> InvoicePublic:
    payment = invoice.payment
    return InvoicePublic(
        grant_id=invoice.grant_id,
        report_id=invoice.report_id,
        corrects=invoice.corrects_report_id,
        lines=invoice.lines,
        amount_minor=invoice.amount.amount_minor,
        currency=invoice.amount.currency,
        reported_at=invoice.reported_at,
        status=invoice.status,
        payment_id=payment.id if payment is not None else None,
        log_index=payment.log_index if payment is not None else None,
        refunded_minor=payment.refunded_minor if payment is not None else 0,
        pay_url=f"/api/v1/grants/{invoice.grant_id}/invoices/{invoice.report_id}/payments",
        refund_url=f"/api/v1/grants/{invoice.grant_id}/invoices/{invoice.report_id}/refunds",
    )


@router.get("/grants/{grant_id}/invoices")
def invoices_of_grant(
    grant_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[InvoicePublic]:
    """The royalty invoices of your retail grant: one per sales report, with its state."""
    return [
        invoice_public(invoice) for invoice in invoices.invoices_of_grant(session, user, grant_id)
    ]


@router.post("/grants/{grant_id}/invoices/{report_id}/payments", status_code=201)
def pay_invoice(
    grant_id: RecordId,
    report_id: ReportIdPath,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    body: PaymentCreate | None = None,
) -> PaymentPublic:
    """Pay a sales report's royalties; with a payment method it is charged at once."""
    started = invoices.start_invoice_payment(
        session,
        user,
        grant_id,
        report_id,
        gateway=services.payment_gateway,
        log=AttestationLog(session, services.signer),
        payment_method=body.payment_method if body is not None else None,
    )
    return payment_public(started.payment, started.client_secret)


@router.post("/grants/{grant_id}/refunds", status_code=201)
def refund_grant_payment(
    grant_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    body: RefundCreate | None = None,
) -> PaymentPublic:
    """Refund the paid price of a grant under an offer you published: all that is left (which
    ends the grant), or part."""
    refunded = refunds.refund_grant_payment(
        session,
        user,
        grant_id,
        body.amount_minor if body is not None else None,
        gateway=services.payment_gateway,
        log=AttestationLog(session, services.signer),
    )
    return payment_public(refunded)


@router.post("/grants/{grant_id}/invoices/{report_id}/refunds", status_code=201)
def refund_invoice(
    grant_id: RecordId,
    report_id: ReportIdPath,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    body: RefundCreate | None = None,
) -> PaymentPublic:
    """Refund a paid royalty invoice of an offer you published: all that is left, or part."""
    refunded = refunds.refund_invoice(
        session,
        user,
        grant_id,
        report_id,
        body.amount_minor if body is not None else None,
        gateway=services.payment_gateway,
        log=AttestationLog(session, services.signer),
    )
    return payment_public(refunded)


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


def _account_public(
    account: ConnectedAccount | None, onboarding_url: str | None = None
) -> PayoutAccountPublic:
    if account is None:
        return PayoutAccountPublic(
            connected=False,
            stripe_account_id=None,
            payouts_enabled=False,
            details_submitted=False,
            requirements="Connect a payout account to be paid; until then your earnings accrue.",
            onboarding_url=None,
        )
    return PayoutAccountPublic(
        connected=True,
        stripe_account_id=account.stripe_account_id,
        payouts_enabled=account.payouts_enabled,
        details_submitted=account.details_submitted,
        requirements=account.requirements,
        onboarding_url=onboarding_url,
    )


def _payout_public(payout: Payout) -> PayoutPublic:
    return PayoutPublic.model_validate(payout, from_attributes=True)


@router.post("/me/payout-account")
def connect_payout_account(
    user: CurrentUser, session: SessionDep, services: ServicesDep
) -> PayoutAccountPublic:
    """Open your Stripe Express payout account (once); answers the onboarding link while due."""
    base = services.settings.base_url.rstrip("/")
    onboarding = payouts.connect(
        session,
        user,
        gateway=services.payment_gateway,
        refresh_url=f"{base}/money?onboarding=retry",
        return_url=f"{base}/money?onboarding=done",
    )
    return _account_public(onboarding.account, onboarding.link)


@router.get("/me/payout-account")
def payout_account(
    user: CurrentUser, session: SessionDep, services: ServicesDep
) -> PayoutAccountPublic:
    """Your payout account as Stripe now sees it, or that you have none yet."""
    gateway = services.payment_gateway_if_configured()
    return _account_public(payouts.connected_account(session, user, gateway))


@router.get("/me/balances")
def my_balances(user: CurrentUser, session: SessionDep) -> list[BalancePublic]:
    """Your money per currency: available, pending (in transfer or not yet collected), held."""
    return [
        BalancePublic(
            currency=balance.currency,
            available_minor=balance.available_minor,
            pending_minor=balance.pending_minor,
            in_transfer_minor=balance.in_transfer_minor,
            awaiting_collection_minor=balance.awaiting_collection_minor,
            held_minor=balance.held_minor,
            held_reasons=[reason.english() for reason in balance.held_reasons],
            paid_out_minor=balance.paid_out_minor,
        )
        for balance in payouts.balances(session, user)
    ]


@router.get("/me/payouts")
def my_payouts(user: CurrentUser, session: SessionDep) -> list[PayoutPublic]:
    """Your payouts, newest first, each with its state and, when it failed, why and what to do."""
    return [_payout_public(payout) for payout in payouts.payouts_of(session, user)]


@router.post("/me/payouts", status_code=201)
def request_payout(
    body: PayoutRequest, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> list[PayoutPublic]:
    """Pay out now (one transfer per sale) up to the amount, from what is available."""
    planned = payouts.request_payout(
        session,
        user,
        Money(body.amount_minor, body.currency),
        gateway=services.payment_gateway,
        policy=services.payout_policy,
    )
    return [_payout_public(payout) for payout in planned]


def _statement_public(statement: Statement) -> StatementPublic:
    return StatementPublic(
        period=str(statement.period),
        currency=statement.currency,
        opening_minor=statement.opening_minor,
        earned_minor=statement.earned_minor,
        paid_out_minor=statement.paid_out_minor,
        closing_minor=statement.closing_minor,
        lines=[
            StatementLinePublic.model_validate(line, from_attributes=True)
            for line in statement.lines
        ],
    )


@router.get("/me/statements")
def my_statement_periods(user: CurrentUser, session: SessionDep) -> list[StatementPublic]:
    """Your statements, newest month first (each currency's totals; lines at the month's URL)."""
    reference = account_reference(user)
    return [
        _statement_public(statement).model_copy(update={"lines": []})
        for period in statement_periods(session, reference)
        for statement in statements_for(session, reference, period)
    ]


@router.get("/me/statements/{period}")
def my_statement(
    period: StatementPeriodText, user: CurrentUser, session: SessionDep
) -> list[StatementPublic]:
    """Your statement for a month (YYYY-MM): every sale, fee, split formula and log index."""
    statements = statements_for(session, account_reference(user), Period.parse(period))
    return [_statement_public(statement) for statement in statements]


_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


@router.get("/me/statements/{period}/csv", response_class=Response, responses=_CSV)
def my_statement_csv(
    period: StatementPeriodText, user: CurrentUser, session: SessionDep
) -> Response:
    """Your statement for a month as CSV (amounts in minor units)."""
    statements = statements_for(session, account_reference(user), Period.parse(period))
    return Response(
        to_csv(statements),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{period}.csv"'},
    )


@router.get("/me/statements/{period}/pdf", response_class=Response, responses=_PDF)
def my_statement_pdf(
    period: StatementPeriodText, user: CurrentUser, session: SessionDep
) -> Response:
    """Your statement for a month as PDF."""
    reference = account_reference(user)
    month = Period.parse(period)
    document = to_pdf(
        statements_for(session, reference, month),
        party=reference,
        period=month,
        title=f"Statement {month}",
    )
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{period}.pdf"'},
    )
