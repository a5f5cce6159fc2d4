"""Merkle tree maths against RFC 6962 test vectors, a recursive reference and corruptions."""

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.log.errors import ProofRequestError
from registry.log.merkle import (
    EMPTY_ROOT,
    MemoryNodeSource,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# The 8-leaf data set of Certificate Transparency's merkle tree tests (RFC 6962 era).
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
RFC_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

RFC_HASHES = [leaf_hash(leaf) for leaf in RFC_LEAVES]


def hashes_of(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH by the RFC's recursive definition, independent of the code under test."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_mth(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_mth(leaves[:k])]


def reference_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [reference_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*reference_subproof(m, leaves[:k], complete), reference_mth(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_mth(leaves[:k])]


SOURCE_128 = MemoryNodeSource(hashes_of(128))
HASHES_128 = hashes_of(128)


@pytest.mark.parametrize("size", range(1, 9))
def test_root_matches_rfc_vector(size: int) -> None:
    assert root(RFC_HASHES[:size]).hex() == RFC_ROOTS[size - 1]


@pytest.mark.parametrize("size", range(1, 9))
def test_root_from_node_source_matches_rfc_vector(size: int) -> None:
    assert tree_root(size, MemoryNodeSource(RFC_HASHES)).hex() == RFC_ROOTS[size - 1]


def test_empty_tree_root_is_hash_of_empty_string() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != leaf_hash(left + right)


@pytest.mark.parametrize(("index", "size", "expected"), RFC_INCLUSION)
def test_inclusion_proof_matches_rfc_vector(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(index, size, MemoryNodeSource(RFC_HASHES))
    assert [h.hex() for h in proof] == expected
    assert verify_inclusion(RFC_HASHES[index], index, size, proof, root(RFC_HASHES[:size]))


@pytest.mark.parametrize(("old", "new", "expected"), RFC_CONSISTENCY)
def test_consistency_proof_matches_rfc_vector(old: int, new: int, expected: list[str]) -> None:
    proof = consistency_proof(old, new, MemoryNodeSource(RFC_HASHES))
    assert [h.hex() for h in proof] == expected
    old_root, new_root = root(RFC_HASHES[:old]), root(RFC_HASHES[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize("size", range(1, 129))
def test_every_root_matches_recursive_definition(size: int) -> None:
    expected = reference_mth(HASHES_128[:size])
    assert root(HASHES_128[:size]) == expected
    assert tree_root(size, SOURCE_128) == expected


@pytest.mark.parametrize("size", range(1, 129))
def test_every_inclusion_proof_of_every_size_verifies(size: int) -> None:
    tree_hash = root(HASHES_128[:size])
    for index in range(size):
        proof = inclusion_proof(index, size, SOURCE_128)
        assert proof == reference_path(index, HASHES_128[:size])
        assert verify_inclusion(HASHES_128[index], index, size, proof, tree_hash)


def inclusion_corruptions(
    index: int, size: int, proof: list[bytes]
) -> list[tuple[str, int, int, list[bytes]]]:
    corrupted: list[tuple[str, int, int, list[bytes]]] = [
        ("next index", index + 1, size, proof),
        ("previous index", index - 1, size, proof),
        ("extended", index, size, [*proof, proof[-1] if proof else bytes(32)]),
        ("prepended", index, size, [bytes(32), *proof]),
    ]
    if proof:
        corrupted.append(("truncated", index, size, proof[:-1]))
        corrupted.append(("first dropped", index, size, proof[1:]))
        if len(proof) > 1:
            corrupted.append(("reversed", index, size, proof[::-1]))
        corrupted.append(("short hash", index, size, [proof[0][:31], *proof[1:]]))
        for position in range(len(proof)):
            for bit in (0, 255):
                flipped = bytearray(proof[position])
                flipped[bit // 8] ^= 1 << (bit % 8)
                altered = list(proof)
                altered[position] = bytes(flipped)
                corrupted.append((f"bit {bit} of {position}", index, size, altered))
    return corrupted


@pytest.mark.parametrize("size", range(1, 65))
def test_corrupted_inclusion_proofs_are_rejected(size: int) -> None:
    tree_hash = root(HASHES_128[:size])
    for index in range(size):
        proof = inclusion_proof(index, size, SOURCE_128)
        for name, bad_index, bad_size, bad_proof in inclusion_corruptions(index, size, proof):
            accepted = verify_inclusion(
                HASHES_128[index], bad_index, bad_size, bad_proof, tree_hash
            )
            assert not accepted, f"{name} accepted for index {index} of size {size}"


@pytest.mark.parametrize("size", range(1, 65))
def test_inclusion_proofs_do_not_verify_against_another_size(size: int) -> None:
    # The path alone cannot pin the size; the root of the claimed size (bound to it by the
    # signed tree head) must reject it.
    for index in range(size):
        proof = inclusion_proof(index, size, SOURCE_128)
        for bad_size in {size - 1, size + 1, size * 2} - {0}:
            claimed_root = root(HASHES_128[:bad_size])
            assert not verify_inclusion(HASHES_128[index], index, bad_size, proof, claimed_root)


def test_inclusion_of_a_different_leaf_is_rejected() -> None:
    proof = inclusion_proof(3, 10, SOURCE_128)
    assert not verify_inclusion(HASHES_128[4], 3, 10, proof, root(HASHES_128[:10]))


def test_inclusion_against_a_different_root_is_rejected() -> None:
    proof = inclusion_proof(3, 10, SOURCE_128)
    assert not verify_inclusion(HASHES_128[3], 3, 10, proof, root(HASHES_128[:11]))


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 4), (9, 3)])
def test_inclusion_proof_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(ProofRequestError, match="outside a tree"):
        inclusion_proof(index, size, SOURCE_128)


@pytest.mark.parametrize("new", range(1, 65))
def test_every_consistency_proof_up_to_64_verifies(new: int) -> None:
    new_root = root(HASHES_128[:new])
    for old in range(new + 1):
        proof = consistency_proof(old, new, SOURCE_128)
        if 0 < old < new:
            assert proof == reference_subproof(old, HASHES_128[:new], True)
        assert verify_consistency(old, new, root(HASHES_128[:old]), new_root, proof)


def consistency_corruptions(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    # Sizes are pinned by the roots a signed tree head binds to them, so a wrong size is
    # claimed together with that size's true root.
    corrupted: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("old size + 1", old + 1, new, root(HASHES_128[: old + 1]), new_root, proof),
        ("old size - 1", old - 1, new, root(HASHES_128[: old - 1]), new_root, proof),
        ("new size + 1", old, new + 1, old_root, root(HASHES_128[: new + 1]), proof),
        ("new size - 1", old, new - 1, old_root, root(HASHES_128[: new - 1]), proof),
        ("extended", old, new, old_root, new_root, [*proof, proof[-1]]),
        ("truncated", old, new, old_root, new_root, proof[:-1]),
        ("first dropped", old, new, old_root, new_root, proof[1:]),
        ("wrong old root", old, new, new_root, new_root, proof),
        ("wrong new root", old, new, old_root, old_root, proof),
    ]
    for position in range(len(proof)):
        flipped = bytearray(proof[position])
        flipped[position % 32] ^= 0x80
        altered = list(proof)
        altered[position] = bytes(flipped)
        corrupted.append((f"bit flip at {position}", old, new, old_root, new_root, altered))
    return corrupted


@pytest.mark.parametrize("new", range(2, 65))
def test_corrupted_consistency_proofs_are_rejected(new: int) -> None:
    new_root = root(HASHES_128[:new])
    for old in range(1, new):
        old_root = root(HASHES_128[:old])
        proof = consistency_proof(old, new, SOURCE_128)
        for corruption in consistency_corruptions(old, new, old_root, new_root, proof):
            name, bad_old, bad_new, bad_old_root, bad_new_root, bad_proof = corruption
            assert not verify_consistency(
                bad_old, bad_new, bad_old_root, bad_new_root, bad_proof
            ), f"{name} accepted for {old} -> {new}"


def test_consistency_with_a_rewritten_history_is_rejected() -> None:
    forked = [*HASHES_128[:5], leaf_hash(b"rewritten"), *HASHES_128[6:20]]
    proof = consistency_proof(8, 20, MemoryNodeSource(forked))
    assert not verify_consistency(8, 20, root(HASHES_128[:8]), root(forked), proof)


def test_consistency_from_larger_to_smaller_is_refused() -> None:
    with pytest.raises(ProofRequestError, match="old <= new"):
        consistency_proof(9, 4, SOURCE_128)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    tree_hash = root(HASHES_128[:7])
    assert verify_consistency(7, 7, tree_hash, tree_hash, [])
    assert not verify_consistency(7, 7, tree_hash, tree_hash, [tree_hash])
    assert not verify_consistency(7, 7, tree_hash, root(HASHES_128[:6]), [])


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=80), st.data())
def test_generated_inclusion_proofs_verify(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    index = data.draw(st.integers(0, len(hashes) - 1))
    proof = inclusion_proof(index, len(hashes), MemoryNodeSource(hashes))
    assert verify_inclusion(hashes[index], index, len(hashes), proof, reference_mth(hashes))


@given(st.integers(1, 300), st.data())
def test_generated_consistency_proofs_verify(new: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(0, new))
    hashes = hashes_of(new)
    proof = consistency_proof(old, new, MemoryNodeSource(hashes))
    assert verify_consistency(old, new, root(hashes[:old]), root(hashes), proof)


@given(st.integers(1, 200), st.data())
def test_proof_length_is_logarithmic(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, MemoryNodeSource(hashes_of(size)))
    assert len(proof) <= (size - 1).bit_length()


@given(st.integers(2, 200), st.data())
def test_a_leaf_verifies_at_no_other_index(size: int, data: st.DataObject) -> None:
    hashes = hashes_of(size)
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    proof = inclusion_proof(index, size, MemoryNodeSource(hashes))
    assert not verify_inclusion(hashes[index], other, size, proof, root(hashes))
