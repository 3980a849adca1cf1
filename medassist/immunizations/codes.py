"""CDC vaccine code tables (CVX, MVX, NDC, CPT, vaccine groups, VIS), read at run time.

The files live in ``settings.REFERENCE_DIR / "cdsi" / "codes"`` (see SOURCE.md section 4 there)
and are never copied into the repository. The CSVs are conversions of CDC's IIS code-set
downloads, which sit unchanged in ``codes/cdc-source/``; the VIS tables exist only as CDC's raw
XML and are read from there. What each column means was checked against the raw files:

* NDC_Unit_use.txt / NDC_Unit_sale.txt are headerless pipe files. Their columns, in order, are
  the ones the CSVs name (AIRA's ``UpdateFromCDCSource.java`` uses the same layout). The CSV
  headers are right; the raw files pad CVX codes and ``no_inner`` with spaces, the CSVs don't.
* ``labeler``/``product``/``package`` are the segments of the 10-digit NDC exactly as labeled
  (4-4-2, 5-3-2 or 5-4-1; leading zeros kept), and ``ndc11`` is the 5-4-2 padded form. Only the
  segments tell which layout the labeler uses, so they are kept (``NdcProduct.ndc10``).
* In the unit-of-use file ``gtin_use_unit`` and ``gtin`` are the same value in every row.
* The NDC files have no MVX column: the manufacturer comes only from NDC_Linker.txt, whose
  columns are linker id, unit-of-sale id, unit-of-use id, MVX.

Where CDC's data is irregular, this module says so at the place it copes (search "CDC data").
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import xml.etree.ElementTree as ET  # noqa: S405 - CDC's own files from the reference directory
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

Kind = Literal["use", "sale"]

# NDC layouts (labeler-product-package digit counts). The first three are the 10-digit forms
# FDA assigns; 5-4-2 is the 11-digit (HIPAA) form with a zero padded into one segment.
_TEN_DIGIT_LAYOUTS = ((4, 4, 2), (5, 3, 2), (5, 4, 1))
_LAYOUTS = {*_TEN_DIGIT_LAYOUTS, (5, 4, 2)}


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vaccine:
    """One CVX code (cvx.csv = cvx.xml)."""

    cvx: str  # as CDC writes it: two digits at least ("08"), else three ("110")
    short_name: str
    full_name: str
    status: str  # "Active", "Inactive", "Non-US", "Never Active" (CDC's words)
    notes: str
    last_updated: dt.date | None


@dataclass(frozen=True, slots=True)
class Manufacturer:
    """One MVX code (mvx.csv = mvx.xml)."""

    mvx: str
    name: str
    status: str  # "Active" or "Inactive"
    notes: str
    last_updated: dt.date | None


@dataclass(frozen=True, slots=True)
class NdcProduct:
    """One NDC from CDC's unit-of-use or unit-of-sale table, with what the linker adds.

    A unit of sale is the package a clinic buys (a carton of 10 syringes); a unit of use is
    what is given to one patient (one syringe), the NDC HL7 RXA-5 should carry.
    """

    ndc: str  # 11-digit 5-4-2 with dashes (CDC "ndc11"), e.g. "58160-0811-52"
    ndc10: str  # the 10-digit NDC as labeled, e.g. "58160-811-52" (CDC's three segments)
    kind: Kind
    cvx: str  # the first of cvx_codes
    # CDC data: a few NDCs are listed once per CVX (ENGERIX-B 58160-0821-xx as 43 "adult" and
    # 44 "dialysis"); the dose decides which applies. Numeric order, so the lowest comes first.
    cvx_codes: tuple[str, ...]
    vaccine_name: str  # CDC's CVX short description on the NDC row
    mvx: str | None  # the first of mvx_codes, None when the linker has no row for this NDC
    mvx_codes: tuple[str, ...]  # from NDC_Linker.txt, in file order (IXIARO: "VAL", "INT")
    proprietary_name: str
    generic_name: str
    labeler: str  # labeler name (the labeler code is the first segment of ndc10)
    package_form: str  # free text as CDC writes it ("CARTON, 10 SYRINGE"); may be ""
    # Route: CDC gives it on unit-of-sale rows only. For a unit of use it is the route of its
    # linked units of sale when they all agree, else None.
    route: str | None
    start_date: dt.date | None
    end_date: dt.date | None  # None: CDC gives no end date (still marketed)
    gtin: str | None  # CDC's GTIN column, 14 digits; None when blank (about half the rows)
    unit_of_use_ndc: str | None  # unit of sale only: its unit-of-use NDC if the linker gives one
    unit_of_use_ndcs: tuple[str, ...]  # unit of sale only: every linked unit-of-use NDC (kits)
    unit_of_sale_ndcs: tuple[str, ...]  # unit of use only: every linked unit-of-sale NDC
    # Unit of use only: True when the unit of use is sold on its own, i.e. it has no outer
    # package and its NDC is also in the unit-of-sale table (checked: all 61 such rows).
    no_inner: bool | None
    last_updated: dt.date | None

    @property
    def labeler_code(self) -> str:
        return self.ndc10.split("-", 1)[0]

    @property
    def label(self) -> str:
        """One line for a choice list: name, vaccine, NDC and package."""
        package = f", {self.package_form}" if self.package_form else ""
        return f"{self.proprietary_name} — {self.vaccine_name} ({self.ndc}{package})"

    def is_active(self, on: dt.date) -> bool:
        """Marketed on that date by CDC's start and end dates (no end date: still marketed)."""
        started = self.start_date is None or self.start_date <= on
        return started and (self.end_date is None or on <= self.end_date)


@dataclass(frozen=True, slots=True)
class VisDocument:
    """One edition of a Vaccine Information Statement (vis.xml, URLs from visurl.xml)."""

    name: str  # CDC's document name for this edition, e.g. "Hepatitis B Vaccine VIS"
    edition_date: dt.date
    # The fully-encoded string HL7 OBX 69764-9 carries: "253" (GS1 AI for a GDTI), the
    # 13-digit GDTI, then "11" and, as a rule, the edition date as YYMMDD. It is also what a
    # VIS's own barcode holds. CDC data: 20 historic COVID-19 EUA fact sheets end in another
    # date (253088698300033211201201 is the edition of 2021-04-06), so edition_date comes
    # from vis.xml's Edition_Date, never from this string.
    encoded_text: str
    gdti: str  # the 13-digit document type code, the same for every edition of a document
    status: str  # "Current" or "Historic"
    url: str | None  # PDF of the current edition; None for a historic edition
    html_url: str | None


# ---------------------------------------------------------------------------------------------
# Code normalisation (pure)
# ---------------------------------------------------------------------------------------------


def normalize_cvx(text: str) -> str:
    """A CVX code as CDC writes it: "8" and "008" -> "08", "110" -> "110"."""
    value = text.strip()
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"CVX {text!r} is not a number; a CVX code has one to three digits")
    number = int(value)
    if number > 999:
        raise ValueError(f"CVX {text!r} has more than three digits")
    return f"{number:02d}"


def normalize_mvx(text: str) -> str:
    return text.strip().upper()


def _ndc_digits(text: str) -> tuple[str, str]:
    """(stripped text, its digits) after checking it holds only digits and dashes."""
    value = text.strip()
    if not value:
        raise ValueError("No NDC was given")
    for char in value:
        if char not in "0123456789-":
            raise ValueError(f"NDC {value} contains {char!r}; an NDC has only digits and dashes")
    digits = value.replace("-", "")
    if len(digits) not in (10, 11):
        raise ValueError(f"NDC {value} has {len(digits)} digits; an NDC has 10 or 11")
    return value, digits


def _segments(value: str) -> tuple[str, str, str]:
    parts = value.split("-")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"NDC {value} should have three parts separated by dashes")
    layout = tuple(len(part) for part in parts)
    if layout not in _LAYOUTS:
        shape = "-".join(str(n) for n in layout)
        raise ValueError(f"NDC {value} is laid out {shape}; an NDC is 4-4-2, 5-3-2, 5-4-1 or 5-4-2")
    return parts[0], parts[1], parts[2]


def _pad(labeler: str, product: str, package: str) -> str:
    return f"{labeler:0>5}-{product:0>4}-{package:0>2}"


def _ten_digit_splits(digits: str) -> tuple[tuple[str, str, str], ...]:
    """The three ways to read ten undashed digits as an NDC (4-4-2, 5-3-2, 5-4-1)."""
    splits = []
    for a, b, _ in _TEN_DIGIT_LAYOUTS:
        splits.append((digits[:a], digits[a : a + b], digits[a + b :]))
    return tuple(splits)


def normalize_ndc(text: str) -> str:
    """The 11-digit 5-4-2 dashed form of an NDC.

    Accepts 10-digit NDCs with dashes (4-4-2, 5-3-2, 5-4-1), 11-digit NDCs with dashes
    (5-4-2) and 11 digits without dashes. Ten digits without dashes raise ValueError: which
    segment to pad cannot be known (use ndc_candidates, or Catalog.product_for_ndc).
    """
    value, digits = _ndc_digits(text)
    if "-" in value:
        return _pad(*_segments(value))
    if len(digits) == 11:
        return f"{digits[:5]}-{digits[5:9]}-{digits[9:]}"
    options = ", ".join(_pad(*split) for split in _ten_digit_splits(digits))
    raise ValueError(
        f"NDC {value} has 10 digits and no dashes, so it could be {options}; "
        "type it with its dashes as printed on the package"
    )


def ndc_candidates(text: str) -> tuple[str, ...]:
    """Every 11-digit 5-4-2 NDC the text can mean: one, or three for ten undashed digits."""
    value, digits = _ndc_digits(text)
    if "-" not in value and len(digits) == 10:
        return tuple(dict.fromkeys(_pad(*split) for split in _ten_digit_splits(digits)))
    return (normalize_ndc(value),)


def ten_digit_ndcs(text: str) -> tuple[str, ...]:
    """The 10-digit dashed forms an NDC can have been labeled with.

    One for a dashed 10-digit NDC; for an 11-digit NDC, each form whose padded segment starts
    with the zero padding would have added (so "58160-0811-52" -> ("58160-811-52",) but
    "00006-4047-01" -> ("0006-4047-01", "00006-4047-1")); three for ten undashed digits.
    """
    value, digits = _ndc_digits(text)
    if "-" not in value and len(digits) == 10:
        return tuple("-".join(split) for split in _ten_digit_splits(digits))
    if "-" in value:
        labeler, product, package = _segments(value)
        if len(digits) == 10:
            return (value,)
    else:
        labeler, product, package = digits[:5], digits[5:9], digits[9:]
    forms = []
    if labeler.startswith("0"):
        forms.append(f"{labeler[1:]}-{product}-{package}")
    if product.startswith("0"):
        forms.append(f"{labeler}-{product[1:]}-{package}")
    if package.startswith("0"):
        forms.append(f"{labeler}-{product}-{package[1:]}")
    if not forms:
        raise ValueError(
            f"NDC {value} cannot come from a 10-digit NDC: none of its parts starts with the "
            "padding zero"
        )
    return tuple(forms)


# ---------------------------------------------------------------------------------------------
# File reading helpers
# ---------------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    """Trim and collapse whitespace, non-breaking spaces included.

    CDC data: two unit-of-sale rows (54868-6177-00, 54868-6180-00) have U+00A0 in the generic
    name in NDC_Unit_sale.txt, which the CSV conversion double-encoded as "Â\\xa0"; that pair is
    turned back into a space here.
    """
    return _SPACES.sub(" ", text.replace("Â\xa0", " ").replace("\xa0", " ")).strip()


def _rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def _date_ymd(text: str) -> dt.date | None:
    """ "20250701" -> date; "" -> None."""
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a YYYYMMDD date")
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _date_mdy(text: str) -> dt.date | None:
    """ "6/13/2024" (CDC's XML and CSV dates) -> date; "" -> None."""
    if not text:
        return None
    month, day, year = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def _date_stamp(text: str) -> dt.date | None:
    """ "2024-07-18 00:00:00" (the NDC files' last-updated stamps) -> date."""
    return dt.date.fromisoformat(text[:10]) if text else None


def _gtin(text: str) -> str | None:
    """CDC's GTIN column as 14 digits.

    CDC data: one unit-of-use GTIN (80631-0207-01) is written with 13 digits, "0380631207017";
    it is that GTIN without its leading zero (the check digit is right), so it is zero-padded.
    """
    value = text.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 14:
        raise ValueError(f"GTIN {value!r} in CDC's NDC tables is not a GTIN")
    return value.zfill(14)


def _xml_records(path: Path) -> list[dict[str, str]]:
    """Child text of each record element, for CDC's flat <Info><Tag>value</Tag>...</Info>."""
    root = ET.parse(path).getroot()  # noqa: S314 - trusted reference files
    return [{child.tag: (child.text or "").strip() for child in record} for record in root]


def _cvx_key(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (10**6, code)


# ---------------------------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------------------------


class Catalog:
    """Read-only lookups over one directory of CDC code tables (build with load_catalog)."""

    def __init__(
        self,
        *,
        directory: Path,
        vaccines: Mapping[str, Vaccine],
        manufacturers: Mapping[str, Manufacturer],
        products: Iterable[NdcProduct],
        groups: Mapping[str, tuple[str, ...]],
        cpt: Mapping[str, tuple[str, ...]],
        vis_documents: Iterable[VisDocument],
        vis_by_cvx: Mapping[str, tuple[VisDocument, ...]],
        counts: Mapping[str, int],
    ) -> None:
        self.directory = directory
        self._vaccines = dict(vaccines)
        self._manufacturers = dict(manufacturers)
        self._products = tuple(products)
        self._by_ndc: dict[str, dict[Kind, NdcProduct]] = {}
        self._by_digits: dict[str, dict[Kind, NdcProduct]] = {}
        self._by_gtin: dict[str, dict[Kind, NdcProduct]] = {}
        for product in self._products:
            self._by_ndc.setdefault(product.ndc, {})[product.kind] = product
            self._by_digits.setdefault(product.ndc10.replace("-", ""), {})[product.kind] = product
            if product.gtin:
                self._by_gtin.setdefault(product.gtin, {})[product.kind] = product
        self._groups = dict(groups)
        self._cpt = dict(cpt)
        self._vis = {doc.encoded_text: doc for doc in vis_documents}
        self._vis_by_cvx = dict(vis_by_cvx)
        self.counts: Mapping[str, int] = dict(counts)

    def __repr__(self) -> str:
        return f"Catalog({str(self.directory)!r})"

    @staticmethod
    def _pick(found: dict[Kind, NdcProduct] | None, kind: Kind | None) -> NdcProduct | None:
        """One product of an NDC; with no kind asked, the unit of use wins (61 NDCs are in
        both tables: a unit of use sold without an outer package is the same item)."""
        if not found:
            return None
        if kind is not None:
            return found.get(kind)
        return found.get("use") or found.get("sale")

    # CVX / MVX -------------------------------------------------------------------------------

    def vaccine(self, cvx: str) -> Vaccine | None:
        """The CVX code's record; "8", "08" and "008" are the same code. None if unknown."""
        try:
            return self._vaccines.get(normalize_cvx(cvx))
        except ValueError:
            return None

    def vaccines(self) -> tuple[Vaccine, ...]:
        return tuple(sorted(self._vaccines.values(), key=lambda v: _cvx_key(v.cvx)))

    def manufacturer(self, mvx: str) -> Manufacturer | None:
        return self._manufacturers.get(normalize_mvx(mvx))

    def vaccine_groups(self, cvx: str) -> tuple[str, ...]:
        """CDC's vaccine group names for a CVX (vac2vg.xml), e.g. "110" -> DTAP, HepB, POLIO."""
        try:
            return self._groups.get(normalize_cvx(cvx), ())
        except ValueError:
            return ()

    def cvx_for_cpt(self, cpt: str) -> tuple[str, ...]:
        """The CVX codes CDC maps a CPT code to, lowest first.

        CDC data: ten CPT codes map to two CVX codes each (90700 -> 20 and 106: DTaP with
        unspecified and with 5 pertussis antigens), so a CPT code alone does not always
        name one vaccine.
        """
        return self._cpt.get(cpt.strip(), ())

    # NDC / GTIN ------------------------------------------------------------------------------

    def product_for_ndc(self, text: str, kind: Kind | None = None) -> NdcProduct | None:
        """The product with this NDC, or None if CDC does not list it.

        Any form normalize_ndc accepts, and ten undashed digits too: those are matched to the
        10-digit NDC as labeled, which is exact (see product_for_gtin). An NDC in both tables
        gives the unit of use unless ``kind`` is "sale". Malformed text raises ValueError with
        a message for the person who typed it.
        """
        value, digits = _ndc_digits(text)
        if "-" not in value and len(digits) == 10:
            return self._pick(self._by_digits.get(digits), kind)
        return self._pick(self._by_ndc.get(normalize_ndc(value)), kind)

    def product_for_gtin(self, gtin: str, kind: Kind | None = None) -> NdcProduct | None:
        """The NDC product a GTIN-14 stands for, or None.

        Digits 4-13 of a US drug GTIN are the 10-digit NDC without dashes (gs1.py). Of the
        11-digit forms those digits could be (Gs1Data.ndc_candidates) the tables are asked for
        the one whose 10-digit NDC as labeled has exactly those digits, which also settles the
        rare case where two candidates exist. CDC data: 5063200101 is JYNNEOS 50632-001-01
        (-> 50632-0001-01), but its 5-4-1 reading 50632-0010-01 is also a listed NDC
        (RabAvert, labeled 50632-010-01); a bare "which candidate exists" would be ambiguous.
        A GTIN that is in CDC's GTIN column is taken from there first. Raises gs1.Gs1Error
        (a ValueError) for a GTIN that is not 14 digits or fails its check digit.
        """
        from medassist.immunizations import gs1  # gs1 imports this module

        value = gs1.validate_gtin(gtin)
        found = self._pick(self._by_gtin.get(value), kind)
        if found is not None:
            return found
        if not gs1.is_ndc_gtin(value):
            return None
        return self._pick(self._by_digits.get(value[3:13]), kind)

    def products(
        self,
        active_only: bool = True,
        *,
        kind: Kind | None = None,
        on: dt.date | None = None,
    ) -> tuple[NdcProduct, ...]:
        """NDC products for a choice list, sorted by proprietary name then NDC.

        ``active_only`` keeps products without an end date on or before ``on`` (default today)
        and already started. ``kind`` limits the list to units of use or of sale; without it an
        NDC that is in both tables is listed once, as its unit of use.
        """
        day = on or dt.datetime.now(dt.UTC).date()
        chosen = []
        for found in self._by_ndc.values():
            product = self._pick(found, kind)
            if product is None or (active_only and not product.is_active(day)):
                continue
            chosen.append(product)
        return tuple(sorted(chosen, key=lambda p: (p.proprietary_name.casefold(), p.ndc)))

    # VIS -------------------------------------------------------------------------------------

    def vis_for_cvx(self, cvx: str) -> tuple[VisDocument, ...]:
        """The current editions of the VIS documents CDC maps to a CVX (cvxvis.xml), by name.

        For a combination vaccine CDC maps each component's VIS and the multi-vaccine VIS
        (CVX 110 DTaP-HepB-IPV: DTaP, Hepatitis B, Polio and Multi Pediatric Vaccines VIS).
        () when CDC maps only historic editions: 44 CVX codes, e.g. 62 (HPV quadrivalent, no
        longer distributed) whose Gardasil VIS was retired.
        """
        try:
            return self._vis_by_cvx.get(normalize_cvx(cvx), ())
        except ValueError:
            return ()

    def vis_document(self, encoded_text: str) -> VisDocument | None:
        """The VIS edition for a fully-encoded string (from HL7 OBX 69764-9 or a VIS barcode)."""
        return self._vis.get(encoded_text.strip())


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

_USE_COLUMNS = (
    "ndc_inner_id", "labeler", "product", "package", "proprietary_name", "generic_name",
    "labeler_name", "start_date", "end_date", "package_form", "cvx_code",
    "cvx_short_description", "no_inner", "ndc11", "last_updated", "gtin",
)  # fmt: skip
_SALE_COLUMNS = (
    "ndc_outer_id", "labeler", "product", "package", "proprietary_name", "generic_name",
    "labeler_name", "start_date", "end_date", "package_form", "route", "last_updated",
    "cvx_code", "cvx_short_description", "ndc11", "gtin",
)  # fmt: skip


@dataclass
class _Draft:
    """An NDC product while its rows and links are gathered."""

    row: dict[str, str]
    kind: Kind
    ids: list[str]
    cvx_codes: list[str]
    no_inner: bool | None
    linked: list[str]  # NDCs of the other kind
    mvx: list[str]


def _drafts(rows: list[dict[str, str]], kind: Kind, id_column: str) -> dict[str, _Draft]:
    drafts: dict[str, _Draft] = {}
    for row in rows:
        ndc = row["ndc11"]
        expected = _pad(row["labeler"], row["product"], row["package"])
        if normalize_ndc(ndc) != ndc or ndc != expected:
            raise ValueError(f"NDC {ndc} in CDC's unit-of-{kind} table does not match {expected}")
        no_inner = row["no_inner"] == "True" if kind == "use" else None
        draft = drafts.get(ndc)
        if draft is None:
            drafts[ndc] = _Draft(row, kind, [row[id_column]], [row["cvx_code"]], no_inner, [], [])
            continue
        # CDC data: repeated NDC rows. ENGERIX-B has one row per CVX (43, 44), same id; IXIARO
        # 62195-0051-01 is listed twice, differing only in no_inner.
        if row[id_column] not in draft.ids:
            draft.ids.append(row[id_column])
        if row["cvx_code"] not in draft.cvx_codes:
            draft.cvx_codes.append(row["cvx_code"])
        if no_inner:
            draft.no_inner = True
    return drafts


def _link(links: list[dict[str, str]], use: dict[str, _Draft], sale: dict[str, _Draft]) -> int:
    """Attach linked NDCs and MVX codes; return how many links name an id no table has."""
    use_by_id: dict[str, list[str]] = {}
    sale_by_id: dict[str, list[str]] = {}
    for ndc, draft in use.items():
        for key in draft.ids:
            use_by_id.setdefault(key, []).append(ndc)
    for ndc, draft in sale.items():
        for key in draft.ids:
            sale_by_id.setdefault(key, []).append(ndc)

    dangling = 0
    for link in links:
        outers = sale_by_id.get(link["ndc_outer_id"], [])
        inners = use_by_id.get(link["ndc_inner_id"], [])
        if not outers or not inners:
            dangling += 1  # CDC data: 5 links name an id that an NDC table lacks
        if len(inners) > 1 and outers:
            # CDC data: unit-of-use id 3007 is both FLUAD 70461-0020-04 and FLUVIRIN
            # 66521-0114-02; each outer package links to the one with its own labeler.
            labelers = {ndc[:5] for ndc in outers}
            inners = [ndc for ndc in inners if ndc[:5] in labelers] or inners
        mvx = normalize_mvx(link["mvx_code"])
        for outer in outers:
            sale[outer].mvx.append(mvx)
            sale[outer].linked.extend(inners)
        for inner in inners:
            use[inner].mvx.append(mvx)
            use[inner].linked.extend(outers)
    return dangling


def _product(draft: _Draft, routes: Mapping[str, str]) -> NdcProduct:
    row = draft.row
    linked = tuple(sorted(dict.fromkeys(draft.linked)))
    cvx_codes = tuple(sorted(dict.fromkeys(draft.cvx_codes), key=_cvx_key))
    mvx_codes = tuple(dict.fromkeys(draft.mvx))
    if draft.kind == "sale":
        route: str | None = _clean(row["route"]) or None
    else:
        found = {routes[ndc] for ndc in linked if routes.get(ndc)}
        route = found.pop() if len(found) == 1 else None
    return NdcProduct(
        ndc=row["ndc11"],
        ndc10=f"{row['labeler']}-{row['product']}-{row['package']}",
        kind=draft.kind,
        cvx=cvx_codes[0],
        cvx_codes=cvx_codes,
        vaccine_name=_clean(row["cvx_short_description"]),
        mvx=mvx_codes[0] if mvx_codes else None,
        mvx_codes=mvx_codes,
        proprietary_name=_clean(row["proprietary_name"]),
        generic_name=_clean(row["generic_name"]),
        labeler=_clean(row["labeler_name"]),
        package_form=_clean(row["package_form"]),
        route=route,
        start_date=_date_ymd(row["start_date"]),
        end_date=_date_ymd(row["end_date"]),
        gtin=_gtin(row["gtin"]),
        unit_of_use_ndc=linked[0] if draft.kind == "sale" and len(linked) == 1 else None,
        unit_of_use_ndcs=linked if draft.kind == "sale" else (),
        unit_of_sale_ndcs=linked if draft.kind == "use" else (),
        no_inner=draft.no_inner,
        last_updated=_date_stamp(row["last_updated"]),
    )


def _load_vis(
    source: Path, known_cvx: Iterable[str]
) -> tuple[list[VisDocument], dict[str, tuple[VisDocument, ...]], int]:
    """VIS editions (vis.xml + visurl.xml) and the current ones per CVX (cvxvis.xml)."""
    urls: dict[str, tuple[str | None, str | None]] = {}
    root = ET.parse(source / "visurl.xml").getroot()  # noqa: S314 - trusted reference files
    href = "{http://www.w3.org/1999/xlink}href"
    for entry in root:
        gdti = (entry.findtext("VIS_GDTI_document_Conceptcode") or "").strip()
        pdf_link, html_link = entry.find("VIS_PDF_URL"), entry.find("VIS_HTML_URL")
        urls[gdti] = (
            pdf_link.get(href) if pdf_link is not None else None,
            html_link.get(href) if html_link is not None else None,
        )

    documents: dict[str, VisDocument] = {}
    current: dict[str, VisDocument] = {}  # GDTI -> its current edition
    for record in _xml_records(source / "vis.xml"):
        status = record["status"]
        pdf, html = urls.get(record["VIS_GDTI_document_code"], (None, None))
        edition = _date_mdy(record["Edition_Date"])
        if edition is None:
            raise ValueError(f"vis.xml: {record['VIS_encoded_string']} has no edition date")
        doc = VisDocument(
            name=_clean(record["VIS_Document_Type_Description"]),
            edition_date=edition,
            encoded_text=record["VIS_encoded_string"],
            gdti=record["VIS_GDTI_document_code"],
            status=status,
            url=pdf if status == "Current" else None,
            html_url=html if status == "Current" else None,
        )
        documents[doc.encoded_text] = doc
        if status == "Current":
            current[doc.gdti] = doc

    by_cvx: dict[str, dict[str, VisDocument]] = {}
    mappings = _xml_records(source / "cvxvis.xml")
    valid = set(known_cvx)
    for mapping in mappings:
        if mapping["Status"] != "Current":
            continue
        cvx = normalize_cvx(mapping["CVXCode"])
        if cvx not in valid:
            raise ValueError(f"cvxvis.xml maps unknown CVX {cvx}")
        mapped = documents.get(mapping["Fully-encodedString"])
        if mapped is None:
            raise ValueError(
                f"cvxvis.xml names VIS {mapping['Fully-encodedString']} not in vis.xml"
            )
        # cvxvis.xml and vis.xml agree on every edition's status today; should cvxvis.xml
        # lag behind a new edition, the edition vis.xml calls current is the one given.
        chosen = current.get(mapped.gdti, mapped)
        by_cvx.setdefault(cvx, {})[chosen.encoded_text] = chosen
    vis_by_cvx = {
        cvx: tuple(sorted(docs.values(), key=lambda d: d.name.casefold()))
        for cvx, docs in by_cvx.items()
    }
    return list(documents.values()), vis_by_cvx, len(mappings)


@lru_cache(maxsize=8)
def load_catalog(directory: Path) -> Catalog:
    """Read every table in a CDC codes directory (the folder holding cvx.csv and cdc-source/).

    Cached per path: a changed REFERENCE_DIR gives its own catalog. Raises FileNotFoundError
    when a file is missing and ValueError when a file does not have the expected shape.
    """
    directory = Path(directory)
    source = directory / "cdc-source"

    vaccines: dict[str, Vaccine] = {}
    cvx_rows = _rows(directory / "cvx.csv", ("cvx_code", "short_description", "status"))
    for row in cvx_rows:
        code = normalize_cvx(row["cvx_code"])
        vaccines[code] = Vaccine(
            cvx=code,
            short_name=_clean(row["short_description"]),
            full_name=_clean(row["full_vaccine_name"]),
            status=row["status"],
            notes=_clean(row["notes"]),
            last_updated=_date_mdy(row["last_updated"]),
        )

    manufacturers: dict[str, Manufacturer] = {}
    mvx_rows = _rows(directory / "mvx.csv", ("mvx_code", "manufacturer_name", "status"))
    for row in mvx_rows:
        code = normalize_mvx(row["mvx_code"])
        manufacturers[code] = Manufacturer(
            mvx=code,
            name=_clean(row["manufacturer_name"]),
            status=row["status"],
            notes=_clean(row["notes"]),
            last_updated=_date_mdy(row["last_updated"]),
        )

    use_rows = _rows(directory / "ndc-unit-of-use.csv", _USE_COLUMNS)
    sale_rows = _rows(directory / "ndc-unit-of-sale.csv", _SALE_COLUMNS)
    link_rows = _rows(
        directory / "ndc-linker.csv", ("linker_id", "ndc_outer_id", "ndc_inner_id", "mvx_code")
    )
    use = _drafts(use_rows, "use", "ndc_inner_id")
    sale = _drafts(sale_rows, "sale", "ndc_outer_id")
    links_dangling = _link(link_rows, use, sale)
    routes = {ndc: _clean(d.row["route"]) for ndc, d in sale.items()}
    products = [_product(d, routes) for d in (*use.values(), *sale.values())]
    for product in products:
        for code in product.cvx_codes:
            if code not in vaccines:
                raise ValueError(f"NDC {product.ndc} names CVX {code}, which cvx.csv lacks")

    groups: dict[str, list[str]] = {}
    group_rows = _rows(directory / "cvx-to-vaccine-group.csv", ("cvx_code", "vaccine_group_name"))
    for row in group_rows:
        names = groups.setdefault(normalize_cvx(row["cvx_code"]), [])
        if row["vaccine_group_name"] not in names:
            names.append(row["vaccine_group_name"])

    cpt: dict[str, list[str]] = {}
    cpt_rows = _rows(directory / "cpt-to-cvx.csv", ("cpt_code", "cvx_code"))
    for row in cpt_rows:
        codes = cpt.setdefault(row["cpt_code"], [])
        if row["cvx_code"] and normalize_cvx(row["cvx_code"]) not in codes:
            codes.append(normalize_cvx(row["cvx_code"]))

    vis_documents, vis_by_cvx, cvxvis_rows = _load_vis(source, vaccines)

    counts = {
        "cvx": len(cvx_rows),
        "mvx": len(mvx_rows),
        "ndc_use_rows": len(use_rows),
        "ndc_sale_rows": len(sale_rows),
        "ndc_use_products": len(use),
        "ndc_sale_products": len(sale),
        "ndc_in_both_tables": len(use.keys() & sale.keys()),
        "linker_rows": len(link_rows),
        "linker_rows_dangling": links_dangling,
        "vaccine_group_rows": len(group_rows),
        "cpt_rows": len(cpt_rows),
        "vis_editions": len(vis_documents),
        "vis_current": sum(1 for d in vis_documents if d.status == "Current"),
        "cvxvis_rows": cvxvis_rows,
        "cvx_with_current_vis": len(vis_by_cvx),
    }
    return Catalog(
        directory=directory,
        vaccines=vaccines,
        manufacturers=manufacturers,
        products=products,
        groups={cvx: tuple(names) for cvx, names in groups.items()},
        cpt={code: tuple(sorted(cvx, key=_cvx_key)) for code, cvx in cpt.items()},
        vis_documents=vis_documents,
        vis_by_cvx=vis_by_cvx,
        counts=counts,
    )


def catalog() -> Catalog:
    """The catalog of settings.REFERENCE_DIR / "cdsi" / "codes"."""
    from django.conf import settings

    return load_catalog(Path(settings.REFERENCE_DIR) / "cdsi" / "codes")
