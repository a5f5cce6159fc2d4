"""Notifications: an in-app inbox, email (immediate or daily digest) and signed webhooks with
retries, plus takedown notice drafts.

Other contexts call `service.notify(session, user, kind, subject, body, payload)`; it writes rows
only and enqueues a `notify` task, which `worker.delivery_task` runs (`deliver_due`,
`send_digests`) to send them after commit. `service` also holds the inbox, read marks, the email
mode and webhook endpoints; `repository` every query (per-user scoping in one place); `mail` and
`webhooks` the senders; `takedown` notice drafts. Webhook receivers check deliveries with
`signatures.verify_webhook_signature`.
"""
