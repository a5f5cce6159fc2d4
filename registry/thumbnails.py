"""Small JPEG previews of registered works, rendered from the stored original and kept in memory."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image

from registry.blobs import BlobStore
from similarity.images import ImageLimits, load_image

THUMBNAIL_SIDE = 360


class Thumbnails:
    """Previews keyed by blob digest; content addressing makes a cached preview never stale."""

    def __init__(self, blobs: BlobStore, limits: ImageLimits, cached: int = 512) -> None:
        self._blobs = blobs
        self._limits = limits
        self.render = lru_cache(maxsize=cached)(self._render)

    def _render(self, sha256: str) -> bytes:
        image = load_image(self._blobs.get(sha256), self._limits, max_side=THUMBNAIL_SIDE)
        buffer = io.BytesIO()
        Image.fromarray(image.rgb).save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()
