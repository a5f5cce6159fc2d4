"""Ownership disputes: an owner claims that another's later registration is their own work.

A dispute names the disputed registration and the claimant's earlier one (a prior-art conflict
is the usual way there). At most one dispute is open per work. It is decided once, by an
administrator or by the respondent conceding: `upheld` (the claimant is the rightful owner) or
`rejected`. Opening and deciding are leaves on the log carrying the SHA-256 of the stated reason.
What a dispute does to money and offers is settlement's and licensing's business; they ask
`open_dispute_of_work`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.enforcement.errors import DisputeRefused, InvalidCaseRequest
from registry.enforcement.events import DisputeStepEvent
from registry.enforcement.models import MAX_ROW_ID, DisputeStatus, OwnershipDispute
from registry.errors import Forbidden, NotFound
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import Role, User, Work, persisted_id, utcnow
from registry.notifications.service import notify
from registry.repository import get_owned_work

DISPUTE_KIND = "enforcement.ownership_dispute"
MAX_REASON = 5000


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def open_dispute_of_work(session: Session, work_id: int) -> OwnershipDispute | None:
    """The dispute open on a work, if any."""
    return session.exec(
        select(OwnershipDispute).where(
            OwnershipDispute.work_id == work_id, OwnershipDispute.status == DisputeStatus.OPEN
        )
    ).first()


def visible_dispute(session: Session, viewer: User, dispute_id: int) -> OwnershipDispute:
    """A dispute its claimant, its respondent or an administrator may see."""
    dispute = session.get(OwnershipDispute, dispute_id) if 0 < dispute_id <= MAX_ROW_ID else None
    if dispute is None or not (
        viewer.id in (dispute.claimant_id, dispute.respondent_id) or viewer.has_role(Role.ADMIN)
    ):
        raise NotFound(N_("ownership dispute %(dispute)s not found"), dispute=dispute_id)
    return dispute


def disputes_of(session: Session, viewer: User) -> Sequence[OwnershipDispute]:
    """The disputes the viewer raised or answers, newest first."""
    return session.exec(
        select(OwnershipDispute)
        .where(
            (col(OwnershipDispute.claimant_id) == viewer.id)
            | (col(OwnershipDispute.respondent_id) == viewer.id)
        )
        .order_by(col(OwnershipDispute.id).desc())
    ).all()


def open_dispute(
    session: Session,
    claimant: User,
    work_id: int,
    earlier_work_id: int,
    *,
    reason: str,
    log: AttestationLog,
) -> OwnershipDispute:
    """Dispute another owner's registration of a work the claimant registered earlier."""
    earlier = get_owned_work(session, claimant, earlier_work_id)
    work = session.get(Work, work_id) if 0 < work_id <= MAX_ROW_ID else None
    if work is None:
        raise NotFound(N_("work %(work)s not found"), work=work_id)
    if work.owner_id == claimant.id:
        raise DisputeRefused(
            N_("work %(work)s is yours already: there is nothing to dispute"), work=work_id
        )
    if (earlier.log_index or 0) >= (work.log_index or 0):
        raise DisputeRefused(
            N_(
                "your work %(earlier)s was registered after work %(work)s: a dispute rests on "
                "the earlier registration"
            ),
            earlier=earlier_work_id,
            work=work_id,
        )
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidCaseRequest(
            N_("say why the work is yours, in 1 to %(count)s characters"), count=MAX_REASON
        )
    current = open_dispute_of_work(session, work_id)
    if current is not None:
        raise DisputeRefused(
            N_("work %(work)s is already disputed (dispute %(dispute)s)"),
            work=work_id,
            dispute=persisted_id(current),
        )
    moment = utcnow()
    dispute = OwnershipDispute(
        work_id=work_id,
        earlier_work_id=earlier_work_id,
        claimant_id=persisted_id(claimant),
        respondent_id=work.owner_id,
        reason=text,
        opened_log_index=0,
        opened_at=moment,
    )
    session.add(dispute)
    session.flush()
    dispute.opened_log_index = _log_step(dispute, "opened", text, log)
    session.add(dispute)
    session.flush()
    respondent = session.get(User, work.owner_id)
    if respondent is not None:
        notify(
            session,
            respondent,
            DISPUTE_KIND,
            N_("Your registration of work %(work)s is disputed"),
            N_(
                "The owner of work %(earlier)s, registered earlier, says work %(work)s is "
                "theirs. Until the dispute is decided, the work's royalties are held and its "
                "offers take no new licences.\n\n%(reason)s"
            ),
            {"dispute_id": persisted_id(dispute), "work_id": work_id},
            params={"work": work_id, "earlier": earlier_work_id, "reason": text},
        )
    return dispute


def decide_dispute(
    session: Session,
    actor: User,
    dispute_id: int,
    outcome: DisputeStatus,
    *,
    reason: str,
    log: AttestationLog,
) -> OwnershipDispute:
    """Record a dispute's outcome: an administrator decides; the respondent may concede."""
    dispute = visible_dispute(session, actor, dispute_id)
    conceding = actor.id == dispute.respondent_id and outcome == DisputeStatus.UPHELD
    if not (actor.has_role(Role.ADMIN) or conceding):
        raise Forbidden(
            N_("only an administrator decides a dispute; the respondent may concede it (upheld)")
        )
    if outcome == DisputeStatus.OPEN:
        raise InvalidCaseRequest(N_("a dispute is decided as upheld or rejected"))
    if dispute.status != DisputeStatus.OPEN:
        raise DisputeRefused(
            N_("ownership dispute %(dispute)s was already %(status)s"),
            dispute=dispute_id,
            status=dispute.status.in_words(),
        )
    text = reason.strip() or f"decided {outcome.value}"
    dispute.status = outcome
    dispute.resolved_at = utcnow()
    dispute.outcome_log_index = _log_step(dispute, outcome.value, text[:MAX_REASON], log)
    session.add(dispute)
    session.flush()
    for user_id in (dispute.claimant_id, dispute.respondent_id):
        party = session.get(User, user_id)
        if party is not None:
            notify(
                session,
                party,
                DISPUTE_KIND,
                *_decision_wording(outcome),
                {"dispute_id": dispute_id, "work_id": dispute.work_id},
                params={"dispute": dispute_id, "work": dispute.work_id, "reason": text},
            )
    return dispute


def _decision_wording(outcome: DisputeStatus) -> tuple[str, str]:
    """The decision's subject and body templates, with `dispute`, `work` and `reason`."""
    if outcome == DisputeStatus.UPHELD:
        return (
            N_("Ownership dispute %(dispute)s upheld"),
            N_(
                "The dispute over work %(work)s was upheld: the royalties held while it was open "
                "are redirected to the claimant.\n\n%(reason)s"
            ),
        )
    return (
        N_("Ownership dispute %(dispute)s rejected"),
        N_(
            "The dispute over work %(work)s was rejected: the royalties held while it was open "
            "are released.\n\n%(reason)s"
        ),
    )


def _log_step(dispute: OwnershipDispute, action: str, text: str, log: AttestationLog) -> int:
    (index,) = log.append_events(
        [
            DisputeStepEvent(
                dispute_id=persisted_id(dispute),
                work_id=dispute.work_id,
                earlier_work_id=dispute.earlier_work_id,
                claimant_id=dispute.claimant_id,
                action=action,
                reason_sha256=_digest(text),
                at=utcnow(),
            )
        ]
    )
    log.sign_head()
    return index
