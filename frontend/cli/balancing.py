"""Least-connections accepting for `copymark serve --workers N`.

The server processes share one listening socket. Left to the kernel, whichever process wakes
first accepts every waiting connection, and a few keep-alive clients (a reverse proxy's upstream
pool, a benchmark's clients) pile onto one process while the others idle: a process answers on
one core, so its clients wait for each other. Here each process counts its open connections on a
small board every process maps, and one that holds more than another live process lets a waiting
connection be for a moment, so that the other accepts it. It never waits long: a sibling that is
killed, stuck or slow to wake cannot leave connections unaccepted. Keep-alive connections stay
where they land, so one that started first, or outlived a sibling, may hold more than its share;
`ShedWhenBusier` then asks one client at a time to reconnect, and the new connection goes to the
least busy process.

uvicorn builds its servers with the event loop's `create_server`; `BalancedLoop` (uvloop with that
one method changed) is named as uvicorn's loop, and accepts on a `BalancedListener` itself.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import mmap
import os
import socket
import time
from collections.abc import Callable
from multiprocessing.reduction import DupFd
from pathlib import Path
from typing import Any, ClassVar, Final

import uvloop
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("uvicorn.error")

# Each slot is two native ints: the owning process id (0 when free) and its open connections.
_INTS_PER_SLOT: Final = 2
_INT_BYTES: Final = 4
# A busier process lets a waiting connection be this long before looking again, and stops
# deferring to its siblings once it has waited this long in a row.
YIELD_S: Final = 0.002
MAX_YIELD_S: Final = 0.05
# Connections accepted from one wake-up, at most: the rest may suit another process better.
ACCEPT_BATCH: Final = 16
# A process sheds a connection when it holds this many more than a live sibling: moving one
# connection between processes one apart would only swap which of them is busier.
SHED_MARGIN: Final = 2
# After shedding one, a process sheds the next once that one has closed, or after this long if
# its client has not closed it.
SHED_WAIT_S: Final = 1.0


class ConnectionBoard:
    """Open connections per server process, in a file each process maps into memory.

    A process claims a free slot (or a dead process's) when it starts accepting and writes only
    its own slot; others only read it, so no lock is needed beyond the claim.
    """

    # This process's board once its acceptor accepts on it: the app's middleware reads it.
    accepting: ClassVar[ConnectionBoard | None] = None

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("r+b") as file:
            self._map = mmap.mmap(file.fileno(), 0)
        self._cells = memoryview(self._map).cast("i")
        self._slot: int | None = None
        self._shed: tuple[int, float] | None = None  # open connections, and when, at the last shed

    @classmethod
    def create(cls, path: Path, slots: int) -> ConnectionBoard:
        path.write_bytes(bytes(slots * _INTS_PER_SLOT * _INT_BYTES))
        return cls(path)

    @property
    def slots(self) -> int:
        return len(self._cells) // _INTS_PER_SLOT

    def _owner(self, slot: int) -> int:
        return self._cells[slot * _INTS_PER_SLOT]

    def _open(self, slot: int) -> int:
        return self._cells[slot * _INTS_PER_SLOT + 1]

    def _take(self, slot: int) -> None:
        # The count first: no reader may see this process beside the previous owner's count.
        self._cells[slot * _INTS_PER_SLOT + 1] = 0
        self._cells[slot * _INTS_PER_SLOT] = os.getpid()
        self._slot = slot

    def claim(self) -> bool:
        """Take a slot for this process; False when every slot belongs to a live process."""
        with self.path.open("r+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            for slot in range(self.slots):
                owner = self._owner(slot)
                if owner == 0 or not _alive(owner):
                    self._take(slot)
                    return True
        return False

    def release(self) -> None:
        if self._slot is not None:
            # A free slot's count is read by nobody, and reset by whoever takes it next.
            self._cells[self._slot * _INTS_PER_SLOT] = 0
            self._slot = None

    def count(self, change: int) -> None:
        """Add `change` to this process's open connections."""
        if self._slot is not None:
            self._cells[self._slot * _INTS_PER_SLOT + 1] += change

    def connections(self) -> dict[int, int]:
        """Open connections of each live process holding a slot, by process id."""
        held = {}
        for slot in range(self.slots):
            owner = self._owner(slot)
            if owner != 0 and _alive(owner):
                held[owner] = self._open(slot)
        return held

    def busier_than_another(self, margin: int = 1) -> bool:
        """Whether a live sibling holds at least `margin` fewer open connections than this one."""
        if self._slot is None:
            return False
        mine = self._open(self._slot)
        return any(
            slot != self._slot
            and (owner := self._owner(slot)) != 0
            and self._open(slot) <= mine - margin
            and _alive(owner)
            for slot in range(self.slots)
        )

    def shed_one(self) -> bool:
        """Whether this process should close one of its connections for a less busy sibling to
        take; True at most once until the connection last shed has closed."""
        if self._slot is None:
            return False
        mine = self._open(self._slot)
        now = time.monotonic()
        if self._shed is not None:
            open_then, shed_at = self._shed
            if mine >= open_then and now - shed_at < SHED_WAIT_S:
                return False
        if not self.busier_than_another(SHED_MARGIN):
            return False
        self._shed = (mine, now)
        return True

    def close(self) -> None:
        self.release()
        self._cells.release()
        self._map.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


class BalancedListener(socket.socket):
    """The shared listening socket as a server process receives it, with the board's path."""

    board_path: Path

    @classmethod
    def attach(cls, fd: Any, family: int, board_path: str) -> BalancedListener:
        """Rebuild the parent's socket in a spawned process (`SharedPort.__reduce__`)."""
        listener = cls(family, socket.SOCK_STREAM, fileno=fd.detach())
        listener.board_path = Path(board_path)
        return listener


class SharedPort(socket.socket):
    """The serving port, bound and listening in the supervisor; each server process it is
    pickled to gets the same socket as a `BalancedListener`, and the board's path with it."""

    board: ConnectionBoard

    @classmethod
    def open(cls, host: str, port: int, board_path: Path, processes: int) -> SharedPort:
        """The port listening, once no other program holds it (else OSError)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        shared = cls(family, socket.SOCK_STREAM)
        try:
            shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            shared.bind((host, port))
            shared.listen(socket.SOMAXCONN)
        except OSError:
            shared.close()
            raise
        # Room for replacements starting while the killed process's slot is still taken.
        shared.board = ConnectionBoard.create(board_path, 2 * processes)
        return shared

    def __reduce__(self) -> tuple[Callable[..., BalancedListener], tuple[Any, int, str]]:
        return BalancedListener.attach, (DupFd(self.fileno()), self.family, str(self.board.path))


class BalancedLoop(uvloop.Loop):  # type: ignore[misc]
    """uvloop, except that a server on a `BalancedListener` accepts by least connections."""

    async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
        sock = kwargs.get("sock")
        if not isinstance(sock, BalancedListener):
            return await super().create_server(protocol_factory, *args, **kwargs)
        acceptor = _Acceptor(self, sock, protocol_factory, kwargs.get("ssl"))
        acceptor.start(kwargs.get("backlog") or socket.SOMAXCONN)
        return acceptor


class _Acceptor:
    """Accepts on the shared socket for this process, deferring to less busy siblings; to
    uvicorn it is the server (`close`, `wait_closed`, `sockets`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: BalancedListener,
        protocol_factory: Callable[[], asyncio.Protocol],
        ssl: Any,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._ssl = ssl
        self._board = ConnectionBoard(sock.board_path)
        self._yielding_since: float | None = None
        self._last_yield = 0.0
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        self.sockets = [sock]

    def start(self, backlog: int) -> None:
        self._sock.setblocking(False)
        self._sock.listen(backlog)
        if self._board.claim():
            ConnectionBoard.accepting = self._board
        else:
            logger.warning("every connection-board slot is taken: accepting without balancing")
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        now = self._loop.time()
        if self._board.busier_than_another():
            if self._yielding_since is None or now - self._last_yield > 2 * YIELD_S:
                self._yielding_since = now
            if now - self._yielding_since < MAX_YIELD_S:
                self._last_yield = now
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(YIELD_S, self._listen_again)
                return
        self._yielding_since = None
        for _ in range(ACCEPT_BATCH):
            try:
                connection, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                # Out of descriptors or memory: stop for a moment rather than spin.
                logger.warning("accepting a connection failed: %s", error)
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(MAX_YIELD_S, self._listen_again)
                return
            connection.setblocking(False)
            self._board.count(+1)
            self._loop.create_task(self._serve(connection))
            if self._board.busier_than_another():
                return

    def _listen_again(self) -> None:
        self._resume = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)

    async def _serve(self, connection: socket.socket) -> None:
        def counted() -> asyncio.Protocol:
            return _CountedProtocol(self._factory(), self._board)

        try:
            await self._loop.connect_accepted_socket(counted, connection, ssl=self._ssl)
        except OSError:
            # The client left before its connection was set up (or the TLS handshake failed).
            self._board.count(-1)
            connection.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if ConnectionBoard.accepting is self._board:
            ConnectionBoard.accepting = None
        if self._resume is not None:
            self._resume.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._board.release()

    async def wait_closed(self) -> None:
        return None


class ShedWhenBusier:
    """ASGI middleware: while this process holds `SHED_MARGIN` connections more than a live
    sibling, a response now and then tells its client to close the connection (`Connection:
    close`), and the client's next connection is accepted by the least busy process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_shedding(message: Message) -> None:
            board = ConnectionBoard.accepting
            if message["type"] == "http.response.start" and board is not None and board.shed_one():
                closing = (b"connection", b"close")
                message = {**message, "headers": [*message.get("headers", ()), closing]}
            await send(message)

        await self.app(scope, receive, send_shedding)


class _CountedProtocol(asyncio.Protocol):
    """uvicorn's protocol for one connection, with the board told when the connection ends."""

    def __init__(self, inner: asyncio.Protocol, board: ConnectionBoard) -> None:
        self._inner = inner
        self._board = board

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._board.count(-1)
        self._inner.connection_lost(exc)
