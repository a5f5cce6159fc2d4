"""A canary server on a loopback address that a guarded client must never reach.

It counts every TCP connection it accepts and every UDP datagram it receives on its port
(before reading a byte, so a connection that never sends a request still counts), and answers
any HTTP request in the canary colour: a solid PNG for `.png`, a stylesheet for `.css`, a
script for `.js`, otherwise an HTML page painted in that colour. If anything the canary serves
reaches a screenshot, the colour shows in its pixels.

The port is taken from the web ports 8000-8999, so that a guard refusing the canary must do
it for the address, not for the port.
"""

from __future__ import annotations

import io
import socket
import threading
from types import TracebackType
from typing import Final, Self

from PIL import Image

CANARY_RGB: Final = (255, 0, 170)
CANARY_HEX: Final = "#ff00aa"
CANARY_TEXT: Final = "CANARY REACHED"
_WEB_PORTS: Final = range(8000, 9000)


def _canary_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), CANARY_RGB).save(buffer, "PNG")
    return buffer.getvalue()


_BODIES: Final = {
    ".png": ("image/png", _canary_png()),
    ".css": (
        "text/css",
        f"html, body, div, img {{ background: {CANARY_HEX} !important }}".encode(),
    ),
    ".js": (
        "text/javascript",
        (
            f"document.documentElement.style.background = '{CANARY_HEX}';"
            f"document.body && (document.body.style.background = '{CANARY_HEX}');"
        ).encode(),
    ),
}
_HTML: Final = (
    f'<!doctype html><html style="background:{CANARY_HEX}"><body style="background:{CANARY_HEX};'
    f'min-height:2000px"><h1>{CANARY_TEXT}</h1></body></html>'
).encode()


class CanaryServer:
    """TCP and UDP on one web port of `host`; use as a context manager, read the counts after."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._connections = 0
        self._datagrams = 0
        self._requests: list[str] = []
        self._stopping = threading.Event()
        self._tcp, self._udp = self._bind()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._tcp.close()
        self._udp.close()
        for thread in self._threads:
            thread.join(timeout=2)

    @property
    def port(self) -> int:
        """The web port both sockets are bound to."""
        return int(self._tcp.getsockname()[1])

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """The absolute URL of `path` on the canary."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._connections

    @property
    def datagrams(self) -> int:
        """UDP datagrams received so far."""
        with self._lock:
            return self._datagrams

    @property
    def requests(self) -> list[str]:
        """The request line of every HTTP request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def reached(self) -> int:
        """Everything that reached the canary, TCP and UDP together."""
        return self.connections + self.datagrams

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        for port in _WEB_PORTS:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                tcp.bind((self.host, port))
                udp.bind((self.host, port))
            except OSError:
                tcp.close()
                udp.close()
                continue
            tcp.listen(64)
            tcp.settimeout(0.05)
            udp.settimeout(0.05)
            return tcp, udp
        raise OSError(f"no free web port on {self.host}")

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _peer = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                self._udp.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._datagrams += 1

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(2)
            try:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    part = connection.recv(4096)
                    if not part:
                        return
                    head += part
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with self._lock:
                    self._requests.append(request_line)
                parts = request_line.split(" ")
                target = parts[1] if len(parts) > 1 else "/"
                path = target.split("?", 1)[0]
                content_type, body = next(
                    (answer for suffix, answer in _BODIES.items() if path.endswith(suffix)),
                    ("text/html", _HTML),
                )
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n"
                    b"Access-Control-Allow-Origin: *\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
            except OSError:
                return
