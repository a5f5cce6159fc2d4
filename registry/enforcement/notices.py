"""The notice a case sends: one drafted notice per copy, in one message, and its digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from registry.enforcement.models import NoticeForm
from registry.notifications.takedown import (
    RenderedNotice,
    TakedownFacts,
    chinese_platform_complaint,
    dmca_notice,
)

_RENDERERS = {NoticeForm.DMCA: dmca_notice, NoticeForm.CN_PLATFORM: chinese_platform_complaint}
_SEPARATOR = "\n" + "-" * 72 + "\n\n"


@dataclass(frozen=True)
class CaseNotice:
    """The message text exactly as sent, and the SHA-256 of its UTF-8 bytes (the log's digest)."""

    subject: str
    text: str

    @property
    def sha256(self) -> str:
        return text_sha256(self.text)


def text_sha256(text: str) -> str:
    """SHA-256 of a document's UTF-8 bytes, the digest a case step carries on the log."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def case_notice(
    case_id: int, domain: str, form: NoticeForm, facts: Sequence[TakedownFacts]
) -> CaseNotice:
    """The notice of a case: the chosen form drafted for every copy it enforces."""
    if not facts:
        raise ValueError("a notice concerns at least one copy")
    rendered: list[RenderedNotice] = [_RENDERERS[form](item) for item in facts]
    subject = rendered[0].subject
    if len(rendered) > 1:
        subject += f" and {len(rendered) - 1} more on {domain}"
    parts = [notice.text for notice in rendered]
    if len(rendered) > 1:
        parts.insert(0, f"This message holds {len(rendered)} notices, one for each copy.\n")
    return CaseNotice(subject=f"{subject} [Copymark case {case_id}]", text=_SEPARATOR.join(parts))
