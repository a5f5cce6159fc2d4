"""Works pages: the public gallery, the owner's works and their upload, a work, its editing,
withdrawal and conflicts, its certificate and its check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from frontend.charts import score_bar_percent
from frontend.deps import OptionalUser, ReadSessionDep, ServicesDep, SessionDep
from frontend.i18n import gettext_for
from frontend.pages.paging import page_count, page_links, whole_page_number
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from frontend.uploads import refusal_sentence
from registry.bounds import RecordId
from registry.certificates import verify_certificate
from registry.db import unit_of_work
from registry.errors import InvalidUpload, NotFound
from registry.models import PriorArtConflict, User, Visibility, Work, WorkStatus
from registry.repository import (
    count_owned_works,
    get_owned_work,
    list_owned_works,
    prior_art_conflicts,
    visible_work,
)
from registry.schemas import WorkMetadata, WorkUpdate
from registry.service import (
    ConflictAnswer,
    Registered,
    Rejected,
    resolve_conflict,
    update_work,
    work_certificate,
)

router = APIRouter(include_in_schema=False)

# A page of cards is what a designer scans at once, and what the page renders quickly.
WORKS_PAGE_SIZE = 24


@router.get("/works", response_class=HTMLResponse, response_model=None)
def my_works(
    request: Request,
    user: OptionalUser,
    session: ReadSessionDep,
    page: Annotated[str, Query(max_length=32)] = "1",
) -> Response:
    """The owner's works, a page of thumbnails at a time, under the drop zone that adds more.

    A page that is not a whole number is a 422 and one past the last a 404, each saying so and
    linking back to the pages there are.
    """
    if user is None:
        return to_sign_in(request)
    _ = gettext_for(request)
    total = count_owned_works(session, user)
    pages = page_count(total, WORKS_PAGE_SIZE)
    number = whole_page_number(page)
    if number is None or number > pages:
        problem = (
            _("Pages are numbered 1, 2, 3 and so on: “%(page)s” is not one.") % {"page": page}
            if number is None
            else _("There is no page %(page)s: your works fill %(pages)s pages.")
            % {"page": number, "pages": pages}
        )
        return render(
            request,
            "works.html",
            user,
            422 if number is None else 404,
            works=[],
            total=total,
            problem=problem,
            last_page=str(request.url.include_query_params(page=pages)),
        )
    works = list_owned_works(
        session, user, limit=WORKS_PAGE_SIZE, offset=(number - 1) * WORKS_PAGE_SIZE
    )
    first = (number - 1) * WORKS_PAGE_SIZE + 1
    return render(
        request,
        "works.html",
        user,
        works=works,
        total=total,
        first=first,
        last=first + len(works) - 1,
        pages=page_links(request, number, pages),
    )


@router.post("/works/upload", response_class=HTMLResponse, response_model=None)
async def upload_one(
    request: Request,
    user: OptionalUser,
    services: ServicesDep,
    file: Annotated[UploadFile, File()],
    visibility: Annotated[Visibility, Form()] = Visibility.PUBLIC,
) -> Response:
    """Register one dropped file and answer its result line; the page sends files one by one so
    each has its own progress, and every line stays on screen."""
    if user is None:
        return to_sign_in(request)
    source = file.filename or "upload"

    def register() -> Registered | Rejected:
        with unit_of_work(services.session) as session:
            (outcome,) = services.registrar.register_streams(
                session, user, [(file.file, source)], WorkMetadata(visibility=visibility)
            )
            return outcome

    outcome = await services.compute.run(register)
    await run_in_threadpool(services.registrar.await_log_indexes, [outcome])
    refusal = (
        refusal_sentence(outcome.wording, gettext_for(request))
        if isinstance(outcome, Rejected)
        else None
    )
    return render(
        request,
        "upload_result.html",
        user,
        source=source,
        outcome=outcome if isinstance(outcome, Registered) else None,
        refusal=refusal,
        score_bar=score_bar_percent,
    )


@dataclass(frozen=True, slots=True)
class ConflictView:
    """A prior-art conflict as shown: the earlier work only if the viewer may see it; otherwise
    not even its id (`Registered` follows the same rule)."""

    earlier_work: Work | None
    conflict: PriorArtConflict


@router.get("/works/{work_id}", response_class=HTMLResponse, response_model=None)
def work_page(
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    if user is None:
        return to_sign_in(request)
    work = get_owned_work(session, user, work_id)
    conflicts = [
        ConflictView(_visible_or_none(session, conflict.earlier_work_id, user), conflict)
        for conflict in prior_art_conflicts(session, work)
    ]
    # None while the log's sequencer has yet to append the work's leaf: the page says so.
    check = (
        None
        if work.log_index is None
        else verify_certificate(
            work_certificate(session, services.signer, work), services.signer.public_key
        )
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


@router.get("/works/{work_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_page(
    work_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    if user is None:
        return to_sign_in(request)
    return render(request, "work_edit.html", user, work=get_owned_work(session, user, work_id))


def _names(text: str) -> list[str]:
    return [name for name in text.replace("\n", ",").split(",") if name.strip()]


@router.post("/works/{work_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_work(
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    creators: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    visibility: Annotated[Visibility, Form()] = Visibility.PUBLIC,
) -> Response:
    """Save the owner's changes; a refused change shows the form again with its reasons."""
    if user is None:
        return to_sign_in(request)
    work = get_owned_work(session, user, work_id)
    _ = gettext_for(request)
    try:
        changes = WorkUpdate(
            title=title,
            description=description,
            creators=_names(creators),
            tags=_names(tags),
            visibility=visibility,
        )
    except ValidationError as error:
        problems = [_edit_problem(str(item["loc"][0]), _) for item in error.errors()]
        return render(
            request, "work_edit.html", user, status_code=422, work=work, problems=problems
        )
    update_work(session, user, work_id, changes)
    return RedirectResponse(f"/works/{work_id}?saved=1", status_code=303)


def _edit_problem(field: str, gettext: Callable[[str], str]) -> str:
    return {
        "title": gettext("A work needs a title of at most 300 characters."),
        "description": gettext("The description has at most 5,000 characters."),
        "creators": gettext("Name at most 20 creators, each in at most 100 characters."),
        "tags": gettext("Use at most 50 tags, each of at most 100 characters."),
    }.get(field, gettext("Check the form: a value is not accepted."))


@router.get("/works/{work_id}/withdraw", response_class=HTMLResponse, response_model=None)
def withdraw_page(
    work_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """Ask before withdrawing: it cannot be undone from the page."""
    if user is None:
        return to_sign_in(request)
    return render(request, "work_withdraw.html", user, work=get_owned_work(session, user, work_id))


@router.post("/works/{work_id}/withdraw", response_model=None)
def withdraw_work(
    work_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if user is None:
        return to_sign_in(request)
    if confirm != "yes":
        return RedirectResponse(f"/works/{work_id}/withdraw", status_code=303)
    work = get_owned_work(session, user, work_id)
    if work.status != WorkStatus.WITHDRAWN:
        services.registrar.withdraw(session, user, work_id)
    return RedirectResponse(f"/works/{work_id}", status_code=303)


@router.post("/works/{work_id}/conflicts/{conflict_id}", response_model=None)
def answer_conflict(
    work_id: RecordId,
    conflict_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    answer: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The later uploader's answer to a prior-art conflict: not a copy, or the work is theirs."""
    if user is None:
        return to_sign_in(request)
    if answer not in ("not_a_copy", "claimed"):
        raise InvalidUpload("answer with 'not_a_copy' or 'claimed'")
    chosen: ConflictAnswer = "claimed" if answer == "claimed" else "not_a_copy"
    resolve_conflict(session, user, work_id, conflict_id, answer=chosen, note=note)
    return RedirectResponse(f"/works/{work_id}#conflict-{conflict_id}", status_code=303)


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
