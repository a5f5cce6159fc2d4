"""A new password is at least MIN_LENGTH characters besides surrounding spaces and is not one of
the most common passwords.

The rule applies when a password is chosen, never when one is checked: an account made under an
older, weaker rule still signs in.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from registry.errors import Invalid
from registry.messages import N_

MIN_LENGTH = 10
_COMMON_LIST = "common-passwords.txt"


class WeakPassword(Invalid):
    code = "password_weak"


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (lower case; its header names the source), read once."""
    text = files("registry.accounts").joinpath(_COMMON_LIST).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_new_password(password: str) -> None:
    """Refuse a password a person should not choose; the message says how to pick a better one."""
    # Surrounding spaces do not count: eight spaces, or "password" padded to ten, are refused.
    meaningful = password.strip()
    if len(meaningful) < MIN_LENGTH:
        raise WeakPassword(
            N_(
                "choose a password of at least %(count)s characters, not counting spaces at "
                "either end (a few unrelated words make a good one)"
            ),
            count=MIN_LENGTH,
        )
    if meaningful.lower() in common_passwords():
        raise WeakPassword(
            N_(
                "this password is one of the most commonly used ones, so it is easy to guess: "
                "choose another"
            )
        )
