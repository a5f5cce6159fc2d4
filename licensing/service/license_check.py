"""Whether a use of a work on a domain or URL is licensed: by the licensee organisation's domain.

Both sides are read with the one host rule (`similarity.crawl.urls.canonical_host`), so
`bücher.example`, `XN--BCHER-KVA.example.` and `https://shop.bücher.example/p` all name the
organisation stored as `xn--bcher-kva.example`. A host is covered by an organisation's domain
and every subdomain of it (`host_within`); a lookalike domain (`evilbrand.example`) or the
domain in a URL's path is not.
"""

from __future__ import annotations

from sqlmodel import Session

from licensing import repository
from licensing.errors import InvalidDomainError
from licensing.models import GrantStatus, LicenseGrant
from registry.messages import N_
from registry.models import persisted_id
from similarity.crawl.urls import InvalidUrlError, canonical_host, host_within

LICENSING_GRANT_STATUSES = (GrantStatus.ACTIVE,)


def licensed_grants(session: Session, work_id: int, domain_or_url: str) -> list[LicenseGrant]:
    """Return the grants of a work held by an organisation whose domain covers the host, or
    that license a site by name (a retroactive licence settling a case against it).

    A host is covered by its organisation's domain and every subdomain of it. Only active
    grants count: one awaiting payment, expired, cancelled or refunded licenses nothing. Text
    that names no host raises InvalidDomainError (422) with the reason.
    """
    try:
        host = canonical_host(domain_or_url)
    except InvalidUrlError as error:
        raise InvalidDomainError(
            N_("%(text)s names no domain: %(reason)s"),
            text=repr(domain_or_url[:100]),
            reason=str(error),
        ) from None
    candidates = repository.grants_with_licensee_domains(session, work_id, LICENSING_GRANT_STATUSES)
    grants: dict[int, LicenseGrant] = {}
    named = repository.grants_with_licensed_domains(session, work_id, LICENSING_GRANT_STATUSES)
    for grant, domain in [*candidates, *named]:
        # Organisation domains are stored canonical (registry.accounts.organisation_domain), and
        # a retroactive licence names its case's domain, canonical as monitoring stores it.
        if domain is not None and host_within(host, domain):
            grants[persisted_id(grant)] = grant
    return list(grants.values())


def is_use_licensed(session: Session, work_id: int, domain_or_url: str) -> bool:
    """Return whether an organisation owning the domain (or URL's host) holds a license.

    Text that names no host names no licensee: it is not licensed.
    """
    try:
        return bool(licensed_grants(session, work_id, domain_or_url))
    except InvalidDomainError:
        return False
