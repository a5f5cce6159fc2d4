"""The certificate PDF prints in Chinese too: its texts come from Python, so no template
extraction sees them, and this test holds the catalog to them."""

from __future__ import annotations

import pytest

from frontend.i18n import CHINESE, translations
from registry.certificates import PDF_TEXTS, ROW_LABELS


@pytest.mark.parametrize("text", [*PDF_TEXTS, *ROW_LABELS])
def test_every_certificate_text_has_a_chinese_translation(text: str) -> None:
    translated = translations(CHINESE).gettext(text)
    assert translated
    assert translated != text or text == "SHA-256"
