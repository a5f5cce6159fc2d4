"""Payments under faults: the ledger stays exact when webhooks are duplicated, reordered,
replayed with other content, forged, and the worker is killed mid-delivery.

A seeded run of `payments` wholesale grants, each paid through the app's own payment start
(`start_payment`) and settled only by signed webhooks through the app's own inbox
(`receive_webhook`). The processor is a seeded model of Stripe (`SimulatedStripe`): it answers
the gateway's calls, decides which payments succeed (some fail first and succeed on a retry, some
only fail), keeps a balance transaction per charge with its fee, and emits the events Stripe
would. The deliveries then go wrong on purpose:

- every event is delivered one to three times, in an order shuffled across the whole run;
- some deliveries are replays of a seen event id with other content (must be refused, 409);
- some carry a forged signature (must be refused, nothing written);
- the worker is killed at random points (while the fee is read mid-settlement, or after the
  event was applied but before commit); the transaction rolls back and the delivery is retried.

Afterwards: every journal entry balances; every succeeded payment is settled exactly once and
no failed one is; each party's payable equals the sum of its allocations; the ledger's Stripe
clearing account equals the processor's balance transactions. A violated invariant raises
`SimulationFailure` naming the seed, so the same seed reproduces the run exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, func, select

from licensing.contract import parse_contract_data
from licensing.money import Money
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer
from registry.db import unit_of_work
from registry.errors import CopymarkError
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.models import Role, User, Work, persisted_id, utcnow
from settlement import repository
from settlement.errors import EventConflictError, ProcessorUnavailableError, WebhookSignatureError
from settlement.models import JournalEntry, Payment, PaymentStatus
from settlement.service.payments import start_payment
from settlement.service.reconcile import reconcile
from settlement.service.webhooks import receive_webhook
from settlement.stripe.gateway import (
    BalanceTransaction,
    ConnectedAccountSnapshot,
    IntentSnapshot,
    SandboxCard,
)
from settlement.stripe.signatures import sign

SECRET = "whsec_simulation"  # noqa: S105 - the simulation signs its own webhooks
PRICE_MINOR = 250_000
SHARES = (("ana", 6000), ("ben", 4000))
DOMAIN = "simulation.example"
PLATFORM_FEE_BP = 1000


class SimulationFailure(AssertionError):
    """An invariant did not hold; the message names the seed that reproduces it."""


class KilledWorker(RuntimeError):
    """The simulated worker died inside a transaction."""


@dataclass
class SimulatedStripe:
    """A seeded model of Stripe's PaymentIntents and balance, answering as the gateway does."""

    rng: random.Random
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    transactions: list[BalanceTransaction] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    fee_reads: int = 0
    on_fee_read: Callable[[], None] = lambda: None

    def create_intent(
        self, amount: Money, grant_id: int, payment_method: str | None, idempotency_key: str
    ) -> IntentSnapshot:
        intent_id = self.by_key.setdefault(idempotency_key, f"pi_sim_{len(self.by_key) + 1}")
        self.intents.setdefault(
            intent_id,
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount.amount_minor,
                "currency": amount.currency.lower(),
                "status": "requires_payment_method",
                "metadata": {"grant_id": str(grant_id)},
                "client_secret": f"{intent_id}_secret",
            },
        )
        return IntentSnapshot.from_object(self.intents[intent_id])

    def fee_of(self, intent_id: str, currency: str) -> Money:
        self.fee_reads += 1
        self.on_fee_read()
        amount = int(self.intents[intent_id]["amount"])
        return Money(amount * 29 // 1000 + 30, currency)

    def balance_transactions(self) -> list[BalanceTransaction]:
        return list(self.transactions)

    def card_method(self, card: SandboxCard) -> str:
        raise ProcessorUnavailableError("the simulation's payers confirm no card forms")

    def create_connected_account(
        self, email: str, account_reference: str, idempotency_key: str
    ) -> ConnectedAccountSnapshot:
        raise ProcessorUnavailableError("the simulation pays no one out")

    def connected_account(self, account_id: str) -> ConnectedAccountSnapshot:
        raise ProcessorUnavailableError("the simulation pays no one out")

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        raise ProcessorUnavailableError("the simulation pays no one out")

    def charge_of(self, intent_id: str) -> str | None:
        return None

    def create_transfer(
        self,
        amount: Money,
        destination: str,
        *,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> str:
        raise ProcessorUnavailableError("the simulation pays no one out")

    def _event(self, kind: str, intent: dict[str, Any], **extra: Any) -> None:
        self.events.append(
            {
                "id": f"evt_sim_{len(self.events) + 1}",
                "object": "event",
                "type": kind,
                "data": {"object": {**intent, **extra}},
            }
        )

    def decide(self, intent_id: str) -> bool:
        """Charge the card: most succeed, some fail first and then succeed, some only fail."""
        intent = self.intents[intent_id]
        roll = self.rng.random()
        if roll < 0.2:
            failed = {**intent, "status": "requires_payment_method"}
            self._event(
                "payment_intent.payment_failed",
                failed,
                last_payment_error={"message": "Your card was declined."},
            )
        if roll < 0.08:
            return False
        intent["status"] = "succeeded"
        amount = Money(int(intent["amount"]), str(intent["currency"]).upper())
        fee = Money(amount.amount_minor * 29 // 1000 + 30, amount.currency)
        self.transactions.append(
            BalanceTransaction(f"txn_{intent_id}", "charge", f"ch_{intent_id}", amount, fee)
        )
        self._event("payment_intent.succeeded", dict(intent))
        return True


@dataclass(frozen=True, slots=True)
class SimulationReport:
    seed: int
    payments: int
    succeeded: int
    deliveries: int
    duplicates: int
    kills: int
    conflicts_refused: int
    forgeries_refused: int
    seconds: float


def seeded_user(session: Session, name: str, role: Role, domain: str) -> User:
    """An account of a benchmark's seeded market, at `name@domain`."""
    account = User(
        email=f"{name}@{domain}",
        display_name=name,
        password_hash="-",  # noqa: S106 - no password: these accounts never sign in
        roles=[role.value],
        # Seeded accounts: nobody opens a mailed link, yet they consent to the contract.
        email_verified_at=utcnow(),
    )
    session.add(account)
    session.flush()
    return account


def seeded_work(session: Session, owner: User, title: str) -> Work:
    """A registered work of a benchmark's seeded market (no image behind it)."""
    work = Work(
        owner_id=persisted_id(owner),
        title=title,
        sha256=hashlib.sha256(title.encode()).hexdigest(),
        mime_type="image/png",
        width=10,
        height=10,
        byte_size=100,
    )
    session.add(work)
    session.flush()
    return work


def wholesale_offer(session: Session, signer: LogSigner) -> tuple[User, int]:
    """A brand and an open wholesale offer under a two-creator contract with a platform fee."""

    log = AttestationLog(session, signer)
    parties = {name: seeded_user(session, name, Role.CREATOR, DOMAIN) for name, _share in SHARES}
    admin = seeded_user(session, "admin", Role.ADMIN, DOMAIN)
    brand = seeded_user(session, "brand", Role.BRAND, DOMAIN)
    work = seeded_work(session, parties["ana"], "simulation")
    contract = parse_contract_data(
        {
            "format": "copymark.contract/v1",
            "contract_id": "payment-simulation",
            "version": 1,
            "subject": {"work": f"work-{work.id}"},
            "currency": "USD",
            "ai_training": "not_allowed",
            "parties": [
                {
                    "id": "platform",
                    "account": "platform:copymark",
                    "role": "platform",
                    "share_bp": 0,
                }
            ]
            + [
                {
                    "id": name,
                    "account": f"acct:{name}@{DOMAIN}",
                    "role": "creator",
                    "share_bp": bp,
                }
                for name, bp in SHARES
            ],
            "platform_fee": {"party": "platform", "rate_bp": PLATFORM_FEE_BP},
            "wholesale": {
                "packages": [
                    {
                        "id": "bundle",
                        "units": 100,
                        "fee": {"amount_minor": PRICE_MINOR, "currency": "USD"},
                    }
                ]
            },
        }
    )
    version = propose_contract_version(session, parties["ana"], contract)
    consent_to_version(session, admin, persisted_id(version), "platform", log)
    for name, party in parties.items():
        consent_to_version(session, party, persisted_id(version), name, log)
    offer = publish_offer(session, parties["ana"], persisted_id(work), "wholesale", "bundle")
    return brand, persisted_id(offer)


def _deliveries(rng: random.Random, events: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """Each event one to three times and some forgeries, shuffled; then replays of seen ids
    with other content, which only a sender holding the secret could sign and which come last
    (popped from the end: the queue is consumed back to front)."""
    queue: list[tuple[str, bytes]] = []
    replays: list[tuple[str, bytes]] = []
    for event in events:
        body = json.dumps(event).encode()
        queue += [("genuine", body)] * rng.choice((1, 1, 2, 3))
        if rng.random() < 0.03:
            other = json.loads(body)
            other["data"]["object"]["amount"] = int(other["data"]["object"]["amount"]) + 1
            replays.append(("conflicting", json.dumps(other).encode()))
        if rng.random() < 0.03:
            queue.append(("forged", body))
    rng.shuffle(queue)
    return replays + queue


def run_payment_simulation(
    session_factory: Callable[[], Session],
    signer: LogSigner,
    *,
    payments: int,
    seed: int,
    kill_rate: float = 0.05,
    batch: int = 200,
) -> SimulationReport:
    """Run the seeded simulation on an empty database; raise `SimulationFailure` on any breach."""
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    stripe = SimulatedStripe(random.Random(seed + 1))  # noqa: S311 - seeded, not a secret
    started = time.perf_counter()
    with unit_of_work(session_factory) as session:
        brand_user, offer_id = wholesale_offer(session, signer)
        brand_id = persisted_id(brand_user)
    intents: list[str] = []
    for offset in range(0, payments, batch):
        with unit_of_work(session_factory) as session:
            brand = session.get(User, brand_id)
            if brand is None:
                raise SimulationFailure(f"seed {seed}: the brand vanished")
            log = AttestationLog(session, signer)
            for _ in range(min(batch, payments - offset)):
                grant, _execution = take_license(session, brand, offer_id, log)
                started_payment = start_payment(
                    session, brand, persisted_id(grant), gateway=stripe, log=log
                )
                intents.append(started_payment.payment.payment_intent_id)
    succeeded = {intent for intent in intents if stripe.decide(intent)}
    queue = _deliveries(rng, stripe.events)
    counts = {"deliveries": 0, "accepted": 0, "kills": 0, "conflicts": 0, "forgeries": 0}

    def maybe_kill() -> None:
        if rng.random() < kill_rate:
            counts["kills"] += 1
            raise KilledWorker("killed while reading the fee")

    stripe.on_fee_read = maybe_kill
    now = int(time.time())
    while queue:
        kind, body = queue.pop()
        counts["deliveries"] += 1
        header = sign(body, "whsec_wrong" if kind == "forged" else SECRET, now)
        try:
            with unit_of_work(session_factory) as session:
                receive_webhook(
                    session,
                    body,
                    header,
                    secret=SECRET,
                    fee_of=stripe.fee_of,
                    log=AttestationLog(session, signer),
                    now=now,
                )
                if rng.random() < kill_rate:
                    counts["kills"] += 1
                    raise KilledWorker("killed before commit")
        except KilledWorker:
            # Stripe retries a delivery that was not acknowledged, later, in any order (though
            # before the replays, which stand for a sender that already saw it acknowledged).
            replays = sum(1 for queued, _ in queue if queued == "conflicting")
            queue.insert(rng.randrange(replays, len(queue) + 1), (kind, body))
            continue
        except EventConflictError:
            counts["conflicts"] += 1
            if kind != "conflicting":
                raise SimulationFailure(f"seed {seed}: a genuine delivery was refused") from None
            continue
        except WebhookSignatureError:
            counts["forgeries"] += 1
            if kind != "forged":
                raise SimulationFailure(f"seed {seed}: a genuine signature was refused") from None
            continue
        except CopymarkError as error:
            raise SimulationFailure(f"seed {seed}: delivery refused: {error.message}") from None
        if kind != "genuine":
            raise SimulationFailure(f"seed {seed}: a {kind} delivery was accepted")
        counts["accepted"] += 1
    _check(session_factory, stripe, succeeded, set(intents), seed)
    return SimulationReport(
        seed=seed,
        payments=payments,
        succeeded=len(succeeded),
        deliveries=counts["deliveries"],
        duplicates=counts["accepted"] - len(stripe.events),
        kills=counts["kills"],
        conflicts_refused=counts["conflicts"],
        forgeries_refused=counts["forgeries"],
        seconds=round(time.perf_counter() - started, 2),
    )


def _check(
    session_factory: Callable[[], Session],
    stripe: SimulatedStripe,
    succeeded: set[str],
    intents: set[str],
    seed: int,
) -> None:
    def require(condition: bool, what: str) -> None:
        if not condition:
            raise SimulationFailure(f"seed {seed}: {what}")

    with session_factory() as session:
        entry_ids = [i for i in session.exec(select(JournalEntry.id)).all() if i is not None]
        require(not repository.unbalanced_entries(session, entry_ids), "an entry does not balance")
        payments = session.exec(select(Payment)).all()
        settled = {p.payment_intent_id for p in payments if p.status == PaymentStatus.SUCCEEDED}
        require(settled == succeeded, f"{len(succeeded ^ settled)} payments settled wrongly")
        require({p.payment_intent_id for p in payments} == intents, "a payment was lost")
        keys = session.exec(select(JournalEntry.external_key)).all()
        require(len(keys) == len(set(keys)) == len(succeeded), "a payment was posted twice")
        entries = int(session.exec(select(func.count()).select_from(JournalEntry)).one())
        require(entries == len(succeeded), "entries other than the settled payments exist")
        owed: dict[str, int] = defaultdict(int)
        for payment in payments:
            if payment.status == PaymentStatus.SUCCEEDED:
                grant_entry = repository.lines_of(session, payment.journal_entry_id or 0)
                for code, _currency, amount in grant_entry:
                    if code.startswith("party:"):
                        owed[code] += amount
        balances = repository.balances(session, "party:")
        require(
            all(balances.get((code, "USD"), 0) == amount for code, amount in owed.items()),
            "a party's payable differs from its allocations",
        )
        split_total = sum(-amount for amount in owed.values())
        party_share = PRICE_MINOR - PRICE_MINOR * PLATFORM_FEE_BP // 10_000
        require(split_total == party_share * len(succeeded), "the parties' total is not the split")
        results = reconcile(session, stripe)
        require(all(result.matched for result in results), "the ledger differs from the processor")
