"""Journal lines on PostgreSQL: range partitions by id, made by the migration, then by posting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from registry.db import make_engine, unit_of_work
from registry.migrations import alembic_config, migrate
from settlement import repository
from settlement.ledger import EntryDraft, Posting
from settlement.models import JOURNAL_LINE_PARTITIONS
from settlement.service.ledger import post_entries
from tests.support.partitions import homes_of, partitions_of

pytestmark = pytest.mark.postgres

LINES = JOURNAL_LINE_PARTITIONS.table
SIZE = JOURNAL_LINE_PARTITIONS.size


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database_url)
    yield engine
    engine.dispose()


def sale(number: int) -> EntryDraft:
    """An entry of three lines: a payment split between two parties."""
    return EntryDraft(
        f"sale-{number}",
        "payment",
        (
            Posting("platform:stripe_clearing", "USD", 100 + number),
            Posting("party:acct:ana:payable", "USD", -60 - number),
            Posting("party:acct:ben:payable", "USD", -40),
        ),
    )


def post(engine: Engine, drafts: list[EntryDraft]) -> None:
    with unit_of_work(engine) as session:
        post_entries(session, drafts)


def stored_lines(engine: Engine) -> list[tuple[int, str, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT line.id, entry.external_key, line.currency, line.amount_minor "
                "FROM journal_lines line JOIN journal_entries entry ON entry.id = line.entry_id "
                "ORDER BY line.id"
            )
        ).all()
    return [(int(i), str(key), str(currency), int(amount)) for i, key, currency, amount in rows]


def test_a_new_ledger_has_its_first_partition_and_the_next_ahead(engine: Engine) -> None:
    post(engine, [sale(1)])
    assert set(homes_of(engine, LINES, "id").values()) == {JOURNAL_LINE_PARTITIONS.name(0)}
    assert partitions_of(engine, LINES) == [JOURNAL_LINE_PARTITIONS.name(n) for n in range(2)]


def test_posting_into_partitions_seen_committed_asks_the_catalog_nothing(engine: Engine) -> None:
    post(engine, [sale(1)])
    statements: list[str] = []

    def record(*arguments: object) -> None:
        statements.append(str(arguments[2]))

    event.listen(engine, "before_cursor_execute", record)
    post(engine, [sale(n) for n in range(2, 40)])
    event.remove(engine, "before_cursor_execute", record)
    assert [s for s in statements if "to_regclass" in s] == []


def test_lines_posted_across_a_partition_boundary_land_each_in_its_range(engine: Engine) -> None:
    with engine.begin() as connection:
        # The next line takes id SIZE - 4: of three entries' nine lines, four precede the boundary.
        connection.execute(
            text("SELECT setval(:sequence, :last)"),
            {
                "sequence": JOURNAL_LINE_PARTITIONS.sequence,
                "last": SIZE - 5,
            },
        )
    post(engine, [sale(1), sale(2), sale(3)])
    homes = homes_of(engine, LINES, "id")
    assert sorted(homes) == list(range(SIZE - 4, SIZE + 5))
    assert homes == {n: JOURNAL_LINE_PARTITIONS.name(n // SIZE) for n in homes}
    assert partitions_of(engine, LINES) == [JOURNAL_LINE_PARTITIONS.name(n) for n in range(3)]
    with unit_of_work(engine) as session:
        assert repository.lines_of(session, 1) == [
            ("party:acct:ana:payable", "USD", -61),
            ("party:acct:ben:payable", "USD", -40),
            ("platform:stripe_clearing", "USD", 101),
        ]
        assert repository.balances(session)[("platform:stripe_clearing", "USD")] == 306


def test_migrating_the_journal_down_and_up_keeps_every_line(engine: Engine) -> None:
    post(engine, [sale(1), sale(2)])
    before = stored_lines(engine)
    config = alembic_config(engine)
    command.downgrade(config, "0027")
    assert partitions_of(engine, LINES) == []
    assert stored_lines(engine) == before
    migrate(engine)
    assert partitions_of(engine, LINES) == [JOURNAL_LINE_PARTITIONS.name(n) for n in range(2)]
    post(engine, [sale(3)])
    after = stored_lines(engine)
    assert after[: len(before)] == before
    assert [line[0] for line in after] == list(range(1, 10)), "the id sequence carries on"


def test_the_migrated_journal_still_refuses_edits_and_unbalanced_entries(engine: Engine) -> None:
    post(engine, [sale(1)])
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE journal_lines SET amount_minor = amount_minor + 1"))
    with pytest.raises(DBAPIError, match="does not balance"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, account_id, currency, amount_minor) "
                "SELECT entry_id, account_id, currency, 1 FROM journal_lines LIMIT 1"
            )
        )
    with pytest.raises(DBAPIError, match="foreign key"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, account_id, currency, amount_minor) "
                "VALUES (9999, 1, 'USD', 0)"
            )
        )
