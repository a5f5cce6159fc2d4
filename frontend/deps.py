"""Request dependencies: the unit of work per request, the acting user, CSRF on unsafe methods."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from frontend.services import Services
from registry.accounts.service import (
    SESSION_LIFETIME,
    user_for_api_key,
    user_for_login_session,
)
from registry.db import unit_of_work
from registry.errors import Forbidden, Unauthorized
from registry.models import User

SESSION_COOKIE = "copymark_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error."""
    with unit_of_work(services.session) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def set_session_cookie(response: Response, services: Services, token: str) -> None:
    """The login session's cookie: script cannot read it, and it lives as long as the session."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


def csrf_token_for(services: Services, session_token: str) -> str:
    key = services.settings.secret_key.encode()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def _authenticated_user(request: Request, session: SessionDep) -> User | None:
    # Sync on purpose: FastAPI runs it in the thread pool, so a database wait (SQLite's write
    # lock) never blocks the event loop that other requests need to finish and release it.
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization header must be 'Bearer <API key>'")
        return user_for_api_key(session, token.strip())
    session_token = request.cookies.get(SESSION_COOKIE)
    return user_for_login_session(session, session_token) if session_token else None


async def _optional_user(
    request: Request,
    services: ServicesDep,
    user: Annotated[User | None, Depends(_authenticated_user)],
) -> User | None:
    """The acting user; cookie-authenticated unsafe requests must carry the CSRF token."""
    session_token = request.cookies.get(SESSION_COOKIE)
    by_cookie = session_token is not None and not request.headers.get("authorization")
    if user is not None and by_cookie and session_token and request.method in _UNSAFE_METHODS:
        await _require_csrf(request, services, session_token)
    return user


async def _require_csrf(request: Request, services: ServicesDep, session_token: str) -> None:
    """Double-submit check that reads the form if needed; it never touches the database."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token_for(services, session_token)):
        raise Forbidden("missing or wrong CSRF token for a cookie-authenticated request")


OptionalUser = Annotated[User | None, Depends(_optional_user)]


def _current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized("sign in or send an API key: Authorization: Bearer <key>")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
