"""Accounts: users with roles, argon2 passwords, hashed API keys, login sessions and brand
organisations (whose web domain license checks recognise as the licensee's site).

A sub-package of the registry shaped like `registry.monitoring` and `registry.notifications`:
`service.py` holds the use cases, `repository.py` every query and the one scoping rule (a
user's own API keys). The tables stay in `registry.models`, beside the works that reference
users. What other packages call is re-exported here: `from registry.accounts import create_user`.
"""

from registry.accounts.repository import api_keys_of, organisations_of
from registry.accounts.service import (
    authenticate,
    create_api_key,
    create_organisation,
    create_user,
    end_login_session,
    find_user_by_email,
    organisation_domain,
    revoke_api_key,
    start_login_session,
    user_for_api_key,
    user_for_login_session,
)

__all__ = [
    "api_keys_of",
    "authenticate",
    "create_api_key",
    "create_organisation",
    "create_user",
    "end_login_session",
    "find_user_by_email",
    "organisation_domain",
    "organisations_of",
    "revoke_api_key",
    "start_login_session",
    "user_for_api_key",
    "user_for_login_session",
]
