"""Enforcement use cases: open a case, send its notice, answer it, move it on, remind, report.

Services take the session and the acting user (or, on the public response page, the case's
token) and never commit; the request, command or worker wrapper does. Every step appends one
leaf (`CaseStepEvent`) and one timeline row in the caller's transaction, so a step without its
leaf, or a leaf without its step, never commits. A notice is handed to the mail server last,
after everything it records is flushed: a refused message raises and rolls the step back. The
one gap left: a commit that fails after the server took the message leaves a notice sent but
unrecorded, which the owner sees as a case still open and remedies by sending again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import smtplib
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any, Final

from sqlmodel import Session

from registry.enforcement import repository
from registry.enforcement.contacts import normalise_address
from registry.enforcement.errors import (
    AlertNotEnforceable,
    IllegalTransition,
    InvalidCaseRequest,
    LicenceNotFound,
    MailUnavailable,
    NoticeAlreadySent,
    ProfileIncomplete,
    ResponseLinkInvalid,
)
from registry.enforcement.events import CaseStepEvent
from registry.enforcement.lifecycle import (
    FINAL_STATES,
    LICENCE_STATES,
    REINSTATEMENT_EARLIEST_BUSINESS_DAYS,
    REINSTATEMENT_LATEST_BUSINESS_DAYS,
    REPLY_BUSINESS_DAYS,
    TRANSITIONS,
    add_business_days,
    check_owner_transition,
    check_transition,
)
from registry.enforcement.models import (
    MAX_ROW_ID,
    Case,
    CaseAlert,
    CaseEvent,
    CaseState,
    DeadlineKind,
    LegalProfile,
    NoticeForm,
)
from registry.enforcement.notices import CaseNotice, case_notice, text_sha256
from registry.enforcement.schemas import (
    MAX_RECIPIENTS,
    CounterNoticeSubmission,
    LegalProfileUpdate,
    LicenceClaim,
)
from registry.errors import NotFound
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.messages import N_, Message, problems_listed
from registry.models import User, Work, persisted_id, utcnow
from registry.monitoring import repository as monitoring_repository
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.service import change_status
from registry.notifications.mail import Mailer, compose
from registry.notifications.service import notify
from registry.notifications.takedown import TakedownFacts
from registry.service import work_certificate_view
from registry.tasks.queue import TaskArgs, TaskKind

IsLicensed = Callable[[int, str], bool]

OWNER: Final = "rights_holder"
RESPONDENT: Final = "respondent"
SENDABLE_ALERTS: Final = frozenset({AlertStatus.CONFIRMED, AlertStatus.TAKEDOWN_SENT})
# What each resolution tells the alerts the case enforces.
_ALERT_OUTCOME: Final = {
    CaseState.RESOLVED_REMOVED: AlertStatus.RESOLVED,
    CaseState.RESOLVED_LICENSED: AlertStatus.LICENSED,
}
COUNTER_NOTICE_KIND: Final = "enforcement.counter_notice"
LICENCE_CLAIM_KIND: Final = "enforcement.licence_claim"
DEADLINE_KIND: Final = "enforcement.deadline"
LICENCE_PAID_KIND: Final = "enforcement.licence_paid"
REMINDER_TASK: Final = "case_reminders"
# Deadlines are days apart; checking as often as notifications go out costs one query a round.
REMINDER_PERIOD: Final = timedelta(seconds=30)


@dataclass(frozen=True)
class CaseLinks:
    """Where the app is reached and the key that makes each case's response token."""

    base_url: str
    response_key: bytes

    def response_url(self, case: Case) -> str:
        return f"{self.base_url.rstrip('/')}/respond/{persisted_id(case)}/{self.token(case)}"

    def token(self, case: Case) -> str:
        """HMAC of the case's id and random nonce: unguessable, and valid for this case only."""
        message = f"copymark-case-response:{persisted_id(case)}:{case.response_nonce}".encode()
        return hmac.new(self.response_key, message, hashlib.sha256).hexdigest()

    def certificate_url(self, work_id: int) -> str:
        return f"{self.base_url.rstrip('/')}/verify/{work_id}"


# ---- steps and the log ---------------------------------------------------------------------


def _step(
    session: Session,
    log: AttestationLog,
    case: Case,
    *,
    action: str,
    to_state: CaseState,
    actor: str,
    note: str = "",
    document: str | None = None,
    details: dict[str, Any] | None = None,
) -> CaseEvent:
    """Move the case to `to_state` and record the step on the timeline and the log."""
    now = utcnow()
    from_state = None if action == "opened" else case.state
    digest = None if document is None else text_sha256(document)
    alert_ids = [persisted_id(alert) for alert in repository.alerts_of(session, case)]
    (index,) = log.append_events(
        [
            CaseStepEvent(
                case_id=persisted_id(case),
                owner_id=case.owner_id,
                action=action,
                from_state=None if from_state is None else from_state.value,
                to_state=to_state.value,
                alert_ids=tuple(alert_ids),
                document_sha256=digest,
                at=now,
            )
        ]
    )
    log.sign_head()
    if case.state != to_state:
        case.state = to_state
        case.state_changed_at = now
    if to_state in FINAL_STATES:
        case.deadline_at = None
        case.deadline_kind = None
        case.resolved_at = now
    session.add(case)
    event = CaseEvent(
        case_id=persisted_id(case),
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        note=note,
        document=document,
        document_sha256=digest,
        details=details or {},
        log_index=index,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def _set_deadline(case: Case, kind: DeadlineKind, business_days: int) -> None:
    case.deadline_at = add_business_days(utcnow(), business_days)
    case.deadline_kind = kind
    case.reminded_at = None


# ---- the rights holder's side ---------------------------------------------------------------


def open_case(session: Session, owner: User, alert_ids: Sequence[int], signer: LogSigner) -> Case:
    """A case for confirmed alerts of the owner's that all show copies on one site."""
    wanted = list(dict.fromkeys(alert_ids))
    if not wanted:
        raise InvalidCaseRequest(N_("name at least one alert to open a case"))
    impossible = [alert_id for alert_id in wanted if not 0 < alert_id <= MAX_ROW_ID]
    if impossible:
        raise NotFound(N_("alert %(alert)s not found"), alert=impossible[0])
    alerts = [monitoring_repository.owned_alert(session, owner, alert_id) for alert_id in wanted]
    for alert in alerts:
        _check_enforceable(alert, {AlertStatus.CONFIRMED})
        other = repository.case_id_of_alert(session, persisted_id(alert))
        if other is not None:
            raise AlertNotEnforceable(
                N_("alert %(alert)s is already enforced by case %(case)s; open that case instead"),
                alert=persisted_id(alert),
                case=other,
            )
    domains = sorted({alert.domain for alert in alerts})
    if len(domains) > 1:
        raise InvalidCaseRequest(
            N_(
                "a case is against one site, and these alerts are on %(sites)s: open one case "
                "per site"
            ),
            sites=", ".join(domains),
        )
    case = Case(
        owner_id=persisted_id(owner), domain=domains[0], response_nonce=secrets.token_hex(16)
    )
    session.add(case)
    session.flush()
    session.add_all(
        CaseAlert(case_id=persisted_id(case), alert_id=persisted_id(alert)) for alert in alerts
    )
    session.flush()
    _step(
        session,
        AttestationLog(session, signer),
        case,
        action="opened",
        to_state=CaseState.OPEN,
        actor=OWNER,
    )
    return case


def _check_enforceable(alert: Alert, statuses: set[AlertStatus]) -> None:
    if alert.status in statuses:
        return
    if alert.status == AlertStatus.NEW:
        raise AlertNotEnforceable(
            N_(
                "alert %(alert)s is not confirmed: compare the images on its page and confirm it "
                "is a copy of your work before you act on it"
            ),
            alert=persisted_id(alert),
        )
    raise AlertNotEnforceable(
        N_("alert %(alert)s is %(status)s: only alerts a person confirmed as copies are enforced"),
        alert=persisted_id(alert),
        status=alert.status.in_words(),
    )


def transition(
    session: Session,
    owner: User,
    case_id: int,
    target: CaseState,
    *,
    signer: LogSigner,
    note: str = "",
) -> Case:
    """Move an owned case on by hand: resolve, reinstate, escalate or close it."""
    case = repository.owned_case(session, owner, case_id)
    check_owner_transition(case_id, case.state, target)
    _step(
        session,
        AttestationLog(session, signer),
        case,
        action="transition",
        to_state=target,
        actor=OWNER,
        note=note,
    )
    outcome = _ALERT_OUTCOME.get(target)
    if outcome is not None:
        for alert in repository.alerts_of(session, case):
            if alert.status == AlertStatus.TAKEDOWN_SENT:
                change_status(session, owner, persisted_id(alert), outcome)
    return case


def _recipients(requested: Sequence[str], case: Case, resend: bool) -> list[str]:
    if not requested and resend:
        return list(case.recipients)
    if not requested:
        raise InvalidCaseRequest(
            N_(
                "name at least one recipient: the site's abuse or DMCA contact (look it up with "
                "the contacts search) or an address you know"
            )
        )
    if len(requested) > MAX_RECIPIENTS:
        raise InvalidCaseRequest(
            N_("a notice goes to at most %(count)s addresses"), count=MAX_RECIPIENTS
        )
    addresses = []
    for text in requested:
        address = normalise_address(text)
        if address is None:
            raise InvalidCaseRequest(
                N_("%(address)s is not one email address"), address=repr(text[:100])
            )
        addresses.append(address)
    return list(dict.fromkeys(addresses))


def send_notice(
    session: Session,
    owner: User,
    case_id: int,
    *,
    recipients: Sequence[str],
    form: NoticeForm,
    resend: bool,
    signer: LogSigner,
    mailer: Mailer | None,
    links: CaseLinks,
) -> Case:
    """Email the case's notice to the site's contact, signed with the owner's legal profile.

    A second notice for one case is refused unless `resend` says it is meant; a notice is only
    sent while every alert of the case is one a person confirmed.
    """
    case = repository.owned_case(session, owner, case_id)
    if case.state == CaseState.NOTICE_SENT and not resend:
        raise NoticeAlreadySent(
            N_(
                "a notice for case %(case)s was already sent to %(recipients)s: to send it "
                "again, confirm that you mean to resend"
            ),
            case=case_id,
            recipients=", ".join(case.recipients),
        )
    if case.state != CaseState.NOTICE_SENT:
        check_transition(case_id, case.state, CaseState.NOTICE_SENT)
    addresses = _recipients(recipients, case, resend)
    profile = repository.legal_profile(session, case.owner_id)
    if profile is None:
        raise ProfileIncomplete(
            N_(
                "a notice must name and sign for the complaining party: add your legal name, "
                "postal address and contact email to your legal profile first"
            )
        )
    alerts = repository.alerts_of(session, case)
    for alert in alerts:
        _check_enforceable(alert, set(SENDABLE_ALERTS))
    if mailer is None:
        raise MailUnavailable(
            N_("email is not configured on this server (no SMTP host): the notice was not sent")
        )
    notice = _compose_notice(
        session, case, alerts, form=form, profile=profile, signer=signer, links=links
    )
    message_id = make_msgid(domain="copymark")
    resending = case.state == CaseState.NOTICE_SENT
    event = _step(
        session,
        AttestationLog(session, signer),
        case,
        action="notice_resent" if resending else "notice_sent",
        to_state=CaseState.NOTICE_SENT,
        actor=OWNER,
        document=notice.text,
        details={"recipients": addresses, "subject": notice.subject, "message_id": message_id},
    )
    case.recipients = addresses
    case.notice_form = form
    case.notices_sent += 1
    case.first_notice_at = case.first_notice_at or event.created_at
    _set_deadline(case, DeadlineKind.REPLY, REPLY_BUSINESS_DAYS)
    session.add(case)
    for alert in alerts:
        if alert.status == AlertStatus.CONFIRMED:
            change_status(session, owner, persisted_id(alert), AlertStatus.TAKEDOWN_SENT)
    session.flush()
    _mail(mailer, addresses, notice, profile, message_id)
    event.details = {**event.details, "delivery": "accepted by the mail server"}
    session.add(event)
    session.flush()
    return case


def _compose_notice(
    session: Session,
    case: Case,
    alerts: Sequence[Alert],
    *,
    form: NoticeForm,
    profile: LegalProfile,
    signer: LogSigner,
    links: CaseLinks,
) -> CaseNotice:
    response_url = links.response_url(case)
    facts = []
    for alert in alerts:
        work = session.get(Work, alert.work_id)
        if work is None:
            raise AlertNotEnforceable(
                N_("the work of alert %(alert)s no longer exists"), alert=persisted_id(alert)
            )
        view = work_certificate_view(session, signer, work, links.base_url)
        facts.append(
            TakedownFacts(
                rights_holder_name=profile.legal_name,
                rights_holder_email=profile.contact_email,
                rights_holder_address=profile.postal_address,
                work_title=work.title,
                work_id=view.work_id,
                certificate_log_index=view.log_index,
                certificate_root_hash=view.root_hash,
                certificate_key_id=view.key_id,
                evidence_sha256=alert.evidence_sha256,
                evidence_log_index=alert.log_index,
                infringing_page_url=alert.page_url,
                infringing_image_url=alert.image_url,
                first_seen_at=alert.first_seen_at,
                certificate_url=links.certificate_url(view.work_id),
                evidence_url=f"{response_url}/evidence/{alert.id}.zip",
                response_url=response_url,
            )
        )
    return case_notice(persisted_id(case), case.domain, form, facts)


def _mail(
    mailer: Mailer,
    addresses: Sequence[str],
    notice: CaseNotice,
    profile: LegalProfile,
    message_id: str,
) -> None:
    message = compose(", ".join(addresses), _one_line(notice.subject), notice.text)
    message["Reply-To"] = profile.contact_email
    message["Message-ID"] = message_id
    try:
        mailer.send(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(
            N_(
                "the mail server did not take the notice (%(reason)s); nothing was sent or "
                "recorded, try again later"
            ),
            reason=f"{type(error).__name__}: {error}",
        ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


# ---- the accused party's side ---------------------------------------------------------------


def case_for_response(session: Session, case_id: int, token: str, links: CaseLinks) -> Case:
    """The case a response link names, if its token is that case's token."""
    case = repository.case_by_id(session, case_id)
    if case is None or not hmac.compare_digest(token.encode(), links.token(case).encode()):
        raise ResponseLinkInvalid(
            N_(
                "this response link is not valid: check that you copied the whole address "
                "from the notice you received"
            )
        )
    return case


def response_alert(
    session: Session, case_id: int, token: str, alert_id: int, links: CaseLinks
) -> Alert:
    """One alert of the case a response link names (for its evidence)."""
    case = case_for_response(session, case_id, token, links)
    for alert in repository.alerts_of(session, case):
        if alert.id == alert_id:
            return alert
    raise ResponseLinkInvalid(
        N_("case %(case)s has no copy numbered %(alert)s"), case=case_id, alert=alert_id
    )


def _check_answerable(case: Case) -> None:
    """An answer is taken while a notice stands unanswered; say plainly why not otherwise."""
    if case.state == CaseState.NOTICE_SENT:
        return
    if case.state == CaseState.OPEN:
        raise IllegalTransition(
            N_("no notice has been sent in this case yet, so there is nothing to answer")
        )
    raise IllegalTransition(
        N_(
            "this case was already answered or settled (it is %(state)s): a second answer is "
            "not taken"
        ),
        state=case.state.in_words(),
    )


def counter_notice(
    session: Session,
    case_id: int,
    token: str,
    *,
    submission: CounterNoticeSubmission,
    signer: LogSigner,
    links: CaseLinks,
) -> Case:
    """Record the accused party's counter-notice, start the 512(g) window, tell the owner."""
    case = case_for_response(session, case_id, token, links)
    _check_answerable(case)
    _check_counter_notice(submission)
    document = counter_notice_text(case, submission)
    received = utcnow()
    latest = add_business_days(received, REINSTATEMENT_LATEST_BUSINESS_DAYS)
    _step(
        session,
        AttestationLog(session, signer),
        case,
        action="counter_notice",
        to_state=CaseState.COUNTER_NOTICED,
        actor=RESPONDENT,
        document=document,
        details={"name": submission.name.strip(), "reinstate_by": latest.isoformat()},
    )
    _set_deadline(case, DeadlineKind.REINSTATEMENT, REINSTATEMENT_EARLIEST_BUSINESS_DAYS)
    session.add(case)
    session.flush()
    owner = _owner_of(session, case)
    notify(
        session,
        owner,
        COUNTER_NOTICE_KIND,
        N_("Counter-notice in case %(case)s (%(domain)s)"),
        N_(
            "%(name)s answered your notice about %(domain)s with a counter-notice under 17 "
            "U.S.C. 512(g). Unless you tell the service provider that you have filed an action "
            "seeking a court order, the material may be put back between %(earliest)s and "
            "%(latest)s.\n\n%(document)s"
        ),
        {"case_id": persisted_id(case), "deadline_at": _iso(case)},
        params={
            "case": persisted_id(case),
            "domain": case.domain,
            "name": submission.name.strip(),
            "earliest": f"{case.deadline_at:%Y-%m-%d}",
            "latest": f"{latest:%Y-%m-%d}",
            "document": document,
        },
    )
    return case


def _iso(case: Case) -> str | None:
    return None if case.deadline_at is None else case.deadline_at.isoformat()


def _check_counter_notice(submission: CounterNoticeSubmission) -> None:
    missing = []
    if not submission.material.strip():
        missing.append(N_("identify the material that was removed and where it appeared"))
    if not submission.good_faith_statement:
        missing.append(
            N_(
                "state under penalty of perjury that you believe in good faith the material was "
                "removed by mistake or misidentification"
            )
        )
    if not submission.jurisdiction_consent:
        missing.append(N_("consent to the jurisdiction of the court named in the statement"))
    if not submission.name.strip() or not submission.address.strip():
        missing.append(N_("give your name and address"))
    if normalise_address(submission.email) is None:
        missing.append(N_("give an email address we can reach you at"))
    if _folded(submission.signature) != _folded(submission.name):
        missing.append(N_("sign by typing your full name exactly as given above"))
    if missing:
        raise InvalidCaseRequest(
            N_("a counter-notice must %(missing)s"),
            missing=problems_listed([Message(clause) for clause in missing]),
        )


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def counter_notice_text(case: Case, submission: CounterNoticeSubmission) -> str:
    """The counter-notification as recorded: its digest is the step's leaf."""
    lines = [
        f"Counter-notification under 17 U.S.C. 512(g)(3), Copymark case {case.id}",
        "",
        "1. Material removed or disabled and where it appeared:",
        submission.material.strip(),
        "",
        "2. I swear, under penalty of perjury, that I have a good faith belief that the "
        "material was removed or disabled as a result of mistake or misidentification of the "
        "material to be removed or disabled.",
        "",
        "3. I consent to the jurisdiction of the Federal District Court for the judicial "
        "district in which my address is located, or, if my address is outside the United "
        "States, for any judicial district in which the service provider may be found, and I "
        "will accept service of process from the person who provided the notification or an "
        "agent of such person.",
        "",
        f"Name: {' '.join(submission.name.split())}",
        f"Address: {' '.join(submission.address.split())}",
        f"Email: {submission.email.strip()}",
    ]
    if submission.phone.strip():
        lines.append(f"Telephone: {' '.join(submission.phone.split())}")
    lines.extend(["", f"/s/ {' '.join(submission.signature.split())}", ""])
    return "\n".join(lines)


def claim_licence(
    session: Session,
    case_id: int,
    token: str,
    *,
    claim: LicenceClaim,
    signer: LogSigner,
    links: CaseLinks,
    is_licensed: IsLicensed,
) -> Case:
    """Settle the case as licensed when the licence check confirms every copy's use."""
    case = case_for_response(session, case_id, token, links)
    _check_answerable(case)
    if normalise_address(claim.email) is None:
        raise InvalidCaseRequest(N_("give an email address we can reach you at"))
    alerts = repository.alerts_of(session, case)
    unlicensed = [alert for alert in alerts if not is_licensed(alert.work_id, alert.page_url)]
    if unlicensed:
        pages = ", ".join(alert.page_url[:200] for alert in unlicensed)
        raise LicenceNotFound(
            N_(
                "no licence covering %(domain)s was found for the copies on %(pages)s. If you "
                "hold one, ask the licensor to record it, or answer with a counter-notice"
            ),
            domain=case.domain,
            pages=pages,
        )
    document = (
        f"Licence claim, Copymark case {case.id}\n\n"
        f"{' '.join(claim.name.split())} <{claim.email.strip()}> states that the use on "
        f"{case.domain} is licensed.\n{claim.statement.strip()}\n\n"
        "Copymark's licence check confirmed a licence for every copy in the case.\n"
    )
    _step(
        session,
        AttestationLog(session, signer),
        case,
        action="licence_claim",
        to_state=CaseState.RESOLVED_LICENSED,
        actor=RESPONDENT,
        document=document,
        details={"name": claim.name.strip()},
    )
    owner = _owner_of(session, case)
    for alert in alerts:
        if alert.status == AlertStatus.TAKEDOWN_SENT:
            change_status(session, owner, persisted_id(alert), AlertStatus.LICENSED)
    notify(
        session,
        owner,
        LICENCE_CLAIM_KIND,
        N_("Case %(case)s settled: the use on %(domain)s is licensed"),
        N_(
            "%(name)s showed that the use on %(domain)s is licensed, and the licence check "
            "confirmed it for every copy. The case is resolved as licensed."
        ),
        {"case_id": persisted_id(case)},
        params={"case": persisted_id(case), "domain": case.domain, "name": claim.name.strip()},
    )
    return case


# ---- the retroactive licence -------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceTerms:
    """A retroactive licence as a case records it: the grant that carries it and its price."""

    grant_id: int
    work_id: int
    work_title: str
    price: str
    valid_until: datetime


def check_licence_offerable(case: Case) -> None:
    """A retroactive licence is offered, or paid, while a notice stands (answered or not)."""
    if case.state in LICENCE_STATES:
        return
    if case.state == CaseState.OPEN:
        raise IllegalTransition(
            N_(
                "case %(case)s has no notice yet: send the notice, which carries the link where "
                "the site sees and pays the licence"
            ),
            case=persisted_id(case),
        )
    raise IllegalTransition(
        N_(
            "case %(case)s is %(state)s: a retroactive licence is offered only while a notice "
            "stands"
        ),
        case=persisted_id(case),
        state=case.state.in_words(),
    )


def licence_offer_text(case: Case, terms: LicenceTerms) -> str:
    """The offer as recorded: its digest is the step's leaf."""
    return (
        f"Retroactive licence offer, Copymark case {case.id}\n\n"
        f"Work: {terms.work_title} (work {terms.work_id})\n"
        f"Licensee: the site {case.domain}\n"
        f"Covers: the use of the work found on {case.domain} (the copies in this case), "
        "from its first use up to payment, and its continuation on that site\n"
        f"Price: {terms.price}\n"
        f"Licence grant: {terms.grant_id}\n"
        f"Open until: {terms.valid_until:%Y-%m-%d %H:%M} UTC\n"
    )


def record_licence_offer(
    session: Session, owner: User, case: Case, terms: LicenceTerms, log: AttestationLog
) -> Case:
    """Put the rights holder's retroactive licence offer on the case's timeline and the log."""
    check_licence_offerable(case)
    if case.owner_id != owner.id:
        raise NotFound(N_("case %(case)s not found"), case=persisted_id(case))
    _step(
        session,
        log,
        case,
        action="licence_offered",
        to_state=case.state,
        actor=OWNER,
        document=licence_offer_text(case, terms),
        details={"grant_id": terms.grant_id, "price": terms.price},
    )
    return case


def settle_by_licence(
    session: Session, case_id: int, terms: LicenceTerms, log: AttestationLog
) -> Case | None:
    """Resolve a case as licensed once its retroactive licence is paid; None when it was
    already settled or closed (the licence stands either way)."""
    case = repository.case_by_id(session, case_id)
    if case is None or case.state not in LICENCE_STATES:
        return None
    document = (
        f"Retroactive licence paid, Copymark case {case.id}\n\n"
        f"The site {case.domain} paid {terms.price} for licence grant {terms.grant_id} on "
        f"work {terms.work_id}. The case is resolved as licensed.\n"
    )
    _step(
        session,
        log,
        case,
        action="licence_paid",
        to_state=CaseState.RESOLVED_LICENSED,
        actor=RESPONDENT,
        document=document,
        details={"grant_id": terms.grant_id, "price": terms.price},
    )
    owner = _owner_of(session, case)
    for alert in repository.alerts_of(session, case):
        if alert.status in SENDABLE_ALERTS:
            change_status(session, owner, persisted_id(alert), AlertStatus.LICENSED)
    notify(
        session,
        owner,
        LICENCE_PAID_KIND,
        N_("Case %(case)s settled: %(domain)s paid the retroactive licence"),
        N_(
            "%(domain)s paid %(price)s for the retroactive licence on work %(work)s. The split "
            "was posted to the ledger like any sale, and the case is resolved as licensed."
        ),
        {"case_id": persisted_id(case), "grant_id": terms.grant_id},
        params={
            "case": persisted_id(case),
            "domain": case.domain,
            "price": str(terms.price),
            "work": terms.work_id,
        },
    )
    return case


def _owner_of(session: Session, case: Case) -> User:
    owner = session.get(User, case.owner_id)
    if owner is None:
        raise ResponseLinkInvalid(
            N_("case %(case)s has no owner any more"), case=persisted_id(case)
        )
    return owner


# ---- deadlines, profile, reports ---------------------------------------------------------------


def send_deadline_reminders(session: Session, now: datetime | None = None) -> int:
    """Notify each owner whose case deadline has passed (once per deadline); returns how many."""
    now = now or utcnow()
    reminded = 0
    for case in repository.overdue_cases(
        session, now, [CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED]
    ):
        owner = session.get(User, case.owner_id)
        if owner is None:
            continue
        subject, body = _reminder(case)
        notify(
            session,
            owner,
            DEADLINE_KIND,
            subject,
            body,
            {"case_id": persisted_id(case)},
            params={"case": persisted_id(case), "domain": case.domain},
        )
        case.reminded_at = now
        session.add(case)
        reminded += 1
    session.flush()
    return reminded


def reminder_task() -> TaskKind:
    """The periodic `case_reminders` task: the reminders and their notifications commit with it."""

    def run(session: Session, _args: TaskArgs) -> None:
        send_deadline_reminders(session)

    return TaskKind(
        name=REMINDER_TASK,
        queue="notify",
        run=run,
        time_limit_s=5 * 60,
        period_s=REMINDER_PERIOD.total_seconds(),
    )


def _reminder(case: Case) -> tuple[str, str]:
    """The reminder's subject and body templates, with `case` and `domain` placeholders."""
    if case.deadline_kind == DeadlineKind.REINSTATEMENT:
        return (
            N_("Case %(case)s: the counter-notice window is ending"),
            N_(
                "Ten business days have passed since the counter-notice about %(domain)s. "
                "Unless you tell the service provider that you have filed an action seeking a "
                "court order, the material may now be put back. Mark the case escalated if you "
                "filed, or reinstated once it is back."
            ),
        )
    return (
        N_("Case %(case)s: no answer from %(domain)s yet"),
        N_(
            "The reply period for your notice about %(domain)s has passed. Check whether the "
            "copies were removed and mark the case resolved, resend the notice, or close it."
        ),
    )


def legal_profile(session: Session, user: User) -> LegalProfile | None:
    return repository.legal_profile(session, persisted_id(user))


def save_legal_profile(session: Session, user: User, update: LegalProfileUpdate) -> LegalProfile:
    """Set who signs the user's notices."""
    email = normalise_address(update.contact_email)
    if email is None:
        raise InvalidCaseRequest(
            N_("%(address)s is not one email address"), address=repr(update.contact_email[:100])
        )
    if not update.legal_name.strip() or not update.postal_address.strip():
        raise InvalidCaseRequest(N_("a legal profile needs a legal name and a postal address"))
    profile = repository.legal_profile(session, persisted_id(user)) or LegalProfile(
        user_id=persisted_id(user), legal_name="", postal_address="", contact_email=""
    )
    profile.legal_name = " ".join(update.legal_name.split())
    profile.postal_address = update.postal_address.strip()
    profile.contact_email = email
    profile.phone = " ".join(update.phone.split())
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()
    return profile


@dataclass(frozen=True)
class CaseMonth:
    """How many of an owner's cases opened, and how many were resolved, in one UTC month."""

    month: str  # YYYY-MM
    opened: int
    resolved: int


@dataclass(frozen=True, slots=True)
class CaseReport:
    """One owner's cases by state, how long removals took from the first notice, and the cases
    opened and resolved month by month (the last `REPORT_MONTHS` months with either)."""

    cases: int
    by_state: dict[CaseState, int]
    removed: int
    median_days_to_removal: float | None
    by_month: tuple[CaseMonth, ...]


REPORT_MONTHS: Final = 12


def _cases_by_month(cases: Sequence[Case]) -> tuple[CaseMonth, ...]:
    opened = Counter(case.created_at.strftime("%Y-%m") for case in cases)
    resolved = Counter(
        case.resolved_at.strftime("%Y-%m") for case in cases if case.resolved_at is not None
    )
    months = sorted(opened.keys() | resolved.keys())[-REPORT_MONTHS:]
    return tuple(CaseMonth(month, opened[month], resolved[month]) for month in months)


def case_report(session: Session, owner: User) -> CaseReport:
    cases = repository.owned_cases(session, owner, limit=100_000)
    counts = Counter(case.state for case in cases)
    durations = [
        (case.resolved_at - case.first_notice_at).total_seconds() / 86400
        for case in cases
        if case.state == CaseState.RESOLVED_REMOVED
        and case.resolved_at is not None
        and case.first_notice_at is not None
    ]
    return CaseReport(
        cases=len(cases),
        by_state={state: counts.get(state, 0) for state in CaseState},
        removed=len(durations),
        median_days_to_removal=round(statistics.median(durations), 2) if durations else None,
        by_month=_cases_by_month(cases),
    )


def next_states(case: Case) -> list[CaseState]:
    """The states the owner can move the case to by hand, for pages and the API."""
    return sorted(TRANSITIONS[case.state] - {CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED})
