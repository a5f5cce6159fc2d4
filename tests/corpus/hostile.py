"""Hostile and awkward upload files, built at test time, each with the outcome the loader owes it.

Reused by the image loader's tests and the upload API's tests: every entry must either load or be
refused with a message containing `message`. The default `ImageLimits` are assumed.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

Outcome = Literal["accept", "reject"]


@dataclass(frozen=True, slots=True)
class HostileFile:
    """One upload: a file name (its extension may lie), its bytes and what the loader must do."""

    name: str
    data: bytes
    outcome: Outcome
    message: str = ""


def _gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    xs = np.linspace(0, 255, width, dtype=np.float64)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float64)[:, None]
    red = np.broadcast_to(xs, (height, width))
    green = np.broadcast_to(ys, (height, width))
    blue = (red + green) / 2
    rgb = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(chunk_type: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + chunk_type + payload + struct.pack(">I", crc)


def _png_from_rows(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _png_bomb(side: int) -> bytes:
    """A real decompression bomb: `side`x`side` grey pixels of zeros, compressed to a few KB."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def _png_claiming(width: int, height: int) -> bytes:
    small = _encode(_gradient(4, 4), "PNG")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + small[33:]


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(_gradient(16, 16), "JPEG"))
    marker = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, marker + 5, height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(_gradient(8, 8, "P"), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    descriptor = data.find(b"\x2c", 13)
    struct.pack_into("<HH", data, descriptor + 5, width, height)
    return bytes(data)


def _tiff_claiming(width: int, height: int) -> bytes:
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, min(width * height, 0xFFFFFFFF)),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 64


def _bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(_gradient(4, 4), "BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def _webp_claiming(width: int, height: int) -> bytes:
    chunk = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    chunk += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + chunk + _encode(_gradient(8, 8), "WEBP")[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _jpeg_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(_gradient(60, 30), "JPEG", exif=exif.tobytes(), quality=95)


def _jpeg_with_huge_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000
    return _encode(_gradient(32, 32), "JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def _multipage_tiff() -> bytes:
    pages = [_gradient(20, 10), Image.new("RGB", (30, 30), (0, 255, 0))]
    return _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _palette_with_transparency(fmt: str) -> bytes:
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    image.paste(1, (0, 0, 4, 8))
    return _encode(image, fmt, transparency=0)


def _gif_javascript_polyglot() -> bytes:
    # Width 10799 encodes as "/*", opening a JavaScript comment closed after the GIF trailer.
    gif = _encode(_gradient(10799, 1, "P"), "GIF")
    assert gif[6:8] == b"/*"
    return gif + b"*/=alert(document.domain);"


def _cmyk_jpeg() -> bytes:
    return _encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG")


def _png_16bit_grey() -> bytes:
    values = np.full((8, 8), 65535 // 2, dtype=">u2")
    return _png_from_rows(8, 8, 16, 0, b"".join(b"\x00" + row.tobytes() for row in values))


def _png_16bit_rgb() -> bytes:
    values = np.zeros((8, 8, 3), dtype=">u2")
    values[..., 0] = 65535
    return _png_from_rows(8, 8, 16, 2, b"".join(b"\x00" + row.tobytes() for row in values))


def _png_bad_crc() -> bytes:
    data = bytearray(_encode(_gradient(16, 16), "PNG"))
    data[29] ^= 0xFF
    return bytes(data)


def _png_text_bomb() -> bytes:
    compressed = zlib.compress(b"A" * 20_000_000, 9)
    png = _encode(_gradient(8, 8), "PNG")
    return png[:33] + _png_chunk(b"zTXt", b"Comment\x00\x00" + compressed) + png[33:]


def _truncated(data: bytes, keep: int) -> bytes:
    return data[:keep]


@functools.cache
def hostile_files() -> tuple[HostileFile, ...]:
    """Every hostile or awkward file, freshly built (cached per process)."""
    jpeg = _encode(_gradient(64, 48), "JPEG", quality=90)
    png = _encode(_gradient(64, 48), "PNG")
    webp = _encode(_gradient(64, 48), "WEBP")
    files = [
        HostileFile("empty.jpg", b"", "reject", "empty file"),
        HostileFile("one-pixel.png", _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), "accept"),
        HostileFile("one-pixel.jpg", _encode(Image.new("RGB", (1, 1)), "JPEG"), "accept"),
        HostileFile("one-pixel.gif", _encode(Image.new("P", (1, 1)), "GIF"), "accept"),
        HostileFile("plain.jpg", jpeg, "accept"),
        HostileFile("plain.png", png, "accept"),
        HostileFile("lossy.webp", webp, "accept"),
        HostileFile(
            "lossless-alpha.webp",
            _encode(_gradient(32, 32, "RGBA"), "WEBP", lossless=True),
            "accept",
        ),
        HostileFile(
            "progressive.jpg", _encode(_gradient(64, 64), "JPEG", progressive=True), "accept"
        ),
        HostileFile("grey.jpg", _encode(_gradient(32, 32, "L"), "JPEG"), "accept"),
        HostileFile("bilevel.png", _encode(_gradient(32, 32, "1"), "PNG"), "accept"),
        HostileFile("plain.bmp", _encode(_gradient(16, 16), "BMP"), "accept"),
        HostileFile(
            "plain.tiff", _encode(_gradient(16, 16), "TIFF", compression="tiff_lzw"), "accept"
        ),
        HostileFile("jpeg-named.png", jpeg, "accept"),
        HostileFile("png-named.gif", png, "accept"),
        HostileFile("pdf-named.jpg", b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n", "reject", "PDF"),
        HostileFile("document.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "reject", "PDF"),
        HostileFile("exif-rotate-6.jpg", _jpeg_with_orientation(6), "accept"),
        HostileFile("exif-rotate-8.jpg", _jpeg_with_orientation(8), "accept"),
        HostileFile("exif-rotate-3.jpg", _jpeg_with_orientation(3), "accept"),
        HostileFile("exif-orientation-99.jpg", _jpeg_with_orientation(99), "accept"),
        HostileFile("huge-exif.jpg", _jpeg_with_huge_exif(), "accept"),
        HostileFile("animated.gif", _animated_gif(), "accept"),
        HostileFile("multipage.tiff", _multipage_tiff(), "accept"),
        HostileFile("cmyk.jpg", _cmyk_jpeg(), "accept"),
        HostileFile(
            "cmyk.tiff", _encode(Image.new("CMYK", (8, 8), (0, 0, 0, 0)), "TIFF"), "accept"
        ),
        HostileFile("grey-16bit.png", _png_16bit_grey(), "accept"),
        HostileFile("rgb-16bit.png", _png_16bit_rgb(), "accept"),
        HostileFile("palette-transparency.png", _palette_with_transparency("PNG"), "accept"),
        HostileFile("palette-transparency.gif", _palette_with_transparency("GIF"), "accept"),
        HostileFile("grey-alpha.png", _encode(_gradient(16, 16, "LA"), "PNG"), "accept"),
        HostileFile("rgba.png", _encode(_gradient(16, 16, "RGBA"), "PNG"), "accept"),
        HostileFile(
            "fully-transparent.png",
            _encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"),
            "accept",
        ),
        HostileFile("tall-thin.png", _encode(_gradient(1, 20_000), "PNG"), "accept"),
        HostileFile("jpeg-with-trailer.jpg", jpeg + b"SEFH\x00\x00trailer", "accept"),
        HostileFile("png-zero-padding.png", png + b"\x00" * 16, "accept"),
        # Every pixel is present; only the end marker is lost, as browsers also tolerate.
        HostileFile("png-without-iend.png", png[:-12], "accept"),
        HostileFile(
            "png-claims-60000x60000.png", _png_claiming(60_000, 60_000), "reject", "too large"
        ),
        HostileFile("png-claims-0x0.png", _png_claiming(0, 0), "reject", "PNG"),
        HostileFile("png-bomb-8000x8000.png", _png_bomb(8000), "reject", "too large"),
        HostileFile("png-text-bomb.png", _png_text_bomb(), "reject", "PNG"),
        HostileFile("png-bad-crc.png", _png_bad_crc(), "reject", "PNG"),
        HostileFile("gif-bomb.gif", _gif_claiming(65_535, 65_535), "reject", "too large"),
        HostileFile("jpeg-bomb.jpg", _jpeg_claiming(65_000, 65_000), "reject", "too large"),
        HostileFile("tiff-bomb.tiff", _tiff_claiming(100_000, 100_000), "reject", "too large"),
        HostileFile("bmp-bomb.bmp", _bmp_claiming(50_000, 50_000), "reject", "too large"),
        HostileFile("webp-bomb.webp", _webp_claiming(16_000, 16_000), "reject", "too large"),
        HostileFile("bmp-bogus-header.bmp", b"BM" + b"\xff" * 60, "reject", "BMP"),
        HostileFile(
            "tiff-bogus-ifd.tiff", b"II*\x00\xff\xff\xff\x7f" + b"\x00" * 32, "reject", "TIFF"
        ),
        HostileFile("gif-header-only.gif", b"GIF89a", "reject", "GIF"),
        HostileFile("png-signature-only.png", b"\x89PNG\r\n\x1a\n", "reject", "PNG"),
        HostileFile("jpeg-soi-only.jpg", b"\xff\xd8\xff", "reject", "JPEG"),
        HostileFile("webp-truncated.webp", _truncated(webp, 40), "reject", "WEBP"),
        HostileFile(
            "polyglot-gif-javascript.gif", _gif_javascript_polyglot(), "reject", "after its end"
        ),
        HostileFile("polyglot-jpeg-zip.jpg", jpeg + _zip_archive(), "reject", "ZIP archive"),
        HostileFile(
            "polyglot-png-html.png",
            png + b"<html><script>alert(1)</script></html>",
            "reject",
            "HTML or script",
        ),
        HostileFile(
            "script.svg",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            "reject",
            "SVG document",
        ),
        HostileFile(
            "bare.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "reject", "SVG document"
        ),
        HostileFile("page.html", b"<!DOCTYPE html><html><body>hi</body></html>", "reject", "HTML"),
        HostileFile("feed.xml", b'<?xml version="1.0"?><rss/>', "reject", "XML document"),
        HostileFile("archive.zip", _zip_archive(), "reject", "ZIP archive"),
        HostileFile("archive.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 20, "reject", "gzip"),
        HostileFile("program.elf", b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "reject", "executable"),
        HostileFile("photo.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "reject", "HEIC"),
        HostileFile("photo.avif", b"\x00\x00\x00\x1cftypavif" + b"\x00" * 40, "reject", "AVIF"),
        HostileFile("layers.psd", b"8BPS\x00\x01" + b"\x00" * 40, "reject", "Photoshop"),
        HostileFile("random.jpg", bytes(range(7, 7 + 64)), "reject", "unknown bytes 0708090a"),
        HostileFile("xml-prolog.png", b"<?xm", "reject", "unknown bytes 3c3f786d"),
    ]
    for keep in (3, 40, 200, len(jpeg) // 2, len(jpeg) - 40):
        files.append(HostileFile(f"jpeg-truncated-{keep}.jpg", jpeg[:keep], "reject", "JPEG"))
    for keep in (8, 20, 33, 60, len(png) // 2):
        files.append(HostileFile(f"png-truncated-{keep}.png", png[:keep], "reject", "PNG"))
    return tuple(files)


def _zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.js", "alert(1)")
    return buffer.getvalue()
