"""The list-page benchmark records how the clients' connections were split over the server
processes, counted from the kernel's tables."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from bench.lists import connections_per_process

# Accepts two connections, then forks a child that lets go of them and accepts three more.
SERVER = textwrap.dedent(
    """
    import os, socket, sys, time
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    print(listening.getsockname()[1], flush=True)
    held = [listening.accept()[0] for _ in range(2)]
    if os.fork() == 0:
        for connection in held:
            connection.close()
        held = [listening.accept()[0] for _ in range(3)]
        print("child holds three", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def server() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield process
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(process.pid)], check=False)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_connections_are_counted_per_server_process_most_first(
    server: subprocess.Popen[str],
) -> None:
    assert server.stdout is not None
    port = int(server.stdout.readline())
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    try:
        assert server.stdout.readline().strip() == "child holds three"
        assert connections_per_process(server.pid, port) == [3, 2]
        assert connections_per_process(server.pid, port - 1) == []
    finally:
        for client in clients:
            client.close()
