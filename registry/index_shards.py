"""Searching a similarity index split across shard processes (`copymark index shard`).

Every query asks every shard at once and merges their answers (`similarity.index.shards`). A
search that cannot hear from every shard of one whole set fails as `IndexUnavailable` rather than
answering from part of the registry: a copy held by a silent shard would read as "no match".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import httpx
import numpy as np
import numpy.typing as npt

from registry.errors import Unavailable
from registry.messages import N_
from similarity.index.shards import (
    SHARD_HEADER,
    HashAnswer,
    ShardSelection,
    ShardSelectionError,
    ShardWireError,
    VectorAnswer,
    decode_answer,
    merge_hashes,
    merge_vectors,
)

logger = logging.getLogger(__name__)

SEARCH_TIMEOUT_S: Final = 10.0


class IndexUnavailable(Unavailable):
    """A shard of the similarity index did not answer: a 503, and a task that met it is tried
    again later."""

    code = "index_unavailable"


class ShardClients:
    """The shard processes named by their base URLs, searched as one index."""

    def __init__(self, urls: Sequence[str], timeout_s: float = SEARCH_TIMEOUT_S) -> None:
        if not urls:
            raise ValueError("a sharded index needs at least one shard URL")
        self.urls = [url.rstrip("/") for url in urls]
        self._http = httpx.Client(timeout=timeout_s)
        self._fan_out = ThreadPoolExecutor(
            max_workers=len(self.urls), thread_name_prefix="index-shards"
        )

    def search_hashes(self, queries: npt.NDArray[np.uint8], k: int) -> HashAnswer:
        rows = np.ascontiguousarray(queries, dtype=np.uint8)
        answers = self._ask("hashes", rows, k, np.dtype(np.int32))
        return merge_hashes(answers, k)

    def search_vectors(self, queries: npt.NDArray[np.float32], k: int) -> VectorAnswer:
        rows = np.ascontiguousarray(queries, dtype="<f4")
        answers = self._ask("vectors", rows, k, np.dtype(np.float32))
        return merge_vectors(answers, k)

    def close(self) -> None:
        self._fan_out.shutdown(wait=False)
        self._http.close()

    def _ask(
        self, kind: str, rows: npt.NDArray[Any], k: int, score_dtype: np.dtype[np.generic]
    ) -> list[tuple[npt.NDArray[Any], npt.NDArray[np.int64]]]:
        body = rows.tobytes()

        def ask(url: str) -> tuple[ShardSelection, tuple[npt.NDArray[Any], npt.NDArray[np.int64]]]:
            try:
                response = self._http.post(
                    f"{url}/search/{kind}",
                    params={"k": k},
                    content=body,
                    headers={"Content-Type": "application/octet-stream"},
                )
                response.raise_for_status()
                selection = ShardSelection.parse(response.headers.get(SHARD_HEADER, ""))
                return selection, decode_answer(response.content, len(rows), k, score_dtype)
            except (httpx.HTTPError, ShardSelectionError, ShardWireError) as error:
                raise _unreachable(url, error) from error

        answered = list(self._fan_out.map(ask, self.urls))
        _check_whole_set([selection for selection, _ in answered])
        return [answer for _, answer in answered]


def _check_whole_set(selections: list[ShardSelection]) -> None:
    """Refuse answers that are not each shard of one set exactly once (a shard listed twice, or
    one missing, would count some works twice or never)."""
    count = selections[0].of
    if sorted(s.shard for s in selections) != list(range(count)) or any(
        s.of != count for s in selections
    ):
        named = ", ".join(str(s) for s in selections)
        logger.error("index shards answering are not one whole set: %s", named)
        raise IndexUnavailable(
            N_(
                "the similarity index's shards (%(named)s) are not one whole set: "
                "each shard of the set must be configured once"
            ),
            named=named,
        )


def _unreachable(url: str, error: Exception) -> IndexUnavailable:
    # The shard's address and the fault are for the operator's log, not the client's reply.
    logger.warning("index shard %s did not answer: %r", url, error)
    return IndexUnavailable(N_("the similarity index cannot be reached; try again shortly"))
