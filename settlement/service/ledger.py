"""Posting to the ledger: each entry balanced, stored once per external key, never changed.

The invariants are stated in `settlement.ledger`. Use cases take the session and never commit:
an entry is posted in the caller's transaction together with whatever it accounts for (a
grant's activation and its log leaf, a sales report), so neither exists without the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from licensing.money import Money
from registry.messages import N_
from registry.models import persisted_id, utcnow
from settlement import repository
from settlement.errors import EntryConflictError, LedgerIntegrityError
from settlement.ledger import EntryDraft, PartyAccount, Posting, party_account


@dataclass(frozen=True, slots=True)
class Posted:
    """An entry in the ledger; `replayed` when its key was already posted with this content."""

    entry_id: int
    external_key: str
    digest: str
    replayed: bool


def post_entry(session: Session, draft: EntryDraft) -> Posted:
    """Post one entry, or answer the stored one if its key was posted with the same content."""
    return post_entries(session, [draft])[0]


def post_entries(session: Session, drafts: Sequence[EntryDraft]) -> list[Posted]:
    """Post a batch of entries in the caller's transaction, each at most once.

    A key already posted with the same digest is answered as stored; with another digest, or
    twice in the batch with different content, the whole batch is refused (409). A race with
    another transaction posting the same key is settled by the unique key: the loser re-reads.
    """
    unique: dict[str, EntryDraft] = {}
    for draft in drafts:
        earlier = unique.setdefault(draft.external_key, draft)
        if earlier.digest() != draft.digest():
            raise EntryConflictError(
                N_("entry %(entry)s appears twice in one batch with different content"),
                entry=draft.external_key,
            )
    try:
        with session.begin_nested():
            stored = _post_new(session, list(unique.values()))
    except IntegrityError:
        stored = _post_new(session, list(unique.values()))
    return [stored[draft.external_key] for draft in drafts]


def _post_new(session: Session, drafts: list[EntryDraft]) -> dict[str, Posted]:
    existing = repository.entries_with_keys(session, [d.external_key for d in drafts])
    posted: dict[str, Posted] = {}
    fresh: list[EntryDraft] = []
    for draft in drafts:
        entry = existing.get(draft.external_key)
        if entry is None:
            fresh.append(draft)
        elif entry.digest != draft.digest():
            raise EntryConflictError(
                N_(
                    "entry %(entry)s was already posted with other content; "
                    "correct it with a reversing entry under a new key"
                ),
                entry=draft.external_key,
            )
        else:
            posted[draft.external_key] = Posted(
                persisted_id(entry), entry.external_key, entry.digest, replayed=True
            )
    if not fresh:
        return posted
    reversed_ids = _reversed_entry_ids(session, fresh)
    moment = utcnow()
    accounts = repository.account_ids(
        session, (line.account for draft in fresh for line in draft.postings)
    )
    digests = [draft.digest() for draft in fresh]
    entry_ids = repository.insert_entries(
        session,
        [
            {
                "external_key": draft.external_key,
                "kind": draft.kind,
                "digest": digest,
                "reverses_entry_id": reversed_ids.get(draft.external_key),
                "grant_id": draft.grant_id,
                "posted_at": moment,
            }
            for draft, digest in zip(fresh, digests, strict=True)
        ],
    )
    repository.insert_lines(
        session,
        [
            {
                "entry_id": entry_id,
                "account_id": accounts[line.account],
                "currency": line.currency,
                "amount_minor": line.amount_minor,
            }
            for entry_id, draft in zip(entry_ids, fresh, strict=True)
            for line in draft.postings
        ],
    )
    # Balanced in code already; checked again on what the database now holds, before commit.
    unbalanced = repository.unbalanced_entries(session, entry_ids)
    if unbalanced:
        raise LedgerIntegrityError(
            N_("stored entries do not balance: %(entries)s"), entries=str(unbalanced[:3])
        )
    for entry_id, draft, digest in zip(entry_ids, fresh, digests, strict=True):
        posted[draft.external_key] = Posted(entry_id, draft.external_key, digest, replayed=False)
    return posted


def _reversed_entry_ids(session: Session, drafts: list[EntryDraft]) -> dict[str, int]:
    keys = [draft.reverses_key for draft in drafts if draft.reverses_key is not None]
    if not keys:
        return {}
    originals = repository.entries_with_keys(session, keys)
    reversed_ids: dict[str, int] = {}
    for draft in drafts:
        if draft.reverses_key is None:
            continue
        original = originals.get(draft.reverses_key)
        if original is None:
            raise LedgerIntegrityError(
                N_("entry %(entry)s to reverse was never posted"), entry=draft.reverses_key
            )
        reversed_ids[draft.external_key] = persisted_id(original)
    return reversed_ids


def reversal_of(session: Session, external_key: str, reversal_key: str) -> EntryDraft:
    """Return the entry that reverses a posted one: its stored lines, negated."""
    entry = repository.entry_with_key(session, external_key)
    if entry is None:
        raise LedgerIntegrityError(
            N_("entry %(entry)s to reverse was never posted"), entry=external_key
        )
    lines = repository.lines_of(session, persisted_id(entry))
    return EntryDraft(
        external_key=reversal_key,
        kind="reversal",
        postings=tuple(Posting(code, currency, -amount) for code, currency, amount in lines),
        reverses_key=external_key,
        grant_id=entry.grant_id,
    )


def payable(session: Session, account_reference: str, currency: str) -> Money:
    """Return what the platform owes a party and may pay out (its payable account's credit)."""
    code = party_account(account_reference, PartyAccount.PAYABLE)
    balance = repository.balances(session, code).get((code, currency), 0)
    return Money(-balance, currency)
