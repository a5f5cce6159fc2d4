"""How each money event becomes a balanced journal entry: payments, royalties, payouts, refunds.

Pure functions over `settlement.ledger` drafts. A split's allocations go to each party's
payable account (the platform party's to platform revenue); what a payer paid lands in Stripe
clearing, less the processor's fee, which the platform bears. A refund reverses the split in
proportion to the amount refunded; a party's part comes first out of what is still held of its
share of that payment (a dispute), then out of its payable; what it no longer has (already paid
out) is absorbed by the platform as a loss rather than driving the party's payable negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from licensing.apportion import apportion
from licensing.money import Money
from settlement.ledger import (
    EntryDraft,
    PartyAccount,
    PlatformAccount,
    Posting,
    credit,
    debit,
    party_account,
    platform_account,
)


@dataclass(frozen=True, slots=True)
class Share:
    """One allocation of a split: the party's account reference (None: the payer's own) and
    its amount."""

    account: str | None
    amount: Money


def shares_of(execution: Mapping[str, object]) -> list[Share]:
    """Return the allocations of a stored execution (`Execution.to_json`) as shares."""
    currency = str(execution["currency"])
    lines = execution["allocations"]
    if not isinstance(lines, list):
        raise TypeError("execution allocations must be a list")
    return [
        Share(
            line.get("account") if isinstance(line.get("account"), str) else None,
            Money(int(line["amount_minor"]), currency),
        )
        for line in lines
    ]


REPORT_KEY_PREFIX = "royalty-report:"


def payment_entry_key(payment_intent_id: str) -> str:
    """The ledger key of the entry that settled a payment (a grant's price or a royalty invoice)."""
    return f"payment:{payment_intent_id}"


def report_entry_key(grant_id: int, report_id: str) -> str:
    """The ledger key of a report's royalty entry."""
    return f"{REPORT_KEY_PREFIX}{grant_id}:{report_id}"


def parse_report_entry_key(external_key: str) -> tuple[int, str] | None:
    """The grant and report a report's royalty entry key names; None for any other key."""
    grant, _, report_id = external_key.removeprefix(REPORT_KEY_PREFIX).partition(":")
    if not external_key.startswith(REPORT_KEY_PREFIX) or not grant.isdigit() or not report_id:
        return None
    return int(grant), report_id


def report_shares(executions: Iterable[Mapping[str, Any]], currency: str) -> list[Share]:
    """What a sales report's lines (their stored executions) allocate to each account, summed.

    Lines that go back to the licensee (recoupment of an advance) name no account and are not
    owed by anyone.
    """
    owed: dict[str, int] = defaultdict(int)
    for execution in executions:
        for line in execution["allocations"]:
            account = line.get("account")
            if isinstance(account, str) and line["amount_minor"]:
                owed[account] += int(line["amount_minor"])
    return [Share(account, Money(amount, currency)) for account, amount in sorted(owed.items())]


def _credits(shares: Sequence[Share]) -> list[Posting]:
    return [
        credit(party_account(share.account, PartyAccount.PAYABLE), share.amount)
        for share in shares
        if share.account is not None
    ]


def payment_entry(
    external_key: str, grant_id: int, paid: Money, shares: Sequence[Share], fee: Money
) -> EntryDraft:
    """A payment that settles a grant: clearing receives it, the split is owed to the parties."""
    clearing = platform_account(PlatformAccount.STRIPE_CLEARING)
    postings = [debit(clearing, paid), *_credits(shares)]
    if fee.amount_minor:
        postings += [
            debit(platform_account(PlatformAccount.PROCESSOR_FEES), fee),
            credit(clearing, fee),
        ]
    return EntryDraft(external_key, "payment", tuple(postings), grant_id=grant_id)


def royalty_entry(external_key: str, grant_id: int, shares: Sequence[Share]) -> EntryDraft:
    """Royalties a licensee reported: owed by the licensee, owed on to the parties.

    Lines that go back to the licensee (recoupment of an advance) are not owed by anyone.
    """
    owed = [share for share in shares if share.account is not None]
    currency = shares[0].amount.currency if shares else "USD"
    total = Money(sum(share.amount.amount_minor for share in owed), currency)
    receivable = platform_account(PlatformAccount.ROYALTIES_RECEIVABLE)
    return EntryDraft(
        external_key, "royalty", (debit(receivable, total), *_credits(owed)), grant_id=grant_id
    )


def royalty_payment_entry(external_key: str, grant_id: int, paid: Money, fee: Money) -> EntryDraft:
    """A licensee paid a royalty invoice: clearing receives it, the receivable is settled.

    The parties' payables were credited when the report was posted (`royalty_entry`); the
    payment changes what backs them (cash at the processor instead of a licensee's debt), not
    what they are owed.
    """
    clearing = platform_account(PlatformAccount.STRIPE_CLEARING)
    postings = [
        debit(clearing, paid),
        credit(platform_account(PlatformAccount.ROYALTIES_RECEIVABLE), paid),
    ]
    if fee.amount_minor:
        postings += [
            debit(platform_account(PlatformAccount.PROCESSOR_FEES), fee),
            credit(clearing, fee),
        ]
    return EntryDraft(external_key, "royalty_payment", tuple(postings), grant_id=grant_id)


def payout_entry(
    external_key: str, account_reference: str, amount: Money, grant_id: int | None = None
) -> EntryDraft:
    """A payout to a party: its payable moves to paid out; `grant_id` names the sale paid."""
    return EntryDraft(
        external_key,
        "payout",
        (
            debit(party_account(account_reference, PartyAccount.PAYABLE), amount),
            credit(party_account(account_reference, PartyAccount.PAID_OUT), amount),
        ),
        grant_id=grant_id,
    )


def hold_entry(external_key: str, account_reference: str, amount: Money) -> EntryDraft:
    """Hold part of what a party is owed (a dispute): payable moves to held."""
    return EntryDraft(
        external_key,
        "hold",
        (
            debit(party_account(account_reference, PartyAccount.PAYABLE), amount),
            credit(party_account(account_reference, PartyAccount.HELD), amount),
        ),
    )


@dataclass(frozen=True, slots=True)
class ReversedShare:
    """One party's part of a refund: how much of it comes back out of what is held of the
    party's share (a dispute), and how much the platform absorbs because the party no longer
    has it (already paid out); the rest comes out of its payable."""

    account: str
    amount: Money
    absorbed_minor: int
    held_minor: int = 0

    @property
    def payable_minor(self) -> int:
        """What the party gives back out of its payable."""
        return self.amount.amount_minor - self.held_minor - self.absorbed_minor


@dataclass(frozen=True, slots=True)
class Reversal:
    """What a refund takes back from each party of the split it reverses."""

    refunded: Money
    parts: tuple[ReversedShare, ...]

    @property
    def absorbed_minor(self) -> int:
        """What the platform bears as a loss in all."""
        return sum(part.absorbed_minor for part in self.parts)


def reversal_of(
    refunded: Money,
    paid: Money,
    shares: Sequence[Share],
    payable: Mapping[str, int],
    held: Mapping[str, int] | None = None,
) -> Reversal:
    """Reverse a paid split in proportion to `refunded`, rounded by largest remainder so the
    parts sum exactly to the refund. A party gives back first what is still held of its share
    of this payment (`held`, by account reference), then at most what it still has payable
    (`payable`); the platform absorbs the rest."""
    if not shares or paid.amount_minor <= 0:
        raise ValueError("a refund needs the payment's split")
    amounts = apportion(
        refunded.amount_minor,
        [refunded.amount_minor * share.amount.amount_minor for share in shares],
        paid.amount_minor,
    )
    revenue = platform_account(PlatformAccount.REVENUE)
    still_held = dict(held or {})
    remaining = dict(payable)
    parts: list[ReversedShare] = []
    for share, part in zip(shares, amounts, strict=True):
        if share.account is None or not part:
            continue
        from_held, available = 0, part
        if party_account(share.account, PartyAccount.PAYABLE) != revenue:
            from_held = max(0, min(part, still_held.get(share.account, 0)))
            still_held[share.account] = still_held.get(share.account, 0) - from_held
            available = max(0, min(part - from_held, remaining.get(share.account, 0)))
            remaining[share.account] = remaining.get(share.account, 0) - available
        parts.append(
            ReversedShare(
                share.account,
                Money(part, refunded.currency),
                absorbed_minor=part - from_held - available,
                held_minor=from_held,
            )
        )
    return Reversal(refunded, tuple(parts))


def refund_entry(external_key: str, grant_id: int, reversal: Reversal) -> EntryDraft:
    """A refund of part or all of a payment: clearing pays the refund back, each party gives
    its part out of its held account (what a dispute held of it) and its payable, the
    platform's own part is contra-revenue and the absorbed rest a loss."""
    currency = reversal.refunded.currency
    revenue = platform_account(PlatformAccount.REVENUE)
    postings = [credit(platform_account(PlatformAccount.STRIPE_CLEARING), reversal.refunded)]
    for part in reversal.parts:
        code = party_account(part.account, PartyAccount.PAYABLE)
        if code == revenue:
            # The platform gives back its fee: a contra-revenue line, so revenue stays as earned.
            postings.append(debit(platform_account(PlatformAccount.REFUNDS), part.amount))
            continue
        if part.held_minor:
            held = party_account(part.account, PartyAccount.HELD)
            postings.append(debit(held, Money(part.held_minor, currency)))
        if part.payable_minor:
            postings.append(debit(code, Money(part.payable_minor, currency)))
    if reversal.absorbed_minor:
        losses = platform_account(PlatformAccount.ABSORBED_LOSSES)
        postings.append(debit(losses, Money(reversal.absorbed_minor, currency)))
    return EntryDraft(external_key, "refund", tuple(postings), grant_id=grant_id)


def release_entry(external_key: str, account_reference: str, amount: Money) -> EntryDraft:
    """A dispute rejected: what was held for a party becomes payable to it again."""
    return EntryDraft(
        external_key,
        "release",
        (
            debit(party_account(account_reference, PartyAccount.HELD), amount),
            credit(party_account(account_reference, PartyAccount.PAYABLE), amount),
        ),
    )


def redirect_entry(
    external_key: str, account_reference: str, rightful_owner: str, amount: Money
) -> EntryDraft:
    """A dispute upheld: what was held for a party is owed to the rightful owner instead."""
    return EntryDraft(
        external_key,
        "redirect",
        (
            debit(party_account(account_reference, PartyAccount.HELD), amount),
            credit(party_account(rightful_owner, PartyAccount.PAYABLE), amount),
        ),
    )
