"""`copymark verify`, `certificate` and `bench scale` on hostile input: a one-line error, never a
traceback."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from frontend.cli import app
from registry.log.signing import LogSigner

# A well-formed public key of another algorithm than the log's (Ed25519).
EC_KEY_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "log-key.pem"
    path.write_text(LogSigner.generate().public_key.to_pem())
    return path


def refused_in_one_line(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_certificate_nested_100000_deep_is_refused(tmp_path: Path, key_file: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    message = refused_in_one_line("verify", str(deep), "--public-key", str(key_file))
    assert "nests deeper than 32 levels" in message


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n", "unusable"),
        (EC_KEY_PEM, "does not hold an Ed25519 key"),
        (base64.b64encode(b"short"), "unusable"),
        (b"\xff\xfe\x00 binary", "not a PEM or base64 text file"),
        (b"A" * 100_000, "larger than 65536 bytes"),
    ],
)
def test_a_malformed_public_key_is_refused(tmp_path: Path, content: bytes, phrase: str) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(content)
    certificate = tmp_path / "certificate.json"
    certificate.write_text("{}")
    message = refused_in_one_line("verify", str(certificate), "--public-key", str(key))
    assert phrase in message


def test_a_missing_public_key_is_refused(tmp_path: Path) -> None:
    certificate = tmp_path / "certificate.json"
    certificate.write_text("{}")
    missing = tmp_path / "nowhere.pem"
    message = refused_in_one_line("verify", str(certificate), "--public-key", str(missing))
    assert "No such file or directory" in message


def test_no_key_and_no_installation_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPYMARK_HOME", str(tmp_path / "never-initialised"))
    monkeypatch.delenv("COPYMARK_DATABASE_URL", raising=False)
    certificate = tmp_path / "certificate.json"
    certificate.write_text("{}")
    message = refused_in_one_line("verify", str(certificate))
    assert "--public-key" in message


def test_a_certificate_of_an_out_of_range_work_id_is_refused() -> None:
    message = refused_in_one_line("certificate", str(2**63))
    assert "work ids run from 1 to 2147483647" in message


def bench_scale_refusal(*args: str) -> str:
    """The error line of a `bench scale` refused before it measures anything (exit code 2)."""
    result = CliRunner().invoke(app, ["bench", "scale", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("counts", ["", "two", "0,2", "1,,4", "4,65"])
def test_bench_scale_refuses_process_counts_it_cannot_run(counts: str) -> None:
    line = bench_scale_refusal("--only", "crawl", "--processes", counts)
    assert line.startswith("error: --processes wants counts from 1 to 64")


def test_bench_scale_names_the_parts_it_knows() -> None:
    line = bench_scale_refusal("--only", "crawl,everything")
    assert line.startswith("error: unknown part everything")
    assert line.endswith("startup, registration, shards")


def test_bench_scale_refuses_too_few_works_for_its_largest_worker_count() -> None:
    line = bench_scale_refusal(
        "--only", "registration", "--processes", "1,16", "--registration-works", "40"
    )
    assert line == (
        "error: --registration-works must be at least 64 for 16 workers, so that each has a timed "
        "task"
    )
