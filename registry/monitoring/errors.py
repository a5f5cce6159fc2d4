"""Monitoring errors a user can cause, each a kind of the one error root (registry.errors)."""

from __future__ import annotations

from registry.errors import Forbidden, Invalid


class InvalidCrawl(Invalid):
    """A crawl or watch request that cannot be run as asked."""

    code = "crawl_invalid"


class ForbiddenHost(Forbidden):
    """A crawl asked to reach a host the operator has not opened to crawls."""

    code = "crawl_host_forbidden"
