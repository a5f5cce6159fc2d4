"""The words that licensing's and settlement's sentences set into place, as messages to translate.

A state or a sale type inside a sentence is itself a message (`Message(N_("pending payment"))`),
so a Chinese sentence carries a Chinese word and an English one reads "pending payment", not
"pending_payment". Lists of them are joined by `registry.messages.listed`, so that each language
writes its own separator.
"""

from __future__ import annotations

from typing import Final

from registry.messages import N_, Message, Param

# Every state of a contract version, an offer or a grant, and every sale type, by its value.
# No "open": an open offer is never refused for its state, and the catalogs' "open" is a case's.
_WORDS: Final = {
    "draft": N_("draft"),
    "active": N_("active"),
    "superseded": N_("superseded"),
    "withdrawn": N_("withdrawn"),
    "closed": N_("closed"),
    "pending_payment": N_("pending payment"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "refunded": N_("refunded"),
    "retail": N_("retail"),
    "wholesale": N_("wholesale"),
    "buyout": N_("buyout"),
    "retroactive": N_("retroactive"),
}


def in_words(value: str) -> Param:
    """A state or sale type as a word the catalogs translate; any other value as written."""
    word = _WORDS.get(value)
    return value if word is None else Message(word)


def located(where: Param, problem: Param) -> Message:
    """A problem with where it is: "retail.tiers: at least one tier is required"."""
    return Message(N_("%(field)s: %(problem)s"), {"field": where, "problem": problem})
