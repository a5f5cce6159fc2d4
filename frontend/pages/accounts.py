"""Account pages: sign in, create an account, sign out here or everywhere, verify the email
address, and verify an organisation's domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from frontend.deps import (
    OptionalUser,
    SameOrigin,
    ServicesDep,
    SessionDep,
    clear_session_cookie,
    cookie_session_token,
    open_session,
    set_session_cookie,
)
from frontend.pages.rendering import render
from registry.accounts.domains import check_domain_verification, start_domain_verification
from registry.accounts.repository import organisations_of
from registry.accounts.service import (
    SIGN_UP_RECEIVED,
    end_all_login_sessions,
    end_login_session,
    self_assignable_roles,
    sign_up,
)
from registry.accounts.verification import confirm_email, send_verification_link
from registry.errors import CopymarkError, TooManyRequests

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "login.html", user, heading="Sign in", action="/login")


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(
        request, "login.html", user, heading="Create account", action="/signup", signup=True
    )


@router.post("/login", response_model=None, dependencies=[SameOrigin])
def login(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    """Sign in; the form again with the reason on failure (429 with Retry-After when throttled)."""
    try:
        token = open_session(request, services, email, password)
    except CopymarkError as error:
        page = render(
            request,
            "login.html",
            None,
            error.status_code,
            heading="Sign in",
            action="/login",
            error=error.message,
            email=email,
        )
        if isinstance(error, TooManyRequests):
            page.headers["Retry-After"] = str(error.retry_after_s)
        return page
    response = RedirectResponse("/works", status_code=303)
    set_session_cookie(request, response, services, token)
    return response


@router.post("/signup", response_model=None, dependencies=[SameOrigin])
def signup(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "creator",
) -> Response:
    """Answers alike for a free and a taken address (see `sign_up`): the sign-in form with a
    notice, never a signed-in redirect that a taken address could not get. A new account is
    mailed its verification link."""
    try:
        user = sign_up(session, email=email, password=password, roles=self_assignable_roles([role]))
        mail = services.verification_mail
        if user is not None and mail.mailer is not None:
            send_verification_link(session, user, mail)
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


def _signed_out(request: Request, services: ServicesDep) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(request, response, services)
    return response


@router.post("/logout")
def logout(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> RedirectResponse:
    """Sign out of this browser; the user's other sessions stay signed in."""
    token = cookie_session_token(request)
    if token and user is not None:
        end_login_session(session, token)
    return _signed_out(request, services)


@router.post("/logout/everywhere")
def logout_everywhere(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> RedirectResponse:
    """Sign out of every browser and device this user is signed in on."""
    if user is not None:
        end_all_login_sessions(session, user)
    return _signed_out(request, services)


@router.get("/account", response_class=HTMLResponse, response_model=None)
def account_page(
    request: Request, user: OptionalUser, session: SessionDep, notice: str = ""
) -> Response:
    """The address and whether it is verified; organisations and their domain proofs."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return render(
        request,
        "account.html",
        user,
        organisations=organisations_of(session, user),
        notice=_NOTICES.get(notice, ""),
    )


_NOTICES = {
    "link-sent": "A new verification link is on its way: open it within two days.",
    "domain-verified": "The domain is verified: license checks now recognise it.",
}


@router.post("/account/email-verification", response_model=None)
def resend_verification_form(
    user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    send_verification_link(session, user, services.verification_mail)
    return RedirectResponse("/account?notice=link-sent", status_code=303)


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email_form(request: Request, user: OptionalUser, token: str = "") -> HTMLResponse:
    """The emailed link lands here; the address is confirmed by the button, never by the GET,
    so a mail scanner that follows links does not spend the link."""
    return render(request, "verify_email.html", user, token=token)


@router.post("/verify-email", response_class=HTMLResponse)
def verify_email(
    request: Request, session: SessionDep, token: Annotated[str, Form(max_length=100)]
) -> HTMLResponse:
    """No sign-in needed: the token is the proof."""
    verified = confirm_email(session, token)
    return render(request, "verify_email.html", None, verified=verified.email)


@router.post("/account/organisations/{organisation_id}/domain-verification", response_model=None)
def start_domain_form(
    organisation_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    start_domain_verification(session, user, organisation_id, services.domain_verifier)
    return RedirectResponse(f"/account#organisation-{organisation_id}", status_code=303)


@router.post(
    "/account/organisations/{organisation_id}/domain-verification/check", response_model=None
)
def check_domain_form(
    organisation_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    check_domain_verification(session, user, organisation_id, services.domain_verifier)
    return RedirectResponse("/account?notice=domain-verified", status_code=303)
