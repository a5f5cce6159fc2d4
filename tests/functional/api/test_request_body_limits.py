"""Request bodies are limited per route as they stream in, before anything parses them.

Hostile clients: a declared 1 GB upload, and bodies without a Content-Length that just keep
coming. Each is cut off at its route's limit with a 413 that names the limit; the streaming cases
drive a real uvicorn server over a socket, since only a real server reads a body as it arrives.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from tests.support.live_server import live_server

MiB = 1024 * 1024


@pytest.fixture
def live_url(services: Services) -> Iterator[str]:
    with live_server(create_app(services=services)) as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response the server sends (it may close after)."""
    connection.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def _stream_until_answered(
    url: str, path: str, content_type: str, prefix: bytes, give_up_after: int
) -> tuple[int, dict[str, str], bytes, int]:
    """POST a chunked body that never ends (up to give_up_after bytes); returns the answer and
    how many body bytes were sent before the server answered or stopped reading."""
    connection = _connect(url)
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    filler = b"x" * (64 * 1024)
    sent = 0
    connection.settimeout(5)
    try:
        for chunk in (prefix, *[filler] * (give_up_after // len(filler))):
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
    except (TimeoutError, BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: what a limit is for
    status, headers, body = _response(connection)
    connection.close()
    return status, headers, body, sent


def test_a_declared_1_gb_upload_to_match_is_refused_before_any_of_it_is_read(
    live_url: str, services: Services
) -> None:
    connection = _connect(live_url)
    # Headers only: a server that waited for the body would never answer.
    connection.sendall(
        b"POST /api/v1/match HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1073741824\r\n\r\n"
    )
    status, headers, body = _response(connection)
    connection.close()
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["code"] == "payload_too_large"
    limit_mib = services.settings.max_upload_bytes // MiB
    assert f"{limit_mib} MiB" in answer["detail"]
    assert "/api/v1/match" in answer["detail"]


def test_an_undeclared_endless_upload_to_match_is_cut_off_at_its_limit(
    live_url: str, services: Services
) -> None:
    limit = services.settings.max_upload_bytes
    prefix = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="q.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    status, _headers, body, sent = _stream_until_answered(
        live_url, "/api/v1/match", "multipart/form-data; boundary=x", prefix, 4 * limit
    )
    assert status == 413, body
    assert "MiB" in json.loads(body)["detail"]
    # Socket buffers hold a few MiB more than the server read; never the whole body.
    assert sent < limit + 32 * MiB


def test_a_100_mb_json_sign_in_is_cut_off_at_the_json_limit(live_url: str) -> None:
    status, _headers, body, sent = _stream_until_answered(
        live_url, "/api/v1/sessions", "application/json", b'{"email": "', 100 * MiB
    )
    assert status == 413, body
    answer = json.loads(body)
    assert answer["code"] == "payload_too_large"
    assert "1 MiB" in answer["detail"]
    assert sent < 32 * MiB


def test_a_body_under_its_routes_limit_reaches_the_route_but_not_a_json_route(
    client: TestClient,
) -> None:
    csv = b"units,net_revenue,channel,territory\n" + b"1,1.00,web,FR\n" * (2 * MiB // 14)
    # The sales-report route takes CSV reports of a few MiB: it answers (here: not signed in).
    as_report = client.post(
        "/api/v1/grants/1/sales-reports/csv?report_id=r1&currency=EUR",
        content=csv,
        headers={"content-type": "text/csv"},
    )
    assert as_report.status_code == 401
    as_sign_in = client.post(
        "/api/v1/sessions", content=csv, headers={"content-type": "application/json"}
    )
    assert as_sign_in.status_code == 413
    assert "1 MiB" in as_sign_in.json()["detail"]


def test_an_oversized_page_upload_gets_the_error_page_in_words(
    client: TestClient, services: Services
) -> None:
    too_big = b"\xff\xd8\xff" + b"\x00" * (services.settings.max_upload_bytes + 2 * MiB)
    # Refused before routing, so it answers as the client asks: a browser asks for HTML.
    response = client.post(
        "/find", files={"file": ("big.jpg", too_big)}, headers={"accept": "text/html"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "MiB" in response.text
