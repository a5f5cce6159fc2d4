"""Journal entry drafts: balanced or refused, one digest for the same movement, bounded amounts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.errors import InvalidAmountError
from licensing.money import MAX_AMOUNT_MINOR, Money
from settlement.errors import InvalidAccountError, LedgerIntegrityError
from settlement.ledger import EntryDraft, PartyAccount, Posting, party_account
from settlement.postings import Share, refund_entry, reversal_of


def test_an_unbalanced_entry_cannot_be_drafted() -> None:
    with pytest.raises(LedgerIntegrityError, match=r"does not balance: \+5 USD"):
        EntryDraft("k", "payment", (Posting("a", "USD", 10), Posting("b", "USD", -5)))


def test_each_currency_balances_on_its_own() -> None:
    with pytest.raises(LedgerIntegrityError, match="does not balance"):
        EntryDraft("k", "payment", (Posting("a", "USD", 10), Posting("b", "EUR", -10)))


@given(st.permutations([("a", 7), ("b", -3), ("c", -4), ("a", 2), ("c", -2)]))
def test_the_digest_does_not_depend_on_line_order(lines: list[tuple[str, int]]) -> None:
    draft = EntryDraft("k", "payment", tuple(Posting(a, "USD", n) for a, n in lines))
    reference = EntryDraft(
        "k", "payment", (Posting("a", "USD", 9), Posting("b", "USD", -3), Posting("c", "USD", -6))
    )
    assert draft.digest() == reference.digest()


def test_an_amount_beyond_the_bound_is_refused_as_invalid() -> None:
    with pytest.raises(InvalidAmountError) as refused:
        Posting("a", "USD", MAX_AMOUNT_MINOR + 1)
    assert refused.value.status_code == 422


def test_a_party_reference_with_spaces_names_no_account() -> None:
    with pytest.raises(InvalidAccountError):
        party_account("acct:a b", PartyAccount.PAYABLE)


@given(
    paid=st.integers(1, 10**12),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=5),
    refunded_share=st.integers(1, 100),
    held=st.lists(st.integers(0, 10**12), min_size=5, max_size=5),
)
def test_a_refund_balances_and_absorbs_only_what_parties_no_longer_hold(
    paid: int, weights: list[int], refunded_share: int, held: list[int]
) -> None:
    total = sum(weights) or 1
    amounts = [paid * weight // total for weight in weights]
    amounts[0] += paid - sum(amounts)
    parties = [f"acct:p{n}" for n in range(len(amounts))]
    shares = [Share(p, Money(a, "USD")) for p, a in zip(parties, amounts, strict=True)]
    refunded = Money(max(1, paid * refunded_share // 100), "USD")
    payable = dict(zip(parties, held, strict=False))
    reversal = reversal_of(refunded, Money(paid, "USD"), shares, payable)
    draft = refund_entry("r", 1, reversal)
    lines = {p.account: p.amount_minor for p in draft.postings}
    assert lines["platform:stripe_clearing"] == -refunded.amount_minor
    for party in parties:
        taken = lines.get(f"party:{party}:payable", 0)
        assert 0 <= taken <= payable[party]
    assert sum(part.amount.amount_minor for part in reversal.parts) == refunded.amount_minor
    absorbed = lines.get("platform:absorbed_losses", 0)
    assert absorbed == reversal.absorbed_minor


@given(
    paid=st.integers(1, 10**12),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=5),
    refunded_share=st.integers(1, 100),
    payable=st.lists(st.integers(0, 10**12), min_size=5, max_size=5),
    held_share=st.lists(st.integers(0, 100), min_size=5, max_size=5),
)
def test_a_refund_takes_back_what_is_held_first_and_splits_as_it_would_unheld(
    paid: int,
    weights: list[int],
    refunded_share: int,
    payable: list[int],
    held_share: list[int],
) -> None:
    total = sum(weights) or 1
    amounts = [paid * weight // total for weight in weights]
    amounts[0] += paid - sum(amounts)
    parties = [f"acct:p{n}" for n in range(len(amounts))]
    shares = [Share(p, Money(a, "USD")) for p, a in zip(parties, amounts, strict=True)]
    refunded = Money(max(1, paid * refunded_share // 100), "USD")
    # What a dispute still holds of each party's share of this payment: some or all of it.
    held = {p: a * s // 100 for p, a, s in zip(parties, amounts, held_share, strict=False)}
    owed = dict(zip(parties, payable, strict=False))
    reversal = reversal_of(refunded, Money(paid, "USD"), shares, owed, held)
    unheld = reversal_of(refunded, Money(paid, "USD"), shares, dict.fromkeys(parties, paid))
    assert [(p.account, p.amount) for p in reversal.parts] == [
        (p.account, p.amount) for p in unheld.parts
    ]
    lines = {p.account: p.amount_minor for p in refund_entry("r", 1, reversal).postings}
    for part in reversal.parts:
        assert part.held_minor == min(part.amount.amount_minor, held[part.account])
        assert 0 <= part.payable_minor <= owed[part.account]
        given = part.held_minor + part.payable_minor + part.absorbed_minor
        assert given == part.amount.amount_minor
        assert lines.get(f"party:{part.account}:held", 0) == part.held_minor
        assert lines.get(f"party:{part.account}:payable", 0) == part.payable_minor
    assert lines.get("platform:absorbed_losses", 0) == reversal.absorbed_minor
