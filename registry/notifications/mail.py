"""Email out: a Mailer protocol and its SMTP implementation (smtplib); tests use a real server.

Emails are written in the recipient's stored language. The message catalogs belong to the
composition root (frontend.i18n), above this layer, so senders take a `Translate` it wires in;
without one they write English, the source language. Mark each sentence `_("...")` where it is
written so the catalog check finds it.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import event
from sqlmodel import Session

# A stored language ("en", "zh" or None) to the function translating a message into it.
Translate = Callable[[str | None], Callable[[str], str]]

_logger = logging.getLogger(__name__)
_OUTGOING = "copymark.notifications.mail_after_commit"


def _untranslated(text: str) -> str:
    return text


def in_english(_locale: str | None) -> Callable[[str], str]:
    """The `Translate` of a sender with no catalogs: every message in English."""
    return _untranslated


class Mailer(Protocol):
    """Hands one message to a mail server; raises OSError or smtplib.SMTPException on failure."""

    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """Sends through an SMTP relay, with STARTTLS and login when configured."""

    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout_s: float = 10.0

    def send(self, message: EmailMessage) -> None:
        """Deliver `message`, setting From to the configured sender."""
        del message["From"]
        message["From"] = self.sender
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def compose(recipient: str, subject: str, text: str) -> EmailMessage:
    """A plain-text message; header values were cleaned of line breaks by the caller."""
    message = EmailMessage()
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(text)
    return message


def send_after_commit(session: Session, mailer: Mailer, message: EmailMessage) -> None:
    """Hand `message` to the mailer once `session` commits; nothing if it rolls back.

    The send runs on its own thread, so a request never waits on the mail server, and how long
    a request takes says nothing about whether a message was sent (a sign-up to a new address,
    a reset link to an existing account). A failed send is logged; the caller's rows are kept.
    """
    outgoing: list[tuple[Mailer, EmailMessage]] | None = session.info.get(_OUTGOING)
    if outgoing is None:
        outgoing = session.info[_OUTGOING] = []
        event.listen(session, "after_commit", _dispatch)
        event.listen(session, "after_rollback", _discard)
    outgoing.append((mailer, message))


def _dispatch(session: Session) -> None:
    outgoing: list[tuple[Mailer, EmailMessage]] = session.info.get(_OUTGOING, [])
    committed = list(outgoing)
    outgoing.clear()
    if committed:
        # Not a daemon: a CLI command that committed waits for its mail before the process exits.
        threading.Thread(target=_deliver, args=(committed,), name="copymark-account-mail").start()


def _discard(session: Session) -> None:
    session.info.get(_OUTGOING, []).clear()


def _deliver(committed: list[tuple[Mailer, EmailMessage]]) -> None:
    for mailer, message in committed:
        try:
            mailer.send(message)
        except (OSError, smtplib.SMTPException) as error:
            _logger.warning("mail to %s not sent: %s", message["To"], error)
