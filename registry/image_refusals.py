"""Why the similarity engine refused an image, in words the catalogs translate.

The engine sits below the catalogs and says a refusal as a stable `Refusal` with its values; this
is where each becomes a template marked `N_`. The English of a template is the engine's own, so
the API and the CLI read as before; the test of this module holds the two together.
"""

from __future__ import annotations

from typing import Final

from registry.messages import N_, Message, Param
from similarity.images import ImageRejected, Refusal

_TEMPLATES: Final[dict[Refusal, str]] = {
    Refusal.TOO_MANY_BYTES: N_("file too large: %(size)s bytes, limit %(limit)s"),
    Refusal.NOT_AN_IMAGE: N_("not a supported image: %(kind)s"),
    Refusal.HEADER_OVER_LIMIT: N_(
        "%(kind)s image too large: its header claims more than %(limit)s pixels"
    ),
    Refusal.UNREADABLE_HEADER: N_("corrupt or truncated %(kind)s image: unreadable header"),
    Refusal.CORRUPT: N_("corrupt or truncated %(kind)s image: %(detail)s"),
    Refusal.UNDECODABLE: N_("undecodable %(kind)s image: %(detail)s"),
    Refusal.ACTIVE_CONTENT: N_("%(kind)s file carries embedded HTML or script (%(marker)s...)"),
    Refusal.EMBEDDED_ARCHIVE: N_("%(kind)s file carries an embedded ZIP archive"),
    Refusal.TRAILING_BYTES: N_("%(kind)s file has %(count)s unexpected bytes after its end"),
    Refusal.NO_PIXELS: N_("%(kind)s image has no pixels (%(width)sx%(height)s)"),
    Refusal.TOO_MANY_PIXELS: N_(
        "%(kind)s image too large: %(width)sx%(height)s pixels, limit %(limit)s"
    ),
    Refusal.OVER_DECODE_BUDGET: N_(
        "%(kind)s image too large: %(width)s×%(height)s pixels is %(decoded)s megapixels, and "
        "at most %(budget)s megapixels are decoded for one image here. Send a smaller copy "
        "(2,000 pixels a side is plenty to find copies), or a JPEG, which decodes at reduced size."
    ),
    Refusal.JPEG_OVER_DECODE_BUDGET: N_(
        "%(kind)s image too large: %(width)s×%(height)s pixels is %(decoded)s megapixels, and "
        "at most %(budget)s megapixels are decoded for one image here. Send a smaller copy "
        "(2,000 pixels a side is plenty to find copies)."
    ),
    Refusal.REDUCED_OVER_DECODE_BUDGET: N_(
        "%(kind)s image too large: %(width)s×%(height)s pixels decodes to %(decoded)s megapixels "
        "even at reduced size, and at most %(budget)s megapixels are decoded for one image here. "
        "Send a smaller copy (2,000 pixels a side is plenty to find copies)."
    ),
}
# What the engine names a file that is no image it takes; the format names stay as they are.
_KINDS: Final[dict[str, str]] = {
    "empty file": N_("empty file"),
    "ZIP archive": N_("ZIP archive"),
    "gzip archive": N_("gzip archive"),
    "RAR archive": N_("RAR archive"),
    "7-Zip archive": N_("7-Zip archive"),
    "executable": N_("executable"),
    "Windows executable": N_("Windows executable"),
    "Photoshop document": N_("Photoshop document"),
    "BigTIFF image (unsupported)": N_("BigTIFF image (unsupported)"),
    "ICO icon (unsupported)": N_("ICO icon (unsupported)"),
    "AVIF image (unsupported)": N_("AVIF image (unsupported)"),
    "HEIC image (unsupported)": N_("HEIC image (unsupported)"),
    "MP4/QuickTime media": N_("MP4/QuickTime media"),
    "SVG document": N_("SVG document"),
    "XML document": N_("XML document"),
}


def image_refusal(rejection: ImageRejected) -> Message:
    """The engine's refusal as a message a page says in its reader's language."""
    values: dict[str, Param] = dict(rejection.values)
    kind = values.get("kind")
    if isinstance(kind, str) and kind in _KINDS:
        values["kind"] = Message(_KINDS[kind])
    return Message(_TEMPLATES[rejection.reason], values)
