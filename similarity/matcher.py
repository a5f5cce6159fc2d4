"""Fuses index hits into one score per work that is comparable across queries; 0 is the threshold.

Hash evidence is PDQ's Hamming distance shifted so Meta's match radius (31 bits) sits at 0.
Embedding evidence is the SSCD-style normalised similarity: the query region's cosine to the
work minus its cosine to its k-th nearest unrelated background image, shifted by a margin.
Geometric verification lifts a pair above the threshold by a fixed bonus.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from similarity.hashes import PDQ_MATCH_DISTANCE
from similarity.verify import Quad

DECISION_THRESHOLD: Final = 0.0
# Candidates below this are too weak to be worth an ORB check (a hash 48+ bits away, or an
# embedding barely above the background).
VERIFY_FLOOR: Final = -0.25
EMBEDDING_MARGIN: Final = 0.12
VERIFIED_BONUS: Final = 0.5
_HASH_SCALE: Final = 64.0

Decision = Literal["copy", "no_match"]


@dataclass(frozen=True, slots=True)
class Match:
    """A registered work the query may copy; `region` is where, in query pixels, when verified."""

    work_id: int
    score: float
    verified: bool
    region: Quad | None


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


def decide(matches: Sequence[Match]) -> Decision:
    """ "copy" when any match clears the global threshold."""
    return "copy" if any(match.score > DECISION_THRESHOLD for match in matches) else "no_match"
