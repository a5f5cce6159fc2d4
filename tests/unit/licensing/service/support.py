"""A licensing world for the use-case tests: users, a work, and helpers to act in it."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session

from licensing.contract import Contract, parse_contract_data
from licensing.models import ContractVersion, LicenseGrant, LicenseOffer
from licensing.money import Money
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer
from licensing.service.sales import ReportOutcome, SalesLine, submit_sales_report
from registry.accounts.service import organisation_domain
from registry.accounts.verification import seed_verified_email
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.models import Membership, Organisation, Role, User, Work, persisted_id, utcnow
from tests.unit.licensing.factories import contract_data


def add_user(
    session: Session, email: str, roles: list[str] | None = None, *, verified: bool = True
) -> User:
    """A seeded account; verified unless asked otherwise, as the world's people have proven
    their addresses (the mailed-link flow itself is tested in the registry's tests)."""
    user = User(email=email, display_name=email, password_hash="-", roles=roles or ["creator"])
    session.add(user)
    session.flush()
    if verified:
        seed_verified_email(session, user)
    return user


def add_work(session: Session, owner: User, title: str = "koi") -> Work:
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


class World:
    """Ana owns every work and is a party; Ben co-creates; an admin consents for the platform."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.log = AttestationLog(session, LogSigner.generate())
        self.ana = add_user(session, "ana@example.com")
        self.ben = add_user(session, "ben@example.com")
        self.admin = add_user(session, "admin@copymark.example", [Role.ADMIN.value])
        self.brand = add_user(session, "buyer@brand.example", [Role.BRAND.value])
        self.work = add_work(session, self.ana)

    def other_brand(self) -> User:
        return add_user(self.session, "buyer@other.example", [Role.BRAND.value])

    def document(self, work: Work | None = None, **overrides: Any) -> Contract:
        target = work or self.work
        document = contract_data(
            contract_id=f"contract-{target.id}",
            subject={"work": f"work-{target.id}"},
            parties=[
                {
                    "id": "platform",
                    "account": "platform:copymark",
                    "role": "platform",
                    "share_bp": 0,
                },
                {
                    "id": "ana",
                    "account": "acct:ana@example.com",
                    "role": "creator",
                    "share_bp": 6000,
                },
                {
                    "id": "ben",
                    "account": "acct:ben@example.com",
                    "role": "co_creator",
                    "share_bp": 4000,
                },
            ],
        )
        document.update(overrides)
        return parse_contract_data(document)

    def activate(self, contract: Contract) -> ContractVersion:
        version = propose_contract_version(self.session, self.ana, contract)
        self.consent(self.admin, version, "platform")
        self.consent(self.ana, version, "ana")
        return self.consent(self.ben, version, "ben")

    def consent(self, user: User, version: ContractVersion, party_id: str) -> ContractVersion:
        return consent_to_version(self.session, user, persisted_id(version), party_id, self.log)

    def take(self, offer: LicenseOffer, licensee: User | None = None) -> LicenseGrant:
        grant, _ = take_license(self.session, licensee or self.brand, persisted_id(offer), self.log)
        return grant

    def report(self, grant: LicenseGrant, report_id: str, *lines: SalesLine) -> ReportOutcome:
        return submit_sales_report(
            self.session,
            self.brand,
            persisted_id(grant),
            report_id=report_id,
            lines=lines,
            log=self.log,
        )


def line(units: int, cents: int, currency: str = "USD") -> SalesLine:
    return SalesLine(units=units, net_revenue=Money(cents, currency))


def retail_grant(world: World, **overrides: Any) -> LicenseGrant:
    world.activate(world.document(**overrides))
    return world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "retail"))


def join_organisation(world: World, user: User, domain: str, *, verified: bool = True) -> None:
    """The user joins an organisation with this domain, stored as the registry stores it, and
    verified unless asked otherwise (the proofs themselves are tested in the registry's tests)."""
    organisation = Organisation(
        name=domain,
        domain=organisation_domain(domain),
        domain_verified_at=utcnow() if verified else None,
    )
    world.session.add(organisation)
    world.session.flush()
    world.session.add(
        Membership(user_id=persisted_id(user), organisation_id=persisted_id(organisation))
    )
    world.session.flush()
