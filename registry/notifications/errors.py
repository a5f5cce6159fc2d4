"""Notification errors a user can cause, each a kind of the one error root (registry.errors)."""

from __future__ import annotations

from registry.errors import Invalid


class WebhookTargetRefused(Invalid):
    """A webhook URL that we will not send to: not https, or not a public address."""

    code = "webhook_target_refused"
