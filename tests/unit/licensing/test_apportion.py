from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.apportion import apportion


def test_gives_the_leftover_unit_to_the_largest_remainder() -> None:
    # exact shares 3.2, 3.5, 3.3 of 10
    assert apportion(10, [32, 35, 33], 10) == [3, 4, 3]


def test_breaks_equal_remainders_in_favour_of_the_earlier_part() -> None:
    assert apportion(1, [1, 1], 2) == [1, 0]


def test_refuses_numerators_that_do_not_sum_to_the_total() -> None:
    with pytest.raises(ValueError, match="do not sum"):
        apportion(10, [1, 2], 1)


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(any),
    st.integers(min_value=0, max_value=10**12),
)
def test_parts_sum_to_total_and_stay_within_one_unit(weights: list[int], total: int) -> None:
    denominator = sum(weights)
    numerators = [total * weight for weight in weights]
    parts = apportion(total, numerators, denominator)
    assert sum(parts) == total
    for part, numerator in zip(parts, numerators, strict=True):
        assert numerator // denominator <= part <= -(-numerator // denominator)
