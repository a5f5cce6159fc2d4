"""Settlement queries: ledger accounts, entries and balances, payments, the processor inbox.

What a user may see is decided here: a payment is seen by the grant's licensee and by the
offer's publisher (through `licensing.repository.get_grant`); ledger balances by the party
whose account reference names the viewer, and the whole ledger by administrators only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, func, insert
from sqlmodel import Session, col, select

from licensing.models import LicenseGrant, LicenseOffer
from licensing.repository import get_grant
from registry.models import User
from settlement.models import (
    JOURNAL_LINE_PARTITIONS,
    ConnectedAccount,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Payment,
    PaymentRefund,
    PaymentStatus,
    Payout,
    PayoutStatus,
    ProcessorEvent,
)


def account_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Return the id of each account code, opening the accounts that do not exist yet."""
    wanted = sorted(set(codes))
    found = {
        code: account_id
        for code, account_id in session.exec(
            select(LedgerAccount.code, LedgerAccount.id).where(col(LedgerAccount.code).in_(wanted))
        ).all()
        if account_id is not None
    }
    missing = [code for code in wanted if code not in found]
    if missing:
        session.add_all(LedgerAccount(code=code) for code in missing)
        session.flush()
        return account_ids(session, wanted)
    return found


def entry_with_key(session: Session, external_key: str) -> JournalEntry | None:
    return session.exec(
        select(JournalEntry).where(JournalEntry.external_key == external_key)
    ).first()


def entries_with_keys(session: Session, keys: Sequence[str]) -> dict[str, JournalEntry]:
    # One expanding parameter rather than a literal per key: batches carry hundreds of keys.
    wanted: BindParameter[str] = bindparam("keys", expanding=True)
    rows = session.exec(
        select(JournalEntry).where(col(JournalEntry.external_key).in_(wanted)),
        params={"keys": list(keys)},
    ).all()
    return {row.external_key: row for row in rows}


def insert_entries(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """Insert journal entries in one statement; returns their ids in the order given."""
    inserted = session.execute(
        insert(JournalEntry).returning(col(JournalEntry.id), sort_by_parameter_order=True), rows
    )
    return [int(entry_id) for entry_id in inserted.scalars()]


def insert_lines(session: Session, rows: list[dict[str, object]]) -> None:
    """Insert journal lines in one statement (the hot path of batch posting)."""
    if rows:
        JOURNAL_LINE_PARTITIONS.ensure_sequence_room(session.connection(), len(rows))
        session.execute(insert(JournalLine), rows)


def unbalanced_entries(session: Session, entry_ids: Sequence[int]) -> list[tuple[int, str, int]]:
    """Return (entry, currency, sum) for every stored entry whose lines do not sum to zero."""
    total = func.sum(JournalLine.amount_minor)
    rows = session.exec(
        select(JournalLine.entry_id, JournalLine.currency, total)
        .where(col(JournalLine.entry_id).in_(entry_ids))
        .group_by(col(JournalLine.entry_id), col(JournalLine.currency))
        .having(total != 0)
    ).all()
    return [(entry_id, currency, int(amount)) for entry_id, currency, amount in rows]


def lines_of(session: Session, entry_id: int) -> list[tuple[str, str, int]]:
    """Return an entry's lines as (account code, currency, amount), in account order."""
    rows = session.exec(
        select(LedgerAccount.code, JournalLine.currency, JournalLine.amount_minor)
        .join(LedgerAccount, col(LedgerAccount.id) == col(JournalLine.account_id))
        .where(JournalLine.entry_id == entry_id)
        .order_by(col(LedgerAccount.code), col(JournalLine.currency))
    ).all()
    return [(code, currency, int(amount)) for code, currency, amount in rows]


def balances(session: Session, prefix: str | None = None) -> dict[tuple[str, str], int]:
    """Return every account's balance per currency (debits positive), optionally by code prefix."""
    query = (
        select(LedgerAccount.code, JournalLine.currency, func.sum(JournalLine.amount_minor))
        .join(LedgerAccount, col(LedgerAccount.id) == col(JournalLine.account_id))
        .group_by(col(LedgerAccount.code), col(JournalLine.currency))
    )
    if prefix is not None:
        query = query.where(col(LedgerAccount.code).startswith(prefix, autoescape=True))
    return {(code, currency): int(total) for code, currency, total in session.exec(query).all()}


def entries_of_grant(session: Session, grant_id: int) -> Sequence[JournalEntry]:
    return session.exec(
        select(JournalEntry).where(JournalEntry.grant_id == grant_id).order_by(col(JournalEntry.id))
    ).all()


# Payments.


def payment_with_intent(session: Session, payment_intent_id: str) -> Payment | None:
    return session.exec(
        select(Payment)
        .where(Payment.payment_intent_id == payment_intent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def payments_of_grant(session: Session, grant_id: int) -> Sequence[Payment]:
    return session.exec(
        select(Payment).where(Payment.grant_id == grant_id).order_by(col(Payment.id))
    ).all()


def payment_logged_at(session: Session, grant_id: int, log_index: int) -> Payment | None:
    return session.exec(
        select(Payment).where(Payment.grant_id == grant_id, Payment.log_index == log_index)
    ).first()


def published_payments(
    session: Session, publisher: User, limit: int = 100
) -> Sequence[tuple[Payment, LicenseGrant]]:
    """The settled payments of grants under offers `publisher` published, newest first."""
    return session.exec(
        select(Payment, LicenseGrant)
        .join(LicenseGrant, col(LicenseGrant.id) == col(Payment.grant_id))
        .join(LicenseOffer, col(LicenseOffer.id) == col(LicenseGrant.offer_id))
        .where(LicenseOffer.created_by == publisher.id, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(col(Payment.id).desc())
        .limit(limit)
    ).all()


def last_refunds(session: Session, payment_ids: Iterable[int]) -> dict[int, PaymentRefund]:
    """The latest refund posted against each of these payments that has one."""
    ids = list(payment_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(PaymentRefund)
        .where(col(PaymentRefund.payment_id).in_(ids))
        .order_by(col(PaymentRefund.id))
    ).all()
    return {row.payment_id: row for row in rows}


def visible_payments(session: Session, viewer: User, grant_id: int) -> Sequence[Payment]:
    """Return a grant's payments if the viewer may see the grant (its licensee or publisher)."""
    get_grant(session, viewer, grant_id)
    return payments_of_grant(session, grant_id)


def settled_payments(session: Session) -> Sequence[Payment]:
    return session.exec(
        select(Payment).where(col(Payment.journal_entry_id).is_not(None)).order_by(col(Payment.id))
    ).all()


# The processor's events.


def event_with_id(session: Session, event_id: str) -> ProcessorEvent | None:
    return session.exec(
        select(ProcessorEvent)
        .where(ProcessorEvent.event_id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


# Connected accounts and payouts: a party sees only those of its own account reference.


def connected_account_of(session: Session, account_reference: str) -> ConnectedAccount | None:
    return session.exec(
        select(ConnectedAccount)
        .where(ConnectedAccount.account_reference == account_reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def connected_account_with_stripe_id(
    session: Session, stripe_account_id: str
) -> ConnectedAccount | None:
    return session.exec(
        select(ConnectedAccount)
        .where(ConnectedAccount.stripe_account_id == stripe_account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def connected_accounts(session: Session) -> Sequence[ConnectedAccount]:
    return session.exec(select(ConnectedAccount).order_by(col(ConnectedAccount.id))).all()


def succeeded_payments(session: Session, intent_ids: Iterable[str]) -> dict[str, Payment]:
    """The succeeded payments among these PaymentIntents, by intent."""
    wanted: BindParameter[str] = bindparam("intents", expanding=True)
    rows = session.exec(
        select(Payment).where(
            col(Payment.payment_intent_id).in_(wanted), Payment.status == PaymentStatus.SUCCEEDED
        ),
        params={"intents": sorted(set(intent_ids))},
    ).all()
    return {row.payment_intent_id: row for row in rows}


def payouts_of(session: Session, account_reference: str) -> Sequence[Payout]:
    return session.exec(
        select(Payout)
        .where(Payout.account_reference == account_reference)
        .order_by(col(Payout.id).desc())
    ).all()


def unpaid_payouts(session: Session, account_reference: str) -> Sequence[Payout]:
    return session.exec(
        select(Payout).where(
            Payout.account_reference == account_reference,
            col(Payout.status) != PayoutStatus.PAID,
        )
    ).all()


def planned_for_sale(session: Session, account_reference: str, sale_key: str) -> int:
    """What payouts of any state already cover of one sale for one party."""
    total = session.exec(
        select(func.sum(Payout.amount_minor)).where(
            Payout.account_reference == account_reference, Payout.sale_key == sale_key
        )
    ).one()
    return int(total or 0)


def payout_with_key(session: Session, transfer_key: str) -> Payout | None:
    return session.exec(select(Payout).where(Payout.transfer_key == transfer_key)).first()


def due_payouts(session: Session, now: datetime, limit: int) -> Sequence[Payout]:
    return session.exec(
        select(Payout)
        .where(col(Payout.status) != PayoutStatus.PAID, col(Payout.next_attempt_at) <= now)
        .order_by(col(Payout.next_attempt_at), col(Payout.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def entries_on_account(
    session: Session, code: str, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[JournalEntry, str, int]]:
    """Every entry with a line on one account posted in [since, until): entry, currency, amount."""
    query = (
        select(JournalEntry, JournalLine.currency, JournalLine.amount_minor)
        .join(JournalLine, col(JournalLine.entry_id) == col(JournalEntry.id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(JournalLine.account_id))
        .where(LedgerAccount.code == code)
        .order_by(col(JournalEntry.id))
    )
    if since is not None:
        query = query.where(col(JournalEntry.posted_at) >= since)
    if until is not None:
        query = query.where(col(JournalEntry.posted_at) < until)
    rows = session.exec(query).all()
    return [(entry, currency, int(amount)) for entry, currency, amount in rows]


def balance_before(session: Session, code: str, moment: datetime) -> dict[str, int]:
    """An account's balance per currency from the entries posted before `moment`."""
    rows = session.exec(
        select(JournalLine.currency, func.sum(JournalLine.amount_minor))
        .join(JournalEntry, col(JournalEntry.id) == col(JournalLine.entry_id))
        .join(LedgerAccount, col(LedgerAccount.id) == col(JournalLine.account_id))
        .where(LedgerAccount.code == code, col(JournalEntry.posted_at) < moment)
        .group_by(col(JournalLine.currency))
    ).all()
    return {currency: int(total) for currency, total in rows}


def payment_of_entry(session: Session, entry_id: int) -> Payment | None:
    return session.exec(select(Payment).where(Payment.journal_entry_id == entry_id)).first()
