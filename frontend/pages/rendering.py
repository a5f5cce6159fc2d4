"""Rendering a page: the templates, the signed-in user and CSRF token every page needs, errors.

Every error a user can cause on a page answers a readable HTML page with the right status,
never the JSON API's error body; the page still shows who is signed in, in their language.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError

from frontend.deps import SESSION_COOKIE, cookie_session_token, csrf_token_for
from frontend.i18n import gettext_for, note_user_locale, template_context
from frontend.pages.return_to import sign_in_url
from registry.accounts.service import user_for_login_session
from registry.models import User

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
# Templates change only with a new release, and a new release restarts the server: checking
# every template file's mtime on every render (Jinja's default) is a stat per template per page.
TEMPLATES.env.auto_reload = False
_logger = logging.getLogger(__name__)


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    services = request.app.state.services
    token = request.cookies.get(SESSION_COOKIE, "")
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            **template_context(request),
            "user": user,
            "csrf_token": csrf_token_for(services, token) if token else "",
            "sign_in_url": sign_in_url(request),
            **context,
        },
        status_code=status_code,
    )


def signed_in_user(request: Request) -> User | None:
    """Who the browser's session cookie signs in, for pages reached without the user dependency
    (error pages); nobody when the cookie is stale or the database cannot say."""
    token = cookie_session_token(request)
    if not token:
        return None
    try:
        with request.app.state.services.read_session() as session:
            user: User | None = user_for_login_session(session, token)
    except SQLAlchemyError as error:
        # The error page must render even when the database is what failed.
        _logger.warning("error page shown without its user: %s", error)
        return None
    if user is not None:
        note_user_locale(request, user.locale)
    return user


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """The error page: what went wrong, in words, with the HTTP status."""
    return render(
        request,
        "error.html",
        signed_in_user(request),
        status_code,
        status=status_code,
        message=message,
    )


def validation_message(request: Request, error: RequestValidationError) -> str:
    """What was wrong with a page's form or query: each field, in the page's language."""
    _ = gettext_for(request)
    problems = [
        _("%(field)s: %(problem)s")
        % {
            "field": " ".join(str(part) for part in item["loc"][1:]) or _("request"),
            "problem": item["msg"],
        }
        for item in error.errors()
    ]
    return "; ".join(problems)
