"""Settings that production refuses: a placeholder secret, and password hashing below argon2's
default cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from frontend.settings import PASSWORD_MEMORY_KIB, PASSWORD_TIME_COST, Settings


@pytest.mark.parametrize(
    ("time_cost", "memory_kib"),
    [(1, PASSWORD_MEMORY_KIB), (PASSWORD_TIME_COST, 64), (1, 64)],
)
def test_production_refuses_password_hashing_below_the_default_cost(
    time_cost: int, memory_kib: int
) -> None:
    with pytest.raises(ValidationError, match="COPYMARK_PASSWORD_HASH_TIME_COST must be at least"):
        Settings(
            environment="production",
            secret_key="a real secret",
            password_hash_time_cost=time_cost,
            password_hash_memory_kib=memory_kib,
        )


def test_production_takes_the_default_cost_or_more() -> None:
    for time_cost, memory_kib in [
        (PASSWORD_TIME_COST, PASSWORD_MEMORY_KIB),
        (PASSWORD_TIME_COST + 1, 2 * PASSWORD_MEMORY_KIB),
    ]:
        settings = Settings(
            environment="production",
            secret_key="a real secret",
            password_hash_time_cost=time_cost,
            password_hash_memory_kib=memory_kib,
        )
        assert settings.password_hash_memory_kib == memory_kib


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="COPYMARK_SECRET_KEY must be set"):
        Settings(
            environment="production",
            password_hash_time_cost=PASSWORD_TIME_COST,
            password_hash_memory_kib=PASSWORD_MEMORY_KIB,
        )


def test_outside_production_a_cheaper_cost_is_taken() -> None:
    settings = Settings(environment="test", password_hash_time_cost=1, password_hash_memory_kib=64)
    assert (settings.password_hash_time_cost, settings.password_hash_memory_kib) == (1, 64)


def test_a_sequenced_log_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="COPYMARK_LOG_SEQUENCED needs PostgreSQL"):
        Settings(home=tmp_path, log_sequenced=True)
    with pytest.raises(ValidationError, match="COPYMARK_LOG_SEQUENCED needs PostgreSQL"):
        Settings(database_url=f"sqlite:///{tmp_path}/elsewhere.db", log_sequenced=True)
    on_postgres = Settings(
        database_url="postgresql+psycopg://db.example/copymark", log_sequenced=True
    )
    assert on_postgres.log_sequenced


@pytest.mark.parametrize(
    ("shards", "problem"),
    [
        (["10.0.0.5:7301"], "is not a shard's base URL"),
        (["ftp://10.0.0.5:7301"], "is not a shard's base URL"),
        (["http://"], "is not a shard's base URL"),
        (["http://a:7301", "http://a:7301"], "names a shard more than once"),
    ],
)
def test_index_shards_must_be_distinct_base_urls(shards: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(index_shards=shards)


def test_index_shards_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPYMARK_INDEX_SHARDS", '["http://10.0.0.5:7301", "http://10.0.0.6:7301"]')
    assert Settings().index_shards == ["http://10.0.0.5:7301", "http://10.0.0.6:7301"]
