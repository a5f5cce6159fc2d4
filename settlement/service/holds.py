"""Royalties held while a work's ownership is disputed: every cent held is released or redirected.

Invariant: for each dispute, what its holds moved to `held` equals what its outcome moved back to
the parties' `payable` (rejected) plus what it moved to the rightful owner's `payable` (upheld),
and nothing stays held once it is decided. A sale of a disputed work posts its split as usual,
then moves each party's share (the platform's fee excepted) from payable to held under
`hold:<entry key>:<party>`, in the same transaction; the outcome posts `release:` or `redirect:`
entries under the hold's key, so a replay posts nothing twice. Offers are paused meanwhile
(licensing refuses new grants on a disputed work); an upheld dispute closes them for good.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.references import PLATFORM_ACCOUNT_PREFIX, account_reference
from licensing.service.offers import close_open_offers
from registry.enforcement.disputes import decide_dispute, open_dispute_of_work
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.log.store import AttestationLog
from registry.models import User, persisted_id, utcnow
from settlement.models import HeldRoyalty, HoldStatus
from settlement.postings import Share, hold_entry, redirect_entry, release_entry
from settlement.service.ledger import post_entries


def hold_if_disputed(
    session: Session, grant: LicenseGrant, entry_key: str, shares: Sequence[Share]
) -> list[HeldRoyalty]:
    """Hold the parties' shares of a posted sale while the grant's work is disputed."""
    dispute = open_dispute_of_work(session, grant.work_id)
    if dispute is None:
        return []
    held = [
        HeldRoyalty(
            dispute_id=persisted_id(dispute),
            work_id=grant.work_id,
            hold_key=f"hold:{entry_key}:{share.account}",
            account_reference=share.account,
            amount_minor=share.amount.amount_minor,
            currency=share.amount.currency,
            reason=f"ownership of work {grant.work_id} is disputed (dispute {dispute.id})",
        )
        for share in shares
        if share.account is not None
        and not share.account.startswith(PLATFORM_ACCOUNT_PREFIX)
        and share.amount.amount_minor > 0
    ]
    fresh = [row for row in held if _held_with_key(session, row.hold_key) is None]
    if fresh:
        post_entries(
            session, [hold_entry(row.hold_key, row.account_reference, _money(row)) for row in fresh]
        )
    session.add_all(fresh)
    session.flush()
    return fresh


def _money(row: HeldRoyalty) -> Money:
    return Money(row.amount_minor, row.currency)


def _held_with_key(session: Session, key: str) -> HeldRoyalty | None:
    return session.exec(select(HeldRoyalty).where(HeldRoyalty.hold_key == key)).first()


def held_party(session: Session, hold_key: str) -> str | None:
    """The party whose share the hold posted under this key moved to held."""
    row = _held_with_key(session, hold_key)
    return row.account_reference if row is not None else None


def holds_of(session: Session, dispute_id: int) -> Sequence[HeldRoyalty]:
    return session.exec(
        select(HeldRoyalty)
        .where(HeldRoyalty.dispute_id == dispute_id)
        .order_by(col(HeldRoyalty.id))
    ).all()


def decide(
    session: Session,
    actor: User,
    dispute_id: int,
    outcome: DisputeStatus,
    *,
    reason: str,
    log: AttestationLog,
) -> OwnershipDispute:
    """Decide a dispute and settle its held royalties: released if rejected, redirected to the
    claimant if upheld (whose offers on the disputed work then close for good)."""
    dispute = decide_dispute(session, actor, dispute_id, outcome, reason=reason, log=log)
    claimant = session.get(User, dispute.claimant_id)
    rightful = account_reference(claimant) if claimant is not None else None
    moment = utcnow()
    drafts = []
    for row in holds_of(session, dispute_id):
        if row.status != HoldStatus.HELD:
            continue
        if outcome == DisputeStatus.UPHELD and rightful is not None:
            row.outcome_key = f"redirect:{row.hold_key}"
            row.status = HoldStatus.REDIRECTED
            drafts.append(
                redirect_entry(row.outcome_key, row.account_reference, rightful, _money(row))
            )
        else:
            row.outcome_key = f"release:{row.hold_key}"
            row.status = HoldStatus.RELEASED
            drafts.append(release_entry(row.outcome_key, row.account_reference, _money(row)))
        row.settled_at = moment
        session.add(row)
    if drafts:
        post_entries(session, drafts)
    if outcome == DisputeStatus.UPHELD:
        close_open_offers(session, dispute.work_id)
    session.flush()
    return dispute
