"""The brand's pages: the marketplace, landing by role, checkout, and *My licenses*.

Checkout takes the licence (a grant awaiting payment, which reserves a buyout for its payment
window), then pays it with the card form the payment processor serves: Stripe.js from Stripe, or
the sandbox's stand-in from its own loopback address. Only the payment page loads that script,
so only its Content-Security-Policy names the processor's origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from frontend.deps import OptionalUser, ReadSessionDep, ServicesDep, SessionDep
from frontend.headers import CONTENT_SECURITY_POLICY
from frontend.i18n import gettext_for
from frontend.pages.paging import page_links
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from licensing.certificates import LicenceCertificateView, render_licence_pdf
from licensing.contract import parse_contract_data
from licensing.errors import LicensingError, MarketQueryError
from licensing.models import GrantStatus, LicenseGrant, LicenseOffer, OfferStatus
from licensing.money import Money
from licensing.reports import MAX_CSV_BYTES, parse_sales_csv, sales_csv_problems
from licensing.repository import (
    active_version,
    certified_grant,
    counted_rows,
    licensee_grants,
    live_buyout_grant,
    offer_of_grant,
    visible_offer,
)
from licensing.service.grants import take_license
from licensing.service.market import (
    MAX_PAGE,
    MarketQuery,
    MarketSort,
    search_market,
)
from licensing.service.offers import grant_terms, offers_with_terms
from licensing.service.sales import submit_sales_report
from licensing.terms import OfferTerms, terms_of
from registry.bounds import RecordId
from registry.certificates import issue_certificate
from registry.errors import Conflict, CopymarkError, NotFound
from registry.log.store import AttestationLog
from registry.messages import Message
from registry.models import Role, User, Work, persisted_id
from settlement.service.invoices import (
    Invoice,
    InvoiceStatus,
    invoice_of,
    invoices_of_grant,
    start_invoice_payment,
)
from settlement.service.payments import activation_openings, start_payment
from settlement.service.royalties import post_royalties
from settlement.stripe.sandbox import SANDBOX_PUBLISHABLE_KEY

router = APIRouter(include_in_schema=False)

STRIPE_JS: Final = "https://js.stripe.com/v3/"
# Stripe.js runs from js.stripe.com and tokenises cards by calling api.stripe.com.
STRIPE_ORIGINS: Final = "https://js.stripe.com https://api.stripe.com"
# A card tokenised in the browser: a PaymentMethod (pm_…) or a card object (card_…) from a token.
PAYMENT_METHOD: Final = re.compile(r"^(pm|card)_[A-Za-z0-9_]{1,250}$")
MAX_TEXT: Final = 200
MAX_TAG: Final = 64


@router.get("/", response_class=HTMLResponse)
def marketplace(
    request: Request,
    user: OptionalUser,
    session: ReadSessionDep,
    q: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    tags: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    type: Annotated[str, Query(max_length=16)] = "",
    min_price: Annotated[str, Query(max_length=32)] = "",
    max_price: Annotated[str, Query(max_length=32)] = "",
    ai: Annotated[str, Query(max_length=8)] = "",
    sort: Annotated[str, Query(max_length=16)] = MarketSort.NEWEST.value,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    """Published works by text, tags and offer terms; anyone may browse, brands land here."""
    form = {
        "q": q,
        "tags": tags,
        "type": type,
        "min_price": min_price,
        "max_price": max_price,
        "ai": ai,
        "sort": sort,
    }
    try:
        query = MarketQuery(
            text=q,
            tags=tuple(tag.strip() for tag in tags.split(",") if tag.strip()),
            sale_type=type or None,
            min_price=_price(min_price, "lowest price"),
            max_price=_price(max_price, "highest price"),
            ai_training_allowed=bool(ai),
            sort=_sort(sort),
            page=page,
        )
        if any(len(tag) > MAX_TAG for tag in query.tags):
            raise MarketQueryError(f"a tag has at most {MAX_TAG} characters")
    except MarketQueryError as error:
        return render(
            request,
            "home.html",
            user,
            400,
            error=error.translated(gettext_for(request)),
            result=None,
            form=form,
        )
    result = search_market(session, query)
    return render(
        request,
        "home.html",
        user,
        result=result,
        form=form,
        pages=page_links(request, result.page, result.pages),
    )


def _price(text: str, what: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise MarketQueryError(f"the {what} must be a number, like 25 or 12.50") from None


def _sort(text: str) -> MarketSort:
    try:
        return MarketSort(text or MarketSort.NEWEST.value)
    except ValueError:
        raise MarketQueryError(f"there is no sort order {text!r}") from None


@router.get("/landing")
def landing(user: OptionalUser) -> RedirectResponse:
    """Where signing in leads: brands to the marketplace, rights holders to their alerts,
    designers to their works."""
    return RedirectResponse(landing_for(user), status_code=303)


def landing_for(user: User | None) -> str:
    if user is None or user.has_role(Role.BRAND) or user.has_role(Role.ADMIN):
        return "/"
    if user.has_role(Role.RIGHTS_HOLDER) and not user.has_role(Role.CREATOR):
        return "/alerts"
    return "/works"


@dataclass(frozen=True, slots=True)
class Checkout:
    """An offer as checkout shows it, with why it cannot be taken now, if it cannot."""

    offer: LicenseOffer
    work: Work
    terms: OfferTerms
    refusal: str | None


def _checkout(session: Session, user: User | None, offer_id: int, request: Request) -> Checkout:
    _ = gettext_for(request)
    offer = visible_offer(session, user, offer_id)
    work = session.get(Work, offer.work_id)
    pairs = offers_with_terms(session, user, offer.work_id)
    terms = next((terms for listed, terms in pairs if listed.id == offer.id), None)
    if work is None:
        raise NotFound(f"offer {offer_id} not found")
    if terms is None:
        # A withdrawn or closed offer still shows what it sold, from the work's active contract.
        terms = _withdrawn_terms(session, offer)
    refusal = None
    live = live_buyout_grant(session, offer.work_id)
    if offer.status == OfferStatus.WITHDRAWN:
        refusal = _("The rights holder withdrew this offer: it takes no new licences.")
    elif offer.status != OfferStatus.OPEN or (
        live is not None and live.status == GrantStatus.ACTIVE
    ):
        refusal = _("This work was bought out exclusively: it takes no new licences.")
    elif (
        live is not None
        and offer.sale_type == "buyout"
        and (user is None or live.licensee_id != user.id)
    ):
        refusal = _(
            "Another brand reserved this work for a buyout and is paying for it now; "
            "it is released if unpaid within 30 minutes."
        )
    elif user is None:
        refusal = _("Sign in with a brand account to license this work.")
    elif not user.has_role(Role.BRAND):
        refusal = _("Only brand accounts take licences; this account is not a brand.")
    elif work.owner_id == user.id:
        refusal = _("You own this work: there is nothing to license.")
    return Checkout(offer, work, terms, refusal)


def _withdrawn_terms(session: Session, offer: LicenseOffer) -> OfferTerms:
    version = active_version(session, offer.work_id)
    if version is None:
        raise NotFound(f"offer {offer.id} not found")
    return terms_of(parse_contract_data(version.document), offer.sale_type, offer.package)


@router.get("/offers/{offer_id}/checkout", response_class=HTMLResponse)
def checkout_page(
    offer_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> HTMLResponse:
    """The terms, price and total of an offer before taking it, or why it cannot be taken."""
    checkout = _checkout(session, user, offer_id, request)
    status = 409 if checkout.refusal and user is not None else 200
    return render(request, "checkout.html", user, status, checkout=checkout, error=None)


@router.post("/offers/{offer_id}/checkout", response_model=None)
def take_offer(
    offer_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    units: Annotated[int, Form(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Take the licence: retail is active at once; wholesale and buyout go on to payment."""
    checkout = _checkout(session, user, offer_id, request)
    if user is None or checkout.refusal is not None:
        status = 401 if user is None else 409
        return render(request, "checkout.html", user, status, checkout=checkout, error=None)
    try:
        grant, _execution = take_license(
            session, user, offer_id, AttestationLog(session, services.signer), units
        )
    except (Conflict, LicensingError) as error:
        session.rollback()
        return render(
            request,
            "checkout.html",
            user,
            error.status_code,
            checkout=_checkout(session, user, offer_id, request),
            error=error.translated(gettext_for(request)),
        )
    grant_id = persisted_id(grant)
    target = (
        f"/licenses/{grant_id}"
        if grant.status == GrantStatus.ACTIVE
        else f"/licenses/{grant_id}/pay"
    )
    return RedirectResponse(target, status_code=303)


def _licensee_grant(session: Session, user: User | None, grant_id: int) -> LicenseGrant:
    grant = session.get(LicenseGrant, grant_id)
    if user is None or grant is None or grant.licensee_id != user.id:
        raise NotFound(f"licence {grant_id} not found")
    return grant


@dataclass(frozen=True, slots=True)
class CardForm:
    """Where the card form comes from: its script, the origins it runs and calls, its key."""

    script: str
    origins: str
    publishable_key: str


def _card_form(services: ServicesDep) -> CardForm:
    base = services.settings.stripe_api_base
    if base:
        # The sandbox serves its stand-in Stripe.js and its API from one loopback origin.
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        key = services.settings.stripe_publishable_key or SANDBOX_PUBLISHABLE_KEY
        return CardForm(f"{origin}/js.stripe.com/v3/", origin, key)
    return CardForm(STRIPE_JS, STRIPE_ORIGINS, services.settings.stripe_publishable_key)


def payment_policy(origins: str) -> str:
    """The site's policy, with the processor's origins added for scripts, calls and frames."""
    directives = [
        f"{directive} {origins}"
        if directive.split(" ", 1)[0] in ("script-src", "connect-src")
        else directive
        for directive in CONTENT_SECURITY_POLICY.split("; ")
    ]
    directives.append(f"frame-src {origins}")
    return "; ".join(directives)


def _pay_page(
    request: Request,
    user: User,
    session: Session,
    services: ServicesDep,
    grant: LicenseGrant,
    status: int = 200,
    error: str | None = None,
) -> Response:
    return _card_page(
        request,
        "pay.html",
        user,
        services,
        status,
        grant=grant,
        work=session.get(Work, grant.work_id),
        terms=grant_terms(session, grant),
        total=Money(grant.gross_minor, grant.currency),
        error=error,
    )


def _card_page(
    request: Request,
    template: str,
    user: User,
    services: ServicesDep,
    status: int,
    **context: Any,
) -> Response:
    """A page with the processor's card form: its script and key, and a policy that lets it in."""
    card_form = _card_form(services)
    page = render(
        request,
        template,
        user,
        status,
        stripe_script=card_form.script,
        publishable_key=card_form.publishable_key,
        **context,
    )
    page.headers["Content-Security-Policy"] = payment_policy(card_form.origins)
    return page


@router.get("/licenses/{grant_id}/pay", response_model=None)
def pay_page(
    grant_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """The card form for a licence awaiting payment; a paid one shows the licence instead."""
    if user is None:
        return to_sign_in(request)
    grant = _licensee_grant(session, user, grant_id)
    if grant.status != GrantStatus.PENDING_PAYMENT:
        return RedirectResponse(f"/licenses/{grant_id}", status_code=303)
    return _pay_page(request, user, session, services, grant)


@router.post("/licenses/{grant_id}/pay", response_model=None)
def pay(
    grant_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    payment_method: Annotated[str, Form(max_length=260)] = "",
) -> Response:
    """Charge the tokenised card; the licence is active once the processor says it is paid."""
    if user is None:
        return to_sign_in(request)
    grant = _licensee_grant(session, user, grant_id)
    _ = gettext_for(request)
    if not PAYMENT_METHOD.match(payment_method):
        return _pay_page(
            request,
            user,
            session,
            services,
            grant,
            400,
            _("The card form sent no card: fill in the card's number, expiry and CVC, then pay."),
        )
    try:
        start_payment(
            session,
            user,
            grant_id,
            gateway=services.payment_gateway,
            log=AttestationLog(session, services.signer),
            payment_method=payment_method,
        )
    except CopymarkError as error:
        session.rollback()
        grant = _licensee_grant(session, user, grant_id)
        if grant.status != GrantStatus.PENDING_PAYMENT:
            return RedirectResponse(f"/licenses/{grant_id}", status_code=303)
        problem = error.translated(gettext_for(request))
        return _pay_page(request, user, session, services, grant, error.status_code, problem)
    return RedirectResponse(f"/licenses/{grant_id}", status_code=303)


def _invoice_pay_page(
    request: Request,
    user: User,
    session: Session,
    services: ServicesDep,
    invoice: Invoice,
    status: int = 200,
    error: str | None = None,
) -> Response:
    grant = _licensee_grant(session, user, invoice.grant_id)
    return _card_page(
        request,
        "invoice_pay.html",
        user,
        services,
        status,
        grant=grant,
        title=_title(session, grant.work_id),
        invoice=invoice,
        error=error,
    )


@router.get("/licenses/{grant_id}/invoices/{report_id}/pay", response_model=None)
def invoice_pay_page(
    grant_id: RecordId,
    report_id: Annotated[str, Path(max_length=128)],
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """The card form for a sales report's royalties; a paid invoice shows the licence instead."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    invoice = invoice_of(session, user, grant_id, report_id)
    if invoice.status != InvoiceStatus.OPEN:
        return RedirectResponse(f"/licenses/{grant_id}", status_code=303)
    return _invoice_pay_page(request, user, session, services, invoice)


@router.post("/licenses/{grant_id}/invoices/{report_id}/pay", response_model=None)
def pay_invoice(
    grant_id: RecordId,
    report_id: Annotated[str, Path(max_length=128)],
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    payment_method: Annotated[str, Form(max_length=260)] = "",
) -> Response:
    """Charge the tokenised card for the report's royalties, always the invoice's amount."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    invoice = invoice_of(session, user, grant_id, report_id)
    _ = gettext_for(request)
    if not PAYMENT_METHOD.match(payment_method):
        message = _(
            "The card form sent no card: fill in the card's number, expiry and CVC, then pay."
        )
        return _invoice_pay_page(request, user, session, services, invoice, 400, message)
    try:
        start_invoice_payment(
            session,
            user,
            grant_id,
            report_id,
            gateway=services.payment_gateway,
            log=AttestationLog(session, services.signer),
            payment_method=payment_method,
        )
    except CopymarkError as error:
        session.rollback()
        invoice = invoice_of(session, user, grant_id, report_id)
        if invoice.status != InvoiceStatus.OPEN:
            return RedirectResponse(f"/licenses/{grant_id}", status_code=303)
        return _invoice_pay_page(
            request, user, session, services, invoice, error.status_code, error.message
        )
    return RedirectResponse(f"/licenses/{grant_id}", status_code=303)


@router.get("/licenses", response_model=None)
def my_licenses(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    """Every licence the account took, with its state and certificate."""
    if user is None:
        return to_sign_in(request)
    grants = licensee_grants(session, user)
    titles = {grant.work_id: _title(session, grant.work_id) for grant in grants}
    return render(request, "licenses.html", user, grants=grants, titles=titles, money=Money)


def _title(session: Session, work_id: int) -> str:
    work = session.get(Work, work_id)
    return work.title if work is not None else f"#{work_id}"


@dataclass(frozen=True, slots=True)
class ReportFeedback:
    """What a sales-report upload gave: the lines stored, or each line's problem."""

    report_id: str
    problems: list[Message]
    lines: int
    royalties: Money | None


def _licence_page(
    request: Request,
    user: User,
    session: Session,
    grant: LicenseGrant,
    status: int = 200,
    feedback: ReportFeedback | None = None,
) -> Response:
    retail = grant.sale_type == "retail"
    rows = counted_rows(session, persisted_id(grant)) if retail else []
    invoice = Money(sum(row.gross_minor for row in rows), grant.currency) if rows else None
    invoices = invoices_of_grant(session, user, persisted_id(grant)) if retail else []
    return render(
        request,
        "license.html",
        user,
        status,
        grant=grant,
        title=_title(session, grant.work_id),
        terms=grant_terms(session, grant),
        offer=offer_of_grant(session, grant),
        rows=rows,
        invoice=invoice,
        invoices=invoices,
        feedback=feedback,
        money=Money,
    )


@router.get("/licenses/{grant_id}", response_model=None)
def licence_page(
    grant_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """One licence: its state, terms, certificate and, for retail, its sales reports."""
    if user is None:
        return to_sign_in(request)
    return _licence_page(request, user, session, _licensee_grant(session, user, grant_id))


@router.post("/licenses/{grant_id}/sales-reports", response_model=None)
async def upload_sales_report(
    grant_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    report_id: Annotated[str, Form(min_length=1, max_length=128)],
    report: Annotated[UploadFile, File(description="the sales report as CSV")],
) -> Response:
    """A retail sales report as CSV: stored whole, or refused line by line in words."""
    if user is None:
        return to_sign_in(request)
    data = await report.read(MAX_CSV_BYTES + 1)

    def submit() -> Response:
        grant = _licensee_grant(session, user, grant_id)
        problems = sales_csv_problems(data, grant.currency)
        if problems:
            feedback = ReportFeedback(report_id, problems, 0, None)
            return _licence_page(request, user, session, grant, 422, feedback)
        try:
            outcome = submit_sales_report(
                session,
                user,
                grant_id,
                report_id=report_id,
                lines=parse_sales_csv(data.decode("utf-8"), grant.currency),
                log=AttestationLog(session, services.signer),
            )
            post_royalties(session, outcome)
        except CopymarkError as error:
            session.rollback()
            feedback = ReportFeedback(report_id, [error.wording], 0, None)
            grant = _licensee_grant(session, user, grant_id)
            return _licence_page(request, user, session, grant, error.status_code, feedback)
        feedback = ReportFeedback(report_id, [], len(outcome.rows), outcome.royalties)
        return _licence_page(request, user, session, grant, 201, feedback)

    return await run_in_threadpool(submit)


@router.get("/licenses/{grant_id}/certificate.pdf")
def licence_pdf(
    grant_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """The licence certificate as a PDF for its licensee, naming the leaf that proves it."""
    if user is None:
        raise NotFound(f"licence {grant_id} not found")
    _licensee_grant(session, user, grant_id)
    grant, index = certified_grant(session, grant_id)
    certificate = issue_certificate(
        AttestationLog(session, services.signer),
        index,
        openings=activation_openings(session, grant),
    )
    view = LicenceCertificateView(
        grant=grant,
        work_title=_title(session, grant.work_id),
        licensee=user.display_name,
        terms=grant_terms(session, grant),
        certificate=certificate,
        json_url=f"{services.settings.base_url.rstrip('/')}/api/v1/grants/{grant_id}/certificate",
    )
    return Response(
        render_licence_pdf(view),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="copymark-licence-{grant_id}.pdf"'},
    )
