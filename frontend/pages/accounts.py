"""Account pages: sign in, create an account, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.deps import SESSION_COOKIE, OptionalUser, ServicesDep, SessionDep, set_session_cookie
from frontend.pages.rendering import render
from frontend.services import Services
from registry.accounts.service import (
    SIGN_UP_RECEIVED,
    authenticate,
    end_login_session,
    self_assignable_roles,
    sign_up,
    start_login_session,
)
from registry.errors import CopymarkError
from registry.models import User

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "login.html", user, heading="Sign in", action="/login")


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(
        request, "login.html", user, heading="Create account", action="/signup", signup=True
    )


def _signed_in(services: Services, session: Session, user: User) -> Response:
    response = RedirectResponse("/works", status_code=303)
    set_session_cookie(response, services, start_login_session(session, user))
    return response


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = authenticate(session, email, password)
    except CopymarkError as error:
        return render(
            request,
            "login.html",
            None,
            401,
            heading="Sign in",
            action="/login",
            error=error.message,
            email=email,
        )
    return _signed_in(services, session, user)


@router.post("/signup", response_model=None)
def signup(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "creator",
) -> Response:
    """Answers alike for a free and a taken address (see `sign_up`): the sign-in form with a
    notice, never a signed-in redirect that a taken address could not get."""
    try:
        sign_up(session, email=email, password=password, roles=self_assignable_roles([role]))
    except CopymarkError as error:
        return render(
            request,
            "login.html",
            None,
            error.status_code,
            heading="Create account",
            action="/signup",
            signup=True,
            error=error.message,
            email=email,
        )
    return render(
        request,
        "login.html",
        None,
        heading="Sign in",
        action="/login",
        notice=SIGN_UP_RECEIVED,
        email=email,
    )


@router.post("/logout")
def logout(request: Request, user: OptionalUser, session: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token and user is not None:
        end_login_session(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
