"""Ownership disputes: an owner disputes another's registration of the same work; an
administrator decides (or the respondent concedes); the royalties held meanwhile follow."""

from __future__ import annotations

from fastapi import APIRouter

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from registry.bounds import RecordId
from registry.enforcement.disputes import disputes_of, open_dispute, visible_dispute
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.enforcement.schemas import DisputeCreate, DisputeDecision, DisputePublic
from registry.log.store import AttestationLog
from settlement.schemas import HeldRoyaltyPublic
from settlement.service.holds import decide, holds_of

router = APIRouter(tags=["disputes"])


def _public(dispute: OwnershipDispute) -> DisputePublic:
    return DisputePublic.model_validate(dispute, from_attributes=True)


@router.post("/disputes", status_code=201)
def raise_dispute(
    request: DisputeCreate, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> DisputePublic:
    """Dispute a later registration of your work: its royalties are held, its offers paused."""
    dispute = open_dispute(
        session,
        user,
        request.work_id,
        request.earlier_work_id,
        reason=request.reason,
        log=AttestationLog(session, services.signer),
    )
    return _public(dispute)


@router.get("/disputes")
def list_disputes(user: CurrentUser, session: SessionDep) -> list[DisputePublic]:
    """The disputes you raised or answer, newest first."""
    return [_public(dispute) for dispute in disputes_of(session, user)]


@router.get("/disputes/{dispute_id}")
def read_dispute(dispute_id: RecordId, user: CurrentUser, session: SessionDep) -> DisputePublic:
    return _public(visible_dispute(session, user, dispute_id))


@router.get("/disputes/{dispute_id}/held-royalties")
def held_royalties(
    dispute_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[HeldRoyaltyPublic]:
    """What was held because of the dispute, with the reason, and where it went."""
    visible_dispute(session, user, dispute_id)
    return [
        HeldRoyaltyPublic.model_validate(row, from_attributes=True)
        for row in holds_of(session, dispute_id)
    ]


@router.post("/disputes/{dispute_id}/decision")
def decide_dispute(
    dispute_id: RecordId,
    request: DisputeDecision,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> DisputePublic:
    """Decide a dispute (administrators; the respondent may concede): upheld redirects the held
    royalties to the claimant, rejected releases them to the parties."""
    dispute = decide(
        session,
        user,
        dispute_id,
        DisputeStatus(request.outcome),
        reason=request.reason,
        log=AttestationLog(session, services.signer),
    )
    return _public(dispute)
