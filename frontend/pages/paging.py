"""Links between the pages of a paged list: previous, next, and numbered pages around this one."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

# Pages shown on each side of the current one; the first and last are always shown.
WINDOW = 2
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class PageLink:
    """A numbered page; `number` None stands for the pages left out between two links."""

    number: int | None
    url: str = ""
    current: bool = False


@dataclass(frozen=True, slots=True)
class PageLinks:
    page: int
    pages: int
    previous: str | None
    next: str | None
    numbered: tuple[PageLink, ...]


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` items fill; an empty list still has its one page."""
    return max(1, -(-total // page_size))


def whole_page_number(text: str) -> int | None:
    """The page number a query asks for, or None when it is not a whole number from 1 up."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > len(str(MAX_PAGE)):
        return None
    number = int(cleaned)
    return number if 1 <= number <= MAX_PAGE else None


def page_links(request: Request, page: int, pages: int) -> PageLinks:
    """Links to the neighbours of `page` and to a window of numbered pages, keeping the query."""

    def url(number: int) -> str:
        return str(request.url.include_query_params(page=number))

    shown = sorted({1, pages} | set(range(max(1, page - WINDOW), min(pages, page + WINDOW) + 1)))
    numbered: list[PageLink] = []
    for number in shown:
        if numbered and numbered[-1].number is not None and number - numbered[-1].number > 1:
            numbered.append(PageLink(None))
        numbered.append(PageLink(number, url(number), number == page))
    return PageLinks(
        page=page,
        pages=pages,
        previous=url(page - 1) if page > 1 else None,
        next=url(page + 1) if page < pages else None,
        numbered=tuple(numbered) if pages > 1 else (),
    )
