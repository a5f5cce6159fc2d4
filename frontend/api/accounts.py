"""Account endpoints: sign-up, sign-in for pages, API keys for scripts."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frontend.deps import CurrentUser, ServicesDep, SessionDep, csrf_token_for, set_session_cookie
from registry.accounts.repository import api_keys_of, organisations_of
from registry.accounts.service import (
    SIGN_UP_RECEIVED,
    authenticate,
    create_api_key,
    create_organisation,
    revoke_api_key,
    self_assignable_roles,
    start_login_session,
)
from registry.accounts.service import sign_up as sign_up_user
from registry.models import User, persisted_id
from registry.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    Login,
    OrganisationCreate,
    OrganisationPublic,
    SessionStarted,
    SignUpReceived,
    UserCreate,
    UserPublic,
)

router = APIRouter(tags=["accounts"])


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=persisted_id(user), email=user.email, display_name=user.display_name, roles=user.roles
    )


@router.post("/users", status_code=202)
def sign_up(body: UserCreate, session: SessionDep) -> SignUpReceived:
    """Create an account. The answer is the same whether or not the address already had one,
    so sign-up cannot be used to learn who has an account; sign in, then `GET /me` gives the id.
    A malformed address, a weak password or an unknown role is still refused with 422 or 400.
    """
    sign_up_user(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        roles=self_assignable_roles(body.roles),
    )
    return SignUpReceived(detail=SIGN_UP_RECEIVED)


@router.post("/sessions")
def sign_in(
    body: Login, session: SessionDep, services: ServicesDep, response: Response
) -> SessionStarted:
    """Start a cookie session; unsafe requests made with the cookie must echo the CSRF token."""
    user = authenticate(session, body.email, body.password)
    token = start_login_session(session, user)
    set_session_cookie(response, services, token)
    return SessionStarted(csrf_token=csrf_token_for(services, token))


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
def revoke(key_id: int, user: CurrentUser, session: SessionDep) -> ApiKeyPublic:
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
    organisation = create_organisation(session, user, body.name, body.domain)
    return OrganisationPublic(
        id=persisted_id(organisation), name=organisation.name, domain=organisation.domain
    )


@router.get("/organisations")
def my_organisations(user: CurrentUser, session: SessionDep) -> list[OrganisationPublic]:
    return [
        OrganisationPublic(id=persisted_id(o), name=o.name, domain=o.domain)
        for o in organisations_of(session, user)
    ]
