"""Generated web sites served on loopback addresses for crawler and monitoring tests."""

from tests.sites.canary import CANARY_HEX, CANARY_RGB, CANARY_TEXT, CanaryServer
from tests.sites.loopback import DISALLOWED_PREFIXES, EMBEDDING_STYLES, LoopbackSite, png_bytes

__all__ = [
    "CANARY_HEX",
    "CANARY_RGB",
    "CANARY_TEXT",
    "DISALLOWED_PREFIXES",
    "EMBEDDING_STYLES",
    "CanaryServer",
    "LoopbackSite",
    "png_bytes",
]
