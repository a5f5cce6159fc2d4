"""The registry's parts on the per-test database (SQLite and PostgreSQL) and a fresh home folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from registry.db import make_engine
from registry.log.signing import LogSigner
from similarity.embedding.embedders import OnnxEmbedder, load_default_embedder
from tests.unit.registry.wiring import RegistryParts


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> OnnxEmbedder:
    """The production embedder, exported once per test run; its ONNX session is thread-safe."""
    return load_default_embedder(model_cache)


@pytest.fixture
def read_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, read_only=True)
    yield engine
    engine.dispose()


@pytest.fixture
def parts(
    tmp_path: Path, db_engine: Engine, read_engine: Engine, embedder: OnnxEmbedder
) -> RegistryParts:
    return RegistryParts(
        home=tmp_path / "home",
        engine=db_engine,
        read_engine=read_engine,
        signer=LogSigner.generate(),
        embedder=embedder,
    )
