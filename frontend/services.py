"""The composition root's wiring: every service built once from Settings, shared by app and CLI."""

from __future__ import annotations

import gc
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session

from frontend.admission import ComputePool, PixelAllowance
from frontend.i18n import gettext_in
from frontend.settings import Settings
from registry.accounts.service import set_password_cost
from registry.accounts.throttle import LoginThrottle
from registry.blobs import BlobStore, blob_stores
from registry.db import make_engine
from registry.enforcement.service import CaseLinks
from registry.log.signing import LogSigner, create_signing_key, load_signer
from registry.migrations import migrate
from registry.notifications.delivery import mailer_for
from registry.notifications.mail import Mailer, Translate
from registry.thumbnails import Thumbnails
from similarity.images import ImageLimits

if TYPE_CHECKING:
    from registry.accounts.domains import DomainVerifier
    from registry.accounts.verification import VerificationMail
    from registry.index_shards import ShardClients
    from registry.log.sequencer import Sequencer
    from registry.monitoring.jobs import Monitor
    from registry.monitoring.screenshots import Screenshotter
    from registry.service import Registrar
    from registry.snapshots import IndexFollower
    from settlement.service.payouts import PayoutPolicy
    from settlement.stripe.gateway import StripeGateway
    from similarity.crawl.netguard import NetGuard
    from similarity.crawl.politeness import HostPoliteness
    from similarity.embedding.embedders import OnnxEmbedder
    from similarity.engine import SimilarityEngine
    from similarity.index.shards import IndexSearch, ShardSelection


@lru_cache(maxsize=2)
def shared_embedder(cache_dir: Path) -> OnnxEmbedder:
    """One ONNX session per model per process; sessions are safe to share between threads."""
    # Deferred, like the engine and registrar below: torch, ONNX Runtime and FAISS load only
    # when a command or request first fingerprints an image, so commands that never do
    # (`copymark init`, `user`, `log`, `certificate`, `verify`) start fast.
    from similarity.embedding.embedders import load_default_embedder

    return load_default_embedder(cache_dir)


class NotInitialised(RuntimeError):
    """`copymark init` has not been run for this COPYMARK_HOME."""


@dataclass
class Services:
    settings: Settings
    _follower: IndexFollower | None = field(default=None, init=False, repr=False, compare=False)
    _shard_clients: ShardClients | None = field(default=None, init=False, repr=False, compare=False)
    _opening_index: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        set_password_cost(
            time_cost=self.settings.password_hash_time_cost,
            memory_kib=self.settings.password_hash_memory_kib,
        )

    @cached_property
    def engine(self) -> Engine:
        if self.settings.resolved_database_url.startswith("sqlite"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def read_engine(self) -> Engine:
        """For lookups made while a request's own transaction may hold the SQLite write lock."""
        return make_engine(self.settings.resolved_database_url, read_only=True)

    @cached_property
    def login_throttle(self) -> LoginThrottle:
        return LoginThrottle(
            per_account=self.settings.login_failures_per_account,
            per_address=self.settings.login_failures_per_address,
        )

    @property
    def mail_translate(self) -> Translate:
        """Emails are written in each recipient's stored language, from the pages' catalogs."""
        return gettext_in

    @cached_property
    def verification_mail(self) -> VerificationMail:
        """Account links (verification, password reset) go out through the notifications' SMTP
        settings, in each recipient's language."""
        from registry.accounts.verification import VerificationMail
        from registry.notifications.delivery import mailer_for

        return VerificationMail(
            mailer_for(self.settings), self.settings.base_url, self.mail_translate
        )

    @cached_property
    def domain_verifier(self) -> DomainVerifier:
        """DNS TXT, then HTTPS through the crawler's guard, opened as far as crawls are."""
        from registry.accounts.domains import DnsTxtResolver, DomainVerifier
        from similarity.crawl.netguard import NetGuard

        return DomainVerifier(
            DnsTxtResolver(), NetGuard(allow_hosts=self.settings.crawl_allow_hosts)
        )

    @cached_property
    def _blob_stores(self) -> tuple[BlobStore, BlobStore]:
        settings = self.settings
        return blob_stores(settings.blob_url, settings.blob_dir, settings.home / "evidence")

    @cached_property
    def blobs(self) -> BlobStore:
        """Originals (and the thumbnails rendered from them), as files or in S3."""
        return self._blob_stores[0]

    @cached_property
    def limits(self) -> ImageLimits:
        return ImageLimits(
            max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_upload_pixels
        )

    @cached_property
    def query_limits(self) -> ImageLimits:
        """Limits for a search image: the upload limits, and a budget of decoded pixels."""
        return ImageLimits(
            max_bytes=self.settings.max_upload_bytes,
            max_pixels=self.settings.max_upload_pixels,
            max_decoded_pixels=self.settings.max_query_pixels,
        )

    @cached_property
    def compute(self) -> ComputePool:
        """Where requests decode, fingerprint and search images: off the event loop, bounded."""
        workers = self.settings.compute_workers or os.cpu_count() or 1
        waiting = self.settings.compute_queue
        return ComputePool(workers, 4 * workers if waiting is None else waiting)

    @cached_property
    def anonymous_pixels(self) -> PixelAllowance:
        return PixelAllowance(self.settings.anonymous_query_pixels_per_minute)

    @cached_property
    def thumbnails(self) -> Thumbnails:
        return Thumbnails(self.blobs, self.limits)

    @cached_property
    def signer(self) -> LogSigner:
        path = self.settings.signing_key_path
        if not path.exists():
            raise NotInitialised(f"no log signing key at {path}: run `copymark init` first")
        return load_signer(path)

    @cached_property
    def payment_gateway(self) -> StripeGateway:
        """Stripe through its library, at the configured API base (the sandbox's, or Stripe's)."""
        from settlement.errors import PaymentsNotConfiguredError
        from settlement.stripe.gateway import StripeGateway

        if not self.settings.stripe_api_key:
            raise PaymentsNotConfiguredError(
                "payments are not configured: set COPYMARK_STRIPE_API_KEY "
                "(`copymark serve` starts a local sandbox when it is empty)"
            )
        return StripeGateway(self.settings.stripe_api_key, self.settings.stripe_api_base)

    def payment_gateway_if_configured(self) -> StripeGateway | None:
        """The gateway, or None where no Stripe key is set (background rounds then wait)."""
        return self.payment_gateway if self.settings.stripe_api_key else None

    @cached_property
    def payout_policy(self) -> PayoutPolicy:
        from settlement.service.payouts import PayoutPolicy

        return PayoutPolicy(minimum_minor=self.settings.payout_minimum_minor)

    @cached_property
    def similarity(self) -> SimilarityEngine:
        """The engine this process searches with: over its own index, following the change
        feed, or over the index shards when `index_shards` names them."""
        if self.settings.index_shards:
            from registry.index_shards import ShardClients

            self._shard_clients = ShardClients(self.settings.index_shards)
            return self.similarity_at(
                self.settings.index_dir, second_opinion=True, shards=self._shard_clients
            )
        return self.index_follower.engine

    def shard_follower(self, shard: ShardSelection) -> IndexFollower:
        """The engine of one index shard (`copymark index shard`), in a folder of its own
        (started from the shard's newest snapshot when empty), kept in step with its works in the
        database by a follower on a thread of its own."""
        folder = self.settings.index_dir / f"shard-{shard.shard}-of-{shard.of}"
        self._follower = self._following(self.similarity_at, folder, shard)
        return self._follower

    @property
    def index_follower(self) -> IndexFollower:
        """This process's similarity engine, started from the newest snapshot when its folder is
        empty, brought in step with the database when first used and from then on following the
        other processes' changes on a thread of its own."""
        with self._opening_index:
            if self._follower is None:
                self._follower = self._following(
                    partial(self.similarity_at, second_opinion=True), self.settings.index_dir
                )
            return self._follower

    def _following(
        self,
        engine_at: Callable[[Path], SimilarityEngine],
        folder: Path,
        shard: ShardSelection | None = None,
    ) -> IndexFollower:
        from registry.snapshots import IndexFollower, holds_index, unpack_latest

        if not holds_index(folder):
            # A new process (or machine) starts from the shared snapshot plus the delta, not by
            # indexing every stored fingerprint again.
            with self.read_session() as session:
                unpack_latest(session, self.evidence_blobs, folder, shard)
        engine = engine_at(folder)
        with self.read_session() as session:
            follower = IndexFollower.open(session, engine, shard=shard)
        follower.start(self.read_session, self.settings.index_follow_s)
        return follower

    def similarity_at(
        self, index_dir: Path, *, second_opinion: bool = False, shards: IndexSearch | None = None
    ) -> SimilarityEngine:
        """An engine over an index folder (a snapshot being built or loaded, a shard's), or over
        `shards`, wired to this home's model, database and blobs; with `second_opinion`, SSCD's
        student re-ranks inconclusive queries, as in every process that answers searches."""
        from registry.references import stored_reference_loader
        from registry.service import reference_image_loader
        from similarity.embedding.sscd import load_student
        from similarity.engine import SimilarityEngine

        return SimilarityEngine(
            index_dir,
            embedder=shared_embedder(self.settings.model_cache_dir),
            reference_image=reference_image_loader(self.read_session, self.blobs, self.limits),
            copy_descriptor=load_student() if second_opinion else None,
            stored_reference=stored_reference_loader(self.read_session),
            shards=shards,
        )

    @cached_property
    def registrar(self) -> Registrar:
        from registry.log.sequencer import SequencedLog
        from registry.service import Registrar

        return Registrar(
            self.blobs,
            self.signer,
            self.similarity,
            self.limits,
            self.settings.index_dir,
            read_session=self.read_session,
            sequenced_log=SequencedLog(self.engine, self.settings.log_sequenced_wait_s)
            if self.settings.log_sequenced
            else None,
        )

    def log_sequencer(self, *, batch_size: int, batch_wait_s: float) -> Sequencer:
        """The log's sequencer (PostgreSQL), writing each appended work's index onto the work."""
        from registry.log.sequencer import Sequencer
        from registry.repository import record_sequenced_log_indexes

        return Sequencer(
            self.engine,
            self.signer,
            batch_size=batch_size,
            batch_wait_s=batch_wait_s,
            on_sequenced=(record_sequenced_log_indexes,),
        )

    @cached_property
    def evidence_blobs(self) -> BlobStore:
        """Evidence bundles, in their own store: the registry's removes blobs no work references."""
        return self._blob_stores[1]

    @cached_property
    def licensed_use(self) -> Callable[[int, str], bool]:
        """A use is licensed when the work's allow-list names the site or a brand holds a grant."""
        from licensing.service.license_check import is_use_licensed
        from registry.monitoring.service import LicensedDomains

        allow_list = LicensedDomains(self.read_session)

        def is_licensed(work_id: int, page_url: str) -> bool:
            if allow_list(work_id, page_url):
                return True
            with self.read_session() as session:
                return is_use_licensed(session, work_id, page_url)

        return is_licensed

    @cached_property
    def case_links(self) -> CaseLinks:
        """Response links of cases, keyed by a key derived from the secret key for this use only."""
        key = hmac.new(
            self.settings.secret_key.encode(), b"copymark case response links", hashlib.sha256
        ).digest()
        return CaseLinks(self.settings.base_url, key)

    def mailer(self) -> Mailer | None:
        """The SMTP mailer, or None when email is not configured."""
        return mailer_for(self.settings)

    def contact_guard(self) -> NetGuard:
        """The crawler's network guard, opened to the same hosts as crawls, for contact lookups."""
        from similarity.crawl.netguard import NetGuard

        return NetGuard(allow_hosts=self.settings.crawl_allow_hosts)

    def monitor(
        self,
        *,
        screenshots: Callable[[NetGuard], Screenshotter] | None = None,
        politeness: Callable[[], HostPoliteness] | None = None,
    ) -> Monitor:
        """A new monitoring use case; the app keeps one, since a Monitor tracks its running jobs.

        Screenshots come from headless Chromium and fetches wait their turn per host, unless
        the caller passes its own (tests and benchmarks do).
        """
        from registry.monitoring.jobs import Monitor
        from registry.monitoring.screenshots import ChromiumScreenshotter
        from similarity.crawl.politeness import HostPoliteness

        return Monitor(
            session_factory=self.session,
            similarity=self.similarity,
            registry_blobs=self.blobs,
            evidence_blobs=self.evidence_blobs,
            signer=self.signer,
            limits=self.limits,
            crawl_root=self.settings.home / "crawls",
            screenshots=screenshots or ChromiumScreenshotter,
            politeness=politeness or partial(HostPoliteness, delay_s=self.settings.crawl_delay_s),
            is_licensed=self.licensed_use,
            # On PostgreSQL the frontier is shared, so any number of crawler processes (the
            # `crawl` queue's workers, `copymark crawl --processes N`) can work one job.
            shared_frontier=None if self.engine.dialect.name == "sqlite" else self.engine,
            frontier_lease_s=self.settings.crawl_lease_s,
            frontier_hosts=self.settings.crawl_hosts_per_crawler,
        )

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def read_session(self) -> Session:
        return Session(self.read_engine)

    def close(self) -> None:
        """Stop following the index changes; release database connections and the compute pool
        (only what was started or created)."""
        if self._follower is not None:
            self._follower.stop()
        if self._shard_clients is not None:
            self._shard_clients.close()
        compute = self.__dict__.get("compute")
        if compute is not None:
            compute.close()
        for name in ("engine", "read_engine"):
            engine = self.__dict__.get(name)
            if engine is not None:
                engine.dispose()

    def initialise(self) -> None:
        """Create the data folders, migrate the database and make the signing key if missing."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        migrate(self.engine)
        if not self.settings.signing_key_path.exists():
            create_signing_key(self.settings.signing_key_path)

    def freeze_start_up_heap(self) -> None:
        """Exempt what start-up loaded (modules, models, wiring) from garbage collection.

        A full collection walks every tracked object: with the image and ML stack loaded that
        is about 400,000 objects and 0.4 s, paid by whichever request happens to allocate then
        (ingesting sales reports met one every few reports). What start-up loaded lives as
        long as the process, so scanning it again finds nothing to free.
        """
        gc.collect()
        gc.freeze()

    def start(self) -> dict[str, int]:
        """Check readiness and repair what a crash between steps left behind."""
        migrate(self.engine)
        with self.session() as session:
            return self.registrar.recover(session)
