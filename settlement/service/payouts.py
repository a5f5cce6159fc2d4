"""Payouts: what a party earned on each paid sale reaches its Stripe Connect account once.

Parties onboard as Express accounts. A periodic round (`payout_task`) plans, for every party
Stripe lets receive money and whose available balance reaches the minimum, one payout per paid
sale (transfer group `sale-<payment intent>`, source transaction the sale's charge), then attempts
every payout that is due. A transfer that Stripe refuses or cannot take now is kept with its
reason in the payee's words and retried later, with growing delays. A party without a connected
account accrues: nothing is planned for it, and its balance stays payable and visible.

Exactly once: a payout's `transfer_key` is derived from the party, the sale and what was already
planned for that sale, so a round run twice (a redelivered task, two serving processes) finds the
same row; the Stripe idempotency key and the ledger key (`payout:<transfer_key>`, payable → paid
out) are derived from it, so a transfer made just before a crash is found again, never repeated.
Only cash-backed money is paid: a sale (a grant's payment, or a royalty invoice once its licensee
paid it) backs what it credited the party, less its refunds, holds and earlier payouts, and never
more than the party's payable balance (a hold or a reversal lowers it first). A reported royalty
not yet paid is owed but backs nothing: it waits, awaiting collection, for its invoice's payment.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from licensing.models import SalesReport
from licensing.money import Money
from licensing.references import account_reference
from registry.accounts.verification import require_verified_email
from registry.messages import N_, Message, Param
from registry.models import User, persisted_id, utcnow
from registry.tasks.queue import TaskArgs, TaskKind
from settlement import repository
from settlement.errors import (
    PayoutAmountError,
    PayoutsNotEnabledError,
    ProcessorUnavailableError,
)
from settlement.ledger import PartyAccount, party_account
from settlement.models import ConnectedAccount, PaymentStatus, Payout, PayoutStatus
from settlement.postings import parse_report_entry_key, payment_entry_key, payout_entry
from settlement.service.holds import held_party, hold_moved_by
from settlement.service.ledger import payable, post_entry
from settlement.stripe.gateway import (
    ConnectedAccountSnapshot,
    PaymentGateway,
    TransferRefusedError,
)

PAYOUT_TASK = "pay_out"
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
ATTEMPTS_PER_ROUND = 200

_RETRYING = "We retry automatically"


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    """When money moves: the smallest payout worth a transfer, in minor units of any currency."""

    minimum_minor: int = 1_000


@dataclass(frozen=True, slots=True)
class Onboarding:
    """A party's connected account and, until Stripe enables it, the link to finish onboarding."""

    account: ConnectedAccount
    link: str | None


@dataclass(frozen=True, slots=True)
class SaleOwed:
    """What a party is still owed, in cash the platform holds, on one paid sale."""

    grant_id: int
    payment_intent_id: str
    amount: Money

    @property
    def sale_key(self) -> str:
        return payment_entry_key(self.payment_intent_id)


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency of a party's money: what can be paid out, what is on its way, what is held."""

    currency: str
    available_minor: int
    in_transfer_minor: int
    awaiting_collection_minor: int
    held_minor: int
    paid_out_minor: int
    held_reasons: list[Message] = field(default_factory=list)

    @property
    def pending_minor(self) -> int:
        return self.in_transfer_minor + self.awaiting_collection_minor


def _reference(user: User) -> str:
    return account_reference(user)


def connect(
    session: Session,
    user: User,
    *,
    gateway: PaymentGateway,
    refresh_url: str,
    return_url: str,
) -> Onboarding:
    """Open (once) the user's Express account and give the onboarding link while one is needed."""
    require_verified_email(user, N_("receive payouts"))
    reference = _reference(user)
    account = repository.connected_account_of(session, reference)
    if account is None:
        # A retried request finds the account it opened; the sign-up time tells apart users who
        # once held the same address (and test databases sharing one sandbox).
        snapshot = gateway.create_connected_account(
            user.email,
            reference,
            idempotency_key=f"copymark-connect-{persisted_id(user)}-{user.created_at:%s%f}",
        )
        account = ConnectedAccount(
            account_reference=reference,
            user_id=persisted_id(user),
            stripe_account_id=snapshot.id,
            payouts_enabled=snapshot.payouts_enabled,
            details_submitted=snapshot.details_submitted,
            requirements=snapshot.requirements,
        )
        try:
            with session.begin_nested():
                session.add(account)
                session.flush()
        except IntegrityError:
            # A second tab connected at the same time; Stripe answered both with one account.
            stored = repository.connected_account_of(session, reference)
            if stored is None:
                raise
            account = stored
    else:
        account = _refresh(session, account, gateway)
    link = None
    if not account.payouts_enabled:
        link = gateway.onboarding_link(account.stripe_account_id, refresh_url, return_url)
    return Onboarding(account, link)


def connected_account(
    session: Session, user: User, gateway: PaymentGateway | None = None
) -> ConnectedAccount | None:
    """The user's connected account; with a gateway, as Stripe says it is now."""
    account = repository.connected_account_of(session, _reference(user))
    if account is not None and gateway is not None and not account.payouts_enabled:
        account = _refresh(session, account, gateway)
    return account


def _refresh(
    session: Session, account: ConnectedAccount, gateway: PaymentGateway
) -> ConnectedAccount:
    snapshot = gateway.connected_account(account.stripe_account_id)
    account.payouts_enabled = snapshot.payouts_enabled
    account.details_submitted = snapshot.details_submitted
    account.requirements = snapshot.requirements
    account.checked_at = utcnow()
    session.add(account)
    session.flush()
    return account


def apply_account_update(
    session: Session, snapshot: ConnectedAccountSnapshot, reported_at: datetime
) -> ConnectedAccount | None:
    """Record what Stripe's `account.updated` says a connected account may now receive.

    Enabled, the party's accrued balance is planned by the next payout round; disabled, no
    payout is planned and those already planned fail with Stripe's reason, which the Money page
    shows. An event older than what was last read of the account changes nothing, so a late
    delivery never undoes a newer state. Answers None when nothing was applied (an account that
    is not ours, or a stale event).
    """
    account = repository.connected_account_with_stripe_id(session, snapshot.id)
    # Stripe stamps events in whole seconds: an event of the second the account was last read
    # may be the newer one.
    if account is None or reported_at < account.checked_at.replace(microsecond=0):
        return None
    account.payouts_enabled = snapshot.payouts_enabled
    account.details_submitted = snapshot.details_submitted
    account.requirements = snapshot.requirements
    account.checked_at = reported_at
    session.add(account)
    session.flush()
    return account


def sales_owed(session: Session, reference: str) -> list[SaleOwed]:
    """Every paid sale on which the party is still owed cash, oldest first.

    A sale is a grant's payment or a paid royalty invoice. Each movement of the party's payable
    is traced by its ledger key to the sale whose cash backs it: what the sale credited, its
    refunds, the holds on it and their release or redirection, and the payouts from it. A
    royalty report not yet paid backs nothing, so its shares stay awaiting collection.
    """
    code = party_account(reference, PartyAccount.PAYABLE)
    sources = _CashSources(session, reference)
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for entry, currency, amount in repository.entries_on_account(session, code):
        intent = sources.intent_backing(entry.external_key)
        if intent is not None:
            owed[(intent, currency)] -= amount
    payments = repository.succeeded_payments(session, {intent for intent, _ in owed})
    return [
        SaleOwed(payments[intent].grant_id, intent, Money(amount, currency))
        for (intent, currency), amount in owed.items()
        if amount > 0 and intent in payments
    ]


class _CashSources:
    """Which sale's payment (its PaymentIntent) backs the movement a ledger key names.

    Keys follow their postings: `payment:<intent>` and `refund:<intent>:<total>` name the sale;
    `royalty-report:<grant>:<report>` (or, for older reports, `sales-report:<line>`) backs
    cash once the report's invoice is paid; `hold:<key>:<party>`, with its `release:` or
    `redirect:` outcome, and `reversal:<key>` follow the key they wrap; `payout:<transfer>` the
    sale its payout was planned from.
    """

    def __init__(self, session: Session, reference: str) -> None:
        self._session = session
        self._payouts = {
            payout.transfer_key: payout.payment_intent_id
            for payout in repository.payouts_of(session, reference)
        }
        self._invoices: dict[int, dict[str, str]] = {}

    def intent_backing(self, key: str) -> str | None:
        kind, _, rest = key.partition(":")
        if kind == "payment":
            return rest
        if kind == "refund":
            return rest.partition(":")[0]
        if kind == "payout":
            return self._payouts.get(rest)
        if kind == "reversal":
            return self.intent_backing(rest)
        if kind in ("release", "redirect"):
            return self.intent_backing(rest)
        if kind == "hold":
            held = held_party(self._session, key)
            return self.intent_backing(rest.removesuffix(f":{held}")) if held else None
        if kind == "royalty-report":
            report = parse_report_entry_key(key)
            return self._invoice_intent(*report) if report is not None else None
        if kind == "sales-report" and rest.isdigit():
            line = self._session.get(SalesReport, int(rest))
            return self._invoice_intent(line.grant_id, line.report_key) if line else None
        return None

    def _invoice_intent(self, grant_id: int, report_id: str) -> str | None:
        if grant_id not in self._invoices:
            self._invoices[grant_id] = {
                payment.sales_report_key: payment.payment_intent_id
                for payment in repository.payments_of_grant(self._session, grant_id)
                if payment.sales_report_key is not None
                and payment.status == PaymentStatus.SUCCEEDED
            }
        return self._invoices[grant_id].get(report_id)


def balances(session: Session, user: User) -> list[Balance]:
    """The user's money per currency: available, in transfer, awaiting collection, held."""
    reference = _reference(user)
    figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    prefix = f"party:{reference}:"
    for (code, currency), amount in repository.balances(session, prefix).items():
        figures[currency][code.removeprefix(prefix)] = -amount
    in_transfer: dict[str, int] = defaultdict(int)
    for payout in repository.unpaid_payouts(session, reference):
        in_transfer[payout.currency] += payout.amount_minor
        figures.setdefault(payout.currency, defaultdict(int))
    cash: dict[str, int] = defaultdict(int)
    for sale in sales_owed(session, reference):
        cash[sale.amount.currency] += sale.amount.amount_minor
    reasons = _held_reasons(session, reference)
    answer = []
    for currency, kinds in sorted(figures.items()):
        owed = kinds[PartyAccount.PAYABLE.value]
        free = max(0, owed - in_transfer[currency])
        available = min(free, max(0, cash[currency] - in_transfer[currency]))
        answer.append(
            Balance(
                currency=currency,
                available_minor=available,
                in_transfer_minor=in_transfer[currency],
                awaiting_collection_minor=free - available,
                held_minor=kinds[PartyAccount.HELD.value],
                paid_out_minor=kinds[PartyAccount.PAID_OUT.value],
                held_reasons=reasons.get(currency, []),
            )
        )
    return answer


# Why money moved into or out of a party's held account, by the kind of entry that moved it.
_HELD_MOVES: Final = {
    "hold": N_("%(amount)s held on %(date)s while the work's ownership is disputed (%(subject)s)"),
    "release": N_("%(amount)s released on %(date)s: the dispute was rejected (%(subject)s)"),
    "redirect": N_(
        "%(amount)s released on %(date)s to the rightful owner: the dispute was upheld "
        "(%(subject)s)"
    ),
    "refund": N_(
        "%(amount)s given back to the licensee on %(date)s out of what was held: the sale was "
        "refunded (%(subject)s)"
    ),
}
_HELD_IN = N_("%(amount)s held on %(date)s: %(kind)s (%(subject)s)")
_HELD_OUT = N_("%(amount)s released on %(date)s: %(kind)s (%(subject)s)")


def _held_reasons(session: Session, reference: str) -> dict[str, list[Message]]:
    """Each movement of the party's held account, in words: held, released, redirected or
    refunded to the licensee."""
    code = party_account(reference, PartyAccount.HELD)
    reasons: dict[str, list[Message]] = defaultdict(list)
    for entry, currency, amount in repository.entries_on_account(session, code):
        subject: Param = entry.external_key
        hold = hold_moved_by(session, entry.external_key)
        if entry.grant_id:
            subject = Message(N_("license grant %(grant)s"), {"grant": entry.grant_id})
        elif hold is not None:
            subject = Message(
                N_("dispute %(dispute)s over work %(work)s"),
                {"dispute": hold.dispute_id, "work": hold.work_id},
            )
        template = _HELD_MOVES.get(entry.kind, _HELD_IN if amount < 0 else _HELD_OUT)
        reasons[currency].append(
            Message(
                template,
                {
                    "amount": str(Money(abs(amount), currency)),
                    "date": f"{entry.posted_at:%Y-%m-%d}",
                    "kind": entry.kind,
                    "subject": subject,
                },
            )
        )
    return reasons


def payouts_of(session: Session, user: User) -> list[Payout]:
    return list(repository.payouts_of(session, _reference(user)))


def _transfer_key(reference: str, sale_key: str, currency: str, planned_before: int) -> str:
    material = f"{reference}\n{sale_key}\n{currency}\n{planned_before}"
    return hashlib.sha256(material.encode()).hexdigest()[:48]


def plan_payouts(
    session: Session, reference: str, currency: str, *, now: datetime, cap_minor: int | None = None
) -> list[Payout]:
    """Plan one payout per paid sale for what the party may be paid now, up to `cap_minor`."""
    unpaid = sum(
        payout.amount_minor
        for payout in repository.unpaid_payouts(session, reference)
        if payout.currency == currency
    )
    free = payable(session, reference, currency).amount_minor - unpaid
    if cap_minor is not None:
        free = min(free, cap_minor)
    planned: list[Payout] = []
    for sale in sales_owed(session, reference):
        if free <= 0:
            break
        if sale.amount.currency != currency:
            continue
        before = repository.planned_for_sale(session, reference, sale.sale_key)
        owed = sale.amount.amount_minor - sum(
            payout.amount_minor
            for payout in repository.unpaid_payouts(session, reference)
            if payout.sale_key == sale.sale_key
        )
        amount = min(owed, free)
        if amount <= 0:
            continue
        key = _transfer_key(reference, sale.sale_key, currency, before)
        existing = repository.payout_with_key(session, key)
        if existing is None:
            existing = Payout(
                transfer_key=key,
                account_reference=reference,
                sale_key=sale.sale_key,
                grant_id=sale.grant_id,
                payment_intent_id=sale.payment_intent_id,
                amount_minor=amount,
                currency=currency,
                next_attempt_at=now,
                created_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(existing)
                    session.flush()
            except IntegrityError:
                # Another round planned the same payout first: it is that one.
                existing = repository.payout_with_key(session, key)
                if existing is None:
                    raise
        planned.append(existing)
        free -= existing.amount_minor
    return planned


def attempt_payout(
    session: Session, payout: Payout, *, gateway: PaymentGateway, now: datetime
) -> Payout:
    """Transfer one planned payout; on success post it, on failure keep the reason and retry."""
    if payout.status == PayoutStatus.PAID:
        return payout
    account = repository.connected_account_of(session, payout.account_reference)
    amount = Money(payout.amount_minor, payout.currency)
    try:
        if account is None:
            return _failed(payout, "You have no payout account yet.", "Connect one", now)
        if not account.payouts_enabled:
            account = _refresh(session, account, gateway)
        if not account.payouts_enabled:
            return _failed(
                payout,
                f"Stripe cannot send you money yet: {account.requirements or 'onboarding is due'}.",
                "Finish onboarding under Payout settings",
                now,
            )
        owed = payable(session, payout.account_reference, payout.currency).amount_minor
        if owed < payout.amount_minor:
            return _failed(
                payout,
                f"Only {Money(max(owed, 0), payout.currency)} of this payout is still owed to "
                "you (a refund, hold or correction came after it was planned).",
                "Nothing to do",
                now,
            )
        backing = sum(
            sale.amount.amount_minor
            for sale in sales_owed(session, payout.account_reference)
            if sale.payment_intent_id == payout.payment_intent_id
            and sale.amount.currency == payout.currency
        )
        if backing < payout.amount_minor:
            return _failed(
                payout,
                f"Only {Money(backing, payout.currency)} of this sale's money is still owed to "
                "you (a refund or hold came after the payout was planned).",
                "Nothing to do",
                now,
            )
        charge = gateway.charge_of(payout.payment_intent_id)
        transfer_id = gateway.create_transfer(
            amount,
            account.stripe_account_id,
            transfer_group=f"sale-{payout.payment_intent_id}",
            source_transaction=charge,
            idempotency_key=f"copymark-payout-{payout.transfer_key}",
        )
    except TransferRefusedError as refused:
        return _failed(
            payout, f"Stripe refused the transfer: {refused.reason}", _advice(refused.reason), now
        )
    except ProcessorUnavailableError:
        return _failed(payout, "Stripe could not be reached.", "Nothing to do", now)
    posted = post_entry(
        session,
        payout_entry(
            f"payout:{payout.transfer_key}", payout.account_reference, amount, payout.grant_id
        ),
    )
    payout.status = PayoutStatus.PAID
    payout.stripe_transfer_id = transfer_id
    payout.journal_entry_id = posted.entry_id
    payout.problem = None
    payout.paid_at = now
    payout.attempts += 1
    session.add(payout)
    session.flush()
    return payout


def _advice(reason: str) -> str:
    lowered = reason.lower()
    if "capabilit" in lowered or "onboard" in lowered or "requirements" in lowered:
        return "Finish onboarding under Payout settings"
    if "insufficient funds" in lowered:
        return "Nothing to do: the sale's money is not yet available at Stripe"
    return "If it keeps failing, write to support@copymark.test"


def _failed(payout: Payout, reason: str, advice: str, now: datetime) -> Payout:
    delay = RETRY_DELAYS[min(payout.attempts, len(RETRY_DELAYS) - 1)]
    payout.attempts += 1
    payout.status = PayoutStatus.FAILED
    payout.next_attempt_at = now + delay
    payout.problem = (
        f"{reason} {advice}. {_RETRYING} after {payout.next_attempt_at:%Y-%m-%d %H:%M} UTC."[:500]
    )
    return payout


def request_payout(
    session: Session,
    user: User,
    amount: Money,
    *,
    gateway: PaymentGateway,
    policy: PayoutPolicy,
    now: datetime | None = None,
) -> list[Payout]:
    """Pay the user now up to `amount` of what is available; refused whole if it cannot be."""
    moment = now or utcnow()
    require_verified_email(user, N_("receive payouts"))
    reference = _reference(user)
    account = repository.connected_account_of(session, reference)
    if account is None:
        raise PayoutsNotEnabledError(
            "You have no payout account: connect one under Payout settings on the Money page."
        )
    account = _refresh(session, account, gateway)
    if not account.payouts_enabled:
        raise PayoutsNotEnabledError(
            f"Stripe cannot send you money yet ({account.requirements}): finish onboarding "
            "under Payout settings on the Money page."
        )
    if amount.amount_minor < policy.minimum_minor:
        raise PayoutAmountError(
            f"A payout is at least {Money(policy.minimum_minor, amount.currency)}."
        )
    available = next(
        (b.available_minor for b in balances(session, user) if b.currency == amount.currency), 0
    )
    if amount.amount_minor > available:
        raise PayoutAmountError(
            f"Only {Money(available, amount.currency)} is available to pay out now, not {amount}."
        )
    planned = plan_payouts(
        session, reference, amount.currency, now=moment, cap_minor=amount.amount_minor
    )
    for payout in planned:
        attempt_payout(session, payout, gateway=gateway, now=moment)
        session.add(payout)
    session.flush()
    return planned


def run_payouts(
    session: Session, *, gateway: PaymentGateway, policy: PayoutPolicy, now: datetime
) -> list[Payout]:
    """One round: plan what each enabled party may be paid, then attempt what is due.

    An account still onboarding is asked of Stripe again each round (Stripe's `account.updated`
    webhook would spare the call; the round stays correct without it).
    """
    for stored in repository.connected_accounts(session):
        account = stored if stored.payouts_enabled else _refresh(session, stored, gateway)
        if not account.payouts_enabled:
            continue
        prefix = party_account(account.account_reference, PartyAccount.PAYABLE)
        currencies = {currency for _code, currency in repository.balances(session, prefix)}
        for currency in sorted(currencies):
            unpaid = sum(
                payout.amount_minor
                for payout in repository.unpaid_payouts(session, account.account_reference)
                if payout.currency == currency
            )
            owed = payable(session, account.account_reference, currency).amount_minor - unpaid
            cash = (
                sum(
                    sale.amount.amount_minor
                    for sale in sales_owed(session, account.account_reference)
                    if sale.amount.currency == currency
                )
                - unpaid
            )
            if min(owed, cash) >= policy.minimum_minor:
                plan_payouts(session, account.account_reference, currency, now=now)
    attempted = []
    for payout in repository.due_payouts(session, now, ATTEMPTS_PER_ROUND):
        attempted.append(attempt_payout(session, payout, gateway=gateway, now=now))
        session.add(payout)
    session.flush()
    return attempted


def payout_task(
    gateway: Callable[[], PaymentGateway | None], policy: PayoutPolicy, period: timedelta
) -> TaskKind:
    """The periodic payout round, on the `settlement` queue; its writes commit with the task.

    `gateway` answers None where no payment processor is configured: the round then waits.
    """

    def run(session: Session, _args: TaskArgs) -> None:
        processor = gateway()
        if processor is not None:
            run_payouts(session, gateway=processor, policy=policy, now=utcnow())

    return TaskKind(
        name=PAYOUT_TASK,
        queue="settlement",
        run=run,
        time_limit_s=10 * 60,
        period_s=period.total_seconds(),
    )
