"""The Money page: a party's balances, payout settings, payouts and statements with charts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.charts import earnings_charts
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.headers import policy_with_form_target
from frontend.i18n import format_money, gettext_for, locale_for
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from frontend.services import Services
from licensing.money import Money
from licensing.references import account_reference
from registry.bounds import MAX_RECORD_ID
from registry.errors import CopymarkError
from registry.log.store import AttestationLog
from registry.models import User
from settlement.service import payouts, refunds
from settlement.service.statements import royalty_history, statement_periods, statements_for

router = APIRouter(include_in_schema=False)


@router.get("/money", response_class=HTMLResponse, response_model=None)
def money_page(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    onboarding: str = "",
    notice: str = "",
) -> Response:
    """Balances, payout settings, payouts and statements of the signed-in party, and what the
    offers they published were paid, to refund."""
    if user is None:
        return to_sign_in(request)
    return _money_page(request, user, session, services, onboarding=onboarding, notice=notice)


def _money_page(
    request: Request,
    user: User,
    session: Session,
    services: Services,
    status_code: int = 200,
    *,
    onboarding: str = "",
    notice: str = "",
    refund_error: str = "",
) -> Response:
    reference = account_reference(user)
    locale = locale_for(request)
    account = payouts.connected_account(session, user, services.payment_gateway_if_configured())
    statements = [
        statement
        for period in statement_periods(session, reference)
        for statement in statements_for(session, reference, period)
    ]
    points = [
        (point.period, point.work_title or f"#{point.work_id}", point.currency, point.amount_minor)
        for point in royalty_history(session, reference)
    ]
    balances = payouts.balances(session, user)
    minimum = Money(
        services.payout_policy.minimum_minor, balances[0].currency if balances else "USD"
    )
    answer = render(
        request,
        "money.html",
        user,
        status_code,
        money=Money,
        balances=balances,
        account=account,
        payouts=payouts.payouts_of(session, user),
        statements=statements,
        charts=earnings_charts(points, lambda money: format_money(money, locale)),
        minimum=format_money(minimum, locale),
        payout_period_h=services.settings.payout_period_s / 3600,
        onboarding=onboarding,
        notice=notice,
        sales=refunds.sales_of_publisher(session, user),
        refund_error=refund_error,
    )
    answer.headers["Content-Security-Policy"] = policy_with_form_target(
        _onboarding_origin(services.settings.stripe_api_base)
    )
    return answer


def _onboarding_origin(api_base: str) -> str:
    """Where Stripe's hosted onboarding lives: the sandbox serves it at its API address."""
    if not api_base:
        return "https://connect.stripe.com"
    parts = urlsplit(api_base)
    return f"{parts.scheme}://{parts.netloc}"


@router.post("/money/payout-account", response_model=None)
def connect_payouts(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """Open the payout account if needed and go to Stripe's onboarding (or back when done)."""
    if user is None:
        return to_sign_in(request)
    # Back to the origin the browser came from (the form is same-origin: CSRF and Origin hold).
    page = str(request.url_for("money_page"))
    onboarding = payouts.connect(
        session,
        user,
        gateway=services.payment_gateway,
        refresh_url=f"{page}?onboarding=retry",
        return_url=f"{page}?onboarding=done",
    )
    return RedirectResponse(onboarding.link or "/money?onboarding=done", status_code=303)


@router.post("/money/payouts", response_model=None)
def pay_out_now(user: OptionalUser, session: SessionDep, services: ServicesDep) -> Response:
    """Pay out everything available now, one transfer per sale, in every currency."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    for balance in payouts.balances(session, user):
        if balance.available_minor >= services.payout_policy.minimum_minor:
            payouts.request_payout(
                session,
                user,
                Money(balance.available_minor, balance.currency),
                gateway=services.payment_gateway,
                policy=services.payout_policy,
            )
    return RedirectResponse("/money?notice=payout-requested#payouts", status_code=303)


@router.post("/money/refunds", response_model=None)
def refund_sale(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    grant_id: Annotated[int, Form(ge=1, le=MAX_RECORD_ID)],
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")],
    report_id: Annotated[str, Form(max_length=128)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Refund all that is left of a sale (its price or an invoice), or the amount typed."""
    if user is None:
        return to_sign_in(request)
    log = AttestationLog(session, services.signer)
    try:
        amount_minor = Money.parse(amount, currency).amount_minor if amount.strip() else None
        if report_id:
            refunds.refund_invoice(
                session,
                user,
                grant_id,
                report_id,
                amount_minor,
                gateway=services.payment_gateway,
                log=log,
            )
        else:
            refunds.refund_grant_payment(
                session, user, grant_id, amount_minor, gateway=services.payment_gateway, log=log
            )
    except CopymarkError as error:
        session.rollback()
        return _money_page(
            request,
            user,
            session,
            services,
            error.status_code,
            refund_error=error.translated(gettext_for(request)),
        )
    return RedirectResponse("/money?notice=refunded#sales", status_code=303)
