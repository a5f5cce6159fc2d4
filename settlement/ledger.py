"""Every journal entry's lines sum to zero in each currency; entries are only ever added.

The ledger's invariants, enforced where each one is written and tested by a seeded simulation
(tests/unit/settlement/test_ledger_simulation.py) that replays exactly from its seed:

1. **Balanced.** A journal entry's lines sum to zero per currency. `EntryDraft` refuses to exist
   otherwise; the write path re-reads the stored lines and checks again before the transaction
   may commit; on PostgreSQL a deferred constraint trigger (created by the migration) refuses
   the commit of any unbalanced entry, whatever code wrote it.
2. **Append-only.** Neither entries nor lines are ever updated or deleted (database triggers
   refuse it on SQLite and PostgreSQL). A mistake is corrected by a reversing entry that names
   the entry it reverses and carries its lines negated.
3. **Exactly once.** Every entry has an external key (a Stripe event id, a payment intent id, a
   sales report id); posting the same key again with the same content answers the stored
   entry, with different content it is refused (409), so a retried or replayed delivery never
   posts twice.
4. **Accounted to the party.** For every party, the balance of its payable account equals what
   splits allocated to it, less what was paid out, held, or reversed (refunds, corrections).

Amounts are signed integer minor units: a positive amount debits the account, a negative one
credits it. An account's balance is the sum of its lines; liabilities (what the platform owes a
party) therefore carry negative balances, shown as positive "owed" amounts by the service.
Each amount is bounded by `MAX_AMOUNT_MINOR` so that every sum fits the database's 64-bit
integers with room to spare.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from licensing.money import Money
from registry.log.events import canonical_json
from registry.messages import N_
from settlement.errors import InvalidAccountError, LedgerIntegrityError

MAX_EXTERNAL_KEY = 200
MAX_ACCOUNT_CODE = 320
_WHITESPACE = re.compile(r"\s")


class PlatformAccount(StrEnum):
    """The platform's own accounts."""

    STRIPE_CLEARING = "stripe_clearing"  # money held at the payment processor
    ROYALTIES_RECEIVABLE = "royalties_receivable"  # royalties licensees reported and owe
    REVENUE = "revenue"  # the platform's fees from splits
    PROCESSOR_FEES = "processor_fees"  # what the processor charged
    REFUNDS = "refunds"  # money returned to payers
    ABSORBED_LOSSES = "absorbed_losses"  # what a refund could not claw back from parties


class PartyAccount(StrEnum):
    """The accounts every party (named by its contract account reference) holds."""

    PAYABLE = "payable"  # owed to the party and free to pay out
    HELD = "held"  # owed but held (a dispute)
    PAID_OUT = "paid_out"  # payouts on their way to the party


def platform_account(kind: PlatformAccount) -> str:
    """Return the code of one of the platform's accounts."""
    return f"platform:{kind.value}"


def party_account(account_reference: str, kind: PartyAccount) -> str:
    """Return the code of a party's account; the platform party's share is platform revenue."""
    if not account_reference or _WHITESPACE.search(account_reference):
        raise InvalidAccountError(
            N_("party account %(account)s is not a reference"),
            account=repr(account_reference[:80]),
        )
    if account_reference.startswith("platform:"):
        return platform_account(PlatformAccount.REVENUE)
    code = f"party:{account_reference}:{kind.value}"
    if len(code) > MAX_ACCOUNT_CODE:
        raise InvalidAccountError(
            N_("party account %(account)s… is too long"), account=repr(account_reference[:80])
        )
    return code


@dataclass(frozen=True, slots=True, order=True)
class Posting:
    """One line of an entry: an account, a currency and a signed amount (debit positive)."""

    account: str
    currency: str
    amount_minor: int

    def __post_init__(self) -> None:
        # Money refuses non-integers and amounts beyond MAX_AMOUNT_MINOR.
        Money(self.amount_minor, self.currency)
        if not self.account or len(self.account) > MAX_ACCOUNT_CODE:
            raise InvalidAccountError(
                N_("account code %(account)s is empty or too long"), account=repr(self.account[:80])
            )


def debit(account: str, amount: Money) -> Posting:
    return Posting(account, amount.currency, amount.amount_minor)


def credit(account: str, amount: Money) -> Posting:
    return Posting(account, amount.currency, -amount.amount_minor)


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """A journal entry about to be posted: it cannot be built unbalanced.

    Lines on the same account and currency are merged and zero lines dropped, so two drafts
    that move the same money have the same lines and the same digest.
    """

    external_key: str
    kind: str
    postings: tuple[Posting, ...]
    reverses_key: str | None = None
    grant_id: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.external_key) <= MAX_EXTERNAL_KEY:
            raise LedgerIntegrityError(
                N_("external key must be 1-%(most)s characters"), most=MAX_EXTERNAL_KEY
            )
        merged: dict[tuple[str, str], int] = defaultdict(int)
        for posting in self.postings:
            merged[(posting.account, posting.currency)] += posting.amount_minor
        lines = tuple(
            Posting(account, currency, amount)
            for (account, currency), amount in sorted(merged.items())
            if amount
        )
        object.__setattr__(self, "postings", lines)
        unbalanced = imbalances(lines)
        if unbalanced:
            raise LedgerIntegrityError(
                N_("entry %(entry)s does not balance: %(imbalances)s"),
                entry=self.external_key,
                imbalances=", ".join(
                    f"{amount:+d} {currency}" for currency, amount in unbalanced.items()
                ),
            )
        if not lines:
            raise LedgerIntegrityError(
                N_("entry %(entry)s moves no money"), entry=self.external_key
            )

    def digest(self) -> str:
        """SHA-256 of the entry's canonical content: what "the same entry" means."""
        content = {
            "external_key": self.external_key,
            "kind": self.kind,
            "reverses": self.reverses_key,
            "grant_id": self.grant_id,
            "lines": [[p.account, p.currency, p.amount_minor] for p in self.postings],
        }
        return hashlib.sha256(canonical_json(content)).hexdigest()

    def reversal(self, external_key: str, kind: str = "reversal") -> EntryDraft:
        """Return the entry that undoes this one: the same lines, negated."""
        return EntryDraft(
            external_key=external_key,
            kind=kind,
            postings=tuple(Posting(p.account, p.currency, -p.amount_minor) for p in self.postings),
            reverses_key=self.external_key,
            grant_id=self.grant_id,
        )


def imbalances(postings: Iterable[Posting]) -> Mapping[str, int]:
    """Return each currency whose lines do not sum to zero, with the sum."""
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount_minor
    return {currency: total for currency, total in sorted(totals.items()) if total}
