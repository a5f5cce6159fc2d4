"""Server-rendered pages; each view calls a service and renders a template, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import select

from frontend.deps import SESSION_COOKIE, OptionalUser, ServicesDep, SessionDep, csrf_token_for
from registry.accounts import authenticate, create_user, end_login_session, start_login_session
from registry.certificates import render_certificate_pdf, verify_certificate
from registry.errors import RegistryError
from registry.log.store import AttestationLog
from registry.models import PriorArtConflict, Role
from registry.repository import list_owned_works, list_public_works, visible_work
from registry.service import get_owned_work, work_certificate, work_certificate_view

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, name: str, user: Any, status_code: int = 200, **context: Any
) -> HTMLResponse:
    services = request.app.state.services
    token = request.cookies.get(SESSION_COOKIE, "")
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": csrf_token_for(services, token) if token else "", **context},
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: OptionalUser, session: SessionDep) -> HTMLResponse:
    return render(request, "home.html", user, works=list_public_works(session))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "login.html", user, heading="Sign in", action="/login")


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(
        request, "login.html", user, heading="Create account", action="/signup", signup=True
    )


def _signed_in(services: Any, session: Any, user: Any) -> Response:
    token = start_login_session(session, user)
    response = RedirectResponse("/works", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
        max_age=14 * 24 * 3600,
    )
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
    except RegistryError as error:
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
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "creator",
) -> Response:
    try:
        if role not in {Role.CREATOR, Role.RIGHTS_HOLDER, Role.BRAND}:
            raise RegistryError(f"unknown role {role!r}")
        user = create_user(session, email=email, password=password, roles={Role(role)})
    except RegistryError as error:
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
    return _signed_in(services, session, user)


@router.post("/logout")
def logout(request: Request, user: OptionalUser, session: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token and user is not None:
        end_login_session(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/works", response_class=HTMLResponse, response_model=None)
def my_works(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "works.html", user, works=list_owned_works(session, user))


@router.get("/works/{work_id}", response_class=HTMLResponse, response_model=None)
def work_page(work_id: int, request: Request, user: OptionalUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    work = get_owned_work(session, user, work_id)
    conflicts = session.exec(
        select(PriorArtConflict).where(PriorArtConflict.work_id == work_id)
    ).all()
    return render(request, "work.html", user, work=work, conflicts=conflicts)


@router.get("/works/{work_id}/thumbnail")
def thumbnail(
    work_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    work = visible_work(session, work_id, user)
    data = services.thumbnails.render(work.sha256)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/works/{work_id}/certificate.pdf")
def certificate_pdf(
    work_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    work = visible_work(session, work_id, user)
    view = work_certificate_view(session, services.signer, work, services.settings.base_url)
    return Response(
        render_certificate_pdf(view),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="copymark-work-{work_id}.pdf"'},
    )


@router.get("/verify/{work_id}", response_class=HTMLResponse)
def verify_page(
    work_id: int, request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """Anyone holding a certificate's QR link lands here; a private work only for its owner."""
    work = visible_work(session, work_id, user)
    certificate = work_certificate(session, services.signer, work)
    view = work_certificate_view(session, services.signer, work, services.settings.base_url)
    check = verify_certificate(certificate, services.signer.public_key)
    return render(request, "verify.html", user, work=work, view=view, check=check)


@router.get("/log", response_class=HTMLResponse)
def log_page(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    log = AttestationLog(session)
    head = log.latest_head()
    size = log.tree_size()
    entries = [log.leaf(index) for index in range(size - 1, max(size - 25, 0) - 1, -1)]
    signed_at = (
        datetime.fromtimestamp(head.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if head
        else ""
    )
    return render(
        request,
        "log.html",
        user,
        head=head,
        entries=entries,
        signed_at=signed_at,
        public_key=services.signer.public_key.to_base64(),
    )
