"""The registry's errors read in Chinese on a page while the JSON API keeps their English words,
and a value inside one (a role, a URL, a field name) reaches the reader as written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend.i18n import gettext_in
from frontend.uploads import refusal_sentence
from registry.accounts.service import organisation_domain, self_assignable_roles
from registry.certificates import MAX_JSON_DEPTH, read_json_document
from registry.enforcement.errors import IllegalTransition
from registry.enforcement.lifecycle import check_owner_transition, check_transition
from registry.enforcement.models import CaseState
from registry.errors import BadRequest, CertificateError
from registry.image_refusals import image_refusal
from registry.log.errors import TreeHeadFormatError
from registry.log.signing import SignedTreeHead
from registry.messages import Message
from registry.models import Role
from registry.monitoring.errors import InvalidCrawl
from registry.monitoring.service import check_seeds
from registry.service import _CHANGED_HANDS
from registry.tasks.errors import UnknownTask
from registry.tasks.queue import TaskKinds
from similarity.images import ImageRejected, load_image
from tests.factories import random_png

# Looks like a placeholder of each formatting style, including the very name the template uses.
HOSTILE = "50% off {} %(x)s %(roles)s %s {0}"
chinese = gettext_in("zh")


def test_a_hostile_role_name_reads_as_written() -> None:
    with pytest.raises(BadRequest) as refused:
        self_assignable_roles(["creator", HOSTILE])
    assert refused.value.message == f"unknown or not self-assignable roles: {HOSTILE}"
    shown = refused.value.translated(chinese)
    assert HOSTILE in shown
    assert "未知或不能自行选择的角色" in shown


@given(st.text(max_size=40).filter(lambda name: name not in {role.value for role in Role}))
def test_any_unknown_role_reads_as_written_in_both_languages(name: str) -> None:
    with pytest.raises(BadRequest) as refused:
        self_assignable_roles([name])
    assert refused.value.message == f"unknown or not self-assignable roles: {name}"
    assert refused.value.translated(chinese) == f"未知或不能自行选择的角色：{name}"


def test_a_hostile_seed_url_is_named_in_the_chinese_sentence() -> None:
    with pytest.raises(InvalidCrawl) as refused:
        check_seeds([HOSTILE])
    assert refused.value.message.startswith(f"seed {HOSTILE!r} is not a web URL: ")
    shown = refused.value.translated(chinese)
    assert shown.startswith(f"种子 {HOSTILE!r} 不是网页 URL：")


def test_a_hostile_organisation_domain_is_named_as_typed() -> None:
    with pytest.raises(BadRequest) as refused:
        organisation_domain(HOSTILE)
    assert refused.value.message.startswith(f"not a domain name: {HOSTILE!r} (")
    shown = refused.value.translated(chinese)
    assert shown.startswith(f"不是域名：{HOSTILE!r}（")


def test_a_hostile_tree_head_field_is_listed_as_written() -> None:
    with pytest.raises(TreeHeadFormatError) as refused:
        SignedTreeHead.from_json({HOSTILE: 1})
    expected = sorted({"tree_size", "root_hash", "timestamp", "key_id", "signature"})
    assert refused.value.message == (
        f"tree head fields must be exactly {expected}, got {[HOSTILE]}"
    )
    shown = refused.value.translated(chinese)
    assert str([HOSTILE]) in shown
    assert "树头字段必须恰好是" in shown


def test_a_hostile_task_name_is_quoted_as_written() -> None:
    with pytest.raises(UnknownTask) as refused:
        TaskKinds()[HOSTILE]
    assert refused.value.message == f"no task named {HOSTILE!r} is known to this process"
    assert refused.value.translated(chinese) == f"此进程不认识名为 {HOSTILE!r} 的任务"


def test_case_states_inside_a_refusal_are_chinese_words() -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_transition(9, CaseState.OPEN, CaseState.REINSTATED)
    assert refused.value.message == (
        "case 9 cannot go from open to reinstated; from open it can go to closed, notice sent"
    )
    assert refused.value.translated(chinese) == (
        "案件 9 不能从“已立案”变为“已恢复”；从“已立案”可以变为：已关闭、已发送通知"
    )


def test_a_step_the_owner_may_not_take_says_why_in_chinese() -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_owner_transition(3, CaseState.NOTICE_SENT, CaseState.COUNTER_NOTICED)
    shown = refused.value.translated(chinese)
    assert shown.startswith("案件 3 不能手动设为“已收到反通知”：")
    assert "反通知" in shown.partition("：")[2]
    assert refused.value.message.startswith("case 3 cannot be set to counter noticed by hand: ")


def test_the_document_a_json_refusal_names_is_translated_too() -> None:
    with pytest.raises(CertificateError) as refused:
        read_json_document(b"[" * (MAX_JSON_DEPTH + 1), "certificate")
    assert refused.value.message == f"the certificate nests deeper than {MAX_JSON_DEPTH} levels"
    assert refused.value.translated(chinese) == f"证书的嵌套超过 {MAX_JSON_DEPTH} 层"


def test_an_upload_refusal_the_page_does_not_word_itself_is_said_in_chinese() -> None:
    sentence = refusal_sentence(Message(_CHANGED_HANDS), chinese)
    assert "检查期间该文件对应作品的所有者发生了变更" in sentence
    assert "changed owner" not in sentence


def test_a_file_of_another_kind_is_named_in_chinese_on_the_works_page() -> None:
    with pytest.raises(ImageRejected) as caught:
        load_image(b"PK\x03\x04 an archive, not an image")
    sentence = refusal_sentence(image_refusal(caught.value), chinese)
    assert sentence.startswith("这个文件是 ZIP 压缩包，不是图片。")


def test_an_image_refusal_the_page_does_not_word_itself_is_said_in_chinese() -> None:
    with pytest.raises(ImageRejected) as caught:
        load_image(random_png(2) + b"junk")
    sentence = refusal_sentence(image_refusal(caught.value), chinese)
    assert "PNG 文件在结尾之后还有 4 个多余字节" in sentence
    assert "unexpected bytes" not in sentence
