"""License grants: brands only, split up front, one exclusive buyout per work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from licensing.events import GrantEvent
from licensing.models import GrantStatus, OfferStatus
from licensing.service.grants import (
    PAYMENT_WINDOW,
    activate_grant,
    cancel_grant,
    expire_unpaid_grants,
    take_license,
)
from licensing.service.offers import publish_offer, withdraw_offer
from registry.errors import Conflict, Forbidden
from registry.log.commitments import check_openings, openings_from_json
from registry.log.events import parse_event
from registry.models import persisted_id
from registry.notifications.models import Notification
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


def test_a_pending_buyout_reserves_the_work_against_other_buyouts(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    second = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    world.take(first)
    with pytest.raises(Conflict, match="reserved by a buyout awaiting payment") as refused:
        world.take(second)
    assert refused.value.status_code == 409


def test_an_unpaid_buyout_leaves_the_work_and_its_offers_with_the_creator(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    retail = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    grant = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    assert grant.status == GrantStatus.PENDING_PAYMENT
    assert (retail.status, world.work.owner_id) == (OfferStatus.OPEN, world.ana.id)


def test_a_paid_buyout_closes_open_offers_and_transfers_the_work(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    retail = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    grant = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    activate_grant(world.session, persisted_id(grant))
    world.session.refresh(retail)
    world.session.refresh(world.work)
    assert (grant.status, retail.status) == (GrantStatus.ACTIVE, OfferStatus.CLOSED)
    assert world.work.owner_id == world.brand.id


def test_an_active_buyout_refuses_every_later_license(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    retail = publish_offer(world.session, world.ana, persisted_id(world.work), "retail")
    grant = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    activate_grant(world.session, persisted_id(grant))
    with pytest.raises(Conflict, match="bought out exclusively"):
        world.take(retail, world.other_brand())


def test_an_unpaid_buyout_expires_and_frees_the_work(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    second = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    stale, _ = take_license(world.session, world.brand, persisted_id(first), world.log, now=start)
    later = start + PAYMENT_WINDOW + timedelta(seconds=1)
    fresh, _ = take_license(world.session, world.brand, persisted_id(second), world.log, now=later)
    world.session.refresh(stale)
    assert (stale.status, fresh.status) == (GrantStatus.EXPIRED, GrantStatus.PENDING_PAYMENT)


def test_a_buyout_is_still_reserved_until_its_deadline(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    second = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    take_license(world.session, world.brand, persisted_id(first), world.log, now=start)
    with pytest.raises(Conflict, match="released if unpaid within 1 minute"):
        take_license(
            world.session,
            world.brand,
            persisted_id(second),
            world.log,
            now=start + PAYMENT_WINDOW - timedelta(seconds=30),
        )


def test_a_cancelled_buyout_frees_the_work(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    cancel_grant(world.session, world.brand, persisted_id(first))
    second = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    assert (first.status, second.status) == (GrantStatus.CANCELLED, GrantStatus.PENDING_PAYMENT)


def test_a_paid_grant_cannot_be_cancelled(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    grant = world.take(publish_offer(world.session, world.ana, persisted_id(world.work), "buyout"))
    activate_grant(world.session, persisted_id(grant))
    with pytest.raises(Conflict, match="only an unpaid one is cancelled"):
        cancel_grant(world.session, world.brand, persisted_id(grant))


def test_a_payment_after_another_buyout_took_the_work_is_refused(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    first = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    second = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    stale, _ = take_license(world.session, world.brand, persisted_id(first), world.log, now=start)
    later = start + PAYMENT_WINDOW + timedelta(minutes=1)
    take_license(world.session, world.other_brand(), persisted_id(second), world.log, now=later)
    with pytest.raises(Conflict, match=r"after grant \d+ expired unpaid"):
        activate_grant(world.session, persisted_id(stale))


def test_a_payment_of_an_expired_grant_nothing_replaced_activates_it(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    grant, _ = take_license(world.session, world.brand, persisted_id(offer), world.log, now=start)
    expire_unpaid_grants(world.session, start + PAYMENT_WINDOW)
    assert grant.status == GrantStatus.EXPIRED
    activate_grant(world.session, persisted_id(grant))
    assert grant.status == GrantStatus.ACTIVE


def test_the_work_owner_is_told_of_each_step(world: World) -> None:
    world.activate(world.document(buyout={"fee": usd(500_000)}))
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "buyout")
    grant = world.take(offer)
    activate_grant(world.session, persisted_id(grant))
    kinds = world.session.exec(
        select(Notification.kind).where(Notification.user_id == world.ana.id)
    ).all()
    assert list(kinds) == ["license_grant_pending_payment", "license_grant_active"]
