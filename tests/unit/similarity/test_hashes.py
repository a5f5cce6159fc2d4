import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from skimage import data

from similarity.hashes import (
    PDQ_MATCH_DISTANCE,
    DHash,
    HashFormatError,
    PdqHash,
    PHash,
    compute_hashes,
    fit,
    pdq,
    phash,
)

ASTRONAUT = data.astronaut()


@given(st.binary(min_size=32, max_size=32))
def test_pdq_hex_round_trips(bits: bytes) -> None:
    value = PdqHash(bits)
    assert PdqHash.from_hex(value.hex()) == value


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_distance_is_symmetric_and_zero_only_for_equal(a: bytes, b: bytes) -> None:
    assert PHash(a) - PHash(b) == PHash(b) - PHash(a)
    assert (PHash(a) - PHash(b) == 0) == (a == b)


def test_distance_counts_differing_bits() -> None:
    assert PHash(b"\x00" * 8) - PHash(b"\x00" * 7 + b"\x07") == 3


def test_hashes_of_different_kinds_do_not_subtract() -> None:
    with pytest.raises(TypeError):
        _ = PHash(b"\x00" * 8) - DHash(b"\x00" * 8)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(HashFormatError, match="256 bits"):
        PdqHash.from_hex("00ff")


def test_non_hex_is_refused() -> None:
    with pytest.raises(HashFormatError, match="not hex"):
        PHash.from_hex("zz" * 8)


def test_resized_and_recompressed_copy_stays_within_match_radius() -> None:
    smaller = np.ascontiguousarray(ASTRONAUT[::2, ::2])
    assert pdq(ASTRONAUT) - pdq(smaller) <= PDQ_MATCH_DISTANCE
    assert phash(ASTRONAUT) - phash(smaller) <= 6


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "rocket"])
@pytest.mark.parametrize("side", [48, 96])
def test_a_thumbnail_hashes_close_to_its_work(name: str, side: int) -> None:
    # PDQ sees every image at one size: a thumbnail is enlarged, not box-sampled coarsely.
    original = getattr(data, name)()
    height, width = original.shape[:2]
    scale = side / max(height, width)
    size = (round(width * scale), round(height * scale))
    thumbnail = cv2.resize(original, size, interpolation=cv2.INTER_AREA)
    assert pdq(original) - pdq(thumbnail) <= 8


def test_hashing_fits_the_image_to_one_size() -> None:
    small = np.ascontiguousarray(ASTRONAUT[::8, ::16])
    assert fit(small).shape[:2] == (512, 256)
    assert fit(ASTRONAUT, 256).shape[:2] == (256, 256)
    assert fit(ASTRONAUT) is ASTRONAUT


def test_unrelated_images_are_far_apart() -> None:
    assert pdq(ASTRONAUT) - pdq(data.coffee()) > 2 * PDQ_MATCH_DISTANCE


def test_mirror_is_far_but_matches_a_dihedral_variant() -> None:
    original = compute_hashes(ASTRONAUT)
    mirrored = compute_hashes(np.ascontiguousarray(ASTRONAUT[:, ::-1]))
    assert mirrored.pdq - original.pdq > 2 * PDQ_MATCH_DISTANCE
    assert min(mirrored.pdq - variant for variant in original.pdq_dihedral) <= PDQ_MATCH_DISTANCE


def test_flat_image_is_unreliable() -> None:
    assert not pdq(np.full((64, 64, 3), 128, np.uint8)).is_reliable
    assert pdq(ASTRONAUT).is_reliable
