"""Registration: validate, store, fingerprint, check prior art, log, index; all or nothing per work.

Invariant: a work row and its attestation-log leaf are written in the same transaction, so there is
never a work without its leaf nor a leaf without its work. Blobs are written before the transaction
(content-addressed, so a retry rewrites nothing); `recover` removes blobs a failed transaction left.
The similarity index is updated only after the transaction commits and is rebuilt from the
database when it disagrees with it; the same transaction records the change in `index_changes`,
which every other process's index follows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import numpy as np
from sqlalchemy import event, insert
from sqlmodel import Session, col, func, select

from registry.analysis import Analysis, AnalysisPool
from registry.blobs import BlobStore, BlobTooLarge
from registry.certificates import CertificateView, certificate_view, issue_certificate
from registry.errors import Conflict, InvalidUpload, NotFound, PayloadTooLarge, Unavailable
from registry.image_refusals import image_refusal
from registry.log.commitments import commitments_of, open_values, openings_to_json
from registry.log.events import RegistrationEvent
from registry.log.sequencer import SequencedLog
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.messages import N_, Message
from registry.models import (
    IndexChange,
    PriorArtConflict,
    User,
    Visibility,
    Work,
    WorkReference,
    WorkStatus,
    persisted_id,
    utcnow,
)
from registry.notifications.service import notify
from registry.repository import get_owned_work, prior_art_conflicts, visible_work_ids
from registry.schemas import WorkMetadata, WorkUpdate
from registry.snapshots import INDEXABLE
from registry.tasks.outbox import enqueue
from registry.tasks.queue import TaskArgs, TaskKind
from similarity.engine import Fingerprint, SimilarityEngine
from similarity.images import ImageLimits, ImageRejected, load_image
from similarity.matcher import Match
from similarity.references import ReferenceFeatures

ORPHAN_BLOB_AGE_S = 3600.0
WATERMARK_FILE = "indexed-works.json"
FINGERPRINT_MAX_SIDE = 512
# Works per `register_batch` call (one transaction and one log batch each) when many files are
# registered: `copymark register FOLDER` and the registration benchmark batch by the same size.
REGISTER_BATCH = 64

RegistrationStatus = Literal["registered", "duplicate", "conflict"]


@dataclass(frozen=True)
class Upload:
    """An upload held in memory: a file the CLI read, or one image sent to the API."""

    data: bytes
    source: str
    metadata: WorkMetadata

    @property
    def byte_size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class StoredUpload:
    """An upload already streamed into the blob store (`Registrar.store_upload`): only its digest
    is held, so a batch costs memory for the files being analysed, not for every file sent."""

    sha256: str
    byte_size: int
    source: str
    metadata: WorkMetadata


AnyUpload = Upload | StoredUpload


HIDDEN_CONFLICT = "conflicts with an earlier registration by another owner"


@dataclass(frozen=True)
class Registered:
    """One upload's outcome. For a conflict, `conflict_with` names the earlier work only if the
    uploader may see it (`work_scope`: public and not withdrawn); a private or withdrawn earlier
    work stays unnamed, or the answer would give away that a private work exists and its id."""

    source: str
    work: Work
    status: RegistrationStatus
    conflict_with: int | None = None

    @property
    def conflict_note(self) -> str | None:
        """The conflict in words for the uploader; None when there is none."""
        if self.status != "conflict":
            return None
        if self.conflict_with is None:
            return HIDDEN_CONFLICT
        return f"resembles work {self.conflict_with}, registered earlier by another owner"


@dataclass(frozen=True)
class Rejected:
    """An upload that was not registered, and why, in words a page puts in its reader's language."""

    source: str
    wording: Message

    @property
    def message(self) -> str:
        """Why, in English: the API's and the CLI's words."""
        return self.wording.english()


@dataclass(frozen=True)
class _Unregistrable(Rejected):
    """Rejected by analysis: not an image within the limits. Its streamed blob is removed."""

    upload: AnyUpload
    sha256: str


_CHANGED_HANDS = N_("this file's work changed owner while it was checked: upload it again")


@dataclass(frozen=True)
class _Prepared:
    """An upload decoded, fingerprinted and searched for prior art: the CPU work, done before
    any database statement. Only the decoded image's description is kept, not its pixels."""

    upload: AnyUpload
    sha256: str
    mime_type: str
    width: int
    height: int
    fingerprint: Fingerprint
    reference: ReferenceFeatures
    # Indexed works the upload copies (decided `copy`), whoever owns them; the owners are checked
    # in the database.
    copies: tuple[Match, ...]
    earlier_copy: Match | None = None


class Registrar:
    """The registration use case, wired to the blob store, log signer and similarity engine."""

    def __init__(
        self,
        blobs: BlobStore,
        signer: LogSigner,
        similarity: SimilarityEngine,
        limits: ImageLimits,
        index_dir: Path,
        *,
        read_session: Callable[[], Session],
        sequenced_log: SequencedLog | None = None,
    ) -> None:
        self.blobs = blobs
        self.read_session = read_session
        # Set: leaves go to the log's sequencer instead of being appended in this transaction.
        self.sequenced_log = sequenced_log
        self.signer = signer
        self.similarity = similarity
        self.limits = limits
        self.index_dir = index_dir
        # Set by a caller with many uploads to fingerprint (`copymark register`); else threads.
        self.analysis_pool: AnalysisPool | None = None
        self._workers = ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1, thread_name_prefix="registration"
        )

    def register(self, session: Session, owner: User, upload: Upload) -> Registered:
        """Register one upload; a bad upload raises a CopymarkError with a 4xx status."""
        (outcome,) = self.register_batch(session, owner, [upload])
        if isinstance(outcome, Rejected):
            wording = outcome.wording
            if "too large" in outcome.message:
                raise PayloadTooLarge(wording.template, **wording.params)
            raise InvalidUpload(wording.template, **wording.params)
        return outcome

    def store_upload(
        self, stream: BinaryIO, source: str, metadata: WorkMetadata
    ) -> StoredUpload | Rejected:
        """Stream an upload into the blob store a chunk at a time; one over the size limit is
        rejected (and not stored) as soon as it passes the limit."""
        try:
            digest, size = self.blobs.put_stream(stream, self.limits.max_bytes)
        except BlobTooLarge:
            return Rejected(
                source,
                Message(
                    N_("file too large: the limit is %(limit)s bytes"),
                    {"limit": self.limits.max_bytes},
                ),
            )
        return StoredUpload(digest, size, source, metadata)

    def register_streams(
        self,
        session: Session,
        owner: User,
        files: Sequence[tuple[BinaryIO, str]],
        metadata: WorkMetadata,
    ) -> list[Registered | Rejected]:
        """Register files read from streams, each streamed to the blob store first, so a batch
        never holds its files in memory; one outcome per file, in order."""
        staged = [self.store_upload(stream, source, metadata) for stream, source in files]
        stored = [item for item in staged if isinstance(item, StoredUpload)]
        registered = iter(self.register_batch(session, owner, stored))
        return [next(registered) if isinstance(item, StoredUpload) else item for item in staged]

    def register_batch(
        self, session: Session, owner: User, uploads: Sequence[AnyUpload]
    ) -> list[Registered | Rejected]:
        """Register uploads in one transaction and one log batch; bad ones are rejected alone.

        The CPU work (decode, fingerprint, prior-art search) runs before `session` issues its
        first statement, which on SQLite takes the write lock: the lock is then held for the
        writes alone, never while images are analysed. Uploads the owner registered before are
        skipped, looked up in a read-only transaction, and checked again under the lock.
        """
        owner_id = persisted_id(owner)
        digests = [_digest_of(upload) for upload in uploads]
        with self.read_session() as reading:
            known = set(_owned_works(reading, owner_id, digests))
        first_source: dict[str, str] = {}
        fresh: list[tuple[AnyUpload, str]] = []
        for upload, digest in zip(uploads, digests, strict=True):
            if digest not in known and digest not in first_source:
                first_source[digest] = upload.source
                fresh.append((upload, digest))
        # Decoding and fingerprinting are pure: spread them over the cores (threads, or the
        # processes of an analysis pool); the prior-art check then runs in order on this session.
        results = self._analyse_all(fresh)
        analysed = {id(upload): result for (upload, _), result in zip(fresh, results, strict=True)}
        existing = _owned_works(session, owner_id, digests)
        self._discard_unregistrable(session, analysed.values())
        steps: list[Registered | Rejected | _Prepared] = []
        for upload, digest in zip(uploads, digests, strict=True):
            if digest in existing:
                steps.append(Registered(upload.source, existing[digest], "duplicate"))
            elif id(upload) in analysed:
                steps.append(self._check_prior_art(session, owner, analysed[id(upload)]))
            elif digest in first_source:
                same = Message(N_("same bytes as %(other)s"), {"other": first_source[digest]})
                steps.append(Rejected(upload.source, same))
            else:
                steps.append(Rejected(upload.source, Message(_CHANGED_HANDS)))
        prepared = [step for step in steps if isinstance(step, _Prepared)]
        recorded = dict(zip(map(id, prepared), self._record(session, owner, prepared), strict=True))
        earlier = {item.earlier_copy.work_id for item in prepared if item.earlier_copy}
        visible = visible_work_ids(session, earlier, owner)
        return [
            _outcome(step, recorded[id(step)], visible) if isinstance(step, _Prepared) else step
            for step in steps
        ]

    def _record(self, session: Session, owner: User, prepared: list[_Prepared]) -> list[Work]:
        """Store blobs, insert the works, append their leaves and sign a head, in that order."""
        if not prepared:
            return []
        owner_id = persisted_id(owner)
        for item in prepared:
            if isinstance(item.upload, Upload):
                self.blobs.put(item.upload.data)
        works = [self._new_work(owner, item) for item in prepared]
        session.add_all(works)
        session.flush()
        session.add_all(
            WorkReference(work_id=persisted_id(work), features=item.reference.to_bytes())
            for work, item in zip(works, prepared, strict=True)
        )
        now = utcnow()
        events = [
            _registration_event(work, item.fingerprint.digests(), owner_id, now)
            for work, item in zip(works, prepared, strict=True)
        ]
        for work in works:
            work.registered_at = now
        if self.sequenced_log is None:
            log = AttestationLog(session, self.signer)
            for work, index in zip(works, log.append_events(events), strict=True):
                work.log_index = index
            log.sign_head()
        else:
            leaves = [event.to_leaf() for event in events]
            submissions = self.sequenced_log.submit(session.connection(), leaves)
            for work, submission in zip(works, submissions, strict=True):
                work.log_submission_id = submission
        session.add_all(
            PriorArtConflict(
                work_id=persisted_id(work),
                earlier_work_id=item.earlier_copy.work_id,
                score=item.earlier_copy.score,
            )
            for work, item in zip(works, prepared, strict=True)
            if item.earlier_copy is not None
        )
        session.flush()
        self._update_index_after_commit(
            session,
            added=[(persisted_id(w), p.fingerprint) for w, p in zip(works, prepared, strict=True)],
        )
        return works

    def await_log_indexes(self, outcomes: Sequence[Registered | Rejected]) -> None:
        """Once the registering transaction has committed, wait for the sequencer to give its
        works their log indexes; a work still waiting when the wait ends keeps `log_index` None
        (the sequencer writes it when it appends the leaf)."""
        waiting = {
            outcome.work.log_submission_id: outcome.work
            for outcome in outcomes
            if isinstance(outcome, Registered)
            and outcome.work.log_index is None
            and outcome.work.log_submission_id is not None
        }
        if self.sequenced_log is None or not waiting:
            return
        indexes = self.sequenced_log.indexes(list(waiting))
        if indexes is None:
            return
        for work, index in zip(waiting.values(), indexes, strict=True):
            work.log_index = index

    def _analyse_all(self, fresh: list[tuple[AnyUpload, str]]) -> list[_Prepared | Rejected]:
        pool = self.analysis_pool
        if pool is None:
            return list(self._workers.map(self._analyse, fresh))
        small = [(upload, digest) for upload, digest in fresh if self._too_large(upload) is None]
        answers: dict[int, _Prepared | Rejected] = {}
        # A slice at a time, so stored uploads are read back a few at once, not a whole batch.
        step = 2 * pool.processes
        for start in range(0, len(small), step):
            part = small[start : start + step]
            images = pool.analyse(
                [self._bytes_of(upload, digest) for upload, digest in part],
                self.limits,
                FINGERPRINT_MAX_SIDE,
            )
            for (upload, digest), answer in zip(part, images, strict=True):
                if isinstance(answer, Message):
                    answers[id(upload)] = _image_refused(upload, answer, digest)
                else:
                    answers[id(upload)] = self._searched(upload, digest, answer)
        return [self._too_large(upload) or answers[id(upload)] for upload, _ in fresh]

    def _too_large(self, upload: AnyUpload) -> Rejected | None:
        if upload.byte_size <= self.limits.max_bytes:
            return None
        return Rejected(
            upload.source,
            Message(
                N_("file too large: %(size)s bytes, the limit is %(limit)s"),
                {"size": upload.byte_size, "limit": self.limits.max_bytes},
            ),
        )

    def _bytes_of(self, upload: AnyUpload, digest: str) -> bytes:
        # A stored upload is read back only when analysed, one file per analysing worker.
        return upload.data if isinstance(upload, Upload) else self.blobs.get(digest)

    def _analyse(self, upload_and_digest: tuple[AnyUpload, str]) -> _Prepared | Rejected:
        upload, digest = upload_and_digest
        too_large = self._too_large(upload)
        if too_large is not None:
            return too_large
        data = self._bytes_of(upload, digest)
        try:
            image = load_image(data, self.limits, max_side=FINGERPRINT_MAX_SIDE)
        except ImageRejected as rejection:
            return _image_refused(upload, image_refusal(rejection), digest)
        del data
        analysis = Analysis(
            image, self.similarity.fingerprint(image), self.similarity.reference_features(image)
        )
        return self._searched(upload, digest, analysis)

    def _searched(self, upload: AnyUpload, digest: str, analysis: Analysis) -> _Prepared:
        """The upload's prepared form, with the indexed works it copies, whoever owns them."""
        image = analysis.image
        return _Prepared(
            upload,
            digest,
            image.mime_type,
            image.width,
            image.height,
            analysis.fingerprint,
            analysis.reference,
            tuple(self.similarity.earlier_copies(analysis.fingerprint, image)),
        )

    def _discard_unregistrable(
        self, session: Session, analysed: Iterable[_Prepared | Rejected]
    ) -> None:
        """Remove streamed blobs that are no image, unless a work somehow names the bytes."""
        for item in analysed:
            if isinstance(item, _Unregistrable) and isinstance(item.upload, StoredUpload):
                named = session.exec(select(Work.id).where(Work.sha256 == item.sha256)).first()
                if named is None:
                    self.blobs.delete(item.sha256)

    def _check_prior_art(
        self, session: Session, owner: User, analysed: _Prepared | Rejected
    ) -> _Prepared | Rejected:
        if isinstance(analysed, _Unregistrable):
            return Rejected(analysed.source, analysed.wording)
        if isinstance(analysed, Rejected):
            return analysed
        earlier_copy = self._earlier_copy_by_another_owner(session, owner, analysed.copies)
        return dataclasses.replace(analysed, earlier_copy=earlier_copy)

    def _earlier_copy_by_another_owner(
        self, session: Session, owner: User, matches: Sequence[Match]
    ) -> Match | None:
        if not matches:
            return None
        owners = dict(
            session.exec(
                select(Work.id, Work.owner_id).where(
                    col(Work.id).in_([match.work_id for match in matches]),
                    Work.status != WorkStatus.WITHDRAWN,
                )
            ).all()
        )
        return next(
            (match for match in matches if owners.get(match.work_id, owner.id) != owner.id), None
        )

    def _new_work(self, owner: User, item: _Prepared) -> Work:
        metadata = item.upload.metadata
        return Work(
            owner_id=persisted_id(owner),
            title=metadata.title or _title_from_source(item.upload.source),
            description=metadata.description,
            tags=metadata.tags,
            creators=metadata.creators or [owner.display_name],
            created_on=metadata.created_on,
            visibility=metadata.visibility,
            status=WorkStatus.CONFLICT if item.earlier_copy else WorkStatus.REGISTERED,
            sha256=item.sha256,
            mime_type=item.mime_type,
            width=item.width,
            height=item.height,
            byte_size=item.upload.byte_size,
            fingerprint=item.fingerprint.to_bytes(),
        )

    def withdraw(self, session: Session, owner: User, work_id: int) -> Work:
        """Withdraw an owned work; it stops matching once the transaction commits."""
        work = get_owned_work(session, owner, work_id)
        work.status = WorkStatus.WITHDRAWN
        session.add(work)
        session.flush()
        self._update_index_after_commit(session, removed=[work_id])
        return work

    def recover(self, session: Session) -> dict[str, int]:
        """Remove blobs no work references; rebuild the index if it disagrees with the database
        (an index held by shard processes is theirs to keep in step)."""
        removed = 0
        for digest in self.blobs.stale_digests(ORPHAN_BLOB_AGE_S):
            if session.exec(select(Work.id).where(Work.sha256 == digest)).first() is None:
                self.blobs.delete(digest)
                removed += 1
        if self.similarity.sharded:
            return {"orphan_blobs_removed": removed, "works_reindexed": 0}
        recorded = _read_watermark(self.index_dir)
        expected = _database_watermark(session) | {"indexed_rows": len(self.similarity)}
        rebuilt = 0
        if self.similarity.needs_rebuild or recorded != expected:
            rebuilt = self.similarity.rebuild(
                (persisted_id(work), Fingerprint.from_bytes(work.fingerprint))
                for work in session.exec(select(Work).where(*INDEXABLE))
                if work.fingerprint is not None
            )
            self._write_watermark(session)
        return {"orphan_blobs_removed": removed, "works_reindexed": rebuilt}

    def _update_index_after_commit(
        self,
        session: Session,
        added: Sequence[tuple[int, Fingerprint]] = (),
        removed: Sequence[int] = (),
    ) -> None:
        """Record the changes in the feed, in this transaction, and apply them here on commit.

        Other processes learn of them from the feed (`registry.snapshots.IndexFollower`).
        """
        now = utcnow()
        changes = [
            {"work_id": work_id, "change": "add", "recorded_at": now} for work_id, _ in added
        ]
        changes += [
            {"work_id": work_id, "change": "remove", "recorded_at": now} for work_id in removed
        ]
        if changes:
            session.execute(insert(IndexChange).values(changes))
        bind = session.get_bind()

        @event.listens_for(session, "after_commit", once=True)
        def _update_index(_session: Session) -> None:
            if self.similarity.sharded:
                return
            for work_id, fingerprint in added:
                self.similarity.add(work_id, fingerprint)
            for work_id in removed:
                self.similarity.remove(work_id)
            self.similarity.save()
            with Session(bind) as fresh:
                self._write_watermark(fresh)

    def _write_watermark(self, session: Session) -> None:
        """Record which database state the saved index reflects, so a stale index is noticed."""
        watermark = _database_watermark(session) | {"indexed_rows": len(self.similarity)}
        self.index_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.index_dir / f".{WATERMARK_FILE}.tmp"
        temporary.write_text(json.dumps(watermark))
        temporary.replace(self.index_dir / WATERMARK_FILE)


def _digest_of(upload: AnyUpload) -> str:
    if isinstance(upload, StoredUpload):
        return upload.sha256
    return hashlib.sha256(upload.data).hexdigest()


def _owned_works(session: Session, owner_id: int, digests: Sequence[str]) -> dict[str, Work]:
    """The owner's works with these digests, by digest."""
    return {
        work.sha256: work
        for work in session.exec(
            select(Work).where(Work.owner_id == owner_id, col(Work.sha256).in_(set(digests)))
        )
    }


def _database_watermark(session: Session) -> dict[str, int]:
    count, highest = session.exec(select(func.count(), func.max(Work.id)).where(*INDEXABLE)).one()
    return {"works": int(count), "highest_work_id": int(highest or 0)}


def _read_watermark(index_dir: Path) -> dict[str, int] | None:
    try:
        recorded = json.loads((index_dir / WATERMARK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _outcome(item: _Prepared, work: Work, visible: set[int]) -> Registered:
    if item.earlier_copy is None:
        return Registered(item.upload.source, work, "registered")
    earlier = item.earlier_copy.work_id
    return Registered(item.upload.source, work, "conflict", earlier if earlier in visible else None)


def _image_refused(upload: AnyUpload, reason: Message, digest: str) -> _Unregistrable:
    # The pages turn the common refusals into sentences of their own (frontend.uploads).
    return _Unregistrable(upload.source, reason, upload, digest)


def _title_from_source(source: str) -> str:
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    return (name.rsplit(".", 1)[0] or "Untitled")[:300]


def reference_image_loader(
    session_factory: Callable[[], Session], blobs: BlobStore, limits: ImageLimits
) -> Callable[[int], np.ndarray | None]:
    """The original of a work as an RGB array, for geometric verification."""

    def load(work_id: int) -> np.ndarray | None:
        with session_factory() as session:
            work = session.get(Work, work_id)
        if work is None:
            return None
        try:
            return load_image(blobs.get(work.sha256), limits, max_side=FINGERPRINT_MAX_SIDE).rgb
        except (KeyError, ImageRejected):
            return None

    return load


def _registration_event(
    work: Work, fingerprints: dict[str, str], owner_id: int, registered_at: datetime
) -> RegistrationEvent:
    """The work's leaf: digests in the clear for a public work, commitments for a private one.

    A private work's openings are kept on its row, where only its owner reads them.
    """
    work_id = persisted_id(work)
    if work.visibility == Visibility.PUBLIC:
        return RegistrationEvent(work_id, owner_id, work.sha256, fingerprints, registered_at)
    openings = open_values({"sha256": work.sha256, "fingerprints": dict(fingerprints)})
    work.log_openings = openings_to_json(openings)
    return RegistrationEvent(
        work_id, owner_id, None, None, registered_at, commitments=commitments_of(openings)
    )


def work_certificate(session: Session, signer: LogSigner, work: Work) -> dict[str, Any]:
    """The registration certificate of a work: its leaf, inclusion proof and a signed head."""
    if work.log_index is None and work.log_submission_id is not None:
        raise Unavailable(
            N_(
                "work %(work)s is waiting for the attestation log to append its entry: its "
                "certificate is ready once it has, usually within seconds"
            ),
            work=persisted_id(work),
        )
    if work.log_index is None:
        raise NotFound(N_("work %(work)s has no log entry"), work=persisted_id(work))
    return issue_certificate(
        AttestationLog(session, signer), work.log_index, openings=work.log_openings
    )


def work_certificate_view(
    session: Session,
    signer: LogSigner,
    work: Work,
    base_url: str,
    *,
    owner_name: str | None = None,
) -> CertificateView:
    """What the work's certificate shows; `owner_name` (a legal name) replaces the owner's
    display name when given."""
    owner = session.get(User, work.owner_id)
    return certificate_view(
        work_certificate(session, signer, work),
        title=work.title,
        owner=owner_name or (owner.display_name if owner else "unknown"),
        base_url=base_url,
    )


def update_work(session: Session, owner: User, work_id: int, changes: WorkUpdate) -> Work:
    """Change what the owner says about a work; its bytes and its log leaf stay as registered.

    Making a public work private hides it from others from now on; the digests its leaf already
    published stay in the log, which never changes.
    """
    work = get_owned_work(session, owner, work_id)
    if work.status == WorkStatus.WITHDRAWN:
        raise Conflict(
            N_("work %(work)s is withdrawn: a withdrawn work cannot be edited"), work=work_id
        )
    work.title = changes.title
    work.description = changes.description
    work.tags = changes.tags
    work.creators = changes.creators or [owner.display_name]
    work.visibility = changes.visibility
    session.add(work)
    session.flush()
    return work


ConflictAnswer = Literal["not_a_copy", "claimed"]
_ANSWER_WORDS: Final[dict[str, str]] = {"not_a_copy": N_("not a copy"), "claimed": N_("claimed")}
MAX_CONFLICT_NOTE = 2000


def resolve_conflict(
    session: Session,
    owner: User,
    work_id: int,
    conflict_id: int,
    *,
    answer: ConflictAnswer,
    note: str,
) -> PriorArtConflict:
    """Record the later uploader's answer to a prior-art conflict on their work.

    "not_a_copy" keeps their reason on record; the work stays flagged, since the earlier owner's
    claim does not lapse on the later uploader's word. "claimed" says the earlier registration
    copies this work: the earlier work's owner is notified so the claim can be taken up.
    """
    work = get_owned_work(session, owner, work_id)
    conflict = next((c for c in prior_art_conflicts(session, work) if c.id == conflict_id), None)
    if conflict is None:
        raise NotFound(
            N_("work %(work)s has no prior-art conflict %(conflict)s"),
            work=work_id,
            conflict=conflict_id,
        )
    if conflict.resolution != "open":
        raise Conflict(
            N_("this conflict was already answered: %(answer)s"),
            answer=Message(_ANSWER_WORDS.get(conflict.resolution, conflict.resolution)),
        )
    cleaned = note.strip()
    if len(cleaned) > MAX_CONFLICT_NOTE:
        raise InvalidUpload(
            N_("the note has at most %(count)s characters"), count=MAX_CONFLICT_NOTE
        )
    if answer == "claimed" and not cleaned:
        raise InvalidUpload(N_("say why this work is yours: the note goes with the claim"))
    conflict.resolution = answer
    conflict.resolution_note = cleaned
    conflict.resolved_at = utcnow()
    session.add(conflict)
    earlier = session.get(Work, conflict.earlier_work_id)
    earlier_owner = session.get(User, earlier.owner_id) if earlier is not None else None
    if answer == "claimed" and earlier is not None and earlier_owner is not None:
        notify(
            session,
            earlier_owner,
            "ownership_claim",
            N_("Someone claims your work #%(earlier)s copies theirs"),
            N_(
                "The owner of work #%(work)s says your earlier registration #%(earlier)s "
                "(“%(title)s”) copies their work. Their reason: %(reason)s"
            ),
            {"work_id": earlier.id, "claimed_by_work_id": work_id, "conflict_id": conflict_id},
            params={
                "earlier": persisted_id(earlier),
                "work": work_id,
                "title": earlier.title,
                "reason": cleaned,
            },
        )
    session.flush()
    return conflict


def transfer_ownership(session: Session, work_id: int, new_owner_id: int) -> Work:
    """Record a new owner of a work; its registration leaf keeps naming the original owner."""
    work = session.get(Work, work_id)
    if work is None:
        raise NotFound(N_("work %(work)s not found"), work=work_id)
    if session.get(User, new_owner_id) is None:
        raise NotFound(N_("user %(user)s not found"), user=new_owner_id)
    work.owner_id = new_owner_id
    session.add(work)
    session.flush()
    return work


REGISTER_TASK = "register"
# Decoding, fingerprinting and the prior-art search of one batch, with room for a slow machine.
REGISTER_TIME_LIMIT_S = 600.0


def queue_registration(
    session: Session, owner: User, uploads: Sequence[StoredUpload], metadata: WorkMetadata
) -> str:
    """Ask for uploads already in the blob store to be registered by a worker, once this
    session's transaction commits; returns the task's key (the same for the same files)."""
    owner_id = persisted_id(owner)
    digests = sorted({upload.sha256 for upload in uploads})
    key = f"{REGISTER_TASK}:{owner_id}:" + hashlib.sha256("".join(digests).encode()).hexdigest()
    args = {
        "owner_id": owner_id,
        "uploads": [
            {"sha256": u.sha256, "byte_size": u.byte_size, "source": u.source} for u in uploads
        ],
        "metadata": metadata.model_dump(mode="json"),
    }
    enqueue(session, REGISTER_TASK, args, key)
    return key


def registration_task(
    registrar: Callable[[], Registrar], time_limit_s: float = REGISTER_TIME_LIMIT_S
) -> TaskKind:
    """Registration on the `fingerprint` queue: the works, their leaves and the task's completion
    commit together, so a worker killed mid-batch leaves nothing and the redelivery registers
    each work once (and an owner's file registered twice is a `duplicate` anyway)."""

    def run(session: Session, args: TaskArgs) -> None:
        owner = session.get(User, int(args["owner_id"]))
        if owner is None:
            raise NotFound(
                N_("account %(account)s no longer exists"), account=str(args["owner_id"])
            )
        metadata = WorkMetadata.model_validate(args["metadata"])
        uploads = [
            StoredUpload(str(u["sha256"]), int(u["byte_size"]), str(u["source"]), metadata)
            for u in args["uploads"]
        ]
        registrar().register_batch(session, owner, uploads)

    return TaskKind(name=REGISTER_TASK, queue="fingerprint", run=run, time_limit_s=time_limit_s)
