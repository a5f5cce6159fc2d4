"""The demo data of `make run`: its accounts can act at once, their .test addresses verified."""

from __future__ import annotations

from rich.console import Console

from frontend.demo import DEMO_ACCOUNTS, load_demo
from frontend.services import Services
from registry.accounts.service import find_user_by_email
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
