"""`copymark crawl --json`: one line per alert with the contract's fields, progress on stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from frontend.cli.crawl import crawl
from frontend.services import Services
from frontend.settings import Settings
from registry.accounts.service import create_user
from registry.monitoring.models import Alert, ScreenshotStatus
from registry.schemas import WorkMetadata
from registry.service import Upload
from tests.factories import photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import copies_of_originals

ALERT_FIELDS = {"work_id", "page_url", "image_url", "score", "evidence_sha256", "log_index"}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: run in-process on PostgreSQL, the command leaves one pooled connection for
    the garbage collector (harmless in a real one-shot process, an error under pytest)."""
    path = tmp_path / "copymark.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(crawl)
    return app


def environment(settings: Settings) -> dict[str, str]:
    return {
        "COPYMARK_HOME": str(settings.home),
        "COPYMARK_DATABASE_URL": settings.resolved_database_url,
        "COPYMARK_MODELS_DIR": str(settings.model_cache_dir),
        "COPYMARK_ENVIRONMENT": "test",
    }


def test_crawl_prints_one_json_line_per_alert(
    cli: typer.Typer, services: Services, settings: Settings
) -> None:
    with services.session() as session:
        owner = create_user(session, email="alice@example.com", password="correct horse battery")
        work = services.registrar.register(
            session, owner, Upload(photo_jpeg("astronaut"), "astronaut.jpg", WorkMetadata())
        ).work
        session.commit()
    with LoopbackSite(copies_of_originals()) as site:
        result = CliRunner().invoke(
            cli,
            [site.url("/gallery/img"), "--max-pages", "1", "--allow-host", "127.0.0.1", "--json"],
            env=environment(settings),
        )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["work_id"] for line in lines] == [work.id]
    assert set(lines[0]) >= ALERT_FIELDS
    assert "pages 1" in result.stderr
    # No broker: the command took the screenshot itself once the crawl was done (or said why
    # it could not), so the alert is not left pending.
    with services.session() as session:
        alert = session.get(Alert, lines[0]["alert_id"])
    assert alert is not None
    assert alert.screenshot_status in {ScreenshotStatus.TAKEN, ScreenshotStatus.NOT_TAKEN}
    assert f"screenshot of alert {alert.id}: " in result.stderr


def test_a_seed_that_is_not_a_web_url_exits_with_status_2(
    cli: typer.Typer, services: Services, settings: Settings
) -> None:
    result = CliRunner().invoke(cli, ["ftp://example.com/"], env=environment(settings))
    assert result.exit_code == 2


def test_copymark_verify_checks_an_evidence_bundle_offline(
    cli: typer.Typer, services: Services, settings: Settings, tmp_path: Path
) -> None:
    from frontend.cli import app
    from registry.blobs import LocalBlobStore

    with services.session() as session:
        owner = create_user(session, email="alice@example.com", password="correct horse battery")
        services.registrar.register(
            session, owner, Upload(photo_jpeg("astronaut"), "astronaut.jpg", WorkMetadata())
        )
        session.commit()
    with LoopbackSite(copies_of_originals()) as site:
        crawled = CliRunner().invoke(
            cli,
            [site.url("/gallery/img"), "--max-pages", "1", "--allow-host", "127.0.0.1", "--json"],
            env=environment(settings),
        )
    (alert,) = [json.loads(line) for line in crawled.stdout.splitlines()]
    bundle = tmp_path / "evidence.zip"
    evidence = LocalBlobStore(settings.home / "evidence")
    bundle.write_bytes(evidence.get(alert["evidence_sha256"]))
    checked = CliRunner().invoke(app, ["verify", str(bundle), "--json"], env=environment(settings))
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {
        "valid": True,
        "reason": None,
        "log_index": alert["log_index"],
        "disclosed": {"page_url": alert["page_url"], "image_url": alert["image_url"]},
    }
    tampered = bytearray(bundle.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    bundle.write_bytes(bytes(tampered))
    refused = CliRunner().invoke(app, ["verify", str(bundle)], env=environment(settings))
    assert refused.exit_code != 0
    assert "does NOT verify" in refused.stderr or "neither a certificate" in refused.stderr
