"""Enforcement endpoints: cases, their notices and timeline, the legal profile, the report, and
the accused party's answers (reached with the case's response token, no account needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlmodel import Session

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from registry.bounds import RecordId
from registry.enforcement import repository
from registry.enforcement.contacts import discover_contacts
from registry.enforcement.models import Case
from registry.enforcement.schemas import (
    CaseAnswerPublic,
    CaseCreate,
    CaseDetail,
    CaseEventPublic,
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
from registry.models import persisted_id

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
    )


@router.get("/cases/{case_id}")
def read_case(case_id: RecordId, user: CurrentUser, session: SessionDep) -> CaseDetail:
    """A case with its timeline; each step names its log index and its document's digest."""
    return case_detail(session, repository.owned_case(session, user, case_id))


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
