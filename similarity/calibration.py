"""The probability that a match is a copy; invariant: it is a function of one pair's evidence only.

`p_copy` never looks at the registry (its size, its other works, the other matches of the query),
so a 0.99 means the same for a registry of 12 works and of a million. That is why the size of
the registry does not appear in the model: what does grow with the registry is the *best* of the
unrelated works a query is compared with, and the model is fitted so that its 0.99 level lies
beyond the strongest unverified evidence that never-registered images reached against the largest
registry measured (100,000 works: real calibration images padded with synthetic ones), where a
smaller registry can only do better. `bench.calibration` fits the parameters on calibration
sources that no benchmark or evaluation uses and writes `calibration.json` beside this module.

The model is a logistic regression over the pair's evidence, every weight non-negative so that
more evidence never lowers the probability. A geometrically verified pair gets at least
`verified_floor`: ORB + RANSAC accepted none of the never-registered calibration pairs it was
tried on, and the floor is one less the rule-of-three bound on that false-accept rate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from similarity.hashes import PDQ_MATCH_DISTANCE

SHIPPED_PARAMETERS: Final = Path(__file__).with_name("calibration.json")
FEATURES: Final = ("score", "verified", "hash", "margin")
# Where evidence is missing it counts as the weakest value a feature takes, and strong evidence
# saturates: beyond these bounds a feature says nothing more, so the model cannot extrapolate.
_SCORE_RANGE: Final = (-1.0, 1.0)
_MARGIN_RANGE: Final = (-0.5, 1.0)
_FORMAT_VERSION: Final = 1


class CalibrationFormatError(ValueError):
    """A calibration parameter file cannot be read or describes a different model."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the engine knows of one (query, work) pair.

    `score` is the fused evidence before any verification bonus (`matcher.Candidate.score`);
    `hash_distance` the smallest PDQ Hamming distance over orientations and regions (None when
    no hash was close enough to be returned); `embedding_margin` the largest background-normalised
    cosine similarity (None when the embedding index did not return the work).
    """

    score: float
    verified: bool
    hash_distance: int | None = None
    embedding_margin: float | None = None

    def features(self) -> tuple[float, ...]:
        """The model's inputs, in the order of `FEATURES`, each clipped to its range."""
        # How deep inside PDQ's match radius the pair lies: 1 for identical hashes, 0 at the
        # radius and beyond, where unrelated images are (their hashes sit about 128 bits apart).
        hash_depth = (
            0.0
            if self.hash_distance is None
            else max(0.0, (PDQ_MATCH_DISTANCE - self.hash_distance) / PDQ_MATCH_DISTANCE)
        )
        margin = _MARGIN_RANGE[0] if self.embedding_margin is None else self.embedding_margin
        return (
            _clip(self.score, _SCORE_RANGE),
            1.0 if self.verified else 0.0,
            hash_depth,
            _clip(margin, _MARGIN_RANGE),
        )


@dataclass(frozen=True, slots=True)
class Calibration:
    """Logistic model of a copy from a pair's `Evidence`; load the shipped one with `shipped()`."""

    intercept: float
    weights: tuple[float, ...]
    verified_floor: float
    fitted_on: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise CalibrationFormatError(
                f"expected {len(FEATURES)} weights ({', '.join(FEATURES)}), got {len(self.weights)}"
            )
        if any(weight < 0 or not math.isfinite(weight) for weight in self.weights):
            raise CalibrationFormatError(f"weights must be finite and non-negative: {self.weights}")
        if not 0.0 <= self.verified_floor < 1.0 or not math.isfinite(self.intercept):
            raise CalibrationFormatError("verified_floor must lie in [0, 1), intercept be finite")

    def p_copy(self, evidence: Evidence) -> float:
        """Probability that the pair is a copy, in [0, 1]."""
        logit = self.intercept + sum(
            weight * value for weight, value in zip(self.weights, evidence.features(), strict=True)
        )
        probability = _sigmoid(logit)
        if evidence.verified:
            probability = max(probability, self.verified_floor)
        return probability

    def to_json(self) -> str:
        """The parameter file's text (stable key order, so a refit diffs cleanly)."""
        document = {
            "version": _FORMAT_VERSION,
            "model": "logistic",
            "features": list(FEATURES),
            "intercept": self.intercept,
            "weights": dict(zip(FEATURES, self.weights, strict=True)),
            "verified_floor": self.verified_floor,
            "fitted_on": dict(self.fitted_on),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        """Read the output of `to_json`."""
        try:
            document = json.loads(text)
            if document.get("version") != _FORMAT_VERSION or document.get("model") != "logistic":
                raise CalibrationFormatError(f"unknown calibration format: {document!r:.200}")
            if tuple(document["features"]) != FEATURES:
                raise CalibrationFormatError(f"unexpected features {document['features']!r}")
            return cls(
                intercept=float(document["intercept"]),
                weights=tuple(float(document["weights"][name]) for name in FEATURES),
                verified_floor=float(document["verified_floor"]),
                fitted_on=tuple(sorted(dict(document.get("fitted_on", {})).items())),
            )
        except CalibrationFormatError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CalibrationFormatError(f"unreadable calibration: {error}") from error

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a parameter file."""
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CalibrationFormatError(f"cannot read {path}: {error}") from error

    @staticmethod
    def shipped() -> Calibration:
        """The parameters shipped with the package, read once per process."""
        return _shipped()


@cache
def _shipped() -> Calibration:
    return Calibration.load(SHIPPED_PARAMETERS)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exponential = math.exp(logit)
    return exponential / (1.0 + exponential)
