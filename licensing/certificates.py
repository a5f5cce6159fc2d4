"""A licence certificate a person would show: the grant, its terms, and the log leaf proving it.

The PDF is a readable companion to the JSON certificate (`issue_certificate` of the leaf that
made the grant active), which is what verifies offline; the PDF names that leaf, the signed tree
head it was checked against, and where to fetch the JSON.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qrcode
from fpdf import FPDF

from licensing.models import LicenseGrant
from licensing.money import Money
from licensing.terms import OfferTerms

# Unicode fonts for accented titles; without one, characters outside Latin-1 print as '?'.
_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
)


@dataclass(frozen=True, slots=True)
class LicenceCertificateView:
    """What a licence certificate prints."""

    grant: LicenseGrant
    work_title: str
    licensee: str
    terms: OfferTerms
    certificate: dict[str, Any]
    json_url: str

    def rows(self) -> list[tuple[str, str]]:
        head = self.certificate["tree_head"]
        territory = ", ".join(self.terms.territories) or "worldwide"
        term = f"{self.terms.term_months} months" if self.terms.term_months else "perpetual"
        return [
            ("Licence", f"grant {self.grant.id} ({self.grant.sale_type})"),
            ("Work", f"{self.grant.work_id}: {self.work_title}"),
            ("Licensee", self.licensee),
            ("Status", self.grant.status.value),
            ("Price", str(Money(self.grant.gross_minor, self.grant.currency))),
            ("Units", str(self.terms.units) if self.terms.units else "unlimited"),
            ("Territory", territory),
            ("Term", term),
            ("AI training", self.terms.ai_training.replace("_", " ")),
            (
                "Active since",
                self.grant.activated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                if self.grant.activated_at
                else "not active",
            ),
            ("Log index", f"{self.certificate['log_index']} of {head['tree_size']}"),
            ("Root hash", str(head["root_hash"])),
            ("Log key id", str(self.certificate["key_id"])),
            ("Certificate", self.json_url),
        ]


def render_licence_pdf(view: LicenceCertificateView) -> bytes:
    """A one-page A4 PDF of the licence with a QR code linking to its JSON certificate."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    font = next((path for path in _FONTS if path.exists()), None)
    family = "Helvetica"
    if font is not None:
        pdf.add_font("LicenceSans", fname=str(font))
        family = "LicenceSans"

    def printable(text: str) -> str:
        return text if font is not None else text.encode("latin-1", "replace").decode("latin-1")

    pdf.set_font(family, size=20)
    pdf.cell(0, 14, "Licence certificate", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    for label, value in view.rows():
        pdf.set_x(pdf.l_margin)
        pdf.cell(30, 7, label)
        pdf.multi_cell(0, 7, printable(value), new_x="LMARGIN", new_y="NEXT")
    buffer = io.BytesIO()
    qrcode.make(view.json_url).get_image().save(buffer, format="PNG")
    pdf.image(buffer, x=pdf.l_margin, y=pdf.get_y() + 5, w=45)
    return bytes(pdf.output())
