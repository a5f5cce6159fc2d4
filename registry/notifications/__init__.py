"""Notifications: an in-app inbox, email (immediate or daily digest) and signed webhooks with
retries, plus takedown notice drafts.

Other contexts call `notify(session, user, kind, subject, body, payload)`; it writes rows only,
and the `NotificationWorker` (or `deliver_due` / `send_digests`) sends them after commit.
Webhook receivers check deliveries with `verify_webhook_signature`.
"""

from registry.notifications.service import deliver_due, notify, send_digests
from registry.notifications.signatures import WebhookSignatureError, verify_webhook_signature

__all__ = [
    "WebhookSignatureError",
    "deliver_due",
    "notify",
    "send_digests",
    "verify_webhook_signature",
]
