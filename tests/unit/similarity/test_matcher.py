from hypothesis import given
from hypothesis import strategies as st

from similarity.hashes import PDQ_MATCH_DISTANCE
from similarity.matcher import Match, decide, gather, hash_evidence, verified_score


def test_match_radius_is_the_threshold() -> None:
    assert hash_evidence(PDQ_MATCH_DISTANCE) > 0 > hash_evidence(PDQ_MATCH_DISTANCE + 1)


@given(st.integers(0, 255), st.integers(0, 255))
def test_hash_evidence_falls_with_distance(a: int, b: int) -> None:
    assert (hash_evidence(a) >= hash_evidence(b)) == (a <= b)


def test_gather_keeps_the_best_evidence_per_work() -> None:
    candidates = gather([(1, 40), (1, 12), (2, 90)], [(1, 0.1), (1, 0.3)])
    assert candidates[1].hash_distance == 12
    assert candidates[1].embedding_margin == 0.3
    assert candidates[2].embedding_margin is None


@given(st.floats(-2, 1), st.integers(0, 1000))
def test_verified_score_clears_the_threshold(score: float, inliers: int) -> None:
    assert verified_score(score, inliers) > 0


def test_decide() -> None:
    assert decide([Match(1, -0.2, False, None), Match(2, 0.01, False, None)]) == "copy"
    assert decide([Match(1, -0.2, False, None)]) == "no_match"
    assert decide([]) == "no_match"
