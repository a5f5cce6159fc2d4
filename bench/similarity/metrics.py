"""Copy-detection metrics over one global ranking of every (query, reference, score) prediction.

As in DISC21 / ISC2021: scores must be comparable across queries, a (query, reference) pair
counts once (its best score), ties are broken in the worst order for the system (false
positives first) so that a constant score cannot buy precision, and a positive query whose
reference is never predicted still counts against recall.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


class MetricInputError(ValueError):
    """Predictions or ground truth that no metric can be computed from."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """A system's claim that `query_id` copies reference `reference_id`; higher score = surer."""

    query_id: str
    reference_id: int
    score: float


@dataclass(frozen=True, slots=True)
class PrecisionRecallCurve:
    """Precision and recall after each prediction of the global ranking, best score first."""

    precisions: tuple[float, ...]
    recalls: tuple[float, ...]
    thresholds: tuple[float, ...]


def precision_recall_curve(
    predictions: Iterable[Prediction], ground_truth: Mapping[str, int]
) -> PrecisionRecallCurve:
    """Rank all predictions globally; `ground_truth` maps each positive query to its reference."""
    if not ground_truth:
        raise MetricInputError("ground truth holds no positive query: recall is undefined")
    best: dict[tuple[str, int], float] = {}
    for prediction in predictions:
        if math.isnan(prediction.score):
            raise MetricInputError(f"prediction for query {prediction.query_id!r} has a NaN score")
        key = (prediction.query_id, prediction.reference_id)
        best[key] = max(prediction.score, best.get(key, -math.inf))
    if not best:
        return PrecisionRecallCurve((), (), ())
    scores = np.fromiter(best.values(), dtype=np.float64, count=len(best))
    correct = np.fromiter(
        (ground_truth.get(query) == reference for query, reference in best),
        dtype=bool,
        count=len(best),
    )
    # lexsort's last key is primary: score descending, then wrong before right on ties.
    order = np.lexsort((correct, -scores))
    hits = np.cumsum(correct[order])
    ranks = np.arange(1, len(order) + 1)
    return PrecisionRecallCurve(
        precisions=tuple((hits / ranks).tolist()),
        recalls=tuple((hits / len(ground_truth)).tolist()),
        thresholds=tuple(scores[order].tolist()),
    )


def micro_average_precision(curve: PrecisionRecallCurve) -> float:
    """Area under the curve as the sum of precision times each recall step (µAP)."""
    recalls = np.asarray(curve.recalls, dtype=np.float64)
    precisions = np.asarray(curve.precisions, dtype=np.float64)
    steps = np.diff(recalls, prepend=0.0)
    return float(np.sum(steps * precisions))


def recall_at_precision(curve: PrecisionRecallCurve, min_precision: float) -> float:
    """The highest recall reached at any threshold where precision is at least `min_precision`."""
    if not 0.0 <= min_precision <= 1.0:
        raise MetricInputError(f"precision must lie in [0, 1], got {min_precision}")
    precisions = np.asarray(curve.precisions, dtype=np.float64)
    recalls = np.asarray(curve.recalls, dtype=np.float64)
    reachable = recalls[precisions >= min_precision]
    return float(reachable.max()) if reachable.size else 0.0
