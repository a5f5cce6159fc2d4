"""A webhook is accepted only with a valid signature made within the tolerance, never from ahead.

Stripe signs `"{t}.{body}"` with HMAC-SHA256 under the endpoint's secret and sends
`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (several v1 while a secret rolls).
A header that is malformed, older than the tolerance, later than now (beyond a few seconds of
clock skew), or whose no v1 matches is refused; comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from registry.messages import N_
from settlement.errors import WebhookSignatureError

TOLERANCE_S = 300
CLOCK_SKEW_S = 5
MAX_HEADER = 2048
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """Return the header value Stripe would send for this payload at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(payload: bytes, header: str | None, secret: str, now: int) -> int:
    """Return the signed timestamp if the header signs the payload; refuse it otherwise."""
    if not header:
        raise WebhookSignatureError(N_("the Stripe-Signature header is missing"))
    if len(header) > MAX_HEADER:
        raise WebhookSignatureError(N_("the Stripe-Signature header is too long"))
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, separator, value = part.strip().partition("=")
        if not separator:
            raise WebhookSignatureError(N_("the Stripe-Signature header is malformed"))
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise WebhookSignatureError(N_("the Stripe-Signature header needs exactly one timestamp t"))
    if not signatures or not all(_HEX_SHA256.fullmatch(value) for value in signatures):
        raise WebhookSignatureError(N_("the Stripe-Signature header has no valid v1 signature"))
    timestamp = int(timestamps[0])
    if timestamp > now + CLOCK_SKEW_S:
        raise WebhookSignatureError(N_("the webhook is signed with a time in the future"))
    if timestamp < now - TOLERANCE_S:
        raise WebhookSignatureError(
            N_("the webhook was signed more than %(seconds)s seconds ago: replays are refused"),
            seconds=TOLERANCE_S,
        )
    expected = sign(payload, secret, timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, value) for value in signatures):
        raise WebhookSignatureError(N_("the webhook signature does not match its content"))
    return timestamp
