"""Account use cases: sign-up, argon2 password checks, hashed API keys, login sessions and
brand organisations. Queries live in `registry.accounts.repository`; nothing here commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.accounts import repository
from registry.accounts.domains import is_public_suffix, refuse_domain_taken
from registry.accounts.passwords import check_new_password
from registry.accounts.throttle import LoginThrottle
from registry.accounts.verification import require_verified_email
from registry.errors import BadRequest, Conflict, Forbidden, Invalid, Unauthorized
from registry.messages import N_
from registry.models import (
    ApiKey,
    LoginSession,
    Membership,
    Organisation,
    Role,
    User,
    persisted_id,
    utcnow,
)
from similarity.crawl.urls import InvalidUrlError, canonical_host, is_ip_address

API_KEY_PREFIX = "cmk_"
SESSION_LIFETIME = timedelta(days=14)
# Argon2id at the library's defaults (RFC 9106's low-memory choice: 3 passes over 64 MiB) until
# the app sets its configured cost. A hash keeps the cost it was made with, so changing the cost
# never locks anyone out.
_password_hasher = PasswordHasher()


def set_password_cost(*, time_cost: int, memory_kib: int) -> None:
    """The argon2 cost of the password hashes this process makes from now on."""
    global _password_hasher  # noqa: PLW0603 - one choice for the process, made at start-up
    _password_hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def _token_digest(token: str) -> str:
    # API keys and session tokens are 256-bit random values: a fast hash is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidEmail(Invalid):
    code = "email_invalid"


_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def organisation_domain(domain: str) -> str:
    """The canonical host (`canonical_host`) of an organisation's web domain, e.g. brand.example.

    On top of the one host rule, an organisation's domain must be a domain name typed alone: a
    URL, a port, an IP address, a single label such as `localhost` or a public suffix such as
    `co.uk` (which would cover every site under it) is refused.
    """
    try:
        host = canonical_host(domain, host_only=True)
    except InvalidUrlError as error:
        raise BadRequest(
            N_("not a domain name: %(domain)s (%(reason)s)"),
            domain=repr(domain[:100]),
            reason=str(error),
        ) from None
    if is_ip_address(host):
        raise BadRequest(
            N_("not a domain name: %(domain)s (IP addresses are not domains)"),
            domain=repr(domain[:100]),
        )
    labels = host.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise BadRequest(
            N_("not a domain name: %(domain)s (expected e.g. brand.example)"),
            domain=repr(domain[:100]),
        )
    if is_public_suffix(host):
        raise BadRequest(
            N_(
                "%(host)s is a public suffix, under which anyone may register a site, so no "
                "organisation can own it: give your own domain, e.g. yourbrand.%(host)s"
            ),
            host=host,
        )
    return host


def normalise_email(email: str) -> str:
    """One address in canonical form (lower case, Unicode NFC), or Invalid saying what is wrong.

    email-validator parses the address by the RFCs, so `a@@b.c` or a comma-separated list is one
    invalid address, not something that contains an @. Nothing is looked up in DNS (no network
    at sign-up, and a temporary DNS failure must not refuse a person). `.test` domains (RFC 2606)
    are allowed: demo and test accounts use them, and no mail depends on them being deliverable.
    """
    try:
        parsed = validate_email(email.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise InvalidEmail(
            N_("not a valid email address: %(email)s (%(reason)s)"),
            email=repr(email[:100]),
            reason=str(error),
        ) from None
    return parsed.normalized.lower()


def _lookup_key(email: str) -> str:
    # Sign-in looks up what the person typed: a malformed address simply finds no one.
    try:
        return normalise_email(email)
    except InvalidEmail:
        return email.strip().lower()


def self_assignable_roles(names: Iterable[str]) -> set[Role]:
    """The roles a person may give themselves at sign-up: any but admin."""
    wanted = set(names)
    unknown = sorted(wanted - {role.value for role in Role if role != Role.ADMIN})
    if unknown:
        raise BadRequest(
            N_("unknown or not self-assignable roles: %(roles)s"), roles=", ".join(unknown)
        )
    return {Role(name) for name in wanted}


def hash_password(password: str) -> str:
    """The argon2 hash a password is stored as."""
    return _password_hasher.hash(password)


_LOCALE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _checked_locale(locale: str | None) -> str | None:
    if locale is not None and not _LOCALE_TAG.match(locale):
        raise BadRequest(
            N_("not a language tag: %(locale)s (expected e.g. en or zh)"),
            locale=repr(locale[:20]),
        )
    return locale


def set_locale(session: Session, user: User, locale: str) -> None:
    """Remember the language the user chose (their pages and emails use it)."""
    user.locale = _checked_locale(locale)
    session.add(user)
    session.flush()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str = "",
    roles: set[Role] | None = None,
    locale: str | None = None,
) -> User:
    """Create a user; refuses a second account with the same email (operators and the CLI: the
    public sign-up is `sign_up`, which does not say whether an address is taken)."""
    address = normalise_email(email)
    check_new_password(password)
    if repository.user_by_email(session, address) is not None:
        raise Conflict(N_("an account with email %(email)s already exists"), email=address)
    user = User(
        email=address,
        display_name=display_name or address.split("@")[0],
        password_hash=hash_password(password),
        roles=sorted(role.value for role in (roles or {Role.CREATOR})),
        locale=_checked_locale(locale),
    )
    session.add(user)
    session.flush()
    return user


SIGN_UP_RECEIVED = (
    "If this email address had no account, its account is ready: sign in with the password you "
    "just chose. If it already had one, that account is unchanged: sign in with its own password."
)


def sign_up(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str = "",
    roles: set[Role],
    locale: str | None = None,
) -> User | None:
    """Self-service sign-up that answers alike whether or not the address is taken.

    Returns the new user, or None when the address already has an account; the caller must tell
    the person the same thing in both cases, so the answer is no way to learn who has an account
    here. `locale` is the language the person signed up in: their emails are written in it.
    The taken case spends an argon2 hash as the new one does, and a concurrent sign-up with
    the same address (the unique index refuses the second insert) is the taken case too.
    Malformed addresses and weak passwords are still refused: that says nothing about others.
    """
    address = normalise_email(email)
    check_new_password(password)
    if repository.user_by_email(session, address) is not None:
        _password_hasher.hash(password)
        return None
    try:
        with session.begin_nested():
            return create_user(
                session,
                email=address,
                password=password,
                display_name=display_name,
                roles=roles,
                locale=locale,
            )
    except IntegrityError:
        return None


def find_user_by_email(session: Session, email: str) -> User | None:
    return repository.user_by_email(session, _lookup_key(email))


WRONG_CREDENTIALS = N_("The email address or the password is wrong: check both and try again.")


def authenticate(session: Session, email: str, password: str) -> User:
    """The user with these credentials; the same error for unknown email and wrong password."""
    user = find_user_by_email(session, email)
    if user is None:
        _password_hasher.hash(password)  # spend the same time as a real check
        raise Unauthorized(WRONG_CREDENTIALS)
    try:
        _password_hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized(WRONG_CREDENTIALS) from None
    return user


def sign_in(
    session: Session, throttle: LoginThrottle, *, email: str, password: str, address: str
) -> User:
    """`authenticate` behind the sign-in throttle, for a person signing in from `address`.

    Raises TooManyRequests, before any password is checked, while the account's or the
    address's budget of failures is spent. Wrong credentials are recorded in `session` and raise
    Unauthorized: the caller must commit `session` even so (see `frontend.deps.open_session`),
    or the failure would not count.
    """
    key = _lookup_key(email)
    throttle.check(session, key, address)
    try:
        return authenticate(session, email, password)
    except Unauthorized:
        throttle.record_failure(session, key, address)
        raise


def create_api_key(session: Session, user: User, name: str) -> str:
    """A new API key for user; the plain key is returned once and only its hash is stored."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            user_id=persisted_id(user), name=name, prefix=token[:12], key_hash=_token_digest(token)
        )
    )
    session.flush()
    return token


def revoke_api_key(session: Session, user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys; another user's key id answers NotFound."""
    key = repository.owned_api_key(session, user, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


_UNKNOWN_KEY = N_("This API key is unknown or has been revoked: create a new one and use that.")


def user_for_api_key(session: Session, token: str) -> User:
    if not token.startswith(API_KEY_PREFIX):
        raise Unauthorized(
            N_(
                "This is not a Copymark API key (they start with cmk_): check that it was copied "
                "whole."
            )
        )
    key = repository.api_key_by_digest(session, _token_digest(token))
    if key is None or key.revoked_at is not None:
        raise Unauthorized(_UNKNOWN_KEY)
    user = repository.user_by_id(session, key.user_id)
    if user is None:
        raise Unauthorized(_UNKNOWN_KEY)
    return user


def start_login_session(session: Session, user: User) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            user_id=persisted_id(user),
            token_hash=_token_digest(token),
            expires_at=utcnow() + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


def user_for_login_session(session: Session, token: str) -> User | None:
    return repository.user_of_login_session(session, _token_digest(token), utcnow())


def end_login_session(session: Session, token: str) -> None:
    """End one session (sign out here); an unknown or already ended token is no error."""
    row = repository.login_session_by_digest(session, _token_digest(token))
    if row is not None:
        session.delete(row)
        session.flush()


def end_all_login_sessions(session: Session, user: User) -> int:
    """Sign out everywhere: end every login session of the user, returning how many ended.

    A new sign-in leaves the user's other sessions (other browsers, other devices) valid on
    purpose; this is how a person who suspects one of them ends them all. API keys are not
    sessions and stay valid: they are revoked one by one.
    """
    return repository.delete_login_sessions_of(session, user)


def create_organisation(
    session: Session, owner: User, name: str, domain: str | None
) -> Organisation:
    """A brand's organisation; license checks recognise its web domain as the licensee's once the
    owner verified it (`registry.accounts.domains`)."""
    if not owner.has_role(Role.BRAND):
        raise Forbidden(N_("only brand accounts create organisations"))
    require_verified_email(owner, N_("own an organisation"))
    host = organisation_domain(domain) if domain else None
    if host is not None:
        refuse_domain_taken(session, host, None)
    organisation = Organisation(name=name.strip(), domain=host)
    session.add(organisation)
    session.flush()
    session.add(
        Membership(
            user_id=persisted_id(owner), organisation_id=persisted_id(organisation), is_admin=True
        )
    )
    session.flush()
    return organisation
