"""License offers: published on an active contract, withdrawn only by the owner."""

from __future__ import annotations

import pytest

from licensing.service.contracts import propose_contract_version
from licensing.service.offers import publish_offer, withdraw_offer
from registry.errors import Conflict, NotFound
from registry.models import persisted_id
from tests.unit.licensing.service.support import World


def test_offers_need_an_active_contract(world: World) -> None:
    propose_contract_version(world.session, world.ana, world.document())
    with pytest.raises(Conflict, match="no active contract"):
        publish_offer(world.session, world.ana, persisted_id(world.work), "retail")


def test_only_the_owner_withdraws_an_offer(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    with pytest.raises(NotFound):
        withdraw_offer(world.session, world.ben, persisted_id(offer))
