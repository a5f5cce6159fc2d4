"""Account endpoints: sign-up and email verification, sign-in and sign-out (here or everywhere),
API keys for scripts, organisations and the verification of their domains."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from frontend.deps import (
    CurrentUser,
    SameOrigin,
    ServicesDep,
    SessionDep,
    clear_session_cookie,
    cookie_session_token,
    csrf_token_for,
    open_session,
    set_session_cookie,
)
from registry.accounts.domains import (
    DomainChallenge,
    check_domain_verification,
    start_domain_verification,
)
from registry.accounts.repository import api_keys_of, organisations_of
from registry.accounts.service import (
    SIGN_UP_RECEIVED,
    create_api_key,
    create_organisation,
    end_all_login_sessions,
    end_login_session,
    revoke_api_key,
    self_assignable_roles,
)
from registry.accounts.service import sign_up as sign_up_user
from registry.accounts.verification import confirm_email, send_verification_link
from registry.bounds import RecordId
from registry.errors import BadRequest
from registry.models import Organisation, User, persisted_id
from registry.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    DomainChallengePublic,
    EmailVerificationConfirm,
    EmailVerificationSent,
    Login,
    OrganisationCreate,
    OrganisationPublic,
    SessionsEnded,
    SessionStarted,
    SignUpReceived,
    UserCreate,
    UserPublic,
)

router = APIRouter(tags=["accounts"])


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=persisted_id(user),
        email=user.email,
        display_name=user.display_name,
        roles=user.roles,
        email_verified=user.email_verified,
    )


def organisation_public(organisation: Organisation) -> OrganisationPublic:
    return OrganisationPublic(
        id=persisted_id(organisation),
        name=organisation.name,
        domain=organisation.domain,
        domain_verified=organisation.domain_verified,
    )


def challenge_public(challenge: DomainChallenge) -> DomainChallengePublic:
    return DomainChallengePublic.model_validate(challenge, from_attributes=True)


@router.post("/users", status_code=202, dependencies=[SameOrigin])
def sign_up(body: UserCreate, session: SessionDep, services: ServicesDep) -> SignUpReceived:
    """Create an account. The answer is the same whether or not the address already had one,
    so sign-up cannot be used to learn who has an account; sign in, then `GET /me` gives the id.
    A malformed address, a weak password or an unknown role is still refused with 422 or 400.
    A new account is mailed a link that verifies its address (when the server sends email).
    """
    user = sign_up_user(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        roles=self_assignable_roles(body.roles),
    )
    mail = services.verification_mail
    if user is not None and mail.mailer is not None:
        send_verification_link(session, user, mail)
    return SignUpReceived(detail=SIGN_UP_RECEIVED)


@router.post(
    "/me/email-verification",
    status_code=202,
    responses={429: {"description": "A link was sent too recently; see the Retry-After header"}},
)
def resend_verification(
    user: CurrentUser, session: SessionDep, services: ServicesDep
) -> EmailVerificationSent:
    """Mail the caller a new link that verifies their address (once a minute, five a day)."""
    send_verification_link(session, user, services.verification_mail)
    return EmailVerificationSent(
        detail=f"A new verification link is on its way to {user.email}: open it within two days."
    )


@router.post("/email-verifications")
def verify_email(body: EmailVerificationConfirm, session: SessionDep) -> UserPublic:
    """Confirm an address with the token from the emailed link; no sign-in needed, the token is
    the proof."""
    return user_public(confirm_email(session, body.token))


@router.post(
    "/sessions",
    dependencies=[SameOrigin],
    responses={
        401: {"description": "The email address or the password is wrong"},
        429: {"description": "Too many failed sign-ins; see the Retry-After header"},
    },
)
def start_session(
    body: Login, request: Request, services: ServicesDep, response: Response
) -> SessionStarted:
    """Start a cookie session; unsafe requests made with the cookie must echo the CSRF token.

    Failed sign-ins are throttled per email address and per client address (429 with
    Retry-After). Signing in replaces this client's previous session but leaves the user's
    other sessions valid; `DELETE /sessions` ends them all.
    """
    token = open_session(request, services, body.email, body.password)
    set_session_cookie(request, response, services, token)
    return SessionStarted(csrf_token=csrf_token_for(services, token))


@router.delete("/sessions/current")
def end_session(
    user: CurrentUser,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    response: Response,
) -> SessionsEnded:
    """Sign out: end the session this request is made in (its cookie stops working at once)."""
    token = cookie_session_token(request)
    if token is None:
        raise BadRequest(
            "This request is authenticated with an API key, not a sign-in session, so there is "
            "no session to end. To stop a key working, revoke it: DELETE /api/v1/api-keys/{id}."
        )
    end_login_session(session, token)
    clear_session_cookie(request, response, services)
    return SessionsEnded(ended=1)


@router.delete("/sessions")
def end_every_session(
    user: CurrentUser,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    response: Response,
) -> SessionsEnded:
    """Sign out everywhere: end every session of the user, in every browser and device.

    API keys are not sessions and keep working; revoke them one by one.
    """
    ended = end_all_login_sessions(session, user)
    clear_session_cookie(request, response, services)
    return SessionsEnded(ended=ended)


@router.post("/api-keys", status_code=201)
def issue_api_key(body: ApiKeyCreate, user: CurrentUser, session: SessionDep) -> ApiKeyIssued:
    return ApiKeyIssued(api_key=create_api_key(session, user, body.name))


@router.get("/api-keys")
def list_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKeyPublic]:
    """The caller's keys (never the secret part)."""
    return [
        ApiKeyPublic.model_validate(key, from_attributes=True) for key in api_keys_of(session, user)
    ]


@router.delete("/api-keys/{key_id}")
def revoke(key_id: RecordId, user: CurrentUser, session: SessionDep) -> ApiKeyPublic:
    """Revoke a key at once; requests with it are refused from the next one on."""
    return ApiKeyPublic.model_validate(revoke_api_key(session, user, key_id), from_attributes=True)


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return user_public(user)


@router.post("/organisations", status_code=201)
def add_organisation(
    body: OrganisationCreate, user: CurrentUser, session: SessionDep
) -> OrganisationPublic:
    """A brand's organisation; license checks recognise its domain as the licensee's site."""
    return organisation_public(create_organisation(session, user, body.name, body.domain))


@router.get("/organisations")
def my_organisations(user: CurrentUser, session: SessionDep) -> list[OrganisationPublic]:
    return [organisation_public(o) for o in organisations_of(session, user)]


@router.post("/organisations/{organisation_id}/domain-verification")
def start_domain_check(
    organisation_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> DomainChallengePublic:
    """The token to publish for the organisation's domain: a DNS TXT record or a web file."""
    return challenge_public(
        start_domain_verification(session, user, organisation_id, services.domain_verifier)
    )


@router.post("/organisations/{organisation_id}/domain-verification/check")
def check_domain(
    organisation_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> DomainChallengePublic:
    """Look for the published token now; 422 says where it was looked for when not found."""
    return challenge_public(
        check_domain_verification(session, user, organisation_id, services.domain_verifier)
    )
