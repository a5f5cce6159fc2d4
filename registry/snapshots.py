"""Every process searches the same index: snapshots built from the database, plus the delta.

The database's fingerprints are the source of truth. `build_snapshot` indexes every indexable
work in a scratch folder and stores the index files, packed in one tar, in a blob store (local
or S3, content-addressed like every blob); a row in `index_snapshots` names it and the last
work id it holds. `load_latest` unpacks the newest snapshot into a process's index folder,
opens it, then adds the works registered since and removes the works withdrawn, so that it
answers as an index freshly built from the database would.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, col, select

from registry.blobs import BlobStore
from registry.models import IndexSnapshot, Work, WorkStatus, persisted_id
from similarity.engine import Fingerprint, SimilarityEngine
from similarity.index.storage import write_atomically

# An engine over an index folder; the composition root binds the embedder and references.
EngineAt = Callable[[Path], SimilarityEngine]
# The index files a snapshot carries (background vectors depend only on the model).
_INDEX_FILES = ("pdq.index", "embedding-")


def indexable_fingerprints(
    session: Session, after_work_id: int = 0
) -> list[tuple[int, Fingerprint]]:
    """The stored fingerprint of every indexable work with an id above `after_work_id`."""
    works = session.exec(
        select(Work)
        .where(
            Work.status != WorkStatus.WITHDRAWN,
            col(Work.fingerprint).is_not(None),
            col(Work.id) > after_work_id,
        )
        .order_by(col(Work.id))
    )
    return [
        (persisted_id(work), Fingerprint.from_bytes(work.fingerprint))
        for work in works
        if work.fingerprint is not None
    ]


def build_snapshot(session: Session, engine_at: EngineAt, store: BlobStore) -> IndexSnapshot:
    """Index every indexable work afresh, store the files as one blob and record it."""
    items = indexable_fingerprints(session)
    with tempfile.TemporaryDirectory(prefix="copymark-snapshot-") as scratch:
        folder = Path(scratch)
        engine_at(folder).rebuild(items)
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as archive:
            for path in sorted(folder.iterdir()):
                if path.name.startswith(_INDEX_FILES):
                    archive.add(path, arcname=path.name)
        digest = store.put(packed.getvalue())
    snapshot = IndexSnapshot(
        sha256=digest,
        last_work_id=max((work_id for work_id, _ in items), default=0),
        works=len(items),
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def latest_snapshot(session: Session) -> IndexSnapshot | None:
    """The newest snapshot recorded, if any."""
    return session.exec(select(IndexSnapshot).order_by(col(IndexSnapshot.id).desc())).first()


def load_latest(
    session: Session, engine_at: EngineAt, store: BlobStore, index_dir: Path
) -> tuple[SimilarityEngine, int]:
    """An engine on the newest snapshot plus the delta since; and how many works the delta held.

    With no snapshot yet, the whole database is the delta.
    """
    snapshot = latest_snapshot(session)
    last_work_id = 0
    if snapshot is not None:
        with tarfile.open(fileobj=io.BytesIO(store.get(snapshot.sha256)), mode="r") as archive:
            for member in archive.getmembers():
                # Only the flat index files this module writes: no paths, links or devices.
                if not member.isfile() or not member.name.startswith(_INDEX_FILES):
                    continue
                if "/" in member.name or member.name.startswith("."):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    write_atomically(index_dir / member.name, extracted.read())
        last_work_id = snapshot.last_work_id
    engine = engine_at(index_dir)
    delta = indexable_fingerprints(session, last_work_id)
    for work_id, fingerprint in delta:
        engine.add(work_id, fingerprint)
    withdrawn = session.exec(
        select(Work.id).where(Work.status == WorkStatus.WITHDRAWN, col(Work.id) <= last_work_id)
    )
    for gone in withdrawn:
        if gone is not None:
            engine.remove(gone)
    return engine, len(delta)
