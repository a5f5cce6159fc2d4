"""Cases end to end below the web: opening, notices read back from a real SMTP server,
counter-notices and licence claims through the case's token, reminders, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from registry.db import unit_of_work
from registry.enforcement import repository
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
from registry.enforcement.models import Case, CaseState, DeadlineKind, NoticeForm
from registry.enforcement.notices import text_sha256
from registry.enforcement.schemas import LicenceClaim
from registry.enforcement.service import (
    REMINDER_TASK,
    case_for_response,
    case_report,
    claim_licence,
    counter_notice,
    open_case,
    reminder_task,
    send_deadline_reminders,
    send_notice,
    transition,
)
from registry.errors import NotFound
from registry.log.events import parse_event
from registry.log.store import AttestationLog
from registry.models import User, persisted_id, utcnow
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.service import change_status
from registry.notifications.mail import SmtpMailer
from registry.notifications.models import Notification
from registry.tasks.queue import TaskKinds
from registry.tasks.runner import run_once
from tests.support.receivers import SmtpInbox, free_port
from tests.unit.registry.enforcement.support import (
    LINKS,
    OTHER_KEY_LINKS,
    AlertMaker,
    counter_submission,
    give_legal_profile,
    tree_size,
)
from tests.unit.registry.wiring import RegistryParts

PAGE = "https://shop.test/gallery"


def opened(parts: RegistryParts, owner: User, alerts: list[Alert]) -> Case:
    with unit_of_work(parts.session) as session:
        return open_case(session, owner, [persisted_id(a) for a in alerts], parts.signer)


def sent(
    parts: RegistryParts,
    owner: User,
    case: Case,
    mailer: SmtpMailer | None,
    *,
    resend: bool = False,
    recipients: tuple[str, ...] = ("dmca@shop.test",),
) -> Case:
    with unit_of_work(parts.session) as session:
        return send_notice(
            session,
            owner,
            persisted_id(case),
            recipients=list(recipients),
            form=NoticeForm.DMCA,
            resend=resend,
            signer=parts.signer,
            mailer=mailer,
            links=LINKS,
        )


def stored(parts: RegistryParts, case: Case) -> Case:
    with parts.session() as session:
        fresh = session.get(Case, case.id)
        assert fresh is not None
        return fresh


def test_a_case_opens_from_confirmed_alerts_on_one_site_with_one_leaf(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    first, second = alerts.alert(PAGE), alerts.alert(PAGE + "/2")
    before = tree_size(parts)
    case = opened(parts, alice, [first, second])
    assert tree_size(parts) == before + 1
    with parts.session() as session:
        leaf = AttestationLog(session).leaf(before).leaf
        assert [a.id for a in repository.alerts_of(session, case)] == [first.id, second.id]
    event = parse_event(leaf)
    assert isinstance(event, CaseStepEvent)
    assert (event.case_id, event.action, event.to_state) == (case.id, "opened", "open")
    assert event.alert_ids == (first.id, second.id)


def test_an_unconfirmed_alert_opens_no_case(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    unconfirmed = alerts.alert(PAGE, confirm=False)
    before = tree_size(parts)
    with pytest.raises(AlertNotEnforceable, match="not confirmed"):
        opened(parts, alice, [unconfirmed])
    assert tree_size(parts) == before


def test_alerts_on_two_sites_open_no_case(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    with pytest.raises(InvalidCaseRequest, match="one case per site"):
        opened(parts, alice, [alerts.alert(PAGE), alerts.alert("https://other.test/p")])


def test_an_alert_is_enforced_by_one_case_only(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    alert = alerts.alert(PAGE)
    case = opened(parts, alice, [alert])
    with pytest.raises(AlertNotEnforceable, match=f"already enforced by case {case.id}"):
        opened(parts, alice, [alert])


def test_another_owners_alert_is_not_found(
    parts: RegistryParts, bob: User, alerts: AlertMaker
) -> None:
    with pytest.raises(NotFound):
        opened(parts, bob, [alerts.alert(PAGE)])


def test_the_notice_is_read_back_from_the_mail_server_and_its_digest_is_on_the_log(
    parts: RegistryParts,
    alice: User,
    alerts: AlertMaker,
    mailer: SmtpMailer,
    smtp_inbox: tuple[SmtpInbox, int],
) -> None:
    alert = alerts.alert(PAGE)
    give_legal_profile(parts, alice)
    case = opened(parts, alice, [alert])
    before = tree_size(parts)
    sent(parts, alice, case, mailer, recipients=("DMCA@Shop.test", "abuse@shop.test"))

    (message,) = smtp_inbox[0].wait_for(1)
    assert message["To"] == "dmca@shop.test, abuse@shop.test"
    assert message["Reply-To"] == "legal@alice.example"
    assert message["Subject"].startswith("DMCA notice: Cup")
    # SMTP carries lines ended by CRLF; the recorded text, and its digest, end them by LF.
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "/s/ Alice Example Ltd" in body
    assert "Postal address: 1 Canvas Street London N1 1AA" in body
    assert f"https://copymark.test/verify/{alerts.work.id}" in body
    response_url = LINKS.response_url(case)
    assert f"{response_url}/evidence/{alert.id}.zip" in body
    assert alert.page_url in body

    assert tree_size(parts) == before + 1
    with parts.session() as session:
        (event,) = [e for e in repository.events_of(session, case) if e.action == "notice_sent"]
        leaf = parse_event(AttestationLog(session).leaf(event.log_index).leaf)
        fresh_alert = session.get(Alert, alert.id)
    assert event.document == body
    assert event.document_sha256 == text_sha256(body)
    assert isinstance(leaf, CaseStepEvent)
    assert leaf.document_sha256 == text_sha256(body)
    assert event.details["message_id"] == message["Message-ID"]
    assert event.details["delivery"] == "accepted by the mail server"
    fresh = stored(parts, case)
    assert fresh.state == CaseState.NOTICE_SENT
    assert fresh.deadline_kind == DeadlineKind.REPLY
    assert fresh_alert is not None
    assert fresh_alert.status == AlertStatus.TAKEDOWN_SENT


def test_a_second_notice_needs_an_explicit_resend(
    parts: RegistryParts,
    alice: User,
    alerts: AlertMaker,
    mailer: SmtpMailer,
    smtp_inbox: tuple[SmtpInbox, int],
) -> None:
    give_legal_profile(parts, alice)
    case = opened(parts, alice, [alerts.alert(PAGE)])
    sent(parts, alice, case, mailer)
    before = tree_size(parts)
    with pytest.raises(NoticeAlreadySent, match="confirm that you mean to resend"):
        sent(parts, alice, case, mailer)
    assert tree_size(parts) == before
    assert len(smtp_inbox[0].messages) == 1
    sent(parts, alice, case, mailer, resend=True, recipients=())
    assert len(smtp_inbox[0].wait_for(2)) == 2
    assert smtp_inbox[0].messages[1]["To"] == "dmca@shop.test"
    assert tree_size(parts) == before + 1
    assert stored(parts, case).notices_sent == 2


def test_nothing_is_sent_once_an_alert_of_the_case_was_dismissed(
    parts: RegistryParts,
    alice: User,
    alerts: AlertMaker,
    mailer: SmtpMailer,
    smtp_inbox: tuple[SmtpInbox, int],
) -> None:
    give_legal_profile(parts, alice)
    alert = alerts.alert(PAGE)
    case = opened(parts, alice, [alert])
    with unit_of_work(parts.session) as session:
        change_status(session, alice, persisted_id(alert), AlertStatus.DISMISSED)
    with pytest.raises(AlertNotEnforceable, match="dismissed"):
        sent(parts, alice, case, mailer)
    assert smtp_inbox[0].messages == []
    assert stored(parts, case).state == CaseState.OPEN


def test_no_notice_without_a_legal_profile(
    parts: RegistryParts,
    alice: User,
    alerts: AlertMaker,
    mailer: SmtpMailer,
    smtp_inbox: tuple[SmtpInbox, int],
) -> None:
    case = opened(parts, alice, [alerts.alert(PAGE)])
    with pytest.raises(ProfileIncomplete, match="legal name"):
        sent(parts, alice, case, mailer)
    assert smtp_inbox[0].messages == []


def test_a_refusing_mail_server_leaves_no_step_behind(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    give_legal_profile(parts, alice)
    case = opened(parts, alice, [alerts.alert(PAGE)])
    before = tree_size(parts)
    nobody_listens = SmtpMailer("127.0.0.1", free_port(), "notices@copymark.test", timeout_s=2)
    with pytest.raises(MailUnavailable, match="nothing was sent or recorded"):
        sent(parts, alice, case, nobody_listens)
    assert tree_size(parts) == before
    fresh = stored(parts, case)
    assert (fresh.state, fresh.notices_sent) == (CaseState.OPEN, 0)


@pytest.mark.parametrize("recipient", ["not-an-address", "a@b.test\r\nBcc: all@x.test", ""])
def test_a_bad_recipient_is_refused_in_words(
    parts: RegistryParts, alice: User, alerts: AlertMaker, mailer: SmtpMailer, recipient: str
) -> None:
    give_legal_profile(parts, alice)
    case = opened(parts, alice, [alerts.alert(PAGE)])
    with pytest.raises(InvalidCaseRequest):
        sent(parts, alice, case, mailer, recipients=(recipient,) if recipient else ())


@pytest.fixture
def noticed(parts: RegistryParts, alice: User, alerts: AlertMaker, mailer: SmtpMailer) -> Case:
    """A case whose notice went out."""
    give_legal_profile(parts, alice)
    return sent(parts, alice, opened(parts, alice, [alerts.alert(PAGE)]), mailer)


def answer(parts: RegistryParts, case_id: int, token: str, **changes: object) -> Case:
    with unit_of_work(parts.session) as session:
        return counter_notice(
            session,
            case_id,
            token,
            submission=counter_submission(**changes),
            signer=parts.signer,
            links=LINKS,
        )


def test_a_counter_notice_moves_the_case_and_starts_the_512g_window(
    parts: RegistryParts, alice: User, noticed: Case
) -> None:
    before = tree_size(parts)
    answer(parts, persisted_id(noticed), LINKS.token(noticed))
    assert tree_size(parts) == before + 1
    fresh = stored(parts, noticed)
    assert fresh.state == CaseState.COUNTER_NOTICED
    assert fresh.deadline_kind == DeadlineKind.REINSTATEMENT
    assert fresh.deadline_at is not None
    assert timedelta(days=13) < fresh.deadline_at - fresh.state_changed_at < timedelta(days=15)
    with parts.session() as session:
        told = session.exec(select(Notification).where(Notification.user_id == alice.id)).all()
        (event,) = [e for e in repository.events_of(session, fresh) if e.actor == "respondent"]
    assert [n.kind for n in told] == ["enforcement.counter_notice"]
    assert "penalty of perjury" in (event.document or "")
    assert event.document_sha256 == text_sha256(event.document or "")


def test_a_wrong_token_opens_nothing(parts: RegistryParts, noticed: Case) -> None:
    for token in ("", "0" * 64, LINKS.token(noticed)[:-1], OTHER_KEY_LINKS.token(noticed)):
        with pytest.raises(ResponseLinkInvalid), parts.session() as session:
            case_for_response(session, persisted_id(noticed), token, LINKS)
        with pytest.raises(ResponseLinkInvalid):
            answer(parts, persisted_id(noticed), token)
    assert stored(parts, noticed).state == CaseState.NOTICE_SENT


def test_a_token_cannot_answer_another_case(
    parts: RegistryParts, alice: User, alerts: AlertMaker, mailer: SmtpMailer, noticed: Case
) -> None:
    other = sent(parts, alice, opened(parts, alice, [alerts.alert(PAGE + "/other")]), mailer)
    with pytest.raises(ResponseLinkInvalid):
        answer(parts, persisted_id(other), LINKS.token(noticed))
    with pytest.raises(ResponseLinkInvalid):
        answer(parts, 10_000, LINKS.token(noticed))
    assert stored(parts, other).state == CaseState.NOTICE_SENT


def test_a_replayed_counter_notice_is_refused_and_logs_nothing(
    parts: RegistryParts, noticed: Case
) -> None:
    token = LINKS.token(noticed)
    answer(parts, persisted_id(noticed), token)
    before = tree_size(parts)
    with pytest.raises(IllegalTransition, match="a second answer is not taken"):
        answer(parts, persisted_id(noticed), token)
    assert tree_size(parts) == before


def test_a_counter_notice_before_any_notice_is_refused(
    parts: RegistryParts, alice: User, alerts: AlertMaker
) -> None:
    case = opened(parts, alice, [alerts.alert(PAGE)])
    with pytest.raises(IllegalTransition, match="no notice has been sent"):
        answer(parts, persisted_id(case), LINKS.token(case))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"good_faith_statement": False}, "penalty of perjury"),
        ({"jurisdiction_consent": False}, "consent to the jurisdiction"),
        ({"signature": "Someone Else"}, "sign by typing your full name"),
        ({"email": "nobody"}, "email address"),
        ({"material": "   "}, "identify the material"),
    ],
)
def test_a_counter_notice_lacking_an_element_is_refused_in_words(
    parts: RegistryParts, noticed: Case, changes: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidCaseRequest, match=words):
        answer(parts, persisted_id(noticed), LINKS.token(noticed), **changes)
    assert stored(parts, noticed).state == CaseState.NOTICE_SENT


def claim(parts: RegistryParts, case: Case, licensed: bool) -> Case:
    with unit_of_work(parts.session) as session:
        return claim_licence(
            session,
            persisted_id(case),
            LINKS.token(case),
            claim=LicenceClaim(name="Mallory Shop", email="mallory@shop.test"),
            signer=parts.signer,
            links=LINKS,
            is_licensed=lambda _work_id, page_url: licensed and "shop.test" in page_url,
        )


def test_an_unconfirmed_licence_claim_changes_nothing(parts: RegistryParts, noticed: Case) -> None:
    with pytest.raises(LicenceNotFound, match=r"no licence covering shop\.test"):
        claim(parts, noticed, licensed=False)
    assert stored(parts, noticed).state == CaseState.NOTICE_SENT


def test_a_confirmed_licence_settles_the_case_and_its_alerts(
    parts: RegistryParts, alice: User, noticed: Case
) -> None:
    claim(parts, noticed, licensed=True)
    assert stored(parts, noticed).state == CaseState.RESOLVED_LICENSED
    with parts.session() as session:
        (alert,) = repository.alerts_of(session, noticed)
        kinds = [n.kind for n in session.exec(select(Notification)).all()]
    assert alert.status == AlertStatus.LICENSED
    assert "enforcement.licence_claim" in kinds


def test_a_passed_deadline_reminds_the_owner_once(
    parts: RegistryParts, alice: User, noticed: Case
) -> None:
    deadline = stored(parts, noticed).deadline_at
    assert deadline is not None
    with unit_of_work(parts.session) as session:
        assert send_deadline_reminders(session, deadline - timedelta(seconds=1)) == 0
        assert send_deadline_reminders(session, deadline + timedelta(seconds=1)) == 1
        assert send_deadline_reminders(session, deadline + timedelta(days=1)) == 0
    with parts.session() as session:
        (reminder,) = session.exec(select(Notification)).all()
    assert reminder.kind == "enforcement.deadline"
    assert json.dumps(reminder.payload) == json.dumps({"case_id": noticed.id})


def test_removal_resolves_the_alerts_and_counts_in_the_report(
    parts: RegistryParts, alice: User, alerts: AlertMaker, noticed: Case
) -> None:
    opened(parts, alice, [alerts.alert(PAGE + "/open")])
    with unit_of_work(parts.session) as session:
        transition(
            session,
            alice,
            persisted_id(noticed),
            CaseState.RESOLVED_REMOVED,
            signer=parts.signer,
            note="gone",
        )
    with parts.session() as session:
        (alert,) = repository.alerts_of(session, noticed)
        report = case_report(session, alice)
    assert alert.status == AlertStatus.RESOLVED
    assert report.cases == 2
    assert report.by_state[CaseState.RESOLVED_REMOVED] == 1
    assert report.by_state[CaseState.OPEN] == 1
    assert report.removed == 1
    assert report.median_days_to_removal is not None
    assert 0 <= report.median_days_to_removal < 1
    (month,) = report.by_month
    assert month.month == utcnow().strftime("%Y-%m")
    assert (month.opened, month.resolved) == (2, 1)


def test_the_report_counts_cases_by_the_month_they_opened_and_resolved(
    parts: RegistryParts, alice: User, alerts: AlertMaker, noticed: Case
) -> None:
    with unit_of_work(parts.session) as session:
        transition(
            session, alice, persisted_id(noticed), CaseState.RESOLVED_REMOVED, signer=parts.signer
        )
    with unit_of_work(parts.session) as session:
        stored = session.get(Case, persisted_id(noticed))
        assert stored is not None
        stored.created_at = datetime(2025, 1, 31, 23, 59, tzinfo=UTC)
        stored.resolved_at = datetime(2025, 3, 1, tzinfo=UTC)
        session.add(stored)
    opened(parts, alice, [alerts.alert(PAGE + "/open")])
    with parts.session() as session:
        report = case_report(session, alice)
    this_month = utcnow().strftime("%Y-%m")
    assert [(m.month, m.opened, m.resolved) for m in report.by_month] == [
        ("2025-01", 1, 0),
        ("2025-03", 0, 1),
        (this_month, 1, 0),
    ]


def test_the_periodic_reminder_task_reminds_once_per_passed_deadline(
    parts: RegistryParts, alice: User, noticed: Case
) -> None:
    with unit_of_work(parts.session) as session:
        case = session.get(Case, noticed.id)
        assert case is not None
        case.deadline_at = utcnow() - timedelta(seconds=1)
        session.add(case)
    kinds = TaskKinds([reminder_task()])
    assert [kind.name for kind in kinds.periodic()] == [REMINDER_TASK]
    assert run_once(parts.session, kinds, REMINDER_TASK, {}, f"{REMINDER_TASK}:tick:1")
    assert not run_once(parts.session, kinds, REMINDER_TASK, {}, f"{REMINDER_TASK}:tick:1")
    assert run_once(parts.session, kinds, REMINDER_TASK, {}, f"{REMINDER_TASK}:tick:2")
    with parts.session() as session:
        (reminder,) = session.exec(select(Notification)).all()
    assert reminder.kind == "enforcement.deadline"
