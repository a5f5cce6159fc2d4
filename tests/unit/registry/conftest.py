"""The registry's parts on the per-test database (SQLite and PostgreSQL) and a fresh home folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.accounts.verification import VerificationMail, confirm_email, send_verification_link
from registry.db import make_engine
from registry.log.signing import LogSigner
from registry.models import User
from registry.notifications.mail import SmtpMailer
from similarity.embedding.embedders import OnnxEmbedder, load_default_embedder
from tests.support.receivers import SmtpInbox, verification_token
from tests.unit.registry.wiring import RegistryParts


@pytest.fixture
def verification_mail(smtp_inbox: tuple[SmtpInbox, int]) -> VerificationMail:
    """Verification links mailed to the loopback SMTP server."""
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_inbox[1], sender="Copymark <a@copymark.test>")
    return VerificationMail(mailer, "https://copymark.example")


@pytest.fixture
def verify_email(
    verification_mail: VerificationMail, inbox: SmtpInbox
) -> Callable[[Session, User], None]:
    """Verify a user's address the way a person does: the mailed link's token, confirmed.

    Commits the session (the link is mailed once its row is committed).
    """

    def verify(session: Session, user: User) -> None:
        count = len(inbox.to(user.email)) + 1
        send_verification_link(session, user, verification_mail)
        session.commit()
        confirm_email(session, verification_token(inbox.wait_for_message_to(user.email, count)))
        session.commit()

    return verify


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> OnnxEmbedder:
    """The production embedder, exported once per test run; its ONNX session is thread-safe."""
    return load_default_embedder(model_cache)


@pytest.fixture
def read_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, read_only=True)
    yield engine
    engine.dispose()


@pytest.fixture
def parts(
    tmp_path: Path, db_engine: Engine, read_engine: Engine, embedder: OnnxEmbedder
) -> RegistryParts:
    return RegistryParts(
        home=tmp_path / "home",
        engine=db_engine,
        read_engine=read_engine,
        signer=LogSigner.generate(),
        embedder=embedder,
    )
