"""Notification pages: the header's bell with the unread count, and the inbox (mark read, open
the thing a notification is about)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from frontend.deps import OptionalUser, SessionDep, noted_unread_notifications
from frontend.i18n import gettext_for
from frontend.pages.rendering import TEMPLATES, render
from frontend.pages.return_to import to_sign_in
from registry.bounds import RecordId
from registry.models import User
from registry.notifications import service
from registry.notifications.models import Notification
from registry.notifications.texts import body_in, subject_in

router = APIRouter(include_in_schema=False)

PER_PAGE: Final = 30


@dataclass(frozen=True)
class InboxItem:
    """A notification as the viewer reads it: in their language, with where it leads."""

    notification: Notification
    subject: str
    body: str
    link: str | None


def _record_id(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def subject_link(payload: dict[str, Any]) -> str | None:
    """The page of what a notification is about: its alert, its case, the licensing of a grant's
    work, or the work; None when it names none of them."""
    alert, case = _record_id(payload, "alert_id"), _record_id(payload, "case_id")
    work, grant = _record_id(payload, "work_id"), _record_id(payload, "grant_id")
    if alert is not None:
        return f"/alerts/{alert}"
    if case is not None:
        return f"/cases/{case}"
    if work is not None:
        return f"/works/{work}/licensing" if grant is not None else f"/works/{work}"
    return None


def unread_notification_count(request: Request, user: User | None) -> int:
    """The bell's number: the signed-in user's unread notifications (0 when the database cannot
    say, so that no page fails for the bell's sake)."""
    if user is None:
        return 0
    counted = noted_unread_notifications(request, user)
    if counted is not None:
        return counted
    try:
        with request.app.state.services.read_session() as session:
            return service.unread_count(session, user)
    except SQLAlchemyError:
        return 0


# Every page's header shows the bell (templates/bell.html), so every template can ask for it.
TEMPLATES.env.globals["unread_notification_count"] = unread_notification_count


@router.get("/notifications", response_class=HTMLResponse, response_model=None)
def inbox_page(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    before: Annotated[RecordId | None, Query()] = None,
    unread: bool = False,
) -> Response:
    """The user's notifications, newest first, a page at a time."""
    if user is None:
        return to_sign_in(request)
    found = list(
        service.list_inbox(session, user, unread_only=unread, limit=PER_PAGE + 1, before_id=before)
    )
    shown = found[:PER_PAGE]
    _ = gettext_for(request)
    return render(
        request,
        "notifications.html",
        user,
        items=[
            InboxItem(item, subject_in(item, _), body_in(item, _), subject_link(item.payload))
            for item in shown
        ],
        older=shown[-1].id if len(found) > PER_PAGE else None,
        unread_only=unread,
        unread=service.unread_count(session, user),
    )


@router.post("/notifications/{notification_id}/read", response_model=None)
def mark_read_form(notification_id: RecordId, user: OptionalUser, session: SessionDep) -> Response:
    """Mark one notification read and stay on the inbox."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    service.mark_read(session, user, notification_id)
    return RedirectResponse(f"/notifications#notification-{notification_id}", status_code=303)


@router.post("/notifications/{notification_id}/open", response_model=None)
def open_form(notification_id: RecordId, user: OptionalUser, session: SessionDep) -> Response:
    """Mark the notification read and go to what it is about."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    notification = service.mark_read(session, user, notification_id)
    return RedirectResponse(subject_link(notification.payload) or "/notifications", status_code=303)


@router.post("/notifications/read-all", response_model=None)
def mark_all_read_form(user: OptionalUser, session: SessionDep) -> Response:
    """Mark every notification read."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    service.mark_all_read(session, user)
    return RedirectResponse("/notifications", status_code=303)
