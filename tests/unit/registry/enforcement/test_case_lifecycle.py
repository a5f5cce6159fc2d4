"""The case state machine on its own: the table, the words of a refusal, business days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.enforcement.errors import IllegalTransition
from registry.enforcement.lifecycle import (
    FINAL_STATES,
    TRANSITIONS,
    add_business_days,
    check_owner_transition,
    check_transition,
)
from registry.enforcement.models import CaseState


def test_every_path_from_open_ends_in_a_final_state() -> None:
    seen = set()
    frontier = [CaseState.OPEN]
    while frontier:
        state = frontier.pop()
        seen.add(state)
        frontier.extend(TRANSITIONS[state] - seen)
    assert seen == set(CaseState)
    assert {
        CaseState.RESOLVED_REMOVED,
        CaseState.RESOLVED_LICENSED,
        CaseState.REINSTATED,
        CaseState.ESCALATED,
        CaseState.CLOSED,
    } == FINAL_STATES


def test_a_counter_notice_comes_only_after_a_notice() -> None:
    with pytest.raises(IllegalTransition, match="from open to counter noticed"):
        check_transition(4, CaseState.OPEN, CaseState.COUNTER_NOTICED)
    check_transition(4, CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED)


def test_a_refusal_names_the_states_that_are_possible() -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_transition(9, CaseState.OPEN, CaseState.REINSTATED)
    assert refused.value.status_code == 409
    assert "can go to closed, notice sent" in refused.value.message


def test_a_final_state_says_it_is_final() -> None:
    with pytest.raises(IllegalTransition, match="closed, which is final"):
        check_transition(2, CaseState.CLOSED, CaseState.OPEN)


@pytest.mark.parametrize("target", [CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED])
def test_the_owner_cannot_set_the_document_steps_by_hand(target: CaseState) -> None:
    with pytest.raises(IllegalTransition, match="by hand"):
        check_owner_transition(1, CaseState.NOTICE_SENT, target)


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert add_business_days(friday, 1) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert add_business_days(friday, 10) == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    assert add_business_days(friday, 14) == datetime(2026, 12, 17, 15, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert add_business_days(saturday, 1) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
