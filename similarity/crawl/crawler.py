"""A crawl fetches only in-scope pages that robots.txt allows, within its page budget.

The crawl is breadth-first from the seeds, persisted in a FrontierStore so that a killed crawl
resumes. It yields events as it goes: each page fetched, each image found (page and image
exchanges kept whole for evidence), each URL unchanged since the caller's last crawl, and a
PageIssue for every problem, after which the crawl goes on. Images are not limited by the
scope (they usually live on CDNs) but pass the network guard and robots.txt like pages.
Each image URL is fetched and reported once per crawl, with the first page that embedded it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field

from similarity.crawl.extract import ExtractedPage, ImageReference, extract_page
from similarity.crawl.fetcher import Fetcher, FetchError
from similarity.crawl.frontier import FrontierEntry, FrontierStore
from similarity.crawl.records import FetchRecord, IssueKind, PageIssue, Validators
from similarity.crawl.robots import RobotsPolicy
from similarity.crawl.urls import InvalidUrlError, WebUrl, parse_web_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.1"

_IMAGE_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"),
    (0, b"MM\x00*"),
    (8, b"WEBP"),
    (4, b"ftypavif"),
    (4, b"ftypheic"),
    (4, b"ftypmif1"),
)


def looks_like_image(data: bytes) -> bool:
    """Whether `data` starts like a raster image format we can fingerprint."""
    return any(data[offset : offset + len(magic)] == magic for offset, magic in _IMAGE_SIGNATURES)


@dataclass(frozen=True)
class CrawlScope:
    """Which pages may be fetched: hosts (a domain admits its subdomains), path prefixes, depth."""

    allowed_domains: frozenset[str]
    path_prefixes: tuple[str, ...] = ()
    max_depth: int = 3
    max_pages: int = 1000

    @classmethod
    def of_seeds(
        cls, seeds: Iterable[str], *, max_depth: int = 3, max_pages: int = 1000
    ) -> CrawlScope:
        """The scope that admits the seeds' own hosts."""
        hosts = frozenset(parse_web_url(seed).host for seed in seeds)
        return cls(allowed_domains=hosts, max_depth=max_depth, max_pages=max_pages)

    def admits(self, url: WebUrl) -> bool:
        """Whether a page at `url` is inside the scope (depth aside)."""
        in_domain = any(
            url.host == domain or url.host.endswith("." + domain) for domain in self.allowed_domains
        )
        if not in_domain:
            return False
        return not self.path_prefixes or url.path.startswith(self.path_prefixes)


@dataclass(frozen=True)
class CrawlConfig:
    """A crawl job: seeds, scope, parallelism and validators from the previous crawl."""

    seeds: tuple[str, ...]
    scope: CrawlScope
    workers: int = 8
    max_images_per_page: int = 200
    # Asking robots.txt before queueing a link fetches the link's robots.txt at once; crawlers
    # sharing a frontier leave that to the host's lease holder, which checks before fetching.
    robots_before_queue: bool = True
    validators: Mapping[str, Validators] = field(default_factory=dict)


@dataclass(frozen=True)
class PageFetched:
    """A page fetched and parsed."""

    record: FetchRecord
    depth: int
    page: ExtractedPage


@dataclass(frozen=True)
class ImageFound:
    """An image embedded in a page, with both exchanges; `image.content` is the image bytes."""

    page_url: str
    image_url: str
    source: str
    page: FetchRecord
    image: FetchRecord


@dataclass(frozen=True)
class Unchanged:
    """A page or image that answered 304 Not Modified to the caller's validators."""

    url: str
    record: FetchRecord
    page_url: str | None = None


@dataclass(frozen=True)
class CrawlFinished:
    """The crawl stopped: frontier exhausted or page budget spent."""

    pages_done: int
    pages_pending: int


CrawlEvent = PageFetched | ImageFound | Unchanged | PageIssue | CrawlFinished


class Crawler:
    """Runs one crawl job; iterate `events()` to drive it."""

    def __init__(
        self,
        config: CrawlConfig,
        fetcher: Fetcher,
        frontier: FrontierStore,
        *,
        robots: RobotsPolicy | None = None,
    ) -> None:
        self.config = config
        self._fetcher = fetcher
        self._frontier = frontier
        self._robots = robots if robots is not None else RobotsPolicy(fetcher)
        self._queue: asyncio.Queue[CrawlEvent | None] = asyncio.Queue(maxsize=256)
        self._claimed_images: set[str] = set()

    @property
    def backlog(self) -> int:
        """Events queued and not yet taken by the caller; 0 means every event was taken."""
        return self._queue.qsize()

    async def events(self) -> AsyncGenerator[CrawlEvent, None]:
        """Crawl, yielding events as they happen; closing the iterator stops the crawl."""
        scheduler = asyncio.ensure_future(self._schedule())
        try:
            while True:
                event = await self._queue.get()
                if event is None:
                    break
                yield event
            await scheduler
        finally:
            if not scheduler.done():
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler

    async def _schedule(self) -> None:
        try:
            await self._seed()
            started = self._frontier.count("done")
            running: set[asyncio.Task[None]] = set()
            try:
                while True:
                    room = min(
                        self.config.workers - len(running), self.config.scope.max_pages - started
                    )
                    entries = self._frontier.lease(room)
                    started += len(entries)
                    for entry in entries:
                        running.add(asyncio.ensure_future(self._crawl_page(entry)))
                    pause = self._frontier.next_due()
                    if not running:
                        if pause is None:
                            break
                        await asyncio.sleep(pause)
                        continue
                    done, running = await asyncio.wait(
                        running, timeout=pause, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()
            finally:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            await self._emit(
                CrawlFinished(
                    pages_done=self._frontier.count("done"),
                    pages_pending=self._frontier.count("pending"),
                )
            )
        finally:
            await self._queue.put(None)

    async def _seed(self) -> None:
        self._frontier.release_leases()
        entries: list[FrontierEntry] = []
        for seed in self.config.seeds:
            try:
                entries.append(FrontierEntry(url=str(parse_web_url(seed)), depth=0))
            except InvalidUrlError as error:
                await self._emit(
                    PageIssue(url=seed, kind=IssueKind.INVALID_URL, message=str(error))
                )
        self._frontier.add(entries)

    async def _emit(self, event: CrawlEvent) -> None:
        await self._queue.put(event)

    async def _page_hop(self, url: WebUrl) -> None:
        if not self.config.scope.admits(url):
            raise FetchError(str(url), IssueKind.OUT_OF_SCOPE, "redirect leaves the crawl scope")
        await self._robots_hop(url)

    async def _robots_hop(self, url: WebUrl) -> None:
        if not await self._robots.allows(url):
            raise FetchError(str(url), IssueKind.DISALLOWED_BY_ROBOTS, "robots.txt disallows it")

    async def _crawl_page(self, entry: FrontierEntry) -> None:
        record = await self._fetch_page(entry)
        if record is not None:
            page = extract_page(record.content, record.final_url)
            await self._emit(PageFetched(record=record, depth=entry.depth, page=page))
            for message in page.invalid:
                await self._emit(
                    PageIssue(
                        url=record.final_url,
                        kind=IssueKind.INVALID_URL,
                        message=message,
                        page_url=record.final_url,
                    )
                )
            await self._enqueue_links(page, entry.depth + 1)
            images = page.images[: self.config.max_images_per_page]
            await asyncio.gather(*(self._crawl_image(record, image) for image in images))
        self._frontier.mark_done(entry.url)

    async def _fetch_page(self, entry: FrontierEntry) -> FetchRecord | None:
        try:
            record = await self._fetcher.fetch(
                entry.url,
                validators=self.config.validators.get(entry.url),
                hop_check=self._page_hop,
                accept=PAGE_ACCEPT,
            )
        except FetchError as failure:
            await self._emit(PageIssue(url=entry.url, kind=failure.kind, message=failure.message))
            return None
        if record.status == 304:
            await self._emit(Unchanged(url=entry.url, record=record))
            return None
        if not 200 <= record.status < 300:
            await self._emit(
                PageIssue(
                    url=entry.url, kind=IssueKind.HTTP_STATUS, message=f"HTTP {record.status}"
                )
            )
            return None
        if record.media_type not in HTML_TYPES:
            await self._emit(
                PageIssue(
                    url=entry.url,
                    kind=IssueKind.CONTENT_TYPE,
                    message=f"page served as {record.media_type or 'no content type'}",
                )
            )
            return None
        return record

    async def _enqueue_links(self, page: ExtractedPage, depth: int) -> None:
        """Queue in-scope links; robots.txt is asked first so disallowed pages spend no budget."""
        if depth > self.config.scope.max_depth:
            return
        entries = []
        for link in page.links:
            parsed = parse_web_url(link)
            if self.config.scope.admits(parsed) and (
                not self.config.robots_before_queue or await self._robots.allows(parsed)
            ):
                entries.append(FrontierEntry(url=link, depth=depth))
        self._frontier.add(entries)

    async def _crawl_image(self, page: FetchRecord, image: ImageReference) -> None:
        if image.url in self._claimed_images or self._frontier.knows_image(image.url):
            return
        self._claimed_images.add(image.url)
        try:
            record = await self._fetcher.fetch(
                image.url,
                validators=self.config.validators.get(image.url),
                hop_check=self._robots_hop,
                accept=IMAGE_ACCEPT,
            )
        except FetchError as failure:
            await self._image_issue(page, image.url, failure.kind, failure.message)
            return
        if record.status == 304:
            await self._emit(Unchanged(url=image.url, record=record, page_url=page.final_url))
        elif not 200 <= record.status < 300:
            await self._image_issue(page, image.url, IssueKind.HTTP_STATUS, f"HTTP {record.status}")
        elif not looks_like_image(record.content):
            await self._image_issue(
                page,
                image.url,
                IssueKind.NOT_AN_IMAGE,
                f"served as {record.media_type or 'no content type'}, bytes are no raster image",
            )
        else:
            await self._emit(
                ImageFound(
                    page_url=page.final_url,
                    image_url=image.url,
                    source=image.source,
                    page=page,
                    image=record,
                )
            )
        self._frontier.remember_image(image.url)

    async def _image_issue(
        self, page: FetchRecord, url: str, kind: IssueKind, message: str
    ) -> None:
        await self._emit(PageIssue(url=url, kind=kind, message=message, page_url=page.final_url))
