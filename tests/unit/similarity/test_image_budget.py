"""The decoded-pixel budget: an image is refused from its header when decoding it would
materialise more pixels than the budget allows; a JPEG counts at the reduced size it decodes at."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from similarity.images import ImageLimits, ImageTooLarge, load_image, read_header

QUERY_LIMITS = ImageLimits(max_decoded_pixels=16_000_000)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose pixel data is a few junk bytes:
    only a decoder that starts decoding notices the junk."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x01\x02"))
        + _chunk(b"IEND", b"")
    )


def jpeg_of(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_a_png_over_the_budget_is_refused_from_its_header_before_decoding() -> None:
    with pytest.raises(ImageTooLarge) as refused:
        load_image(png_claiming(7000, 7000), QUERY_LIMITS, max_side=512)
    message = str(refused.value)
    assert "7000×7000" in message
    assert "49.0 megapixels" in message
    assert "16.0 megapixels" in message


def test_the_same_png_within_the_budget_reaches_the_decoder() -> None:
    with pytest.raises(Exception, match="corrupt or truncated") as caught:
        load_image(png_claiming(3000, 3000), QUERY_LIMITS, max_side=512)
    assert not isinstance(caught.value, ImageTooLarge)


def test_a_large_jpeg_counts_at_the_reduced_size_it_decodes_at() -> None:
    data = jpeg_of(6000, 4000)
    header = read_header(data, QUERY_LIMITS, max_side=512)
    assert (header.width, header.height) == (6000, 4000)
    assert header.decoded_pixels == 750 * 500
    loaded = load_image(data, ImageLimits(max_decoded_pixels=400_000), max_side=512)
    assert max(loaded.rgb.shape[:2]) == 512


def test_a_budget_does_not_stop_an_image_within_it() -> None:
    loaded = load_image(jpeg_of(800, 600), QUERY_LIMITS, max_side=512)
    assert (loaded.width, loaded.height) == (800, 600)


def test_a_header_claiming_too_many_pixels_is_refused_with_the_size_in_words() -> None:
    with pytest.raises(ImageTooLarge, match="too large"):
        read_header(png_claiming(100_000, 100_000), ImageLimits(), max_side=512)
