import io
import struct
import zlib

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from similarity.images import (
    ACCEPTED_FORMATS,
    ImageLimits,
    ImageRejected,
    LoadedImage,
    load_image,
    sniff_format,
)
from tests.corpus.hostile import HostileFile, hostile_files


def _by_name(name: str) -> bytes:
    return next(item.data for item in hostile_files() if item.name == name)


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def test_corpus_is_large_and_mixed() -> None:
    outcomes = [item.outcome for item in hostile_files()]
    assert len(outcomes) >= 50
    assert outcomes.count("accept") >= 10
    assert outcomes.count("reject") >= 30


@pytest.mark.parametrize("item", hostile_files(), ids=lambda item: item.name)
def test_hostile_file_gets_its_outcome(item: HostileFile) -> None:
    if item.outcome == "reject":
        with pytest.raises(ImageRejected) as caught:
            load_image(item.data)
        assert item.message in str(caught.value)
    else:
        loaded = load_image(item.data)
        assert loaded.rgb.dtype == np.uint8
        assert loaded.rgb.ndim == 3
        assert loaded.rgb.shape[2] == 3
        assert loaded.format in ACCEPTED_FORMATS


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF87a", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"MM\x00*", "TIFF"),
        (b"BM\x00\x00", "BMP"),
        (b"", "empty file"),
        (b"%PDF-1.5", "PDF"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"  <svg>", "SVG document"),
        (b"<!doctype HTML>", "HTML"),
        (b"<?xml", "XML document"),
        (b"<?xm", "unknown bytes 3c3f786d"),
    ],
)
def test_sniff_names_what_the_bytes_are(data: bytes, expected: str) -> None:
    assert sniff_format(data) == expected


def test_decoded_pixels_are_read_only() -> None:
    loaded = load_image(_by_name("plain.png"))
    with pytest.raises(ValueError, match="read-only"):
        loaded.rgb[0, 0, 0] = 1


def test_byte_limit_refuses_before_decoding() -> None:
    with pytest.raises(ImageRejected, match="file too large"):
        load_image(_by_name("plain.png"), limits=ImageLimits(max_bytes=100))


def test_pixel_limit_comes_from_the_caller() -> None:
    with pytest.raises(ImageRejected, match="too large: 64x48 pixels, limit 1000"):
        load_image(_by_name("plain.png"), limits=ImageLimits(max_pixels=1000))


def test_pillow_bomb_warning_becomes_a_rejection() -> None:
    # 10000x10000 is above Pillow's warning threshold but below this caller's own limit.
    header = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        for kind, payload in ((b"IHDR", header), (b"IDAT", zlib.compress(b"")), (b"IEND", b""))
    )
    with pytest.raises(ImageRejected, match="too large"):
        load_image(png, limits=ImageLimits(max_pixels=10**9))


@pytest.mark.parametrize(("name", "turns"), [("exif-rotate-6.jpg", -1), ("exif-rotate-8.jpg", 1)])
def test_exif_orientation_is_applied(name: str, turns: int) -> None:
    upright = load_image(_by_name("exif-orientation-99.jpg")).rgb.astype(np.int16)
    rotated = load_image(_by_name(name))
    assert (rotated.width, rotated.height) == (30, 60)
    assert np.abs(rotated.rgb.astype(np.int16) - np.rot90(upright, k=turns)).mean() < 3


def test_transparent_pixels_become_white() -> None:
    assert (load_image(_by_name("fully-transparent.png")).rgb == 255).all()


@pytest.mark.parametrize("name", ["palette-transparency.png", "palette-transparency.gif"])
def test_palette_transparency_is_composited_on_white(name: str) -> None:
    rgb = load_image(_by_name(name)).rgb
    assert tuple(rgb[4, 1]) == (255, 0, 0)
    assert tuple(rgb[4, 6]) == (255, 255, 255)


def test_cmyk_is_converted_to_rgb() -> None:
    red, green, blue = load_image(_by_name("cmyk.jpg")).rgb[8, 8].astype(int)
    assert red > 200
    assert green < 60
    assert blue < 60


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    assert abs(int(load_image(_by_name("grey-16bit.png")).rgb[0, 0, 0]) - 127) <= 1


def test_sixteen_bit_rgb_keeps_its_colour() -> None:
    assert tuple(load_image(_by_name("rgb-16bit.png")).rgb[0, 0]) == (255, 0, 0)


def test_animated_gif_yields_its_first_frame() -> None:
    assert tuple(load_image(_by_name("animated.gif")).rgb[0, 0]) == (255, 0, 0)


def test_multipage_tiff_yields_its_first_page() -> None:
    loaded = load_image(_by_name("multipage.tiff"))
    assert (loaded.width, loaded.height) == (20, 10)


def test_max_side_downscales_but_reports_original_size() -> None:
    data = _jpeg(Image.new("RGB", (3000, 2000), (10, 120, 200)))
    loaded = load_image(data, max_side=512)
    assert max(loaded.rgb.shape[:2]) == 512
    assert (loaded.width, loaded.height) == (3000, 2000)
    assert loaded.mime_type == "image/jpeg"


def test_max_side_none_keeps_full_size() -> None:
    data = _jpeg(Image.new("RGB", (1500, 900)))
    assert load_image(data, max_side=None).rgb.shape == (900, 1500, 3)


def test_result_is_a_loaded_image() -> None:
    assert isinstance(load_image(_by_name("plain.jpg")), LoadedImage)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_bytes_load_or_are_rejected(data: bytes) -> None:
    try:
        load_image(data)
    except ImageRejected:
        return


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["plain.jpg", "plain.png", "lossy.webp", "animated.gif", "plain.tiff"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_images_load_or_are_rejected(name: str, edits: list[tuple[int, int]]) -> None:
    data = bytearray(_by_name(name))
    for position, value in edits:
        data[position % len(data)] = value
    try:
        loaded = load_image(bytes(data))
    except ImageRejected:
        return
    assert loaded.rgb.dtype == np.uint8


# Bytes that steer the walks over chunks, segments and blocks, so the fuzzing reaches them.
_STRUCTURE = (
    b"\x00\x00\x00\x00IDAT",
    b"\x00\x00\x00\x05tEXt<svg",
    b"\xff\xda\x00\x02",
    b"\xff\xd9\xff\xd8",
    b"\xff\xfe\x00\x08<html",
    b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x07",
    b"\x21\xfe\x05<body\x00",
    b"VP8L\x04\x00\x00\x00",
    b"ANMF\x20\x00\x00\x00",
)
_MARKUP = (b"<script>", b"<SVG onload=", b"<html>", b"<iframe", b"<Body")


def _noise(seed: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (256, 256, 3), dtype=np.uint8)


def _encode(pixels: npt.NDArray[np.uint8], fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _gradient_image() -> Image.Image:
    return Image.fromarray(np.tile(np.arange(32, dtype=np.uint8), (32, 3)).reshape(32, 32, 3))


def _png_chunk(chunk_type: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + payload)
    return struct.pack(">I", len(payload)) + chunk_type + payload + struct.pack(">I", crc)


def _rgb_png(pixels: npt.NDArray[np.uint8], level: int, *chunks: bytes) -> bytes:
    """An RGB PNG whose rows are deflated at `level`; 0 stores every pixel byte verbatim."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + b"".join(chunks)
        + _png_chunk(b"IDAT", zlib.compress(rows, level))
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "seed", "options"),
    [
        ("PNG", 14, {"compress_level": 1}),
        ("JPEG", 6701, {"quality": 95}),
        ("WEBP", 1557, {"lossless": True, "quality": 95, "method": 0}),
    ],
)
def test_noise_whose_compressed_pixels_spell_a_marker_loads(
    fmt: str, seed: int, options: dict[str, object]
) -> None:
    pixels = _noise(seed)
    data = _encode(pixels, fmt, **options)
    assert b"<svg" in data.lower()
    loaded = load_image(data, max_side=None)
    assert loaded.format == fmt
    assert loaded.rgb.shape == pixels.shape
    if fmt != "JPEG":
        assert np.array_equal(loaded.rgb, pixels)


def _gif_spelling(text: bytes, side: int) -> tuple[bytes, npt.NDArray[np.uint8]]:
    """A GIF whose LZW data carries `text` verbatim as pixels, and the RGB it decodes to.

    With 128 colours every code is 8 bits wide until the table grows past 255 entries, so a
    clear code every 100 pixels keeps each code one byte: the pixel index itself.
    """
    indices = (text * (side * side // len(text) + 1))[: side * side]
    codes = bytearray()
    for start in range(0, len(indices), 100):
        codes += b"\x80" + indices[start : start + 100]
    codes += b"\x81"
    sub_blocks = b"".join(
        bytes([len(codes[i : i + 255])]) + codes[i : i + 255] for i in range(0, len(codes), 255)
    )
    palette = np.repeat(np.arange(0, 256, 2, dtype=np.uint8)[:, None], 3, axis=1)
    size = struct.pack("<HH", side, side)
    data = (
        b"GIF89a"
        + size
        + b"\x86\x00\x00"
        + palette.tobytes()
        + b"\x2c\x00\x00\x00\x00"
        + size
        + b"\x00\x07"
        + sub_blocks
        + b"\x00\x3b"
    )
    rgb = palette[np.frombuffer(indices, dtype=np.uint8)].reshape(side, side, 3)
    return data, rgb


def test_gif_whose_lzw_data_spells_markup_loads() -> None:
    data, rgb = _gif_spelling(b"<svg onload=alert(1)><script>", 16)
    assert b"<svg" in data
    assert b"<script" in data
    assert np.array_equal(load_image(data).rgb, rgb)


def test_png_with_script_in_a_text_chunk_is_refused() -> None:
    text = _png_chunk(b"tEXt", b"Comment\x00<script>alert(1)</script>")
    with pytest.raises(ImageRejected, match=r"PNG file carries embedded HTML or script \(<script"):
        load_image(_rgb_png(_noise(0)[:8, :8], 9, text))


def test_jpeg_with_html_in_a_comment_segment_is_refused() -> None:
    data = _jpeg(_gradient_image(), comment=b"<html><body>hi</body></html>")
    with pytest.raises(ImageRejected, match=r"JPEG file carries embedded HTML or script \(<html"):
        load_image(data)


def test_jpeg_with_script_after_its_end_is_refused() -> None:
    data = _jpeg(_gradient_image()) + b"<script>alert(1)</script>"
    with pytest.raises(ImageRejected, match="JPEG file carries embedded HTML or script"):
        load_image(data)


def test_webp_with_html_in_its_xmp_metadata_is_refused() -> None:
    buffer = io.BytesIO()
    _gradient_image().save(buffer, format="WEBP", xmp=b"<x:xmpmeta><html><script>1</script>")
    with pytest.raises(ImageRejected, match="WEBP file carries embedded HTML or script"):
        load_image(buffer.getvalue())


def test_gif_with_svg_in_a_comment_extension_is_refused() -> None:
    buffer = io.BytesIO()
    _gradient_image().convert("P").save(buffer, format="GIF", comment=b"<svg onload=alert(1)>")
    with pytest.raises(ImageRejected, match="GIF file carries embedded HTML or script"):
        load_image(buffer.getvalue())


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.lists(st.one_of(st.binary(max_size=6), st.sampled_from(_MARKUP)), min_size=1),
    st.sampled_from([0, 9]),
)
def test_png_acceptance_never_depends_on_its_pixels(
    width: int, height: int, pieces: list[bytes], level: int
) -> None:
    content = b"".join(pieces) or b"\x00"
    size = width * height * 3
    raw = (content * (size // len(content) + 1))[:size]
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
    loaded = load_image(_rgb_png(pixels, level), max_side=None)
    assert np.array_equal(loaded.rgb, pixels)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\xff\xff\xff\x7fWEBP"]
    ),
    st.lists(st.one_of(st.binary(max_size=12), st.sampled_from(_STRUCTURE)), max_size=40),
)
def test_any_bytes_behind_a_signature_load_or_are_rejected(
    signature: bytes, pieces: list[bytes]
) -> None:
    try:
        load_image(signature + b"".join(pieces))
    except ImageRejected:
        return


def test_deeply_nested_webp_frames_are_refused_in_words() -> None:
    frame = b""
    for _ in range(5_000):
        frame = b"ANMF" + struct.pack("<I", len(frame) + 16) + b"\x00" * 16 + frame
    data = b"RIFF" + struct.pack("<I", len(frame) + 4) + b"WEBP" + frame
    with pytest.raises(ImageRejected, match="WEBP"):
        load_image(data)
