"""License grants: only an active grant licenses; a buyout moves the work only once it is paid.

A brand taking a wholesale or buyout offer gets a grant that waits for payment until its
`expires_at`. A pending buyout reserves the work: no other buyout is taken until it is paid
(active, the work is sold), cancelled or expired. Payment is settled by `settlement`, which calls
`activate_grant` in the transaction that posts the ledger entry and appends the settled split to
the log, so ownership never moves without the money and its leaf.

The use cases take the session and the acting user and never commit; the grant is appended to
the attestation log in the caller's transaction, so its row never exists without its leaf. The
work's owner is told of every step through registry notifications (an outbox written in the
same transaction). Grant lookups are scoped in `licensing.repository`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from licensing import repository
from licensing.engine import Buyout, Execution, RetailSale, SaleEvent, WholesalePurchase, execute
from licensing.events import GrantEvent, allocation_lines, grant_openings
from licensing.models import GrantStatus, LicenseGrant, LicenseOffer, OfferStatus
from licensing.money import Money
from licensing.service.contracts import active_contract, compiled
from licensing.service.offers import close_open_offers
from registry.errors import Conflict, Forbidden, NotFound
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.models import Role, User, persisted_id, utcnow
from registry.notifications.service import notify
from registry.service import transfer_ownership
from registry.tasks.queue import TaskArgs, TaskKind

PAYMENT_WINDOW = timedelta(minutes=30)
GRANT_EXPIRY_TASK = "expire_grants"
# An unpaid grant holds its work at most this much past its payment deadline.
GRANT_EXPIRY_PERIOD = timedelta(seconds=60)
"""How long a wholesale or buyout grant waits for payment (and a buyout reserves its work)."""


def take_license(
    session: Session,
    licensee: User,
    offer_id: int,
    log: AttestationLog,
    units: int = 0,
    *,
    now: datetime | None = None,
) -> tuple[LicenseGrant, Execution]:
    """Grant a brand a license under an open offer and split what it will pay.

    Retail grants pay nothing up front (royalties follow sales reports) and are active at
    once; wholesale and buyout grants wait for payment until `PAYMENT_WINDOW` has passed. A
    buyout is exclusive: while one is pending or active the work takes no other buyout.
    """
    moment = now or utcnow()
    if not licensee.has_role(Role.BRAND):
        raise Forbidden(f"{licensee.email} is not a brand account: only brands take licenses")
    found = repository.visible_offer(session, licensee, offer_id)
    work = repository.lock_work(session, found.work_id)
    expire_unpaid_grants(session, moment, work_id=work.id)
    offer = repository.reread_offer(session, offer_id)
    _refuse_if_bought_out(session, offer, moment)
    if offer.status != OfferStatus.OPEN:
        raise Conflict(f"offer {offer_id} is {offer.status}: it takes no new licenses")
    if work.owner_id == licensee.id:
        raise Conflict(f"you own work {work.id}: there is nothing to license")
    version, contract = active_contract(session, offer.work_id)
    event: SaleEvent
    if offer.sale_type == "retail":
        event = RetailSale(units=0, net_revenue=Money.zero(contract.currency))
    elif offer.sale_type == "wholesale":
        event = WholesalePurchase(units=units, package=offer.package)
    else:
        event = Buyout()
    execution = execute(compiled(session, contract), event)
    retail = offer.sale_type == "retail"
    grant = LicenseGrant(
        offer_id=offer_id,
        work_id=offer.work_id,
        licensee_id=persisted_id(licensee),
        contract_version_id=persisted_id(version),
        sale_type=offer.sale_type,
        gross_minor=execution.gross.amount_minor,
        currency=execution.gross.currency,
        execution=execution.to_json(),
        status=GrantStatus.ACTIVE if retail else GrantStatus.PENDING_PAYMENT,
        granted_at=moment,
        activated_at=moment if retail else None,
        expires_at=None if retail else moment + PAYMENT_WINDOW,
    )
    session.add(grant)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"work {offer.work_id} is reserved by another buyout") from None
    openings = grant_openings(
        repository.licensee_domain(session, licensee),
        execution.gross.amount_minor,
        allocation_lines(execution),
    )
    grant.log_openings = openings_to_json(openings)
    (grant.log_index,) = log.append_events(
        [
            GrantEvent(
                grant_id=persisted_id(grant),
                offer_id=offer_id,
                work_id=offer.work_id,
                licensee_id=persisted_id(licensee),
                sale_type=offer.sale_type,
                status=grant.status.value,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                currency=execution.gross.currency,
                commitments=commitments_of(openings),
                granted_at=grant.granted_at,
            )
        ]
    )
    if retail:
        grant.activation_log_index = grant.log_index
    session.add(grant)
    session.flush()
    _tell_owner(session, offer, grant, _taken_message(grant, execution.gross))
    return grant, execution


def _refuse_if_bought_out(session: Session, offer: LicenseOffer, now: datetime) -> None:
    live = repository.live_buyout_grant(session, offer.work_id)
    if live is None:
        return
    if live.status == GrantStatus.ACTIVE:
        raise Conflict(f"work {offer.work_id} was bought out exclusively (grant {live.id})")
    if offer.sale_type == "buyout":
        minutes = max(1, int(((live.expires_at or now) - now).total_seconds() // 60) + 1)
        raise Conflict(
            f"work {offer.work_id} is reserved by a buyout awaiting payment (grant {live.id}); "
            f"it is released if unpaid within {minutes} minute(s)"
        )


def activate_grant(session: Session, grant_id: int, *, now: datetime | None = None) -> LicenseGrant:
    """Make a grant whose payment succeeded active; a buyout now moves the work to the buyer.

    Called by settlement in the transaction that posts the payment to the ledger and appends
    the settled split to the log (which sets `activation_log_index`). A grant that expired
    unpaid is still activated when nothing took its place; one whose work was bought out by
    someone else, or that was cancelled or refunded, is refused with the reason.
    """
    moment = now or utcnow()
    grant = repository.lock_grant(session, grant_id)
    repository.lock_work(session, grant.work_id)
    if grant.status == GrantStatus.ACTIVE:
        return grant
    if grant.status not in (GrantStatus.PENDING_PAYMENT, GrantStatus.EXPIRED):
        raise Conflict(f"license grant {grant_id} is {grant.status}: it cannot be paid")
    if grant.sale_type == "buyout":
        live = repository.live_buyout_grant(session, grant.work_id)
        if live is not None and live.id != grant.id:
            raise Conflict(
                f"work {grant.work_id} was reserved or bought out by grant {live.id} "
                f"after grant {grant_id} expired unpaid"
            )
    grant.status = GrantStatus.ACTIVE
    grant.activated_at = moment
    session.add(grant)
    session.flush()
    offer = repository.offer_of_grant(session, grant)
    if grant.sale_type == "buyout":
        close_open_offers(session, grant.work_id)
        transfer_ownership(session, grant.work_id, grant.licensee_id)
    gross = Money(grant.gross_minor, grant.currency)
    _tell_owner(session, offer, grant, f"paid {gross}: the {grant.sale_type} license is now active")
    return grant


def cancel_grant(session: Session, licensee: User, grant_id: int) -> LicenseGrant:
    """Withdraw the licensee's own grant while it awaits payment; a reservation ends with it."""
    grant = repository.lock_licensee_grant(session, licensee, grant_id)
    if grant.status != GrantStatus.PENDING_PAYMENT:
        raise Conflict(
            f"license grant {grant_id} is {grant.status}: only an unpaid one is cancelled"
        )
    grant.status = GrantStatus.CANCELLED
    session.add(grant)
    session.flush()
    _tell_owner(
        session, repository.offer_of_grant(session, grant), grant, "cancelled before payment"
    )
    return grant


def expire_unpaid_grants(
    session: Session, now: datetime, *, work_id: int | None = None
) -> list[LicenseGrant]:
    """Expire every pending grant (of one work, or all) whose payment deadline has passed."""
    expired = list(repository.overdue_grants(session, now, work_id))
    for grant in expired:
        grant.status = GrantStatus.EXPIRED
        session.add(grant)
    session.flush()
    for grant in expired:
        _tell_owner(
            session,
            repository.offer_of_grant(session, grant),
            grant,
            "expired unpaid: the work is free for other licensees",
        )
    return expired


def grant_expiry_task() -> TaskKind:
    """The periodic `expire_grants` task: expiries and the owners' notices commit with it."""

    def run(session: Session, _args: TaskArgs) -> None:
        expire_unpaid_grants(session, utcnow())

    return TaskKind(
        name=GRANT_EXPIRY_TASK,
        queue="notify",
        run=run,
        time_limit_s=5 * 60,
        period_s=GRANT_EXPIRY_PERIOD.total_seconds(),
    )


def refund_grant(session: Session, grant_id: int) -> LicenseGrant:
    """Mark a paid grant refunded in full: it licenses nothing more, and a bought-out work goes
    back to the owner who offered it (its split is reversed by settlement)."""
    grant = repository.lock_grant(session, grant_id)
    if grant.status == GrantStatus.REFUNDED:
        return grant
    if grant.status != GrantStatus.ACTIVE:
        raise Conflict(f"license grant {grant_id} is {grant.status}: only a paid one is refunded")
    grant.status = GrantStatus.REFUNDED
    session.add(grant)
    session.flush()
    offer = repository.offer_of_grant(session, grant)
    if grant.sale_type == "buyout":
        transfer_ownership(session, grant.work_id, offer.created_by)
    _tell_owner(session, offer, grant, "refunded in full: the license has ended")
    return grant


def _taken_message(grant: LicenseGrant, gross: Money) -> str:
    if grant.status == GrantStatus.ACTIVE:
        return "taken: the retail license is active; royalties follow sales reports"
    deadline = grant.expires_at.isoformat(timespec="minutes") if grant.expires_at else "?"
    return f"taken: awaiting payment of {gross} until {deadline}"


def _tell_owner(session: Session, offer: LicenseOffer, grant: LicenseGrant, what: str) -> None:
    publisher = session.get(User, offer.created_by)
    if publisher is None:
        raise NotFound(f"user {offer.created_by} not found")
    notify(
        session,
        publisher,
        f"license_grant_{grant.status.value}",
        f"License grant {grant.id} on work {grant.work_id} {what.split(':', maxsplit=1)[0]}",
        f"The {grant.sale_type} license grant {grant.id} on work {grant.work_id} was {what}.",
        {"grant_id": persisted_id(grant), "work_id": grant.work_id, "status": grant.status.value},
    )
