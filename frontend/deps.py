"""Request dependencies: the unit of work per request, the acting user, CSRF on unsafe methods,
sign-in behind the throttle, the session cookie, and the same-origin rule for sign-in forms."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlmodel import Session

from frontend.i18n import LANG_QUERY, LOCALES, note_user_locale
from frontend.services import Services
from registry.accounts.service import (
    SESSION_LIFETIME,
    end_login_session,
    set_locale,
    sign_in,
    start_login_session,
    user_for_api_key,
    user_for_login_session,
)
from registry.db import unit_of_work
from registry.errors import Forbidden, Unauthorized
from registry.models import User
from registry.notifications.service import unread_count
from similarity.images import ImageHeader

SESSION_COOKIE = "copymark_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_services(request: Request) -> Services:
    # Async: it only reads app state, so it needs no trip to the thread pool.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error."""
    with unit_of_work(services.session) as session:
        yield session


# Scoped to the endpoint: the commit happens before the response is sent, so a client that
# follows a redirect (or reads back what it wrote) sees the write, and a commit that fails is
# answered as a failure instead of after a success was already sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_read_session(services: ServicesDep) -> AsyncIterator[Session]:
    """A read-only transaction for pages that only read. On SQLite the request's unit of work
    takes the write lock when it begins, so read-write page views queue one behind another (and
    behind every writer) in the busy handler's sleeps; a read transaction never waits for it.

    Opened and closed on the event loop, not in a worker thread: neither can wait (the
    connection is taken at the first query, which runs in the endpoint's thread, and ending a
    read transaction waits for no lock), and a list page then makes two hand-offs to worker
    threads instead of four (in-process, the four cost about 1.8 ms of a page's 13).
    """
    with services.read_session() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def client_address(request: Request) -> str:
    """The address the request came from, as the server saw it (the sign-in throttle's key).

    Behind a reverse proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips naming
    the proxy, so this is the client and not the proxy. X-Forwarded-For is not read here: any
    client can write it, and a throttle keyed by it would be a throttle the attacker chooses.
    """
    return request.client.host if request.client else "unknown"


def _cookie_is_secure(request: Request, services: Services) -> bool:
    # Behind a TLS-terminating proxy the scheme is https once uvicorn trusts its headers; the
    # setting covers a proxy that does not say so.
    return services.settings.secure_cookies or request.url.scheme == "https"


def set_session_cookie(
    request: Request, response: Response, services: Services, token: str
) -> None:
    """The login session's cookie: script cannot read it, it lives as long as the session, and it
    is Secure (never sent over plain HTTP) when the request came over HTTPS or settings say so."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(request, services),
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


def clear_session_cookie(request: Request, response: Response, services: Services) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_cookie_is_secure(request, services)
    )


def cookie_session_token(request: Request) -> str | None:
    """The login session this request is made in: its cookie, unless an API key authenticates it."""
    if request.headers.get("authorization"):
        return None
    return request.cookies.get(SESSION_COOKIE) or None


def open_session(request: Request, services: Services, email: str, password: str) -> str:
    """Sign in (behind the throttle) and start a login session; returns its token.

    It opens its own unit of work instead of the request's (SessionDep), which rolls back when
    the request fails: a failed attempt must be committed although the answer is then a 401, or
    the throttle would never count it. This browser's previous session, if it sent one, ends
    (a new sign-in replaces it); the user's sessions elsewhere stay valid until signed out
    everywhere (`DELETE /api/v1/sessions`).
    """
    failure: Unauthorized | None = None
    token = ""
    with unit_of_work(services.session) as session:
        try:
            user = sign_in(
                session,
                services.login_throttle,
                email=email,
                password=password,
                address=client_address(request),
            )
        except Unauthorized as error:
            failure = error
        else:
            previous = request.cookies.get(SESSION_COOKIE)
            if previous:
                end_login_session(session, previous)
            token = start_login_session(session, user)
    if failure is not None:
        raise failure
    return token


def _origin(url: str) -> str:
    """scheme://host[:port] in lower case, without a default port: how browsers write Origin."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


async def require_same_origin(request: Request, services: ServicesDep) -> None:
    """Refuse a sign-in or sign-up form that another website made the browser post.

    Such a post (login CSRF) would sign the visitor into an account the other site chose, or
    create one, without a CSRF token to stop it since there is no session yet. Browsers send
    Origin with every POST, and Sec-Fetch-Site; either must say the app's own origin: the
    configured base_url or the origin the request was addressed to (its Host header).
    A request with neither header is not a browser's (curl, scripts, API clients) and passes.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        allowed = {_origin(services.settings.base_url), _origin(str(request.base_url))}
        if _origin(origin) in allowed - {""}:
            return
    elif request.headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}:
        return
    raise Forbidden(
        "This form was sent from another website, so it was refused to protect your account. "
        f"Go to {services.settings.base_url.rstrip('/')} and use the form there."
    )


SameOrigin = Depends(require_same_origin)


def csrf_token_for(services: Services, session_token: str) -> str:
    key = services.settings.secret_key.encode()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def _authenticated_user(request: Request, services: ServicesDep) -> User | None:
    # Sync on purpose: FastAPI runs it in the thread pool, so a database wait never blocks the
    # event loop. A lookup only reads, so it reads in a read-only transaction of its own: on
    # SQLite the request's unit of work takes the write lock when it begins, and a search
    # signed in with an API key would otherwise hold it for the whole search.
    authorization = request.headers.get("authorization", "")
    with services.read_session() as session:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized(
                    "The Authorization header must be 'Bearer <API key>' (a key starting with "
                    "cmk_)."
                )
            return user_for_api_key(session, token.strip())
        session_token = request.cookies.get(SESSION_COOKIE)
        user = user_for_login_session(session, session_token) if session_token else None
        if user is not None and request.method == "GET":
            # The page's header shows the bell: count in this transaction, not in one more.
            note_unread_notifications(request, user, unread_count(session, user))
    if user is not None:
        remember_switched_language(request, services, user)
    return user


def note_unread_notifications(request: Request, user: User, count: int) -> None:
    """Keep the user's unread count, read while signing the request in, for the page's bell."""
    request.state.unread_notifications = (user.id, count)


def noted_unread_notifications(request: Request, user: User) -> int | None:
    """The unread count noted for this user while signing the request in, if it was."""
    noted = getattr(request.state, "unread_notifications", None)
    return noted[1] if noted is not None and noted[0] == user.id else None


def remember_switched_language(request: Request, services: Services, user: User) -> None:
    """A signed-in user who used the language switcher (`?lang=`) keeps that language: their
    pages in other browsers and their emails follow it. The request notes it either way."""
    switched = request.query_params.get(LANG_QUERY)
    if switched in LOCALES and switched != user.locale:
        with unit_of_work(services.session) as session:
            stored = session.get(User, user.id)
            if stored is not None:
                set_locale(session, stored, switched)
        user.locale = switched
    note_user_locale(request, user.locale)


async def _optional_user(
    request: Request,
    services: ServicesDep,
    user: Annotated[User | None, Depends(_authenticated_user)],
) -> User | None:
    """The acting user; cookie-authenticated unsafe requests must carry the CSRF token."""
    session_token = request.cookies.get(SESSION_COOKIE)
    by_cookie = session_token is not None and not request.headers.get("authorization")
    if user is not None and by_cookie and session_token and request.method in UNSAFE_METHODS:
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
        raise Forbidden(
            "This request was refused for your safety: its CSRF token is missing or out of "
            "date. Reload the page and try again (scripts signed in with a cookie send the "
            "X-CSRF-Token header that sign-in answered)."
        )


OptionalUser = Annotated[User | None, Depends(_optional_user)]


async def _current_user(user: OptionalUser) -> User:
    # Async, as every dependency that reads nothing: a sync one costs a trip to the thread pool.
    if user is None:
        raise Unauthorized(
            "You are not signed in: sign in, or send an API key as Authorization: Bearer <key>."
        )
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


async def _query_admission(
    request: Request, services: ServicesDep, user: OptionalUser
) -> Callable[[ImageHeader], None] | None:
    """How a search image is admitted before it is decoded: an anonymous client spends its
    address's pixel allowance; a signed-in one is bounded by the per-image budget alone."""
    if user is not None:
        return None
    address = client_address(request)

    def charge(header: ImageHeader) -> None:
        services.anonymous_pixels.charge(address, header.decoded_pixels)

    return charge


QueryAdmission = Annotated[Callable[[ImageHeader], None] | None, Depends(_query_admission)]
