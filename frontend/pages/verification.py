"""Public checks anyone can make: a work's registration (its page and its printable PDF), a
certificate uploaded as JSON or PDF with each step of its check, and "is this use licensed?"."""

from __future__ import annotations

import json
from typing import Annotated, Final

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from frontend.addresses import public_base_url
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.i18n import format_datetime, gettext_for, locale_for
from frontend.pages.rendering import render
from frontend.services import Services
from licensing.errors import InvalidDomainError
from licensing.models import LicenseGrant
from licensing.service.license_check import licensed_grants
from licensing.service.offers import offers_with_terms
from registry.bounds import RecordId
from registry.certificates import (
    CheckStep,
    PdfExtras,
    StepKind,
    certificate_in_pdf,
    published_head_step,
    read_json_document,
    render_certificate_pdf,
    verify_certificate_steps,
)
from registry.enforcement.service import legal_profile
from registry.errors import Invalid, NotFound
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import User, Work
from registry.repository import visible_work
from registry.service import work_certificate, work_certificate_view

router = APIRouter(include_in_schema=False)

PDF_MAGIC: Final = b"%PDF-"
# Under the default request body limit, with room for the form around the file.
MAX_UPLOAD_BYTES: Final = 900 * 1024


def _owner_name(session: Session, work: Work) -> str | None:
    """The owner's legal name when they gave one (it signs their notices), else None."""
    owner = session.get(User, work.owner_id)
    profile = legal_profile(session, owner) if owner is not None else None
    return profile.legal_name if profile is not None else None


def _checked_steps(
    session: Session, services: Services, certificate: object
) -> tuple[bool, list[CheckStep], int | None]:
    """The offline steps, then whether this log published the certificate's tree head."""
    check, steps = verify_certificate_steps(certificate, services.signer.public_key)
    if check.tree_head is not None and check.valid:
        steps.append(published_head_step(AttestationLog(session), check.tree_head))
    else:
        steps.append(CheckStep(StepKind.PUBLISHED, None))
    valid = all(step.passed for step in steps)
    event = check.event
    work_id = getattr(event, "work_id", None) if valid and event is not None else None
    return valid, steps, work_id if isinstance(work_id, int) else None


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
    view = work_certificate_view(
        session,
        services.signer,
        work,
        public_base_url(request, services.settings),
        owner_name=_owner_name(session, work),
    )
    valid, steps, _work_id = _checked_steps(session, services, certificate)
    offers = offers_with_terms(session, user, work_id)
    return render(
        request, "verify.html", user, work=work, view=view, valid=valid, steps=steps, offers=offers
    )


@router.get("/works/{work_id}/certificate.pdf")
def certificate_pdf(
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """The printable certificate, in the page's language, its QR code and "verify at" naming the
    address this app is reached at; the JSON certificate rides inside for upload checks."""
    work = visible_work(session, work_id, user)
    view = work_certificate_view(
        session,
        services.signer,
        work,
        public_base_url(request, services.settings),
        owner_name=_owner_name(session, work),
    )
    locale = locale_for(request)
    extras = PdfExtras(
        image_jpeg=services.thumbnails.render(work.sha256),
        certificate=work_certificate(session, services.signer, work),
        local_time=format_datetime(view.registered, locale) if view.registered else None,
        translate=gettext_for(request),
    )
    return Response(
        render_certificate_pdf(view, extras),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="copymark-work-{work_id}.pdf"'},
    )


@router.get("/verify", response_class=HTMLResponse)
def check_page(request: Request, user: OptionalUser) -> HTMLResponse:
    """The form: upload a certificate (JSON or the PDF) or paste its JSON."""
    return render(request, "check_certificate.html", user, steps=None)


@router.post("/verify", response_class=HTMLResponse)
async def check_upload(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    certificate_file: Annotated[UploadFile | None, File()] = None,
    certificate_text: Annotated[str, Form(max_length=MAX_UPLOAD_BYTES)] = "",
) -> HTMLResponse:
    """Check the uploaded or pasted certificate and show what each step found."""
    data = certificate_text.encode("utf-8")
    name = ""
    if certificate_file is not None and certificate_file.filename:
        data = await certificate_file.read(MAX_UPLOAD_BYTES + 1)
        name = certificate_file.filename[:200]
    if not data.strip():
        raise Invalid(N_("choose a certificate file (JSON or PDF) or paste its JSON"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(
            N_("a certificate file is at most %(count)s KiB"), count=MAX_UPLOAD_BYTES // 1024
        )
    document = certificate_in_pdf(data) if data.startswith(PDF_MAGIC) else data
    certificate = read_json_document(document, N_("certificate"))
    valid, steps, work_id = _checked_steps(session, services, certificate)
    return render(
        request,
        "check_certificate.html",
        user,
        steps=steps,
        valid=valid,
        file_name=name,
        from_pdf=data.startswith(PDF_MAGIC),
        work_id=work_id,
        pretty=json.dumps(certificate, indent=2, ensure_ascii=False)[:4000],
    )


@router.get("/licensed", response_class=HTMLResponse)
def licence_check_page(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    work: Annotated[str, Query(max_length=20)] = "",
    site: Annotated[str, Query(max_length=2048)] = "",
) -> HTMLResponse:
    """Is this work licensed for use on this site? Only active grants to organisations whose
    domain is verified count; each comes with its certificate."""
    answer: list[LicenseGrant] | None = None
    checked_work: Work | None = None
    problem = None
    status_code = 200
    if work or site:
        try:
            checked_work, answer = _licence_answer(session, user, work, site)
        except (Invalid, InvalidDomainError, NotFound) as error:
            problem = str(error)
            status_code = error.status_code
    return render(
        request,
        "licensed.html",
        user,
        status_code,
        work_text=work,
        site=site,
        checked_work=checked_work,
        grants=answer,
        problem=problem,
    )


def _licence_answer(
    session: Session, user: User | None, work_text: str, site: str
) -> tuple[Work, list[LicenseGrant]]:
    number = work_text.strip().lstrip("#")
    if not number.isdigit() or not 0 < int(number) < 2**31:
        raise Invalid("enter the work's number, as on its certificate (for example 12)")
    if not site.strip():
        raise Invalid("enter the site's address or domain, for example shop.example.com")
    work = visible_work(session, int(number), user)
    return work, list(licensed_grants(session, int(number), site.strip()))
