"""Ownership dispute pages: the viewer's disputes, one dispute with its held royalties and the
decision forms, the later look-alike registrations the viewer may dispute, and the form that
opens a dispute."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from licensing.money import Money
from registry.bounds import RecordId
from registry.enforcement.disputes import (
    MAX_REASON,
    disputes_of,
    open_dispute,
    visible_dispute,
)
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.errors import NotFound
from registry.log.store import AttestationLog
from registry.models import Role, Work
from registry.repository import later_lookalikes, visible_work_ids
from settlement.models import HeldRoyalty
from settlement.service.holds import decide, holds_of

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class DisputeView:
    """A dispute with both works and what it holds, summed per currency."""

    dispute: OwnershipDispute
    work: Work | None
    earlier_work: Work | None
    held: list[Money]


def _held_totals(rows: list[HeldRoyalty]) -> list[Money]:
    """What the dispute's outcome decides about: what was held, less what refunds gave back."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.currency] += row.still_held_minor
    return [Money(amount, currency) for currency, amount in sorted(totals.items())]


def _view(session: Session, dispute: OwnershipDispute) -> DisputeView:
    return DisputeView(
        dispute,
        session.get(Work, dispute.work_id),
        session.get(Work, dispute.earlier_work_id),
        _held_totals(list(holds_of(session, dispute.id or 0))),
    )


@router.get("/disputes", response_class=HTMLResponse, response_model=None)
def disputes_page(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    """The viewer's disputes as claimant or respondent, and the later look-alikes not yet
    disputed."""
    if user is None:
        return to_sign_in(request)
    own = disputes_of(session, user)
    disputed = {(dispute.work_id, dispute.earlier_work_id) for dispute in own}
    lookalikes = [
        (conflict, earlier)
        for conflict, earlier in later_lookalikes(session, user)
        if (conflict.work_id, conflict.earlier_work_id) not in disputed
    ]
    visible = visible_work_ids(session, {conflict.work_id for conflict, _ in lookalikes}, user)
    return render(
        request,
        "disputes.html",
        user,
        disputes=[_view(session, dispute) for dispute in own],
        lookalikes=lookalikes,
        visible_later=visible,
        max_reason=MAX_REASON,
    )


@router.post("/disputes", response_model=None)
def open_dispute_form(
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    work_id: Annotated[RecordId, Form()],
    earlier_work_id: Annotated[RecordId, Form()],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Dispute a later registration of the viewer's work, then show the dispute."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    dispute = open_dispute(
        session,
        user,
        work_id,
        earlier_work_id,
        reason=reason,
        log=AttestationLog(session, services.signer),
    )
    return RedirectResponse(f"/disputes/{dispute.id}", status_code=303)


@router.get("/disputes/{dispute_id}", response_class=HTMLResponse, response_model=None)
def dispute_page(
    dispute_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """Both works, the reason, the held royalties, each logged step and the viewer's actions."""
    if user is None:
        return to_sign_in(request)
    dispute = visible_dispute(session, user, dispute_id)
    is_open = dispute.status == DisputeStatus.OPEN
    return render(
        request,
        "dispute.html",
        user,
        view=_view(session, dispute),
        holds=[
            (row, Money(row.amount_minor, row.currency), Money(row.refunded_minor, row.currency))
            for row in holds_of(session, dispute_id)
        ],
        may_concede=is_open and user.id == dispute.respondent_id,
        may_decide=is_open and user.has_role(Role.ADMIN),
    )


@router.post("/disputes/{dispute_id}/decision", response_model=None)
def decide_dispute_form(
    dispute_id: RecordId,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    outcome: Annotated[DisputeStatus, Form()],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Decide the dispute (administrators) or concede it (the respondent, as upheld)."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    decide(
        session,
        user,
        dispute_id,
        outcome,
        reason=reason,
        log=AttestationLog(session, services.signer),
    )
    return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)


@router.get("/disputes/{dispute_id}/works/{work_id}/thumbnail")
def dispute_thumbnail(
    dispute_id: RecordId,
    work_id: RecordId,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Either work of a dispute, for its parties, even when the work itself is private."""
    if user is None:
        raise NotFound(f"ownership dispute {dispute_id} not found")
    dispute = visible_dispute(session, user, dispute_id)
    work = (
        session.get(Work, work_id)
        if work_id in (dispute.work_id, dispute.earlier_work_id)
        else None
    )
    if work is None:
        raise NotFound(f"work {work_id} is not part of dispute {dispute_id}")
    return Response(
        services.thumbnails.render(work.sha256),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )
