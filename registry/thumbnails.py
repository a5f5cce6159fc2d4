"""Small JPEG previews of registered works, rendered from the stored original and kept in memory."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image

from registry.blobs import BlobStore
from similarity.images import ImageLimits, load_image

THUMBNAIL_SIDE = 360


def jpeg_preview(data: bytes, limits: ImageLimits, max_side: int, quality: int = 82) -> bytes:
    """The image shrunk to fit `max_side` pixels (decoded at reduced size), as a small JPEG."""
    image = load_image(data, limits, max_side=max_side)
    buffer = io.BytesIO()
    Image.fromarray(image.rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class Thumbnails:
    """Previews keyed by blob digest; content addressing makes a cached preview never stale."""

    def __init__(self, blobs: BlobStore, limits: ImageLimits, cached: int = 512) -> None:
        self._blobs = blobs
        self._limits = limits
        self.render = lru_cache(maxsize=cached)(self._render)

    def _render(self, sha256: str) -> bytes:
        return jpeg_preview(self._blobs.get(sha256), self._limits, THUMBNAIL_SIDE, quality=85)
