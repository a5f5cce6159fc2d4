"""Every image enters through `load_image`: its type is sniffed, its size bounded before decoding.

Invariant: bytes that are not a JPEG, PNG, WebP, GIF, TIFF or BMP image within `ImageLimits`
never reach a decoder's pixel stage; every failure (including Pillow warnings) surfaces as
`ImageRejected` with a message a user can act on. The decoded RGB array is produced once and is
what every fingerprint reads.

The engine sits below the translation catalogs: a refusal carries a stable `Refusal` and its
values beside its English message, so a layer that knows the reader can word it in their
language (`registry.image_refusals`).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, UnidentifiedImageError

RGBArray = npt.NDArray[np.uint8]
T = TypeVar("T")
Span = tuple[int, int]

MIME_TYPES: Final[dict[str, str]] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
ACCEPTED_FORMATS: Final[frozenset[str]] = frozenset(MIME_TYPES)

_EXIF_ORIENTATION_TAG: Final = 0x0112
_ORIENTATION_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Markers of content a browser would execute or unpack; a real photo does not carry them.
_ACTIVE_CONTENT_MARKERS: Final = (b"<script", b"<html", b"<iframe", b"<body", b"<svg")
_SNIFF_WINDOW: Final = 1024
# PNG chunks of compressed pixels: the image (IDAT) and the frames of an animated PNG (fdAT).
_PNG_PIXEL_CHUNKS: Final = frozenset({b"IDAT", b"fdAT"})
# WebP chunks of compressed pixels: lossy, lossless and alpha.
_WEBP_PIXEL_CHUNKS: Final = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
# Inside entropy-coded JPEG data 0xFF is followed only by a stuffed 0x00 or a restart marker.
_JPEG_MARKER_IN_SCAN: Final = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class Refusal(StrEnum):
    """Why an image is refused: stable for callers that put it into words of their own."""

    TOO_MANY_BYTES = "too_many_bytes"
    NOT_AN_IMAGE = "not_an_image"
    HEADER_OVER_LIMIT = "header_over_limit"
    UNREADABLE_HEADER = "unreadable_header"
    CORRUPT = "corrupt"
    UNDECODABLE = "undecodable"
    ACTIVE_CONTENT = "active_content"
    EMBEDDED_ARCHIVE = "embedded_archive"
    TRAILING_BYTES = "trailing_bytes"
    NO_PIXELS = "no_pixels"
    TOO_MANY_PIXELS = "too_many_pixels"
    OVER_DECODE_BUDGET = "over_decode_budget"
    JPEG_OVER_DECODE_BUDGET = "jpeg_over_decode_budget"
    REDUCED_OVER_DECODE_BUDGET = "reduced_over_decode_budget"


_SMALLER: Final = "Send a smaller copy (2,000 pixels a side is plenty to find copies)"
_BUDGET: Final = "and at most %(budget)s megapixels are decoded for one image here"
# The English of each refusal, its values named as `registry.image_refusals` names them.
REFUSAL_ENGLISH: Final[dict[Refusal, str]] = {
    Refusal.TOO_MANY_BYTES: "file too large: %(size)s bytes, limit %(limit)s",
    Refusal.NOT_AN_IMAGE: "not a supported image: %(kind)s",
    Refusal.HEADER_OVER_LIMIT: (
        "%(kind)s image too large: its header claims more than %(limit)s pixels"
    ),
    Refusal.UNREADABLE_HEADER: "corrupt or truncated %(kind)s image: unreadable header",
    Refusal.CORRUPT: "corrupt or truncated %(kind)s image: %(detail)s",
    Refusal.UNDECODABLE: "undecodable %(kind)s image: %(detail)s",
    Refusal.ACTIVE_CONTENT: "%(kind)s file carries embedded HTML or script (%(marker)s...)",
    Refusal.EMBEDDED_ARCHIVE: "%(kind)s file carries an embedded ZIP archive",
    Refusal.TRAILING_BYTES: "%(kind)s file has %(count)s unexpected bytes after its end",
    Refusal.NO_PIXELS: "%(kind)s image has no pixels (%(width)sx%(height)s)",
    Refusal.TOO_MANY_PIXELS: (
        "%(kind)s image too large: %(width)sx%(height)s pixels, limit %(limit)s"
    ),
    Refusal.OVER_DECODE_BUDGET: (
        f"%(kind)s image too large: %(width)s×%(height)s pixels is %(decoded)s megapixels, "
        f"{_BUDGET}. {_SMALLER}, or a JPEG, which decodes at reduced size."
    ),
    Refusal.JPEG_OVER_DECODE_BUDGET: (
        f"%(kind)s image too large: %(width)s×%(height)s pixels is %(decoded)s megapixels, "
        f"{_BUDGET}. {_SMALLER}."
    ),
    Refusal.REDUCED_OVER_DECODE_BUDGET: (
        f"%(kind)s image too large: %(width)s×%(height)s pixels decodes to %(decoded)s "
        f"megapixels even at reduced size, {_BUDGET}. {_SMALLER}."
    ),
}


class ImageRejected(ValueError):
    """The uploaded bytes are not an image Copymark accepts: why, with its values, and the
    English sentence of them."""

    def __init__(self, reason: Refusal, /, **values: str | int) -> None:
        self.reason = reason
        self.values = values
        super().__init__(REFUSAL_ENGLISH[reason] % values)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from the reason and values, not from the message, when sent to another process.
        return (_rejection, (type(self), self.reason, self.values))


class ImageTooLarge(ImageRejected):
    """The image is over a byte or pixel limit: too much to take, rather than malformed."""


def _rejection(
    kind: type[ImageRejected], reason: Refusal, values: dict[str, str | int]
) -> ImageRejected:
    return kind(reason, **values)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Upper bounds checked before any pixel is decoded.

    `max_pixels` bounds what a header may claim; `max_decoded_pixels` (when set) bounds what the
    decoder will actually allocate, which is what an image costs in memory and time. A JPEG that
    will be downscaled anyway decodes at 1/2, 1/4 or 1/8 scale for free, so a 48-megapixel photo
    may cost under a megapixel; PNG, GIF, TIFF, BMP and WebP decode whole, so a 143 KB PNG of
    one colour can claim, and cost, 49 megapixels.
    """

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_decoded_pixels: int | None = None


DEFAULT_LIMITS: Final = ImageLimits()


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What an image's header says, and how many pixels decoding it would allocate."""

    format: str
    width: int
    height: int
    decoded_pixels: int


@dataclass(frozen=True, slots=True, eq=False)
class LoadedImage:
    """A decoded image: RGB pixels (possibly downscaled) plus what the original was."""

    rgb: RGBArray
    format: str
    width: int
    height: int
    mime_type: str


def sniff_format(data: bytes) -> str:
    """Name what the bytes are from their signature: an ACCEPTED_FORMATS entry or a label."""
    if not data:
        return "empty file"
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"BM"):
        return "BMP"
    return _describe_non_image(data)


def _describe_non_image(data: bytes) -> str:
    head = data[:16]
    signatures: tuple[tuple[bytes, str], ...] = (
        (b"%PDF", "PDF"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"PK\x05\x06", "ZIP archive"),
        (b"\x1f\x8b", "gzip archive"),
        (b"Rar!", "RAR archive"),
        (b"7z\xbc\xaf", "7-Zip archive"),
        (b"\x7fELF", "executable"),
        (b"MZ", "Windows executable"),
        (b"8BPS", "Photoshop document"),
        (b"II+\x00", "BigTIFF image (unsupported)"),
        (b"\x00\x00\x01\x00", "ICO icon (unsupported)"),
    )
    for signature, label in signatures:
        if head.startswith(signature):
            return label
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF image (unsupported)"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "HEIC image (unsupported)"
        return "MP4/QuickTime media"
    text = data[:_SNIFF_WINDOW].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text:
        return "SVG document"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "HTML"
    if text.startswith(b"<?xml"):
        return "XML document"
    return f"unknown bytes {data[:4].hex()}"


def load_image(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, max_side: int | None = 1024
) -> LoadedImage:
    """Decode `data` to RGB (alpha on white, EXIF orientation applied, first frame only).

    The returned pixels are downscaled so neither side exceeds `max_side` (None keeps full size);
    `width`/`height` describe the original after orientation.
    """
    kind = _accepted_kind(data, limits)
    _refuse_active_content(data, kind)
    return _guarded(kind, limits, lambda: _decode(data, kind, limits, max_side))


def read_header(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, max_side: int | None = 1024
) -> ImageHeader:
    """The header of `data`, checked against `limits` as `load_image` checks it, decoding nothing.

    `decoded_pixels` is what `load_image` with the same `max_side` would allocate, so a caller
    can charge an allowance before paying for the decode.
    """
    kind = _accepted_kind(data, limits)

    def measure() -> ImageHeader:
        with _open(data, kind, limits) as image:
            return _measure(image, kind, limits, max_side)

    return _guarded(kind, limits, measure)


def _accepted_kind(data: bytes, limits: ImageLimits) -> str:
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(Refusal.TOO_MANY_BYTES, size=len(data), limit=limits.max_bytes)
    kind = sniff_format(data)
    if kind not in ACCEPTED_FORMATS:
        raise ImageRejected(Refusal.NOT_AN_IMAGE, kind=kind)
    return kind


def _guarded(kind: str, limits: ImageLimits, step: Callable[[], T]) -> T:
    """Run a decoding step; every way a decoder can fail becomes an ImageRejected in words."""
    # Decoders warn about metadata they skip; those warnings must not escape to the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return step()
        except ImageRejected:
            raise
        except Image.DecompressionBombError as error:
            raise _too_large(kind, limits) from error
        except UnidentifiedImageError as error:
            raise ImageRejected(Refusal.UNREADABLE_HEADER, kind=kind) from error
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError) as error:
            raise ImageRejected(Refusal.CORRUPT, kind=kind, detail=str(error)) from error
        except (MemoryError, RuntimeError, TypeError, ZeroDivisionError) as error:
            raise ImageRejected(Refusal.UNDECODABLE, kind=kind, detail=repr(error)) from error


def _too_large(kind: str, limits: ImageLimits) -> ImageTooLarge:
    return ImageTooLarge(Refusal.HEADER_OVER_LIMIT, kind=kind, limit=limits.max_pixels)


def _refuse_active_content(data: bytes, kind: str) -> None:
    for text in _readable_spans(data, _compressed_pixel_spans(data, kind)):
        lowered = text.lower()
        for marker in _ACTIVE_CONTENT_MARKERS:
            if marker in lowered:
                raise ImageRejected(Refusal.ACTIVE_CONTENT, kind=kind, marker=marker.decode())
    # Unzip tools find an archive by its signatures wherever they sit, compressed pixels or not.
    if b"PK\x03\x04" in data and b"PK\x05\x06" in data:
        raise ImageRejected(Refusal.EMBEDDED_ARCHIVE, kind=kind)
    # GIF headers double as JavaScript ("GIF89a/*...*/=payload"); PNG and GIF have an exact end,
    # so bytes after it are a smuggled payload. JPEG is exempt: MPO and phone cameras append data.
    end = _png_end(data) if kind == "PNG" else _gif_layout(data)[1] if kind == "GIF" else None
    if end is not None and data[end:].strip(b"\x00"):
        raise ImageRejected(Refusal.TRAILING_BYTES, kind=kind, count=len(data) - end)


def _readable_spans(data: bytes, opaque: list[Span]) -> Iterator[bytes]:
    """The bytes between the `opaque` spans (sorted, disjoint), each run on its own."""
    position = 0
    for start, end in opaque:
        yield data[position:start]
        position = end
    yield data[position:]


def _compressed_pixel_spans(data: bytes, kind: str) -> list[Span]:
    """Where `data` holds compressed pixels: bytes a decoder never reads as text.

    Compressed pixels are noise, so about one noisy PNG in 1,500 spells `<svg` somewhere in
    them; only the rest of the file (metadata, comments, trailers) can carry markup. Bytes the
    walk cannot place, and TIFF and BMP, whose pixels lie where offsets point, stay readable.
    """
    if kind == "PNG":
        return [
            (chunk.data_start, chunk.end)
            for chunk in _png_chunks(data)
            if chunk.type in _PNG_PIXEL_CHUNKS
        ]
    if kind == "JPEG":
        return _jpeg_entropy_spans(data)
    if kind == "GIF":
        return _gif_layout(data)[0]
    if kind == "WEBP":
        return _webp_pixel_spans(data)
    return []


@dataclass(frozen=True, slots=True)
class _PngChunk:
    type: bytes
    data_start: int
    end: int


def _png_chunks(data: bytes) -> Iterator[_PngChunk]:
    """Every complete chunk up to and including IEND."""
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunk = _PngChunk(data[position + 4 : position + 8], position + 8, position + 12 + length)
        if chunk.end > len(data):
            return
        yield chunk
        if chunk.type == b"IEND":
            return
        position = chunk.end


def _png_end(data: bytes) -> int | None:
    return next((chunk.end for chunk in _png_chunks(data) if chunk.type == b"IEND"), None)


def _jpeg_entropy_spans(data: bytes) -> list[Span]:
    """The entropy-coded scan data after each SOS segment, in every image appended (MPO)."""
    spans: list[Span] = []
    position = 2
    while position + 1 < len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker == 0xD9:  # EOI: another image (MPO) may follow, anything else is a trailer
            if not data.startswith(b"\xff\xd8", position + 2):
                break
            position += 4
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
            position += 2
        else:
            if position + 4 > len(data):
                break
            segment_end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            if segment_end > len(data):
                break
            position = segment_end
            if marker == 0xDA:
                found = _JPEG_MARKER_IN_SCAN.search(data, segment_end)
                position = found.start() if found else len(data)
                spans.append((segment_end, position))
    return spans


def _webp_pixel_spans(data: bytes, start: int = 12, stop: int | None = None) -> list[Span]:
    """The payloads of the RIFF chunks holding compressed pixels, in animation frames too."""
    in_frame = stop is not None
    stop = len(data) if stop is None else stop
    spans: list[Span] = []
    position = start
    while position + 8 <= stop:
        fourcc, payload = data[position : position + 4], position + 8
        end = payload + int.from_bytes(data[position + 4 : payload], "little")
        if end > stop:
            break
        if fourcc in _WEBP_PIXEL_CHUNKS:
            spans.append((payload, end))
        elif fourcc == b"ANMF" and not in_frame:  # a 16-byte header, then the frame's chunks
            spans.extend(_webp_pixel_spans(data, payload + 16, end))
        position = end + (end & 1)
    return spans


def _gif_layout(data: bytes) -> tuple[list[Span], int | None]:
    """The LZW image-data sub-blocks of every frame, and where the trailer ends the file."""
    spans: list[Span] = []
    if len(data) < 13:
        return spans, None
    position = 13
    if data[10] & 0x80:
        position += 3 << ((data[10] & 0x07) + 1)
    while position < len(data):
        block = data[position]
        if block == 0x3B:
            return spans, position + 1
        if block == 0x21:
            position += 2
        elif block == 0x2C:
            if position + 10 > len(data):
                return spans, None
            flags = data[position + 9]
            position += 10
            if flags & 0x80:
                position += 3 << ((flags & 0x07) + 1)
            position += 1
        else:
            return spans, None
        sub_blocks = position
        while position < len(data) and data[position] != 0:
            position += data[position] + 1
        if block == 0x2C:
            spans.append((sub_blocks, min(position, len(data))))
        position += 1
    return spans, None


def _open(data: bytes, kind: str, limits: ImageLimits) -> ImageFile.ImageFile:
    # Only the sniffed format's plugin may parse the bytes: no fallback to exotic decoders.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = Image.open(io.BytesIO(data), formats=[kind])
    if any(issubclass(warning.category, Image.DecompressionBombWarning) for warning in caught):
        image.close()
        raise _too_large(kind, limits)
    return image


def _measure(
    image: ImageFile.ImageFile, kind: str, limits: ImageLimits, max_side: int | None
) -> ImageHeader:
    """Check the header's size against the limits and set up a reduced-size JPEG decode."""
    header_width, header_height = image.size
    if header_width <= 0 or header_height <= 0:
        raise ImageRejected(Refusal.NO_PIXELS, kind=kind, width=header_width, height=header_height)
    if header_width * header_height > limits.max_pixels:
        raise ImageTooLarge(
            Refusal.TOO_MANY_PIXELS,
            kind=kind,
            width=header_width,
            height=header_height,
            limit=limits.max_pixels,
        )
    if max_side is not None and kind == "JPEG":
        scale = max_side / max(header_width, header_height)
        if scale < 1:
            image.draft("RGB", (int(header_width * scale) + 1, int(header_height * scale) + 1))
    decoded_pixels = image.size[0] * image.size[1]
    budget = limits.max_decoded_pixels
    if budget is not None and decoded_pixels > budget:
        raise _over_budget(kind, header_width, header_height, decoded_pixels, budget)
    return ImageHeader(kind, header_width, header_height, decoded_pixels)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}"


def _over_budget(kind: str, width: int, height: int, decoded: int, budget: int) -> ImageTooLarge:
    if decoded != width * height:
        reason = Refusal.REDUCED_OVER_DECODE_BUDGET
    elif kind == "JPEG":
        reason = Refusal.JPEG_OVER_DECODE_BUDGET
    else:
        reason = Refusal.OVER_DECODE_BUDGET
    return ImageTooLarge(
        reason,
        kind=kind,
        width=width,
        height=height,
        decoded=_megapixels(decoded),
        budget=_megapixels(budget),
    )


def _decode(data: bytes, kind: str, limits: ImageLimits, max_side: int | None) -> LoadedImage:
    with _open(data, kind, limits) as image:
        orientation = _orientation(image)
        header = _measure(image, kind, limits, max_side)
        header_width, header_height = header.width, header.height
        image.load()
        frame = _to_rgb(image)
    transpose = _ORIENTATION_TRANSPOSE.get(orientation)
    if transpose is not None:
        frame = frame.transpose(transpose)
    width, height = (
        (header_height, header_width)
        if orientation in (5, 6, 7, 8)
        else (header_width, header_height)
    )
    if max_side is not None and max(frame.size) > max_side:
        frame.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    rgb = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8))
    rgb.setflags(write=False)
    return LoadedImage(rgb=rgb, format=kind, width=width, height=height, mime_type=MIME_TYPES[kind])


def _orientation(image: ImageFile.ImageFile) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE else 1


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_depth_to_rgb(image)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return image.copy()
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    # Pillow's own I;16 -> L conversion clips at 255 instead of scaling the range.
    values = np.asarray(image).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if image.mode == "I" and low >= 0 and high <= 255:
        scaled = values
    elif image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and high <= 65535):
        scaled = values / 257.0
    elif high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(values)
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, axis=-1))
