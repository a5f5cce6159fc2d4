"""A throw-away Redis server (Debian's redis-server) on a free loopback port, append-only on."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.receivers import free_port


class RedisUnavailable(RuntimeError):
    pass


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    args: list[str]

    @classmethod
    def start(cls) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server not found (apt-get install redis-server)")
        data_dir = Path(tempfile.mkdtemp(prefix="copymark-redis-"))
        port = free_port()
        args = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(data_dir),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(data_dir / "server.log"),
        ]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        server = cls(data_dir, port, process, args)
        server._wait_ready()
        return server

    def halt(self) -> None:
        """Shut the server down as an operator would (SIGTERM: it writes its append-only file)."""
        self.process.terminate()
        self.process.wait(timeout=30)

    def resume(self) -> None:
        """Start it again on the same port and data folder: it reloads what it had."""
        if self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisUnavailable(f"redis-server exited; see {self.data_dir / 'server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailable("redis-server did not answer PING")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)
