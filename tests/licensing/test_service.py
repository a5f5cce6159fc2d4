"""Licensing use cases against a real SQLite database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, SQLModel

import licensing.models  # noqa: F401 - registers the licensing tables before create_all
from licensing.contract import Contract, parse_contract_data
from licensing.errors import (
    ConflictError,
    ForbiddenError,
    FrozenVersionError,
    NotFoundError,
    UnknownParentWorkError,
)
from licensing.models import ContractVersion, VersionStatus
from licensing.money import Money
from licensing.service import (
    active_version,
    consent_to_version,
    propose_contract_version,
    publish_offer,
    report_sales,
    take_license,
)
from registry.db import make_engine
from registry.models import Role, User, Work
from tests.licensing.factories import contract_data, usd


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'licensing.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
        session.rollback()
    engine.dispose()


def add_user(session: Session, email: str, roles: list[str] | None = None) -> User:
    user = User(email=email, display_name=email, password_hash="-", roles=roles or ["creator"])
    session.add(user)
    session.flush()
    return user


def add_work(session: Session, owner: User, title: str = "koi") -> Work:
    work = Work(
        owner_id=owner.id or 0,
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


def party(party_id: str, account: str, role: str, share_bp: int) -> dict[str, Any]:
    return {"id": party_id, "account": account, "role": role, "share_bp": share_bp}


class World:
    """Ana owns every work and is a party; Ben co-creates; an admin consents for the platform."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ana = add_user(session, "ana@example.com")
        self.ben = add_user(session, "ben@example.com")
        self.admin = add_user(session, "admin@copymark.example", [Role.ADMIN.value])
        self.brand = add_user(session, "buyer@brand.example", [Role.BRAND.value])
        self.work = add_work(session, self.ana)

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
        consent_to_version(self.session, self.admin, version.id or 0, "platform")
        consent_to_version(self.session, self.ana, version.id or 0, "ana")
        return consent_to_version(self.session, self.ben, version.id or 0, "ben")


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def test_a_proposed_version_stays_draft_until_every_party_consents(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    consent_to_version(world.session, world.admin, version.id or 0, "platform")
    consent_to_version(world.session, world.ana, version.id or 0, "ana")
    statuses = [version.status]
    consent_to_version(world.session, world.ben, version.id or 0, "ben")
    statuses.append(version.status)
    assert statuses == [VersionStatus.DRAFT, VersionStatus.ACTIVE]


def test_the_stored_document_round_trips(world: World) -> None:
    contract = world.document()
    version = propose_contract_version(world.session, world.ana, contract)
    assert parse_contract_data(version.document) == contract


def test_activating_a_new_version_supersedes_the_old(world: World) -> None:
    first = world.activate(world.document())
    second = world.activate(world.document(version=2))
    assert (first.status, second.status) == (VersionStatus.SUPERSEDED, VersionStatus.ACTIVE)
    assert active_version(world.session, world.work.id or 0) == second


def test_only_the_work_owner_proposes(world: World) -> None:
    with pytest.raises(ForbiddenError):
        propose_contract_version(world.session, world.ben, world.document())


def test_refuses_a_version_number_that_skips_ahead(world: World) -> None:
    with pytest.raises(ConflictError, match="propose version 1, not 3"):
        propose_contract_version(world.session, world.ana, world.document(version=3))


def test_a_user_consents_only_for_their_own_party(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(ForbiddenError):
        consent_to_version(world.session, world.ana, version.id or 0, "ben")


def test_only_an_administrator_consents_for_the_platform(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(ForbiddenError):
        consent_to_version(world.session, world.ana, version.id or 0, "platform")


def test_refuses_a_repeated_consent(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    consent_to_version(world.session, world.ana, version.id or 0, "ana")
    with pytest.raises(ConflictError, match="already consented"):
        consent_to_version(world.session, world.ana, version.id or 0, "ana")


def test_the_terms_of_an_active_version_cannot_change(world: World) -> None:
    version = world.activate(world.document())
    version.document = dict(version.document, ai_training="allowed")
    world.session.add(version)
    with pytest.raises(FrozenVersionError, match="document cannot change"):
        world.session.flush()


def test_offers_need_an_active_contract(world: World) -> None:
    propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(ConflictError, match="no active contract"):
        publish_offer(world.session, world.ana, world.work.id or 0, "retail")


def test_a_wholesale_grant_splits_the_package_fee(world: World) -> None:
    packages = {"packages": [{"id": "bundle", "units": 100, "fee": usd(10_000)}]}
    world.activate(world.document(wholesale=packages))
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "wholesale", "bundle")
    grant, execution = take_license(world.session, world.brand, offer.id or 0)
    assert grant.gross_minor == 10_000
    assert execution.amount_for("ana") == 5400


def test_a_buyout_is_exclusive(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "buyout")
    take_license(world.session, world.brand, offer.id or 0)
    with pytest.raises(ConflictError, match="bought out"):
        take_license(world.session, world.brand, offer.id or 0)


def test_sales_reports_count_earlier_reports_for_tiers_and_recoupment(world: World) -> None:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 100, "rate_bp": 2000}]
    world.activate(world.document(retail={"tiers": tiers}, advance={"amount": usd(1500)}))
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    grant, _ = take_license(world.session, world.brand, offer.id or 0)
    first, _ = report_sales(
        world.session, world.brand, grant.id or 0, units=100, net_revenue=Money(10_000, "USD")
    )
    second, _ = report_sales(
        world.session, world.brand, grant.id or 0, units=100, net_revenue=Money(10_000, "USD")
    )
    assert (first.gross_minor, second.gross_minor) == (1000, 2000)
    # 90% of each royalty is the parties' pool: 900 recouped, then the last 600 of the advance
    assert (first.recouped_minor, second.recouped_minor) == (900, 600)


def test_a_licensee_reports_only_under_their_own_grant(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    grant, _ = take_license(world.session, world.brand, offer.id or 0)
    with pytest.raises(NotFoundError):
        report_sales(world.session, world.ben, grant.id or 0, units=1, net_revenue=Money(1, "USD"))


def test_a_derivative_needs_its_parent_work_under_an_active_contract(world: World) -> None:
    child = add_work(world.session, world.ana, "koi remix")
    parents = [{"work": f"work-{world.work.id}", "share_bp": 2000}]
    with pytest.raises(UnknownParentWorkError):
        propose_contract_version(world.session, world.ana, world.document(child, parents=parents))


def test_a_derivative_sale_pays_the_parent_contract_parties(world: World) -> None:
    world.activate(world.document())
    child = add_work(world.session, world.ana, "koi remix")
    world.activate(
        world.document(child, parents=[{"work": f"work-{world.work.id}", "share_bp": 2000}])
    )
    offer = publish_offer(world.session, world.ana, child.id or 0, "retail")
    grant, _ = take_license(world.session, world.brand, offer.id or 0)
    _, execution = report_sales(
        world.session, world.brand, grant.id or 0, units=10, net_revenue=Money(100_000, "USD")
    )
    # royalty 10000; fee 1000; the parent work takes 20% of 9000 and splits it 60/40
    assert execution.amount_for(f"work-{world.work.id}/ana") == 1080
    assert execution.amount_for("ana") == 4320
