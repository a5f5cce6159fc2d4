"""Paid royalty invoices reach the parties' payouts, and unpaid ones never do; refunds of paid
invoices give back what is left to give.

A seeded simulation files retail sales reports, pays some of their invoices through the Stripe
sandbox, refunds some in part or in full (and tries refunds that cannot be), and runs payout
rounds (some rolled back after their transfers), in random order. After every step: each party
has been paid out no more than its allocations on the invoices paid so far, and never from an
unpaid one, per sale as in total; no payable is negative; what the processor holds is what was
paid less its fees and the refunds; each invoice shows what was refunded of it, and is refunded
once all of it was; after a round, nothing available is left unpaid; every journal entry
balances. Until the first refund, the figures are exact: what is owed and not backed by cash is
the parties' share of the open invoices, and a round pays out every paid allocation. A failing
seed replays exactly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from sqlmodel import Session, select

from licensing.models import LicenseGrant
from registry.enforcement.models import DisputeStatus
from registry.models import User, persisted_id, utcnow
from settlement.errors import PaymentMismatchError, PaymentStateError
from settlement.ledger import PlatformAccount, platform_account
from settlement.models import HeldRoyalty, JournalEntry, Payout, PayoutStatus
from settlement.postings import report_shares
from settlement.repository import balances, unbalanced_entries
from settlement.service import payouts
from settlement.service.holds import decide
from settlement.service.invoices import InvoiceStatus, invoices_of_grant, start_invoice_payment
from settlement.service.payouts import PayoutPolicy, run_payouts
from settlement.service.refunds import refund_invoice
from settlement.service.royalties import post_royalties
from settlement.stripe.gateway import StripeGateway
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from tests.support.localstripe import brand_card, localstripe  # noqa: F401 - the fixture
from tests.unit.licensing.service.support import World, line, retail_grant
from tests.unit.settlement.test_holds import (
    CLAIMANT,
    dispute_the_work,
    disputed_market,
    licensed_market,
    report,
)

PARTIES = ("acct:ana@example.com", "acct:ben@example.com")
CLEARING = platform_account(PlatformAccount.STRIPE_CLEARING)
STEPS = 20


@pytest.fixture
def gateway(localstripe: LocalStripe) -> StripeGateway:  # noqa: F811
    return StripeGateway(SANDBOX_API_KEY, localstripe.api_base)


@dataclass
class Model:
    """What each party was allocated on each invoice, open or paid (by PaymentIntent)."""

    open: dict[str, dict[str, int]] = field(default_factory=dict)
    paid: dict[str, dict[str, int]] = field(default_factory=dict)
    report_of: dict[str, str] = field(default_factory=dict)
    amount: dict[str, int] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def owed_on_paid(self, party: str) -> int:
        return sum(shares.get(party, 0) for shares in self.paid.values())

    def owed_on_open(self, party: str) -> int:
        return sum(shares.get(party, 0) for shares in self.open.values())


def onboard(session: Session, user: User, gateway: StripeGateway) -> None:
    """Connect the party's payout account and submit Stripe's onboarding form."""
    link = payouts.connect(
        session,
        user,
        gateway=gateway,
        refresh_url="https://copymark.test/money",
        return_url="https://copymark.test/money",
    ).link
    assert link is not None
    assert httpx.post(link, follow_redirects=False).status_code == 303


def ledger(session: Session, party: str, kind: str) -> int:
    code = f"party:{party}:{kind}"
    return -balances(session, code).get((code, "USD"), 0)


def paid_out(session: Session) -> dict[tuple[str, str], int]:
    """What each party was transferred from each sale."""
    found: dict[tuple[str, str], int] = defaultdict(int)
    for payout in session.exec(select(Payout).where(Payout.status == PayoutStatus.PAID)):
        found[(payout.account_reference, payout.payment_intent_id)] += payout.amount_minor
    return found


def payout_round(session: Session, gateway: StripeGateway, *, roll_back: bool = False) -> None:
    if roll_back:
        # The round's transfers happen, then its transaction is lost: the next round must find
        # them again rather than pay twice.
        lost = session.begin_nested()
        run_payouts(session, gateway=gateway, policy=PayoutPolicy(minimum_minor=1), now=utcnow())
        lost.rollback()
        return
    run_payouts(session, gateway=gateway, policy=PayoutPolicy(minimum_minor=1), now=utcnow())


@dataclass
class Simulation:
    rng: random.Random
    world: World
    grant: LicenseGrant
    gateway: StripeGateway
    sandbox: LocalStripe
    model: Model = field(default_factory=Model)

    def step(self, name: str) -> str:
        session, model = self.world.session, self.model
        action = self.rng.choice(
            ["report", "report", "pay", "pay", "refund", "round", "round", "lost round"]
        )
        if action == "refund" and model.paid:
            return self.refund(self.rng.choice(sorted(model.paid)))
        if action == "report" or (action == "pay" and not model.open):
            lines = [line(self.rng.randint(1, 20), self.rng.randint(1_000, 80_000)) for _ in "abc"]
            outcome = self.world.report(self.grant, name, *lines[: self.rng.randint(1, 3)])
            post_royalties(session, outcome)
            shares = report_shares((row.execution for row in outcome.rows), "USD")
            model.open[name] = {s.account: s.amount.amount_minor for s in shares if s.account}
            return f"report {name}"
        if action == "pay":
            report_id = self.rng.choice(sorted(model.open))
            started = start_invoice_payment(
                session,
                self.world.brand,
                persisted_id(self.grant),
                report_id,
                gateway=self.gateway,
                log=self.world.log,
                payment_method=brand_card(self.sandbox),
            )
            assert started.payment.status == "succeeded"
            intent = started.payment.payment_intent_id
            model.paid[intent] = model.open.pop(report_id)
            model.report_of[intent] = report_id
            model.amount[intent] = started.payment.amount_minor
            return f"pay {report_id}"
        payout_round(session, self.gateway, roll_back=action == "lost round")
        if action == "round":
            for user in (self.world.ana, self.world.ben):
                assert all(b.available_minor == 0 for b in payouts.balances(session, user))
            if not model.refunded:
                for party in PARTIES:
                    assert ledger(session, party, "paid_out") == model.owed_on_paid(party)
        return action

    def refund_invoice(self, report_id: str, asked: int | None) -> None:
        refund_invoice(
            self.world.session,
            self.world.ana,
            persisted_id(self.grant),
            report_id,
            asked,
            gateway=self.gateway,
            log=self.world.log,
        )

    def refund(self, intent: str) -> str:
        """Refund part or all of what is left of a paid invoice, or try more than is left."""
        session, model = self.world.session, self.model
        left = model.amount[intent] - model.refunded.get(intent, 0)
        asked = self.rng.choice([None, self.rng.randint(1, max(left, 1)), left + 1])
        report_id = model.report_of[intent]
        entries = len(session.exec(select(JournalEntry)).all())
        if left == 0 or asked == left + 1:
            with pytest.raises((PaymentMismatchError, PaymentStateError)):
                self.refund_invoice(report_id, asked)
            assert len(session.exec(select(JournalEntry)).all()) == entries
            return f"refund {asked} of {report_id} refused"
        self.refund_invoice(report_id, asked)
        model.refunded[intent] += asked or left
        return f"refund {asked} of {report_id}"


def check(session: Session, world: World, grant: LicenseGrant, model: Model) -> None:
    transferred = paid_out(session)
    for (party, intent), amount in transferred.items():
        assert intent in model.paid, f"{party} was paid from {intent}, which paid no invoice"
        assert amount <= model.paid[intent].get(party, 0)
    for party in PARTIES:
        out = ledger(session, party, "paid_out")
        assert out == sum(a for (p, _), a in transferred.items() if p == party)
        assert out <= model.owed_on_paid(party)
        assert ledger(session, party, "payable") >= 0
        if not model.refunded:
            assert ledger(session, party, "payable") + out == (
                model.owed_on_paid(party) + model.owed_on_open(party)
            )
    if not model.refunded:
        for user, party in ((world.ana, PARTIES[0]), (world.ben, PARTIES[1])):
            shown = payouts.balances(session, user)
            awaiting = shown[0].awaiting_collection_minor if shown else 0
            available = shown[0].available_minor if shown else 0
            assert awaiting == model.owed_on_open(party)
            assert available == model.owed_on_paid(party) - ledger(session, party, "paid_out")
    held_at_processor = sum(
        balances(session, code).get((code, "USD"), 0)
        for code in (CLEARING, platform_account(PlatformAccount.PROCESSOR_FEES))
    )
    assert held_at_processor == sum(model.amount.values()) - sum(model.refunded.values())
    invoices = {
        i.report_id: i for i in invoices_of_grant(session, world.brand, persisted_id(grant))
    }
    assert {r for r, i in invoices.items() if i.status == InvoiceStatus.OPEN} == set(model.open)
    for intent, report_id in model.report_of.items():
        payment = invoices[report_id].payment
        assert payment is not None
        assert payment.refunded_minor == model.refunded.get(intent, 0)
        fully = model.refunded.get(intent, 0) == model.amount[intent]
        assert (invoices[report_id].status == InvoiceStatus.REFUNDED) == fully
    entry_ids = [persisted_id(entry) for entry in session.exec(select(JournalEntry))]
    assert unbalanced_entries(session, entry_ids) == []


@pytest.fixture
def market(world: World, gateway: StripeGateway) -> tuple[World, LicenseGrant]:
    """Ana's work licensed retail to a brand; Ana and her co-creator Ben can receive payouts."""
    grant = retail_grant(world)
    onboard(world.session, world.ana, gateway)
    onboard(world.session, world.ben, gateway)
    return world, grant


@pytest.mark.parametrize("seed", range(6))
def test_parties_are_paid_their_paid_allocations_and_never_an_unpaid_invoice(
    market: tuple[World, LicenseGrant],
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
    seed: int,
) -> None:
    world, grant = market
    simulation = Simulation(random.Random(seed), world, grant, gateway, localstripe)
    model = simulation.model
    taken: list[str] = []
    run = f"{seed}-{utcnow():%H%M%S%f}"
    for number in range(STEPS):
        try:
            taken.append(simulation.step(f"r{run}-{number}"))
            check(world.session, world, grant, model)
        except AssertionError as failure:
            raise AssertionError(f"seed {seed}, after {taken}: {failure}") from failure
    payout_round(world.session, gateway)
    for user in (world.ana, world.ben):
        assert all(b.available_minor == 0 for b in payouts.balances(world.session, user))
    if not model.refunded:
        for party in PARTIES:
            assert ledger(world.session, party, "paid_out") == model.owed_on_paid(party)
            assert ledger(world.session, party, "payable") == model.owed_on_open(party)


@pytest.mark.parametrize("outcome", [DisputeStatus.REJECTED, DisputeStatus.UPHELD])
def test_a_paid_invoice_of_a_disputed_work_is_held_until_the_dispute_is_decided(
    world: World,
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
    outcome: DisputeStatus,
) -> None:
    session = world.session
    grant, dispute = disputed_market(world)
    report_id = f"held-{outcome}-{utcnow():%H%M%S%f}"
    report(world, grant, report_id, [line(10, 100_000)])
    paid = start_invoice_payment(
        session,
        world.brand,
        persisted_id(grant),
        report_id,
        gateway=gateway,
        log=world.log,
        payment_method=brand_card(localstripe),
    ).payment
    cleo = session.exec(select(User).where(User.email == "cleo@example.com")).one()
    for user in (world.ana, world.ben, cleo):
        onboard(session, user, gateway)
    payout_round(session, gateway)
    assert paid_out(session) == {}
    (held,) = payouts.balances(session, world.ben)
    assert (held.available_minor, held.held_minor) == (0, ledger(session, PARTIES[1], "held"))

    decide(session, world.admin, persisted_id(dispute), outcome, reason="decided", log=world.log)
    payout_round(session, gateway)
    shares = {party: ledger(session, party, "paid_out") for party in (*PARTIES, CLAIMANT)}
    if outcome == DisputeStatus.REJECTED:
        assert shares[CLAIMANT] == 0
        assert min(shares[PARTIES[0]], shares[PARTIES[1]]) > 0
    else:
        assert shares[PARTIES[0]] == shares[PARTIES[1]] == 0
        assert shares[CLAIMANT] > 0
    assert sum(shares.values()) == sum(
        row.amount_minor for row in session.exec(select(HeldRoyalty))
    )
    assert {intent for _party, intent in paid_out(session)} == {paid.payment_intent_id}


def test_royalties_reported_before_a_dispute_and_paid_during_it_are_held(
    world: World,
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    session = world.session
    grant = licensed_market(world)
    report_id = f"before-{utcnow():%H%M%S%f}"
    allocated = report(world, grant, report_id, [line(10, 100_000)])
    assert session.exec(select(HeldRoyalty)).all() == []
    dispute = dispute_the_work(world)
    start_invoice_payment(
        session,
        world.brand,
        persisted_id(grant),
        report_id,
        gateway=gateway,
        log=world.log,
        payment_method=brand_card(localstripe),
    )
    for user in (world.ana, world.ben):
        onboard(session, user, gateway)
    payout_round(session, gateway)
    assert paid_out(session) == {}
    held = session.exec(select(HeldRoyalty)).all()
    assert {row.dispute_id for row in held} == {dispute.id}
    assert sum(row.amount_minor for row in held) == allocated
    assert ledger(session, PARTIES[0], "held") + ledger(session, PARTIES[1], "held") == allocated

    decide(
        session,
        world.admin,
        persisted_id(dispute),
        DisputeStatus.REJECTED,
        reason="decided",
        log=world.log,
    )
    payout_round(session, gateway)
    assert sum(ledger(session, party, "paid_out") for party in PARTIES) == allocated


@pytest.mark.parametrize("outcome", [DisputeStatus.REJECTED, DisputeStatus.UPHELD])
def test_a_held_invoice_refunded_in_part_pays_out_only_what_was_not_refunded(
    world: World,
    gateway: StripeGateway,
    localstripe: LocalStripe,  # noqa: F811
    outcome: DisputeStatus,
) -> None:
    session = world.session
    grant, dispute = disputed_market(world)
    report_id = f"held-refund-{outcome}-{utcnow():%H%M%S%f}"
    allocated = report(world, grant, report_id, [line(10, 100_000)])
    start_invoice_payment(
        session,
        world.brand,
        persisted_id(grant),
        report_id,
        gateway=gateway,
        log=world.log,
        payment_method=brand_card(localstripe),
    )
    refunded = refund_invoice(
        session, world.ana, persisted_id(grant), report_id, 3_333, gateway=gateway, log=world.log
    )
    assert refunded.refunded_minor == 3_333
    held = session.exec(select(HeldRoyalty)).all()
    taken_back = sum(row.refunded_minor for row in held)
    assert 0 < taken_back <= 3_333
    assert ledger(session, PARTIES[0], "held") + ledger(session, PARTIES[1], "held") == (
        allocated - taken_back
    )
    cleo = session.exec(select(User).where(User.email == "cleo@example.com")).one()
    for user in (world.ana, world.ben, cleo):
        onboard(session, user, gateway)

    decide(session, world.admin, persisted_id(dispute), outcome, reason="decided", log=world.log)
    payout_round(session, gateway)
    shares = {party: ledger(session, party, "paid_out") for party in (*PARTIES, CLAIMANT)}
    assert sum(shares.values()) == allocated - taken_back
    assert (shares[CLAIMANT] == 0) == (outcome == DisputeStatus.REJECTED)
    assert ledger(session, PARTIES[0], "held") == ledger(session, PARTIES[1], "held") == 0
    absorbed = platform_account(PlatformAccount.ABSORBED_LOSSES)
    assert balances(session, absorbed).get((absorbed, "USD"), 0) == 0
