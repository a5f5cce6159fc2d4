"""Certificates: issued from the log, verified offline, every forgery refused with a reason."""

import copy
import dataclasses
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pypdf import PdfReader
from sqlmodel import Session, SQLModel, create_engine

import registry.log.models  # noqa: F401 - registers the log tables on the metadata
from registry.certificates import (
    CERTIFICATE_FORMAT,
    PdfExtras,
    StepKind,
    build_certificate,
    certificate_in_pdf,
    certificate_view,
    issue_certificate,
    published_head_step,
    render_certificate_html,
    render_certificate_pdf,
    verify_certificate,
    verify_certificate_steps,
)
from registry.errors import CertificateError
from registry.log.commitments import commitments_of, open_values, openings_to_json
from registry.log.events import RegistrationEvent, canonical_json
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.schemas import CertificatePublic

SIGNER = LogSigner.generate()


def registration(work_id: int) -> RegistrationEvent:
    return RegistrationEvent(
        work_id=work_id,
        owner_id=3,
        sha256=f"{work_id:064x}",
        fingerprints={"phash": "8f373714acfcf4d0"},
        registered_at=datetime(2026, 11, 27, 13, 20, 43, tzinfo=UTC),
    )


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def log(session: Session) -> AttestationLog:
    log = AttestationLog(session, SIGNER)
    log.append_events([registration(work_id) for work_id in range(1, 12)])
    log.sign_head()
    return log


@pytest.fixture
def certificate(log: AttestationLog) -> dict[str, Any]:
    return issue_certificate(log, 6)


def refused(certificate: object, reason: str) -> None:
    check = verify_certificate(certificate, SIGNER.public_key)
    assert not check.valid
    assert check.reason is not None
    assert reason in check.reason


def test_issued_certificate_verifies_offline(certificate: dict[str, Any]) -> None:
    offline = json.loads(json.dumps(certificate))
    check = verify_certificate(offline, SIGNER.public_key)
    assert check.valid, check.reason
    assert check.log_index == 6
    assert check.event == registration(7)


def test_issued_certificate_is_exactly_what_the_response_model_describes(
    certificate: dict[str, Any],
) -> None:
    model = CertificatePublic.model_validate(certificate)
    assert model.format == CERTIFICATE_FORMAT
    # Same fields in the same order: serving the model changes no byte of the document.
    assert json.dumps(model.model_dump(mode="json")) == json.dumps(certificate)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(format="copymark-certificate/v3"),
        lambda c: c.update(format="copymark-certificate/v1"),
        lambda c: c.update(format=["copymark-certificate/v2"]),
        lambda c: c.update(openings=[]),
        lambda c: c.update(openings={"sha256": {"salt": "00" * 32}}),
        lambda c: c.update(log_index="6"),
        lambda c: c.update(extra=1),
        lambda c: c.pop("public_key"),
        lambda c: c.update(inclusion_proof=["AB" * 32]),
        lambda c: c["tree_head"].update(signature="AAAA"),
    ],
)
def test_a_certificate_verifiers_refuse_does_not_validate(
    certificate: dict[str, Any], mutate: Any
) -> None:
    forged = copy.deepcopy(certificate)
    mutate(forged)
    assert not verify_certificate(forged, SIGNER.public_key).valid
    with pytest.raises(ValidationError):
        CertificatePublic.model_validate(forged)


def private_certificate(log: AttestationLog) -> dict[str, Any]:
    openings = open_values({"sha256": "cd" * 32, "fingerprints": {"phash": "8f373714acfcf4d0"}})
    private = RegistrationEvent(
        work_id=99,
        owner_id=3,
        sha256=None,
        fingerprints=None,
        registered_at=datetime(2026, 11, 27, 13, 20, 43, tzinfo=UTC),
        commitments=commitments_of(openings),
    )
    (index,) = log.append_events([private])
    return issue_certificate(log, index, openings=openings_to_json(openings))


def test_a_private_works_certificate_proves_its_digest_the_leaf_does_not_show(
    log: AttestationLog,
) -> None:
    certificate = private_certificate(log)
    assert "cd" * 32 not in certificate["leaf"]
    check = verify_certificate(json.loads(json.dumps(certificate)), SIGNER.public_key)
    assert check.valid, check.reason
    assert check.disclosed["sha256"] == "cd" * 32
    view = certificate_view(certificate, title="t", owner="o", base_url="https://c.example")
    assert view.sha256 == "cd" * 32


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda o: o["sha256"].update(value="ef" * 32), "does not match"),
        (lambda o: o["sha256"].update(salt="00" * 32), "does not match"),
        (lambda o: o["fingerprints"]["value"].update(phash="0" * 16), "does not match"),
        (lambda o: o.update(owner={"salt": "00" * 32, "value": "x"}), "no field named"),
    ],
)
def test_a_tampered_opening_fails_with_its_reason(
    log: AttestationLog, mutate: Any, reason: str
) -> None:
    certificate = private_certificate(log)
    mutate(certificate["openings"])
    check = verify_certificate(certificate, SIGNER.public_key)
    assert not check.valid
    assert reason in (check.reason or "")


@pytest.mark.parametrize(
    "opening",
    [
        {"salt": "00" * 31, "value": 1},
        {"salt": "ZZ" * 32, "value": 1},
        {"salt": "00" * 32, "value": 1.5},
        {"salt": "00" * 32},
        "salt",
    ],
)
def test_a_malformed_opening_is_refused_without_raising(
    certificate: dict[str, Any], opening: object
) -> None:
    certificate["openings"] = {"sha256": opening}
    check = verify_certificate(certificate, SIGNER.public_key)
    assert not check.valid
    assert "malformed certificate" in (check.reason or "")


def test_openings_of_a_leaf_of_an_unknown_kind_are_refused(log: AttestationLog) -> None:
    (index,) = log.append([b'{"type":"unheard_of","version":1}'])
    opening = {"units": {"salt": "00" * 32, "value": 1}}
    check = verify_certificate(issue_certificate(log, index, openings=opening), SIGNER.public_key)
    assert not check.valid
    assert "no event kind this verifier knows" in (check.reason or "")
    assert verify_certificate(issue_certificate(log, index), SIGNER.public_key).valid


def test_a_certificate_of_the_first_format_still_verifies(certificate: dict[str, Any]) -> None:
    earlier = {k: v for k, v in certificate.items() if k != "openings"}
    earlier["format"] = "copymark-certificate/v1"
    assert verify_certificate(earlier, SIGNER.public_key).valid


def test_certificate_for_a_leaf_after_the_latest_head_signs_a_new_head(
    log: AttestationLog,
) -> None:
    log.append_events([registration(99)])
    certificate = issue_certificate(log, 11)
    assert certificate["tree_head"]["tree_size"] == 12
    assert verify_certificate(certificate, SIGNER.public_key).valid


def test_every_leaf_of_the_log_gets_a_valid_certificate(log: AttestationLog) -> None:
    for index in range(log.tree_size()):
        assert verify_certificate(issue_certificate(log, index), SIGNER.public_key).valid


def test_certificate_checked_with_another_key_is_refused(certificate: dict[str, Any]) -> None:
    other = LogSigner.generate().public_key
    check = verify_certificate(certificate, other)
    assert not check.valid
    assert check.reason is not None
    assert "not the trusted key" in check.reason


def test_certificate_re_signed_by_a_forger_is_refused(
    certificate: dict[str, Any], session: Session
) -> None:
    forger = LogSigner.generate()
    forged = build_certificate(
        leaf=certificate["leaf"].encode(),
        log_index=6,
        inclusion_proof=[bytes.fromhex(h) for h in certificate["inclusion_proof"]],
        tree_head=AttestationLog(session, forger).sign_head(),
        public_key=forger.public_key,
    )
    refused(forged, "not the trusted key")


def test_edited_leaf_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["leaf"] = canonical_json(registration(8).to_json()).decode()
    refused(forged, "inclusion proof does not lead")


def test_leaf_with_a_changed_owner_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["leaf"] = forged["leaf"].replace('"owner_id":3', '"owner_id":4')
    refused(forged, "inclusion proof does not lead")


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_edited_proof_node_is_refused(certificate: dict[str, Any], position: int) -> None:
    forged = copy.deepcopy(certificate)
    node = bytearray.fromhex(forged["inclusion_proof"][position])
    node[0] ^= 1
    forged["inclusion_proof"][position] = node.hex()
    refused(forged, "inclusion proof does not lead")


def test_truncated_proof_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["inclusion_proof"].pop()
    refused(forged, "inclusion proof does not lead")


def test_extended_proof_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["inclusion_proof"].append("00" * 32)
    refused(forged, "inclusion proof does not lead")


@pytest.mark.parametrize("index", [5, 7, 0])
def test_wrong_index_is_refused(certificate: dict[str, Any], index: int) -> None:
    forged = copy.deepcopy(certificate)
    forged["log_index"] = index
    refused(forged, "inclusion proof does not lead")


def test_index_outside_the_signed_tree_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["log_index"] = 11
    refused(forged, "outside the signed tree")


@pytest.mark.parametrize(
    ("field", "value"),
    [("tree_size", 12), ("tree_size", 10), ("root_hash", "00" * 32), ("timestamp", 5)],
)
def test_edited_tree_head_is_refused(
    certificate: dict[str, Any], field: str, value: object
) -> None:
    forged = copy.deepcopy(certificate)
    forged["tree_head"][field] = value
    refused(forged, "signature does not verify")


def test_bad_signature_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["tree_head"]["signature"] = "A" * 86 + "=="
    refused(forged, "signature does not verify")


def test_key_id_that_disagrees_with_the_head_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["key_id"] = "ab" * 32
    refused(forged, "differs from its tree head")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: c.pop("leaf"), "missing fields ['leaf']"),
        (lambda c: c.update(extra=1), "unknown fields ['extra']"),
        (lambda c: c.update(format="v0"), "format must be"),
        (lambda c: c.update(log_index=-1), "log_index"),
        (lambda c: c.update(log_index="6"), "log_index"),
        (lambda c: c.update(log_index=True), "log_index"),
        (lambda c: c.update(leaf=7), "leaf must be a string"),
        (lambda c: c.update(leaf="\ud800"), "not valid Unicode"),
        (lambda c: c.update(inclusion_proof="00"), "inclusion_proof"),
        (lambda c: c.update(inclusion_proof=["00" * 32] * 65), "at most 64"),
        (lambda c: c.update(inclusion_proof=["zz" * 32]), "not hex"),
        (lambda c: c.update(inclusion_proof=[None]), "inclusion_proof entry"),
        (lambda c: c.update(tree_head=[]), "tree head must be a JSON object"),
        (lambda c: c["tree_head"].pop("signature"), "tree head fields"),
        (lambda c: c.update(key_id="AB" * 32), "key_id"),
        (lambda c: c.update(public_key="%%%"), "public_key"),
    ],
)
def test_malformed_structure_is_refused_with_a_reason(
    certificate: dict[str, Any], mutate: Any, reason: str
) -> None:
    forged = copy.deepcopy(certificate)
    mutate(forged)
    refused(forged, reason)


@pytest.mark.parametrize("document", [None, [], "certificate", 7])
def test_non_object_is_refused(document: object) -> None:
    refused(document, "a certificate is a JSON object")


def test_non_utf8_leaf_cannot_be_certified(log: AttestationLog) -> None:
    head = log.latest_head()
    assert head is not None
    with pytest.raises(CertificateError, match="UTF-8"):
        build_certificate(
            leaf=b"\xff",
            log_index=0,
            inclusion_proof=[],
            tree_head=head,
            public_key=SIGNER.public_key,
        )


def test_view_shows_the_registration(certificate: dict[str, Any]) -> None:
    view = certificate_view(
        certificate, title="Koi", owner="ana@example.com", base_url="https://c.example/"
    )
    assert (view.work_id, view.sha256, view.log_index, view.tree_size) == (7, f"{7:064x}", 6, 11)
    assert view.registered_at == "2026-11-27 13:20:43 UTC"
    assert view.verify_url == "https://c.example/verify/7"
    assert view.key_id == SIGNER.key_id


def test_html_escapes_user_text_and_links_the_qr_code(certificate: dict[str, Any]) -> None:
    view = certificate_view(
        certificate, title="<script>alert(1)</script>", owner="ana", base_url="https://c.example"
    )
    page = render_certificate_html(view)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<svg" in page
    assert "https://c.example/verify/7" in page
    assert view.root_hash in page


def test_pdf_is_a_pdf_document(certificate: dict[str, Any]) -> None:
    view = certificate_view(certificate, title="鯉 Koi", owner="ana", base_url="https://c.example")
    document = render_certificate_pdf(view)
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")


def test_view_of_a_non_registration_leaf_is_refused(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["leaf"] = '{"type":"other","version":1}'
    with pytest.raises(CertificateError, match="not an event"):
        certificate_view(forged, title="t", owner="o", base_url="https://c.example")


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_a_chinese_title_survives_in_the_pdfs_text(certificate: dict[str, Any]) -> None:
    view = certificate_view(
        certificate, title="锦鲤 Koi", owner="李安娜", base_url="https://c.example"
    )
    text = pdf_text(render_certificate_pdf(view))
    assert "锦鲤 Koi" in text
    assert "李安娜" in text
    assert "CM-000007-00000006" in text
    assert "https://c.example/verify/7" in text


def test_the_pdf_speaks_the_language_it_is_given(certificate: dict[str, Any]) -> None:
    view = certificate_view(certificate, title="Koi", owner="ana", base_url="https://c.example")
    chinese = {"Certificate of registration": "登记证书", "Owner": "权利人"}
    extras = PdfExtras(
        local_time="2026年11月27日 13:20:43 UTC", translate=lambda t: chinese.get(t, t)
    )
    text = pdf_text(render_certificate_pdf(view, extras))
    assert "登记证书" in text
    assert "权利人" in text
    assert "2026年11月27日" in text


def test_the_certificate_travels_inside_its_pdf(certificate: dict[str, Any]) -> None:
    view = certificate_view(certificate, title="Koi", owner="ana", base_url="https://c.example")
    document = render_certificate_pdf(view, PdfExtras(certificate=certificate))
    carried = json.loads(certificate_in_pdf(document))
    assert carried == json.loads(json.dumps(certificate))
    assert verify_certificate(carried, SIGNER.public_key).valid


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"%PDF-1.4 not really", "not a readable PDF"),
        (b"%PDF-" + b"0" * (9 * 1024 * 1024), "larger than"),
    ],
)
def test_a_broken_pdf_is_refused_in_words(document: bytes, reason: str) -> None:
    with pytest.raises(CertificateError, match=reason):
        certificate_in_pdf(document)


def test_a_pdf_without_a_certificate_is_refused(certificate: dict[str, Any]) -> None:
    view = certificate_view(certificate, title="Koi", owner="ana", base_url="https://c.example")
    with pytest.raises(CertificateError, match="carries no Copymark certificate"):
        certificate_in_pdf(render_certificate_pdf(view))


def test_every_step_of_a_valid_certificate_passes(certificate: dict[str, Any]) -> None:
    check, steps = verify_certificate_steps(certificate, SIGNER.public_key)
    assert check.valid
    assert [step.kind for step in steps] == [
        StepKind.READ,
        StepKind.SIGNATURE,
        StepKind.INCLUSION,
        StepKind.OPENINGS,
    ]
    assert all(step.passed for step in steps)


def test_a_failed_step_stops_the_check_and_names_why(certificate: dict[str, Any]) -> None:
    forged = copy.deepcopy(certificate)
    forged["inclusion_proof"][0] = "0" * 64
    check, steps = verify_certificate_steps(forged, SIGNER.public_key)
    assert not check.valid
    assert [step.passed for step in steps] == [True, True, False, None]
    assert steps[2].detail is not None
    assert "inclusion proof does not lead" in steps[2].detail.english()


def test_the_published_head_step_compares_with_the_logs_own_tree(
    log: AttestationLog, certificate: dict[str, Any]
) -> None:
    check = verify_certificate(certificate, SIGNER.public_key)
    assert check.tree_head is not None
    assert published_head_step(log, check.tree_head).passed
    forged_head = dataclasses.replace(check.tree_head, root_hash=b"\x01" * 32)
    assert published_head_step(log, forged_head).passed is False
    beyond = dataclasses.replace(check.tree_head, tree_size=check.tree_head.tree_size + 5)
    beyond_step = published_head_step(log, beyond)
    assert beyond_step.detail is not None
    assert "this log has only" in beyond_step.detail.english()
