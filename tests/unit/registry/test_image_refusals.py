"""The registry words each of the engine's image refusals as the engine does, and translatably."""

from __future__ import annotations

import pickle
import re

import pytest

from frontend.i18n import CHINESE, translations
from registry.image_refusals import image_refusal
from similarity.images import ImageRejected, ImageTooLarge, Refusal, load_image

VALUES: dict[str, str | int] = {
    "kind": "PNG",
    "size": 9,
    "limit": 8,
    "detail": "broken PNG file",
    "marker": "<script",
    "count": 4,
    "width": 7000,
    "height": 7000,
    "decoded": "49.0",
    "budget": "16.0",
}


@pytest.mark.parametrize("reason", list(Refusal))
def test_each_refusal_reads_in_english_as_the_engine_says_it(reason: Refusal) -> None:
    rejection = ImageRejected(reason, **VALUES)
    assert image_refusal(rejection).english() == str(rejection)


@pytest.mark.parametrize("reason", list(Refusal))
def test_each_refusal_reads_in_chinese(reason: Refusal) -> None:
    refusal = image_refusal(ImageRejected(reason, **VALUES))
    chinese = refusal.render(translations(CHINESE).gettext)
    assert chinese != refusal.english()
    assert re.search("[\u4e00-\u9fff]", chinese)


def test_a_file_of_another_kind_is_named_in_the_readers_words() -> None:
    with pytest.raises(ImageRejected) as caught:
        load_image(b"PK\x03\x04 an archive, not an image")
    refusal = image_refusal(caught.value)
    assert refusal.english() == "not a supported image: ZIP archive"
    assert refusal.render(translations(CHINESE).gettext) == "不是受支持的图片：ZIP 压缩包"


def test_a_refusal_sent_to_another_process_keeps_its_reason_and_values() -> None:
    sent = ImageTooLarge(Refusal.TOO_MANY_BYTES, size=9, limit=8)
    received = pickle.loads(pickle.dumps(sent))  # noqa: S301 - bytes this test pickled itself
    assert type(received) is ImageTooLarge
    assert (received.reason, received.values, str(received)) == (
        sent.reason,
        sent.values,
        str(sent),
    )
