"""`copymark cases`: a case opened in the data folder, listed, shown, reported and reminded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontend.cli import app
from frontend.services import Services
from frontend.settings import Settings
from registry.accounts.service import find_user_by_email
from registry.db import unit_of_work
from registry.enforcement.service import open_case
from registry.models import persisted_id
from registry.schemas import WorkMetadata
from registry.service import Upload
from tests.factories import photo_jpeg
from tests.unit.registry.enforcement.support import AlertMaker

OWNER = "ada@example.com"


@pytest.fixture
def case_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> int:
    """Ada's data folder with one registered photo and a case on a confirmed copy of it."""
    monkeypatch.setenv("COPYMARK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COPYMARK_MODELS_DIR", str(model_cache))
    monkeypatch.delenv("COPYMARK_DATABASE_URL", raising=False)
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    created = CliRunner().invoke(app, ["user", "create", OWNER, "--password", "long enough"])
    assert created.exit_code == 0, created.output
    services = Services(Settings())
    with unit_of_work(services.session) as session:
        owner = find_user_by_email(session, OWNER)
        assert owner is not None
        work = services.registrar.register(
            session, owner, Upload(photo_jpeg("coffee"), "c.jpg", WorkMetadata(title="Cup"))
        ).work
    alert = AlertMaker(services, owner, work).alert("https://shop.test/gallery")
    with unit_of_work(services.session) as session:
        case = open_case(session, owner, [persisted_id(alert)], services.signer)
    services.close()
    return persisted_id(case)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cases_are_listed_shown_and_reported_as_json(case_id: int) -> None:
    code, out, _ = run("cases", "list", "--owner", OWNER, "--json")
    assert code == 0
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert (listed["case_id"], listed["domain"], listed["state"]) == (case_id, "shop.test", "open")

    code, out, _ = run("cases", "show", str(case_id), "--owner", OWNER, "--json")
    assert code == 0
    (step,) = json.loads(out)["events"]
    assert (step["action"], step["to_state"]) == ("opened", "open")
    assert isinstance(step["log_index"], int)

    code, out, _ = run("cases", "report", "--owner", OWNER, "--json")
    assert json.loads(out)["by_state"]["open"] == 1
    code, out, _ = run("cases", "remind", "--json")
    assert (code, json.loads(out)) == (0, {"reminded": 0})


def test_another_owner_or_case_fails_in_words(case_id: int) -> None:
    code, out, err = run("cases", "show", str(case_id + 1), "--owner", OWNER, "--json")
    assert (code, out) == (2, "")
    assert f"case {case_id + 1} not found" in err
    code, _, err = run("cases", "list", "--owner", "nobody@example.com")
    assert code == 2
    assert "no account for nobody@example.com" in err
