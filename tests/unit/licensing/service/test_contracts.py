"""Contract versions: proposal, consent by every party, activation, derivation."""

from __future__ import annotations

import hashlib
import json

import pytest

from licensing.contract import parse_contract_data
from licensing.errors import CyclicDerivationError, FrozenVersionError, UnknownParentWorkError
from licensing.events import ConsentEvent
from licensing.models import VersionStatus
from licensing.repository import active_version
from licensing.service.contracts import propose_contract_version
from registry.accounts.verification import EmailNotVerified
from registry.errors import Conflict, Forbidden, NotFound
from registry.log.events import parse_event
from registry.models import persisted_id
from tests.unit.licensing.service.support import World, add_user, add_work


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
    assert active_version(world.session, persisted_id(world.work)) == second


def test_a_work_of_another_owner_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        propose_contract_version(world.session, world.ben, world.document())


def test_refuses_a_version_number_that_skips_ahead(world: World) -> None:
    with pytest.raises(Conflict, match="propose version 1, not 3"):
        propose_contract_version(world.session, world.ana, world.document(version=3))


def test_a_user_consents_only_for_their_own_party(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(Forbidden):
        world.consent(world.ana, version, "ben")


def test_an_account_with_the_party_address_but_unverified_cannot_consent(world: World) -> None:
    # Anyone may sign up as the address a contract names; until it is proven, that is no one.
    stranger = add_user(world.session, "carl@example.com", verified=False)
    parties = world.document().model_dump(mode="json")["parties"]
    parties[2] = {**parties[2], "id": "carl", "account": "acct:carl@example.com"}
    version = propose_contract_version(world.session, world.ana, world.document(parties=parties))
    world.consent(world.admin, version, "platform")
    world.consent(world.ana, version, "ana")
    with pytest.raises(EmailNotVerified, match="Verify your email address first") as refused:
        world.consent(stranger, version, "carl")
    assert "consent to a contract" in refused.value.message
    assert refused.value.status_code == 403
    assert version.status == VersionStatus.DRAFT


def test_only_an_administrator_consents_for_the_platform(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(Forbidden):
        world.consent(world.ana, version, "platform")


def test_a_version_is_not_found_by_someone_outside_it(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(NotFound):
        world.consent(world.brand, version, "ana")


def test_refuses_a_repeated_consent(world: World) -> None:
    version = propose_contract_version(world.session, world.ana, world.document())
    world.consent(world.ana, version, "ana")
    with pytest.raises(Conflict, match="already consented"):
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
