"""Account pages: sign in (and back to the page that asked), create an account, sign out here or
everywhere, a forgotten password, verify the email address, and verify an organisation's
domain."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from frontend.deps import (
    OptionalUser,
    SameOrigin,
    ServicesDep,
    SessionDep,
    clear_session_cookie,
    client_address,
    cookie_session_token,
    open_session,
    set_session_cookie,
)
from frontend.i18n import gettext_for, locale_for
from frontend.pages.rendering import render
from frontend.pages.return_to import NEXT_PARAMETER, return_path, safe_return_path, to_sign_in
from frontend.services import Services
from registry.accounts.domains import check_domain_verification, start_domain_verification
from registry.accounts.recovery import (
    MAX_TOKEN_LENGTH,
    request_password_reset,
    reset_link_user,
    reset_password,
)
from registry.accounts.repository import organisations_of
from registry.accounts.service import (
    end_all_login_sessions,
    end_login_session,
    self_assignable_roles,
    set_locale,
    sign_up,
    user_for_login_session,
)
from registry.accounts.verification import confirm_email, send_verification_link
from registry.db import unit_of_work
from registry.errors import CopymarkError, Invalid, TooManyRequests
from registry.models import User

router = APIRouter(include_in_schema=False)


def _carrying_next(request: Request, path: str) -> str:
    """`path`, passing on the request's safe `next=` so the form comes back to that page."""
    wanted = safe_return_path(request.query_params.get(NEXT_PARAMETER))
    return f"{path}?{urlencode({NEXT_PARAMETER: wanted})}" if wanted else path


def _sign_in_page(
    request: Request, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    _ = gettext_for(request)
    return render(
        request,
        "login.html",
        user,
        status_code,
        heading=_("Sign in"),
        action=_carrying_next(request, "/login"),
        **context,
    )


def _sign_up_page(
    request: Request, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    _ = gettext_for(request)
    return render(
        request,
        "login.html",
        user,
        status_code,
        heading=_("Create account"),
        action=_carrying_next(request, "/signup"),
        signup=True,
        **context,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    """The sign-in form; `next=` names the page of this site to come back to afterwards."""
    return _sign_in_page(request, user)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return _sign_up_page(request, user)


@router.post("/login", response_model=None, dependencies=[SameOrigin])
def login(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    """Sign in and go back to the page that asked (a safe local `next=`), else to *My works*;
    the form again with the reason on failure (429 with Retry-After when throttled)."""
    try:
        token = open_session(request, services, email, password)
    except CopymarkError as error:
        page = _sign_in_page(
            request,
            None,
            error.status_code,
            error=error.translated(gettext_for(request)),
            email=email,
        )
        if isinstance(error, TooManyRequests):
            page.headers["Retry-After"] = str(error.retry_after_s)
        return page
    _adopt_page_language(request, services, token)
    response = RedirectResponse(return_path(request), status_code=303)
    set_session_cookie(request, response, services, token)
    return response


def _adopt_page_language(request: Request, services: Services, token: str) -> None:
    """An account that never chose a language takes the one it signed in with, so its emails
    are written in the language its person reads the pages in."""
    with unit_of_work(services.session) as session:
        user = user_for_login_session(session, token)
        if user is not None and user.locale is None:
            set_locale(session, user, locale_for(request))


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
        user = sign_up(
            session,
            email=email,
            password=password,
            roles=self_assignable_roles([role]),
            locale=locale_for(request),
        )
        mail = services.verification_mail
        if user is not None and mail.mailer is not None:
            send_verification_link(session, user, mail)
    except CopymarkError as error:
        return _sign_up_page(
            request,
            None,
            error.status_code,
            error=error.translated(gettext_for(request)),
            email=email,
        )
    _ = gettext_for(request)
    received = _(
        "If this email address had no account, its account is ready: sign in with the password "
        "you just chose. If it already had one, that account is unchanged: sign in with its own "
        "password."
    )
    return _sign_in_page(request, None, notice=received, email=email)


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
        return to_sign_in(request)
    _ = gettext_for(request)
    notices = {
        "link-sent": _("A new verification link is on its way: open it within two days."),
        "domain-verified": _("The domain is verified: license checks now recognise it."),
    }
    return render(
        request,
        "account.html",
        user,
        organisations=organisations_of(session, user),
        notice=notices.get(notice, ""),
    )


@router.post("/account/email-verification", response_model=None)
def resend_verification_form(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    if user is None:
        return to_sign_in(request)
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
    request: Request,
    organisation_id: int,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    if user is None:
        return to_sign_in(request)
    start_domain_verification(session, user, organisation_id, services.domain_verifier)
    return RedirectResponse(f"/account#organisation-{organisation_id}", status_code=303)


@router.post(
    "/account/organisations/{organisation_id}/domain-verification/check", response_model=None
)
def check_domain_form(
    request: Request,
    organisation_id: int,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    if user is None:
        return to_sign_in(request)
    check_domain_verification(session, user, organisation_id, services.domain_verifier)
    return RedirectResponse("/account?notice=domain-verified", status_code=303)


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_password_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "forgot_password.html", user)


@router.post("/password/forgot", response_class=HTMLResponse, dependencies=[SameOrigin])
def forgot_password(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
) -> HTMLResponse:
    """Mail a reset link if the address has an account; the answer is the same if it has none."""
    try:
        request_password_reset(
            session, services.verification_mail, email=email, client=client_address(request)
        )
    except CopymarkError as error:
        page = render(
            request,
            "forgot_password.html",
            user,
            error.status_code,
            error=error.translated(gettext_for(request)),
            email=email,
        )
        if isinstance(error, TooManyRequests):
            page.headers["Retry-After"] = str(error.retry_after_s)
        return page
    return render(request, "forgot_password.html", user, sent=True, email=email)


@router.get("/password/reset", response_class=HTMLResponse)
def reset_password_form(
    request: Request, user: OptionalUser, session: SessionDep, token: str = ""
) -> HTMLResponse:
    """The mailed link lands here: the form for a new password, if the link is still good.
    Showing the form does not spend the link; choosing the password does."""
    reset_link_user(session, token)
    return render(request, "reset_password.html", user, token=token)


@router.post("/password/reset", response_class=HTMLResponse, dependencies=[SameOrigin])
def choose_new_password(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """No sign-in needed: the token is the proof. Every session of the account ends, this
    browser's included, and the person signs in with the new password."""
    try:
        changed = reset_password(session, token, password)
    except Invalid as error:
        return render(
            request,
            "reset_password.html",
            None,
            error.status_code,
            token=token,
            error=error.translated(gettext_for(request)),
        )
    _ = gettext_for(request)
    page = _sign_in_page(
        request,
        None,
        notice=_("Your password is changed: sign in with it. Every other session was ended."),
        email=changed.email,
    )
    clear_session_cookie(request, page, services)
    return page
