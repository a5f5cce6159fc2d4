"""The case state machine: which step leads where, and who may take it.

open → notice_sent → (resolved_removed | resolved_licensed | counter_noticed →
(reinstated | escalated | resolved_licensed)), and any unfinished case may be closed: a
counter-noticed case still settles as licensed when the accused party pays a retroactive
licence. Sending a notice and receiving a counter-notice are steps of their own (they carry a
document), so the rights holder's plain transitions cannot reach notice_sent or counter_noticed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from registry.enforcement.errors import IllegalTransition
from registry.enforcement.models import CaseState
from registry.messages import N_, Message, listed

TRANSITIONS: Final[dict[CaseState, frozenset[CaseState]]] = {
    CaseState.OPEN: frozenset({CaseState.NOTICE_SENT, CaseState.CLOSED}),
    CaseState.NOTICE_SENT: frozenset(
        {
            CaseState.RESOLVED_REMOVED,
            CaseState.RESOLVED_LICENSED,
            CaseState.COUNTER_NOTICED,
            CaseState.CLOSED,
        }
    ),
    CaseState.COUNTER_NOTICED: frozenset(
        {
            CaseState.REINSTATED,
            CaseState.ESCALATED,
            CaseState.RESOLVED_LICENSED,
            CaseState.CLOSED,
        }
    ),
    CaseState.RESOLVED_REMOVED: frozenset(),
    CaseState.RESOLVED_LICENSED: frozenset(),
    CaseState.REINSTATED: frozenset(),
    CaseState.ESCALATED: frozenset(),
    CaseState.CLOSED: frozenset(),
}

# Reached only through their own use case: they need a sent email or a signed counter-notice.
DOCUMENT_STEPS: Final = frozenset({CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED})
FINAL_STATES: Final = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
# A retroactive licence is offered, and paid, while a notice stands answered or unanswered.
LICENCE_STATES: Final = frozenset({CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED})

_WHY_NOT: Final[dict[CaseState, str]] = {
    CaseState.NOTICE_SENT: N_("send the notice to reach notice_sent"),
    CaseState.COUNTER_NOTICED: N_("only the accused party's counter-notice moves a case there"),
}

# 17 U.S.C. 512(g)(2)(C): material is put back "not less than 10, nor more than 14, business
# days following receipt of the counter notice", unless the rights holder files an action.
REINSTATEMENT_EARLIEST_BUSINESS_DAYS: Final = 10
REINSTATEMENT_LATEST_BUSINESS_DAYS: Final = 14
# Not set by statute: how long a notice's recipient is given before the holder is reminded.
REPLY_BUSINESS_DAYS: Final = 10
SATURDAY: Final = 5  # date.weekday(): Monday is 0


def check_transition(case_id: int, current: CaseState, target: CaseState) -> None:
    """Raise IllegalTransition, in words, unless `target` follows `current`."""
    if target in TRANSITIONS[current]:
        return
    if current in FINAL_STATES:
        raise IllegalTransition(
            N_("case %(case)s is %(state)s, which is final: it cannot become %(target)s"),
            case=case_id,
            state=current.in_words(),
            target=target.in_words(),
        )
    raise IllegalTransition(
        N_(
            "case %(case)s cannot go from %(state)s to %(target)s; from %(state)s it can go to "
            "%(allowed)s"
        ),
        case=case_id,
        state=current.in_words(),
        target=target.in_words(),
        allowed=listed([state.in_words() for state in sorted(TRANSITIONS[current])]),
    )


def check_owner_transition(case_id: int, current: CaseState, target: CaseState) -> None:
    """As check_transition, and refuse the steps that need a document of their own."""
    if target in DOCUMENT_STEPS:
        raise IllegalTransition(
            N_("case %(case)s cannot be set to %(target)s by hand: %(why)s"),
            case=case_id,
            target=target.in_words(),
            why=Message(_WHY_NOT[target]),
        )
    check_transition(case_id, current, target)


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` moved on by `days` weekdays (Saturdays and Sundays skipped; no public holidays)."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if _is_business_day(moment.date()):
            remaining -= 1
    return moment


def _is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY
