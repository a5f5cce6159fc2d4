"""Monitoring errors a user can cause, each a kind of the one error root (registry.errors)."""

from __future__ import annotations

from registry.errors import Forbidden, Invalid, TooManyRequests


class InvalidCrawl(Invalid):
    """A crawl or watch request that cannot be run as asked."""

    code = "crawl_invalid"


class ForbiddenHost(Forbidden):
    """A crawl asked to reach a host the operator has not opened to crawls."""

    code = "crawl_host_forbidden"


class MonitoringNotAllowed(Forbidden):
    """The account's roles do not include monitoring the web."""

    code = "monitoring_forbidden"


class CrawlQuotaExceeded(TooManyRequests):
    """The account has used its crawls for now; Retry-After says when the next one is allowed."""

    code = "crawl_quota_exceeded"


class InvalidTriage(Invalid):
    """A bulk triage that names no alert, or too many at once."""

    code = "triage_invalid"
