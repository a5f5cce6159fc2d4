"""Settlement benchmark: retail sales ingested, split and posted to the ledger, in batches.

One retail grant under a five-party contract with escalating tiers and a platform fee (the one
`bench.licensing` splits); each batch is one sales report of `batch` lines, split in memory,
logged (one `license_report` leaf per report), written (its lines in one statement) and posted
(one journal entry per report, each party's line the sum of its allocations) in one transaction
on the app's SQLite database, as the app's report endpoints do: the parties' payables are owed
when the report is posted, and the licensee's later payment of the invoice only turns the
receivable into cash. On PostgreSQL it also runs two such streams at once, each a grant of its
own in its own process, as several brands report to a server of several processes. The baseline,
in the same run, is the split alone: the same lines through the engine, with no database.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, NamedTuple

import stripe
from sqlmodel import Session, col, func, select

from bench.settlement_simulation import (
    run_payment_simulation,
    seeded_user,
    seeded_work,
    wholesale_offer,
)
from bench.spawned import run_spawned
from bench.wiring import AppServices, ScratchApp
from licensing.contract import parse_contract_data
from licensing.engine import RetailSale, compile_contract, execute
from licensing.models import LicenseGrant, SalesReport
from licensing.money import Money
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer
from licensing.service.sales import SalesLine, submit_sales_report
from registry.db import unit_of_work
from registry.log.store import AttestationLog
from registry.models import Role, User, persisted_id
from settlement.service.payments import start_payment
from settlement.service.royalties import post_royalties
from settlement.stripe.gateway import StripeGateway
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe

TEST_CARD: Any = {
    "type": "card",
    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
}
# A stream of 20,000 sales takes about 5 s on PostgreSQL; ten minutes mean it is stuck.
STREAM_TIMEOUT_S = 600.0

PARTIES = (
    ("ana", "creator", 4000),
    ("ben", "co_creator", 2500),
    ("atelier", "rights_holder", 2000),
    ("agency", "agent", 1500),
)
TIERS = [
    {"from_units": 0, "rate_bp": 600},
    {"from_units": 1000, "rate_bp": 800},
    {"from_units": 10000, "rate_bp": 1000},
]


def _retail_grant(session: Session, log: AttestationLog, market: str) -> LicenseGrant:
    domain = f"{market}.example"
    users = {
        name: seeded_user(session, name, Role.CREATOR, domain) for name, _role, _share in PARTIES
    }
    admin = seeded_user(session, "admin", Role.ADMIN, domain)
    brand = seeded_user(session, "brand", Role.BRAND, domain)
    work = seeded_work(session, users["ana"], market)
    contract = parse_contract_data(
        {
            "format": "copymark.contract/v1",
            "contract_id": f"{market}-settlement",
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
                {"id": name, "account": f"acct:{name}@{domain}", "role": role, "share_bp": bp}
                for name, role, bp in PARTIES
            ],
            "platform_fee": {"party": "platform", "rate_bp": 1500},
            "retail": {"tiers": TIERS},
        }
    )
    version = propose_contract_version(session, users["ana"], contract)
    consent_to_version(session, admin, persisted_id(version), "platform", log)
    for name, user in users.items():
        consent_to_version(session, user, persisted_id(version), name, log)
    offer = publish_offer(session, users["ana"], persisted_id(work), "retail")
    grant, _ = take_license(session, brand, persisted_id(offer), log)
    return grant


def _lines(count: int, offset: int) -> list[SalesLine]:
    return [
        SalesLine(
            units=1 + (offset + n) % 97, net_revenue=Money(1999 * (1 + (offset + n) % 97), "USD")
        )
        for n in range(count)
    ]


def _split_alone(sales: int) -> float:
    compiled = compile_contract(
        parse_contract_data(
            {
                "format": "copymark.contract/v1",
                "contract_id": "bench-split",
                "version": 1,
                "subject": {"work": "work-1"},
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
                    {"id": name, "account": f"acct:{name}", "role": role, "share_bp": bp}
                    for name, role, bp in PARTIES
                ],
                "platform_fee": {"party": "platform", "rate_bp": 1500},
                "retail": {"tiers": TIERS},
            }
        )
    )
    lines = _lines(sales, 0)
    started = time.perf_counter()
    units = 0
    for line in lines:
        execute(
            compiled, RetailSale(units=line.units, net_revenue=line.net_revenue, units_before=units)
        )
        units += line.units
    return sales / (time.perf_counter() - started)


def _seed_grant(app: AppServices, market: str) -> tuple[int, int]:
    """A retail grant in a market of its own; returns its id and its licensee's."""
    with unit_of_work(app.session) as session:
        grant = _retail_grant(session, AttestationLog(session, app.signer), market)
    if grant.licensee_id is None:
        raise LookupError("the benchmark's grant has no licensee")
    return persisted_id(grant), grant.licensee_id


def _submit_reports(app: AppServices, grant_id: int, brand_id: int, sales: int, batch: int) -> None:
    with app.session() as session:
        brand = session.get(User, brand_id)
    if brand is None:
        raise LookupError("the benchmark's brand vanished")
    for number, offset in enumerate(range(0, sales, batch)):
        with unit_of_work(app.session) as session:
            outcome = submit_sales_report(
                session,
                brand,
                grant_id,
                report_id=f"bench-{number}",
                lines=_lines(min(batch, sales - offset), offset),
                log=AttestationLog(session, app.signer),
            )
            post_royalties(session, outcome)


def _ingest(app: AppServices, sales: int, batch: int) -> float:
    grant_id, brand_id = _seed_grant(app, "bench")
    started = time.perf_counter()
    _submit_reports(app, grant_id, brand_id, sales, batch)
    return sales / (time.perf_counter() - started)


class _Span(NamedTuple):
    """When one report stream began and ended (the system's monotonic clock)."""

    started: float
    ended: float


def _report_stream(
    open_app: ScratchApp,
    home: Path,
    stream: tuple[int, int, int, int],
    barrier: Barrier,
    results: multiprocessing.Queue[object],
) -> None:
    """Stream process: open the app, wait for the others, submit its grant's reports."""
    grant_id, brand_id, sales, batch = stream
    try:
        with open_app(home) as app:
            barrier.wait()
            started = time.monotonic()
            _submit_reports(app, grant_id, brand_id, sales, batch)
            results.put(_Span(started, time.monotonic()))
    except Exception as error:
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")


def _ingest_concurrently(
    open_app: ScratchApp, home: Path, app: AppServices, *, streams: int, sales: int, batch: int
) -> float:
    """Sales/s when `streams` processes each report `sales` sales of their own grant at once.

    As brands do on a server with several processes: one brand's reports follow each other,
    since each line's tier depends on the lines before it, while other brands' run alongside.
    """
    grants = [_seed_grant(app, f"stream{number}") for number in range(streams)]
    spans = run_spawned(
        _report_stream,
        [(open_app, home, (grant_id, brand_id, sales, batch)) for grant_id, brand_id in grants],
        _Span,
        name="report stream",
        timeout_s=STREAM_TIMEOUT_S,
    )
    with app.session() as session:
        recorded = session.exec(
            select(func.count()).where(col(SalesReport.grant_id).in_([g for g, _ in grants]))
        ).one()
    if recorded != streams * sales:
        raise RuntimeError(f"{recorded} report lines recorded, not {streams * sales}")
    seconds = max(span.ended for span in spans) - min(span.started for span in spans)
    return streams * sales / seconds


def run_settlement_benchmark(
    open_app: ScratchApp,
    sales: int = 20_000,
    batch: int = 500,
    *,
    open_postgres_app: ScratchApp | None = None,
    postgres_streams: int = 2,
    checkouts: int = 200,
    simulated_payments: int = 10_000,
    seed: int = 1,
    progress: Callable[[dict[str, Any]], None] = lambda _figures: None,
) -> dict[str, Any]:
    """Measure sales/s ingested, split and posted (SQLite, and PostgreSQL when given), the split
    alone as the baseline, one checkout's latency through the sandbox, and run the simulation.

    `progress` gets each phase's figures as it ends, so a long run that is stopped keeps them.
    """
    figures: dict[str, Any] = {"sales": sales, "batch_lines": batch}

    def add(phase: dict[str, Any]) -> None:
        figures.update(phase)
        progress(phase)

    with (
        tempfile.TemporaryDirectory(prefix="copymark-bench-settlement-") as home,
        open_app(Path(home)) as app,
    ):
        add({"sales_ingested_split_posted_per_s": round(_ingest(app, sales, batch), 1)})
        add(checkout_latency(app, checkouts))
    if open_postgres_app is not None:
        with (
            tempfile.TemporaryDirectory(prefix="copymark-bench-settlement-pg-") as home,
            open_postgres_app(Path(home)) as app,
        ):
            ingested = _ingest(app, sales, batch)
            add({"postgres_sales_ingested_split_posted_per_s": round(ingested, 1)})
            together = _ingest_concurrently(
                open_postgres_app,
                Path(home),
                app,
                streams=postgres_streams,
                sales=sales,
                batch=batch,
            )
            add(
                {
                    "postgres_streams": postgres_streams,
                    "postgres_concurrent_sales_ingested_split_posted_per_s": round(together, 1),
                }
            )
    add({"baseline_split_alone_per_s": round(_split_alone(sales), 1)})
    if simulated_payments:
        with (
            tempfile.TemporaryDirectory(prefix="copymark-bench-simulation-") as home,
            open_app(Path(home)) as app,
        ):
            add(payment_simulation(app, simulated_payments, seed))
    return figures


def checkout_latency(app: AppServices, checkouts: int) -> dict[str, Any]:
    """p50 and p99 of one checkout through the Stripe sandbox, as a brand's browser drives it.

    Each checkout takes a wholesale license and pays it with a card the sandbox tokenised: the
    PaymentIntent is created and confirmed through the official library, the fee read back, the
    grant activated, the split posted and logged, and the transaction committed.
    """
    sandbox = LocalStripe.start()
    try:
        gateway = StripeGateway(SANDBOX_API_KEY, sandbox.api_base)
        browser = stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": sandbox.api_base})
        with unit_of_work(app.session) as session:
            brand, offer_id = wholesale_offer(session, app.signer)
            brand_id = persisted_id(brand)
        timings: list[float] = []
        for _ in range(checkouts):
            card = browser.v1.payment_methods.create(params=TEST_CARD).id
            started = time.perf_counter()
            with unit_of_work(app.session) as session:
                licensee = session.get(User, brand_id)
                if licensee is None:
                    raise LookupError("the benchmark's brand vanished")
                log = AttestationLog(session, app.signer)
                grant, _ = take_license(session, licensee, offer_id, log)
                paid = start_payment(
                    session,
                    licensee,
                    persisted_id(grant),
                    gateway=gateway,
                    log=log,
                    payment_method=card,
                )
                if paid.payment.journal_entry_id is None:
                    raise RuntimeError(f"checkout of grant {grant.id} did not settle")
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        sandbox.stop()
    timings.sort()
    return {
        "checkouts": checkouts,
        "checkout_p50_ms": round(timings[len(timings) // 2], 1),
        "checkout_p99_ms": round(timings[min(len(timings) - 1, len(timings) * 99 // 100)], 1),
    }


def payment_simulation(app: AppServices, payments: int, seed: int) -> dict[str, Any]:
    """The fault-injecting payment simulation at this size; raises if an invariant breaks."""
    report = run_payment_simulation(app.session, app.signer, payments=payments, seed=seed)
    return {
        "simulation_payments": report.payments,
        "simulation_seed": report.seed,
        "simulation_succeeded": report.succeeded,
        "simulation_deliveries": report.deliveries,
        "simulation_duplicates": report.duplicates,
        "simulation_workers_killed": report.kills,
        "simulation_conflicts_refused": report.conflicts_refused,
        "simulation_forgeries_refused": report.forgeries_refused,
        "simulation_invariants_held": True,
        "simulation_s": report.seconds,
    }
