"""Exclusivity watched after a buyout: paying for a buyout puts the work on a watch in the buyer's
name, and a later copy outside the buyer's verified domain raises an alert the buyer sees."""

from __future__ import annotations

from sqlmodel import select

from registry.models import User, Work
from registry.monitoring.models import CrawlWatch, ExclusivityWatch
from settlement.stripe.sandbox import LocalStripe
from tests.factories import random_png
from tests.support.localstripe import brand_card
from tests.support.market import API, Market
from tests.unit.registry.enforcement.support import AlertMaker


def test_a_paid_buyout_watches_the_work_for_its_buyer(
    market: Market,
    localstripe: LocalStripe,
) -> None:
    registered = market.client.post(
        f"{API}/works", headers=market.alice.headers, files={"file": ("w.png", random_png(77))}
    )
    work_id = int(registered.json()["work_id"])
    market.activate(work_id)
    with market.services.session() as session:
        alice = session.get(User, market.alice.user_id)
        work = session.get(Work, work_id)
        assert alice is not None
        assert work is not None
    # A copy was seen on a shop before the sale.
    maker = AlertMaker(market.services, alice, work)
    maker.alert("http://copies.example/gallery")
    taken = market.take(market.offer(work_id, "buyout"))
    assert taken.status_code == 201, taken.text
    with market.services.session() as session:
        assert session.exec(select(ExclusivityWatch)).all() == []
    paid = market.client.post(
        f"{API}/grants/{taken.json()['id']}/payments",
        json={"payment_method": brand_card(localstripe)},
        headers=market.brand.headers,
    )
    assert paid.json()["status"] == "succeeded", paid.text

    with market.services.session() as session:
        (watch,) = session.exec(select(ExclusivityWatch)).all()
        assert (watch.work_id, watch.buyer_id) == (work_id, market.brand.user_id)
        crawl_watch = session.get(CrawlWatch, watch.crawl_watch_id)
        assert crawl_watch is not None
        assert crawl_watch.owner_id == market.brand.user_id
        assert crawl_watch.seeds == ["http://copies.example/gallery"]
        buyer = session.get(User, market.brand.user_id)
        work = session.get(Work, work_id)
        assert buyer is not None
        assert work is not None
    # The buyer's own domain is licensed; anywhere else is a copy that alerts the buyer.
    assert market.services.licensed_use(work_id, "https://brand.example/shop/p1")
    assert not market.services.licensed_use(work_id, "http://elsewhere.example/p")
    maker.owner = buyer
    maker.alert("http://elsewhere.example/p", confirm=False)
    groups = market.client.get(f"{API}/alerts", headers=market.brand.headers).json()
    pages = {alert["page_url"] for group in groups for alert in group["alerts"]}
    assert "http://elsewhere.example/p" in pages
    seller = market.client.get(f"{API}/alerts", headers=market.alice.headers).json()
    assert seller == []
    notices = market.client.get(f"{API}/notifications", headers=market.brand.headers).json()
    assert any("watched for you" in str(notice) for notice in notices)
