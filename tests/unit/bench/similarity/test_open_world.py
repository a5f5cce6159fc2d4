import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bench.similarity import open_world
from bench.similarity.dataset import default_photos_dir, load_source
from bench.similarity.open_world import (
    SYNTHETIC_FIRST_ID,
    Engine,
    EngineFactory,
    RealWork,
    SyntheticWorks,
    measure_open_world,
    planted_copies,
)
from bench.similarity.verdicts import verdict_of
from similarity.augment import jpeg
from similarity.engine import SimilarityEngine
from similarity.images import LoadedImage, load_image

RGB = npt.NDArray[np.uint8]
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "horse.png", "moon.png")


def _loaded(pixels: RGB) -> LoadedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return load_image(buffer.getvalue())


@pytest.fixture(scope="module")
def photos() -> dict[str, RGB]:
    return {name: load_source(default_photos_dir() / name) for name in PHOTOS}


class TinyImageEmbedder:
    """A stand-in network: the image shrunk to 4 x 4 colours, centred and L2-normalised."""

    dim = 48

    def embed(self, images: Sequence[RGB]) -> npt.NDArray[np.float32]:
        rows = []
        for image in images:
            small = np.asarray(Image.fromarray(image).resize((4, 4)), dtype=np.float32).ravel()
            small -= small.mean()
            rows.append(small / max(float(np.linalg.norm(small)), 1e-6))
        return np.stack(rows).astype(np.float32)


def _factory(embedder: TinyImageEmbedder | None) -> EngineFactory:
    def make(index_dir: Path, reference_image: Callable[[int], RGB | None]) -> Engine:
        return SimilarityEngine(index_dir, embedder, reference_image)

    return make


def test_a_planted_copy_counts_as_copy_and_an_unrelated_image_does_not(
    photos: dict[str, RGB], tmp_path: Path
) -> None:
    registered = [(i, _loaded(photos[name])) for i, name in enumerate(PHOTOS[:4], start=1)]
    planted = _loaded(jpeg(photos["astronaut.png"], random.Random(0)))
    unrelated = _loaded(photos["moon.png"])
    figures = measure_open_world(
        _factory(None),
        registered,
        [("unrelated", unrelated)],
        [("planted", planted)],
        sizes=(4,),
        work_dir=tmp_path,
    )
    row = cast(dict[str, dict[str, Any]], figures["by_size"])["4"]
    assert row["registered_works"] == 4
    assert row["copy_fraction_on_copies"] == 1.0
    assert row["false_copy_fraction"] == 0.0
    assert row["distractor_verdict_fractions"]["no_match"] == 1.0


def test_an_unregistered_copy_source_is_a_false_copy_once_registered(
    photos: dict[str, RGB], tmp_path: Path
) -> None:
    # moon.png's copy is unregistered at size 1 (only astronaut) and registered at size 2.
    registered = [(1, _loaded(photos["astronaut.png"])), (2, _loaded(photos["moon.png"]))]
    moon_copy = _loaded(jpeg(photos["moon.png"], random.Random(1)))
    figures = measure_open_world(
        _factory(None), registered, [("moon-copy", moon_copy)], [], sizes=(1, 2), work_dir=tmp_path
    )
    by_size = cast(dict[str, dict[str, Any]], figures["by_size"])
    assert by_size["1"]["false_copy_fraction"] == 0.0
    assert by_size["2"]["false_copy_fraction"] == 1.0
    assert (by_size["1"]["false_copies"], by_size["2"]["false_copies"]) == ([], [["moon-copy", 2]])


def test_pairs_reviewed_as_sharing_artwork_leave_the_reviewed_rates() -> None:
    by_size: dict[str, dict[str, Any]] = {
        "12": {
            "false_copies": [["q-icon", 3], ["q-photo", 4]],
            "false_copy_fraction": 2 / 10,
            "prior_art_conflicts": [["pkg:/icon.png", 3]],
            "prior_art_conflict_fraction": 1 / 5,
        }
    }
    sources: dict[object, str] = {"q-icon": "pkg:/icon.png", "q-photo": "pkg:/photo.png"}
    sources |= {3: "pkg:/theme-base.png", 4: "pkg:/other.png"}
    open_world.with_shared_artwork_reviewed(
        by_size,
        lambda key: sources.get(key, str(key)),
        queries=10,
        uploads=5,
        shared={frozenset(("pkg:/theme-base.png", "pkg:/icon.png"))},
    )
    row = by_size["12"]
    assert (row["false_copies_sharing_artwork"], row["false_copy_fraction_reviewed"]) == (1, 1 / 9)
    assert row["prior_art_conflicts_sharing_artwork"] == 1
    assert row["prior_art_conflict_fraction_reviewed"] == 0.0


def test_the_reviewed_shared_artwork_names_pairs_of_two_sources_each_with_a_reason() -> None:
    reviewed = json.loads(open_world.SHARED_ARTWORK_FILE.read_text())["pairs"]
    assert reviewed
    for pair in reviewed:
        assert len(set(pair["sources"])) == 2
        assert all(":/" in source for source in pair["sources"])
        assert pair["why"].strip()
    assert len(open_world.shared_artwork_pairs()) == len(reviewed)


def test_registration_s_prior_art_check_finds_a_copy_upload_and_leaves_a_new_work_alone(
    photos: dict[str, RGB], tmp_path: Path
) -> None:
    registered = [(1, _loaded(photos["astronaut.png"])), (2, _loaded(photos["coffee.png"]))]
    uploads = [
        ("astronaut-again", _loaded(jpeg(photos["astronaut.png"], random.Random(2)))),
        ("moon", _loaded(photos["moon.png"])),
        ("horse", _loaded(photos["horse.png"])),
    ]
    figures = measure_open_world(
        _factory(TinyImageEmbedder()),
        registered,
        [],
        [],
        uploads=uploads,
        sizes=(1, 2),
        work_dir=tmp_path,
    )
    assert figures["prior_art_uploads"] == 3
    by_size = cast(dict[str, dict[str, Any]], figures["by_size"])
    for size in ("1", "2"):
        assert by_size[size]["prior_art_conflicts"] == [["astronaut-again", 1]]
        assert by_size[size]["prior_art_conflict_fraction"] == pytest.approx(1 / 3)


@dataclass(frozen=True)
class _Decision:
    verdict: str
    p_copy: float


class _Verdict(Enum):
    POSSIBLE = "possible"


def test_verdicts_are_read_from_strings_enums_and_objects() -> None:
    assert verdict_of("copy") == "copy"
    assert verdict_of(_Decision("possible", 0.4)) == "possible"
    assert verdict_of(_Verdict.POSSIBLE) == "possible"
    with pytest.raises(TypeError):
        verdict_of(3)


@dataclass(frozen=True)
class _Bright:
    work_id: int
    brightness: float


class _ThreeVerdictEngine:
    """Decides from a query's mean brightness: what matters is that every verdict is counted."""

    def __init__(self) -> None:
        self.works: list[int] = []

    def fingerprint(self, image: LoadedImage) -> Any:
        return float(image.rgb.mean())

    def add(self, work_id: int, fingerprint: Any) -> None:
        self.works.append(work_id)

    def search(self, query: Any, top_k: int = 10, *, image: Any = None) -> list[Any]:
        return [_Bright(self.works[0], query)]

    def decide(self, matches: Sequence[Any]) -> _Decision:
        brightness = float(matches[0].brightness)
        if brightness > 150:
            return _Decision("copy", 0.95)
        return _Decision("possible" if brightness > 100 else "no_match", brightness / 300)

    def __len__(self) -> int:
        return len(self.works)


def test_a_third_verdict_and_p_copy_are_reported(tmp_path: Path) -> None:
    def flat(level: int) -> LoadedImage:
        return _loaded(np.full((32, 32, 3), level, dtype=np.uint8))

    figures = measure_open_world(
        lambda _dir, _images: _ThreeVerdictEngine(),
        [(1, flat(10))],
        [("dark", flat(20)), ("mid", flat(120)), ("bright", flat(200)), ("dim", flat(60))],
        [("copy", flat(220))],
        sizes=(1,),
        work_dir=tmp_path,
    )
    row = cast(dict[str, dict[str, Any]], figures["by_size"])["1"]
    assert row["false_copy_fraction"] == 0.25
    assert row["possible_fraction"] == 0.25
    assert row["distractor_verdict_fractions"]["no_match"] == 0.5
    assert row["mean_p_copy_on_copies"] == pytest.approx(0.95)
    assert row["false_copies"] == [["bright", 1]]


@pytest.fixture(scope="module")
def real_works(photos: dict[str, RGB], tmp_path_factory: pytest.TempPathFactory) -> list[RealWork]:
    engine = SimilarityEngine(
        tmp_path_factory.mktemp("scratch"), TinyImageEmbedder(), lambda _w: None
    )
    return [
        RealWork(i, photos[name], engine.fingerprint(_loaded(photos[name])))
        for i, name in enumerate(PHOTOS, start=1)
    ]


def test_a_synthetic_work_sits_as_far_from_its_origin_as_real_neighbours_do(
    real_works: list[RealWork],
) -> None:
    synthetic = SyntheticWorks(real_works)
    rng = np.random.default_rng(0)
    for index in range(12):
        origin, fingerprint = synthetic.fingerprint(index, rng)
        assert origin.fingerprint.embeddings is not None
        assert fingerprint.embeddings is not None
        cosine = float(origin.fingerprint.embeddings[0] @ fingerprint.embeddings[0])
        assert np.isclose(synthetic.nearest_cosines, cosine, atol=1e-4).any()
        norms = np.linalg.norm(fingerprint.embeddings[: fingerprint.reference_count], axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4)
        bits = origin.fingerprint.pdq - fingerprint.pdq
        assert bits in set(synthetic.nearest_bits.tolist())


def test_bulk_written_registry_answers_as_one_filled_through_add(
    real_works: list[RealWork],
    photos: dict[str, RGB],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synthetic = SyntheticWorks(real_works)
    factory = _factory(TinyImageEmbedder())
    added, real_count, synthetic_count = open_world._registry(
        40, real_works, synthetic, engine_factory=factory, index_dir=tmp_path / "add", seed=5
    )
    monkeypatch.setattr(open_world, "BULK_MIN_WORKS", 1)
    bulk, _, _ = open_world._registry(
        40, real_works, synthetic, engine_factory=factory, index_dir=tmp_path / "bulk", seed=5
    )
    assert (real_count, synthetic_count) == (len(real_works), 40 - len(real_works))
    assert len(bulk) == len(added) == 40
    query = _loaded(jpeg(photos["horse.png"], random.Random(2)))
    fingerprint = added.fingerprint(query)
    first = added.search(fingerprint, 10, image=query)
    second = bulk.search(fingerprint, 10, image=query)
    assert [m.work_id for m in first] == [m.work_id for m in second]
    assert [m.score for m in first] == pytest.approx([m.score for m in second], abs=1e-5)
    assert any(m.work_id >= SYNTHETIC_FIRST_ID for m in first)


def test_planted_copies_take_registered_works_a_few_per_family() -> None:
    positives = [
        ("a-0", "a", 1),
        ("a-1", "a", 2),
        ("a-2", "a", 1),
        ("b-0", "b", 9),
        ("b-1", "b", 2),
    ]
    assert planted_copies(positives, {1, 2}, per_family=2) == ["a-0", "a-1", "b-1"]
