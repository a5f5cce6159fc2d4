"""Helpers of the monitoring tests: accounts, copies of registered works, queued crawls."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.models import Role, User, Work
from registry.monitoring.jobs import AlertLine
from registry.monitoring.models import CrawlJob
from registry.monitoring.service import create_job
from similarity.augment import FAMILIES
from tests.factories import photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.wiring import RegistryParts

COPY_FAMILIES = ("jpeg", "colour", "hflip")
ORIGINALS = ("astronaut", "coffee", "chelsea")

CrawlRun = Callable[[int], tuple[CrawlJob, list[AlertLine]]]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def make_user(parts: RegistryParts, email: str) -> User:
    with unit_of_work(parts.session) as session:
        return create_user(
            session, email=email, password="correct horse battery", roles={Role.RIGHTS_HOLDER}
        )


@dataclass
class Registered:
    owner: User
    works: dict[str, Work]


def copies_of_originals() -> dict[str, bytes]:
    """A copy of each original, each by another copy family, and an unregistered photo."""
    images = {}
    for index, (name, family) in enumerate(zip(ORIGINALS, COPY_FAMILIES, strict=True)):
        original = np.asarray(Image.open(io.BytesIO(photo_jpeg(name))).convert("RGB"))
        images[f"copy-{name}.png"] = png(FAMILIES[family](original, random.Random(index)))
    images["unregistered-rocket.jpg"] = photo_jpeg("rocket")
    return images


def gallery_seeds(site: LoopbackSite) -> list[str]:
    return [site.url("/gallery/img"), site.url("/gallery/picture"), site.url("/unrelated")]


def queue_job(parts: RegistryParts, owner: User | None, seeds: list[str], max_pages: int) -> int:
    with unit_of_work(parts.session) as session:
        job = create_job(session, owner, seeds, max_pages, ["127.0.0.1"])
    assert job.id is not None
    return job.id
