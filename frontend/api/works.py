"""Work endpoints: upload (single and bulk), list, read, withdraw, certificate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from frontend.deps import CurrentUser, OptionalUser, ServicesDep, SessionDep
from frontend.uploads import read_upload
from registry.bounds import RecordId
from registry.certificates import verify_certificate
from registry.db import unit_of_work
from registry.errors import CopymarkError, InvalidUpload
from registry.models import Visibility, Work, persisted_id
from registry.repository import get_owned_work, list_owned_works, visible_work
from registry.schemas import (
    CertificateCheckPublic,
    CertificatePublic,
    RegistrationFailure,
    RegistrationResult,
    WorkMetadata,
    WorkPublic,
)
from registry.service import Registered, Rejected, Upload, work_certificate

router = APIRouter(prefix="/works", tags=["works"])


def work_public(work: Work) -> WorkPublic:
    return WorkPublic.model_validate(work, from_attributes=True)


def result_of(outcome: Registered) -> RegistrationResult:
    return RegistrationResult(
        work_id=persisted_id(outcome.work),
        sha256=outcome.work.sha256,
        log_index=outcome.work.log_index,
        status=outcome.status,
        conflict_with=outcome.conflict_with,
        conflict=outcome.conflict_note,
        path=outcome.source,
    )


def metadata_from_form(
    title: str, description: str, tags: str, creators: str, created_on: str, visibility: str
) -> WorkMetadata:
    try:
        return WorkMetadata(
            title=title,
            description=description,
            tags=[tag for tag in tags.split(",") if tag.strip()],
            creators=[name for name in creators.split(",") if name.strip()],
            created_on=date.fromisoformat(created_on) if created_on else None,
            visibility=Visibility(visibility),
        )
    except (ValueError, ValidationError) as error:
        raise CopymarkError(f"invalid work metadata: {error}") from None


@router.post("", status_code=201)
async def upload_work(
    user: CurrentUser,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="the image")],
    title: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    tags: Annotated[str, Form(description="comma-separated")] = "",
    creators: Annotated[str, Form(description="comma-separated")] = "",
    created_on: Annotated[str, Form(description="YYYY-MM-DD")] = "",
    visibility: Annotated[str, Form()] = "public",
) -> RegistrationResult:
    metadata = metadata_from_form(title, description, tags, creators, created_on, visibility)
    upload = Upload(
        await read_upload(file, services.settings.max_upload_bytes),
        file.filename or "upload",
        metadata,
    )

    def register() -> Registered:
        # Its own unit of work, inside the pool: committed there, so the write lock is held for
        # the writes alone, and a client that hangs up cannot roll back under a running worker.
        with unit_of_work(services.session) as session:
            return services.registrar.register(session, user, upload)

    outcome = await services.compute.run(register)
    # Committed: with a sequenced log, the reply waits (off the compute threads) for the index.
    await run_in_threadpool(services.registrar.await_log_indexes, [outcome])
    return result_of(outcome)


@router.post("/batch", status_code=207)
async def upload_works(
    user: CurrentUser,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="the images")],
    visibility: Annotated[str, Form()] = "public",
) -> list[RegistrationResult | RegistrationFailure]:
    """Register many images; each gets its own result line, a bad file does not stop the others."""
    if len(files) > services.settings.max_batch_files:
        raise InvalidUpload(f"at most {services.settings.max_batch_files} files per batch")
    metadata = metadata_from_form("", "", "", "", "", visibility)
    # Each file is already spooled to a temporary file by the form parser; it is streamed from
    # there to the blob store, never read whole into memory.
    streams = [(upload.file, upload.filename or "upload") for upload in files]

    def register() -> list[Registered | Rejected]:
        with unit_of_work(services.session) as session:
            return services.registrar.register_streams(session, user, streams, metadata)

    outcomes = await services.compute.run(register)
    await run_in_threadpool(services.registrar.await_log_indexes, outcomes)
    return [
        result_of(o)
        if isinstance(o, Registered)
        else RegistrationFailure(path=o.source, error=o.message)
        for o in outcomes
    ]


@router.get("")
def list_works(user: CurrentUser, session: SessionDep) -> list[WorkPublic]:
    return [work_public(work) for work in list_owned_works(session, user)]


@router.get("/{work_id}")
def read_work(work_id: RecordId, user: CurrentUser, session: SessionDep) -> WorkPublic:
    return work_public(get_owned_work(session, user, work_id))


@router.delete("/{work_id}")
def withdraw(
    work_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> WorkPublic:
    return work_public(services.registrar.withdraw(session, user, work_id))


@router.get("/{work_id}/certificate")
def certificate(
    work_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> CertificatePublic:
    """The registration certificate; `copymark verify` checks it offline with the log's key."""
    work = get_owned_work(session, user, work_id)
    return CertificatePublic.model_validate(work_certificate(session, services.signer, work))


public_router = APIRouter(tags=["verification"])


@public_router.get("/verify/{work_id}")
def public_certificate(
    work_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> CertificatePublic:
    """Certificate of a public work (or the caller's own), for anyone to check offline."""
    work = visible_work(session, work_id, user)
    return CertificatePublic.model_validate(work_certificate(session, services.signer, work))


@public_router.post("/certificates/verify")
def check_certificate(certificate: dict[str, Any], services: ServicesDep) -> CertificateCheckPublic:
    """Check a certificate against this log's key; the same check `copymark verify` runs offline."""
    check = verify_certificate(certificate, services.signer.public_key)
    return CertificateCheckPublic(
        valid=check.valid,
        reason=check.reason,
        log_index=check.log_index,
        tree_size=check.tree_head.tree_size if check.tree_head else None,
        disclosed=check.disclosed,
    )
