"""Email out: a Mailer protocol and its SMTP implementation (smtplib); tests use a real server."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol


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
