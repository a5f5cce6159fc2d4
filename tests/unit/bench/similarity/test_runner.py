import io
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from rich.console import Console

from bench.similarity.dataset import (
    QUICK_SIZE,
    BenchmarkSet,
    Query,
    Reference,
    default_photos_dir,
    load_source,
)
from bench.similarity.heldout import HELDOUT_QUICK_SIZE
from bench.similarity.metrics import Prediction
from bench.similarity.runner import (
    PdqDetector,
    PHashDetector,
    SystemResult,
    main,
    render_table,
    run_benchmark,
    summarise,
)
from similarity.augment import border, hflip, rotate90
from similarity.images import LoadedImage, load_image


def _loaded(pixels: npt.NDArray[np.uint8]) -> LoadedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return load_image(buffer.getvalue())


@pytest.fixture(scope="module")
def registered() -> dict[int, npt.NDArray[np.uint8]]:
    names = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")
    return {i: load_source(default_photos_dir() / name) for i, name in enumerate(names, start=1)}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


@pytest.mark.parametrize("detector_type", [PHashDetector, PdqDetector])
def test_baseline_ranks_an_exact_copy_first(
    detector_type: type[PHashDetector] | type[PdqDetector],
    registered: dict[int, npt.NDArray[np.uint8]],
) -> None:
    detector = detector_type()
    for work_id, pixels in registered.items():
        detector.add(work_id, _loaded(pixels))
    (best, *_rest) = detector.search(_loaded(registered[2]), top_k=4)
    assert best[0] == 2


def test_phash_matches_a_mirrored_copy_through_the_mirrored_hash(
    registered: dict[int, npt.NDArray[np.uint8]],
) -> None:
    detector = PHashDetector()
    for work_id, pixels in registered.items():
        detector.add(work_id, _loaded(pixels))
    mirrored = hflip(registered[3], random.Random(0))
    assert detector.search(_loaded(mirrored), top_k=1) == [(3, 64.0)]


def test_pdq_matches_a_quarter_turn_through_its_dihedral_hashes(
    registered: dict[int, npt.NDArray[np.uint8]],
) -> None:
    detector = PdqDetector()
    for work_id, pixels in registered.items():
        detector.add(work_id, _loaded(pixels))
    turned = rotate90(registered[1], random.Random(0))
    (work_id, score), *_ = detector.search(_loaded(turned), top_k=4)
    assert work_id == 1
    assert score >= 256 - 31


def test_padding_defeats_phash(registered: dict[int, npt.NDArray[np.uint8]]) -> None:
    detector = PHashDetector()
    for work_id, pixels in registered.items():
        detector.add(work_id, _loaded(pixels))
    padded = border(registered[4], random.Random(1))
    (_, score), *_ = detector.search(_loaded(padded), top_k=4)
    assert score < 64 - 10


def test_empty_index_answers_nothing(registered: dict[int, npt.NDArray[np.uint8]]) -> None:
    assert PHashDetector().search(_loaded(registered[1]), top_k=3) == []
    assert PdqDetector().search(_loaded(registered[1]), top_k=3) == []


def _two_family_set() -> BenchmarkSet:
    root = Path("/nonexistent")
    references = (Reference(1, "a", root / "a.png"), Reference(2, "b", root / "b.png"))
    queries = (
        Query("crop-0", "crop", "a", root / "q0.png", 1),
        Query("jpeg-0", "jpeg", "b", root / "q1.png", 2),
        Query("distractor-0", "plain", "z", root / "d0.png", None),
    )
    return BenchmarkSet(root, references, queries)


def test_a_loud_distractor_lowers_every_family_it_outscores() -> None:
    predictions = (
        Prediction("jpeg-0", 2, 0.9),
        Prediction("distractor-0", 1, 0.8),
        Prediction("crop-0", 1, 0.7),
    )
    result = SystemResult("phash", predictions, 1.0, 1.0, 24.0)
    per_family = summarise(_two_family_set(), [result])["per_family"]
    assert isinstance(per_family, dict)
    assert per_family["jpeg"]["phash"]["muap"] == pytest.approx(1.0)
    assert per_family["crop"]["phash"]["muap"] == pytest.approx(0.5)


def test_full_pipeline_figures_also_appear_without_prefix() -> None:
    result = SystemResult("full", (Prediction("crop-0", 1, 0.5),), 12.0, 7.0, 900.0)
    figures = summarise(_two_family_set(), [result])
    assert figures["full_muap"] == pytest.approx(0.5)
    assert figures["queries_per_s"] == 7.0
    assert figures["images_per_s"] == 12.0
    assert figures["index_bytes_per_work"] == 900.0


def test_quick_run_reports_every_family_for_every_system(cache_dir: Path) -> None:
    figures = run_benchmark(cache_dir, QUICK_SIZE, systems=("phash", "pdq"), sets=("disc21",))
    per_family = figures["per_family"]
    assert isinstance(per_family, dict)
    assert len(per_family) == 20
    assert all(set(by_system) == {"phash", "pdq"} for by_system in per_family.values())
    for name in ("phash_muap", "pdq_muap", "phash_recall_at_p90", "pdq_recall_at_p99"):
        value = figures[name]
        assert isinstance(value, float)
        assert 0.0 <= value <= 1.0


def test_quick_run_measures_throughput_and_index_size(cache_dir: Path) -> None:
    figures = run_benchmark(cache_dir, QUICK_SIZE, systems=("pdq",), sets=("disc21",))
    assert isinstance(figures["pdq_queries_per_s"], float)
    assert figures["pdq_queries_per_s"] > 0
    assert figures["pdq_index_bytes_per_work"] == 40


def test_table_shows_each_family_and_the_overall_row(cache_dir: Path) -> None:
    figures = run_benchmark(cache_dir, QUICK_SIZE, systems=("phash",), sets=("disc21",))
    console = Console(record=True, width=200)
    console.print(render_table(figures))
    text = console.export_text()
    assert "overall" in text
    assert "embed_screenshot" in text
    assert "images/s" in text


def test_quick_run_reports_the_held_out_set_under_its_own_key(cache_dir: Path) -> None:
    figures = run_benchmark(
        cache_dir, QUICK_SIZE, systems=("phash", "sscd_distilled"), sets=("heldout",)
    )
    assert "phash_muap" not in figures
    heldout = figures["heldout"]
    assert isinstance(heldout, dict)
    assert heldout["references"] == HELDOUT_QUICK_SIZE.references
    assert set(heldout["per_family"]) >= {"paste_onto", "heavy_crop", "downscale", "combo"}
    for name in ("phash_muap", "sscd_distilled_muap", "sscd_distilled_recall_at_p99"):
        assert 0.0 <= heldout[name] <= 1.0
    assert heldout["sscd_distilled_images_per_s"] > 0
    assert "open_world" not in figures
    console = Console(record=True, width=200)
    console.print(render_table(figures))
    assert "held-out sources" in console.export_text()


@pytest.mark.slow
def test_quick_run_evaluates_the_full_pipeline(cache_dir: Path) -> None:
    figures = run_benchmark(
        cache_dir,
        QUICK_SIZE,
        systems=("full",),
        sets=("disc21", "open_world"),
        open_world_sizes=(12, 40),
    )
    assert figures["unavailable"] == {}
    assert isinstance(figures["full_muap"], float)
    assert isinstance(figures["index_bytes_per_work"], float)
    open_world = figures["open_world"]
    assert isinstance(open_world, dict)
    assert open_world["distractor_queries"] == HELDOUT_QUICK_SIZE.distractors
    # Each distractor's source is checked for prior art once, however often it was shown.
    assert 0 < open_world["prior_art_uploads"] <= HELDOUT_QUICK_SIZE.distractors
    by_size = open_world["by_size"]
    assert by_size["12"]["synthetic_works"] == 0
    assert by_size["40"]["registered_works"] == 40
    for row in by_size.values():
        assert 0.0 <= row["false_copy_fraction"] <= 1.0
        assert sum(row["distractor_verdict_fractions"].values()) == pytest.approx(1.0)
        conflicts = row["prior_art_conflicts"]
        assert (
            row["prior_art_conflict_fraction"] == len(conflicts) / open_world["prior_art_uploads"]
        )


def test_a_deciding_system_reports_its_verdicts_on_distractors_and_copies() -> None:
    verdicts = {"crop-0": "copy", "jpeg-0": "no_match", "distractor-0": "copy"}
    result = SystemResult("full", (Prediction("crop-0", 1, 0.5),), 1.0, 1.0, 1.0, verdicts)
    figures = summarise(_two_family_set(), [result])
    assert figures["full_false_copy_fraction"] == 1.0
    assert figures["full_copy_fraction_on_copies"] == 0.5
    assert figures["full_copy_verdict_fractions"] == {"copy": 0.5, "possible": 0.0, "no_match": 0.5}


def test_size_option_names_the_three_counts_it_expects(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--size", "150,20"])
    assert "R,Q,D" in capsys.readouterr().err


def test_table_shows_queries_per_second_of_each_system_at_the_registry_size() -> None:
    system = {
        "queries_per_s": 4.25,
        "cpu_ms_per_query": 97.7,
        "cpu_ms_per_query_on_copies": 80.5,
        "cpu_ms_per_query_on_never_registered": 121.25,
        "load_average_1min": [10.2, 11.1],
    }
    throughput: dict[str, object] = {
        "registered_works": 100_000,
        "workers": 2,
        "queries": 400,
        "copy_queries": 255,
        "never_registered_queries": 145,
    }
    for name in ("full", "phash"):
        throughput |= {f"{name}_{key}": value for key, value in system.items()}
    throughput["phash_cpu_ms_per_query_on_copies"] = None
    console = Console(record=True, width=200)
    console.print(render_table({"throughput": throughput}))
    text = console.export_text()
    assert "Queries at 100,000 works, 2 worker processes" in text
    assert "97.7" in text
    assert "121.2" in text
    assert "255 held-out copies, 145 never-registered images" in text
