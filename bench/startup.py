"""A new machine's first search: its similarity index built from the database's fingerprints,
or unpacked from the newest snapshot plus the works registered since.

`works` works are registered (a few real fingerprints of Tux Paint training stamps, the rest
synthetic: each a real one's embeddings moved by noise and region hashes with bits flipped,
said so in the output), a snapshot is built, 1% more works are registered after it, then
`copymark match` runs in a process of its own on each of two new homes sharing the database:
one whose blob store holds the snapshot, one whose store does not (it logs that and indexes the
stored fingerprints itself, as every process did before snapshots were loaded at start-up).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image
from sqlalchemy import insert
from sqlmodel import Session

from bench.processes import cli, initialised_home, measured_run, migrated_database
from registry.accounts.service import create_user
from registry.db import make_engine, unit_of_work
from registry.models import Role, Visibility, Work, WorkStatus, persisted_id
from similarity.embedding.embedders import load_default_embedder
from similarity.engine import Fingerprint, SimilarityEngine, background_images

REAL_WORKS: Final = 24
SINCE_SHARE: Final = 0.01
_INSERT_BATCH: Final = 1_000
_EMBEDDING_NOISE: Final = 0.05
_FLIPPED_BITS: Final = 12


def startup_figures(admin_url: str, work: Path, works: int, seed: int = 7) -> dict[str, Any]:
    """Seconds and CPU-seconds to a new machine's first answer, from a snapshot and without."""
    url = migrated_database(admin_url, "copymark_bench_startup")
    models = work / "models"
    builder = work / "startup-builder"
    builder_env = initialised_home(builder, url, COPYMARK_MODELS_DIR=str(models))
    stamps = background_images(REAL_WORKS)
    query = work / "startup-query.png"
    Image.fromarray(stamps[0]).save(query)
    fingerprinter = SimilarityEngine(
        work / "startup-scratch",
        embedder=load_default_embedder(models),
        reference_image=lambda _work_id: None,
    )
    real = [fingerprinter.fingerprint(rgb) for rgb in stamps]
    database = make_engine(url)
    sessions = partial(Session, database)
    rng = np.random.default_rng(seed)
    owner = register_owner(sessions, "startup@bench.example")
    register_synthetic(sessions, owner, real, range(works), rng)
    snapshot = measured_run(cli("index", "snapshot", "--json"), builder_env)
    since = max(1, round(works * SINCE_SHARE))
    register_synthetic(sessions, owner, real, range(works, works + since), rng)
    database.dispose()
    without = initialised_home(
        work / "start-without-snapshot", url, COPYMARK_MODELS_DIR=str(models)
    )
    with_snapshot = work / "start-from-snapshot"
    with_snapshot_env = initialised_home(with_snapshot, url, COPYMARK_MODELS_DIR=str(models))
    # The shared blob store, as S3 would be: only this home's holds the snapshot.
    shutil.copytree(builder / "evidence", with_snapshot / "evidence", dirs_exist_ok=True)
    return {
        "works": works + since,
        "works_real": len(real),
        "works_synthetic": works + since - len(real),
        "registered_after_the_snapshot": since,
        "snapshot": {
            **json.loads(snapshot.stdout),
            "build_s": round(snapshot.seconds, 2),
            "build_max_rss_mb": snapshot.max_rss_mb,
        },
        "first_search_without_snapshot": _first_search(without, query),
        "first_search_from_snapshot": _first_search(with_snapshot_env, query),
    }


def register_owner(sessions: Callable[[], Session], email: str) -> int:
    """A creator's account for the benchmark's works; its id."""
    with unit_of_work(sessions) as session:
        return persisted_id(
            create_user(
                session,
                email=email,
                password=secrets.token_urlsafe(16),
                roles={Role.CREATOR},
            )
        )


def register_synthetic(
    sessions: Callable[[], Session],
    owner: int,
    real: Sequence[Fingerprint],
    numbers: range,
    rng: np.random.Generator,
) -> None:
    """Works with these numbers: the real fingerprints first, then derived ones."""
    for start in range(numbers.start, numbers.stop, _INSERT_BATCH):
        batch = range(start, min(start + _INSERT_BATCH, numbers.stop))
        rows = [
            {
                "owner_id": owner,
                "title": f"bench work {number}",
                "tags": [],
                "creators": [],
                "visibility": Visibility.PUBLIC,
                "status": WorkStatus.REGISTERED,
                "sha256": secrets.token_hex(32),
                "mime_type": "image/png",
                "width": 256,
                "height": 256,
                "byte_size": 1,
                "fingerprint": (
                    real[number] if number < len(real) else _derived(real, number, rng)
                ).to_bytes(),
            }
            for number in batch
        ]
        with unit_of_work(sessions) as session:
            session.execute(insert(Work), rows)


def _derived(real: Sequence[Fingerprint], number: int, rng: np.random.Generator) -> Fingerprint:
    origin = real[number % len(real)]
    embeddings = origin.embeddings
    if embeddings is not None:
        moved = embeddings + rng.normal(0, _EMBEDDING_NOISE, embeddings.shape).astype(np.float32)
        embeddings = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    bits = np.unpackbits(origin.region_pdq, axis=1)
    for row in bits:
        row[rng.choice(row.size, _FLIPPED_BITS, replace=False)] ^= 1
    return dataclasses.replace(origin, embeddings=embeddings, region_pdq=np.packbits(bits, axis=1))


def _first_search(environment: dict[str, str], query: Path) -> dict[str, Any]:
    """`copymark match` on a home whose index folder is empty: wall and CPU seconds, peak memory."""
    answer = measured_run(cli("match", str(query), "--json"), environment)
    best = json.loads(answer.stdout)["matches"][0]
    return {
        **answer.figures(),
        "best_match": {"work_id": best["work_id"], "decision": best["decision"]},
        "logged_snapshot_unreadable": "not used" in answer.stderr,
    }
