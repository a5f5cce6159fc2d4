"""Organisation domains: never a public suffix, verified by DNS TXT or a web file, one owner."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.accounts.domains import (
    DomainLookupFailed,
    DomainNotProven,
    DomainTaken,
    DomainVerifier,
    check_domain_verification,
    start_domain_verification,
)
from registry.accounts.service import create_organisation, create_user, organisation_domain
from registry.errors import BadRequest, NotFound
from registry.models import Organisation, Role, User, utcnow
from similarity.crawl.netguard import IPAddress, NetGuard
from tests.support.dns import TxtTable

VerifyEmail = Callable[[Session, User], None]


class LoopbackResolver:
    """Every host name resolves to 127.0.0.1, as a hostile DNS answer might."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]


@dataclass
class WebSite:
    """A loopback web server answering the well-known path with a scripted response."""

    port: int
    status: int = 404
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def site() -> Iterator[WebSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = WebSite(port=server.server_address[1])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *_args: Any) -> None:
            return

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def verifier_for(
    site: WebSite, table: TxtTable | None = None, allow: list[str] | None = None
) -> DomainVerifier:
    """The web proof over plain HTTP on the site's port; the guard lets `allow` reach loopback."""
    guard = NetGuard(LoopbackResolver(), allow_hosts=allow if allow is not None else [])
    return DomainVerifier(table or TxtTable(), guard, scheme="http", port=site.port)


def _brand(
    session: Session, verify_email: VerifyEmail, email: str, domain: str
) -> tuple[User, Organisation]:
    user = create_user(session, email=email, password="long enough", roles={Role.BRAND})
    verify_email(session, user)
    return user, create_organisation(session, user, email.split("@", maxsplit=1)[0], domain)


@pytest.mark.parametrize(
    "domain", ["co.uk", "CO.UK.", "com.au", "github.io", "blogspot.com", "ישוב.ישראל"]
)
def test_a_public_suffix_is_never_an_organisation_domain(domain: str) -> None:
    with pytest.raises(BadRequest, match="public suffix") as refused:
        organisation_domain(domain)
    assert refused.value.status_code == 400


@pytest.mark.parametrize("domain", ["bbc.co.uk", "www.bbc.co.uk", "ana.github.io", "brand.test"])
def test_a_domain_under_a_public_suffix_may_be_claimed(domain: str) -> None:
    assert organisation_domain(domain) == domain


def test_a_new_organisation_domain_is_not_verified(
    db_engine: Engine, verify_email: VerifyEmail
) -> None:
    with Session(db_engine) as session:
        _, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        assert not organisation.domain_verified


def test_a_dns_txt_record_verifies_the_domain(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    table = TxtTable()
    verifier = verifier_for(site, table)
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        challenge = start_domain_verification(session, brand, organisation.id or 0, verifier)
        assert challenge.dns_name == "_copymark-verify.brand.example"
        table.records[challenge.dns_name] = ["unrelated", challenge.dns_value]
        checked = check_domain_verification(session, brand, organisation.id or 0, verifier)
        assert checked.verified
        assert organisation.domain_verified
    assert site.hits == []


def test_the_well_known_file_verifies_the_domain(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    verifier = verifier_for(site, allow=["brand.example"])
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        challenge = start_domain_verification(session, brand, organisation.id or 0, verifier)
        site.status, site.body = 200, f"{challenge.file_content}\n".encode()
        check_domain_verification(session, brand, organisation.id or 0, verifier)
        assert organisation.domain_verified
    assert site.hits == ["/.well-known/copymark-verify.txt"]


def test_the_production_proof_is_fetched_over_https() -> None:
    verifier = DomainVerifier(TxtTable(), NetGuard())
    url = verifier.well_known_url("brand.example")
    assert url == "https://brand.example/.well-known/copymark-verify.txt"


def test_no_proof_leaves_the_domain_unverified_and_says_where_to_publish(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    table = TxtTable({"_copymark-verify.brand.example": ["copymark-verify=someone-elses"]})
    verifier = verifier_for(site, table, allow=["brand.example"])
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        start_domain_verification(session, brand, organisation.id or 0, verifier)
        with pytest.raises(DomainNotProven) as refused:
            check_domain_verification(session, brand, organisation.id or 0, verifier)
        assert not organisation.domain_verified
    assert "_copymark-verify.brand.example" in refused.value.message
    assert "/.well-known/copymark-verify.txt" in refused.value.message
    assert refused.value.status_code == 422


def test_the_web_proof_never_reaches_a_private_address(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    verifier = verifier_for(site)  # brand.example resolves to 127.0.0.1 and is not allowed
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        challenge = start_domain_verification(session, brand, organisation.id or 0, verifier)
        site.status, site.body = 200, challenge.file_content.encode()
        with pytest.raises(DomainNotProven):
            check_domain_verification(session, brand, organisation.id or 0, verifier)
    assert site.hits == []


def test_a_redirected_web_proof_is_not_followed(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    verifier = verifier_for(site, allow=["brand.example", "127.0.0.1"])
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        start_domain_verification(session, brand, organisation.id or 0, verifier)
        site.status = 302
        site.headers["Location"] = f"http://127.0.0.1:{site.port}/elsewhere"
        with pytest.raises(DomainNotProven):
            check_domain_verification(session, brand, organisation.id or 0, verifier)
    assert site.hits == ["/.well-known/copymark-verify.txt"]


def test_an_oversized_web_proof_is_not_read(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    verifier = verifier_for(site, allow=["brand.example"])
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        challenge = start_domain_verification(session, brand, organisation.id or 0, verifier)
        site.status, site.body = 200, challenge.file_content.encode() + b" " * 1_000_000
        with pytest.raises(DomainNotProven):
            check_domain_verification(session, brand, organisation.id or 0, verifier)


def test_a_second_organisation_cannot_verify_a_verified_domain(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    table = TxtTable()
    verifier = verifier_for(site, table)
    with Session(db_engine) as session:
        first, claimed = _brand(session, verify_email, "b@brand.example", "brand.example")
        second, rival = _brand(session, verify_email, "r@rival.example", "brand.example")
        for user, organisation in ((first, claimed), (second, rival)):
            challenge = start_domain_verification(session, user, organisation.id or 0, verifier)
            table.records.setdefault(challenge.dns_name, []).append(challenge.dns_value)
        check_domain_verification(session, first, claimed.id or 0, verifier)
        with pytest.raises(DomainTaken, match="already verified by another organisation"):
            check_domain_verification(session, second, rival.id or 0, verifier)
        with pytest.raises(DomainTaken):
            create_organisation(session, second, "Again", "Brand.Example")
        assert not rival.domain_verified


def test_the_database_refuses_two_verified_owners_of_one_domain(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        session.add(Organisation(name="a", domain="brand.example", domain_verified_at=utcnow()))
        session.add(Organisation(name="b", domain="brand.example"))
        session.flush()
        session.add(Organisation(name="c", domain="brand.example", domain_verified_at=utcnow()))
        with pytest.raises(IntegrityError):
            session.flush()


def test_only_the_organisation_admin_starts_a_verification(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    with Session(db_engine) as session:
        _, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        stranger, _ = _brand(session, verify_email, "s@other.example", "other.example")
        with pytest.raises(NotFound):
            start_domain_verification(session, stranger, organisation.id or 0, verifier_for(site))


class FailingDns:
    """DNS that cannot be reached."""

    def txt_records(self, name: str) -> list[str]:
        raise DomainLookupFailed(f"DNS could not be asked for {name} just now (Timeout)")


def test_a_dns_failure_does_not_hide_the_web_proof(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    guard = NetGuard(LoopbackResolver(), allow_hosts=["brand.example"])
    verifier = DomainVerifier(FailingDns(), guard, scheme="http", port=site.port)
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        challenge = start_domain_verification(session, brand, organisation.id or 0, verifier)
        site.status, site.body = 200, challenge.file_content.encode()
        check_domain_verification(session, brand, organisation.id or 0, verifier)
        assert organisation.domain_verified


def test_a_dns_failure_without_a_web_proof_says_to_try_again(
    db_engine: Engine, verify_email: VerifyEmail, site: WebSite
) -> None:
    guard = NetGuard(LoopbackResolver(), allow_hosts=["brand.example"])
    verifier = DomainVerifier(FailingDns(), guard, scheme="http", port=site.port)
    with Session(db_engine) as session:
        brand, organisation = _brand(session, verify_email, "b@brand.example", "brand.example")
        start_domain_verification(session, brand, organisation.id or 0, verifier)
        with pytest.raises(DomainLookupFailed, match="DNS could not be asked") as failed:
            check_domain_verification(session, brand, organisation.id or 0, verifier)
        assert not organisation.domain_verified
    assert failed.value.status_code == 503
