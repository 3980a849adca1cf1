"""Specimen labels: the PDF read back with pypdf (both identifiers, the accession in words, and
the barcode image decoded by a Code 128 reader written here, independent of the encoder), the
ZPL for thermal printers, and what printing records (the "labelled" custody event once per
specimen; a reprint counted and audited)."""

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.labs import labels
from medassist.labs.models import CustodyEvent, Specimen
from medassist.labs.services import orders as services
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

# -- A Code 128 reader (ISO/IEC 15417), from the symbology's table, not from the encoder ------

# Bar and space widths (in modules) of each symbol value 0..105, then the stop (106).
_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 "
    "112232 122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 "
    "311222 321122 321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 "
    "112313 132113 132311 211313 231113 231311 112133 112331 132131 113123 113321 133121 "
    "313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 "
    "122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 "
    "114311 411113 411311 113141 114131 311141 411131 211412 211214 211232 "
)
PATTERNS = _TABLE.split()
STOP = "2331112"
VALUE_OF = {p: v for v, p in enumerate(PATTERNS)}
START_A, START_B, START_C = 103, 104, 105
CODE_C, CODE_B, CODE_A, SHIFT = 99, 100, 101, 98


class Unreadable(Exception):
    pass


def runs_of(row: list[int]) -> list[int]:
    """Widths of alternating bars and spaces, from the first bar to the last."""
    start = row.index(1)
    end = len(row) - row[::-1].index(1)
    runs, last, width = [], 1, 0
    for bit in row[start:end]:
        if bit == last:
            width += 1
        else:
            runs.append(width)
            last, width = bit, 1
    runs.append(width)
    return runs


def decode_code128(image: Image.Image) -> str:
    """Read the middle row of pixels: bar/space widths -> modules -> patterns -> values; check
    the symbol check character; turn the values into text by code set (A, B, C, switches)."""
    grey = image.convert("L")
    y = grey.height // 2
    row = [1 if grey.getpixel((x, y)) < 128 else 0 for x in range(grey.width)]  # type: ignore[operator]
    runs = runs_of(row)
    if (len(runs) - 7) % 6:
        raise Unreadable(f"{len(runs)} bars and spaces is not a Code 128 symbol")
    symbols = (len(runs) - 7) // 6
    module = sum(runs) / (11 * symbols + 13)
    widths = [round(r / module) for r in runs]
    if "".join(map(str, widths[-7:])) != STOP:
        raise Unreadable("no stop pattern")
    values = []
    for i in range(symbols):
        pattern = "".join(map(str, widths[6 * i : 6 * i + 6]))
        if pattern not in VALUE_OF:
            raise Unreadable(f"pattern {pattern} at symbol {i}")
        values.append(VALUE_OF[pattern])
    start, *data, check = values
    if start not in (START_A, START_B, START_C):
        raise Unreadable("no start character")
    if (start + sum(i * v for i, v in enumerate(data, start=1))) % 103 != check:
        raise Unreadable("check character does not match")
    code = {START_A: "A", START_B: "B", START_C: "C"}[start]
    text, shift = [], False
    for v in data:
        current = ("B" if code == "A" else "A") if shift else code
        shift = False
        if current == "C" and v < 100:
            text.append(f"{v:02d}")
        elif v == CODE_C and current != "C":
            code = "C"
        elif v == CODE_B and current != "B":
            code = "B"
        elif v == CODE_A and current != "A":
            code = "A"
        elif v == SHIFT and current in "AB":
            shift = True
        elif current == "B" and v < 96:
            text.append(chr(v + 32))
        elif current == "A" and v < 96:
            text.append(chr(v + 32) if v < 64 else chr(v - 64))
        else:
            raise Unreadable(f"value {v} in code set {current}")
    return "".join(text)


def page_barcode(page) -> Image.Image:  # type: ignore[no-untyped-def]
    """The image drawn on this page (WeasyPrint shares the images' resources across pages:
    the page's own content stream says which it paints)."""
    content = page.get_contents().get_data().decode("latin-1")
    drawn = re.findall(r"/(\S+)\s+Do\b", content)
    assert len(drawn) == 1, drawn
    found = [i for i in page.images if i.name.rsplit(".", 1)[0] == drawn[0]]
    assert len(found) == 1
    return found[0].image


def test_the_reader_reads_code_sets_b_and_c_and_refuses_a_damaged_symbol():
    for text in ("NORTH-S0000012", "SOUTH-S1234567", "AB-12", "0123456789", "LAB-S9"):
        image = Image.open(io.BytesIO(labels.barcode_png(text)))
        assert decode_code128(image) == text
    damaged = Image.open(io.BytesIO(labels.barcode_png("NORTH-S0000012"))).convert("L")
    # Paint over one narrow space in the middle: the widths no longer make a valid symbol.
    row = [damaged.getpixel((x, 0)) for x in range(damaged.width)]
    middle = damaged.width // 2
    x = next(i for i in range(middle, damaged.width) if row[i] == 255)
    for y in range(damaged.height):
        for dx in range(labels.PIXELS_PER_MODULE):
            damaged.putpixel((x + dx, y), 0)
    with pytest.raises(Unreadable):
        decode_code128(damaged)


# -- The labels ----------------------------------------------------------------------------------


@pytest.fixture
def drawn(cast):  # type: ignore[no-untyped-def]
    patient = make_patient(cast.north, family="Rivera", given="Maria")
    requisition = f.order(cast, patient, ("CBC", "CMP", "LIPID", "UA"))
    f.collect(cast, requisition)
    return requisition


def test_the_pdf_has_one_label_per_container_with_both_identifiers_and_a_readable_barcode(
    cast, drawn
):
    specimens = services.print_labels(actor=Actor.for_user(cast.alice), requisition=drawn)
    reader = PdfReader(io.BytesIO(labels.labels_pdf(labels.labels_for(specimens))))
    assert len(reader.pages) == len(specimens) == 3
    patient = drawn.patient
    for page, specimen in zip(reader.pages, specimens, strict=True):
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (144, 72)  # 2 x 1 in
        text = page.extract_text()
        assert "RIVERA, Maria" in text  # first identifier: the full name
        assert "DOB 03/04/1980" in text  # second identifier
        assert f"MRN {patient.mrn}" in text
        assert specimen.accession in text  # human-readable
        assert f"{clock.localtime(specimen.collected_at):%m/%d/%Y %H:%M}" in text  # type: ignore[arg-type]
        assert " AM" in text  # Alice Moreno's initials
        assert decode_code128(page_barcode(page)) == specimen.accession
        assert drawn.number in text  # the requisition, to match the tube to its order
    assert "Comprehensive metabolic panel, Lipid panel" in reader.pages[0].extract_text()
    assert "gold" in reader.pages[0].extract_text()
    assert "lavender" in reader.pages[1].extract_text()


def test_the_zpl_has_one_format_per_label_with_the_barcode_and_both_identifiers(cast, drawn):
    specimens = services.print_labels(actor=Actor.for_user(cast.alice), requisition=drawn)
    zpl = labels.labels_zpl(labels.labels_for(specimens))
    formats = re.findall(r"\^XA.*?\^XZ", zpl, re.S)
    assert len(formats) == len(specimens) == 3 and zpl.count("^XA") == 3
    for text, specimen in zip(formats, specimens, strict=True):
        barcode = re.findall(r"\^BY2\^BC(N,\d+,Y,N[^\^]*)\^FD([^\^]+)\^FS", text)
        assert barcode == [("N,50,Y,N,N,A", specimen.accession)]
        fields = re.findall(r"\^FD(.*?)\^FS", text)
        assert "RIVERA, Maria" in fields
        assert f"DOB 03/04/1980  MRN {drawn.patient.mrn}" in fields
        assert any(f.startswith(drawn.number) for f in fields)  # the requisition number
        assert text.startswith("^XA\n^CI28\n^PW406\n^LL203")


def test_zpl_field_data_cannot_break_out_of_its_field(cast):
    patient = make_patient(cast.north, family="O^Brien~XA", given="Zoë_")
    requisition = f.order(cast, patient, ("CBC",))
    f.collect(cast, requisition)
    specimens = services.print_labels(actor=Actor.for_user(cast.alice), requisition=requisition)
    zpl = labels.labels_zpl(labels.labels_for(specimens))
    assert "^FH_^FDO_5EBRIEN_7EXA, Zo_C3_AB_5F^FS" in zpl
    assert zpl.count("^XA") == 1 and "~XA" not in zpl
    assert labels.zpl_text("a\\b\nc") == "a_5Cb_0Ac"
    with pytest.raises(ValueError):
        labels.label_zpl(labels.Label("BAD^XZ", "X", patient.birth_date, "1", None, "", "", ""))


def test_the_first_print_labels_each_specimen_and_a_reprint_is_counted_and_audited(cast, drawn):
    alice = Actor.for_user(cast.alice)
    services.print_labels(actor=alice, requisition=drawn)
    specimens = list(Specimen.objects.filter(requisition=drawn))
    assert {(s.status, s.labels_printed) for s in specimens} == {("labeled", 1)}
    assert CustodyEvent.objects.filter(step="labeled").count() == 3
    event = CustodyEvent.objects.filter(step="labeled").first()
    assert event is not None and event.by == cast.alice
    services.print_labels(actor=alice, requisition=drawn)
    specimens = list(Specimen.objects.filter(requisition=drawn))
    assert {(s.status, s.labels_printed) for s in specimens} == {("labeled", 2)}
    assert CustodyEvent.objects.filter(step="labeled").count() == 3  # once per specimen
    prints = list(
        AuditEvent.objects.filter(action=Action.PRINT, entity_type="Specimen").order_by("id")
    )
    assert len(prints) == 2
    assert "reprint" not in prints[0].description and "reprint of NORTH-S" in prints[1].description
    assert prints[1].patient_id == drawn.patient.pk


def test_a_processed_specimen_keeps_its_status_when_its_label_is_reprinted(cast, drawn):
    alice = Actor.for_user(cast.alice)
    services.print_labels(actor=alice, requisition=drawn)
    gold = Specimen.objects.get(requisition=drawn, container="gold_sst")
    services.process_specimen(actor=alice, specimen=gold, spun_minutes=10)
    services.print_labels(actor=alice, requisition=drawn)
    gold.refresh_from_db()
    assert (gold.status, gold.labels_printed) == ("processed", 2)


def test_no_label_for_what_was_not_collected(cast):
    requisition = f.order(cast, make_patient(cast.north), ("CMP",))
    with pytest.raises(ValidationError):
        services.print_labels(actor=Actor.for_user(cast.alice), requisition=requisition)
    services.record_not_collected(
        actor=Actor.for_user(cast.alice), requisition=requisition, reason="no vein", attempts=2
    )
    with pytest.raises(ValidationError) as excinfo:
        services.print_labels(actor=Actor.for_user(cast.alice), requisition=requisition)
    assert "Nothing is collected" in str(excinfo.value)
    with pytest.raises(PermissionDenied):
        services.print_labels(actor=Actor.for_user(cast.gwen), requisition=requisition)


def test_the_label_pages_are_posted_and_answer_pdf_and_zpl(cast, drawn):
    client = Client()
    client.force_login(cast.alice)
    pdf_url = reverse("labs:labels-pdf", kwargs={"requisition_id": drawn.public_id})
    zpl_url = reverse("labs:labels-zpl", kwargs={"requisition_id": drawn.public_id})
    assert client.get(pdf_url).status_code == 405  # printing is recorded: never a GET
    response = client.post(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 3
    response = client.post(zpl_url)
    assert response.status_code == 200 and response.content.decode().count("^XZ") == 3
    assert "attachment" in response["Content-Disposition"]
    assert set(Specimen.objects.values_list("labels_printed", flat=True)) == {2}
    # nothing collected yet: back to the collection page with the reason
    other = f.order(cast, make_patient(cast.north, family="Other"), ("TSH",))
    response = client.post(reverse("labs:labels-pdf", kwargs={"requisition_id": other.public_id}))
    assert response.status_code == 302
