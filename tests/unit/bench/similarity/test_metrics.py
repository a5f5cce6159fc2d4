import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.similarity.metrics import (
    MetricInputError,
    Prediction,
    micro_average_precision,
    precision_recall_curve,
    recall_at_precision,
)

TWO_POSITIVES = {"q1": 1, "q2": 2}


def _muap(predictions: list[Prediction], truth: dict[str, int]) -> float:
    return micro_average_precision(precision_recall_curve(predictions, truth))


def test_curve_follows_the_global_ranking_by_hand() -> None:
    predictions = [
        Prediction("q2", 2, 0.7),
        Prediction("q1", 1, 0.9),
        Prediction("d1", 5, 0.8),
    ]
    curve = precision_recall_curve(predictions, TWO_POSITIVES)
    assert curve.thresholds == (0.9, 0.8, 0.7)
    assert curve.precisions == pytest.approx((1.0, 0.5, 2 / 3))
    assert curve.recalls == pytest.approx((0.5, 0.5, 1.0))


def test_muap_sums_precision_at_each_recall_step_by_hand() -> None:
    predictions = [Prediction("q1", 1, 0.9), Prediction("d1", 5, 0.8), Prediction("q2", 2, 0.7)]
    assert _muap(predictions, TWO_POSITIVES) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)


def test_positive_never_predicted_caps_recall() -> None:
    curve = precision_recall_curve([Prediction("q1", 1, 0.9)], TWO_POSITIVES)
    assert micro_average_precision(curve) == pytest.approx(0.5)
    assert recall_at_precision(curve, 0.99) == pytest.approx(0.5)


def test_wrong_reference_for_a_positive_query_is_a_false_positive() -> None:
    predictions = [Prediction("q1", 7, 0.9), Prediction("q1", 1, 0.8)]
    curve = precision_recall_curve(predictions, {"q1": 1})
    assert curve.precisions == pytest.approx((0.0, 0.5))
    assert micro_average_precision(curve) == pytest.approx(0.5)


def test_ties_rank_false_positives_first() -> None:
    predictions = [Prediction("q1", 1, 0.5), Prediction("d1", 4, 0.5)]
    assert _muap(predictions, {"q1": 1}) == pytest.approx(0.5)


def test_constant_scores_cannot_buy_precision() -> None:
    predictions = [Prediction(f"q{i}", i, 1.0) for i in range(3)]
    predictions += [Prediction(f"d{i}", i, 1.0) for i in range(3)]
    truth = {f"q{i}": i for i in range(3)}
    assert _muap(predictions, truth) == pytest.approx((1 / 4 + 2 / 5 + 3 / 6) / 3)


def test_repeated_pair_counts_once_at_its_best_score() -> None:
    predictions = [Prediction("q1", 1, 0.2), Prediction("d1", 3, 0.5), Prediction("q1", 1, 0.9)]
    curve = precision_recall_curve(predictions, {"q1": 1})
    assert curve.thresholds == (0.9, 0.5)
    assert micro_average_precision(curve) == pytest.approx(1.0)


def test_recall_at_precision_takes_the_deepest_qualifying_threshold() -> None:
    predictions = [
        Prediction("q1", 1, 0.9),
        Prediction("d1", 5, 0.8),
        Prediction("q2", 2, 0.7),
    ]
    curve = precision_recall_curve(predictions, TWO_POSITIVES)
    assert recall_at_precision(curve, 0.9) == pytest.approx(0.5)
    assert recall_at_precision(curve, 0.6) == pytest.approx(1.0)


def test_recall_is_zero_when_precision_is_never_reached() -> None:
    curve = precision_recall_curve([Prediction("d1", 1, 0.9)], {"q1": 1})
    assert recall_at_precision(curve, 0.5) == 0.0


def test_no_predictions_give_zero() -> None:
    curve = precision_recall_curve([], {"q1": 1})
    assert micro_average_precision(curve) == 0.0
    assert recall_at_precision(curve, 0.9) == 0.0


def test_empty_ground_truth_is_refused() -> None:
    with pytest.raises(MetricInputError, match="no positive query"):
        precision_recall_curve([Prediction("q1", 1, 0.9)], {})


def test_nan_score_is_refused() -> None:
    with pytest.raises(MetricInputError, match="NaN"):
        precision_recall_curve([Prediction("q1", 1, math.nan)], {"q1": 1})


def test_precision_outside_unit_interval_is_refused() -> None:
    curve = precision_recall_curve([Prediction("q1", 1, 0.9)], {"q1": 1})
    with pytest.raises(MetricInputError, match="precision"):
        recall_at_precision(curve, 1.5)


# Whole-number scores keep a rescaling exact, so distinct scores never collapse into ties.
_scores = st.integers(-1000, 1000).map(float)
_ranked = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), _scores), min_size=1, max_size=40
)


def _as_predictions(rows: list[tuple[int, int, float]]) -> list[Prediction]:
    return [Prediction(f"q{query}", reference, score) for query, reference, score in rows]


_TRUTH = {f"q{i}": i for i in range(5)}


@given(rows=_ranked)
@settings(max_examples=200)
def test_muap_lies_in_the_unit_interval(rows: list[tuple[int, int, float]]) -> None:
    assert 0.0 <= _muap(_as_predictions(rows), _TRUTH) <= 1.0


@given(rows=_ranked)
@settings(max_examples=200)
def test_muap_ignores_a_monotone_rescaling_of_scores(rows: list[tuple[int, int, float]]) -> None:
    predictions = _as_predictions(rows)
    rescaled = [Prediction(p.query_id, p.reference_id, 3.0 * p.score - 7.0) for p in predictions]
    assert _muap(rescaled, _TRUTH) == pytest.approx(_muap(predictions, _TRUTH))


@given(rows=_ranked)
@settings(max_examples=200)
def test_a_false_positive_below_every_score_leaves_muap_unchanged(
    rows: list[tuple[int, int, float]],
) -> None:
    predictions = _as_predictions(rows)
    lowest = min(p.score for p in predictions) - 1.0
    with_tail = [*predictions, Prediction("distractor", 0, lowest)]
    assert _muap(with_tail, _TRUTH) == pytest.approx(_muap(predictions, _TRUTH))


@given(positives=st.integers(1, 10), negatives=st.integers(0, 10))
def test_every_positive_above_every_negative_scores_one(positives: int, negatives: int) -> None:
    truth = {f"q{i}": i for i in range(positives)}
    predictions = [Prediction(f"q{i}", i, 10.0 + i) for i in range(positives)]
    predictions += [Prediction(f"d{i}", i, float(i)) for i in range(negatives)]
    curve = precision_recall_curve(predictions, truth)
    assert micro_average_precision(curve) == pytest.approx(1.0)
    assert recall_at_precision(curve, 0.99) == pytest.approx(1.0)
