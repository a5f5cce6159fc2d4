"""How contract documents name registered works and accounts, and who may act for an account.

A work is `work-<id>`; a party's account is `acct:<email>` of a user, or `platform:<name>` for
the platform, for which only an administrator acts.
"""

from __future__ import annotations

from registry.models import Role, User

WORK_REFERENCE_PREFIX = "work-"
PLATFORM_ACCOUNT_PREFIX = "platform:"


def work_reference(work_id: int) -> str:
    """Return how contract documents name a registered work."""
    return f"{WORK_REFERENCE_PREFIX}{work_id}"


def account_reference(user: User) -> str:
    """Return how contract documents name a user's account."""
    return f"acct:{user.email}"


def referenced_work_id(reference: str) -> int | None:
    """Return the id of the registered work a reference names, or None if it names none."""
    digits = reference.removeprefix(WORK_REFERENCE_PREFIX)
    if reference.startswith(WORK_REFERENCE_PREFIX) and digits.isdigit():
        return int(digits)
    return None


def may_act_for(actor: User, account: str) -> bool:
    """Return whether the actor may consent for a party with this account."""
    if account.startswith(PLATFORM_ACCOUNT_PREFIX):
        return actor.has_role(Role.ADMIN)
    return account == account_reference(actor)
