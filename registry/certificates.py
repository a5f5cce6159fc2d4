"""Certificates: checkable offline with only the certificate and the trusted log key.

A certificate is a JSON document::

    {
      "format": "copymark-certificate/v2",
      "log_index": 41,
      "leaf": "<the leaf: canonical JSON text of the event, UTF-8>",
      "inclusion_proof": ["<hex sibling hash>", ...],
      "tree_head": {"tree_size", "root_hash", "timestamp", "key_id", "signature"},
      "key_id": "<hex SHA-256 of the raw Ed25519 public key>",
      "public_key": "<base64 raw public key, informational only>",
      "openings": {"<field>": {"salt": "<64 hex>", "value": <the private value>}, ...}
    }

It proves that the leaf sits at ``log_index`` in the tree whose root the log signed, and
each opening proves a private value the leaf commits to (``registry.log.commitments``): a
certificate handed to the parties carries them, the public one carries none (``{}``). A
``copymark-certificate/v1`` document (no ``openings``) still verifies. The key embedded in
it is never trusted: the verifier is handed the log's key separately (``copymark init``
prints it; the web app publishes it).
"""

import base64
import binascii
import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import qrcode
import qrcode.image.svg
from fpdf import FPDF
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from registry.errors import CertificateError
from registry.log.commitments import Opening, OpeningError, check_openings, openings_from_json
from registry.log.errors import TreeHeadFormatError
from registry.log.events import (
    EventFormatError,
    JsonValue,
    LogEvent,
    RegistrationEvent,
    parse_event,
)
from registry.log.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from registry.log.signing import LogPublicKey, SignedTreeHead
from registry.log.store import AttestationLog
from registry.messages import N_, Message

CERTIFICATE_FORMAT = "copymark-certificate/v2"
# A certificate is a few kilobytes nested three levels deep; anything far beyond is hostile.
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
# A string (to its closing quote, or to the end when unclosed) or a bracket: strings are skipped
# whole, so brackets inside them do not count. Each token is matched without backtracking.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.?)*(?:"|\Z)|[\[\]{}]', re.DOTALL)
_FIELDS_V1 = {"format", "log_index", "leaf", "inclusion_proof", "tree_head", "key_id", "public_key"}
_FIELDS_BY_FORMAT = {
    "copymark-certificate/v1": _FIELDS_V1,
    CERTIFICATE_FORMAT: _FIELDS_V1 | {"openings"},
}
_MAX_PROOF_LENGTH = 64
# A Unicode TrueType font lets titles in any script print; without it the PDF falls back
# to the built-in Latin-1 Helvetica and replaces what it cannot draw.
_UNICODE_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
)
# Chinese, Japanese and Korean characters, which DejaVu lacks (Debian fonts-wqy-microhei).
_CJK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),)
# A certificate PDF is a few hundred kilobytes; an upload far beyond that is not one.
MAX_PDF_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """Outcome of an offline check; ``reason`` says why a certificate was refused."""

    valid: bool
    reason: str | None = None
    log_index: int | None = None
    tree_head: SignedTreeHead | None = None
    event: LogEvent | None = None
    disclosed: dict[str, JsonValue] = field(default_factory=dict)


def build_certificate(
    *,
    leaf: bytes,
    log_index: int,
    inclusion_proof: list[bytes],
    tree_head: SignedTreeHead,
    public_key: LogPublicKey,
    openings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a certificate document from a leaf, its proof, a signed head and openings."""
    try:
        leaf_text = leaf.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CertificateError(N_("certificate leaves must be UTF-8 canonical JSON")) from error
    return {
        "format": CERTIFICATE_FORMAT,
        "log_index": log_index,
        "leaf": leaf_text,
        "inclusion_proof": [node.hex() for node in inclusion_proof],
        "tree_head": tree_head.to_json(),
        "key_id": public_key.key_id,
        "public_key": public_key.to_base64(),
        "openings": dict(openings or {}),
    }


def issue_certificate(
    log: AttestationLog, log_index: int, *, openings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Certificate for a stored leaf against the latest head, signing a new head if needed.

    ``openings`` (a row's ``log_openings``) go only into certificates for the parties.
    """
    head = log.latest_head()
    if head is None or head.tree_size <= log_index:
        head = log.sign_head()
    entry = log.leaf(log_index)
    return build_certificate(
        leaf=entry.leaf,
        log_index=log_index,
        inclusion_proof=log.inclusion_proof(log_index, head.tree_size),
        tree_head=head,
        public_key=log.public_key(),
        openings=openings,
    )


def read_json_document(data: bytes, what: str) -> object:
    """Parse a certificate or manifest from untrusted bytes, refusing size and depth bombs.

    The depth is measured before parsing, so a document nested 100,000 levels deep is refused
    in words instead of exhausting the parser's recursion; raises CertificateError. `what`
    names the document in a word the catalogs translate ("certificate", "manifest").
    """
    document = Message(what)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CertificateError(
            N_("the %(document)s is larger than %(count)s bytes"),
            document=document,
            count=MAX_DOCUMENT_BYTES,
        )
    depth = deepest = 0
    for token in _JSON_TOKEN.finditer(data):
        opened = token.group()[:1]
        if opened == b'"':
            continue
        depth += 1 if opened in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise CertificateError(
                N_("the %(document)s nests deeper than %(count)s levels"),
                document=document,
                count=MAX_JSON_DEPTH,
            )
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise CertificateError(
            N_("the %(document)s is not JSON: %(reason)s"), document=document, reason=str(error)
        ) from None


class StepKind(StrEnum):
    """The steps of a check, in the order they run."""

    READ = "read"
    SIGNATURE = "signature"
    INCLUSION = "inclusion"
    OPENINGS = "openings"
    PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class CheckStep:
    """One step of a check: whether it passed (None: not reached) and what it found."""

    kind: StepKind
    passed: bool | None
    detail: Message | None = None


def verify_certificate(certificate: object, public_key: LogPublicKey) -> CertificateCheck:
    """Check a certificate offline against the trusted ``public_key``; never raises on bad input."""
    return verify_certificate_steps(certificate, public_key)[0]


def verify_certificate_steps(
    certificate: object, public_key: LogPublicKey
) -> tuple[CertificateCheck, list[CheckStep]]:
    """The offline check with what each step found: read, signature, inclusion, openings.

    A step that fails ends the check; the steps after it are reported as not reached.
    """
    steps: list[CheckStep] = []

    def refuse(
        kind: StepKind, reason: Message, check: CertificateCheck | None = None
    ) -> tuple[CertificateCheck, list[CheckStep]]:
        steps.append(CheckStep(kind, False, reason))
        steps.extend(CheckStep(later, None) for later in _OFFLINE_STEPS[len(steps) :])
        return check or CertificateCheck(False, reason.english()), steps

    try:
        parsed = _parse(certificate)
    except CertificateError as error:
        return refuse(
            StepKind.READ,
            Message(N_("malformed certificate: %(reason)s"), {"reason": error.wording}),
        )
    index, leaf, proof, head, key_id, openings = parsed
    steps.append(
        CheckStep(
            StepKind.READ,
            True,
            Message(
                N_("leaf %(index)s in a tree head of %(size)s leaves"),
                {"index": index, "size": head.tree_size},
            ),
        )
    )
    if head.key_id != key_id:
        return refuse(
            StepKind.SIGNATURE, Message(N_("the certificate's key id differs from its tree head's"))
        )
    if key_id != public_key.key_id:
        return refuse(
            StepKind.SIGNATURE,
            Message(
                N_("tree head was signed by key %(key)s, not the trusted key %(trusted)s"),
                {"key": key_id, "trusted": public_key.key_id},
            ),
        )
    if not head.verify(public_key):
        return refuse(StepKind.SIGNATURE, Message(N_("tree head signature does not verify")))
    steps.append(
        CheckStep(
            StepKind.SIGNATURE,
            True,
            Message(
                N_("Ed25519 signature by key %(key)s over tree size %(size)s, root %(root)s"),
                {"key": key_id, "size": head.tree_size, "root": head.root_hash.hex()},
            ),
        )
    )
    if index >= head.tree_size:
        return refuse(
            StepKind.INCLUSION,
            Message(
                N_("log index %(index)s is outside the signed tree of size %(size)s"),
                {"index": index, "size": head.tree_size},
            ),
        )
    hashed = leaf_hash(leaf)
    if not verify_inclusion(hashed, index, head.tree_size, proof, head.root_hash):
        return refuse(
            StepKind.INCLUSION,
            Message(
                N_("inclusion proof does not lead from this leaf at this index to the signed root")
            ),
        )
    steps.append(
        CheckStep(
            StepKind.INCLUSION,
            True,
            Message(
                N_("leaf hash %(hash)s and %(count)s sibling hashes lead to the signed root"),
                {"hash": hashed.hex(), "count": len(proof)},
            ),
        )
    )
    try:
        event: LogEvent | None = parse_event(leaf)
    except EventFormatError:
        event = None
    if event is None and openings:
        return refuse(
            StepKind.OPENINGS,
            Message(
                N_(
                    "the leaf is no event kind this verifier knows, so its openings cannot be "
                    "checked"
                )
            ),
        )
    try:
        disclosed = check_openings(event.committed() if event else {}, openings)
    except OpeningError as error:
        return refuse(
            StepKind.OPENINGS,
            error.wording,
            CertificateCheck(False, str(error), index, head, event),
        )
    steps.append(
        CheckStep(
            StepKind.OPENINGS,
            True,
            Message(
                N_("disclosed: %(fields)s"),
                {"fields": ", ".join(sorted(disclosed))},
            )
            if disclosed
            else Message(N_("no private value disclosed")),
        )
    )
    return CertificateCheck(True, None, index, head, event, disclosed), steps


_OFFLINE_STEPS = (StepKind.READ, StepKind.SIGNATURE, StepKind.INCLUSION, StepKind.OPENINGS)


def published_head_step(log: AttestationLog, head: SignedTreeHead) -> CheckStep:
    """Whether this log's own tree of that size has the certificate's root: the head is one
    this log published, and nothing before it was rewritten since."""
    size = log.tree_size()
    if head.tree_size > size:
        return CheckStep(
            StepKind.PUBLISHED,
            False,
            Message(
                N_("the tree head has %(size)s leaves; this log has only %(count)s"),
                {"size": head.tree_size, "count": size},
            ),
        )
    if log.root_hash(head.tree_size) != head.root_hash:
        return CheckStep(
            StepKind.PUBLISHED,
            False,
            Message(
                N_("this log's tree of %(size)s leaves has another root"), {"size": head.tree_size}
            ),
        )
    return CheckStep(
        StepKind.PUBLISHED,
        True,
        Message(
            N_("this log's tree of %(size)s leaves (of %(count)s now) has the same root"),
            {"size": head.tree_size, "count": size},
        ),
    )


def _parse(
    certificate: object,
) -> tuple[int, bytes, list[bytes], SignedTreeHead, str, dict[str, Opening]]:
    if not isinstance(certificate, dict):
        raise CertificateError(N_("a certificate is a JSON object"))
    declared = certificate.get("format")
    fields = _FIELDS_BY_FORMAT.get(declared) if isinstance(declared, str) else None
    if fields is None:
        raise CertificateError(
            N_("format must be one of %(formats)s"), formats=str(sorted(_FIELDS_BY_FORMAT))
        )
    if set(certificate) != fields:
        missing, extra = fields - set(certificate), set(certificate) - fields
        raise CertificateError(
            N_("missing fields %(missing)s, unknown fields %(unknown)s"),
            missing=str(sorted(missing)),
            unknown=str(sorted(extra)),
        )
    index = certificate["log_index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise CertificateError(N_("log_index must be a non-negative integer"))
    if not isinstance(certificate["leaf"], str):
        raise CertificateError(N_("leaf must be a string"))
    try:
        leaf = certificate["leaf"].encode("utf-8")
    except UnicodeEncodeError as error:
        raise CertificateError(N_("leaf is not valid Unicode")) from error
    proof_field = certificate["inclusion_proof"]
    if not isinstance(proof_field, list) or len(proof_field) > _MAX_PROOF_LENGTH:
        raise CertificateError(
            N_("inclusion_proof must be a list of at most %(count)s"), count=_MAX_PROOF_LENGTH
        )
    proof = [_hash(node, "inclusion_proof entry") for node in proof_field]
    try:
        head = SignedTreeHead.from_json(certificate["tree_head"])
    except TreeHeadFormatError as error:
        raise CertificateError(error.wording.template, **error.wording.params) from error
    key_id = _hash(certificate["key_id"], "key_id").hex()
    public_key = certificate["public_key"]
    if not isinstance(public_key, str):
        raise CertificateError(N_("public_key must be a base64 string"))
    try:
        base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CertificateError(N_("public_key is not base64")) from error
    try:
        openings = openings_from_json(certificate.get("openings", {}))
    except OpeningError as error:
        raise CertificateError(
            N_("the openings are not readable: %(reason)s"), reason=error.wording
        ) from error
    return index, leaf, proof, head, key_id, openings


def _hash(value: object, field: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE or value != value.lower():
        raise CertificateError(
            N_("%(field)s must be %(count)s lowercase hex characters"),
            field=field,
            count=2 * HASH_SIZE,
        )
    try:
        return bytes.fromhex(value)
    except ValueError as error:
        raise CertificateError(N_("%(field)s is not hex"), field=field) from error


@dataclass(frozen=True, slots=True)
class CertificateView:
    """What a human-readable certificate shows."""

    title: str
    owner: str
    work_id: int
    sha256: str
    registered_at: str
    log_index: int
    tree_size: int
    root_hash: str
    key_id: str
    verify_url: str
    number: str = ""
    registered: datetime | None = None

    def rows(self) -> list[tuple[str, str]]:
        """Label and value of each line, in print order."""
        return [
            ("Certificate number", self.number),
            ("Title", self.title),
            ("Owner", self.owner),
            ("Work", str(self.work_id)),
            ("SHA-256", self.sha256),
            ("Registered", self.registered_at),
            ("Log index", f"{self.log_index} of {self.tree_size}"),
            ("Root hash", self.root_hash),
            ("Log key id", self.key_id),
            ("Verify at", self.verify_url),
        ]


def certificate_number(work_id: int, log_index: int) -> str:
    """The number a person reads out: the work and the log position that proves it."""
    return f"CM-{work_id:06d}-{log_index:08d}"


def certificate_view(
    certificate: dict[str, Any], *, title: str, owner: str, base_url: str
) -> CertificateView:
    """The registration a certificate attests, ready to render."""
    try:
        index, leaf, _proof, head, key_id, openings = _parse(certificate)
        event = parse_event(leaf)
        disclosed = check_openings(event.committed(), openings)
    except EventFormatError as error:
        raise CertificateError(
            N_("certificate leaf is not an event: %(reason)s"), reason=str(error)
        ) from error
    except OpeningError as error:
        raise CertificateError(
            N_("certificate does not open its leaf: %(reason)s"), reason=error.wording
        ) from error
    if not isinstance(event, RegistrationEvent):
        raise CertificateError(
            N_("certificate attests a %(kind)s, not a registration"), kind=event.event_type
        )
    sha256 = event.sha256 if event.sha256 is not None else disclosed.get("sha256")
    return CertificateView(
        title=title,
        owner=owner,
        work_id=event.work_id,
        sha256=sha256 if isinstance(sha256, str) else "(private: committed on the log)",
        registered_at=event.registered_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        log_index=index,
        tree_size=head.tree_size,
        root_hash=head.root_hash.hex(),
        key_id=key_id,
        verify_url=f"{base_url.rstrip('/')}/verify/{event.work_id}",
        number=certificate_number(event.work_id, index),
        registered=event.registered_at,
    )


def render_certificate_html(view: CertificateView) -> str:
    """A standalone HTML page with an inline SVG QR code linking to the verify page."""
    qr_svg = qrcode.make(
        view.verify_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8
    ).to_string(encoding="unicode")
    rows = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td><code>{html.escape(value)}</code></td></tr>"
        for label, value in view.rows()
    )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Copymark certificate: {html.escape(view.title)}</title>
<style>body{{font-family:sans-serif;max-width:48rem;margin:2rem auto}}
th{{text-align:left;padding-right:1rem}}code{{word-break:break-all}}</style></head>
<body>
<h1>Certificate of registration</h1>
<p>This work is recorded in the Copymark attestation log. The JSON certificate proves it
offline against the log's public key.</p>
<table>
{rows}
</table>
<figure>{qr_svg}<figcaption>{html.escape(view.verify_url)}</figcaption></figure>
</body>
</html>
"""


# What the PDF prints besides the rows' labels; the caller's `translate` gets each of these.
PDF_TEXTS: Final = (
    "Certificate of registration",
    "This work is recorded in the Copymark attestation log. The certificate inside this PDF "
    "(certificate.json) proves it offline against the log's public key; scan the code or open "
    "the address below to check it.",
    "Registered (local time)",
)
ROW_LABELS: Final = tuple(
    label for label, _ in CertificateView("", "", 0, "", "", 0, 0, "", "", "").rows()
)
CERTIFICATE_ATTACHMENT: Final = "certificate.json"


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class PdfExtras:
    """What a PDF adds to the view: the work's picture, the certificate itself (attached, for
    verification by upload), the registration time as the owner reads it, and the language."""

    image_jpeg: bytes | None = None
    certificate: dict[str, Any] | None = None
    local_time: str | None = None
    translate: Callable[[str], str] = _unchanged


def render_certificate_pdf(view: CertificateView, extras: PdfExtras | None = None) -> bytes:
    """A one-page A4 certificate: picture, number, owner, times, digests and a QR code to the
    verify page, in any script the fonts cover (Chinese included), the JSON attached."""
    extras = extras or PdfExtras()
    _ = extras.translate
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(view.title)
    pdf.add_page()
    family = _add_fonts(pdf)

    def printable(text: str) -> str:
        return (
            text if family != "Helvetica" else text.encode("latin-1", "replace").decode("latin-1")
        )

    pdf.set_font(family, size=20)
    pdf.cell(0, 12, printable(_(PDF_TEXTS[0])), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    pdf.multi_cell(0, 5, printable(_(PDF_TEXTS[1])), new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 4
    if extras.image_jpeg is not None:
        pdf.image(
            io.BytesIO(extras.image_jpeg), x=pdf.l_margin, y=top, w=60, h=60, keep_aspect_ratio=True
        )
    qr_image = qrcode.make(view.verify_url).get_image()
    buffer = io.BytesIO()
    qr_image.save(buffer, format="PNG")
    pdf.image(buffer, x=pdf.w - pdf.r_margin - 45, y=top, w=45)
    pdf.set_y(top + 64)
    rows = view.rows()
    if extras.local_time:
        rows.insert(6, (PDF_TEXTS[2], extras.local_time))
    for label, value in rows:
        pdf.set_x(pdf.l_margin)
        pdf.set_font(family, size=9)
        pdf.cell(42, 6, printable(_(label)))
        pdf.set_font(family, size=10)
        pdf.multi_cell(0, 6, printable(value), new_x="LMARGIN", new_y="NEXT")
    if extras.certificate is not None:
        pdf.embed_file(
            basename=CERTIFICATE_ATTACHMENT,
            bytes=json.dumps(extras.certificate, sort_keys=True).encode("utf-8"),
            mime_type="application/json",
            desc="Copymark certificate",
        )
    return bytes(pdf.output())


def _add_fonts(pdf: FPDF) -> str:
    """A Unicode font, with a CJK font behind it for what it lacks; Helvetica when none exists."""
    font = next((path for path in _UNICODE_FONTS if path.exists()), None)
    if font is None:
        return "Helvetica"
    pdf.add_font("CertificateSans", fname=str(font))
    cjk = next((path for path in _CJK_FONTS if path.exists()), None)
    if cjk is not None:
        pdf.add_font("CertificateCJK", fname=str(cjk), collection_font_number=0)
        pdf.set_fallback_fonts(["CertificateCJK"])
    return "CertificateSans"


def certificate_in_pdf(data: bytes) -> bytes:
    """The certificate JSON attached to a certificate PDF; CertificateError if it has none."""
    if len(data) > MAX_PDF_BYTES:
        raise CertificateError(N_("the PDF is larger than %(count)s bytes"), count=MAX_PDF_BYTES)
    try:
        reader = PdfReader(io.BytesIO(data))
        attached = reader.attachments.get(CERTIFICATE_ATTACHMENT, [])
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise CertificateError(
            N_("the file is not a readable PDF: %(reason)s"), reason=str(error)
        ) from None
    if not attached:
        raise CertificateError(
            N_("this PDF carries no Copymark certificate (certificate.json is not attached)")
        )
    return attached[0]
