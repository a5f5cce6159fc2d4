"""Real servers on loopback that tests send to: an SMTP inbox and a webhook receiver."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpInbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.received = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.received:
            self.messages.append(message_from_bytes(envelope.content))
            self.received.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Message]:
        with self.received:
            self.received.wait_for(lambda: len(self.messages) >= count, timeout_s)
            return list(self.messages)

    def to(self, address: str) -> list[Message]:
        """The messages received so far for `address`, oldest first."""
        with self.received:
            return self._to(address)

    def wait_for_message_to(self, address: str, count: int = 1, timeout_s: float = 10.0) -> Message:
        """The `count`-th message for `address`, waiting for it to arrive."""
        with self.received:
            if not self.received.wait_for(lambda: len(self._to(address)) >= count, timeout_s):
                raise AssertionError(f"no message {count} for {address} within {timeout_s}s")
            return self._to(address)[count - 1]

    def _to(self, address: str) -> list[Message]:
        return [message for message in self.messages if message["To"] == address]


_LINK_TOKEN = re.compile(r"/verify-email\?token=([A-Za-z0-9_-]+)")


def verification_token(message: Message) -> str:
    """The token in an email verification message's link."""
    body = message.get_payload(decode=True)
    text = body.decode() if isinstance(body, bytes) else str(message.get_payload())
    found = _LINK_TOKEN.search(text)
    if found is None:
        raise AssertionError(f"no verification link in: {text!r}")
    return found.group(1)


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Answers each POST with the next scripted status (204 once the script runs out)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
