"""`copymark cases`: enforcement cases, their report, and the deadline reminders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from sqlmodel import Session

    from registry.enforcement.models import Case
    from registry.models import User

cases_app = typer.Typer(help="Enforcement cases.", no_args_is_help=True)
OwnerOption = Annotated[str, typer.Option("--owner", help="the rights holder's email")]


def _owner(session: Session, email: str) -> User:
    from registry.accounts.service import find_user_by_email

    user = find_user_by_email(session, email)
    if user is None:
        fail(f"no account for {email}", 2)
    return user


def _record(session: Session, case: Case) -> dict[str, Any]:
    from registry.enforcement import repository

    return {
        "case_id": case.id,
        "domain": case.domain,
        "state": case.state.value,
        "alert_ids": [alert.id for alert in repository.alerts_of(session, case)],
        "notices_sent": case.notices_sent,
        "deadline_at": case.deadline_at.isoformat() if case.deadline_at else None,
        "deadline_kind": case.deadline_kind.value if case.deadline_kind else None,
    }


@cases_app.command("list")
def cases_list(owner: OwnerOption, as_json: JsonFlag = False) -> None:
    """The rights holder's cases, newest first."""
    from registry.enforcement import repository

    with services().session() as session:
        for case in repository.owned_cases(session, _owner(session, owner)):
            record = _record(session, case)
            if as_json:
                emit(record)
            else:
                stderr.print(
                    f"case {case.id} {case.domain}: {case.state.value}, "
                    f"{case.notices_sent} notice(s)",
                    highlight=False,
                )


@cases_app.command("show")
def cases_show(case_id: int, owner: OwnerOption, as_json: JsonFlag = False) -> None:
    """One case with its timeline: each step's log index and its document's SHA-256."""
    from registry.enforcement import repository
    from registry.errors import CopymarkError

    with services().session() as session:
        try:
            case = repository.owned_case(session, _owner(session, owner), case_id)
        except CopymarkError as error:
            fail(error.message, 2)
        steps = [
            {
                "action": event.action,
                "to_state": event.to_state.value,
                "actor": event.actor,
                "log_index": event.log_index,
                "document_sha256": event.document_sha256,
                "at": event.created_at.isoformat(),
            }
            for event in repository.events_of(session, case)
        ]
        record = {**_record(session, case), "events": steps}
    if as_json:
        emit(record)
        return
    stderr.print(f"case {case_id} against {record['domain']}: {record['state']}", highlight=False)
    for step in steps:
        stderr.print(
            f"  {step['at']} {step['action']} -> {step['to_state']} (log {step['log_index']})",
            highlight=False,
        )


@cases_app.command("report")
def cases_report(owner: OwnerOption, as_json: JsonFlag = False) -> None:
    """Cases by state, and the median days from first notice to removal."""
    from registry.enforcement.service import case_report

    with services().session() as session:
        report = case_report(session, _owner(session, owner))
    record = {
        "cases": report.cases,
        "by_state": {state.value: count for state, count in report.by_state.items()},
        "removed": report.removed,
        "median_days_to_removal": report.median_days_to_removal,
    }
    if as_json:
        emit(record)
    else:
        stderr.print(record, highlight=False)


@cases_app.command("remind")
def cases_remind(as_json: JsonFlag = False) -> None:
    """Notify every owner whose case deadline has passed (the app's worker also does this)."""
    from registry.db import unit_of_work
    from registry.enforcement.service import send_deadline_reminders

    with unit_of_work(services().session) as session:
        reminded = send_deadline_reminders(session)
    if as_json:
        emit({"reminded": reminded})
    else:
        stderr.print(f"{reminded} reminder(s) sent")
