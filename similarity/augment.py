"""Copy families: every family maps (RGB uint8 image, seeded rng) to the same copy every time.

Each family imitates one way a registered work is copied in the wild (re-encoded, cropped,
mirrored, captioned, printed on a product, shown among other images on a page). The functions
draw all their parameters from the `random.Random` they are given and from nothing else, so a
benchmark or a training run replays exactly from its seed. They use PIL and OpenCV only, never
per-pixel Python loops, because training calls them once per sample.
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

RGBImage = npt.NDArray[np.uint8]
Augmentation = Callable[[RGBImage, random.Random], RGBImage]
Colour = tuple[int, int, int]

MIN_SIDE_PX: Final = 8
# Enlarging families (resize up, embed) stop here so that one call stays a few milliseconds.
MAX_OUTPUT_SIDE_PX: Final = 1024

_FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
)
_WORDS: Final = (
    "sale",
    "new",
    "limited",
    "edition",
    "original",
    "best",
    "price",
    "shop",
    "now",
    "free",
    "shipping",
    "summer",
    "vibes",
    "official",
    "merch",
    "handmade",
    "gift",
    "for",
    "her",
    "trending",
    "when",
    "you",
    "see",
    "it",
    "me",
    "irl",
    "nobody",
    "literally",
    "everyone",
    "monday",
    "mood",
    "same",
    "tbt",
    "classic",
    "vintage",
    "exclusive",
    "collection",
    "design",
    "print",
)
# Glyphs present in DejaVu Sans; stickers in the wild are emoji, these are the shipped stand-ins.
_STICKER_GLYPHS: Final = "★☺☻♥♦♣♠☀☂☃✈✔✖❤♪♫☎✿❀☮☯⚑⚡"


class AugmentInputError(ValueError):
    """The image handed to a copy family is not an RGB uint8 array of usable size."""


def _check_image(image: RGBImage) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise AugmentInputError(
            f"expected a numpy uint8 array, got {type(image).__name__} "
            f"of dtype {getattr(image, 'dtype', None)}"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise AugmentInputError(f"expected an RGB array of shape (H, W, 3), got {image.shape}")
    if min(image.shape[0], image.shape[1]) < MIN_SIDE_PX:
        raise AugmentInputError(
            f"image {image.shape[1]}x{image.shape[0]} px is smaller than {MIN_SIDE_PX} px a side"
        )


@functools.cache
def _font(bold: bool, size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size_px)
    return ImageFont.load_default(size_px)


def _random_colour(rng: random.Random) -> Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _contrasting(colour: Colour) -> Colour:
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luma > 128 else (255, 255, 255)


def _fit_within(image: RGBImage, max_side: int) -> RGBImage:
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(MIN_SIDE_PX, round(width * scale)), max(MIN_SIDE_PX, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _resized(image: RGBImage, width: int, height: int) -> RGBImage:
    width, height = max(1, width), max(1, height)
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, (width, height), interpolation=interpolation), np.uint8)


def _phrase(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _text_width(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def resize(image: RGBImage, rng: random.Random) -> RGBImage:
    """Rescale to 30-200% of the size, each side independently within 10% of the other."""
    _check_image(image)
    height, width = image.shape[:2]
    scale = rng.uniform(0.3, 2.0)
    aspect = rng.uniform(0.9, 1.1)
    out = _resized(
        image,
        max(MIN_SIDE_PX, round(width * scale * aspect)),
        max(MIN_SIDE_PX, round(height * scale)),
    )
    return _fit_within(out, MAX_OUTPUT_SIDE_PX)


def crop(image: RGBImage, rng: random.Random) -> RGBImage:
    """Keep a window covering 30-90% of the area, aspect ratio within 3:4..4:3 of the source."""
    _check_image(image)
    height, width = image.shape[:2]
    area = rng.uniform(0.3, 0.9) * width * height
    aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    # Never below the minimum side, so that a crop can feed the next family of a combination.
    crop_width = min(width, max(MIN_SIDE_PX, round(math.sqrt(area * aspect * width / height))))
    crop_height = min(height, max(MIN_SIDE_PX, round(area / crop_width)))
    left = rng.randint(0, width - crop_width)
    top = rng.randint(0, height - crop_height)
    return np.ascontiguousarray(image[top : top + crop_height, left : left + crop_width])


def hflip(image: RGBImage, rng: random.Random) -> RGBImage:
    """Mirror left-right."""
    _check_image(image)
    return np.ascontiguousarray(image[:, ::-1])


def vflip(image: RGBImage, rng: random.Random) -> RGBImage:
    """Mirror top-bottom."""
    _check_image(image)
    return np.ascontiguousarray(image[::-1])


def rotate90(image: RGBImage, rng: random.Random) -> RGBImage:
    """Rotate a quarter turn counter-clockwise."""
    _check_image(image)
    return np.ascontiguousarray(np.rot90(image, 1))


def rotate180(image: RGBImage, rng: random.Random) -> RGBImage:
    """Rotate a half turn."""
    _check_image(image)
    return np.ascontiguousarray(np.rot90(image, 2))


def rotate270(image: RGBImage, rng: random.Random) -> RGBImage:
    """Rotate a quarter turn clockwise."""
    _check_image(image)
    return np.ascontiguousarray(np.rot90(image, 3))


def rotate_small(image: RGBImage, rng: random.Random) -> RGBImage:
    """Rotate by 5-20 degrees either way onto an enlarged canvas of one random colour."""
    _check_image(image)
    height, width = image.shape[:2]
    angle = rng.uniform(5.0, 20.0) * rng.choice((-1.0, 1.0))
    fill = _random_colour(rng)
    radians = math.radians(angle)
    new_width = round(abs(width * math.cos(radians)) + abs(height * math.sin(radians)))
    new_height = round(abs(width * math.sin(radians)) + abs(height * math.cos(radians)))
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[0, 2] += (new_width - width) / 2
    matrix[1, 2] += (new_height - height) / 2
    rotated = cv2.warpAffine(
        image,
        matrix,
        (new_width, new_height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
    return np.asarray(rotated, dtype=np.uint8)


def jpeg(image: RGBImage, rng: random.Random) -> RGBImage:
    """Re-encode as JPEG at quality 10-90."""
    _check_image(image)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=rng.randint(10, 90))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8)


def colour(image: RGBImage, rng: random.Random) -> RGBImage:
    """Shift brightness, contrast, saturation and hue, as a filter app or a reprint would."""
    _check_image(image)
    brightness = rng.uniform(-60.0, 60.0)
    contrast = rng.uniform(0.6, 1.5)
    saturation = rng.uniform(0.3, 1.8)
    hue_shift = rng.randint(-25, 25)
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    # OpenCV stores 8-bit hue as degrees / 2, so it wraps at 180.
    hsv[..., 0] = np.mod(hsv[..., 0] + hue_shift, 180.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0.0, 255.0)
    shifted = np.asarray(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), np.float32)
    mean = float(shifted.mean())
    adjusted = (shifted - mean) * contrast + mean + brightness
    return np.asarray(np.clip(adjusted, 0.0, 255.0), dtype=np.uint8)


def grayscale(image: RGBImage, rng: random.Random) -> RGBImage:
    """Drop colour, keeping three identical channels."""
    _check_image(image)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), dtype=np.uint8)


def blur(image: RGBImage, rng: random.Random) -> RGBImage:
    """Gaussian blur with sigma 0.5-2.5% of the shorter side (at least 1 px)."""
    _check_image(image)
    sigma = max(1.0, rng.uniform(0.005, 0.025) * min(image.shape[:2]))
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigmaX=sigma), dtype=np.uint8)


def noise(image: RGBImage, rng: random.Random) -> RGBImage:
    """Add Gaussian pixel noise with a standard deviation of 5-30 grey levels."""
    _check_image(image)
    generator = np.random.default_rng(rng.getrandbits(64))
    sigma = rng.uniform(5.0, 30.0)
    noisy = image.astype(np.float32) + generator.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 255.0).astype(np.uint8)


def overlay_text(image: RGBImage, rng: random.Random) -> RGBImage:
    """Write one to three lines of outlined words across the image."""
    _check_image(image)
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    height, width = image.shape[:2]
    for _ in range(rng.randint(1, 3)):
        size = max(6, round(rng.uniform(0.07, 0.16) * height))
        font = _font(rng.random() < 0.6, size)
        text = _phrase(rng, rng.randint(1, 4))
        fill = _random_colour(rng)
        text_width = _text_width(draw, text, font)
        left = rng.randint(min(0, width - text_width), max(0, width - text_width))
        top = rng.randint(0, max(0, height - size))
        draw.text(
            (left, top),
            text,
            font=font,
            fill=fill,
            stroke_width=max(1, size // 12),
            stroke_fill=_contrasting(fill),
        )
    return np.asarray(canvas, dtype=np.uint8)


def _draw_smiley(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], face: Colour) -> None:
    left, top, right, bottom = box
    size = right - left
    draw.ellipse(box, fill=face, outline=(0, 0, 0), width=max(1, size // 20))
    eye = max(1, size // 10)
    for eye_x in (left + size * 0.33, left + size * 0.67):
        cx, cy = round(eye_x), round(top + size * 0.38)
        draw.ellipse((cx - eye, cy - eye, cx + eye, cy + eye), fill=(0, 0, 0))
    mouth = (left + size * 0.25, top + size * 0.35, right - size * 0.25, bottom - size * 0.2)
    draw.arc(mouth, start=20, end=160, fill=(0, 0, 0), width=max(1, size // 16))


def _draw_star(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], fill: Colour) -> None:
    left, top, right, bottom = box
    cx, cy, radius = (left + right) / 2, (top + bottom) / 2, (right - left) / 2
    points = [
        (
            cx + radius * (1.0 if k % 2 == 0 else 0.45) * math.sin(k * math.pi / 5),
            cy - radius * (1.0 if k % 2 == 0 else 0.45) * math.cos(k * math.pi / 5),
        )
        for k in range(10)
    ]
    draw.polygon(points, fill=fill, outline=_contrasting(fill))


def overlay_emoji(image: RGBImage, rng: random.Random) -> RGBImage:
    """Stick one to three stickers (drawn faces, stars or font glyphs), each 15-40% of the side."""
    _check_image(image)
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    height, width = image.shape[:2]
    for _ in range(rng.randint(1, 3)):
        size = max(4, round(rng.uniform(0.15, 0.4) * min(height, width)))
        left = rng.randint(-size // 4, max(-size // 4, width - size * 3 // 4))
        top = rng.randint(-size // 4, max(-size // 4, height - size * 3 // 4))
        box = (left, top, left + size, top + size)
        kind = rng.randrange(3)
        fill = _random_colour(rng)
        if kind == 0:
            _draw_smiley(draw, box, (255, 204, 0))
        elif kind == 1:
            _draw_star(draw, box, fill)
        else:
            glyph = rng.choice(_STICKER_GLYPHS)
            draw.text(
                (left, top),
                glyph,
                font=_font(True, size),
                fill=fill,
                stroke_width=max(1, size // 16),
                stroke_fill=_contrasting(fill),
            )
    return np.asarray(canvas, dtype=np.uint8)


def border(image: RGBImage, rng: random.Random) -> RGBImage:
    """Pad each side by 5-30% of the image's size with one random colour."""
    _check_image(image)
    height, width = image.shape[:2]
    top, bottom = (round(rng.uniform(0.05, 0.3) * height) for _ in range(2))
    left, right = (round(rng.uniform(0.05, 0.3) * width) for _ in range(2))
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=_random_colour(rng)
    )
    return _fit_within(np.asarray(padded, dtype=np.uint8), MAX_OUTPUT_SIDE_PX)


def _fit_into(image: RGBImage, width: int, height: int) -> RGBImage:
    scale = min(width / image.shape[1], height / image.shape[0])
    return _resized(image, round(image.shape[1] * scale), round(image.shape[0] * scale))


def _paste(canvas: Image.Image, image: RGBImage, centre: tuple[int, int]) -> None:
    height, width = image.shape[:2]
    canvas.paste(Image.fromarray(image), (centre[0] - width // 2, centre[1] - height // 2))


def embed_product(image: RGBImage, rng: random.Random) -> RGBImage:
    """Print the work on the chest of a t-shirt shape in a product mock-up photo."""
    _check_image(image)
    side = rng.randint(320, 640)
    backdrop = tuple(rng.randint(200, 255) for _ in range(3))
    canvas = Image.new("RGB", (side, side), backdrop)
    draw = ImageDraw.Draw(canvas)
    shirt = _random_colour(rng)
    s = side / 100
    outline = [
        (30, 10), (42, 8), (50, 14), (58, 8), (70, 10), (92, 28), (82, 40), (74, 34),
        (74, 95), (26, 95), (26, 34), (18, 40), (8, 28),
    ]  # fmt: skip
    draw.polygon([(x * s, y * s) for x, y in outline], fill=shirt, outline=_contrasting(shirt))
    print_width = round(rng.uniform(0.3, 0.44) * side)
    print_height = round(0.5 * side)
    artwork = _fit_into(image, print_width, print_height)
    # Ink on fabric takes on a little of the shirt's colour.
    tint = rng.uniform(0.0, 0.25)
    tinted = artwork.astype(np.float32) * (1 - tint) + np.array(shirt, np.float32) * tint
    _paste(canvas, tinted.astype(np.uint8), (round(50 * s), round(30 * s + print_height / 2)))
    return np.asarray(canvas, dtype=np.uint8)


def embed_meme(image: RGBImage, rng: random.Random) -> RGBImage:
    """Add caption bars above, below or both, in the layout of a captioned meme."""
    _check_image(image)
    artwork = _fit_within(image, 640)
    height, width = artwork.shape[:2]
    placement = rng.choice(("above", "below", "both"))
    bar = max(12, round(rng.uniform(0.15, 0.3) * height))
    top = bar if placement in ("above", "both") else 0
    bottom = bar if placement in ("below", "both") else 0
    background = (255, 255, 255) if rng.random() < 0.7 else (0, 0, 0)
    canvas = Image.new("RGB", (width, height + top + bottom), background)
    canvas.paste(Image.fromarray(artwork), (0, top))
    draw = ImageDraw.Draw(canvas)
    ink = _contrasting(background)
    for bar_top, present in ((0, top), (top + height, bottom)):
        if not present:
            continue
        text = _phrase(rng, rng.randint(2, 6))
        size = max(6, round(bar * 0.45))
        font = _font(True, size)
        while size > 6 and _text_width(draw, text, font) > width * 0.95:
            size -= 2
            font = _font(True, size)
        left = max(0, (width - _text_width(draw, text, font)) // 2)
        draw.text((left, bar_top + (bar - size) // 2), text, font=font, fill=ink)
    return np.asarray(canvas, dtype=np.uint8)


def _filler_tile(rng: random.Random, width: int, height: int) -> Image.Image:
    """A stand-in for another product's picture: a gradient with a few shapes."""
    start = np.array(_random_colour(rng), np.float32)
    end = np.array(_random_colour(rng), np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    gradient = np.broadcast_to(start + (end - start) * ramp, (height, width, 3))
    tile = Image.fromarray(np.ascontiguousarray(gradient).astype(np.uint8))
    draw = ImageDraw.Draw(tile)
    for _ in range(rng.randint(1, 4)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randint(width // 8, width // 2)
        y1 = y0 + rng.randint(height // 8, height // 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_random_colour(rng))
    return tile


def embed_screenshot(image: RGBImage, rng: random.Random) -> RGBImage:
    """Show the work as one tile in a web-shop grid with a header, captions and other tiles."""
    _check_image(image)
    columns, rows = rng.randint(2, 4), rng.randint(2, 3)
    tile = rng.randint(110, 200)
    gap, caption, header = tile // 10, max(10, tile // 6), rng.randint(30, 60)
    width = columns * (tile + gap) + gap
    height = header + rows * (tile + caption + gap) + gap
    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, header), fill=_random_colour(rng))
    draw.text(
        (gap, header // 4), _phrase(rng, 3), font=_font(True, header // 2), fill=(255, 255, 255)
    )
    target = rng.randrange(columns * rows)
    for index in range(columns * rows):
        x = gap + (index % columns) * (tile + gap)
        y = header + gap + (index // columns) * (tile + caption + gap)
        if index == target:
            draw.rectangle((x, y, x + tile, y + tile), fill=(245, 245, 245))
            _paste(page, _fit_into(image, tile, tile), (x + tile // 2, y + tile // 2))
        else:
            page.paste(_filler_tile(rng, tile, tile), (x, y))
        bar_width = rng.randint(tile // 3, tile)
        draw.rectangle(
            (x, y + tile + 3, x + bar_width, y + tile + caption - 3), fill=(200, 200, 200)
        )
    return np.asarray(page, dtype=np.uint8)


_COMBINABLE: Final[tuple[Augmentation, ...]] = (
    resize, crop, hflip, rotate_small, jpeg, colour, grayscale, blur, noise,
    overlay_text, overlay_emoji, border,
)  # fmt: skip


def combo(image: RGBImage, rng: random.Random) -> RGBImage:
    """Apply two or three distinct simpler families in sequence."""
    _check_image(image)
    out = image
    for augmentation in rng.sample(_COMBINABLE, rng.randint(2, 3)):
        out = augmentation(out, rng)
    return out


FAMILIES: Final[Mapping[str, Augmentation]] = MappingProxyType(
    {
        "resize": resize,
        "crop": crop,
        "hflip": hflip,
        "vflip": vflip,
        "rotate90": rotate90,
        "rotate180": rotate180,
        "rotate270": rotate270,
        "rotate_small": rotate_small,
        "jpeg": jpeg,
        "colour": colour,
        "grayscale": grayscale,
        "blur": blur,
        "noise": noise,
        "overlay_text": overlay_text,
        "overlay_emoji": overlay_emoji,
        "border": border,
        "embed_product": embed_product,
        "embed_meme": embed_meme,
        "embed_screenshot": embed_screenshot,
        "combo": combo,
    }
)
_FAMILY_NAMES: Final = tuple(FAMILIES)


def random_augment(image: RGBImage, rng: random.Random) -> RGBImage:
    """Apply one family chosen uniformly at random: the training-time copy generator."""
    return FAMILIES[rng.choice(_FAMILY_NAMES)](image, rng)
