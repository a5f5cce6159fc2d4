"""A notification's subject and body in a reader's language, cleaned for where they are shown.

A subject becomes an email header, so it is one line whatever a value (a work title) holds.
"""

from __future__ import annotations

import re

from registry.messages import Message, Param, Translator, as_written, params_from_json
from registry.notifications.models import Notification

MAX_SUBJECT = 300
MAX_BODY = 20000
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int) -> str:
    cleaned = _CONTROL_CHARACTERS.sub(" ", text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def has_control_characters(text: str) -> bool:
    return _CONTROL_CHARACTERS.search(text) is not None


def subject_in(notification: Notification, translate: Translator = as_written) -> str:
    """The subject in `translate`'s language; a notification without templates as stored."""
    if notification.subject_template is None:
        return notification.subject
    wording = Message(notification.subject_template, _params(notification))
    return one_line(wording.render(translate), MAX_SUBJECT)


def body_in(notification: Notification, translate: Translator = as_written) -> str:
    """The body in `translate`'s language; a notification without templates as stored."""
    if notification.body_template is None:
        return notification.body
    wording = Message(notification.body_template, _params(notification))
    return wording.render(translate)[:MAX_BODY]


def _params(notification: Notification) -> dict[str, Param]:
    return params_from_json(notification.message_params or {})
