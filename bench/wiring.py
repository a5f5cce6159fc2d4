"""The app's wiring a benchmark runs on; the composition root builds it and hands it in.

Benchmarks measure the code the app runs, wired as the app wires it. `bench` sits below
`frontend` and may not import it, so `copymark bench` (frontend/cli/bench.py) passes a
`ScratchApp`: given a fresh, empty home folder, it yields the app's initialised services there
(`frontend.services.Services` offers everything `AppServices` names) and closes them on exit.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from sqlmodel import Session

from registry.blobs import BlobStore
from registry.log.signing import LogSigner
from registry.monitoring.jobs import Monitor
from registry.monitoring.screenshots import Screenshotter
from registry.service import Registrar
from similarity.crawl.netguard import NetGuard
from similarity.crawl.politeness import HostPoliteness
from similarity.images import ImageLimits


class AppServices(Protocol):
    """The app's services on one home: storage, log signer, registration and monitoring."""

    @property
    def blobs(self) -> BlobStore:
        """The registry's blob store."""
        ...

    @property
    def signer(self) -> LogSigner:
        """The attestation log's signer."""
        ...

    @property
    def limits(self) -> ImageLimits:
        """Upload size and pixel limits."""
        ...

    @property
    def registrar(self) -> Registrar:
        """The registration use case with the production embedder."""
        ...

    def session(self) -> Session:
        """A new database session; the caller commits."""
        ...

    def read_session(self) -> Session:
        """A new read-only session: on SQLite it never takes the write lock."""
        ...

    def monitor(
        self,
        *,
        screenshots: Callable[[NetGuard], Screenshotter],
        politeness: Callable[[], HostPoliteness],
    ) -> Monitor:
        """The monitoring use case as the app wires it, with these screenshots and politeness."""
        ...


ScratchApp = Callable[[Path], AbstractContextManager[AppServices]]
