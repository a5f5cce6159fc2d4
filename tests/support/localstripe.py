"""The local Stripe sandbox for the tests: one localstripe process per test session, on loopback.

It is the product's own launcher (`settlement.stripe.sandbox`), so the tests pay through exactly
what `make run` starts; a brand's browser is played by the official `stripe` library.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    sandbox = LocalStripe.start()
    yield sandbox
    sandbox.stop()


def brand_card(sandbox: LocalStripe) -> str:
    """Tokenise a test card as Stripe.js would in the brand's browser; returns the pm_… id."""
    client = stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": sandbox.api_base})
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    return str(method.id)
