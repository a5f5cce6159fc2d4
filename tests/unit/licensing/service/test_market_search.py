"""Marketplace text and tag search: the indexed queries find exactly what a plain filter over the
works finds, on SQLite (FTS5) and on PostgreSQL (pg_trgm), whatever the text typed."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from licensing.service.market import MarketQuery, search_market
from registry.accounts.service import create_user
from registry.models import Role, User, Visibility, Work, WorkStatus, WorkTag, persisted_id
from registry.schemas import WorkUpdate
from registry.service import update_work

# Titles, descriptions and tags that FTS syntax, LIKE wildcards and scripts without spaces would
# each trip over if they were not taken literally.
CORPUS: tuple[tuple[str, str, list[str]], ...] = (
    ("Koi pond", "orange koi under lilies", ["fish", "water"]),
    ("KOI in ink", "a black koi, brush and ink", ["fish", "ink"]),
    ("Crane 100%", "a red-crowned crane", ["bird"]),
    ("crane_2", "cranes NEAR the river", ["bird", "ink"]),
    ('He said "hi"', "a quote: 'single' and \"double\"", ['say "hi"', "quote"]),
    ("star * power", "a * b - c ^ d", ["*", "-"]),
    ("NEAR(a b)", "AND OR NOT", ["NEAR", "AND"]),
    ("back\\slash", "C:\\works\\koi", ["path\\tag"]),
    ("锦鲤池塘", "池塘里的锦鲤，水墨", ["锦鲤", "水墨"]),
    ("水墨仙鹤", "一只仙鹤", ["鹤", "水墨"]),
    ("東京の夜", "ネオンと雨", ["夜"]),
    ("emoji 🐟 fish", "🐟🐟🐟", ["🐟"]),
    ("tab\there", "line one\nline two", ["a,b"]),
    ("ab", "x", ["ab"]),
    ("Heron", "", []),
    ("café au lait", "crème brûlée", ["café"]),
)
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
HOSTILE = (
    '"',
    '""',
    '"koi',
    "koi\"'",
    "*",
    "koi*",
    "NEAR",
    "NEAR(a b)",
    "-koi",
    "koi -ink",
    "a OR b",
    "NOT",
    "^koi",
    "%",
    "_",
    "\\",
    "100%",
    "crane_",
    "{title}: koi",
    "title:koi",
    "(",
    ")",
    "锦",
    "锦鲤",
    "池塘里",
    "水墨",
    "🐟",
    "ko",
    "k",
    "café",
    "KOI",
    "Koi Pond",
    "koi pond and more",
    "x" * 1000,
    "koi " * 250,
)


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    with Session(db_engine, expire_on_commit=False) as opened:
        yield opened


@pytest.fixture
def shop(session: Session) -> tuple[User, list[Work]]:
    """The corpus, listed, plus a private and a withdrawn work that no search may show."""
    owner = create_user(
        session, email="ana@example.com", password="a long password 1", roles={Role.CREATOR}
    )
    works = [
        Work(
            owner_id=persisted_id(owner),
            title=title,
            description=description,
            tags=tags,
            sha256=f"{number:064x}",
            mime_type="image/png",
            width=10,
            height=10,
            byte_size=100,
        )
        for number, (title, description, tags) in enumerate(CORPUS)
    ]
    hidden = [
        Work(
            owner_id=persisted_id(owner),
            title="Koi pond, private",
            description="koi",
            tags=["fish"],
            visibility=Visibility.PRIVATE,
            sha256="f" * 64,
            mime_type="image/png",
            width=10,
            height=10,
            byte_size=100,
        ),
        Work(
            owner_id=persisted_id(owner),
            title="Koi pond, withdrawn",
            description="koi",
            tags=["fish"],
            status=WorkStatus.WITHDRAWN,
            sha256="e" * 64,
            mime_type="image/png",
            width=10,
            height=10,
            byte_size=100,
        ),
    ]
    session.add_all(works + hidden)
    session.commit()
    return owner, works + hidden


def found(session: Session, query: MarketQuery) -> set[int]:
    """Every work the marketplace finds for the query, over all its pages."""
    ids: set[int] = set()
    page = 1
    while True:
        result = search_market(session, MarketQuery(query.text, query.tags, page=page))
        ids |= {persisted_id(listing.work) for listing in result.listings}
        if page >= result.pages:
            assert len(ids) == result.total
            return ids
        page += 1


def expected(works: list[Work], typed: str, tags: tuple[str, ...] = ()) -> set[int]:
    """What the search means: a listed work holding the text (ASCII case ignored) and every tag."""
    needle = typed.strip().translate(ASCII_LOWER)
    return {
        persisted_id(work)
        for work in works
        if work.visibility == Visibility.PUBLIC
        and work.status != WorkStatus.WITHDRAWN
        and (
            needle in work.title.translate(ASCII_LOWER)
            or needle in work.description.translate(ASCII_LOWER)
        )
        and all(tag in work.tags for tag in tags)
    }


@pytest.mark.parametrize("typed", HOSTILE)
def test_hostile_text_is_a_literal_search(
    session: Session, shop: tuple[User, list[Work]], typed: str
) -> None:
    assert found(session, MarketQuery(typed)) == expected(shop[1], typed)


def test_every_title_and_description_finds_its_work_by_any_piece_of_it(
    session: Session, shop: tuple[User, list[Work]]
) -> None:
    for work in shop[1][: len(CORPUS)]:
        for source in (work.title, work.description):
            for start in range(len(source)):
                for length in (1, 2, 3, 5):
                    piece = source[start : start + length]
                    if piece.strip() and piece.isprintable():
                        assert persisted_id(work) in found(session, MarketQuery(piece)), piece
                        assert found(session, MarketQuery(piece)) == expected(shop[1], piece)


@pytest.mark.parametrize(
    "tags",
    [
        ("fish",),
        ("ink",),
        ("fish", "ink"),
        ('say "hi"',),
        ("*",),
        ("锦鲤",),
        ("🐟",),
        ("a,b",),
        ("path\\tag",),
        ("Fish",),
        ("fis",),
        ("%",),
        ("bird", "water"),
    ],
)
def test_tags_match_exactly_and_all_at_once(
    session: Session, shop: tuple[User, list[Work]], tags: tuple[str, ...]
) -> None:
    assert found(session, MarketQuery(tags=tags)) == expected(shop[1], "", tags)


ALPHABET = "koiKOI cranepdCRANE锦鲤池塘水墨仙鹤\"'*-^%_\\():NEAR🐟é"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    typed=st.text(alphabet=ALPHABET, max_size=12),
    tags=st.lists(
        st.sampled_from(["fish", "ink", "bird", "水墨", "NEAR", "*", "nothing"]), max_size=2
    ),
)
def test_any_text_and_tags_find_what_a_plain_filter_finds(
    session: Session, shop: tuple[User, list[Work]], typed: str, tags: list[str]
) -> None:
    query = MarketQuery(typed, tuple(tags))
    assert found(session, query) == expected(shop[1], typed, tuple(tags))


def work_tags(session: Session, work: Work) -> set[str]:
    return set(session.exec(select(WorkTag.tag).where(WorkTag.work_id == work.id)))


def test_an_edit_moves_the_work_between_searches(
    session: Session, shop: tuple[User, list[Work]]
) -> None:
    owner, works = shop
    koi = works[0]
    update_work(
        session,
        owner,
        persisted_id(koi),
        WorkUpdate(title="Carp at dusk", description="lanterns", tags=["carp", "dusk", "carp"]),
    )
    session.commit()
    assert work_tags(session, koi) == {"carp", "dusk"}
    assert persisted_id(koi) not in found(session, MarketQuery("koi pond"))
    assert persisted_id(koi) not in found(session, MarketQuery(tags=("fish",)))
    assert persisted_id(koi) in found(session, MarketQuery("at dus", ("carp", "dusk")))
    assert persisted_id(koi) in found(session, MarketQuery("lantern"))


def test_any_writer_of_the_works_table_keeps_both_indexes(
    session: Session, shop: tuple[User, list[Work]]
) -> None:
    """The database keeps the indexes, so even a statement no service wrote cannot skip them."""
    crane = shop[1][2]
    session.execute(
        text("UPDATE works SET title = 'Egret', tags = '[\"egret\"]' WHERE id = :id"),
        {"id": crane.id},
    )
    session.commit()
    session.refresh(crane)
    assert work_tags(session, crane) == {"egret"}
    assert found(session, MarketQuery("egret", ("egret",))) == {persisted_id(crane)}
    assert persisted_id(crane) not in found(session, MarketQuery("Crane 100"))
    if session.get_bind().dialect.name == "sqlite":
        # FTS5 compares its index with the works table it is built from.
        session.execute(text("INSERT INTO works_fts (works_fts) VALUES ('integrity-check')"))
