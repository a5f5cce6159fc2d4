"""Largest-remainder apportionment: parts sum exactly to the total, each within one unit of exact.

Every part is the floor or the ceiling of its exact share. The units left over after flooring go
to the parts with the largest remainders; equal remainders go to the earlier part, so callers
put parts in a canonical order (the split engine orders lines by rule, then by party id) and the
result never depends on the order a document happened to list its parties in.
"""

from __future__ import annotations

from collections.abc import Sequence


def apportion(total: int, numerators: Sequence[int], denominator: int) -> list[int]:
    """Split total into parts whose exact values are numerators[i] / denominator.

    The numerators must be non-negative and sum to total * denominator.
    """
    parts = [numerator // denominator for numerator in numerators]
    leftover = total - sum(parts)
    if not 0 <= leftover <= len(parts):
        raise ValueError(f"numerators do not sum to {total} * {denominator}")
    if leftover:
        ranked = sorted(
            (-(numerator % denominator), index) for index, numerator in enumerate(numerators)
        )
        for _, index in ranked[:leftover]:
            parts[index] += 1
    return parts
