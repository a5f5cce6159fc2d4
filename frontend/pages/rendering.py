"""Rendering a page: the templates, the signed-in user and CSRF token every page needs, errors.

Every error a user can cause on a page answers a readable HTML page with the right status,
never the JSON API's error body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from frontend.deps import SESSION_COOKIE, csrf_token_for
from registry.models import User

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    services = request.app.state.services
    token = request.cookies.get(SESSION_COOKIE, "")
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": csrf_token_for(services, token) if token else "", **context},
        status_code=status_code,
    )


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """The error page: what went wrong, in words, with the HTTP status."""
    return render(request, "error.html", None, status_code, status=status_code, message=message)


def validation_message(error: RequestValidationError) -> str:
    problems = [
        f"{' '.join(str(part) for part in item['loc'][1:]) or 'request'}: {item['msg']}"
        for item in error.errors()
    ]
    return "; ".join(problems)
