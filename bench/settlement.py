"""Settlement benchmark: retail sales ingested, split and posted to the ledger, in batches.

One retail grant under a five-party contract with escalating tiers and a platform fee (the one
`bench.licensing` splits); each batch is one sales report of `batch` lines, recorded (rows and
log leaves), split and posted (a journal entry per line) in one transaction on the app's
SQLite database. The baseline, in the same run, is the split alone: the same lines through the
engine, with no database.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench.wiring import AppServices, ScratchApp
from licensing.contract import parse_contract_data
from licensing.engine import RetailSale, compile_contract, execute
from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer
from licensing.service.sales import SalesLine, submit_sales_report
from registry.db import unit_of_work
from registry.log.store import AttestationLog
from registry.models import Role, User, Work, persisted_id
from settlement.service.royalties import post_royalties

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


def _user(session: Session, name: str, role: Role) -> User:
    user = User(
        email=f"{name}@bench.example",
        display_name=name,
        password_hash="-",  # noqa: S106 - no password: these accounts never sign in
        roles=[role.value],
    )
    session.add(user)
    session.flush()
    return user


def _retail_grant(session: Session, log: AttestationLog) -> LicenseGrant:
    users = {name: _user(session, name, Role.CREATOR) for name, _role, _share in PARTIES}
    admin = _user(session, "admin", Role.ADMIN)
    brand = _user(session, "brand", Role.BRAND)
    work = Work(
        owner_id=persisted_id(users["ana"]),
        title="bench",
        sha256=hashlib.sha256(b"bench").hexdigest(),
        mime_type="image/png",
        width=10,
        height=10,
        byte_size=100,
    )
    session.add(work)
    session.flush()
    contract = parse_contract_data(
        {
            "format": "copymark.contract/v1",
            "contract_id": "bench-settlement",
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
                {"id": name, "account": f"acct:{name}@bench.example", "role": role, "share_bp": bp}
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


def _ingest(app: AppServices, sales: int, batch: int) -> float:
    with unit_of_work(app.session) as session:
        grant = _retail_grant(session, AttestationLog(session, app.signer))
        grant_id = persisted_id(grant)
        brand = session.get(User, grant.licensee_id)
    if brand is None:
        raise LookupError("the benchmark's brand vanished")
    started = time.perf_counter()
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
    return sales / (time.perf_counter() - started)


def run_settlement_benchmark(
    open_app: ScratchApp, sales: int = 20_000, batch: int = 500
) -> dict[str, Any]:
    """Measure sales/s ingested, split and posted, and the split alone as the baseline."""
    with (
        tempfile.TemporaryDirectory(prefix="copymark-bench-settlement-") as home,
        open_app(Path(home)) as app,
    ):
        ingested = _ingest(app, sales, batch)
    return {
        "sales": sales,
        "batch_lines": batch,
        "sales_ingested_split_posted_per_s": round(ingested, 1),
        "baseline_split_alone_per_s": round(_split_alone(sales), 1),
    }
