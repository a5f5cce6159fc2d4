"""Property: over any sequence of steps, exactly the legal ones succeed, and each success is one
log leaf (and each notice one message on the mail server); a refused step changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.db import unit_of_work
from registry.enforcement.models import Case, CaseState, NoticeForm
from registry.enforcement.schemas import LicenceClaim
from registry.enforcement.service import (
    claim_licence,
    counter_notice,
    open_case,
    send_notice,
    transition,
)
from registry.errors import CopymarkError
from registry.models import User, persisted_id
from registry.notifications.mail import SmtpMailer
from tests.support.receivers import SmtpInbox
from tests.unit.registry.enforcement.support import (
    LINKS,
    AlertMaker,
    counter_submission,
    give_legal_profile,
    tree_size,
)
from tests.unit.registry.wiring import RegistryParts

# The brief's machine, written out again here so the implementation's table is checked
# against it rather than against itself. A counter-noticed case still settles as licensed: the
# parties may agree a retroactive licence after the counter-notice.
SPEC: Final = {
    "open": {"notice_sent", "closed"},
    "notice_sent": {"resolved_removed", "resolved_licensed", "counter_noticed", "closed"},
    "counter_noticed": {"reinstated", "escalated", "resolved_licensed", "closed"},
}

Step = tuple[str, object]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("owner"), st.sampled_from(list(CaseState))),
        st.tuples(st.just("send"), st.booleans()),
        st.tuples(st.just("counter"), st.none()),
        st.tuples(st.just("licence"), st.booleans()),
    ),
    min_size=1,
    max_size=8,
)


def expected_after(state: str, step: Step) -> str | None:
    """The state a legal step leads to, or None when the step must be refused."""
    kind, argument = step
    if kind == "owner":
        target = str(CaseState(str(argument)).value)
        by_hand = target not in {"notice_sent", "counter_noticed"}
        return target if by_hand and target in SPEC.get(state, set()) else None
    if kind == "send":
        return "notice_sent" if state == "open" or (state == "notice_sent" and argument) else None
    if kind == "counter":
        return "counter_noticed" if state == "notice_sent" else None
    return "resolved_licensed" if state == "notice_sent" and argument else None


def take(parts: RegistryParts, owner: User, mailer: SmtpMailer, case: Case, step: Step) -> None:
    kind, argument = step
    case_id = persisted_id(case)
    with unit_of_work(parts.session) as session:
        if kind == "owner":
            transition(session, owner, case_id, CaseState(str(argument)), signer=parts.signer)
        elif kind == "send":
            send_notice(
                session,
                owner,
                case_id,
                recipients=["dmca@shop.test"],
                form=NoticeForm.DMCA,
                resend=bool(argument),
                signer=parts.signer,
                mailer=mailer,
                links=LINKS,
            )
        elif kind == "counter":
            counter_notice(
                session,
                case_id,
                LINKS.token(case),
                submission=counter_submission(),
                signer=parts.signer,
                links=LINKS,
            )
        else:
            claim_licence(
                session,
                case_id,
                LINKS.token(case),
                claim=LicenceClaim(name="Mallory Shop", email="mallory@shop.test"),
                signer=parts.signer,
                links=LINKS,
                is_licensed=lambda _work, _page: bool(argument),
            )


def attempt(
    parts: RegistryParts, owner: User, mailer: SmtpMailer, case: Case, step: Step
) -> CopymarkError | None:
    """The step's refusal, or None when it was taken."""
    try:
        take(parts, owner, mailer, case, step)
    except CopymarkError as refusal:
        return refusal
    return None


@dataclass
class Stage:
    """Alice, her registered photo, a legal profile, and a mail server that keeps what it gets."""

    parts: RegistryParts
    alice: User
    alerts: AlertMaker
    mailer: SmtpMailer
    inbox: SmtpInbox


@pytest.fixture
def stage(
    parts: RegistryParts,
    alice: User,
    alerts: AlertMaker,
    mailer: SmtpMailer,
    smtp_inbox: tuple[SmtpInbox, int],
) -> Stage:
    give_legal_profile(parts, alice)
    return Stage(parts, alice, alerts, mailer, smtp_inbox[0])


def state_of(parts: RegistryParts, case: Case) -> str:
    with parts.session() as session:
        fresh = session.get(Case, case.id)
        assert fresh is not None
        return fresh.state.value


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_only_legal_steps_succeed_and_each_success_is_one_leaf(
    stage: Stage, sequence: list[Step]
) -> None:
    parts, alice, inbox = stage.parts, stage.alice, stage.inbox
    alert = stage.alerts.alert("https://shop.test/gallery")
    with unit_of_work(parts.session) as session:
        case = open_case(session, alice, [persisted_id(alert)], parts.signer)
    state = "open"
    for step in sequence:
        leaves, messages = tree_size(parts), len(inbox.messages)
        expected = expected_after(state, step)
        refusal = attempt(parts, alice, stage.mailer, case, step)
        if refusal is not None:
            assert expected is None, f"{step} from {state} was refused: {refusal.message}"
            assert 400 <= refusal.status_code < 500
            assert tree_size(parts) == leaves
            assert len(inbox.messages) == messages
        else:
            assert expected is not None, f"{step} from {state} succeeded"
            assert tree_size(parts) == leaves + 1
            sent = 1 if step[0] == "send" else 0
            assert len(inbox.wait_for(messages + sent)) == messages + sent
            state = expected
        assert state_of(parts, case) == state
