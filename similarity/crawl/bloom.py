"""A Bloom filter never answers "absent" for a key it was given; "present" may be wrong.

A crawler keeps one in front of the frontier's seen-URL table, so that most links it has
already queued cost no round trip to the database: "absent" is certain, and the URL is queued;
"present" is confirmed against the table, because a false positive taken on trust would skip a
page no one ever fetched.

Sizing (Bloom 1970; Kirsch and Mitzenmacher 2006 for the two-hash scheme): for `capacity` keys
and a false-positive rate `p`, `m = -capacity * ln p / (ln 2)^2` bits and `k = m / capacity *
ln 2` hash functions; index `i` of a key is `h1 + i * h2 mod m`, with `h1` and `h2` taken from
the key's SHA-256. The default rate is 1% (9.6 bits, 7 probes per key: 12 MB for 10 million
URLs), where a confirming query costs about as much as the insert it saves. Past its capacity
the filter grows: it adds a stage twice as large at half the rate, so the rate over all stages
stays below twice the design rate however many keys arrive (Almeida et al. 2007, scalable Bloom
filters).
"""

from __future__ import annotations

import hashlib
import math
from typing import Final

DEFAULT_FALSE_POSITIVE_RATE: Final = 0.01
DEFAULT_CAPACITY: Final = 1_000_000


class _Stage:
    """One fixed-size filter: `bits` bits, `probes` positions per key, room for `capacity`."""

    def __init__(self, capacity: int, false_positive_rate: float) -> None:
        self.capacity = capacity
        self.bits = max(8, math.ceil(-capacity * math.log(false_positive_rate) / math.log(2) ** 2))
        self.probes = max(1, round(self.bits / capacity * math.log(2)))
        self.count = 0
        self._array = bytearray((self.bits + 7) // 8)

    def _positions(self, first: int, step: int) -> list[int]:
        return [(first + i * step) % self.bits for i in range(self.probes)]

    def add(self, first: int, step: int) -> None:
        array = self._array
        for position in self._positions(first, step):
            array[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def __contains__(self, hashes: tuple[int, int]) -> bool:
        array = self._array
        return all(array[p >> 3] & (1 << (p & 7)) for p in self._positions(*hashes))

    @property
    def byte_size(self) -> int:
        return len(self._array)


class BloomFilter:
    """A growing Bloom filter of byte strings at a stated false-positive rate."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        false_positive_rate: float = DEFAULT_FALSE_POSITIVE_RATE,
    ) -> None:
        if capacity < 1:
            raise ValueError("a Bloom filter needs room for at least one key")
        if not 0.0 < false_positive_rate < 1.0:
            raise ValueError("the false-positive rate lies strictly between 0 and 1")
        self.false_positive_rate = false_positive_rate
        # Each later stage has half the rate of the one before: the sum stays below 2p.
        self._stages = [_Stage(capacity, false_positive_rate)]

    @staticmethod
    def _hashes(key: bytes) -> tuple[int, int]:
        digest = hashlib.sha256(key).digest()
        # An odd step visits distinct positions whenever the stage's bit count is a power of two.
        return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little") | 1

    def add(self, key: bytes) -> None:
        hashes = self._hashes(key)
        stage = self._stages[-1]
        if stage.count >= stage.capacity:
            rate = self.false_positive_rate / 2 ** len(self._stages)
            stage = _Stage(stage.capacity * 2, rate)
            self._stages.append(stage)
        stage.add(*hashes)

    def __contains__(self, key: bytes) -> bool:
        hashes = self._hashes(key)
        return any(hashes in stage for stage in self._stages)

    def __len__(self) -> int:
        """How many keys were added (a key added twice counts twice)."""
        return sum(stage.count for stage in self._stages)

    @property
    def byte_size(self) -> int:
        """The memory its bit arrays take."""
        return sum(stage.byte_size for stage in self._stages)
