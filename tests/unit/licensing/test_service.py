"""Licensing use cases against a real SQLite database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel

import licensing.models  # noqa: F401 - registers the licensing tables before create_all
from licensing.contract import Contract, parse_contract_data
from licensing.errors import (
    ConflictError,
    CurrencyMismatchError,
    CyclicDerivationError,
    ForbiddenError,
    FrozenVersionError,
    NotFoundError,
    UnknownParentWorkError,
)
from licensing.events import ConsentEvent, GrantEvent, SplitEvent
from licensing.models import (
    ContractVersion,
    GrantStatus,
    LicenseGrant,
    LicenseOffer,
    OfferStatus,
    VersionStatus,
)
from licensing.money import Money
from licensing.repository import active_version
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.grants import take_license
from licensing.service.license_check import host_of, is_use_licensed
from licensing.service.offers import publish_offer, withdraw_offer
from licensing.service.sales import ReportOutcome, SalesLine, submit_sales_report
from registry.db import make_engine
from registry.log.events import parse_event
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.models import Membership, Organisation, Role, User, Work
from tests.unit.licensing.factories import contract_data, usd


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
        self.log = AttestationLog(session, LogSigner.generate())
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
        self.consent(self.admin, version, "platform")
        self.consent(self.ana, version, "ana")
        return self.consent(self.ben, version, "ben")

    def consent(self, user: User, version: ContractVersion, party_id: str) -> ContractVersion:
        return consent_to_version(self.session, user, version.id or 0, party_id, self.log)

    def take(self, offer: LicenseOffer, licensee: User | None = None) -> LicenseGrant:
        grant, _ = take_license(self.session, licensee or self.brand, offer.id or 0, self.log)
        return grant

    def report(self, grant: LicenseGrant, report_id: str, *lines: SalesLine) -> ReportOutcome:
        return submit_sales_report(
            self.session, self.brand, grant.id or 0, report_id=report_id, lines=lines, log=self.log
        )


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def test_a_proposed_version_stays_draft_until_every_party_consents(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    world.consent(world.admin, version, "platform")
    world.consent(world.ana, version, "ana")
    statuses = [version.status]
    world.consent(world.ben, version, "ben")
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


def test_a_work_of_another_owner_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        propose_contract_version(world.session, world.ben, world.document())


def test_refuses_a_version_number_that_skips_ahead(world: World) -> None:
    with pytest.raises(ConflictError, match="propose version 1, not 3"):
        propose_contract_version(world.session, world.ana, world.document(version=3))


def test_a_user_consents_only_for_their_own_party(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(ForbiddenError):
        world.consent(world.ana, version, "ben")


def test_only_an_administrator_consents_for_the_platform(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(ForbiddenError):
        world.consent(world.ana, version, "platform")


def test_a_version_is_not_found_by_someone_outside_it(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(NotFoundError):
        world.consent(world.brand, version, "ana")


def test_refuses_a_repeated_consent(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    world.consent(world.ana, version, "ana")
    with pytest.raises(ConflictError, match="already consented"):
        world.consent(world.ana, version, "ana")


def test_each_consent_is_a_leaf_naming_the_document_digest(world: World) -> None:
    version = world.activate(world.document())
    events = [parse_event(world.log.leaf(index).leaf) for index in range(3)]
    assert all(isinstance(event, ConsentEvent) for event in events)
    assert {e.document_sha256 for e in events if isinstance(e, ConsentEvent)} == {
        version.document_sha256
    }
    assert [e.activates for e in events if isinstance(e, ConsentEvent)] == [False, False, True]


def test_the_document_digest_is_the_sha256_of_its_canonical_json(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    canonical = json.dumps(version.document, sort_keys=True, separators=(",", ":"))
    assert version.document_sha256 == hashlib.sha256(canonical.encode()).hexdigest()


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


def test_a_wholesale_grant_splits_the_package_fee_and_waits_for_payment(world: World) -> None:
    packages = {"packages": [{"id": "bundle", "units": 100, "fee": usd(10_000)}]}
    world.activate(world.document(wholesale=packages))
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "wholesale", "bundle")
    grant, execution = take_license(world.session, world.brand, offer.id or 0, world.log)
    assert (grant.gross_minor, grant.status) == (10_000, GrantStatus.PENDING_PAYMENT)
    assert execution.amount_for("ana") == 5400


def test_a_grant_is_a_leaf_with_its_agreed_split(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "buyout")
    grant = world.take(offer)
    event = parse_event(world.log.leaf(grant.log_index or 0).leaf)
    assert isinstance(event, GrantEvent)
    assert (event.grant_id, event.gross_minor) == (grant.id, 500_000)
    assert sum(line.amount_minor for line in event.allocations) == 500_000


def test_only_a_brand_takes_a_license(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    with pytest.raises(ForbiddenError, match="not a brand"):
        world.take(offer, world.ben)


def test_a_withdrawn_offer_takes_no_license(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    withdraw_offer(world.session, world.ana, offer.id or 0)
    with pytest.raises(ConflictError, match="withdrawn"):
        world.take(offer)


def test_only_the_owner_withdraws_an_offer(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    with pytest.raises(NotFoundError):
        withdraw_offer(world.session, world.ben, offer.id or 0)


def test_a_buyout_is_exclusive(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, world.work.id or 0, "buyout")
    second = publish_offer(world.session, world.ana, world.work.id or 0, "buyout")
    world.take(first)
    with pytest.raises(ConflictError, match="bought out"):
        world.take(second)


def test_a_buyout_closes_open_offers_and_transfers_the_work(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    retail = publish_offer(world.session, world.ana, world.work.id or 0, "retail")
    buyout = publish_offer(world.session, world.ana, world.work.id or 0, "buyout")
    world.take(buyout)
    assert (retail.status, world.work.owner_id) == (OfferStatus.CLOSED, world.brand.id)


def line(units: int, cents: int, currency: str = "USD") -> SalesLine:
    return SalesLine(units=units, net_revenue=Money(cents, currency))


def retail_grant(world: World, **overrides: Any) -> LicenseGrant:
    world.activate(world.document(**overrides))
    return world.take(publish_offer(world.session, world.ana, world.work.id or 0, "retail"))


def test_sales_reports_count_earlier_reports_for_tiers_and_recoupment(world: World) -> None:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 100, "rate_bp": 2000}]
    grant = retail_grant(world, retail={"tiers": tiers}, advance={"amount": usd(1500)})
    first = world.report(grant, "r1", line(100, 10_000))
    second = world.report(grant, "r2", line(100, 10_000))
    assert (first.royalties.amount_minor, second.royalties.amount_minor) == (1000, 2000)
    # 90% of each royalty is the parties' pool: 900 recouped, then the last 600 of the advance
    assert (first.rows[0].recouped_minor, second.rows[0].recouped_minor) == (900, 600)


def test_lines_of_one_report_count_the_lines_before_them(world: World) -> None:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 100, "rate_bp": 2000}]
    grant = retail_grant(world, retail={"tiers": tiers})
    outcome = world.report(grant, "r1", line(100, 10_000), line(100, 10_000))
    assert [row.gross_minor for row in outcome.rows] == [1000, 2000]


def test_each_report_line_is_a_split_leaf_summing_to_its_royalty(world: World) -> None:
    grant = retail_grant(world)
    outcome = world.report(grant, "r1", line(3, 999), line(7, 12_345))
    events = [parse_event(world.log.leaf(row.log_index or 0).leaf) for row in outcome.rows]
    assert [e.gross_minor for e in events if isinstance(e, SplitEvent)] == [
        row.gross_minor for row in outcome.rows
    ]


def test_resubmitting_a_report_records_nothing_new(world: World) -> None:
    grant = retail_grant(world)
    first = world.report(grant, "r1", line(10, 5000))
    size = world.log.tree_size()
    again = world.report(grant, "r1", line(10, 5000))
    assert (again.replayed, again.rows, world.log.tree_size()) == (True, first.rows, size)


def test_a_report_id_reused_with_other_lines_is_refused(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 5000))
    with pytest.raises(ConflictError, match="already recorded"):
        world.report(grant, "r1", line(11, 5000))


def test_a_correction_replaces_the_report_it_names(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 10_000))
    corrected = submit_sales_report(
        world.session,
        world.brand,
        grant.id or 0,
        report_id="r1-fix",
        lines=[line(10, 5000)],
        log=world.log,
        corrects="r1",
    )
    # royalty 1000 became 500: the parties are owed 500 less than the first report said
    assert sum(amount for _, amount in corrected.owed) == -500


def test_only_the_latest_report_can_be_corrected(world: World) -> None:
    grant = retail_grant(world)
    world.report(grant, "r1", line(10, 10_000))
    world.report(grant, "r2", line(10, 10_000))
    with pytest.raises(ConflictError, match="only the latest"):
        submit_sales_report(
            world.session,
            world.brand,
            grant.id or 0,
            report_id="r1-fix",
            lines=[line(1, 100)],
            log=world.log,
            corrects="r1",
        )


def test_a_report_in_another_currency_is_refused(world: World) -> None:
    grant = retail_grant(world)
    with pytest.raises(CurrencyMismatchError, match="EUR"):
        world.report(grant, "r1", line(1, 100, "EUR"))


def test_a_licensee_reports_only_under_their_own_grant(world: World) -> None:
    grant = retail_grant(world)
    with pytest.raises(NotFoundError):
        submit_sales_report(
            world.session,
            world.ben,
            grant.id or 0,
            report_id="r1",
            lines=[line(1, 1)],
            log=world.log,
        )


def test_a_derivative_needs_its_parent_work_under_an_active_contract(world: World) -> None:
    child = add_work(world.session, world.ana, "koi remix")
    parents = [{"work": f"work-{world.work.id}", "share_bp": 2000}]
    with pytest.raises(UnknownParentWorkError):
        propose_contract_version(world.session, world.ana, world.document(child, parents=parents))


def test_a_derivation_cycle_is_refused(world: World) -> None:
    world.activate(world.document())
    child = add_work(world.session, world.ana, "koi remix")
    world.activate(
        world.document(child, parents=[{"work": f"work-{world.work.id}", "share_bp": 1}])
    )
    cyclic = world.document(version=2, parents=[{"work": f"work-{child.id}", "share_bp": 1}])
    with pytest.raises(CyclicDerivationError):
        propose_contract_version(world.session, world.ana, cyclic)


def test_a_derivative_sale_pays_the_parent_contract_parties(world: World) -> None:
    world.activate(world.document())
    child = add_work(world.session, world.ana, "koi remix")
    world.activate(
        world.document(child, parents=[{"work": f"work-{world.work.id}", "share_bp": 2000}])
    )
    offer = publish_offer(world.session, world.ana, child.id or 0, "retail")
    grant = world.take(offer)
    outcome = world.report(grant, "r1", line(10, 100_000))
    owed = dict(outcome.owed)
    # royalty 10000; fee 1000; the parent work takes 20% of 9000 and splits it 60/40
    assert (owed[f"work-{world.work.id}/ana"], owed["ana"]) == (1080, 4320)


def join_organisation(world: World, user: User, domain: str) -> None:
    organisation = Organisation(name=domain, domain=domain)
    world.session.add(organisation)
    world.session.flush()
    world.session.add(Membership(user_id=user.id or 0, organisation_id=organisation.id or 0))
    world.session.flush()


@pytest.mark.parametrize(
    "use",
    ["brand.example", "https://shop.brand.example/p/1?x=y", "BRAND.EXAMPLE.", "brand.example:8443"],
)
def test_a_use_on_the_licensee_domain_or_a_subdomain_is_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert is_use_licensed(world.session, world.work.id or 0, use)


@pytest.mark.parametrize(
    "use", ["evilbrand.example", "brand.example.evil.test", "https://evil.test/brand.example", ""]
)
def test_a_use_elsewhere_is_not_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert not is_use_licensed(world.session, world.work.id or 0, use)


def test_a_use_of_another_work_is_not_licensed(world: World) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    other = add_work(world.session, world.ana, "carp")
    assert not is_use_licensed(world.session, other.id or 0, "brand.example")


@given(st.text(max_size=300))
def test_any_text_is_answered_with_a_host_or_nothing(text: str) -> None:
    host = host_of(text)
    assert host == host.lower()
    assert not host.endswith(".")
