"""The demo data of `make run`: its accounts can act at once, their .test addresses verified."""

from __future__ import annotations

from rich.console import Console
from sqlmodel import select

from frontend.demo import DEMO_ACCOUNTS, DESIGNER, load_demo
from frontend.services import Services
from licensing.models import LicenseOffer
from registry.accounts.service import find_user_by_email
from registry.models import Work
from similarity.engine import SimilarityEngine


def test_demo_accounts_are_created_verified(services: Services) -> None:
    # The demo's works need no CNN here: a hash-only engine spares loading it.
    services.similarity = SimilarityEngine(services.settings.index_dir, None, lambda _id: None)
    load_demo(services, Console(quiet=True))
    with services.session() as session:
        for email in DEMO_ACCOUNTS:
            user = find_user_by_email(session, email)
            assert user is not None
            assert user.email_verified, email


def test_the_demo_offers_three_works_one_of_each_sale_type_once(services: Services) -> None:
    services.similarity = SimilarityEngine(services.settings.index_dir, None, lambda _id: None)
    load_demo(services, Console(quiet=True))
    load_demo(services, Console(quiet=True))
    with services.session() as session:
        offers = session.exec(select(LicenseOffer)).all()
        works = [session.get(Work, offer.work_id) for offer in offers]
        designer = find_user_by_email(session, DESIGNER)
    assert designer is not None
    assert len(offers) == 3
    assert {
        (work.title, offer.sale_type) for work, offer in zip(works, offers, strict=True) if work
    } == {("Coffee", "wholesale"), ("Rocket", "buyout"), ("Chelsea", "retail")}
    assert {work.owner_id for work in works if work} == {designer.id}
