"""Enforcement endpoints: cases, their notices and timeline, the legal profile, the report, and
the accused party's answers (reached with the case's response token, no account needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlmodel import Session

from frontend.api.licensing import certificate_url
from frontend.api.settlement import payment_public
from frontend.deps import CurrentUser, ServicesDep, SessionDep
from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.schemas import (
    AllocationPublic,
    RetroactiveLicenceCreate,
    RetroactiveLicencePublic,
)
from licensing.service.contracts import active_contract
from licensing.service.retroactive import case_licence, case_work, offer_retroactive_licence
from registry.bounds import RecordId
from registry.certificates import issue_certificate
from registry.enforcement import repository
from registry.enforcement.contacts import discover_contacts
from registry.enforcement.models import Case
from registry.enforcement.schemas import (
    CaseAnswerPublic,
    CaseCreate,
    CaseDetail,
    CaseEventPublic,
    CaseMonthPublic,
    CasePublic,
    CaseReportPublic,
    CaseTransition,
    ContactPublic,
    ContactSearchPublic,
    CounterNoticeSubmission,
    LegalProfilePublic,
    LegalProfileUpdate,
    LicenceClaim,
    NoticeRequest,
)
from registry.enforcement.service import (
    case_for_response,
    case_report,
    claim_licence,
    counter_notice,
    legal_profile,
    next_states,
    open_case,
    save_legal_profile,
    send_notice,
    transition,
)
from registry.errors import NotFound
from registry.log.store import AttestationLog
from registry.models import persisted_id
from registry.schemas import CertificatePublic
from settlement.schemas import PaymentCreate, PaymentPublic
from settlement.service.payments import start_case_payment

router = APIRouter(tags=["enforcement"])


def case_public(session: Session, case: Case) -> CasePublic:
    return CasePublic(
        **case.model_dump(
            include={
                "id",
                "domain",
                "state",
                "recipients",
                "notice_form",
                "notices_sent",
                "deadline_at",
                "deadline_kind",
                "created_at",
                "first_notice_at",
                "resolved_at",
            }
        ),
        alert_ids=[persisted_id(alert) for alert in repository.alerts_of(session, case)],
        next_states=next_states(case),
    )


def case_detail(session: Session, case: Case) -> CaseDetail:
    events = [
        CaseEventPublic.model_validate(event, from_attributes=True)
        for event in repository.events_of(session, case)
    ]
    return CaseDetail(**case_public(session, case).model_dump(), events=events)


@router.post("/cases", status_code=201)
def create_case(
    request: CaseCreate, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> CaseDetail:
    """Open a case against one site for confirmed alerts of yours."""
    case = open_case(session, user, request.alert_ids, services.signer)
    return case_detail(session, case)


@router.get("/cases")
def list_cases(user: CurrentUser, session: SessionDep) -> list[CasePublic]:
    """Your cases, newest first."""
    return [case_public(session, case) for case in repository.owned_cases(session, user)]


@router.get("/cases/report")
def read_report(user: CurrentUser, session: SessionDep) -> CaseReportPublic:
    """Your cases by state, and the median days from first notice to removal."""
    report = case_report(session, user)
    return CaseReportPublic(
        cases=report.cases,
        by_state=report.by_state,
        removed=report.removed,
        median_days_to_removal=report.median_days_to_removal,
        by_month=[
            CaseMonthPublic(month=month.month, opened=month.opened, resolved=month.resolved)
            for month in report.by_month
        ],
    )


@router.get("/cases/{case_id}")
def read_case(case_id: RecordId, user: CurrentUser, session: SessionDep) -> CaseDetail:
    """A case with its timeline; each step names its log index and its document's digest."""
    return case_detail(session, repository.owned_case(session, user, case_id))


@router.get("/cases/{case_id}/events/{event_id}/certificate")
def case_step_certificate(
    case_id: RecordId,
    event_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> CertificatePublic:
    """The certificate of one step's leaf: `copymark verify` checks it offline."""
    case = repository.owned_case(session, user, case_id)
    for event in repository.events_of(session, case):
        if event.id == event_id:
            log = AttestationLog(session, services.signer)
            return CertificatePublic.model_validate(issue_certificate(log, event.log_index))
    raise NotFound(f"case {case_id} has no step {event_id}")


@router.post("/cases/{case_id}/transitions")
def move_case(
    case_id: RecordId,
    request: CaseTransition,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> CaseDetail:
    """Resolve, reinstate, escalate or close a case; an impossible step is a 409 that says why."""
    case = transition(
        session, user, case_id, request.state, signer=services.signer, note=request.note
    )
    return case_detail(session, case)


@router.get("/cases/{case_id}/contacts")
def find_contacts(
    case_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> ContactSearchPublic:
    """Abuse or DMCA addresses of the site: its security.txt, then mailto links on the page."""
    case = repository.owned_case(session, user, case_id)
    alerts = repository.alerts_of(session, case)
    if not alerts:
        raise NotFound(f"case {case_id} has no copies to look up")
    search = asyncio.run(discover_contacts(alerts[0].page_url, services.contact_guard()))
    return ContactSearchPublic(
        contacts=[ContactPublic(address=c.address, source=c.source) for c in search.contacts],
        problems=search.problems,
    )


@router.post("/cases/{case_id}/notices")
def send_case_notice(
    case_id: RecordId,
    request: NoticeRequest,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> CaseDetail:
    """Email the notice, signed with your legal profile; a second one needs `resend: true`."""
    case = send_notice(
        session,
        user,
        case_id,
        recipients=request.recipients,
        form=request.form,
        resend=request.resend,
        signer=services.signer,
        mailer=services.mailer(),
        links=services.case_links,
    )
    return case_detail(session, case)


@router.get("/me/legal-profile")
def read_legal_profile(user: CurrentUser, session: SessionDep) -> LegalProfilePublic:
    """The legal name, postal address and contact that sign your notices."""
    profile = legal_profile(session, user)
    if profile is None:
        raise NotFound("you have no legal profile yet: PUT one to be able to send notices")
    return LegalProfilePublic.model_validate(profile, from_attributes=True)


@router.put("/me/legal-profile")
def write_legal_profile(
    request: LegalProfileUpdate, user: CurrentUser, session: SessionDep
) -> LegalProfilePublic:
    profile = save_legal_profile(session, user, request)
    return LegalProfilePublic.model_validate(profile, from_attributes=True)


@router.post("/responses/{case_id}/{token}/counter-notice")
def answer_with_counter_notice(
    case_id: RecordId,
    token: str,
    request: CounterNoticeSubmission,
    session: SessionDep,
    services: ServicesDep,
) -> CaseAnswerPublic:
    """The accused party's counter-notice, with the token from the notice's link."""
    case = counter_notice(
        session,
        case_id,
        token,
        submission=request,
        signer=services.signer,
        links=services.case_links,
    )
    return CaseAnswerPublic(case_id=persisted_id(case), state=case.state)


@router.post("/responses/{case_id}/{token}/licence-claim")
def answer_with_licence(
    case_id: RecordId, token: str, request: LicenceClaim, session: SessionDep, services: ServicesDep
) -> CaseAnswerPublic:
    """The accused party shows the use is licensed; the licence check must confirm it."""
    case = claim_licence(
        session,
        case_id,
        token,
        claim=request,
        signer=services.signer,
        links=services.case_links,
        is_licensed=services.licensed_use,
    )
    return CaseAnswerPublic(case_id=persisted_id(case), state=case.state)


def licence_public(grant: LicenseGrant) -> RetroactiveLicencePublic:
    grant_id = persisted_id(grant)
    return RetroactiveLicencePublic(
        case_id=grant.case_id or 0,
        grant_id=grant_id,
        work_id=grant.work_id,
        licensed_domain=grant.licensed_domain or "",
        status=grant.status,
        price_minor=grant.gross_minor,
        currency=grant.currency,
        allocations=[
            AllocationPublic.model_validate(line) for line in grant.execution["allocations"]
        ],
        log_index=grant.log_index,
        activation_log_index=grant.activation_log_index,
        valid_until=grant.expires_at,
        certificate_url=certificate_url(grant_id),
    )


@router.post("/cases/{case_id}/licence-offers", status_code=201)
def offer_licence(
    case_id: RecordId,
    request: RetroactiveLicenceCreate,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> RetroactiveLicencePublic:
    """Offer the site a retroactive licence for the copied work (replacing an earlier offer)."""
    price = None
    if request.price_minor is not None:
        work = case_work(session, repository.owned_case(session, user, case_id))
        _, contract = active_contract(session, persisted_id(work))
        price = Money(request.price_minor, contract.currency)
    grant = offer_retroactive_licence(
        session, user, case_id, AttestationLog(session, services.signer), price=price
    )
    return licence_public(grant)


@router.get("/cases/{case_id}/licence")
def read_case_licence(
    case_id: RecordId, user: CurrentUser, session: SessionDep
) -> RetroactiveLicencePublic:
    """The case's current retroactive licence offer, paid or awaiting payment."""
    case = repository.owned_case(session, user, case_id)
    return licence_public(_licence_or_404(session, persisted_id(case)))


def _licence_or_404(session: Session, case_id: int) -> LicenseGrant:
    grant = case_licence(session, case_id)
    if grant is None:
        raise NotFound(f"no retroactive licence has been offered in case {case_id}")
    return grant


@router.get("/responses/{case_id}/{token}/licence")
def read_offered_licence(
    case_id: RecordId, token: str, session: SessionDep, services: ServicesDep
) -> RetroactiveLicencePublic:
    """The licence the rights holder offers the site, seen through the notice's link."""
    case = case_for_response(session, case_id, token, services.case_links)
    return licence_public(_licence_or_404(session, persisted_id(case)))


@router.post("/responses/{case_id}/{token}/payments", status_code=201)
def pay_offered_licence(
    case_id: RecordId,
    token: str,
    session: SessionDep,
    services: ServicesDep,
    body: PaymentCreate | None = None,
) -> PaymentPublic:
    """Pay the offered licence; the amount is the offer's, never the payer's."""
    started = start_case_payment(
        session,
        case_id,
        token,
        links=services.case_links,
        gateway=services.payment_gateway,
        log=AttestationLog(session, services.signer),
        payment_method=body.payment_method if body is not None else None,
    )
    return payment_public(started.payment, started.client_secret)
