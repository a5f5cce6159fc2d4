"""A case's notice: the chosen form drafted for each copy, signed, linked, in one message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from registry.enforcement.models import NoticeForm
from registry.enforcement.notices import case_notice, text_sha256
from registry.notifications.takedown import TakedownFacts

FACTS = TakedownFacts(
    rights_holder_name="Alice Example Ltd",
    rights_holder_email="legal@alice.example",
    rights_holder_address="1 Canvas Street\nLondon",
    work_title="Cup",
    work_id=4,
    certificate_log_index=0,
    certificate_root_hash="ab" * 32,
    certificate_key_id="cd" * 32,
    evidence_sha256="ef" * 32,
    evidence_log_index=5,
    infringing_page_url="https://shop.test/a",
    infringing_image_url="https://shop.test/a.png",
    first_seen_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    signed_on=date(2026, 11, 30),
    certificate_url="https://copymark.test/verify/4",
    evidence_url="https://copymark.test/respond/3/t/evidence/8.zip",
    response_url="https://copymark.test/respond/3/t",
)


def test_one_copy_is_one_signed_notice_with_its_links() -> None:
    notice = case_notice(3, "shop.test", NoticeForm.DMCA, [FACTS])
    assert notice.subject == "DMCA notice: Cup [Copymark case 3]"
    assert "Postal address: 1 Canvas Street London" in notice.text
    assert "/s/ Alice Example Ltd" in notice.text
    for url in (FACTS.certificate_url, FACTS.evidence_url, FACTS.response_url):
        assert url in notice.text
    assert "512(g)(3)" in notice.text
    assert notice.sha256 == text_sha256(notice.text)


def test_several_copies_are_one_message_with_a_notice_each() -> None:
    second = replace(FACTS, infringing_page_url="https://shop.test/b")
    notice = case_notice(3, "shop.test", NoticeForm.DMCA, [FACTS, second])
    assert notice.subject == "DMCA notice: Cup and 1 more on shop.test [Copymark case 3]"
    assert notice.text.startswith("This message holds 2 notices")
    assert notice.text.count("/s/ Alice Example Ltd") == 2
    assert "https://shop.test/a" in notice.text
    assert "https://shop.test/b" in notice.text


def test_the_chinese_form_carries_the_address_and_the_answer_link() -> None:
    notice = case_notice(3, "shop.test", NoticeForm.CN_PLATFORM, [FACTS])
    assert notice.subject == "侵权投诉通知书：《Cup》 [Copymark case 3]"
    assert "通讯地址：1 Canvas Street London" in notice.text
    assert f"反通知或授权证明：{FACTS.response_url}" in notice.text


def test_a_draft_without_links_is_unchanged() -> None:
    draft = replace(FACTS, rights_holder_address="", certificate_url="", evidence_url="")
    text = case_notice(3, "shop.test", NoticeForm.DMCA, [replace(draft, response_url="")]).text
    assert "Postal address" not in text
    assert "Counter-notification" not in text
