"""The licensing market the tests trade in: accounts, a brand with a proven domain, contracts,
offers and grants through the API, and the app's settings against the local Stripe sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import func, select

from frontend.services import Services
from frontend.settings import Settings
from licensing.contract import parse_contract_data
from licensing.models import (
    ContractConsent,
    ContractVersion,
    LicenseContract,
    LicenseGrant,
    LicenseOffer,
    SalesReport,
)
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.offers import publish_offer
from registry.accounts.domains import DomainVerifier
from registry.accounts.service import create_user
from registry.log.store import AttestationLog
from registry.models import Role, Visibility, Work, persisted_id, utcnow
from registry.schemas import WorkMetadata
from registry.service import Registered, Upload
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from similarity.crawl.netguard import NetGuard
from tests.factories import PASSWORD, Account, make_account, photo_jpeg
from tests.support.dns import TxtTable
from tests.support.receivers import SmtpInbox

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_test_copymark"


def sandbox_settings(settings: Settings, localstripe: LocalStripe) -> Settings:
    """The app's test settings, paying through the local Stripe sandbox with signed webhooks."""
    return settings.model_copy(
        update={
            "stripe_api_key": SANDBOX_API_KEY,
            "stripe_api_base": localstripe.api_base,
            "stripe_webhook_secret": WEBHOOK_SECRET,
        }
    )


def proving_domains_by_table(services: Services) -> Services:
    """The services, asking a TXT table (`dns_table`) instead of DNS for domain proofs."""
    services.domain_verifier = DomainVerifier(TxtTable(), NetGuard())
    return services


def dns_table(services: Services) -> TxtTable:
    resolver = services.domain_verifier.resolver
    assert isinstance(resolver, TxtTable)
    return resolver


def usd(amount_minor: Any) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": "USD"}


def contract(work_id: int, **overrides: Any) -> dict[str, Any]:
    """A contract between alice (60%) and bob (40%) offering every sale type."""
    document: dict[str, Any] = {
        "format": "copymark.contract/v1",
        "contract_id": f"c-{work_id}",
        "version": 1,
        "subject": {"work": f"work-{work_id}"},
        "currency": "USD",
        "ai_training": "not_allowed",
        "parties": [
            {
                "id": "alice",
                "account": "acct:alice@example.com",
                "role": "creator",
                "share_bp": 6000,
            },
            {
                "id": "bob",
                "account": "acct:bob@example.com",
                "role": "co_creator",
                "share_bp": 4000,
            },
        ],
        "retail": {"tiers": [{"from_units": 0, "rate_bp": 1000}]},
        "wholesale": {"packages": [{"id": "bundle", "units": 100, "fee": usd(10_000)}]},
        "buyout": {"fee": usd(500_000)},
    }
    document.update(overrides)
    return document


def published_photo_offer(
    services: Services,
    *,
    brand_email: str,
    photo: str,
    title: str,
    sale_terms: dict[str, Any],
    sale_type: str,
    package: str | None = None,
) -> LicenseOffer:
    """A verified designer's registered photo under her one-party contract with `sale_terms`,
    published as a `sale_type` offer, and a brand account of `brand_email`; committed."""
    with services.session() as session:
        designer = create_user(
            session, email="designer@example.com", password=PASSWORD, roles={Role.CREATOR}
        )
        designer.email_verified_at = utcnow()
        create_user(session, email=brand_email, password=PASSWORD, roles={Role.BRAND})
        (outcome,) = services.registrar.register_batch(
            session,
            designer,
            [Upload(photo_jpeg(photo), f"{photo}.jpg", WorkMetadata(title=title))],
        )
        assert isinstance(outcome, Registered)
        work_id = persisted_id(outcome.work)
        document = {
            "format": "copymark.contract/v1",
            "contract_id": f"{photo}-{work_id}",
            "version": 1,
            "subject": {"work": f"work-{work_id}"},
            "currency": "USD",
            "ai_training": "not_allowed",
            "parties": [
                {
                    "id": "designer",
                    "account": "acct:designer@example.com",
                    "role": "creator",
                    "share_bp": 10000,
                }
            ],
            **sale_terms,
        }
        log = AttestationLog(session, services.signer)
        version = propose_contract_version(
            session, designer, parse_contract_data(document), for_work=work_id
        )
        consent_to_version(session, designer, persisted_id(version), "designer", log)
        offer = publish_offer(session, designer, work_id, sale_type, package)
        session.commit()
        session.refresh(offer)
        return offer


@dataclass
class Market:
    client: TestClient
    services: Services
    alice: Account
    bob: Account
    brand: Account
    inbox: SmtpInbox

    def work(self, owner: Account | None = None, visibility: str = "public") -> int:
        with self.services.session() as session:
            work = Work(
                owner_id=(owner or self.alice).user_id,
                title="koi",
                sha256=f"{session.exec(select(func.count()).select_from(Work)).one():064x}",
                mime_type="image/png",
                width=10,
                height=10,
                byte_size=100,
                visibility=Visibility(visibility),
            )
            session.add(work)
            session.commit()
            return persisted_id(work)

    def propose(self, work_id: int, **overrides: Any) -> httpx.Response:
        return self.client.post(
            f"{API}/works/{work_id}/contract-versions",
            json=contract(work_id, **overrides),
            headers=self.alice.headers,
        )

    def consent(self, version_id: int, account: Account, party_id: str) -> httpx.Response:
        return self.client.post(
            f"{API}/contract-versions/{version_id}/consents",
            json={"party_id": party_id},
            headers=account.headers,
        )

    def activate(self, work_id: int, **overrides: Any) -> dict[str, Any]:
        proposed = self.propose(work_id, **overrides)
        assert proposed.status_code == 201, proposed.text
        self.consent(proposed.json()["id"], self.alice, "alice")
        activated = self.consent(proposed.json()["id"], self.bob, "bob")
        assert activated.status_code == 201, activated.text
        return dict(activated.json())

    def offer(self, work_id: int, sale_type: str, package: str | None = None) -> int:
        created = self.client.post(
            f"{API}/works/{work_id}/offers",
            json={"sale_type": sale_type, "package": package},
            headers=self.alice.headers,
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    def take(self, offer_id: int, account: Account | None = None) -> httpx.Response:
        return self.client.post(
            f"{API}/offers/{offer_id}/grants", headers=(account or self.brand).headers
        )

    def retail_grant(self) -> dict[str, Any]:
        work_id = self.work()
        self.activate(work_id)
        taken = self.take(self.offer(work_id, "retail"))
        assert taken.status_code == 201, taken.text
        return dict(taken.json())

    def report(self, grant_id: int, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            f"{API}/grants/{grant_id}/sales-reports", json=body, headers=self.brand.headers
        )

    def snapshot(self) -> dict[str, Any]:
        """Every licensing row count, the log size, offer states and work owners."""
        with self.services.session() as session:
            tables = (
                LicenseContract,
                ContractVersion,
                ContractConsent,
                LicenseOffer,
                LicenseGrant,
                SalesReport,
            )
            return {
                "rows": [
                    session.exec(select(func.count()).select_from(table)).one() for table in tables
                ],
                "leaves": AttestationLog(session).tree_size(),
                "offers": [(o.id, o.status) for o in session.exec(select(LicenseOffer))],
                "owners": [(w.id, w.owner_id) for w in session.exec(select(Work))],
            }


def brand_account(
    client: TestClient, services: Services, email: str, domain: str, inbox: SmtpInbox
) -> Account:
    """A brand with a verified address whose organisation proved its domain by a TXT record."""
    account = make_account(client, email, roles=["brand"], inbox=inbox)
    created = client.post(
        f"{API}/organisations", json={"name": domain, "domain": domain}, headers=account.headers
    )
    assert created.status_code == 201, created.text
    verification = f"{API}/organisations/{created.json()['id']}/domain-verification"
    challenge = client.post(verification, headers=account.headers).json()
    dns_table(services).records[challenge["dns_name"]] = [challenge["dns_value"]]
    checked = client.post(f"{verification}/check", headers=account.headers)
    assert checked.json()["verified"] is True, checked.text
    return account


def one_line(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": "2026-10",
        "currency": "USD",
        "lines": [{"units": 10, "net_revenue_minor": 100_000}],
    }
    body.update(overrides)
    return body


def copymark(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, so it checks with only what it imports itself."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "frontend.cli", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
