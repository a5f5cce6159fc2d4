"""An organisation's domain names the licensee's site only once its owner proved control of it.

Otherwise anyone could claim any domain: a brand that creates an organisation for `co.uk` (or
`bbc.co.uk`) and takes a license would make every copy on those hosts look licensed, and the
crawler would skip them. Three rules close that:

- A domain is never a public suffix (`co.uk`, `github.io`, `com`): the Public Suffix List, ICANN
  and private sections, from the `publicsuffixlist` package's bundled copy (nothing is fetched
  at run time; upgrading the package updates the list).
- A domain counts only once verified, by a challenge token the owner publishes either as a DNS
  TXT record at `_copymark-verify.<domain>` or at `https://<domain>/.well-known/
  copymark-verify.txt` — the two proofs ACME uses, because only who runs the domain can do them.
  The web proof is fetched through the crawler's Fetcher and NetGuard (the one SSRF guard), with
  no redirect followed, so the answer comes from the domain itself and never from a private
  address.
- One verified owner per domain: the database refuses a second verified organisation with the
  same domain (a partial unique index), so two racing verifications cannot both win.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import dns.exception
import dns.resolver
from publicsuffixlist import PublicSuffixList
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.accounts import repository
from registry.errors import Conflict, Invalid, Unavailable
from registry.messages import N_
from registry.models import Organisation, User, persisted_id, utcnow
from similarity.crawl.fetcher import Fetcher, FetchError, FetchLimits
from similarity.crawl.netguard import NetGuard

DNS_LABEL = "_copymark-verify"
WELL_KNOWN_PATH = "/.well-known/copymark-verify.txt"
TOKEN_PREFIX = "copymark-verify="  # noqa: S105 - the public label before a challenge token
# The proof is one short line: a bigger answer is not a proof, and is not read past this.
_WELL_KNOWN_LIMITS = FetchLimits(
    connect_timeout_s=5.0,
    read_timeout_s=5.0,
    deadline_s=10.0,
    max_body_bytes=4096,
    max_decoded_bytes=4096,
    max_redirects=0,
    max_retries=0,
)


class DomainNotProven(Invalid):
    code = "domain_not_proven"


class DomainTaken(Conflict):
    code = "domain_taken"


class DomainLookupFailed(Unavailable):
    code = "domain_lookup_failed"


@cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def is_public_suffix(host: str) -> bool:
    """Whether `host` (canonical, see `canonical_host`) is a public suffix such as co.uk."""
    return bool(_public_suffixes().is_public(host))


class TxtResolver(Protocol):
    """Answers a name's TXT records; the default asks DNS, tests answer from a table."""

    def txt_records(self, name: str) -> list[str]:
        """Every TXT string at `name` ([] when it has none); DomainLookupFailed if DNS fails."""
        ...


class DnsTxtResolver:
    """TXT records from the system's DNS resolvers (dnspython), within a few seconds."""

    def __init__(self, lifetime_s: float = 5.0) -> None:
        self._lifetime_s = lifetime_s

    def txt_records(self, name: str) -> list[str]:
        try:
            answer = dns.resolver.resolve(name, "TXT", lifetime=self._lifetime_s)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise DomainLookupFailed(
                N_(
                    "DNS could not be asked for %(name)s just now (%(failure)s): try the check "
                    "again in a minute."
                ),
                name=name,
                failure=type(error).__name__,
            ) from None
        return [
            b"".join(record.strings).decode("utf-8", "replace")
            for record in answer
            if hasattr(record, "strings")
        ]


@dataclass(frozen=True)
class DomainVerifier:
    """Looks for an organisation's challenge token in DNS, then on its web site.

    `scheme` and `port` build the web proof's URL; production keeps https on 443. Tests serve
    the file from a loopback server the guard allows, as the crawler's tests do.
    """

    resolver: TxtResolver
    guard: NetGuard
    scheme: str = "https"
    port: int | None = None

    def well_known_url(self, domain: str) -> str:
        authority = domain if self.port is None else f"{domain}:{self.port}"
        return f"{self.scheme}://{authority}{WELL_KNOWN_PATH}"

    def proves(self, domain: str, token: str) -> str | None:
        """How `token` was found for `domain` ("dns" or "web"), or None when it was not."""
        expected = TOKEN_PREFIX + token
        try:
            records = self.resolver.txt_records(f"{DNS_LABEL}.{domain}")
        except DomainLookupFailed as failure:
            # DNS trouble must not hide a proof published on the web; say so only if both fail.
            lookup_failure: DomainLookupFailed | None = failure
            records = []
        else:
            lookup_failure = None
        if any(record.strip() == expected for record in records):
            return "dns"
        published = asyncio.run(self._well_known(domain))
        if published is not None and expected in published.split():
            return "web"
        if lookup_failure is not None:
            raise lookup_failure
        return None

    async def _well_known(self, domain: str) -> str | None:
        async with Fetcher(self.guard, limits=_WELL_KNOWN_LIMITS) as fetcher:
            try:
                record = await fetcher.fetch(self.well_known_url(domain), accept="text/plain")
            except FetchError:
                return None
        if record.status != 200:
            return None
        return record.content.decode("utf-8", "replace")


@dataclass(frozen=True)
class DomainChallenge:
    """What the owner publishes to prove the domain: either one of the two proofs will do."""

    organisation_id: int
    domain: str
    dns_name: str
    dns_value: str
    url: str
    file_content: str
    verified: bool


def _challenge(organisation: Organisation, verifier: DomainVerifier) -> DomainChallenge:
    domain = organisation.domain or ""
    line = TOKEN_PREFIX + (organisation.domain_token or "")
    return DomainChallenge(
        organisation_id=persisted_id(organisation),
        domain=domain,
        dns_name=f"{DNS_LABEL}.{domain}",
        dns_value=line,
        url=verifier.well_known_url(domain),
        file_content=line,
        verified=organisation.domain_verified,
    )


def refuse_domain_taken(session: Session, domain: str, organisation_id: int | None) -> None:
    """Raise DomainTaken when an organisation other than this one verified `domain`."""
    holder = repository.organisation_with_verified_domain(session, domain)
    if holder is not None and holder.id != organisation_id:
        raise DomainTaken(
            N_(
                "%(domain)s is already verified by another organisation on Copymark. If it is "
                "yours, contact support with proof of ownership."
            ),
            domain=domain,
        )


def start_domain_verification(
    session: Session, actor: User, organisation_id: int, verifier: DomainVerifier
) -> DomainChallenge:
    """The challenge for one of the actor's organisations; the token is made once and kept."""
    organisation = repository.administered_organisation(session, actor, organisation_id)
    if organisation.domain is None:
        raise Invalid(
            N_("organisation %(organisation)s has no domain to verify"),
            organisation=organisation_id,
        )
    if organisation.domain_token is None:
        organisation.domain_token = secrets.token_urlsafe(24)
        session.add(organisation)
        session.flush()
    return _challenge(organisation, verifier)


def check_domain_verification(
    session: Session, actor: User, organisation_id: int, verifier: DomainVerifier
) -> DomainChallenge:
    """Look for the published token now; the domain counts for licenses from then on."""
    organisation = repository.administered_organisation(session, actor, organisation_id)
    if organisation.domain_verified:
        return _challenge(organisation, verifier)
    domain, token = organisation.domain, organisation.domain_token
    if domain is None or token is None:
        raise Invalid(
            N_(
                "start the verification of organisation %(organisation)s first: "
                "POST /api/v1/organisations/%(organisation)s/domain-verification"
            ),
            organisation=organisation_id,
        )
    refuse_domain_taken(session, domain, organisation.id)
    if verifier.proves(domain, token) is None:
        challenge = _challenge(organisation, verifier)
        raise DomainNotProven(
            N_(
                "The token for %(domain)s was not found: publish a DNS TXT record at "
                "%(dns_name)s with the value %(dns_value)s, or serve %(url)s with that line, "
                "then check again (DNS changes can take a few minutes to show)."
            ),
            domain=domain,
            dns_name=challenge.dns_name,
            dns_value=challenge.dns_value,
            url=challenge.url,
        )
    organisation.domain_verified_at = utcnow()
    try:
        with session.begin_nested():
            session.add(organisation)
    except IntegrityError:
        # Another organisation verified the same domain between our look and our write.
        organisation.domain_verified_at = None
        refuse_domain_taken(session, domain, organisation.id)
        raise
    return _challenge(organisation, verifier)
