"""Uploaded files as the API and the pages read them, and a refusal said as a sentence.

The registry words a refused file for the API and the CLI ("not a supported image: PDF"); the
*My works* page says the same refusal as a sentence in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from fastapi import UploadFile

from registry.errors import PayloadTooLarge
from registry.messages import Message

ACCEPTED_NAMES: Final = "JPEG, PNG, WebP, GIF, TIFF, BMP"
_NOT_AN_IMAGE: Final = re.compile(r"^not a supported image: (?P<kind>.+)$")
_DAMAGED: Final = re.compile(r"^(corrupt or truncated|undecodable) (?P<kind>\w+) image")
_SAME_BYTES: Final = re.compile(r"^same bytes as (?P<other>.+)$")


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, refusing more than max_bytes without reading them all."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{upload.filename or 'upload'} is larger than {max_bytes} bytes")
    return data


def refusal_sentence(refusal: Message, gettext: Callable[[str], str]) -> str:
    """Why a file was not registered, as a sentence; an unforeseen reason is kept as worded."""
    message = refusal.english()
    if found := _NOT_AN_IMAGE.match(message):
        if found["kind"] == "empty file":
            return gettext("This file is empty.")
        named = refusal.params.get("kind")
        kind = named.render(gettext) if isinstance(named, Message) else found["kind"]
        sentence = gettext(
            "This file is a %(kind)s, not an image. Copymark registers %(accepted)s."
        )
        return sentence % {"kind": kind, "accepted": ACCEPTED_NAMES}
    if found := _DAMAGED.match(message):
        return gettext("This %(kind)s image is damaged or cut short, so it cannot be read.") % {
            "kind": found["kind"]
        }
    if message.startswith("file too large"):
        return gettext("This file is larger than the upload limit.")
    if found := _SAME_BYTES.match(message):
        return gettext("This file has the same bytes as %(other)s, sent with it.") % {
            "other": found["other"]
        }
    return gettext("This file was refused: %(reason)s.") % {"reason": refusal.render(gettext)}
