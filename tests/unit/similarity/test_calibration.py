import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from similarity.calibration import (
    FEATURES,
    SHIPPED_PARAMETERS,
    Calibration,
    CalibrationFormatError,
    Evidence,
)
from similarity.matcher import COPY_PROBABILITY

SHIPPED = Calibration.shipped()
distances = st.none() | st.integers(0, 256)
margins = st.none() | st.floats(-1.0, 1.5, allow_nan=False)
scores = st.floats(-2.0, 2.0, allow_nan=False)


def test_the_shipped_parameters_load_once_and_describe_their_fit() -> None:
    assert Calibration.shipped() is SHIPPED
    assert Calibration.load(SHIPPED_PARAMETERS) == SHIPPED
    assert len(SHIPPED.weights) == len(FEATURES)
    fitted_on = dict(SHIPPED.fitted_on)
    assert fitted_on["largest_registry"] >= 100_000
    assert fitted_on["positive_pairs"] > 0
    assert fitted_on["negative_pairs"] > 0


def test_parameters_round_trip_through_json() -> None:
    assert Calibration.from_json(SHIPPED.to_json()) == SHIPPED


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(version=99),
        lambda d: d.update(features=["score"]),
        lambda d: d["weights"].update(score=-1.0),
        lambda d: d.update(verified_floor=1.5),
        lambda d: d.pop("intercept"),
    ],
    ids=["version", "features", "negative-weight", "floor", "missing"],
)
def test_a_damaged_parameter_file_is_refused(change: object) -> None:
    document = json.loads(SHIPPED.to_json())
    assert callable(change)
    change(document)
    with pytest.raises(CalibrationFormatError):
        Calibration.from_json(json.dumps(document))


def test_unreadable_text_is_refused() -> None:
    with pytest.raises(CalibrationFormatError):
        Calibration.from_json("not json")


@given(scores, scores, st.booleans(), distances, margins)
def test_p_copy_never_falls_as_the_score_rises(
    low: float, high: float, verified: bool, distance: int | None, margin: float | None
) -> None:
    low, high = sorted((low, high))
    assert SHIPPED.p_copy(Evidence(low, verified, distance, margin)) <= SHIPPED.p_copy(
        Evidence(high, verified, distance, margin)
    )


@given(scores, distances, margins)
def test_more_evidence_never_lowers_p_copy(
    score: float, distance: int | None, margin: float | None
) -> None:
    evidence = Evidence(score, False, distance, margin)
    closer = dataclasses.replace(
        evidence, hash_distance=max(0, (256 if distance is None else distance) - 8)
    )
    nearer = dataclasses.replace(
        evidence, embedding_margin=(-1.0 if margin is None else margin) + 0.1
    )
    assert SHIPPED.p_copy(closer) >= SHIPPED.p_copy(evidence)
    assert SHIPPED.p_copy(nearer) >= SHIPPED.p_copy(evidence)


@given(scores, distances, margins)
def test_a_verified_pair_is_at_least_the_copy_probability(
    score: float, distance: int | None, margin: float | None
) -> None:
    p = SHIPPED.p_copy(Evidence(score, True, distance, margin))
    assert COPY_PROBABILITY <= p <= 1.0


@given(scores, st.booleans(), distances, margins)
def test_p_copy_is_a_probability(
    score: float, verified: bool, distance: int | None, margin: float | None
) -> None:
    assert 0.0 <= SHIPPED.p_copy(Evidence(score, verified, distance, margin)) <= 1.0


def test_an_identical_hash_is_a_copy_and_no_evidence_is_not() -> None:
    assert SHIPPED.p_copy(Evidence(0.48, False, 0, None)) >= COPY_PROBABILITY
    assert SHIPPED.p_copy(Evidence(-2.0, False, None, None)) < 0.05


def test_a_look_alike_without_a_close_hash_is_not_a_copy() -> None:
    # The clip-art false copies were embeddings well above the background, hashes far apart.
    assert SHIPPED.p_copy(Evidence(0.5, False, 110, 0.62)) < COPY_PROBABILITY
