"""The Bloom filter never forgets a key, and is wrong about absent keys at about its design rate."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from similarity.crawl.bloom import BloomFilter


@given(
    keys=st.lists(st.binary(min_size=0, max_size=40), max_size=300),
    capacity=st.integers(min_value=1, max_value=64),
    rate=st.floats(min_value=0.001, max_value=0.5),
)
def test_an_added_key_is_never_reported_absent(
    keys: list[bytes], capacity: int, rate: float
) -> None:
    bloom = BloomFilter(capacity, rate)
    for key in keys:
        bloom.add(key)
    # Small capacities make it grow through many stages: every stage must keep what it holds.
    assert all(key in bloom for key in keys)
    assert len(bloom) == len(keys)


def measured_false_positive_rate(bloom: BloomFilter, seed: int, added: int, probes: int) -> float:
    generator = random.Random(seed)
    for _ in range(added):
        bloom.add(generator.randbytes(16))
    # 17-byte keys can never equal one of the 16-byte keys added.
    hits = sum(generator.randbytes(17) in bloom for _ in range(probes))
    return hits / probes


@pytest.mark.parametrize(("seed", "rate"), [(1, 0.01), (2, 0.01), (3, 0.001), (4, 0.05)])
def test_a_full_filter_is_wrong_about_absent_keys_at_about_its_design_rate(
    seed: int, rate: float
) -> None:
    capacity = 20_000
    measured = measured_false_positive_rate(BloomFilter(capacity, rate), seed, capacity, 100_000)
    # 100,000 probes at 1% give a standard error of 0.03 points: a factor of 1.5 is > 15 sigma
    # at 1% and 5%, and the 0.1% case (about 100 hits) stays within 5 sigma.
    assert rate / 1.5 < measured < rate * 1.5


def test_a_half_full_filter_is_wrong_far_less_often_than_its_design_rate() -> None:
    measured = measured_false_positive_rate(BloomFilter(20_000, 0.01), 5, 10_000, 100_000)
    assert measured < 0.01 / 4


def test_past_its_capacity_the_filter_grows_and_stays_below_twice_the_design_rate() -> None:
    bloom = BloomFilter(5_000, 0.01)
    size_when_empty = bloom.byte_size
    measured = measured_false_positive_rate(bloom, 6, 35_000, 100_000)
    assert bloom.byte_size > 4 * size_when_empty
    assert measured < 2 * 0.01


@pytest.mark.parametrize(("capacity", "rate"), [(0, 0.01), (10, 0.0), (10, 1.0), (10, -0.5)])
def test_a_filter_that_could_not_work_is_refused(capacity: int, rate: float) -> None:
    with pytest.raises(ValueError, match=r"Bloom|rate"):
        BloomFilter(capacity, rate)
