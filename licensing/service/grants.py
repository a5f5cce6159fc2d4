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
from licensing.wording import in_words
from registry.enforcement.disputes import open_dispute_of_work
from registry.errors import Conflict, Forbidden, NotFound
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import Role, User, persisted_id, utcnow
from registry.monitoring.exclusivity import watch_exclusivity
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
        raise Forbidden(
            N_("%(email)s is not a brand account: only brands take licenses"),
            email=licensee.email,
        )
    found = repository.visible_offer(session, licensee, offer_id)
    work = repository.lock_work(session, found.work_id)
    expire_unpaid_grants(session, moment, work_id=work.id)
    offer = repository.reread_offer(session, offer_id)
    _refuse_if_bought_out(session, offer, moment)
    if offer.status != OfferStatus.OPEN:
        raise Conflict(
            N_("offer %(offer)s is %(status)s: it takes no new licenses"),
            offer=offer_id,
            status=in_words(offer.status),
        )
    refuse_if_disputed(session, offer.work_id)
    if work.owner_id == licensee.id:
        raise Conflict(
            N_("you own work %(work)s: there is nothing to license"), work=persisted_id(work)
        )
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
        raise Conflict(
            N_("work %(work)s is reserved by another buyout"), work=offer.work_id
        ) from None
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
    subject, body, deadline = _taken_wording(grant, execution.gross)
    _tell_owner(session, offer, grant, subject, body, deadline=deadline, gross=str(execution.gross))
    return grant, execution


def refuse_if_disputed(session: Session, work_id: int) -> None:
    """A work whose ownership is disputed takes no new licences until the dispute is decided."""
    dispute = open_dispute_of_work(session, work_id)
    if dispute is not None:
        raise Conflict(
            N_(
                "work %(work)s's ownership is disputed (dispute %(dispute)s): its offers are "
                "paused until the dispute is decided"
            ),
            work=work_id,
            dispute=persisted_id(dispute),
        )


def _refuse_if_bought_out(session: Session, offer: LicenseOffer, now: datetime) -> None:
    live = repository.live_buyout_grant(session, offer.work_id)
    if live is None:
        return
    if live.status == GrantStatus.ACTIVE:
        raise Conflict(
            N_("work %(work)s was bought out exclusively (grant %(grant)s)"),
            work=offer.work_id,
            grant=persisted_id(live),
        )
    if offer.sale_type == "buyout":
        minutes = max(1, int(((live.expires_at or now) - now).total_seconds() // 60) + 1)
        raise Conflict(
            N_(
                "work %(work)s is reserved by a buyout awaiting payment (grant %(grant)s); it is "
                "released if unpaid within %(minutes)s minute(s)"
            ),
            work=offer.work_id,
            grant=persisted_id(live),
            minutes=minutes,
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
        raise Conflict(
            N_("license grant %(grant)s is %(status)s: it cannot be paid"),
            grant=grant_id,
            status=in_words(grant.status),
        )
    if grant.sale_type == "buyout":
        live = repository.live_buyout_grant(session, grant.work_id)
        if live is not None and live.id != grant.id:
            raise Conflict(
                N_(
                    "work %(work)s was reserved or bought out by grant %(other)s after grant "
                    "%(grant)s expired unpaid"
                ),
                work=grant.work_id,
                other=persisted_id(live),
                grant=grant_id,
            )
    grant.status = GrantStatus.ACTIVE
    grant.activated_at = moment
    session.add(grant)
    session.flush()
    offer = repository.offer_of_grant(session, grant)
    if grant.sale_type == "buyout" and grant.licensee_id is not None:
        close_open_offers(session, grant.work_id)
        buyer = transfer_ownership(session, grant.work_id, grant.licensee_id)
        watch_exclusivity(session, grant.work_id, _user(session, buyer.owner_id), grant_id)
    gross = Money(grant.gross_minor, grant.currency)
    _tell_owner(
        session,
        offer,
        grant,
        N_("License grant %(grant)s on work %(work)s paid %(gross)s"),
        N_(
            "The %(sale_type)s license grant %(grant)s on work %(work)s was paid %(gross)s: the "
            "%(sale_type)s license is now active."
        ),
        gross=str(gross),
    )
    return grant


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("user %(user)s not found"), user=user_id)
    return user


def cancel_grant(session: Session, licensee: User, grant_id: int) -> LicenseGrant:
    """Withdraw the licensee's own grant while it awaits payment; a reservation ends with it."""
    grant = repository.lock_licensee_grant(session, licensee, grant_id)
    if grant.status != GrantStatus.PENDING_PAYMENT:
        raise Conflict(
            N_("license grant %(grant)s is %(status)s: only an unpaid one is cancelled"),
            grant=grant_id,
            status=in_words(grant.status),
        )
    grant.status = GrantStatus.CANCELLED
    session.add(grant)
    session.flush()
    _tell_owner(
        session,
        repository.offer_of_grant(session, grant),
        grant,
        N_("License grant %(grant)s on work %(work)s cancelled before payment"),
        N_(
            "The %(sale_type)s license grant %(grant)s on work %(work)s was cancelled before "
            "payment."
        ),
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
            N_("License grant %(grant)s on work %(work)s expired unpaid"),
            N_(
                "The %(sale_type)s license grant %(grant)s on work %(work)s was expired unpaid: "
                "the work is free for other licensees."
            ),
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
        raise Conflict(
            N_("license grant %(grant)s is %(status)s: only a paid one is refunded"),
            grant=grant_id,
            status=in_words(grant.status),
        )
    grant.status = GrantStatus.REFUNDED
    session.add(grant)
    session.flush()
    offer = repository.offer_of_grant(session, grant)
    if grant.sale_type == "buyout":
        transfer_ownership(session, grant.work_id, offer.created_by)
    _tell_owner(
        session,
        offer,
        grant,
        N_("License grant %(grant)s on work %(work)s refunded in full"),
        N_(
            "The %(sale_type)s license grant %(grant)s on work %(work)s was refunded in full: "
            "the license has ended."
        ),
    )
    return grant


def _taken_wording(grant: LicenseGrant, gross: Money) -> tuple[str, str, str]:
    """The subject and body templates of a taken grant, and the payment's deadline."""
    subject = N_("License grant %(grant)s on work %(work)s taken")
    if grant.status == GrantStatus.ACTIVE:
        return (
            subject,
            N_(
                "The %(sale_type)s license grant %(grant)s on work %(work)s was taken: the "
                "retail license is active; royalties follow sales reports."
            ),
            "",
        )
    deadline = grant.expires_at.isoformat(timespec="minutes") if grant.expires_at else "?"
    body = N_(
        "The %(sale_type)s license grant %(grant)s on work %(work)s was taken: awaiting payment "
        "of %(gross)s until %(deadline)s."
    )
    return subject, body, deadline


def _tell_owner(
    session: Session,
    offer: LicenseOffer,
    grant: LicenseGrant,
    subject: str,
    body: str,
    *,
    deadline: str = "",
    gross: str = "",
) -> None:
    """Tell the offer's publisher what became of a grant: templates with `grant`, `work`,
    `sale_type`, `gross` and `deadline` placeholders."""
    publisher = session.get(User, offer.created_by)
    if publisher is None:
        raise NotFound(N_("user %(user)s not found"), user=offer.created_by)
    notify(
        session,
        publisher,
        f"license_grant_{grant.status.value}",
        subject,
        body,
        {"grant_id": persisted_id(grant), "work_id": grant.work_id, "status": grant.status.value},
        params={
            "grant": persisted_id(grant),
            "work": grant.work_id,
            "sale_type": in_words(grant.sale_type),
            "gross": gross or str(Money(grant.gross_minor, grant.currency)),
            "deadline": deadline,
        },
    )
