"""Generated web sites served on loopback addresses for crawler and monitoring tests."""

from tests.sites.loopback import DISALLOWED_PREFIXES, EMBEDDING_STYLES, LoopbackSite, png_bytes

__all__ = ["DISALLOWED_PREFIXES", "EMBEDDING_STYLES", "LoopbackSite", "png_bytes"]
