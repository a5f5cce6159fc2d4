"""The app's services for one command, built from the COPYMARK_* settings when the command runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from frontend.services import Services


def services() -> Services:
    """The same wiring as the web app: database, blob store, log signer, registrar, engine."""
    # Deferred: the wiring pulls in SQLModel and the similarity engine, which `--help` and the
    # licensing commands never need.
    from frontend.services import Services
    from frontend.settings import Settings

    return Services(Settings())
