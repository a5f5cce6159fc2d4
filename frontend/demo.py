"""Demo data for `copymark serve --demo`: three accounts, a few works from bundled images, and
three of them offered for licensing (one of each sale type) so that a brand can buy at once."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from rich.console import Console
from skimage import data as skimage_data
from sqlmodel import Session, select

from frontend.services import Services
from licensing.contract import parse_contract_data
from licensing.models import LicenseContract
from licensing.service.contracts import consent_to_version, propose_contract_version
from licensing.service.offers import publish_offer
from registry.accounts.service import create_user, find_user_by_email
from registry.accounts.verification import seed_verified_email
from registry.db import unit_of_work
from registry.log.store import AttestationLog
from registry.models import Role, User, Work, persisted_id
from registry.schemas import WorkMetadata
from registry.service import Registered, Upload
from similarity.corpus import STAMPS_DIR

DEMO_PASSWORD = "copymark-demo"  # noqa: S105 - published demo credentials, development only
DESIGNER = "designer@copymark.test"
DEMO_ACCOUNTS = {
    DESIGNER: {Role.CREATOR, Role.RIGHTS_HOLDER},
    "brand@copymark.test": {Role.BRAND},
    "rights@copymark.test": {Role.RIGHTS_HOLDER},
}
DEMO_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
)

# Per demo work offered: the sale type, the wholesale package offered, the contract's terms.
DEMO_OFFERS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "Coffee": (
        "wholesale",
        "print-run",
        {
            "wholesale": {
                "packages": [
                    {
                        "id": "print-run",
                        "units": 500,
                        "term_months": 12,
                        "territories": ["US", "CN"],
                        "fee": {"amount_minor": 12_500, "currency": "USD"},
                    }
                ]
            }
        },
    ),
    "Rocket": ("buyout", None, {"buyout": {"fee": {"amount_minor": 250_000, "currency": "USD"}}}),
    "Chelsea": (
        "retail",
        None,
        {
            "retail": {
                "tiers": [
                    {"from_units": 0, "rate_bp": 800},
                    {"from_units": 1_000, "rate_bp": 600},
                ]
            }
        },
    ),
}


def _demo_images() -> list[tuple[str, bytes]]:
    images: list[tuple[str, bytes]] = []
    for name in DEMO_PHOTOS:
        buffer = io.BytesIO()
        Image.fromarray(getattr(skimage_data, name)()).convert("RGB").save(
            buffer, "JPEG", quality=92
        )
        images.append((name.replace("_", " ").title(), buffer.getvalue()))
    for path in sorted(STAMPS_DIR.glob("animals/*/*.png"))[:6]:
        images.append((path.stem.replace("_", " ").title(), path.read_bytes()))
    return images


def _account(services: Services, email: str, roles: set[Role]) -> User:
    """A demo account, created verified: its .test address can receive no mail to prove it."""
    with unit_of_work(services.session) as session:
        user = find_user_by_email(session, email)
        if user is None:
            user = create_user(session, email=email, password=DEMO_PASSWORD, roles=roles)
            seed_verified_email(session, user)
        return user


def load_demo(services: Services, progress_console: Console) -> None:
    """Create the demo accounts and register the demo works; running it twice changes nothing."""
    users = {email: _account(services, email, roles) for email, roles in DEMO_ACCOUNTS.items()}
    designer = users[DESIGNER]
    uploads = [
        Upload(data, f"demo/{title}", WorkMetadata(title=title, tags=["demo"]))
        for title, data in _demo_images()
    ]
    with unit_of_work(services.session) as session:
        outcomes = services.registrar.register_batch(session, designer, uploads)
    offered = 0
    for outcome in outcomes:
        if isinstance(outcome, Registered) and outcome.work.title in DEMO_OFFERS:
            with unit_of_work(services.session) as session:
                offered += _offer(session, services, designer, outcome.work)
    progress_console.print(
        f"demo: {len(outcomes)} works for {DESIGNER} (password {DEMO_PASSWORD}), "
        f"{offered} newly offered for licensing"
    )


def _offer(session: Session, services: Services, designer: User, work: Work) -> int:
    """Put the demo terms on a demo work and offer them, unless it has a contract already."""
    work_id = persisted_id(work)
    if session.exec(select(LicenseContract).where(LicenseContract.work_id == work_id)).first():
        return 0
    sale_type, package, terms = DEMO_OFFERS[work.title]
    document = {
        "format": "copymark.contract/v1",
        "contract_id": f"demo-{work_id}",
        "version": 1,
        "subject": {"work": f"work-{work_id}"},
        "currency": "USD",
        "ai_training": "not_allowed",
        "parties": [
            {"id": "designer", "account": f"acct:{DESIGNER}", "role": "creator", "share_bp": 10_000}
        ],
        **terms,
    }
    version = propose_contract_version(
        session, designer, parse_contract_data(document), for_work=work_id
    )
    log = AttestationLog(session, services.signer)
    consent_to_version(session, designer, persisted_id(version), "designer", log)
    publish_offer(session, designer, work_id, sale_type, package)
    return 1
