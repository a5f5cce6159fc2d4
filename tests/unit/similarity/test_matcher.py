from hypothesis import given
from hypothesis import strategies as st

from similarity.hashes import PDQ_MATCH_DISTANCE
from similarity.matcher import (
    COPY_PROBABILITY,
    Candidate,
    Match,
    copies,
    decide,
    gather,
    hash_evidence,
    verdict,
    verified_score,
)


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


def test_a_score_above_the_threshold_alone_is_only_a_possible_match() -> None:
    assert decide([Match(1, -0.2, False, None), Match(2, 0.6, False, None, p_copy=0.9)]) == (
        "possible"
    )
    assert decide([Match(1, -0.2, False, None)]) == "no_match"
    assert decide([]) == "no_match"


def test_a_verified_match_is_a_copy_whatever_its_probability() -> None:
    assert verdict(Match(1, 0.6, True, None, p_copy=0.0)) == "copy"


def test_an_unverified_match_is_a_copy_from_the_copy_probability_on() -> None:
    below = Match(1, 0.4, False, None, p_copy=COPY_PROBABILITY - 1e-9)
    at = Match(2, 0.4, False, None, p_copy=COPY_PROBABILITY)
    assert verdict(below) == "possible"
    assert verdict(at) == "copy"
    assert decide([below, at]) == "copy"
    assert copies([below, at]) == [at]


def test_strong_probability_with_a_negative_score_is_still_possible_evidence() -> None:
    assert verdict(Match(1, -0.1, False, None, p_copy=0.6)) == "possible"


def test_a_close_hash_outranks_an_embedding_look_alike() -> None:
    # Unrelated clip art reaches embedding margins near 0.6; a thumbnail keeps its hash within
    # about 10 bits of its work and must rank above such a look-alike.
    thumbnail = Candidate(1, hash_distance=10)
    look_alike = Candidate(2, embedding_margin=0.6)
    assert thumbnail.score > look_alike.score
