"""Works pages: the public gallery, the owner's works, a work, its certificate and its check."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.charts import score_bar_percent
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.pages.rendering import render
from registry.bounds import RecordId
from registry.certificates import render_certificate_pdf, verify_certificate
from registry.errors import NotFound
from registry.models import User, Work
from registry.repository import (
    get_owned_work,
    list_owned_works,
    list_public_works,
    prior_art_conflicts,
    visible_work,
)
from registry.service import work_certificate, work_certificate_view

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: OptionalUser, session: SessionDep) -> HTMLResponse:
    return render(request, "home.html", user, works=list_public_works(session))


@router.get("/works", response_class=HTMLResponse, response_model=None)
def my_works(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "works.html", user, works=list_owned_works(session, user))


@dataclass(frozen=True, slots=True)
class ConflictView:
    """A prior-art conflict as shown: the earlier work only if the viewer may see it; otherwise
    not even its id (`Registered` follows the same rule)."""

    earlier_work: Work | None
    score: float
    resolution: str


@router.get("/works/{work_id}", response_class=HTMLResponse, response_model=None)
def work_page(
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    work = get_owned_work(session, user, work_id)
    conflicts = [
        ConflictView(
            _visible_or_none(session, conflict.earlier_work_id, user),
            conflict.score,
            conflict.resolution,
        )
        for conflict in prior_art_conflicts(session, work)
    ]
    check = verify_certificate(
        work_certificate(session, services.signer, work), services.signer.public_key
    )
    return render(
        request,
        "work.html",
        user,
        work=work,
        conflicts=conflicts,
        check=check,
        score_bar=score_bar_percent,
    )


def _visible_or_none(session: Session, work_id: int, viewer: User) -> Work | None:
    try:
        return visible_work(session, work_id, viewer)
    except NotFound:
        return None


@router.get("/works/{work_id}/thumbnail")
def thumbnail(
    work_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    work = visible_work(session, work_id, user)
    data = services.thumbnails.render(work.sha256)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/works/{work_id}/certificate.pdf")
def certificate_pdf(
    work_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
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
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> HTMLResponse:
    """Anyone holding a certificate's QR link lands here; a private work only for its owner."""
    work = visible_work(session, work_id, user)
    certificate = work_certificate(session, services.signer, work)
    view = work_certificate_view(session, services.signer, work, services.settings.base_url)
    check = verify_certificate(certificate, services.signer.public_key)
    return render(request, "verify.html", user, work=work, view=view, check=check)
