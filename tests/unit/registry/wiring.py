"""The registry built from its own parts on one home folder and database, as the app builds it.

Registry tests drive these real objects (blob store, log signer, similarity engine, registrar,
monitor) without the app's settings or wiring: `frontend.services.Services` builds the same
parts from Settings, and the functional tests cover that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.blobs import LocalBlobStore
from registry.log.signing import LogSigner
from registry.monitoring.jobs import Monitor
from registry.monitoring.screenshots import NoScreenshots, Screenshotter
from registry.references import stored_reference_loader
from registry.service import Registrar, reference_image_loader
from similarity.crawl.netguard import NetGuard
from similarity.crawl.politeness import HostPoliteness
from similarity.engine import Embedder, SimilarityEngine
from similarity.images import DEFAULT_LIMITS, ImageLimits


def _no_screenshots(_guard: NetGuard) -> Screenshotter:
    return NoScreenshots("not needed by the registry's tests")


def _impatient_politeness() -> HostPoliteness:
    return HostPoliteness(per_host_concurrency=4, delay_s=0.0)


@dataclass
class RegistryParts:
    """Storage, signer, engine and use cases on `home`; `session()` opens read-write sessions."""

    home: Path
    engine: Engine
    read_engine: Engine
    signer: LogSigner
    embedder: Embedder
    limits: ImageLimits = field(default=DEFAULT_LIMITS)

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @cached_property
    def blobs(self) -> LocalBlobStore:
        return LocalBlobStore(self.blob_dir)

    @cached_property
    def similarity(self) -> SimilarityEngine:
        return SimilarityEngine(
            self.index_dir,
            embedder=self.embedder,
            reference_image=reference_image_loader(self.read_session, self.blobs, self.limits),
            stored_reference=stored_reference_loader(self.read_session),
        )

    @cached_property
    def registrar(self) -> Registrar:
        return Registrar(
            self.blobs,
            self.signer,
            self.similarity,
            self.limits,
            self.index_dir,
            read_session=self.read_session,
        )

    @cached_property
    def evidence_blobs(self) -> LocalBlobStore:
        """Evidence bundles have their own store, as in the app (see `monitor`)."""
        return LocalBlobStore(self.home / "evidence")

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def read_session(self) -> Session:
        """For lookups made while a unit of work may hold the SQLite write lock."""
        return Session(self.read_engine)

    def monitor(
        self,
        *,
        screenshots: Callable[[NetGuard], Screenshotter] = _no_screenshots,
        politeness: Callable[[], HostPoliteness] = _impatient_politeness,
    ) -> Monitor:
        """The monitoring use case; licensing is left out, so only the allow-list licenses a use.

        Evidence has its own store, as in the app: the registry's blob store removes blobs that
        no work references, which evidence bundles are not.
        """
        return Monitor(
            session_factory=self.session,
            similarity=self.similarity,
            registry_blobs=self.blobs,
            evidence_blobs=self.evidence_blobs,
            signer=self.signer,
            limits=self.limits,
            crawl_root=self.home / "crawls",
            screenshots=screenshots,
            politeness=politeness,
            shared_frontier=None if self.engine.dialect.name == "sqlite" else self.engine,
        )

    def restarted(self) -> RegistryParts:
        """The same home and database as a new process finds them: nothing held in memory."""
        return RegistryParts(
            self.home, self.engine, self.read_engine, self.signer, self.embedder, self.limits
        )
