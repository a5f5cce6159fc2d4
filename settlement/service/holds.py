"""Held royalties of a disputed work: every cent held is released, redirected or refunded.

Invariant: for each dispute, what its holds moved to `held` equals what its outcome moved back to
the parties' `payable` (rejected) or to the rightful owner's `payable` (upheld), plus what refunds
of the held sales took back out of `held` for their licensees; nothing stays held once it is
decided. A sale of a disputed work posts its split as usual, then moves each party's share (the
platform's fee excepted) from payable to held under `hold:<entry key>:<party>`, in the same
transaction. A refund of the sale takes each party's part back out of what is still held of its
share (`settlement.service.refunds`), and records it on the hold (`refunded_minor`), so the
outcome moves only the rest: money the licensee got back is never paid out as well. The outcome
posts `release:` or `redirect:` entries under the hold's key, so a replay posts nothing twice.
Offers are paused meanwhile (licensing refuses new grants on a disputed work); an upheld dispute
closes them for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from licensing.money import Money
from licensing.references import PLATFORM_ACCOUNT_PREFIX, account_reference
from licensing.service.offers import close_open_offers
from registry.enforcement.disputes import decide_dispute, open_dispute_of_work
from registry.enforcement.models import DisputeStatus, OwnershipDispute
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import User, persisted_id, utcnow
from settlement.errors import LedgerIntegrityError
from settlement.models import HeldRoyalty, HoldStatus
from settlement.postings import Reversal, Share, hold_entry, redirect_entry, release_entry
from settlement.service.ledger import post_entries


def hold_if_disputed(
    session: Session, work_id: int, entry_key: str, shares: Sequence[Share]
) -> list[HeldRoyalty]:
    """Hold the parties' shares of a posted sale of a work while the work is disputed."""
    dispute = open_dispute_of_work(session, work_id)
    if dispute is None:
        return []
    held = [
        HeldRoyalty(
            dispute_id=persisted_id(dispute),
            work_id=work_id,
            hold_key=_hold_key(entry_key, share.account),
            account_reference=share.account,
            amount_minor=share.amount.amount_minor,
            currency=share.amount.currency,
            reason=f"ownership of work {work_id} is disputed (dispute {dispute.id})",
        )
        for share in shares
        if share.account is not None
        and not share.account.startswith(PLATFORM_ACCOUNT_PREFIX)
        and share.amount.amount_minor > 0
    ]
    fresh = [row for row in held if _held_with_key(session, row.hold_key) is None]
    if fresh:
        post_entries(
            session,
            [hold_entry(row.hold_key, row.account_reference, _held(row)) for row in fresh],
        )
    session.add_all(fresh)
    session.flush()
    return fresh


def _hold_key(entry_key: str, account: str) -> str:
    return f"hold:{entry_key}:{account}"


def _held(row: HeldRoyalty) -> Money:
    return Money(row.amount_minor, row.currency)


def _still_held(row: HeldRoyalty) -> Money:
    return Money(row.still_held_minor, row.currency)


def _held_with_key(session: Session, key: str) -> HeldRoyalty | None:
    return session.exec(select(HeldRoyalty).where(HeldRoyalty.hold_key == key)).first()


def hold_moved_by(session: Session, entry_key: str) -> HeldRoyalty | None:
    """The hold an entry on a held account moved: the hold's own entry, or its outcome."""
    hold_key = entry_key.removeprefix("release:").removeprefix("redirect:")
    return _held_with_key(session, hold_key) if hold_key.startswith("hold:") else None


def held_party(session: Session, hold_key: str) -> str | None:
    """The party whose share the hold posted under this key moved to held."""
    row = _held_with_key(session, hold_key)
    return row.account_reference if row is not None else None


def holds_of(session: Session, dispute_id: int, *, lock: bool = False) -> Sequence[HeldRoyalty]:
    """The dispute's holds; `lock`ed against a refund taking from them meanwhile."""
    query = (
        select(HeldRoyalty)
        .where(HeldRoyalty.dispute_id == dispute_id)
        .order_by(col(HeldRoyalty.id))
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).all()


def held_of_sale(
    session: Session, entry_key: str, accounts: Iterable[str]
) -> dict[str, HeldRoyalty]:
    """The holds on the parties' shares of the sale posted under `entry_key` still awaiting
    their dispute's outcome, by account, locked against a decision settling them meanwhile."""
    keys = {_hold_key(entry_key, account) for account in accounts}
    rows = session.exec(
        select(HeldRoyalty)
        .where(col(HeldRoyalty.hold_key).in_(sorted(keys)))
        .where(HeldRoyalty.status == HoldStatus.HELD)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.account_reference: row for row in rows}


def take_back_refunded(
    session: Session,
    holds: Mapping[str, HeldRoyalty],
    reversal: Reversal,
    refund_key: str,
    moment: datetime,
) -> None:
    """Record on each hold what the refund posted under `refund_key` took back out of held; a
    hold given back whole is settled as refunded, and its dispute's outcome passes it by."""
    for part in reversal.parts:
        if not part.held_minor:
            continue
        row = holds[part.account]
        row.refunded_minor += part.held_minor
        if row.refunded_minor > row.amount_minor:
            raise LedgerIntegrityError(
                N_("refund %(entry)s takes back more than hold %(hold)s held"),
                entry=refund_key,
                hold=row.hold_key,
            )
        if row.refunded_minor == row.amount_minor:
            row.status = HoldStatus.REFUNDED
            row.outcome_key = refund_key
            row.settled_at = moment
        session.add(row)
    session.flush()


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
    for row in holds_of(session, dispute_id, lock=True):
        if row.status != HoldStatus.HELD:
            continue
        rest = _still_held(row)
        if outcome == DisputeStatus.UPHELD and rightful is not None:
            row.outcome_key = f"redirect:{row.hold_key}"
            row.status = HoldStatus.REDIRECTED
            drafts.append(redirect_entry(row.outcome_key, row.account_reference, rightful, rest))
        else:
            row.outcome_key = f"release:{row.hold_key}"
            row.status = HoldStatus.RELEASED
            drafts.append(release_entry(row.outcome_key, row.account_reference, rest))
        row.settled_at = moment
        session.add(row)
    if drafts:
        post_entries(session, drafts)
    if outcome == DisputeStatus.UPHELD:
        close_open_offers(session, dispute.work_id)
    session.flush()
    return dispute
