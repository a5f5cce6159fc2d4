"""One market for every licensing, payment and market test: the app on the Stripe sandbox,
mailing verification links to the loopback inbox, with alice, bob and a brand that proved its
domain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from similarity.engine import SimilarityEngine
from tests.factories import Account
from tests.support.localstripe import localstripe  # noqa: F401 - the fixture
from tests.support.market import Market, brand_account, proving_domains_by_table, sandbox_settings
from tests.support.receivers import SmtpInbox


@pytest.fixture
def settings(settings: Settings, localstripe: LocalStripe) -> Settings:  # noqa: F811
    """The app's settings, paying through the local Stripe sandbox."""
    return sandbox_settings(settings, localstripe)


@pytest.fixture
def services(notifying_services: Services) -> Services:
    """The app mails verification links to the loopback SMTP server, so every party proves its
    address as people must, and brands prove their domains by TXT records in a table."""
    return proving_domains_by_table(notifying_services)


@pytest.fixture
def account_inbox(inbox: SmtpInbox) -> SmtpInbox:
    return inbox


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    # The market never compares images: a hash-only engine spares loading the CNN at start.
    services.similarity = SimilarityEngine(services.settings.index_dir, None, lambda _id: None)
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def market(
    client: TestClient, services: Services, inbox: SmtpInbox, alice: Account, bob: Account
) -> Market:
    brand = brand_account(client, services, "buyer@brand.example", "brand.example", inbox)
    return Market(client, services, alice, bob, brand, inbox)


@pytest.fixture
def processor(localstripe: LocalStripe) -> stripe.StripeClient:  # noqa: F811
    """Stripe as the brand's browser and the test see it."""
    return stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": localstripe.api_base})
