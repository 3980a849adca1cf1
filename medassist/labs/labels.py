"""Specimen labels: one per container, as a PDF of label-size pages (2 x 1 in, for any printer)
and as ZPL II for thermal label printers.

What a label carries follows CLSI GP41 (7th ed.) on specimen labelling and The Joint Commission
NPSG.01.01.01 (two identifiers on every container, labelled in the presence of the patient):
the patient's full name and date of birth (and the MRN), the collection date and time, the
collector's initials, the test(s) and the container, and the accession number both as a
Code 128 barcode (ISO/IEC 15417) and in human-readable characters.

The barcode's modules come from python-barcode's Code 128 encoder (it picks code sets B and C
to keep the symbol short); the image is drawn here at a whole number of pixels per module, so
that nothing in the bars is left to rounding and any reader (or the tests' own decoder) reads
exactly the accession back."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import barcode
from django.template.loader import render_to_string
from PIL import Image, ImageDraw

from medassist.core import clock
from medassist.labs.draw import CONTAINERS
from medassist.labs.models import Specimen

ACCESSION = re.compile(r"^[A-Z0-9-]{1,20}$")  # what accession_number() makes: Code 128 set B
PIXELS_PER_MODULE = 4
QUIET_MODULES = 10  # ISO/IEC 15417: a quiet zone of at least ten modules on each side
BAR_HEIGHT_PX = 120
# The label: 2 x 1 in. ZPL is laid out for a 203 dpi printer (8 dots/mm), the common one.
ZPL_WIDTH_DOTS = 406
ZPL_HEIGHT_DOTS = 203


@dataclass(frozen=True)
class Label:
    accession: str
    patient_name: str  # FAMILY, Given (as the patient says it, the first identifier)
    birth_date: dt.date  # the second identifier
    mrn: str
    collected_at: dt.datetime | None  # in the clinic's time zone
    collector_initials: str
    tests: str
    container: str  # the cap colour in words, as the lab sorts tubes
    requisition: str = ""  # the requisition number, to match the tube to its paper order

    @property
    def birth_date_text(self) -> str:
        return f"{self.birth_date:%m/%d/%Y}"

    @property
    def collected_text(self) -> str:
        return f"{self.collected_at:%m/%d/%Y %H:%M}" if self.collected_at else ""


def initials(user: object) -> str:
    if user is None:
        return ""
    first = (getattr(user, "first_name", "") or "")[:1]
    last = (getattr(user, "last_name", "") or "")[:1]
    return (first + last).upper() or str(getattr(user, "username", ""))[:3].upper()


def label_for(specimen: Specimen) -> Label:
    """The label of one specimen (patient, collector and orders with their tests loaded)."""
    patient = specimen.patient
    name = f"{patient.family.upper()}, {patient.given}"
    if patient.middle:
        name += f" {patient.middle[:1]}."
    return Label(
        accession=specimen.accession,
        patient_name=name,
        birth_date=patient.birth_date,
        mrn=patient.mrn,
        collected_at=clock.localtime(specimen.collected_at) if specimen.collected_at else None,
        collector_initials=initials(specimen.collected_by),
        tests=", ".join(o.test.name for o in specimen.orders.all()),
        container=CONTAINERS[specimen.container].cap_color,
        requisition=specimen.requisition.number,
    )


def labels_for(specimens: Iterable[Specimen]) -> list[Label]:
    return [label_for(s) for s in specimens]


# -- The barcode -------------------------------------------------------------------------------


def code128_modules(accession: str) -> str:
    """The symbol as modules, "1" a bar and "0" a space: start, data, check, stop."""
    if not ACCESSION.match(accession):
        raise ValueError(f"{accession!r} is not an accession number")
    return str(barcode.get("code128", accession).build()[0])


def barcode_png(accession: str) -> bytes:
    """A Code 128 barcode of the accession as a PNG, black on white, with its quiet zones."""
    modules = code128_modules(accession)
    width = (len(modules) + 2 * QUIET_MODULES) * PIXELS_PER_MODULE
    image = Image.new("L", (width, BAR_HEIGHT_PX), 255)
    draw = ImageDraw.Draw(image)
    x = QUIET_MODULES * PIXELS_PER_MODULE
    for bit in modules:
        if bit == "1":
            draw.rectangle([x, 0, x + PIXELS_PER_MODULE - 1, BAR_HEIGHT_PX - 1], fill=0)
        x += PIXELS_PER_MODULE
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def barcode_data_uri(accession: str) -> str:
    return "data:image/png;base64," + base64.b64encode(barcode_png(accession)).decode("ascii")


# -- PDF ---------------------------------------------------------------------------------------


def labels_pdf(labels: Sequence[Label]) -> bytes:
    """One 2 x 1 in page per label (WeasyPrint; data: URLs only, never the network)."""
    from weasyprint import HTML, URLFetcher

    html = render_to_string(
        "labs/orders/labels_pdf.html",
        {"labels": [(label, barcode_data_uri(label.accession)) for label in labels]},
    )
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]


# -- ZPL II ------------------------------------------------------------------------------------


def zpl_text(value: str) -> str:
    """Field data for ^FH_ (hexadecimal escapes with "_"): ZPL's command characters (^ ~), the
    escape itself, the backslash and anything outside printable ASCII become _XX of their
    UTF-8 bytes (read as UTF-8 under ^CI28), so no name can end a field or start a command."""
    out = []
    for char in value:
        if " " <= char <= "}" and char not in "^~_\\":
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _field(x: int, y: int, size: int, text: str, width: int = ZPL_WIDTH_DOTS - 20) -> str:
    # ^FB: one line as wide as the label, so a long name is cut at the edge, not wrapped
    # over the next field.
    return f"^FO{x},{y}^A0N,{size},{size}^FB{width},1,0,L^FH_^FD{zpl_text(text)}^FS"


def label_zpl(label: Label) -> str:
    if not ACCESSION.match(label.accession):
        raise ValueError(f"{label.accession!r} is not an accession number")
    lines = [
        "^XA",
        "^CI28",  # field data in UTF-8
        f"^PW{ZPL_WIDTH_DOTS}",
        f"^LL{ZPL_HEIGHT_DOTS}",
        "^LH0,0",
        _field(12, 8, 24, label.patient_name),
        _field(12, 34, 20, f"DOB {label.birth_date_text}  MRN {label.mrn}"),
        # Code 128, 50 dots high, the accession printed below it (Y) and not above (N), no
        # UCC check digit, automatic code sets (A) for the shortest symbol.
        f"^FO24,58^BY2^BCN,50,Y,N,N,A^FD{label.accession}^FS",
        _field(12, 140, 18, f"{label.requisition}  {label.tests}".strip()),
        _field(
            12,
            164,
            18,
            f"{label.container}  {label.collected_text}  {label.collector_initials}".strip(),
        ),
        "^PQ1",
        "^XZ",
    ]
    return "\n".join(lines)


def labels_zpl(labels: Sequence[Label]) -> str:
    """One ^XA ... ^XZ format per label, for a thermal printer's raw port (9100) or driver."""
    return "\n".join(label_zpl(label) for label in labels) + "\n"


# -- The courier's manifest --------------------------------------------------------------------


def manifest_pdf(page: object) -> bytes:
    """The manifest (selectors.orders.ManifestPage) as a letter page for the bag and the
    courier's signature."""
    from weasyprint import HTML, URLFetcher

    html = render_to_string("labs/orders/manifest_pdf.html", {"m": page})
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]
