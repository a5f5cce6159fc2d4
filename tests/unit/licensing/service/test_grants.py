"""License grants: brands only, split up front, one exclusive buyout per work."""

from __future__ import annotations

import pytest

from licensing.events import GrantEvent
from licensing.models import GrantStatus, OfferStatus
from licensing.service.grants import take_license
from licensing.service.offers import publish_offer, withdraw_offer
from registry.errors import Conflict, Forbidden
from registry.log.commitments import check_openings, openings_from_json
from registry.log.events import parse_event
from registry.models import persisted_id
from tests.unit.licensing.factories import usd
from tests.unit.licensing.service.support import World


def test_a_wholesale_grant_splits_the_package_fee_and_waits_for_payment(world: World) -> None:
    packages = {"packages": [{"id": "bundle", "units": 100, "fee": usd(10_000)}]}
    world.activate(world.document(wholesale=packages))
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "wholesale", "bundle")
    grant, execution = take_license(world.session, world.brand, persisted_id(offer), world.log)
    assert (grant.gross_minor, grant.status) == (10_000, GrantStatus.PENDING_PAYMENT)
    assert execution.amount_for("ana") == 5400


def test_a_grant_is_a_leaf_with_its_agreed_split(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    grant = world.take(offer)
    event = parse_event(world.log.leaf(grant.log_index or 0).leaf)
    assert isinstance(event, GrantEvent)
    assert event.grant_id == grant.id
    opened = check_openings(event.committed(), openings_from_json(grant.log_openings))
    assert opened["gross_minor"] == 500_000
    allocations = opened["allocations"]
    assert isinstance(allocations, list)
    assert sum(line["amount_minor"] for line in allocations if isinstance(line, dict)) == 500_000


def test_only_a_brand_takes_a_license(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    with pytest.raises(Forbidden, match="not a brand"):
        world.take(offer, world.ben)


def test_a_withdrawn_offer_takes_no_license(world: World) -> None:
    world.activate(world.document())
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    withdraw_offer(world.session, world.ana, persisted_id(offer))
    with pytest.raises(Conflict, match="withdrawn"):
        world.take(offer)


def test_a_buyout_is_exclusive(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    second = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    world.take(first)
    with pytest.raises(Conflict, match="bought out"):
        world.take(second)


def test_a_buyout_closes_open_offers_and_transfers_the_work(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    retail = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    buyout = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    world.take(buyout)
    assert (retail.status, world.work.owner_id) == (OfferStatus.CLOSED, world.brand.id)
