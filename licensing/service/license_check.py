"""Whether a use of a work on a domain or URL is licensed: by the licensee organisation's domain.

A host is covered by an organisation's domain and every subdomain of it; a lookalike domain
(`evilbrand.example`) or the domain in a URL's path is not.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session

from licensing import repository
from licensing.models import GrantStatus, LicenseGrant
from registry.models import persisted_id

LICENSING_GRANT_STATUSES = (GrantStatus.ACTIVE, GrantStatus.PENDING_PAYMENT)
MAX_DOMAIN_INPUT = 2048


def host_of(domain_or_url: str) -> str:
    """Return the lower-case host a domain or URL names, without a trailing dot or port."""
    text = domain_or_url.strip()[:MAX_DOMAIN_INPUT]
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    except ValueError:  # an unbalanced IPv6 bracket names no host
        return ""
    return host.rstrip(".").lower()


def _covers(domain: str, host: str) -> bool:
    domain = domain.rstrip(".").lower()
    return bool(domain) and (host == domain or host.endswith(f".{domain}"))


def licensed_grants(session: Session, work_id: int, domain_or_url: str) -> list[LicenseGrant]:
    """Return the grants of a work held by an organisation whose domain covers the host.

    A host is covered by its organisation's domain and every subdomain of it. Grants waiting
    for payment count: the license is granted, and the payment that settles it is tracked
    apart.
    """
    host = host_of(domain_or_url)
    if not host:
        return []
    candidates = repository.grants_with_licensee_domains(session, work_id, LICENSING_GRANT_STATUSES)
    grants: dict[int, LicenseGrant] = {}
    for grant, domain in candidates:
        if domain is not None and _covers(domain, host):
            grants[persisted_id(grant)] = grant
    return list(grants.values())


def is_use_licensed(session: Session, work_id: int, domain_or_url: str) -> bool:
    """Return whether an organisation owning the domain (or URL's host) holds a license."""
    return bool(licensed_grants(session, work_id, domain_or_url))
