"""The HTTP face of one index shard (`copymark index shard`): searches of its indexes, and health.

Query processes (`COPYMARK_INDEX_SHARDS`) post raw query rows and read raw answers
(`similarity.index.shards`). A shard answers only searches: it reads the database to follow the
works it holds and writes nothing, so it needs no account and no session. Serve it on a private
network only: anyone who can reach it can ask which work ids are near a hash they send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.snapshots import IndexFollower
from similarity.index.shards import (
    HASH_BYTES,
    MAX_K,
    MAX_QUERY_ROWS,
    SHARD_HEADER,
    ShardSelection,
    ShardWireError,
    decode_queries,
    encode_answer,
)

Search = Callable[[npt.NDArray[Any], int], tuple[npt.NDArray[Any], npt.NDArray[np.int64]]]


def shard_app(follower: IndexFollower, shard: ShardSelection) -> Starlette:
    """A Starlette app answering `POST /search/hashes`, `POST /search/vectors` and `GET /health`."""
    engine = follower.engine
    dim = engine.vector_dim
    # Each index it searches: the dtype and width of a query row, and the search.
    indexes: dict[str, tuple[np.dtype[Any], int, Search]] = {
        "hashes": (np.dtype(np.uint8), HASH_BYTES, engine.search_hashes)
    }
    if dim is not None:
        indexes["vectors"] = (np.dtype(np.float32), dim, engine.search_vectors)

    async def search(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in indexes:
            return _refused(404, f"this shard has no {kind} index to search")
        row_dtype, width, search_index = indexes[kind]
        try:
            k = _k_of(request.query_params.get("k", ""))
            declared = int(request.headers.get("content-length", "0"))
            if declared > MAX_QUERY_ROWS * row_dtype.itemsize * width:
                raise ShardWireError(f"at most {MAX_QUERY_ROWS} query rows a request")
            queries = decode_queries(await request.body(), row_dtype, width)
        except (ShardWireError, ValueError) as error:
            return _refused(400, str(error))
        answer = await run_in_threadpool(search_index, queries, k)
        return Response(
            encode_answer(*answer),
            media_type="application/octet-stream",
            headers={SHARD_HEADER: str(shard)},
        )

    async def health(_request: Request) -> JSONResponse:
        works = await run_in_threadpool(engine.work_ids)
        return JSONResponse(
            {
                "shard": str(shard),
                "works": len(works),
                "change_cursor": follower.cursor,
                "vector_dim": dim,
                "searches_exactly": engine.searches_exactly,
            },
            headers={SHARD_HEADER: str(shard)},
        )

    return Starlette(
        routes=[
            Route("/search/{kind}", search, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _k_of(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_K:
        raise ShardWireError(f"k must be a whole number from 1 to {MAX_K}")
    return int(text)


def _refused(status: int, detail: str) -> JSONResponse:
    payload: dict[str, Any] = {"detail": detail}
    return JSONResponse(payload, status_code=status)
