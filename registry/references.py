"""Each work's search features kept from registration (`work_references`): how a search reads
them, and how works registered before they were kept get theirs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from sqlmodel import Session, col, select

from registry.db import unit_of_work
from registry.models import Work, WorkReference
from similarity.engine import SimilarityEngine

# Works given their features per transaction: an interrupted run keeps what it stored.
REFERENCE_BATCH: Final = 50


def stored_reference_loader(
    session_factory: Callable[[], Session],
) -> Callable[[int], bytes | None]:
    """A work's `ReferenceFeatures` bytes stored at registration, or None if it has none."""

    def load(work_id: int) -> bytes | None:
        with session_factory() as session:
            return session.exec(
                select(WorkReference.features).where(WorkReference.work_id == work_id)
            ).first()

    return load


@dataclass(frozen=True, slots=True)
class ReferencesFilled:
    """What `fill_missing_references` did."""

    filled: int
    # Works whose original could not be read (its blob missing or no longer decodable).
    unreadable: tuple[int, ...]


def works_without_references(session: Session, among: Sequence[int] | None = None) -> list[int]:
    """Works with no stored features (registered before they were kept), oldest first."""
    stored = select(WorkReference.work_id).where(col(WorkReference.work_id) == col(Work.id))
    query = select(col(Work.id)).where(~stored.exists())
    if among is not None:
        query = query.where(col(Work.id).in_(among))
    return [work_id for work_id in session.exec(query.order_by(col(Work.id))) if work_id]


def fill_missing_references(
    session_factory: Callable[[], Session],
    similarity: SimilarityEngine,
    reference_image: Callable[[int], np.ndarray | None],
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReferencesFilled:
    """Store the search features of every work that has none, made from its original exactly as
    registration makes them, a batch per transaction; a second run finds nothing left to do."""
    with session_factory() as session:
        missing = works_without_references(session)
    filled = 0
    unreadable: list[int] = []
    for start in range(0, len(missing), REFERENCE_BATCH):
        features: dict[int, bytes] = {}
        for work_id in missing[start : start + REFERENCE_BATCH]:
            image = reference_image(work_id)
            if image is None:
                unreadable.append(work_id)
            else:
                features[work_id] = similarity.reference_features(image).to_bytes()
        if features:
            with unit_of_work(session_factory) as session:
                # A work deleted, or filled by another run, since the list was read is left alone.
                still_missing = works_without_references(session, list(features))
                session.add_all(
                    WorkReference(work_id=work_id, features=features[work_id])
                    for work_id in still_missing
                )
            filled += len(still_missing)
        if on_progress is not None:
            on_progress(min(start + REFERENCE_BATCH, len(missing)), len(missing))
    return ReferencesFilled(filled, tuple(unreadable))
