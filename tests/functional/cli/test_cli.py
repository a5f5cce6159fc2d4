"""The copymark command line, driven as a user would: results on stdout, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, text
from sqlmodel import select
from typer.testing import CliRunner

from frontend.cli import app
from frontend.services import Services
from frontend.settings import Settings
from registry.accounts.service import find_user_by_email
from registry.db import unit_of_work
from registry.models import Visibility, Work
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.images import load_image
from tests.factories import photo_jpeg, random_png


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Path:
    monkeypatch.setenv("COPYMARK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COPYMARK_MODELS_DIR", str(model_cache))
    monkeypatch.delenv("COPYMARK_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["user", "create", "ada@example.com", "--password", "long enough"])
    assert created.exit_code == 0, created.output
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def portfolio(home: Path) -> Path:
    folder = home / "portfolio"
    (folder / "nested").mkdir(parents=True, exist_ok=True)
    (folder / "coffee.jpg").write_bytes(photo_jpeg("coffee"))
    (folder / "nested" / "blocks.png").write_bytes(random_png(5))
    (folder / "notes.txt").write_text("not an image, and not an image suffix either")
    return folder


def test_register_prints_one_json_line_per_work(home: Path) -> None:
    code, out, _ = run("register", str(portfolio(home)), "--owner", "ada@example.com", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["coffee.jpg", "blocks.png"]
    assert [line["status"] for line in lines] == ["registered", "registered"]
    assert sorted(line["log_index"] for line in lines) == [0, 1]
    assert all(len(line["sha256"]) == 64 and line["work_id"] for line in lines)
    _, out_again, _ = run(
        "register", str(home / "portfolio"), "--owner", "ada@example.com", "--json"
    )
    again = [json.loads(line) for line in out_again.splitlines()]
    assert [line["status"] for line in again] == ["duplicate", "duplicate"]


def test_a_rejected_file_is_reported_and_the_exit_status_says_so(home: Path) -> None:
    bad = home / "fake.jpg"
    bad.write_bytes(b"<svg onload=alert(1)></svg>")
    code, out, _ = run("register", str(bad), "--owner", "ada@example.com", "--json")
    assert code == 1
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["status"] == "rejected"
    assert "SVG" in line["error"]


def test_unknown_owner_is_a_one_line_error(home: Path) -> None:
    code, out, err = run("register", str(portfolio(home)), "--owner", "nobody@example.com")
    assert code == 2
    assert out == ""
    assert "no account with email nobody@example.com" in err
    assert len(err.strip().splitlines()) == 1


def test_certificate_verifies_offline_and_a_forged_one_does_not(home: Path) -> None:
    run("register", str(portfolio(home)), "--owner", "ada@example.com")
    certificate = home / "cert.json"
    assert run("certificate", "1", "-o", str(certificate))[0] == 0
    key = home / "key.pem"
    key.write_text(_public_pem())
    code, _, err = run("verify", str(certificate), "--public-key", str(key))
    assert code == 0, err
    assert "verifies" in err
    document = json.loads(certificate.read_text())
    document["leaf"] = document["leaf"].replace('"work_id":1', '"work_id":2')
    forged = home / "forged.json"
    forged.write_text(json.dumps(document))
    code, _, err = run("verify", str(forged), "--public-key", str(key))
    assert code == 1
    assert "does NOT verify" in err


def test_verify_takes_the_public_key_as_pem_or_as_the_published_json(home: Path) -> None:
    from registry.log.signing import LogPublicKey

    run("register", str(portfolio(home)), "--owner", "ada@example.com")
    certificate = home / "cert.json"
    assert run("certificate", "1", "-o", str(certificate))[0] == 0
    key = LogPublicKey.from_pem(_public_pem())
    document = {"key_id": key.key_id, "ed25519_base64": key.to_base64(), "pem": key.to_pem()}
    for name, key_text in (("key.pem", key.to_pem()), ("key.json", json.dumps(document))):
        (home / name).write_text(key_text)
        code, _, err = run("verify", str(certificate), "--public-key", str(home / name))
        assert code == 0, err
    (home / "lying.json").write_text(json.dumps({**document, "key_id": "00" * 32}))
    code, _, err = run("verify", str(certificate), "--public-key", str(home / "lying.json"))
    assert code == 2
    assert "cannot read the public key" in err


def test_certificate_as_pdf(home: Path) -> None:
    run("register", str(portfolio(home)), "--owner", "ada@example.com")
    pdf = home / "cert.pdf"
    assert run("certificate", "1", "--format", "pdf", "-o", str(pdf))[0] == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    code, _, err = run("certificate", "99")
    assert code == 2
    assert "work 99 not found" in err


def test_log_verify_detects_an_edited_leaf(home: Path) -> None:
    run("register", str(portfolio(home)), "--owner", "ada@example.com")
    code, out, _ = run("log", "verify", "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    from frontend.services import Services

    services = Services(Settings())
    with services.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE log_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), "
                "'work_id', 'work_iD') AS BLOB) WHERE leaf_index = 0"
            )
        )
    services.close()
    code, out, err = run("log", "verify", "--json")
    assert code == 1
    assert json.loads(out)["problem"]["kind"] == "leaf"
    assert "tampered" in err


def test_match_finds_the_registered_work(home: Path) -> None:
    run("register", str(portfolio(home)), "--owner", "ada@example.com")
    query = home / "query.jpg"
    query.write_bytes(photo_jpeg("coffee", quality=35, max_side=320))
    code, out, _ = run("match", str(query), "--json", "--top-k", "3")
    assert code == 0
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["decision"] == "copy"
    assert line["matches"][0]["work_id"] == 1
    assert 0.0 <= line["matches"][0]["p_copy"] <= 1.0
    assert line["matches"][0]["decision"] == "copy"


def _public_pem() -> str:
    from registry.log.signing import load_signer

    return load_signer(Settings().signing_key_path).public_key.to_pem()


def test_register_does_not_name_another_owners_private_earlier_work(home: Path) -> None:
    from frontend.services import Services

    services = Services(Settings())
    services.initialise()
    with unit_of_work(services.session) as session:
        owner = find_user_by_email(session, "ada@example.com")
        assert owner is not None
        private = WorkMetadata(visibility=Visibility.PRIVATE)
        services.registrar.register(session, owner, Upload(photo_jpeg("astronaut"), "a", private))
    services.close()
    created = run("user", "create", "bo@example.com", "--password", "long enough")
    assert created[0] == 0
    copy = home / "copy.jpg"
    copy.write_bytes(photo_jpeg("astronaut", quality=40, max_side=400))
    code, out, _ = run("register", str(copy), "--owner", "bo@example.com", "--json")
    assert code == 0
    line = json.loads(out)
    assert (line["status"], line["conflict_with"]) == ("conflict", None)
    assert line["conflict"] == "conflicts with an earlier registration by another owner"
    copy.write_bytes(photo_jpeg("astronaut", quality=50, max_side=420))
    _, _, err = run("register", str(copy), "--owner", "bo@example.com")
    assert "conflict" in err
    assert "(conflicts with an earlier registration by another owner)" in err


def test_a_process_pool_fingerprints_exactly_as_threads_do(home: Path) -> None:
    folder = portfolio(home)
    (folder / "fake.jpg").write_bytes(b"<svg onload=alert(1)></svg>")
    code, out, _ = run(
        "register", str(folder), "--owner", "ada@example.com", "--json", "--processes", "2"
    )
    assert code == 1
    lines = {Path(line["path"]).name: line for line in map(json.loads, out.splitlines())}
    assert {name: line["status"] for name, line in lines.items()} == {
        "coffee.jpg": "registered",
        "fake.jpg": "rejected",
        "blocks.png": "registered",
    }
    assert "SVG" in lines["fake.jpg"]["error"]
    wiring = Services(Settings())
    try:
        for name in ("coffee.jpg", "nested/blocks.png"):
            image = load_image((folder / name).read_bytes(), wiring.limits, max_side=512)
            with wiring.session() as session:
                work = session.get(Work, lines[Path(name).name]["work_id"])
            assert work is not None
            assert work.fingerprint == wiring.similarity.fingerprint(image).to_bytes()
    finally:
        wiring.close()
    query = home / "query.jpg"
    query.write_bytes(photo_jpeg("coffee", quality=35, max_side=320))
    _, found, _ = run("match", str(query), "--json")
    assert json.loads(found)["matches"][0]["work_id"] == lines["coffee.jpg"]["work_id"]


def test_register_queue_without_a_broker_says_what_is_missing_and_registers_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COPYMARK_TASK_BROKER_URL", raising=False)
    code, out, err = run(
        "register", str(portfolio(home)), "--owner", "ada@example.com", "--queue", "--json"
    )
    assert code == 2
    assert "COPYMARK_TASK_BROKER_URL" in err
    assert out == ""
    code, out, _ = run("register", str(home / "portfolio"), "--owner", "ada@example.com", "--json")
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["registered"] * 2


def test_index_references_gives_older_works_the_features_registration_stores(home: Path) -> None:
    from frontend.services import Services
    from registry.models import WorkReference
    from similarity.references import ReferenceFeatures

    code, out, _ = run("register", str(portfolio(home)), "--owner", "ada@example.com", "--json")
    assert code == 0
    coffee, blocks = (json.loads(line) for line in out.splitlines())
    services = Services(Settings())
    with unit_of_work(services.session) as session:
        registered = {
            row.work_id: ReferenceFeatures.from_bytes(row.features)
            for row in session.exec(select(WorkReference))
        }
        # As if both were registered before features were kept, and one's original then lost.
        session.exec(delete(WorkReference))
    services.blobs.delete(blocks["sha256"])
    services.close()

    code, out, err = run("index", "references", "--json")
    assert code == 0, err
    assert json.loads(out) == {"filled": 1, "unreadable_work_ids": [blocks["work_id"]]}
    services = Services(Settings())
    with unit_of_work(services.session) as session:
        (row,) = session.exec(select(WorkReference)).all()
    services.close()
    filled, stored = ReferenceFeatures.from_bytes(row.features), registered[coffee["work_id"]]
    assert row.work_id == coffee["work_id"]
    assert np.array_equal(filled.keypoints.points, stored.keypoints.points)
    assert filled.keypoints.descriptors is not None
    assert stored.keypoints.descriptors is not None
    assert np.array_equal(filled.keypoints.descriptors, stored.keypoints.descriptors)
    assert filled.copy_vector is not None
    assert stored.copy_vector is not None
    assert np.allclose(filled.copy_vector, stored.copy_vector, atol=1e-6)

    code, out, _ = run("index", "references", "--json")
    assert (code, json.loads(out)) == (0, {"filled": 0, "unreadable_work_ids": [blocks["work_id"]]})
