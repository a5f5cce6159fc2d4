"""The connection board behind least-connections accepting: slots, counts, dead processes."""

from __future__ import annotations

import asyncio
import mmap
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from starlette.types import Message, Receive, Scope, Send

from frontend.cli.balancing import (
    MAX_YIELD_S,
    SHED_WAIT_S,
    BalancedListener,
    BalancedLoop,
    ConnectionBoard,
    SharedPort,
    ShedWhenBusier,
)


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_slot(path: Path, slot: int, pid: int, connections: int) -> None:
    """Stand in for another process's writes to its own slot."""
    with path.open("r+b") as file, mmap.mmap(file.fileno(), 0) as mapped:
        cells = memoryview(mapped).cast("i")
        cells[2 * slot] = pid
        cells[2 * slot + 1] = connections
        cells.release()


def test_a_process_claims_a_free_slot_counts_its_connections_and_releases_it(
    tmp_path: Path,
) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 4)
    assert board.connections() == {}
    assert board.claim()
    board.count(+1)
    board.count(+1)
    board.count(-1)
    assert board.connections() == {os.getpid(): 1}
    board.release()
    assert board.connections() == {}
    board.count(+1)  # after release, nothing is written
    assert board.connections() == {}
    board.close()


@pytest.fixture
def sibling() -> Iterator[int]:
    """The id of a live process standing in for a sibling server process."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_a_process_with_more_connections_than_a_live_sibling_is_the_busier(
    tmp_path: Path, sibling: int
) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 4)
    write_slot(board.path, 0, sibling, 2)
    assert board.claim()
    board.count(+2)
    assert not board.busier_than_another()  # equal counts: either may accept
    board.count(+1)
    assert board.busier_than_another()
    write_slot(board.path, 0, sibling, 3)
    assert not board.busier_than_another()
    board.close()


def test_a_process_two_connections_busier_sheds_one_at_a_time_until_it_has_closed(
    tmp_path: Path, sibling: int
) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 4)
    write_slot(board.path, 0, sibling, 3)
    assert board.claim()
    board.count(+4)
    assert not board.shed_one()  # one more than the sibling: moving one would only swap
    board.count(+2)
    assert board.shed_one()
    assert not board.shed_one()  # the shed connection is still open
    board.count(-1)  # and now it has closed
    assert board.shed_one()
    board.count(-1)
    assert not board.shed_one()  # 4 beside 3
    board.close()


def test_a_shed_connection_its_client_keeps_open_does_not_stop_shedding_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 2)
    write_slot(board.path, 0, os.getppid(), 0)
    assert board.claim()
    board.count(+5)
    now = time.monotonic()
    assert board.shed_one()
    assert not board.shed_one()
    monkeypatch.setattr(time, "monotonic", lambda: now + SHED_WAIT_S + 0.1)
    assert board.shed_one()
    board.close()


def test_a_process_with_no_live_sibling_sheds_nothing(tmp_path: Path) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 2)
    write_slot(board.path, 1, dead_pid(), 0)
    assert board.claim()
    board.count(+8)
    assert not board.shed_one()
    board.close()


async def respond(app: ShedWhenBusier) -> list[Message]:
    """The messages an app sends for one GET, through the middleware."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
    return sent


async def plain_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-page", b"1")]})
    await send({"type": "http.response.body", "body": b"page"})


def test_the_middleware_asks_a_client_to_reconnect_only_when_its_process_should_shed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ShedWhenBusier(plain_page)
    monkeypatch.setattr(ConnectionBoard, "accepting", None)
    (start, body) = asyncio.run(respond(app))
    assert start["headers"] == [(b"x-page", b"1")]
    assert body["body"] == b"page"

    board = ConnectionBoard.create(tmp_path / "board", 2)
    write_slot(board.path, 0, os.getppid(), 0)
    assert board.claim()
    monkeypatch.setattr(ConnectionBoard, "accepting", board)
    board.count(+1)
    (start, _) = asyncio.run(respond(app))
    assert start["headers"] == [(b"x-page", b"1")]
    board.count(+2)
    (start, body) = asyncio.run(respond(app))
    assert start["headers"] == [(b"x-page", b"1"), (b"connection", b"close")]
    assert body["body"] == b"page"
    (start, _) = asyncio.run(respond(app))  # one at a time
    assert start["headers"] == [(b"x-page", b"1")]
    board.close()


def test_a_dead_process_neither_holds_back_the_living_nor_keeps_its_slot(tmp_path: Path) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 1)
    write_slot(board.path, 0, dead_pid(), 0)
    # The only slot is a dead process's: it is taken over, so the board still balances.
    assert board.claim()
    assert board.connections() == {os.getpid(): 0}

    roomy = ConnectionBoard.create(tmp_path / "roomy", 2)
    write_slot(roomy.path, 1, dead_pid(), 0)
    assert roomy.claim()
    roomy.count(+5)
    assert not roomy.busier_than_another()
    assert roomy.connections() == {os.getpid(): 5}
    board.close()
    roomy.close()


def test_a_full_board_refuses_a_claim_and_its_process_accepts_without_balancing(
    tmp_path: Path,
) -> None:
    board = ConnectionBoard.create(tmp_path / "board", 1)
    write_slot(board.path, 0, os.getppid(), 0)
    assert not board.claim()
    board.count(+3)
    assert not board.busier_than_another()
    assert board.connections() == {os.getppid(): 0}
    board.close()


def ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        return client.recv(1024)


class Answer(asyncio.Protocol):
    """Answers a request once its bytes arrive, then closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.transport.close()


@pytest.mark.parametrize("beside", ["nobody", "an idle sibling"])
def test_a_busier_process_defers_a_connection_to_an_idle_sibling_but_only_for_a_moment(
    tmp_path: Path, beside: str, sibling: int
) -> None:
    """One connection is held open, then a second asks: alone, the process accepts it at once;
    beside a live sibling holding none, it leaves the connection for the sibling, and accepts it
    itself once MAX_YIELD_S has passed. Each connection counts while it is open."""
    shared = SharedPort.open("127.0.0.1", 0, tmp_path / "board", 2)
    port = shared.getsockname()[1]
    listener = BalancedListener(shared.family, socket.SOCK_STREAM, fileno=os.dup(shared.fileno()))
    listener.board_path = shared.board.path
    if beside == "an idle sibling":
        write_slot(shared.board.path, 1, sibling, 0)
    me = os.getpid()

    async def serve() -> tuple[bytes, float, list[int]]:
        server = await asyncio.get_running_loop().create_server(Answer, sock=listener)
        counts: list[int] = []
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            while not counts or counts[-1] != 1:
                await asyncio.sleep(0.01)
                counts.append(shared.board.connections().get(me, 0))
            started = time.monotonic()
            answer = await asyncio.to_thread(ask, port)
            waited = time.monotonic() - started
        while counts[-1] != 0:
            await asyncio.sleep(0.01)
            counts.append(shared.board.connections().get(me, 0))
        server.close()
        await server.wait_closed()
        return answer, waited, counts

    try:
        with asyncio.Runner(loop_factory=BalancedLoop) as runner:
            answer, waited, counts = runner.run(serve())
    finally:
        listener.close()
        shared.board.close()
        shared.close()
    assert answer.endswith(b"ok")
    assert counts[-1] == 0
    assert 1 in counts
    if beside == "an idle sibling":
        assert waited >= MAX_YIELD_S
    assert me not in ConnectionBoard(tmp_path / "board").connections()  # released at close
