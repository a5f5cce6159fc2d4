"""Attestation-log benchmarks on a SQLite file database; figures carry units in their names."""

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel, create_engine

import registry.log.models  # noqa: F401 - registers the log tables on the metadata
from registry.log.events import canonical_json
from registry.log.merkle import verify_inclusion
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog, verify_log


def _engine(directory: Path) -> Engine:
    """A SQLite file in WAL mode with synchronous=NORMAL, as the embedded deployment runs it."""
    engine = create_engine(f"sqlite:///{directory / 'log.db'}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    SQLModel.metadata.create_all(engine)
    return engine


def _leaves(start: int, count: int) -> list[bytes]:
    return [
        canonical_json({"type": "benchmark", "version": 1, "sha256": f"{i:064x}"})
        for i in range(start, start + count)
    ]


def _fill(engine: Engine, leaves: int, batch: int) -> float:
    """Append ``leaves`` in committed batches; returns the seconds spent."""
    started = time.perf_counter()
    for start in range(0, leaves, batch):
        with Session(engine) as session:
            AttestationLog(session).append(_leaves(start, min(batch, leaves - start)))
            session.commit()
    return time.perf_counter() - started


def append_leaves_per_s(leaves: int = 100_000, batch: int = 1000) -> dict[str, float]:
    """Append throughput, one committed transaction per batch."""
    with tempfile.TemporaryDirectory() as directory:
        engine = _engine(Path(directory))
        seconds = _fill(engine, leaves, batch)
        engine.dispose()
    return {"append_leaves_per_s": leaves / seconds, "append_batch_size": batch}


def inclusion_proofs_per_s(leaves: int = 100_000, proofs: int = 5000) -> dict[str, float]:
    """Proof throughput for random leaves of the whole tree, each proof checked once."""
    generator = random.Random(7)  # noqa: S311 - reproducible sampling, not secrecy
    with tempfile.TemporaryDirectory() as directory:
        engine = _engine(Path(directory))
        _fill(engine, leaves, 5000)
        with Session(engine) as session:
            log = AttestationLog(session)
            root = log.root_hash()
            indexes = [generator.randrange(leaves) for _ in range(proofs)]
            hashes = {i: log.leaf(i).leaf_hash for i in indexes}
            started = time.perf_counter()
            answered = [(i, log.inclusion_proof(i, leaves)) for i in indexes]
            seconds = time.perf_counter() - started
            if not all(verify_inclusion(hashes[i], i, leaves, p, root) for i, p in answered):
                raise RuntimeError("a benchmark inclusion proof did not verify")
        engine.dispose()
    return {"inclusion_proofs_per_s": proofs / seconds, "inclusion_tree_size": leaves}


def verify_seconds(leaves: int = 100_000) -> dict[str, float]:
    """Time of a full ``verify_log`` audit of a log of ``leaves`` leaves with one signed head."""
    signer = LogSigner.generate()
    with tempfile.TemporaryDirectory() as directory:
        engine = _engine(Path(directory))
        _fill(engine, leaves, 5000)
        with Session(engine) as session:
            AttestationLog(session, signer).sign_head()
            session.commit()
            started = time.perf_counter()
            result = verify_log(session, signer.public_key)
            seconds = time.perf_counter() - started
        engine.dispose()
    if not result.ok:
        raise RuntimeError(f"benchmark log failed its audit: {result.problem}")
    return {"verify_seconds": seconds, "verify_leaves": leaves}
