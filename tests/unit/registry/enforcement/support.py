"""Helpers of the enforcement tests: alerts raised through monitoring's own record_copy."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
from PIL import Image
from sqlmodel import Session

from registry.blobs import BlobStore
from registry.db import unit_of_work
from registry.enforcement.schemas import CounterNoticeSubmission, LegalProfileUpdate
from registry.enforcement.service import CaseLinks, save_legal_profile
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.models import User, Work, persisted_id
from registry.monitoring.evidence import Screenshot
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.service import change_status, create_job, record_copy
from similarity.crawl.records import FetchRecord
from similarity.matcher import Match
from tests.factories import photo_jpeg
from tests.unit.registry.wiring import RegistryParts

LINKS = CaseLinks("https://copymark.test", b"k" * 32)
OTHER_KEY_LINKS = CaseLinks("https://copymark.test", b"z" * 32)


def _record(url: str, body: bytes, content_type: str) -> FetchRecord:
    now = datetime.now(UTC)
    return FetchRecord(
        url=url,
        final_url=url,
        method="GET",
        request_headers=(("User-Agent", "CopymarkBot/0.1"),),
        status=200,
        response_headers=(("Content-Type", content_type),),
        body=body,
        content=body,
        resolved_ip="203.0.113.7",
        tls_peer_subject=None,
        http_version="HTTP/1.1",
        started_at=now,
        finished_at=now,
    )


class Stores(Protocol):
    """What raising an alert needs: the registry's parts in tests, or the app's Services."""

    @property
    def signer(self) -> LogSigner: ...
    @property
    def evidence_blobs(self) -> BlobStore: ...
    def session(self) -> Session: ...


@dataclass
class AlertMaker:
    """Raises alerts on a registered work as a crawl would, each for a new copied image."""

    parts: Stores
    owner: User
    work: Work
    made: int = 0

    def alert(self, page_url: str, *, confirm: bool = True) -> Alert:
        self.made += 1
        original = np.asarray(Image.open(io.BytesIO(photo_jpeg("coffee"))).convert("RGB"))
        copy = original.copy()
        copy[0, 0] = (self.made % 256, 0, 0)  # distinct bytes: one alert per copied image
        buffer = io.BytesIO()
        Image.fromarray(copy).save(buffer, "PNG")
        image_url = f"{page_url.rstrip('/')}/copy-{self.made}.png"
        with unit_of_work(self.parts.session) as session:
            job = create_job(session, self.owner, [page_url], 1)
            recorded = record_copy(
                session,
                signer=self.parts.signer,
                evidence_blobs=self.parts.evidence_blobs,
                job_id=persisted_id(job),
                work_id=persisted_id(self.work),
                work_sha256=self.work.sha256,
                match=Match(work_id=persisted_id(self.work), score=0.9, verified=True, region=None),
                page=_record(page_url, f'<img src="{image_url}">'.encode(), "text/html"),
                image=_record(image_url, buffer.getvalue(), "image/png"),
                page_url=page_url,
                image_url=image_url,
                original_rgb=original,
                copy_rgb=copy,
                screenshot=Screenshot(None, "not needed by these tests"),
            )
            if confirm:
                alert_id = persisted_id(recorded.alert)
                change_status(session, self.owner, alert_id, AlertStatus.CONFIRMED)
        return recorded.alert


def give_legal_profile(parts: RegistryParts, user: User) -> None:
    with unit_of_work(parts.session) as session:
        save_legal_profile(
            session,
            user,
            LegalProfileUpdate(
                legal_name="Alice Example Ltd",
                postal_address="1 Canvas Street\nLondon N1 1AA",
                contact_email="legal@alice.example",
            ),
        )


def tree_size(parts: RegistryParts) -> int:
    with parts.session() as session:
        return AttestationLog(session).tree_size()


def counter_submission(**changes: object) -> CounterNoticeSubmission:
    fields: dict[str, object] = {
        "material": "The photo of a coffee cup on https://shop.test/gallery",
        "good_faith_statement": True,
        "jurisdiction_consent": True,
        "name": "Mallory Shop",
        "address": "2 Market Road, Springfield",
        "email": "mallory@shop.test",
        "signature": "Mallory Shop",
    }
    fields.update(changes)
    return CounterNoticeSubmission.model_validate(fields)


def reload(session: Session, row: Alert) -> Alert:
    fresh = session.get(Alert, row.id)
    assert fresh is not None
    return fresh
