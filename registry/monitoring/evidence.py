"""An evidence bundle verifies offline: every file matches the manifest, and the manifest's digest
is a leaf of the attestation log under a head signed by the log's key.

The bundle is one zip::

    manifest.json        what was captured, when, from which address; SHA-256 of every file
    capture.warc.gz      WARC (ISO 28500) request and response records of the page and the image,
                         exactly as fetched (payloads as transmitted, content-encoding intact)
    side-by-side.png     the registered original next to the copy found, matched region outlined
    screenshot.png       the page rendered by headless Chromium, when it could be taken
    certificate.json     the log's inclusion proof and signed tree head for the evidence leaf

The manifest's digest is logged (``EvidenceEvent``) before the zip is assembled, so the zip
carries a certificate for a leaf that names the manifest, and the manifest names every file.

A crawl records an alert's first bundle without the screenshot, which takes seconds and is taken
off the crawl path by the `evidence` task; that task logs a complete bundle (`complete_bundle`):
the first bundle's files byte for byte, its capture facts, the screenshot, and under `completes`
the first manifest's digest and leaf. The log being append-only, both leaves stay, and both
bundles verify on their own.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from registry.certificates import (
    MAX_DOCUMENT_BYTES,
    issue_certificate,
    read_json_document,
    verify_certificate,
)
from registry.errors import CertificateError
from registry.log.commitments import commitments_of, open_values, openings_to_json
from registry.log.events import JsonValue, format_timestamp
from registry.log.signing import LogPublicKey
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.monitoring.events import EvidenceEvent
from similarity.crawl.records import FetchRecord
from similarity.verify import Quad

RGBArray = npt.NDArray[np.uint8]

MANIFEST_FORMAT: Final = "copymark-evidence/v1"
MANIFEST_NAME: Final = "manifest.json"
CERTIFICATE_NAME: Final = "certificate.json"
WARC_NAME: Final = "capture.warc.gz"
SIDE_BY_SIDE_NAME: Final = "side-by-side.png"
SCREENSHOT_NAME: Final = "screenshot.png"
MAX_BUNDLE_BYTES: Final = 256 * 1024 * 1024
MAX_MEMBER_BYTES: Final = 128 * 1024 * 1024
MAX_MEMBERS: Final = 16
# Why a crawl's first bundle has no screenshot: the `evidence` task takes it once the alert
# commits.
SCREENSHOT_QUEUED: Final = "captured separately by the evidence queue"
_SIDE_BY_SIDE_HEIGHT: Final = 480
_OUTLINE_RGB: Final = (255, 0, 64)
# A fixed member time keeps the zip a function of its contents alone.
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
# The body is stored de-chunked, so a chunked framing header would misdescribe it.
_FRAMING_HEADERS: Final = frozenset({"transfer-encoding"})


@dataclass(frozen=True)
class Screenshot:
    """A rendered page, or why none was taken."""

    png: bytes | None
    skipped_reason: str | None = None


@dataclass(frozen=True)
class Capture:
    """Everything known of a copy when its evidence is assembled."""

    alert_id: int
    work_id: int
    work_sha256: str
    page: FetchRecord
    image: FetchRecord
    page_url: str
    image_url: str
    image_sha256: str
    original_rgb: RGBArray
    copy_rgb: RGBArray
    region: Quad | None
    score: float
    verified: bool
    screenshot: Screenshot
    captured_at: datetime


@dataclass(frozen=True)
class BundleCheck:
    """Outcome of an offline check of an evidence bundle; `reason` says why it was refused."""

    valid: bool
    reason: str | None = None
    log_index: int | None = None
    event: EvidenceEvent | None = None
    manifest: Mapping[str, Any] | None = None
    disclosed: dict[str, JsonValue] = field(default_factory=dict)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def evidence_files(capture: Capture) -> dict[str, bytes]:
    """The captured files of a bundle, by name (manifest and certificate come later)."""
    files = {
        WARC_NAME: warc_of(capture.page, capture.image),
        SIDE_BY_SIDE_NAME: side_by_side(capture.original_rgb, capture.copy_rgb, capture.region),
    }
    if capture.screenshot.png is not None:
        files[SCREENSHOT_NAME] = capture.screenshot.png
    return files


def build_manifest(capture: Capture, files: Mapping[str, bytes]) -> bytes:
    """The manifest JSON: the capture's facts and the SHA-256 and size of every file."""
    document = {
        "format": MANIFEST_FORMAT,
        "alert_id": capture.alert_id,
        "work_id": capture.work_id,
        "work_sha256": capture.work_sha256,
        "page_url": capture.page_url,
        "image_url": capture.image_url,
        "image_sha256": capture.image_sha256,
        "captured_at": format_timestamp(capture.captured_at),
        "match": {
            "score": round(capture.score, 6),
            "verified": capture.verified,
            "region": [list(point) for point in capture.region] if capture.region else None,
        },
        "fetches": [_fetch_facts("page", capture.page), _fetch_facts("image", capture.image)],
        "screenshot": {
            "taken": capture.screenshot.png is not None,
            "skipped_reason": capture.screenshot.skipped_reason,
        },
    }
    return _manifest_bytes(document, files)


def _manifest_bytes(facts: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The manifest's JSON: `facts` and the SHA-256 and size of every file, in a stable order."""
    document = dict(facts)
    document["files"] = {
        name: {"sha256": sha256_hex(data), "size": len(data)}
        for name, data in sorted(files.items())
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8")


def _fetch_facts(role: str, record: FetchRecord) -> dict[str, Any]:
    return {
        "role": role,
        "url": record.url,
        "final_url": record.final_url,
        "status": record.status,
        "http_version": record.http_version,
        "resolved_ip": record.resolved_ip,
        "tls_peer_subject": record.tls_peer_subject,
        "started_at": format_timestamp(record.started_at),
        "finished_at": format_timestamp(record.finished_at),
        "body_sha256": sha256_hex(record.body),
        "redirects": [
            {"url": hop.url, "status": hop.status, "location": hop.location}
            for hop in record.redirect_chain
        ],
    }


def warc_of(*records: FetchRecord) -> bytes:
    """A gzipped WARC with a request and a response record per fetch, in fetch order.

    The request record holds the request line and headers exactly as the fetcher sent them
    (method, target, protocol, every header in order); the response, the bytes as received.
    """
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    writer.write_record(
        writer.create_warcinfo_record(
            WARC_NAME, {"software": "Copymark monitoring", "format": "WARC File Format 1.1"}
        )
    )
    for record in records:
        target = urlsplit(record.final_url)
        request_target = (target.path or "/") + (f"?{target.query}" if target.query else "")
        request = writer.create_warc_record(
            record.final_url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"{record.method} {request_target} {record.http_version}",
                list(record.request_headers),
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": _warc_date(record.started_at),
                "WARC-IP-Address": record.resolved_ip,
            },
        )
        response = writer.create_warc_record(
            record.final_url,
            "response",
            payload=io.BytesIO(record.body),
            length=len(record.body),
            http_headers=StatusAndHeaders(
                str(record.status),
                [(k, v) for k, v in record.response_headers if k.lower() not in _FRAMING_HEADERS],
                protocol=record.http_version,
            ),
            warc_headers_dict={
                "WARC-Date": _warc_date(record.started_at),
                "WARC-IP-Address": record.resolved_ip,
                "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        # Linked both ways, so a reader starting from either record finds its pair.
        request.rec_headers.add_header(
            "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
        )
        writer.write_record(request)
        writer.write_record(response)
    return buffer.getvalue()


def _warc_date(moment: datetime) -> str:
    return format_timestamp(moment)


def side_by_side(original: RGBArray, copy: RGBArray, region: Quad | None) -> bytes:
    """PNG of the original (left) and the copy (right) at one height, the match outlined."""
    left = _to_height(original, _SIDE_BY_SIDE_HEIGHT)
    scale = _SIDE_BY_SIDE_HEIGHT / copy.shape[0]
    right = np.ascontiguousarray(_to_height(copy, _SIDE_BY_SIDE_HEIGHT))
    if region is not None:
        polygon = np.array([[x * scale, y * scale] for x, y in region], dtype=np.int32)
        cv2.polylines(right, [polygon], isClosed=True, color=_OUTLINE_RGB, thickness=3)
    gap = np.full((_SIDE_BY_SIDE_HEIGHT, 16, 3), 255, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.hstack([left, gap, right])).save(buffer, format="PNG")
    return buffer.getvalue()


def _to_height(rgb: RGBArray, height: int) -> RGBArray:
    width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
    resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(resized, dtype=np.uint8)


def pack_bundle(
    files: Mapping[str, bytes], manifest: bytes, certificate: Mapping[str, Any]
) -> bytes:
    """The bundle zip; the same contents always give the same bytes."""
    buffer = io.BytesIO()
    members = {
        MANIFEST_NAME: manifest,
        CERTIFICATE_NAME: json.dumps(certificate, sort_keys=True, indent=2).encode("utf-8"),
        **files,
    }
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            # PNG and gzip are compressed already.
            stored = name.endswith((".png", ".gz"))
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class LoggedEvidence:
    """An evidence capture on the log: its leaf index, its manifest's digest and its bundle."""

    log_index: int
    manifest_sha256: str
    bundle: bytes


def log_evidence(log: AttestationLog, capture: Capture) -> LoggedEvidence:
    """Append the capture's leaf, sign a head and pack the bundle with its opened certificate.

    The leaf commits to the page and image addresses; the bundle's certificate opens them, so
    its holder proves them while the public log names no address.
    """
    files = evidence_files(capture)
    return _log_bundle(log, build_manifest(capture, files), files, capture.captured_at)


def _log_bundle(
    log: AttestationLog, manifest: bytes, files: Mapping[str, bytes], captured_at: datetime
) -> LoggedEvidence:
    facts = json.loads(manifest)
    manifest_sha256 = sha256_hex(manifest)
    openings = open_values({"page_url": facts["page_url"], "image_url": facts["image_url"]})
    (index,) = log.append_events(
        [
            EvidenceEvent(
                alert_id=facts["alert_id"],
                work_id=facts["work_id"],
                manifest_sha256=manifest_sha256,
                image_sha256=facts["image_sha256"],
                commitments=commitments_of(openings),
                captured_at=captured_at,
            )
        ]
    )
    log.sign_head()
    certificate = issue_certificate(log, index, openings=openings_to_json(openings))
    return LoggedEvidence(index, manifest_sha256, pack_bundle(files, manifest, certificate))


class IncompleteBundle(Exception):
    """A first bundle that cannot be completed: it does not verify, or holds a screenshot."""


def complete_bundle(
    log: AttestationLog, first: bytes, screenshot_png: bytes, taken_at: datetime
) -> LoggedEvidence:
    """Log and pack the complete bundle of a capture whose first bundle had no screenshot.

    It holds the first bundle's files unchanged and its manifest's facts (addresses, fetches,
    match, `captured_at`: when the page and image were fetched), the screenshot and when it was
    taken, and under `completes` the first manifest's digest and log index. Its leaf is a leaf
    of its own; the first stays on the log. Raises IncompleteBundle for a first bundle that
    does not verify under the log's key or already has a screenshot.
    """
    check = verify_bundle(first, log.public_key())
    if not check.valid or check.manifest is None or check.log_index is None:
        raise IncompleteBundle(f"the first evidence bundle does not verify: {check.reason}")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        manifest_bytes = archive.read(MANIFEST_NAME)
        files = {
            name: archive.read(name)
            for name in archive.namelist()
            if name not in {MANIFEST_NAME, CERTIFICATE_NAME}
        }
    if SCREENSHOT_NAME in files:
        raise IncompleteBundle("the first evidence bundle already holds a screenshot")
    files[SCREENSHOT_NAME] = screenshot_png
    document = dict(check.manifest)
    document["screenshot"] = {
        "taken": True,
        "skipped_reason": None,
        "taken_at": format_timestamp(taken_at),
    }
    document["completes"] = {
        "manifest_sha256": sha256_hex(manifest_bytes),
        "log_index": check.log_index,
    }
    manifest = _manifest_bytes(document, files)
    captured_at = check.event.captured_at if check.event is not None else taken_at
    return _log_bundle(log, manifest, files, captured_at)


def verify_bundle(zip_bytes: bytes, public_key: LogPublicKey) -> BundleCheck:
    """Check a bundle offline against the trusted log key; never raises on bad input."""
    try:
        members = _read_members(zip_bytes)
        manifest_bytes = members.documents.get(MANIFEST_NAME)
        certificate_bytes = members.documents.get(CERTIFICATE_NAME)
        if manifest_bytes is None or certificate_bytes is None:
            return BundleCheck(False, f"the bundle lacks {MANIFEST_NAME} or {CERTIFICATE_NAME}")
        manifest = read_json_document(manifest_bytes, N_("manifest"))
        certificate = read_json_document(certificate_bytes, N_("certificate"))
    except (_Refused, CertificateError) as refusal:
        return BundleCheck(False, str(refusal))
    problem = _manifest_problem(manifest, members.files)
    if problem is not None or not isinstance(manifest, dict):
        return BundleCheck(False, problem)
    check = verify_certificate(certificate, public_key)
    if not check.valid:
        return BundleCheck(False, f"certificate: {check.reason}")
    event = check.event
    if not isinstance(event, EvidenceEvent):
        return BundleCheck(False, "the certificate does not attest an evidence capture")
    if event.manifest_sha256 != sha256_hex(manifest_bytes):
        return BundleCheck(False, "the logged manifest digest differs from this manifest's")
    if (event.alert_id, event.work_id) != (manifest.get("alert_id"), manifest.get("work_id")):
        return BundleCheck(False, "the logged alert or work differs from the manifest's")
    for name, value in check.disclosed.items():
        if manifest.get(name) != value:
            return BundleCheck(False, f"the logged {name} differs from the manifest's")
    return BundleCheck(True, None, check.log_index, event, manifest, check.disclosed)


class _Refused(Exception):
    pass


@dataclass(frozen=True)
class _Digest:
    sha256: str
    size: int


@dataclass
class _Members:
    """The manifest and certificate as bytes; every other file only as its digest and size."""

    documents: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, _Digest] = field(default_factory=dict)


# Files other than the manifest and certificate are hashed as they stream, never held whole:
# checking a bundle costs one chunk of memory however large its members say they are.
_CHUNK_BYTES: Final = 1024 * 1024
_DOCUMENTS: Final = frozenset({MANIFEST_NAME, CERTIFICATE_NAME})
_ENCRYPTED: Final = 0x1  # general purpose flag bit 0 of a zip member


def _read_members(zip_bytes: bytes) -> _Members:
    if len(zip_bytes) > MAX_BUNDLE_BYTES:
        raise _Refused(f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise _Refused(f"not a zip file: {error}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _Refused(f"the bundle holds more than {MAX_MEMBERS} files")
        members = _Members()
        unpacked = 0
        for info in infos:
            name = info.filename
            seen = name in members.files or name in members.documents
            if "/" in name or "\\" in name or name.startswith(".") or seen:
                raise _Refused(f"unexpected member name {name[:100]!r}")
            if info.flag_bits & _ENCRYPTED:
                raise _Refused(f"{name} is encrypted; an evidence bundle never is")
            limit = MAX_DOCUMENT_BYTES if name in _DOCUMENTS else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise _Refused(f"{name} declares more than {limit} bytes")
            digest, data, size = _stream_member(archive, info, limit, keep=name in _DOCUMENTS)
            unpacked += size
            if unpacked > MAX_BUNDLE_BYTES:
                raise _Refused(f"the bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes")
            if name in _DOCUMENTS:
                members.documents[name] = data
            else:
                members.files[name] = _Digest(digest, size)
        return members


def _stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, *, keep: bool
) -> tuple[str, bytes, int]:
    """SHA-256, bytes (when kept) and size of one member, refused past `limit` bytes.

    It reads past the declared size on purpose: a lying header must not hide a bomb.
    """
    hasher = hashlib.sha256()
    kept = bytearray()
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise _Refused(f"{info.filename} is larger than {limit} bytes")
                hasher.update(chunk)
                if keep:
                    kept += chunk
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError) as error:
        raise _Refused(f"{info.filename} cannot be read: {error}") from None
    return hasher.hexdigest(), bytes(kept), size


def _manifest_problem(manifest: object, members: Mapping[str, _Digest]) -> str | None:
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return f"the manifest is not a {MANIFEST_FORMAT} document"
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return "the manifest lists no files"
    present = set(members)
    if set(listed) != present:
        missing, unlisted = sorted(set(listed) - present), sorted(present - set(listed))
        return f"files missing from the bundle {missing}, files not in the manifest {unlisted}"
    for name in sorted(present):
        entry = listed[name]
        if not isinstance(entry, dict):
            return f"the manifest entry of {name} is malformed"
        digest = members[name]
        if entry.get("sha256") != digest.sha256 or entry.get("size") != digest.size:
            return f"{name} differs from the manifest (SHA-256 or size)"
    return None
