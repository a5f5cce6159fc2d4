"""Every process searches the same index: snapshots built from the database, plus the delta.

The database's fingerprints are the source of truth. `build_snapshot` indexes every indexable
work in a scratch folder and stores the index files, packed in one tar, in a blob store (local
or S3, content-addressed like every blob); a row in `index_snapshots` names it and the last
work id it holds. A process starting with an empty index folder unpacks the newest snapshot
into it (`unpack_latest`) instead of indexing every stored fingerprint again; `IndexFollower`
then adds the works registered since and removes the works withdrawn, so that it answers as an
index freshly built from the database would. An index shard (`similarity.index.shards`) has
snapshots of its own works, and starts from its own.

Between restarts, each process follows the change feed (`index_changes`, one row per work
registered or withdrawn, written in that work's transaction): `IndexFollower` applies, a round at
a time, the changes committed since its last round, so a work registered or withdrawn by one
process is found, or no longer matched, by every other within one round.
"""

from __future__ import annotations

import io
import logging
import tarfile
import tempfile
import threading
import time
import types
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, cast

from sqlalchemy import ColumnElement, delete
from sqlmodel import Session, col, func, select

from registry.blobs import BlobStore, StorageUnavailable
from registry.errors import StorageFault
from registry.models import IndexChange, IndexSnapshot, Work, WorkStatus, persisted_id, utcnow
from registry.tasks.queue import TaskArgs, TaskKind
from similarity.engine import Fingerprint, SimilarityEngine
from similarity.index.shards import ShardSelection
from similarity.index.storage import write_atomically

logger = logging.getLogger(__name__)

# An engine over an index folder; the composition root binds the embedder and references.
EngineAt = Callable[[Path], SimilarityEngine]
# A change's id is drawn from a sequence when its row is inserted and becomes visible when its
# transaction commits, a moment later: on PostgreSQL a lower id can appear after a higher one.
# An id still missing this long after a round first passed it belongs to a transaction that
# rolled back (its id never appears), and is forgotten. Registrations commit within seconds of
# writing their changes; two minutes leaves room for a slow batch and a loaded database.
GAP_WAIT_S: Final = 120.0
# More ids missing at once than this are no transactions in flight (a sequence moved ahead by
# hand): only the highest are watched.
MAX_GAPS: Final = 10_000
# A catch-up removing more works than this rebuilds the index instead: each removal scans every
# stored id, and an index that far out of step is cheaper to make again in one pass. Works it
# lacks are added in one pass unless they outnumber those it holds (an empty index folder and no
# snapshot): a rebuild then files them into lists trained on all of them.
REBUILD_ABOVE: Final = 1_000
# Changes older than this are deleted by the periodic pruning task: a follower behind by more
# than this (a process stopped that long without restarting) compares its whole index with the
# database instead, as it does when it opens.
CHANGE_RETENTION: Final = timedelta(days=1)
CHANGE_PRUNING_PERIOD: Final = timedelta(hours=1)
CHANGE_PRUNING_TASK: Final = "prune_index_changes"
# Works read per statement when changes are applied (below every database's parameter limit).
_READ_CHUNK: Final = 1_000
# Which works the similarity index holds: those not withdrawn that have a fingerprint.
INDEXABLE = (Work.status != WorkStatus.WITHDRAWN, col(Work.fingerprint).is_not(None))
# The index files a snapshot carries (background vectors depend only on the model).
_INDEX_FILES = ("pdq.index", "embedding-")


def index_filter(shard: ShardSelection | None = None) -> tuple[ColumnElement[bool] | bool, ...]:
    """Which works an index holds: the indexable ones, or those of them in one shard."""
    if shard is None:
        return INDEXABLE
    return (*INDEXABLE, col(Work.id) % shard.of == shard.shard)


def indexable_fingerprints(
    session: Session, up_to: int | None = None, shard: ShardSelection | None = None
) -> Iterator[tuple[int, Fingerprint]]:
    """The stored fingerprint of every indexable work (with an id up to `up_to`, in `shard`),
    by work id.

    Read a chunk at a time and decoded one at a time, so that building an index holds only its
    own rows, not every work's row and decoded fingerprint at once.
    """
    after = 0
    while True:
        statement = (
            select(Work.id, Work.fingerprint)
            .where(*index_filter(shard), col(Work.id) > after)
            .order_by(col(Work.id))
            .limit(_READ_CHUNK)
        )
        if up_to is not None:
            statement = statement.where(col(Work.id) <= up_to)
        rows = session.exec(statement).all()
        for work_id, fingerprint in rows:
            if work_id is not None and fingerprint is not None:
                yield work_id, Fingerprint.from_bytes(fingerprint)
        if len(rows) < _READ_CHUNK:
            return
        after = cast(int, rows[-1][0])


def build_snapshot(
    session: Session, engine_at: EngineAt, store: BlobStore, shard: ShardSelection | None = None
) -> IndexSnapshot:
    """Index every indexable work (of `shard`) afresh, store the files as one blob and record it."""
    last_work_id = session.exec(select(func.max(Work.id)).where(*index_filter(shard))).one() or 0
    with tempfile.TemporaryDirectory(prefix="copymark-snapshot-") as scratch:
        folder = Path(scratch)
        works = engine_at(folder).rebuild(
            indexable_fingerprints(session, up_to=last_work_id, shard=shard)
        )
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as archive:
            for path in sorted(folder.iterdir()):
                if path.name.startswith(_INDEX_FILES):
                    archive.add(path, arcname=path.name)
        digest = store.put(packed.getvalue())
    snapshot = IndexSnapshot(
        sha256=digest,
        last_work_id=last_work_id,
        works=works,
        shard=None if shard is None else str(shard),
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def latest_snapshot(session: Session, shard: ShardSelection | None = None) -> IndexSnapshot | None:
    """The newest snapshot recorded of the whole index (or of `shard`), if any."""
    held = (
        col(IndexSnapshot.shard).is_(None)
        if shard is None
        else col(IndexSnapshot.shard) == str(shard)
    )
    statement = select(IndexSnapshot).where(held).order_by(col(IndexSnapshot.id).desc())
    return session.exec(statement).first()


def holds_index(index_dir: Path) -> bool:
    """Whether the folder already holds index files (a process's own, kept between restarts)."""
    return index_dir.is_dir() and any(
        path.name.startswith(_INDEX_FILES) for path in index_dir.iterdir()
    )


def unpack_latest(
    session: Session, store: BlobStore, index_dir: Path, shard: ShardSelection | None = None
) -> IndexSnapshot | None:
    """Unpack the newest snapshot's index files (of `shard`) into `index_dir`; the snapshot, if
    it was.

    An engine opened on the folder then holds the works up to the snapshot's last work id, as
    they were when it was built: `IndexFollower.open` brings it in step with the database. A
    snapshot that cannot be read (its blob missing or damaged, the store down) unpacks nothing:
    the follower then indexes the database's fingerprints itself, more slowly but as exactly.
    """
    snapshot = latest_snapshot(session, shard)
    if snapshot is None:
        return None
    try:
        files = _index_files(store.get(snapshot.sha256))
    except (KeyError, StorageFault, StorageUnavailable, tarfile.TarError) as error:
        logger.warning("index snapshot %s not used: %s", snapshot.sha256, error)
        return None
    index_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomically(index_dir / name, data)
    logger.info(
        "index started from snapshot %s%s: %d works, up to work %d",
        persisted_id(snapshot),
        "" if snapshot.shard is None else f" (shard {snapshot.shard})",
        snapshot.works,
        snapshot.last_work_id,
    )
    return snapshot


def _index_files(packed: bytes) -> dict[str, bytes]:
    """The flat index files this module packs, by name: no paths, links or devices."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r") as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith(_INDEX_FILES):
                continue
            if "/" in member.name or member.name.startswith("."):
                continue
            extracted = archive.extractfile(member)
            if extracted is not None:
                files[member.name] = extracted.read()
    return files


def prune_index_changes(session: Session, now: datetime) -> int:
    """Delete the changes recorded more than `CHANGE_RETENTION` before `now`; how many."""
    pruned = session.exec(
        delete(IndexChange).where(col(IndexChange.recorded_at) < now - CHANGE_RETENTION)
    )
    return int(pruned.rowcount or 0)


def change_pruning_task() -> TaskKind:
    """The periodic task that keeps the change feed to its last day."""

    def run(session: Session, _args: TaskArgs) -> None:
        pruned = prune_index_changes(session, utcnow())
        if pruned:
            logger.info("pruned %d index changes older than %s", pruned, CHANGE_RETENTION)

    return TaskKind(
        name=CHANGE_PRUNING_TASK,
        queue="notify",
        run=run,
        time_limit_s=5 * 60,
        period_s=CHANGE_PRUNING_PERIOD.total_seconds(),
    )


class IndexFollower:
    """Keeps one process's engine in step with the change feed, a round at a time.

    A change names a work; the work's row says what the index should hold: an indexable work is
    added with its stored fingerprint (replacing what the engine held for it), any other is
    removed. So applying a change twice is harmless, and so is a process's own change coming
    back through the feed. Ids missing below the highest seen are looked for again each round
    for `gap_wait_s`, since on PostgreSQL they may still commit. A shard's follower (`shard`)
    holds only its own works and passes over the changes of the others.
    """

    def __init__(
        self,
        engine: SimilarityEngine,
        cursor: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        gap_wait_s: float = GAP_WAIT_S,
        shard: ShardSelection | None = None,
    ) -> None:
        self.engine = engine
        self.shard = shard
        self.cursor = cursor
        self._clock = clock
        self._gap_wait_s = gap_wait_s
        # Missing ids below the cursor, each with when a round first missed it.
        self._gaps: dict[int, float] = {}
        self._checked_rebuilds = engine.rebuilds
        self._round = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def open(
        cls,
        session: Session,
        engine: SimilarityEngine,
        *,
        clock: Callable[[], float] = time.monotonic,
        gap_wait_s: float = GAP_WAIT_S,
        shard: ShardSelection | None = None,
    ) -> IndexFollower:
        """Follow the feed from now on: note where it stands, then bring the engine in step
        with the database, which then holds at least every change up to that point.

        Changes recorded within the last `gap_wait_s` may belong to transactions still open:
        the ids missing among them are watched like any gap.
        """
        cutoff = utcnow() - timedelta(seconds=gap_wait_s)
        settled = session.exec(
            select(func.max(IndexChange.id)).where(IndexChange.recorded_at < cutoff)
        ).one()
        follower = cls(engine, settled or 0, clock=clock, gap_wait_s=gap_wait_s, shard=shard)
        recent = session.exec(select(IndexChange.id).where(col(IndexChange.id) > follower.cursor))
        follower._advance([change_id for change_id in recent if change_id is not None])
        follower.catch_up(session)
        return follower

    @property
    def gaps(self) -> frozenset[int]:
        """The missing ids still looked for."""
        return frozenset(self._gaps)

    def follow(self, session: Session) -> int:
        """One round: apply the changes committed since the last; returns how many it applied.

        After a rebuild of the engine (which holds what the database held when it began) the
        round first catches the engine up with the database.
        """
        with self._round:
            if self.engine.rebuilds != self._checked_rebuilds or self._pruned_past(session):
                self.catch_up(session)
            low = min(self._gaps, default=self.cursor + 1) - 1
            rows = session.exec(
                select(IndexChange.id, IndexChange.work_id)
                .where(col(IndexChange.id) > low)
                .order_by(col(IndexChange.id))
            ).all()
            fresh = [
                (change_id, work_id)
                for change_id, work_id in rows
                if change_id is not None and (change_id > self.cursor or change_id in self._gaps)
            ]
            self._apply(session, {work_id for _, work_id in fresh if self._holds(work_id)})
            self._advance([change_id for change_id, _ in rows if change_id is not None])
            return len(fresh)

    def _pruned_past(self, session: Session) -> bool:
        """Whether changes this follower has not seen were pruned: the oldest kept is beyond the
        next it expects (a change missing just past the cursor and pruned looks the same, and a
        catch-up is then merely unneeded)."""
        oldest = session.exec(select(func.min(IndexChange.id))).one()
        return oldest is not None and oldest > self.cursor + 1

    def catch_up(self, session: Session) -> int:
        """Add the indexable works the engine lacks and remove the others it holds, or rebuild
        when that is many; returns how many works it added or removed."""
        rebuilds = self.engine.rebuilds
        indexable = {
            work_id
            for work_id in session.exec(select(Work.id).where(*index_filter(self.shard)))
            if work_id is not None
        }
        held = self.engine.work_ids()
        missing, extra = indexable - held, held - indexable
        differing = missing | extra
        if (
            self.engine.needs_rebuild
            or len(extra) > REBUILD_ABOVE
            or len(missing) > max(REBUILD_ABOVE, len(held))
        ):
            self.engine.rebuild(indexable_fingerprints(session, shard=self.shard))
            rebuilds = self.engine.rebuilds
        else:
            self._apply(session, differing)
        self._checked_rebuilds = rebuilds
        return len(differing)

    def start(self, sessions: Callable[[], Session], interval_s: float) -> None:
        """Follow on a thread of its own, a round every `interval_s`, each in its own session.

        The thread holds the follower, and `sessions` when it is a bound method, only weakly:
        once their owner is gone (a command run in a test, a closed app) the thread ends.
        """
        opener: Callable[[], Callable[[], Session] | None] = (
            weakref.WeakMethod(sessions)
            if isinstance(sessions, types.MethodType)
            else lambda: sessions
        )
        self._thread = threading.Thread(
            target=_follow_until_stopped,
            args=(weakref.ref(self), opener, self._stop, interval_s),
            name="index-follower",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _apply(self, session: Session, work_ids: Collection[int]) -> None:
        """Bring these works in step: add the indexable ones the engine lacks, in one pass,
        and remove the others it holds; what already agrees (a process's own change coming
        back) costs nothing, since a work's fingerprint never changes."""
        if not work_ids:
            return
        held = self.engine.work_ids()
        ordered = sorted(work_ids)
        for start in range(0, len(ordered), _READ_CHUNK):
            chunk = ordered[start : start + _READ_CHUNK]
            stored = dict(_stored_fingerprints(session, chunk))
            self.engine.add_new(
                (work_id, Fingerprint.from_bytes(stored[work_id]))
                for work_id in chunk
                if work_id in stored and work_id not in held
            )
            for work_id in chunk:
                if work_id not in stored and work_id in held:
                    self.engine.remove(work_id)

    def _holds(self, work_id: int) -> bool:
        return self.shard is None or self.shard.holds(work_id)

    def _advance(self, seen: Iterable[int]) -> None:
        """Move the cursor past the ids seen; watch the ids missing below it, for a while."""
        now = self._clock()
        present = set(seen)
        for change_id in present:
            self._gaps.pop(change_id, None)
        top = max(present, default=self.cursor)
        if top > self.cursor:
            for change_id in range(max(self.cursor + 1, top - MAX_GAPS), top):
                if change_id not in present:
                    self._gaps[change_id] = now
            self.cursor = top
        self._gaps = {
            change_id: missed
            for change_id, missed in self._gaps.items()
            if now - missed < self._gap_wait_s
        }


def _follow_until_stopped(
    follower_ref: Callable[[], IndexFollower | None],
    opener: Callable[[], Callable[[], Session] | None],
    stop: threading.Event,
    interval_s: float,
) -> None:
    while not stop.wait(interval_s):
        follower, sessions = follower_ref(), opener()
        if follower is None or sessions is None:
            return
        try:
            with sessions() as session:
                follower.follow(session)
        except Exception:
            # A database hiccup must not end the thread: the cursor did not move, so the next
            # round applies the same changes.
            logger.exception("following the index changes failed; the next round retries")
        del follower, sessions


def _stored_fingerprints(session: Session, work_ids: list[int]) -> list[tuple[int, bytes]]:
    """(id, fingerprint) of the indexable works among these."""
    rows = session.exec(
        select(Work.id, Work.fingerprint).where(col(Work.id).in_(work_ids), *INDEXABLE)
    )
    return [(work_id, data) for work_id, data in rows if work_id is not None and data is not None]
