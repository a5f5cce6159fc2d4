"""Demo data for `copymark serve --demo`: three accounts and a few works from bundled images."""

from __future__ import annotations

import io

from PIL import Image
from rich.console import Console
from skimage import data as skimage_data

from frontend.services import Services
from registry.accounts.service import create_user, find_user_by_email
from registry.accounts.verification import seed_verified_email
from registry.db import unit_of_work
from registry.models import Role, User
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.corpus import STAMPS_DIR

DEMO_PASSWORD = "copymark-demo"  # noqa: S105 - published demo credentials, development only
DEMO_ACCOUNTS = {
    "designer@copymark.test": {Role.CREATOR, Role.RIGHTS_HOLDER},
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
    designer = users["designer@copymark.test"]
    uploads = [
        Upload(data, f"demo/{title}", WorkMetadata(title=title, tags=["demo"]))
        for title, data in _demo_images()
    ]
    with unit_of_work(services.session) as session:
        outcomes = services.registrar.register_batch(session, designer, uploads)
    progress_console.print(
        f"demo: {len(outcomes)} works for designer@copymark.test (password {DEMO_PASSWORD})"
    )
