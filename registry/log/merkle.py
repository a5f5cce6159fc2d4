"""Merkle tree hashing, proofs and verifiers exactly as RFC 9162 / RFC 6962 define them.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``; a tree
of n > 1 leaves splits at k, the largest power of two smaller than n. The empty tree's
root is ``SHA-256("")``.

Proofs are built from a :class:`NodeSource`, which answers the hashes of *complete*
subtrees (``2**level`` leaves starting at ``index * 2**level``). Every hash a proof needs
is either such a subtree or a right-edge subtree that folds from O(log n) of them, so a
store that keeps the complete subtrees answers any proof with one batched lookup.
"""

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from registry.log.errors import ProofRequestError
from registry.messages import N_

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


@dataclass(frozen=True, slots=True, order=True)
class Subtree:
    """The complete subtree of ``2**level`` leaves starting at leaf ``index * 2**level``."""

    level: int
    index: int

    @property
    def start(self) -> int:
        """First leaf index covered."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf index covered."""
        return (self.index + 1) << self.level


class NodeSource(Protocol):
    """Answers the hashes of complete subtrees; level 0 are the leaf hashes."""

    def subtree_hashes(self, subtrees: Collection[Subtree]) -> Mapping[Subtree, bytes]:
        """Hash of every requested subtree (all must exist)."""
        ...


def range_subtrees(start: int, end: int) -> list[Subtree]:
    """Complete subtrees, largest first, whose concatenation is leaves [start, end).

    ``start`` must be a multiple of the largest power of two not above ``end - start``,
    which holds for every range a Merkle proof names.
    """
    subtrees: list[Subtree] = []
    position = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        subtrees.append(Subtree(level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return subtrees


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees' hashes, largest first (folds from the right)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash (MTH) of a list of leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Carrying a lone last node up unchanged yields the RFC's split-at-largest-power tree.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form the audit path of ``index`` in a tree of ``size``, leaf first."""
    if not 0 <= index < size:
        raise ProofRequestError(
            N_("leaf index %(index)s is outside a tree of size %(size)s"), index=index, size=size
        )
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form the consistency proof from ``old_size`` to ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ProofRequestError(
            N_(
                "no consistency proof from size %(old)s to size %(new)s: sizes must satisfy "
                "0 <= old <= new"
            ),
            old=old_size,
            new=new_size,
        )
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, old_end, complete = 0, new_size, old_size, True
    while True:
        if old_end == end:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(end - start)
        if old_end <= start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            complete = False
    ranges.reverse()
    return ranges


def hashes_for_ranges(ranges: Iterable[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """MTH of each range, fetched from ``source`` in one batched lookup."""
    decomposed = [range_subtrees(start, end) for start, end in ranges]
    needed = {subtree for subtrees in decomposed for subtree in subtrees}
    known = source.subtree_hashes(needed)
    return [fold_subtrees([known[s] for s in subtrees]) for subtrees in decomposed]


def tree_root(size: int, source: NodeSource) -> bytes:
    """Root of the first ``size`` leaves of ``source``."""
    if size == 0:
        return EMPTY_ROOT
    return hashes_for_ranges([(0, size)], source)[0]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """Audit path (RFC 9162 section 2.1.3.1) of leaf ``index`` in the tree of ``size`` leaves."""
    return hashes_for_ranges(inclusion_ranges(index, size), source)


def consistency_proof(old_size: int, new_size: int, source: NodeSource) -> list[bytes]:
    """Consistency proof (RFC 9162 section 2.1.4.1) between two sizes of the same tree."""
    return hashes_for_ranges(consistency_ranges(old_size, new_size), source)


def verify_inclusion(
    leaf_digest: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` place ``leaf_digest`` at ``index`` under root."""
    if not 0 <= index < size or not _well_formed(proof, leaf_digest, root_hash):
        return False
    fn, sn, result = index, size - 1, leaf_digest
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of ``new_size`` an append-only extension of the old."""
    if not 0 <= old_size <= new_size or not _well_formed(proof, old_root, new_root):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = node_hash(node, old_result)
            new_result = node_hash(node, new_result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_result = node_hash(new_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_result == old_root and new_result == new_root


def _well_formed(proof: Sequence[bytes], *digests: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in (*proof, *digests))


class MemoryNodeSource:
    """A :class:`NodeSource` over leaf hashes held in memory (tests, offline tools)."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self._levels[-1]) > 1:
            below = self._levels[-1]
            self._levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def subtree_hashes(self, subtrees: Collection[Subtree]) -> dict[Subtree, bytes]:
        """Hash of every requested complete subtree."""
        return {s: self._levels[s.level][s.index] for s in subtrees}
