"""Evidence bundles: WARC records as fetched, manifest digests, offline refusal of tampering."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tracemalloc
import zipfile
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, create_engine
from warcio.archiveiterator import ArchiveIterator

from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.monitoring.evidence import (
    CERTIFICATE_NAME,
    MANIFEST_NAME,
    SCREENSHOT_NAME,
    SCREENSHOT_QUEUED,
    SIDE_BY_SIDE_NAME,
    WARC_NAME,
    Capture,
    IncompleteBundle,
    Screenshot,
    complete_bundle,
    log_evidence,
    verify_bundle,
    warc_of,
)
from similarity.crawl.records import FetchRecord

MOMENT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def fetch(url: str, body: bytes, content_type: str) -> FetchRecord:
    return FetchRecord(
        url=url,
        final_url=url,
        method="GET",
        request_headers=(("Host", "shop.example"), ("User-Agent", "CopymarkBot/0.1")),
        status=200,
        response_headers=(("Content-Type", content_type), ("Content-Length", str(len(body)))),
        body=body,
        content=body,
        resolved_ip="203.0.113.7",
        tls_peer_subject="CN=shop.example",
        http_version="HTTP/1.1",
        started_at=MOMENT,
        finished_at=MOMENT,
    )


def capture(screenshot: Screenshot) -> Capture:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    return Capture(
        alert_id=7,
        work_id=3,
        work_sha256="a" * 64,
        page=fetch("https://shop.example/item", b"<html><img src=/x.png></html>", "text/html"),
        image=fetch("https://shop.example/x.png", b"\x89PNG\r\n\x1a\nfake", "image/png"),
        page_url="https://shop.example/item",
        image_url="https://shop.example/x.png",
        image_sha256="b" * 64,
        original_rgb=pixels,
        copy_rgb=pixels[10:110, 20:150],
        region=((1.0, 1.0), (100.0, 1.0), (100.0, 80.0), (1.0, 80.0)),
        score=0.75,
        verified=True,
        screenshot=screenshot,
        captured_at=MOMENT,
    )


@pytest.fixture
def signer() -> LogSigner:
    return LogSigner.generate()


@pytest.fixture
def session() -> Session:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    return Session(engine)


def bundle_for(session: Session, signer: LogSigner, screenshot: Screenshot) -> bytes:
    return log_evidence(AttestationLog(session, signer), capture(screenshot)).bundle


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def repack(contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_bundle_verifies_with_the_log_key(session: Session, signer: LogSigner) -> None:
    bundle = bundle_for(session, signer, Screenshot(b"\x89PNG screenshot"))
    check = verify_bundle(bundle, signer.public_key)
    assert check.valid, check.reason
    assert check.event is not None
    assert check.event.alert_id == 7
    assert check.disclosed == {
        "page_url": "https://shop.example/item",
        "image_url": "https://shop.example/x.png",
    }


def test_the_evidence_leaf_names_no_address(session: Session, signer: LogSigner) -> None:
    logged = log_evidence(AttestationLog(session, signer), capture(Screenshot(None, "off")))
    leaf = AttestationLog(session).leaf(logged.log_index).leaf
    assert b"shop.example" not in leaf


def test_a_bundle_whose_opening_names_another_address_is_refused(
    session: Session, signer: LogSigner
) -> None:
    contents = members(bundle_for(session, signer, Screenshot(None, "off")))
    certificate = json.loads(contents[CERTIFICATE_NAME])
    certificate["openings"]["page_url"]["value"] = "https://elsewhere.example/"
    contents[CERTIFICATE_NAME] = json.dumps(certificate).encode()
    check = verify_bundle(repack(contents), signer.public_key)
    assert not check.valid
    assert "page_url does not match" in (check.reason or "")


def test_the_warc_holds_request_and_response_of_page_and_image(
    session: Session, signer: LogSigner
) -> None:
    warc = members(bundle_for(session, signer, Screenshot(None, "off")))[WARC_NAME]
    records = [
        (
            record.rec_type,
            record.rec_headers.get_header("WARC-Target-URI"),
            record.content_stream().read(),
        )
        for record in ArchiveIterator(io.BytesIO(warc))
    ]
    assert [(kind, uri) for kind, uri, _ in records[1:]] == [
        ("request", "https://shop.example/item"),
        ("response", "https://shop.example/item"),
        ("request", "https://shop.example/x.png"),
        ("response", "https://shop.example/x.png"),
    ]
    assert records[4][2] == b"\x89PNG\r\n\x1a\nfake"


def raw_records(warc_gz: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Each record's WARC headers and block, split by hand rather than by the writer's library."""
    data = gzip.decompress(warc_gz)
    records = []
    while data:
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("utf-8").split("\r\n")
        assert lines[0] == "WARC/1.1"
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers["Content-Length"])
        records.append((headers, rest[:length]))
        assert rest[length : length + 4] == b"\r\n\r\n"
        data = rest[length + 4 :]
    return records


def sha1_label(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()  # noqa: S324 - WARC's


def test_each_request_is_recorded_as_sent_and_linked_to_its_response_both_ways() -> None:
    page = fetch("https://shop.example/item?colour=red&size=2", b"<html></html>", "text/html")
    image = fetch("https://shop.example/x.png", b"\x89PNG\r\n\x1a\nfake", "image/png")
    records = raw_records(warc_of(page, image))
    assert [headers["WARC-Type"] for headers, _ in records] == [
        "warcinfo",
        "request",
        "response",
        "request",
        "response",
    ]
    for (request, block), fetched in zip(records[1::2], (page, image), strict=True):
        response = records[records.index((request, block)) + 1][0]
        assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"]
        assert response["WARC-Concurrent-To"] == request["WARC-Record-ID"]
        assert request["WARC-Target-URI"] == response["WARC-Target-URI"] == fetched.final_url
        assert request["Content-Type"] == "application/http; msgtype=request"
        sent = block.decode("latin-1").split("\r\n")
        target = fetched.final_url.removeprefix("https://shop.example")
        assert sent[0] == f"GET {target} HTTP/1.1"
        assert sent[1 : 1 + len(fetched.request_headers)] == [
            f"{name}: {value}" for name, value in fetched.request_headers
        ]
        assert block.endswith(b"\r\n\r\n")


def test_every_record_digest_matches_its_bytes() -> None:
    page = fetch("https://shop.example/item", b"<html><img src=/x.png></html>", "text/html")
    image = fetch("https://shop.example/x.png", b"\x89PNG\r\n\x1a\nfake", "image/png")
    warc = warc_of(page, image)
    checked = 0
    for headers, block in raw_records(warc):
        if headers["WARC-Type"] == "warcinfo":
            continue
        assert headers["WARC-Block-Digest"] == sha1_label(block)
        payload = block.split(b"\r\n\r\n", 1)[1]
        assert headers["WARC-Payload-Digest"] == sha1_label(payload)
        if headers["WARC-Type"] == "response":
            assert payload in (page.body, image.body)
        checked += 1
    assert checked == 4
    assert len(list(ArchiveIterator(io.BytesIO(warc)))) == 5


def test_an_altered_payload_fails_its_digest() -> None:
    image = fetch("https://shop.example/x.png", b"\x89PNG\r\n\x1a\nfake", "image/png")
    data = gzip.decompress(warc_of(image)).replace(b"fake", b"faux")
    _, _, (response, block) = raw_records(gzip.compress(data))
    assert response["WARC-Block-Digest"] != sha1_label(block)


def test_a_skipped_screenshot_is_recorded_with_its_reason(
    session: Session, signer: LogSigner
) -> None:
    contents = members(bundle_for(session, signer, Screenshot(None, "Chromium is not installed")))
    manifest = json.loads(contents[MANIFEST_NAME])
    assert SCREENSHOT_NAME not in contents
    assert manifest["screenshot"] == {"taken": False, "skipped_reason": "Chromium is not installed"}
    assert manifest["fetches"][0]["resolved_ip"] == "203.0.113.7"
    assert manifest["fetches"][1]["tls_peer_subject"] == "CN=shop.example"


def test_a_changed_file_is_refused(session: Session, signer: LogSigner) -> None:
    contents = members(bundle_for(session, signer, Screenshot(b"\x89PNG screenshot")))
    contents[SCREENSHOT_NAME] = b"\x89PNG doctored"
    check = verify_bundle(repack(contents), signer.public_key)
    assert not check.valid
    assert SCREENSHOT_NAME in (check.reason or "")


def test_an_added_file_is_refused(session: Session, signer: LogSigner) -> None:
    contents = members(bundle_for(session, signer, Screenshot(None, "off")))
    contents["extra.txt"] = b"planted"
    assert not verify_bundle(repack(contents), signer.public_key).valid


def test_a_rewritten_manifest_is_refused(session: Session, signer: LogSigner) -> None:
    contents = members(bundle_for(session, signer, Screenshot(None, "off")))
    manifest = json.loads(contents[MANIFEST_NAME])
    manifest["page_url"] = "https://elsewhere.example/"
    contents[MANIFEST_NAME] = json.dumps(manifest).encode()
    check = verify_bundle(repack(contents), signer.public_key)
    assert not check.valid
    assert "manifest digest" in (check.reason or "")


def test_another_key_is_refused(session: Session, signer: LogSigner) -> None:
    bundle = bundle_for(session, signer, Screenshot(None, "off"))
    assert not verify_bundle(bundle, LogSigner.generate().public_key).valid


def test_a_certificate_of_another_leaf_is_refused(session: Session, signer: LogSigner) -> None:
    first = members(bundle_for(session, signer, Screenshot(None, "off")))
    second = members(bundle_for(session, signer, Screenshot(b"\x89PNG other")))
    first[CERTIFICATE_NAME] = second[CERTIFICATE_NAME]
    assert not verify_bundle(repack(first), signer.public_key).valid


@pytest.mark.parametrize(
    "hostile",
    [
        b"",
        b"not a zip at all",
        repack({"../manifest.json": b"{}"}),
        repack({f"file-{n}": b"x" for n in range(40)}),
        repack({MANIFEST_NAME: b"\xff\xfe", CERTIFICATE_NAME: b"{}"}),
        repack({MANIFEST_NAME: b"[]", CERTIFICATE_NAME: b"[]"}),
    ],
)
def test_hostile_archives_are_refused_without_raising(hostile: bytes, signer: LogSigner) -> None:
    assert not verify_bundle(hostile, signer.public_key).valid


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_verify(data: bytes) -> None:
    assert not verify_bundle(data, LogSigner.generate().public_key).valid


def encrypted(contents: dict[str, bytes], name: str) -> bytes:
    """A zip whose member `name` is flagged encrypted in its local and central headers."""
    data = bytearray(repack(contents))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo(name).header_offset
    data[local + 6] |= 0x1
    central = bytes(data).find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46 : central + 46 + len(name)] == name.encode():
            data[central + 8] |= 0x1
        central = bytes(data).find(b"PK\x01\x02", central + 4)
    return bytes(data)


def test_an_encrypted_member_is_refused_in_words(session: Session, signer: LogSigner) -> None:
    contents = members(bundle_for(session, signer, Screenshot(b"\x89PNG screenshot")))
    check = verify_bundle(encrypted(contents, SCREENSHOT_NAME), signer.public_key)
    assert not check.valid
    assert check.reason == f"{SCREENSHOT_NAME} is encrypted; an evidence bundle never is"


def test_a_certificate_nested_100000_deep_is_refused_in_words(
    session: Session, signer: LogSigner
) -> None:
    contents = members(bundle_for(session, signer, Screenshot(None, "off")))
    contents[CERTIFICATE_NAME] = b"[" * 100_000 + b"]" * 100_000
    check = verify_bundle(repack(contents), signer.public_key)
    assert not check.valid
    assert "nests deeper than" in (check.reason or "")


def test_a_small_zip_of_huge_members_is_checked_in_bounded_memory(signer: LogSigner) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for number in range(14):
            archive.writestr(f"member-{number}.bin", bytes(100 * 1024 * 1024))
    bomb = buffer.getvalue()
    assert len(bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        check = verify_bundle(bomb, signer.public_key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not check.valid
    assert "unpacks to more than" in (check.reason or "")
    assert peak < 16 * 1024 * 1024


def test_a_completed_bundle_adds_the_screenshot_under_a_leaf_of_its_own(
    session: Session, signer: LogSigner
) -> None:
    log = AttestationLog(session, signer)
    first = log_evidence(log, capture(Screenshot(None, SCREENSHOT_QUEUED)))
    complete = complete_bundle(log, first.bundle, b"\x89PNG page", MOMENT)
    check = verify_bundle(complete.bundle, signer.public_key)
    assert check.valid, check.reason
    assert check.log_index == complete.log_index != first.log_index
    assert verify_bundle(first.bundle, signer.public_key).valid
    before, after = members(first.bundle), members(complete.bundle)
    assert after[SCREENSHOT_NAME] == b"\x89PNG page"
    assert {name: after[name] for name in (WARC_NAME, SIDE_BY_SIDE_NAME)} == {
        name: before[name] for name in (WARC_NAME, SIDE_BY_SIDE_NAME)
    }
    manifest = json.loads(after[MANIFEST_NAME])
    assert manifest["completes"] == {
        "manifest_sha256": first.manifest_sha256,
        "log_index": first.log_index,
    }
    assert manifest["screenshot"]["taken"] is True
    assert manifest["fetches"] == json.loads(before[MANIFEST_NAME])["fetches"]


def test_only_a_verified_bundle_without_a_screenshot_is_completed(
    session: Session, signer: LogSigner
) -> None:
    log = AttestationLog(session, signer)
    with_one = log_evidence(log, capture(Screenshot(b"\x89PNG taken inline"))).bundle
    with pytest.raises(IncompleteBundle, match="already holds a screenshot"):
        complete_bundle(log, with_one, b"\x89PNG page", MOMENT)
    contents = members(log_evidence(log, capture(Screenshot(None, SCREENSHOT_QUEUED))).bundle)
    contents[WARC_NAME] = b"doctored"
    with pytest.raises(IncompleteBundle, match="does not verify"):
        complete_bundle(log, repack(contents), b"\x89PNG page", MOMENT)
