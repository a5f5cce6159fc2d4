"""Shared fixtures: a migrated database per test on SQLite and on a real PostgreSQL server, a
real S3 server, a real Redis, and loopback SMTP and webhook servers.

Every layer's tests use these, so they import nothing above the registry; the app's wiring
(`settings`, `services`) lives in tests/functional/conftest.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.servers import RedisServer, RedisUnavailable, S3Unavailable, SeaweedS3
from registry.db import make_engine
from registry.migrations import migrate
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from tests.support.receivers import ReceivedRequest, SmtpInbox, WebhookReceiver, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# The suite signs up thousands of accounts: argon2 at its cheapest, for every app it starts, in
# this process and in the servers it spawns. The production cost has tests of its own.
os.environ.setdefault("COPYMARK_PASSWORD_HASH_TIME_COST", "1")
os.environ.setdefault("COPYMARK_PASSWORD_HASH_MEMORY_KIB", "64")

# Property tests judge behaviour, not speed: a loaded CI machine must not turn them red.
hypothesis_settings.register_profile(
    "copymark", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("copymark")
_database_numbers = itertools.count()
_prefix_numbers = itertools.count()
TEST_BUCKET = "copymark-test"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | None]:
    try:
        cluster = PostgresCluster.start()
    except (PostgresUnavailable, OSError) as error:
        if os.environ.get("COPYMARK_TEST_POSTGRES") == "required":
            raise
        pytest.skip(f"PostgreSQL not available here: {error}")
        return
    template = make_engine(cluster.url())
    with template.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CREATE DATABASE copymark_template"))
    template.dispose()
    migrated = make_engine(cluster.url("copymark_template"))
    migrate(migrated)
    migrated.dispose()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server; boto3 finds its credentials in the environment while it runs."""
    try:
        server = SeaweedS3.start()
    except (S3Unavailable, OSError) as error:
        if os.environ.get("COPYMARK_TEST_S3") == "required":
            raise
        pytest.skip(f"no S3 server available here: {error}")
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    server.client().create_bucket(Bucket=TEST_BUCKET)
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server with append-only persistence, as a Celery broker."""
    try:
        server = RedisServer.start()
    except (RedisUnavailable, OSError) as error:
        if os.environ.get("COPYMARK_TEST_REDIS") == "required":
            raise
        pytest.skip(f"no Redis server available here: {error}")
    yield server
    server.stop()


@pytest.fixture
def s3_blob_url(s3_server: SeaweedS3) -> str:
    """An empty prefix of its own for one test, as a COPYMARK_BLOB_URL.

    Tests share one bucket: SeaweedFS gives every bucket its own volumes, and runs out of them.
    """
    prefix = f"test-{os.getpid()}-{next(_prefix_numbers)}"
    return f"s3://{TEST_BUCKET}/{prefix}?endpoint={s3_server.endpoint}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "copymark.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `pages_on_sqlite` get a database of one engine, not of both."""
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "pages_on_sqlite"
    ):
        metafunc.definition.add_marker(
            pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A freshly migrated, empty database of each kind for one test.

    A PostgreSQL one is dropped afterwards: each is a 15 MB copy of the template, and a worker
    that kept its 300 spent 48 s deleting 4.4 GB when the session ended.
    """
    if request.param == "sqlite":
        path = tmp_path / "copymark.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = f"copymark_test_{os.getpid()}_{next(_database_numbers)}"
    _administer(cluster, f'CREATE DATABASE "{name}" TEMPLATE copymark_template')
    yield cluster.url(name)
    _administer(cluster, f'DROP DATABASE "{name}" WITH (FORCE)')


def _administer(cluster: PostgresCluster, statement: str) -> None:
    admin = make_engine(cluster.url())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    admin.dispose()


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/copymark")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(ReceivedRequest(dict(self.headers.items()), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def inbox(smtp_inbox: tuple[SmtpInbox, int]) -> SmtpInbox:
    return smtp_inbox[0]


@pytest.fixture
def postgres_database_url(postgres: PostgresCluster) -> Iterator[str]:
    """A freshly migrated PostgreSQL database, for what only PostgreSQL does (advisory locks,
    SKIP LOCKED between processes); dropped afterwards."""
    name = f"copymark_pg_{os.getpid()}_{next(_database_numbers)}"
    _administer(postgres, f'CREATE DATABASE "{name}" TEMPLATE copymark_template')
    yield postgres.url(name)
    _administer(postgres, f'DROP DATABASE "{name}" WITH (FORCE)')
