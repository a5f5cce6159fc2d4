"""Takedown notice drafts from one set of facts; in HTML every fact is escaped, and only http(s)
URLs become links, so a hostile title or URL cannot inject markup or a script link.

Two notices: a DMCA notice with every element 17 U.S.C. 512(c)(3)(A) requires, and a Chinese
platform complaint (侵权投诉通知书) with the elements of 《信息网络传播权保护条例》第十四条 and
《民法典》第一千一百九十五条. Both are drafts for the rights holder to review and sign.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit


@dataclass(frozen=True)
class TakedownFacts:
    """What a notice states: who holds the rights, to what, where the copy is, and the proof."""

    rights_holder_name: str
    rights_holder_email: str
    work_title: str
    work_id: int
    certificate_log_index: int
    certificate_root_hash: str
    certificate_key_id: str
    evidence_sha256: str
    evidence_log_index: int
    infringing_page_url: str
    infringing_image_url: str
    first_seen_at: datetime
    signed_on: date = field(default_factory=lambda: datetime.now(UTC).date())
    # A sent notice also states where to write and links what the recipient may check.
    rights_holder_address: str = ""
    certificate_url: str = ""
    evidence_url: str = ""
    response_url: str = ""


@dataclass(frozen=True)
class Link:
    """A URL inside a paragraph."""

    url: str


Part = str | Link
Paragraph = tuple[Part, ...]


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _render_text(title: str, sections: tuple[Section, ...]) -> str:
    lines = [title, "=" * len(title), ""]
    for section in sections:
        lines.extend([section.heading, "-" * len(section.heading)])
        for paragraph in section.paragraphs:
            lines.extend(
                ["".join(part.url if isinstance(part, Link) else part for part in paragraph), ""]
            )
    return "\n".join(lines).rstrip() + "\n"


def _render_part(part: Part) -> str:
    if isinstance(part, Link):
        text = html.escape(part.url, quote=True)
        if urlsplit(part.url).scheme.lower() in {"http", "https"}:
            return f'<a href="{text}" rel="noopener noreferrer nofollow">{text}</a>'
        return f"<code>{text}</code>"
    return html.escape(part, quote=True)


def _render_html(title: str, language: str, sections: tuple[Section, ...]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.heading)}</h2>")
        body.extend(
            "<p>" + "".join(_render_part(part) for part in paragraph) + "</p>"
            for paragraph in section.paragraphs
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _link_line(label: str, url: str) -> tuple[Paragraph, ...]:
    return ((label, Link(url)),) if url else ()


def _text_line(label: str, text: str) -> tuple[Paragraph, ...]:
    return ((label + " ".join(text.split()),),) if text.strip() else ()


def _answer_section(heading: str, text: str, url: str) -> tuple[Section, ...]:
    return (Section(heading, ((text, Link(url)),)),) if url else ()


def dmca_notice(facts: TakedownFacts) -> RenderedNotice:
    """A DMCA section 512(c) notification of claimed infringement."""
    title = "Notification of Claimed Infringement under 17 U.S.C. 512(c)"
    sections = (
        Section(
            "1. Copyrighted work claimed to be infringed",
            (
                (f'"{facts.work_title}" (Copymark work {facts.work_id}).',),
                (
                    "Its registration is recorded in the Copymark attestation log at index "
                    f"{facts.certificate_log_index}, under the signed tree head with root hash "
                    f"{facts.certificate_root_hash}, signed by log key {facts.certificate_key_id}.",
                ),
                *_link_line("The certificate can be checked at ", facts.certificate_url),
            ),
        ),
        Section(
            "2. Infringing material and where it is",
            (
                ("The image at ", Link(facts.infringing_image_url), ","),
                ("shown on the page ", Link(facts.infringing_page_url), "."),
                (
                    f"First seen on {_utc(facts.first_seen_at)}. The captured evidence has "
                    f"SHA-256 {facts.evidence_sha256} and is recorded in the attestation log at "
                    f"index {facts.evidence_log_index}.",
                ),
                *_link_line("The evidence can be inspected and downloaded at ", facts.evidence_url),
                ("I request that you remove or disable access to this material.",),
            ),
        ),
        Section(
            "3. Contact information of the complaining party",
            (
                (f"{facts.rights_holder_name}, email {facts.rights_holder_email}",),
                *_text_line("Postal address: ", facts.rights_holder_address),
            ),
        ),
        Section(
            "4. Statement of good faith",
            (
                (
                    "I have a good faith belief that use of the material in the manner "
                    "complained of is not authorized by the copyright owner, its agent, or the "
                    "law.",
                ),
            ),
        ),
        Section(
            "5. Statement of accuracy",
            (
                (
                    "The information in this notification is accurate, and under penalty of "
                    "perjury, I am the owner, or authorized to act on behalf of the owner, of an "
                    "exclusive right that is allegedly infringed.",
                ),
            ),
        ),
        Section(
            "6. Signature",
            ((f"/s/ {facts.rights_holder_name}",), (f"Date: {facts.signed_on.isoformat()}",)),
        ),
        *_answer_section(
            "7. Counter-notification",
            "If you believe the material was removed by mistake or misidentification, or that "
            "its use is licensed, you may answer with a counter-notification under 17 U.S.C. "
            "512(g)(3), or show the licence, at ",
            facts.response_url,
        ),
    )
    return RenderedNotice(
        subject=f"DMCA notice: {facts.work_title}",
        text=_render_text(title, sections),
        html=_render_html(title, "en", sections),
    )


def chinese_platform_complaint(facts: TakedownFacts) -> RenderedNotice:
    """侵权投诉通知书: a complaint to a platform in China asking it to remove the copy."""
    title = "侵权投诉通知书"
    sections = (
        Section(
            "一、权利人信息",
            (
                (f"权利人：{facts.rights_holder_name}",),
                (f"联系方式：电子邮箱 {facts.rights_holder_email}",),
                *_text_line("通讯地址：", facts.rights_holder_address),
            ),
        ),
        Section(
            "二、被侵权作品",
            (
                (f"作品名称：《{facts.work_title}》（Copymark 作品编号 {facts.work_id}）",),
                (
                    "权属证明：该作品的登记记录于 Copymark 存证日志第 "
                    f"{facts.certificate_log_index} 号条目，"
                    f"签名树头根哈希 {facts.certificate_root_hash}，"
                    f"日志签名密钥 {facts.certificate_key_id}。",
                ),
                *_link_line("证书验证地址：", facts.certificate_url),
            ),
        ),
        Section(
            "三、侵权内容及网络地址",
            (
                ("侵权图片地址：", Link(facts.infringing_image_url)),
                ("侵权页面地址：", Link(facts.infringing_page_url)),
                (f"首次发现时间：{_utc(facts.first_seen_at)}",),
            ),
        ),
        Section(
            "四、构成侵权的初步证明材料",
            (
                (
                    f"证据包 SHA-256：{facts.evidence_sha256}，已记录于 Copymark 存证日志第 "
                    f"{facts.evidence_log_index} 号条目，可独立验证其取证时间与内容未被篡改。",
                ),
                *_link_line("证据查看与下载：", facts.evidence_url),
            ),
        ),
        Section(
            "五、请求事项",
            (
                (
                    "依据《中华人民共和国民法典》第一千一百九十五条及《信息网络传播权保护条例》"
                    "第十四条，请贵平台及时删除上述侵权内容或断开其链接。",
                ),
            ),
        ),
        Section(
            "六、声明",
            (
                ("本人保证本通知书中所述内容真实、准确，并对通知书的真实性承担法律责任。",),
                ("权利人（签名）：" + facts.rights_holder_name,),
                (f"日期：{facts.signed_on.isoformat()}",),
            ),
        ),
        *_answer_section(
            "七、反通知",
            "如您认为上述内容不构成侵权或已获授权，可在此提交反通知或授权证明：",
            facts.response_url,
        ),
    )
    return RenderedNotice(
        subject=f"侵权投诉通知书：《{facts.work_title}》",
        text=_render_text(title, sections),
        html=_render_html(title, "zh-CN", sections),
    )
