"""Fuses index hits into one score per work, comparable across queries, and decides on them.

Hash evidence is PDQ's Hamming distance shifted so Meta's match radius (31 bits) sits at 0.
Embedding evidence is the SSCD-style normalised similarity: the query region's cosine to the
work minus its cosine to its k-th nearest unrelated background image, shifted by a margin.
Geometric verification lifts a pair above every unverified one by a fixed bonus. The score ranks
(a precision/recall curve is drawn from it); it does not decide.

Invariant: a match is decided `copy` only when it is geometrically verified or its calibrated
probability (`similarity.calibration`) is at least `COPY_PROBABILITY`. A score above 0 without
either is `possible`: evidence worth showing, never enough to act on. Only `copy` may raise an
alert, make a registration a prior-art conflict or count for a licensed-use skip, because each
of those starts something against a person (a notice, a dispute) that a false copy would wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from similarity.calibration import Evidence
from similarity.hashes import PDQ_MATCH_DISTANCE
from similarity.verify import Quad

# Where evidence begins: a score above it is at least a `possible` match.
DECISION_THRESHOLD: Final = 0.0
COPY_PROBABILITY: Final = 0.99
POSSIBLE_PROBABILITY: Final = 0.5
# Candidates below this are too weak to be worth an ORB check (a hash 48+ bits away, or an
# embedding barely above the background).
VERIFY_FLOOR: Final = -0.25
EMBEDDING_MARGIN: Final = 0.12
VERIFIED_BONUS: Final = 0.5
# Bits of PDQ distance per unit of score. At 32 a hash within 10 bits (0.67) outranks the
# embedding evidence that unrelated look-alikes reach, so a plain downscale, blur or resize ranks
# with the copies: on the Tux Paint benchmark split, 64 -> 32 lifted blur from 0.910 to 0.985 µAP
# and a thumbnail downscale from 0.885 to 0.964, and moved nothing else.
_HASH_SCALE: Final = 32.0

Decision = Literal["copy", "possible", "no_match"]
_RANK: Final[dict[Decision, int]] = {"no_match": 0, "possible": 1, "copy": 2}


@dataclass(frozen=True, slots=True)
class Match:
    """A registered work the query may copy; `region` is where, in query pixels, when verified.

    `p_copy` is the calibrated probability that the pair is a copy; `hash_distance` and
    `embedding_margin` are the evidence it was computed from (None where that index had no hit);
    `inliers` counts the keypoint matches that agreed on one homography when verified.
    """

    work_id: int
    score: float
    verified: bool
    region: Quad | None
    p_copy: float = 0.0
    hash_distance: int | None = None
    embedding_margin: float | None = None
    inliers: int = 0

    @property
    def decision(self) -> Decision:
        """This match's verdict alone (`decide` gives a query's)."""
        return verdict(self)


@dataclass(slots=True)
class Candidate:
    """The best evidence gathered for one work from both indexes."""

    work_id: int
    hash_distance: int | None = None
    embedding_margin: float | None = None

    @property
    def score(self) -> float:
        """Fused evidence: the stronger of the two, each shifted so 0 is its match threshold."""
        evidence = [-2.0]
        if self.hash_distance is not None:
            evidence.append(hash_evidence(self.hash_distance))
        if self.embedding_margin is not None:
            evidence.append(self.embedding_margin - EMBEDDING_MARGIN)
        return max(evidence)

    def evidence(self, verified: bool) -> Evidence:
        """What calibration needs of this candidate, verified or not."""
        return Evidence(self.score, verified, self.hash_distance, self.embedding_margin)


def hash_evidence(distance: int) -> float:
    """PDQ distance mapped so that distances within the match radius are positive."""
    return (PDQ_MATCH_DISTANCE + 0.5 - distance) / _HASH_SCALE


def gather(
    hash_hits: Iterable[tuple[int, int]],
    embedding_hits: Iterable[tuple[int, float]],
    candidates: dict[int, Candidate] | None = None,
) -> dict[int, Candidate]:
    """Keep each work's smallest hash distance and largest normalised embedding similarity.

    Hits are merged into `candidates` when given (it is updated in place).
    """
    candidates = {} if candidates is None else candidates
    for work_id, distance in hash_hits:
        candidate = candidates.setdefault(work_id, Candidate(work_id))
        if candidate.hash_distance is None or distance < candidate.hash_distance:
            candidate.hash_distance = distance
    for work_id, margin in embedding_hits:
        candidate = candidates.setdefault(work_id, Candidate(work_id))
        if candidate.embedding_margin is None or margin > candidate.embedding_margin:
            candidate.embedding_margin = margin
    return candidates


def verified_score(score: float, inliers: int) -> float:
    """Score of a geometrically verified candidate: above every unverified one."""
    return max(score, DECISION_THRESHOLD) + VERIFIED_BONUS + min(inliers, 200) / 1000


def verdict(match: Match) -> Decision:
    """`copy` when verified or p_copy >= 0.99; `possible` on weaker evidence; else `no_match`."""
    if match.verified or match.p_copy >= COPY_PROBABILITY:
        return "copy"
    if match.score > DECISION_THRESHOLD or match.p_copy >= POSSIBLE_PROBABILITY:
        return "possible"
    return "no_match"


def decide(matches: Sequence[Match]) -> Decision:
    """A query's verdict: the strongest of its matches' verdicts."""
    return max((verdict(match) for match in matches), key=_RANK.__getitem__, default="no_match")


def copies(matches: Sequence[Match]) -> list[Match]:
    """The matches decided `copy`, in the given order: the only ones anything may act on."""
    return [match for match in matches if verdict(match) == "copy"]
