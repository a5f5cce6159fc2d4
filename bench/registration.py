"""Registration end to end: through the real `copymark register`, and the hash-only baseline.

Both take the app from the caller: the command line that runs `copymark`, and the app's
services on a scratch home (`bench.wiring`), so neither builds a wiring of its own.
"""

# ruff: noqa: S603, S106 - the benchmark runs our own CLI with throw-away credentials

from __future__ import annotations

import io
import os
import random
import resource
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
from skimage import data as skimage_data

from bench.wiring import ScratchApp
from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.schemas import WorkMetadata
from registry.service import REGISTER_BATCH, Registrar, Upload
from similarity.engine import SimilarityEngine

BENCH_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
)
BENCH_SIZE = (640, 480)  # about 0.3 megapixels


def distinct_jpegs(count: int, seed: int = 0, size: tuple[int, int] = BENCH_SIZE) -> list[bytes]:
    """Count different JPEGs (~0.3 MP by default): random crops of bundled photos with colour
    changes and noise."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test images, not secrets
    photos = [
        Image.fromarray(getattr(skimage_data, name)()).convert("RGB") for name in BENCH_PHOTOS
    ]
    images: list[bytes] = []
    for number in range(count):
        photo = photos[number % len(photos)]
        width, height = photo.size
        scale = rng.uniform(0.5, 0.95)
        box_w, box_h = int(width * scale), int(height * scale)
        left, top = rng.randint(0, width - box_w), rng.randint(0, height - box_h)
        crop = photo.crop((left, top, left + box_w, top + box_h)).resize(size)
        crop = ImageEnhance.Color(crop).enhance(rng.uniform(0.3, 1.7))
        noise = np.random.default_rng(seed * 100_000 + number).integers(
            0, 24, (size[1], size[0], 3)
        )
        pixels = np.clip(np.asarray(crop, dtype=np.int16) + noise - 12, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=88)
        images.append(buffer.getvalue())
    return images


def registration_through_cli(
    copymark: Sequence[str], count: int = 1000, processes: Sequence[int] = (1,)
) -> dict[str, float]:
    """Works/s and CPU-s per work of `copymark register FOLDER --processes N` for each N, each
    on a fresh home, model export excluded (warmed).

    `copymark` is the command line that runs the CLI, e.g. `[sys.executable, "-m", ...]`. The
    figures of N = 1 keep their plain names; the others carry `_N_processes`.
    """
    figures: dict[str, float] = {"cli_register_works": float(count)}
    images = distinct_jpegs(count)
    for pool in processes:
        rate, cpu_s = _register_folder(copymark, images, pool)
        suffix = "" if pool == 1 else f"_{pool}_processes"
        figures[f"cli_register_works_per_s{suffix}"] = rate
        figures[f"cli_register_cpu_s_per_work{suffix}"] = cpu_s
    return figures


def _register_folder(
    copymark: Sequence[str], images: Sequence[bytes], processes: int
) -> tuple[float, float]:
    """Works/s and CPU-s per work (the CLI and its fingerprinting processes) of one run."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        folder = root / "images"
        folder.mkdir()
        for number, data in enumerate(images):
            (folder / f"work-{number:05d}.jpg").write_bytes(data)
        environment = {**os.environ, "COPYMARK_HOME": str(root / "home")}
        # The fresh home's own SQLite database, never a configured server's.
        environment.pop("COPYMARK_DATABASE_URL", None)
        subprocess.run([*copymark, "init"], env=environment, check=True, capture_output=True)
        subprocess.run(
            [*copymark, "user", "create", "bench@copymark.test", "--password", "bench-password"],
            env=environment,
            check=True,
            capture_output=True,
        )
        warm = root / "warm"
        warm.mkdir()
        (warm / "warm.jpg").write_bytes(distinct_jpegs(1, seed=99)[0])
        subprocess.run(
            [*copymark, "register", str(warm), "--owner", "bench@copymark.test"],
            env=environment,
            check=True,
            capture_output=True,
        )
        cpu_before = children_cpu_s()
        started = time.perf_counter()
        subprocess.run(
            [
                *copymark,
                "register",
                str(folder),
                "--owner",
                "bench@copymark.test",
                "--processes",
                str(processes),
                "--json",
            ],
            env=environment,
            check=True,
            capture_output=True,
        )
        elapsed = time.perf_counter() - started
        cpu_s = children_cpu_s() - cpu_before
    return len(images) / elapsed, cpu_s / len(images)


def children_cpu_s() -> float:
    """CPU seconds of every waited-for child process and their own children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def registration_hash_only(app: ScratchApp, count: int = 1000) -> dict[str, float]:
    """Works/s of the same registration path with hashes only (no CNN), the baseline."""
    with tempfile.TemporaryDirectory() as directory, app(Path(directory) / "home") as services:
        registrar = Registrar(
            services.blobs,
            services.signer,
            SimilarityEngine(Path(directory) / "index", None, lambda _work_id: None),
            services.limits,
            Path(directory) / "index",
            read_session=services.read_session,
        )
        with unit_of_work(services.session) as session:
            owner = create_user(session, email="bench@copymark.test", password="bench-password")
        uploads = [
            Upload(data, f"work-{number}.jpg", WorkMetadata())
            for number, data in enumerate(distinct_jpegs(count))
        ]
        started = time.perf_counter()
        for start in range(0, count, REGISTER_BATCH):
            with unit_of_work(services.session) as session:
                registrar.register_batch(session, owner, uploads[start : start + REGISTER_BATCH])
        elapsed = time.perf_counter() - started
    return {"hash_only_register_works_per_s": count / elapsed}
