"""Case queries; a case is scoped to its owner here (`owned_case`) and nowhere else.

The public response page reaches a case by id and token instead (service.case_for_response);
every other lookup by id answers NotFound for another owner's case exactly as for a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from registry.enforcement.models import (
    MAX_ROW_ID,
    Case,
    CaseAlert,
    CaseEvent,
    CaseState,
    LegalProfile,
)
from registry.errors import NotFound
from registry.messages import N_
from registry.models import User
from registry.monitoring.models import Alert


def case_by_id(session: Session, case_id: int) -> Case | None:
    """The case with this id, whoever owns it; None for an id no row can have."""
    # PostgreSQL refuses to compare an integer column with a number beyond its range.
    return session.get(Case, case_id) if 0 < case_id <= MAX_ROW_ID else None


def owned_case(session: Session, owner: User, case_id: int) -> Case:
    """The case if `owner` opened it."""
    case = case_by_id(session, case_id)
    if case is None or case.owner_id != owner.id:
        raise NotFound(N_("case %(case)s not found"), case=case_id)
    return case


def owned_cases(session: Session, owner: User, limit: int = 1000) -> Sequence[Case]:
    """The owner's cases, newest first."""
    return session.exec(
        select(Case).where(Case.owner_id == owner.id).order_by(col(Case.id).desc()).limit(limit)
    ).all()


def alerts_of(session: Session, case: Case) -> Sequence[Alert]:
    """The alerts a case enforces, in the order they were added."""
    return session.exec(
        select(Alert)
        .join(CaseAlert, col(CaseAlert.alert_id) == col(Alert.id))
        .where(CaseAlert.case_id == case.id)
        .order_by(col(CaseAlert.id))
    ).all()


def case_id_of_alert(session: Session, alert_id: int) -> int | None:
    """The case that already enforces an alert, if any."""
    return session.exec(select(CaseAlert.case_id).where(CaseAlert.alert_id == alert_id)).first()


def events_of(session: Session, case: Case) -> Sequence[CaseEvent]:
    """A case's timeline, oldest first."""
    return session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
    ).all()


def overdue_cases(
    session: Session, now: datetime, states: Sequence[CaseState], limit: int = 500
) -> Sequence[Case]:
    """Cases in `states` whose deadline has passed and whose owner was not yet reminded of it."""
    return session.exec(
        select(Case)
        .where(
            col(Case.deadline_at) <= now,
            col(Case.reminded_at).is_(None),
            col(Case.state).in_(list(states)),
        )
        .order_by(col(Case.deadline_at))
        .limit(limit)
    ).all()


def legal_profile(session: Session, user_id: int) -> LegalProfile | None:
    return session.get(LegalProfile, user_id)
