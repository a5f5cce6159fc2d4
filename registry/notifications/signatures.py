"""Webhook signatures: a receiver accepts a body only if its HMAC matches and it is recent.

Header: `Copymark-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}" under the
endpoint secret>`. Receivers must reject a timestamp more than REPLAY_WINDOW_S away from their
clock (in either direction), so a captured delivery cannot be replayed later; the timestamp is
inside the HMAC, so it cannot be refreshed without the secret. Several `v1=` entries may appear
(during a secret rotation); one match is enough. Receivers should also deduplicate on the
`Copymark-Delivery` header, since a retried delivery carries the same id.

This module has no dependency beyond the standard library so receivers can copy it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "Copymark-Signature"
REPLAY_WINDOW_S = 300
_MAX_HEADER_LENGTH = 2048


class WebhookSignatureError(ValueError):
    """The delivery is not authentic or not fresh; the message says which check failed."""


def _unix_seconds(moment: datetime | float) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass an aware UTC time")
        return int(moment.timestamp())
    return int(moment)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, body: bytes, now: datetime | float) -> str:
    """The Copymark-Signature header value for `body` sent at `now`."""
    timestamp = _unix_seconds(now)
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_webhook_signature(secret: str, header: str, body: bytes, now: datetime | float) -> None:
    """Return if `header` signs `body` under `secret` within the replay window; else raise."""
    if not secret:
        raise WebhookSignatureError("no secret configured: refusing every delivery")
    if len(header) > _MAX_HEADER_LENGTH:
        raise WebhookSignatureError("signature header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator:
            raise WebhookSignatureError(f"malformed signature header item {item[:40]!r}")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise WebhookSignatureError("signature header needs exactly one numeric t=<unix seconds>")
    if not signatures:
        raise WebhookSignatureError("signature header has no v1= signature")
    timestamp = int(timestamps[0])
    if abs(_unix_seconds(now) - timestamp) > REPLAY_WINDOW_S:
        raise WebhookSignatureError(
            f"timestamp {timestamp} is outside the {REPLAY_WINDOW_S}-second replay window"
        )
    expected = _digest(secret, timestamp, body)
    if not any(
        candidate.isascii() and hmac.compare_digest(expected, candidate) for candidate in signatures
    ):
        raise WebhookSignatureError("no v1 signature matches the body")
