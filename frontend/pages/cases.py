"""Case pages: the owner's cases and report, one case's timeline and actions, the legal profile,
and the public response page an accused party reaches from the notice's link."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.charts import cases_chart
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from frontend.services import Services
from licensing.models import GrantStatus, LicenseGrant
from licensing.money import Money
from licensing.service.contracts import active_contract
from licensing.service.retroactive import (
    case_licence,
    case_work,
    money_recovered,
    offer_retroactive_licence,
    standard_price,
)
from registry.enforcement import repository
from registry.enforcement.contacts import discover_contacts
from registry.enforcement.models import Case, CaseState, NoticeForm
from registry.enforcement.schemas import (
    CounterNoticeSubmission,
    LegalProfileUpdate,
    LicenceClaim,
)
from registry.enforcement.service import (
    case_for_response,
    case_report,
    claim_licence,
    counter_notice,
    legal_profile,
    next_states,
    open_case,
    response_alert,
    save_legal_profile,
    send_notice,
    transition,
)
from registry.errors import CopymarkError, NotFound
from registry.log.store import AttestationLog
from registry.models import Work, persisted_id
from registry.monitoring.evidence import SIDE_BY_SIDE_NAME
from settlement.service.payments import start_case_payment
from settlement.stripe.gateway import SandboxCard
from settlement.stripe.sandbox import SANDBOX_API_KEY

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse, response_model=None)
def cases_page(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    """The owner's cases, newest first, with the report by state and the money recovered."""
    if user is None:
        return to_sign_in(request)
    report = case_report(session, user)
    return render(
        request,
        "cases.html",
        user,
        cases=repository.owned_cases(session, user),
        report=report,
        chart=cases_chart(
            [(month.month, month.opened, month.resolved) for month in report.by_month]
        ),
        recovered=money_recovered(session, user),
        states=list(CaseState),
    )


@router.post("/cases", response_model=None)
def open_case_form(
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    alert_id: Annotated[list[int], Form()],
) -> Response:
    """Open a case from confirmed alerts, then show it."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    case = open_case(session, user, alert_id, services.signer)
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse, response_model=None)
def case_page(
    case_id: int,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    lookup: bool = False,
) -> Response:
    """A case: its copies, timeline, deadline, and the notice and transition forms."""
    if user is None:
        return to_sign_in(request)
    case = repository.owned_case(session, user, case_id)
    alerts = repository.alerts_of(session, case)
    search = (
        asyncio.run(discover_contacts(alerts[0].page_url, services.contact_guard()))
        if lookup and alerts
        else None
    )
    return render(
        request,
        "case.html",
        user,
        case=case,
        alerts=[(alert, session.get(Work, alert.work_id)) for alert in alerts],
        events=repository.events_of(session, case),
        next_states=next_states(case),
        search=search,
        profile=legal_profile(session, user),
        forms=list(NoticeForm),
        suggested_price=_suggested_price(session, case),
        **_licence_context(case_licence(session, persisted_id(case))),
    )


def _licence_context(licence: LicenseGrant | None) -> dict[str, Any]:
    """The licence, its price and its split as money the template formats."""
    if licence is None:
        return {"licence": None, "licence_price": None, "licence_split": []}
    return {
        "licence": licence,
        "licence_price": Money(licence.gross_minor, licence.currency),
        "licence_split": [
            (line["party"], line["rule"], Money(int(line["amount_minor"]), licence.currency))
            for line in licence.execution["allocations"]
        ],
    }


def _suggested_price(session: Session, case: Case) -> Money | None:
    """The price a licence form starts from: the work's standard price, when there is one."""
    try:
        work = case_work(session, case)
        return standard_price(session, persisted_id(work))
    except CopymarkError:
        return None


@router.post("/cases/{case_id}/licence-offers", response_model=None)
def offer_licence_form(
    case_id: int,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    price: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Offer the site a retroactive licence at the price typed, or the work's standard price."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    amount = None
    if price.strip():
        work = case_work(session, repository.owned_case(session, user, case_id))
        _, contract = active_contract(session, persisted_id(work))
        amount = Money.parse(price.strip(), contract.currency)
    offer_retroactive_licence(
        session, user, case_id, AttestationLog(session, services.signer), price=amount
    )
    return RedirectResponse(f"/cases/{case_id}#licence", status_code=303)


@router.post("/cases/{case_id}/notices", response_model=None)
def send_notice_form(
    case_id: int,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    recipients: Annotated[str, Form()] = "",
    form: Annotated[NoticeForm, Form()] = NoticeForm.DMCA,
    resend: Annotated[bool, Form()] = False,
) -> Response:
    """Send (or, confirmed, resend) the notice to the addresses typed, one per line or comma."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    addresses = [part.strip() for part in recipients.replace(",", "\n").splitlines()]
    send_notice(
        session,
        user,
        case_id,
        recipients=[address for address in addresses if address],
        form=form,
        resend=resend,
        signer=services.signer,
        mailer=services.mailer(),
        links=services.case_links,
    )
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/transitions", response_model=None)
def transition_form(
    case_id: int,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    state: Annotated[CaseState, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    transition(session, user, case_id, state, signer=services.signer, note=note)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/profile/legal", response_class=HTMLResponse, response_model=None)
def legal_profile_page(
    request: Request, user: OptionalUser, session: SessionDep, case: int | None = None
) -> Response:
    """Who signs the notices: legal name, postal address, contact email, phone."""
    if user is None:
        return to_sign_in(request)
    return render(
        request, "legal_profile.html", user, profile=legal_profile(session, user), back_to=case
    )


@router.post("/profile/legal", response_model=None)
def legal_profile_form(
    user: OptionalUser,
    session: SessionDep,
    legal_name: Annotated[str, Form(max_length=200)],
    postal_address: Annotated[str, Form(max_length=1000)],
    contact_email: Annotated[str, Form(max_length=320)],
    phone: Annotated[str, Form(max_length=50)] = "",
    back_to: Annotated[int | None, Form()] = None,
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    save_legal_profile(
        session,
        user,
        LegalProfileUpdate(
            legal_name=legal_name,
            postal_address=postal_address,
            contact_email=contact_email,
            phone=phone,
        ),
    )
    target = f"/cases/{back_to}" if back_to is not None else "/profile/legal"
    return RedirectResponse(target, status_code=303)


# ---- the public response page --------------------------------------------------------------


@router.get("/respond/{case_id}/{token}", response_class=HTMLResponse)
def response_page(
    case_id: int, token: str, request: Request, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """What the accused party sees: the evidence, and the counter-notice and licence forms."""
    case = case_for_response(session, case_id, token, services.case_links)
    alerts = repository.alerts_of(session, case)
    licence = case_licence(session, persisted_id(case))
    response = render(
        request,
        "respond.html",
        None,
        case=case,
        token=token,
        alerts=[(alert, session.get(Work, alert.work_id)) for alert in alerts],
        answerable=case.state == CaseState.NOTICE_SENT,
        **_licence_context(licence),
        payable=licence is not None
        and licence.status in (GrantStatus.PENDING_PAYMENT, GrantStatus.EXPIRED)
        and case.state in (CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED),
        card_form=services.settings.stripe_api_key == SANDBOX_API_KEY,
    )
    # The token is in the address: keep it out of Referer headers and shared caches.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/respond/{case_id}/{token}/evidence/{alert_id}.zip")
def response_evidence(
    case_id: int, token: str, alert_id: int, session: SessionDep, services: ServicesDep
) -> Response:
    """The evidence bundle of one copy in the case; `copymark verify` checks it offline."""
    alert = response_alert(session, case_id, token, alert_id, services.case_links)
    return Response(
        _bundle(services, alert.evidence_sha256, alert_id),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{alert_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/respond/{case_id}/{token}/side-by-side/{alert_id}.png")
def response_side_by_side(
    case_id: int, token: str, alert_id: int, session: SessionDep, services: ServicesDep
) -> Response:
    alert = response_alert(session, case_id, token, alert_id, services.case_links)
    with zipfile.ZipFile(io.BytesIO(_bundle(services, alert.evidence_sha256, alert_id))) as bundle:
        picture = bundle.read(SIDE_BY_SIDE_NAME)
    return Response(picture, media_type="image/png", headers={"Cache-Control": "no-store"})


def _bundle(services: Services, digest: str, alert_id: int) -> bytes:
    try:
        return services.evidence_blobs.get(digest)
    except KeyError:
        raise NotFound(f"the evidence of copy {alert_id} is missing from storage") from None


@router.post("/respond/{case_id}/{token}/counter-notice", response_model=None)
def counter_notice_form(
    case_id: int,
    token: str,
    session: SessionDep,
    services: ServicesDep,
    material: Annotated[str, Form(max_length=5000)],
    name: Annotated[str, Form(max_length=200)],
    address: Annotated[str, Form(max_length=1000)],
    email: Annotated[str, Form(max_length=320)],
    signature: Annotated[str, Form(max_length=200)],
    phone: Annotated[str, Form(max_length=50)] = "",
    good_faith_statement: Annotated[bool, Form()] = False,
    jurisdiction_consent: Annotated[bool, Form()] = False,
) -> Response:
    counter_notice(
        session,
        case_id,
        token,
        submission=CounterNoticeSubmission(
            material=material,
            good_faith_statement=good_faith_statement,
            jurisdiction_consent=jurisdiction_consent,
            name=name,
            address=address,
            email=email,
            phone=phone,
            signature=signature,
        ),
        signer=services.signer,
        links=services.case_links,
    )
    return RedirectResponse(f"/respond/{case_id}/{token}?answered=1", status_code=303)


@router.post("/respond/{case_id}/{token}/licence-claim", response_model=None)
def licence_claim_form(
    case_id: int,
    token: str,
    session: SessionDep,
    services: ServicesDep,
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)],
    statement: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    claim_licence(
        session,
        case_id,
        token,
        claim=LicenceClaim(name=name, email=email, statement=statement),
        signer=services.signer,
        links=services.case_links,
        is_licensed=services.licensed_use,
    )
    return RedirectResponse(f"/respond/{case_id}/{token}?answered=1", status_code=303)


@router.post("/respond/{case_id}/{token}/payment", response_model=None)
def pay_licence_form(
    case_id: int,
    token: str,
    session: SessionDep,
    services: ServicesDep,
    card_number: Annotated[str, Form(min_length=12, max_length=23)],
    exp_month: Annotated[int, Form(ge=1, le=12)],
    exp_year: Annotated[int, Form(ge=2000, le=2100)],
    cvc: Annotated[str, Form(min_length=3, max_length=4, pattern=r"^[0-9]+$")],
) -> Response:
    """Pay the offered licence with the sandbox's test card form; the amount is the offer's."""
    case_for_response(session, case_id, token, services.case_links)
    if services.settings.stripe_api_key != SANDBOX_API_KEY:
        raise NotFound("card entry on this page exists only in the payment sandbox")
    gateway = services.payment_gateway
    method = gateway.card_method(
        SandboxCard("".join(card_number.split()), exp_month, exp_year, cvc)
    )
    start_case_payment(
        session,
        case_id,
        token,
        links=services.case_links,
        gateway=gateway,
        log=AttestationLog(session, services.signer),
        payment_method=method,
    )
    return RedirectResponse(f"/respond/{case_id}/{token}?paid=1#licence", status_code=303)
