"""What a 2D barcode scanner types for a vaccine's GS1 DataMatrix, read into GTIN, lot, expiry.

Rules are from the GS1 General Specifications (GenSpecs; section numbers are the same in
releases 25 and 26):

* Element strings: an application identifier (AI) and its data, one after another. AIs with a
  predefined length (here 01, 11, 17) need no separator; any other AI's data ends at FNC1 or
  at the end of the symbol (GenSpecs §7.8.5). Scanners send FNC1 as ASCII GS (29).
* AI formats are those of the AI table (GenSpecs §3.2): 01 GTIN N14 with check digit (§3.3.2,
  §7.9.1); 10 lot X..20 (§3.4.1); 11 production date N6 (§3.4.2); 17 expiry N6 (§3.4.7);
  21 serial X..20 (§3.5.2); 30 variable count N..8; 37 count of trade items N..8. X is the
  GS1 AI encodable character set 82 (GenSpecs §7.11). Any other AI is refused: a workstation
  must not guess the length of data it does not understand.
* YYMMDD dates: day 00 means the last day of the month (§3.4.7; GSCN 21-040 asks healthcare
  labels to print a real day from 2025, but stock labelled before then is still in fridges);
  the century is the one that puts the year within 49 years before and 50 years after the
  current year (GenSpecs §7.12).
* Symbology identifiers (ISO/IEC 15424) a scanner may prefix: ]d2 GS1 DataMatrix, ]Q3 GS1 QR
  Code, ]C1 GS1-128, ]e0 GS1 DataBar, ]J1 GS1 DotCode. Other identifiers are symbols that do
  not carry GS1 element strings and are refused; ]E0-]E4 (EAN/UPC) are linear UPC codes.

Also accepted: the human-readable form with AIs in brackets, "(01)…(17)…(10)…". A lot or
serial is then read up to the next "(" followed by two to four digits and ")"; a lot that
itself contains such a bracket group cannot be read in this form (parentheses are legal in
character set 82).

Keyboard-wedge scanners often cannot type GS. Accepted in its place, because none of these
can be data: "{GS}", "[GS]", "^]" (caret notation of GS), "\\x1d"/"\\u001d" typed out, U+241D
"␝" (none of {, [, ^, ], \\ or ␝ is in character set 82), and "<GS>": < G S > are all legal data
characters, but "<GS>" is what scanner set-up tools print for GS and no vaccine lot uses it.
Not accepted: "|" or "~" or any other single character some scanners can be set to send; a
single printable character could be meant literally, and "|" is also the HL7 field separator.
The scan is refused with a message saying to set the scanner to send GS.

NDCs: a US drug GTIN-14 is an indicator digit, "03" (GS1 US prefix 03 for NDCs), the 10-digit
NDC without dashes, and the check digit (GS1 US guidance on NDCs in GTINs; FDA's 21 CFR
207.35). Which of 4-4-2, 5-3-2 or 5-4-1 the ten digits follow is not in the GTIN, so
``ndc_candidates`` lists each 11-digit 5-4-2 NDC they can be; codes.Catalog.product_for_gtin
picks the one CDC lists.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from medassist.immunizations.codes import ndc_candidates, ten_digit_ndcs

GS = "\x1d"

# GS1 AI encodable character set 82 (GenSpecs §7.11).
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)

_GS_SUBSTITUTES = ("<GS>", "{GS}", "[GS]", "^]", "\\x1d", "\\x1D", "\\u001d", "\\u001D", "␝")
_GS1_SYMBOLOGIES = frozenset({"]d2", "]Q3", "]C1", "]e0", "]J1"})
_MAX_SCAN = 512  # a GS1 DataMatrix for a vial is well under 100 characters


class Gs1Error(ValueError):
    """A scan that cannot be read; the message is written for the person scanning."""


@dataclass(frozen=True, slots=True)
class _Ai:
    title: str
    length: int | None  # predefined data length (no separator needed); None: variable
    max_length: int
    numeric: bool


_AIS: dict[str, _Ai] = {
    "01": _Ai("GTIN", 14, 14, True),
    "10": _Ai("lot number", None, 20, False),
    "11": _Ai("production date", 6, 6, True),
    "17": _Ai("expiry", 6, 6, True),
    "21": _Ai("serial number", None, 20, False),
    "30": _Ai("count", None, 8, True),
    "37": _Ai("count of trade items", None, 8, True),
}

# Length of an AI from its first two digits (GenSpecs §7.8.2), used only to name an AI this
# module does not read in its error message.
_AI_LENGTH_BY_PREFIX: dict[str, int] = {
    **dict.fromkeys(("23", "24", "25", "40", "41", "42"), 3),
    **dict.fromkeys(("31", "32", "33", "34", "35", "36", "39", "43", "70", "71", "72"), 4),
    **dict.fromkeys(("80", "81", "82"), 4),
}


@dataclass(frozen=True, slots=True)
class Gs1Data:
    """The data read from one scan."""

    gtin: str  # 14 digits, check digit verified
    lot: str
    expiry: dt.date | None  # None when the code has no AI 17
    serial: str | None
    ndc_candidates: tuple[str, ...]  # 11-digit 5-4-2 NDCs the GTIN can hold; () if not an NDC
    production_date: dt.date | None = None
    count: int | None = None  # AI 30 or 37
    elements: tuple[tuple[str, str], ...] = ()  # every (AI, data) pair in scan order


# ---------------------------------------------------------------------------------------------
# GTIN and NDC
# ---------------------------------------------------------------------------------------------


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit of the digits before it (GenSpecs §7.9.1): weights 3, 1, 3, …
    from the rightmost digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(gtin: str) -> str:
    """The GTIN as 14 digits; GTIN-12/13 are left-padded with zeros (GenSpecs §3.3.2)."""
    value = gtin.strip()
    if not value.isdigit() or not value.isascii() or not 8 <= len(value) <= 14:
        raise Gs1Error(f"The GTIN must be 14 digits; got {value!r}")
    value = value.zfill(14)
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise Gs1Error(
            f"The barcode's GTIN check digit is wrong ({value}: the last digit should be "
            f"{expected}); scan again or type the lot and expiry from the label"
        )
    return value


def is_ndc_gtin(gtin: str) -> bool:
    """Whether a 14-digit GTIN holds an NDC: an indicator digit (0-8), then "03"."""
    return len(gtin) == 14 and gtin[0] != "9" and gtin[1:3] == "03"


def ndc_candidates_for_gtin(gtin: str) -> tuple[str, ...]:
    """The 11-digit NDCs the GTIN's digits 4-13 can be; () for a GTIN that holds no NDC."""
    if not is_ndc_gtin(gtin):
        return ()
    return ndc_candidates(gtin[3:13])


def gtin_for_ndc(ndc: str, *, indicator: int = 0) -> str:
    """The GTIN-14 of an NDC: indicator, "03", the 10-digit NDC, check digit.

    Give the 10-digit NDC as printed (with dashes) or its ten digits. An 11-digit NDC works
    only when one of its segments could have been padded ("58160-0811-52" was 58160-811-52);
    otherwise ValueError: "00006-4047-01" may have been 0006-4047-01 or 00006-4047-1
    (use codes.NdcProduct.ndc10, which keeps the labeled form).
    """
    if not 0 <= indicator <= 8:
        raise ValueError("A GTIN-14 indicator digit is 0 to 8 (9 is for variable measure)")
    forms = ten_digit_ndcs(ndc)
    digits = {form.replace("-", "") for form in forms}
    if len(digits) > 1:
        raise ValueError(
            f"NDC {ndc.strip()} could have been labeled {' or '.join(forms)}; give the 10-digit "
            "NDC printed on the package"
        )
    body = f"{indicator}03{digits.pop()}"
    return f"{body}{check_digit(body)}"


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _this_year() -> int:
    return dt.datetime.now(dt.UTC).year


def full_year(yy: int, current_year: int) -> int:
    """The four-digit year of a two-digit one (GenSpecs §7.12): within 49 years before and 50
    years after the current year."""
    century = current_year - current_year % 100
    difference = yy - current_year % 100
    if difference >= 51:
        return century - 100 + yy
    if difference <= -50:
        return century + 100 + yy
    return century + yy


def _yymmdd(value: str, label: str, current_year: int) -> dt.date:
    """A YYMMDD date; day 00 is the last day of the month (GenSpecs §3.4.7)."""
    if len(value) != 6 or not value.isdigit():
        raise Gs1Error(f"{label} {value} is not a date")
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    if not 1 <= mm <= 12:
        raise Gs1Error(f"{label} {value} is not a date")
    year = full_year(yy, current_year)
    if dd == 0:
        dd = calendar.monthrange(year, mm)[1]
    try:
        return dt.date(year, mm, dd)
    except ValueError:
        raise Gs1Error(f"{label} {value} is not a date") from None


def _linear() -> Gs1Error:
    return Gs1Error(
        "This looks like a linear UPC/NDC barcode, not the vial's 2D code; scan the small "
        "square code (GS1 DataMatrix) instead"
    )


def _prepare(scanned: str) -> str:
    """The scan without line ends, symbology identifier and outer separators, GS restored."""
    text = scanned.strip(" \t\r\n")
    if not text:
        raise Gs1Error("Nothing was scanned")
    if len(text) > _MAX_SCAN:
        raise Gs1Error("The scan is far too long for a vaccine's barcode")
    for substitute in _GS_SUBSTITUTES:
        text = text.replace(substitute, GS)
    if text.startswith("]") and len(text) >= 3:
        identifier = text[:3]
        if identifier in _GS1_SYMBOLOGIES:
            text = text[3:]
        elif identifier[1] == "E":
            raise _linear()
        else:
            raise Gs1Error(
                f"The scanner reports a {identifier} symbol, which is not a GS1 barcode; scan "
                "the vial's GS1 DataMatrix"
            )
    text = text.strip(GS)  # FNC1 in first position may arrive as GS
    if not text:
        raise Gs1Error("Nothing was scanned")
    compact = text.replace(" ", "")
    if compact.isdigit() and len(compact) <= 14:
        raise _linear()
    return text


def _ai_at(text: str, i: int) -> str:
    """The known AI starting at text[i], or a Gs1Error naming what is there."""
    two = text[i : i + 2]
    if two in _AIS:
        return two
    if text[i : i + 3] == "253":
        raise _vis_error()
    ai = text[i : i + _AI_LENGTH_BY_PREFIX.get(two, 2)]
    if not ai.isdigit():
        raise Gs1Error(
            f"The scan has {text[i : i + 12]!r} where an application identifier (2 to 4 digits) "
            "should be; the scanner may not be sending the group separator (GS)"
        )
    raise _unknown_ai(ai)


def _unknown_ai(ai: str) -> Gs1Error:
    return Gs1Error(
        f"The scan contains application identifier ({ai}), which this workstation does not "
        "read; type the lot and expiry from the label"
    )


def _vis_error() -> Gs1Error:
    return Gs1Error(
        "This is the barcode of a Vaccine Information Statement (VIS), not of a vaccine; scan "
        "the vial or carton"
    )


def _split_raw(text: str) -> list[tuple[str, str]]:
    """Element strings separated by GS (GenSpecs §7.8.5)."""
    elements: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i] == GS:  # a separator after a predefined-length field is harmless
            i += 1
            continue
        ai = _ai_at(text, i)
        spec = _AIS[ai]
        start = i + len(ai)
        if spec.length is not None:
            value = text[start : start + spec.length]
            if len(value) < spec.length or GS in value:
                shown = value.split(GS, 1)[0]
                raise Gs1Error(
                    f"The {spec.title} ({ai}) must be {spec.length} digits; the scan has "
                    f"{len(shown)} ({shown or 'nothing'})"
                )
            i = start + spec.length
        else:
            end = text.find(GS, start)
            end = len(text) if end < 0 else end
            value = text[start:end]
            i = end
        elements.append((ai, value))
    return elements


_BRACKETED_AI = re.compile(r"\((\d{2,4})\)")


def _split_bracketed(text: str) -> list[tuple[str, str]]:
    """The human-readable form "(01)…(17)…(10)…"; spaces between elements are ignored."""
    text = text.replace(GS, "")
    elements: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        match = _BRACKETED_AI.match(text, i)
        if match is None:
            raise Gs1Error(
                f"The scan has {text[i : i + 12]!r} where an application identifier in "
                "brackets, like (10), should be"
            )
        ai = match.group(1)
        if ai == "253":
            raise _vis_error()
        if ai not in _AIS:
            raise _unknown_ai(ai)
        spec = _AIS[ai]
        start = match.end()
        while start < len(text) and text[start].isspace():
            start += 1
        if spec.length is not None:
            value = text[start : start + spec.length]
            if len(value) < spec.length or not value.isdigit():
                digits = re.match(r"\d*", value)
                count = len(digits.group()) if digits else 0
                raise Gs1Error(
                    f"The {spec.title} ({ai}) must be {spec.length} digits; the scan has "
                    f"{count} ({value or 'nothing'})"
                )
            i = start + spec.length
        else:
            following = _BRACKETED_AI.search(text, start)
            end = following.start() if following else len(text)
            value = text[start:end].rstrip()
            i = end
        elements.append((ai, value))
    return elements


def _check_text(value: str, ai: str) -> str:
    spec = _AIS[ai]
    name = spec.title[0].upper() + spec.title[1:]
    if not value:
        raise Gs1Error(f"{name} ({ai}) is empty")
    if len(value) > spec.max_length:
        raise Gs1Error(
            f"{name} is longer than {spec.max_length} characters ({value[:30]}…); the scanner "
            "may not be sending the group separator (GS) between fields"
        )
    for char in value:
        if char not in CSET82:
            hint = (
                "set the scanner to send GS (ASCII 29) between fields"
                if char in "|~"
                else "check the scanner's keyboard layout"
            )
            raise Gs1Error(f"{name} contains {char!r}, which a GS1 barcode cannot carry; {hint}")
    return value


def _check_count(value: str, ai: str) -> int:
    if not value.isdigit() or not 1 <= len(value) <= _AIS[ai].max_length:
        raise Gs1Error(f"The count ({ai}) {value!r} is not a number of up to 8 digits")
    return int(value)


def parse(scanned: str, *, today: dt.date | None = None) -> Gs1Data:
    """Read a GS1 element string as a scanner types it (see the module docstring).

    ``today`` sets the century window for dates (default: the current date). Raises Gs1Error
    with a message for the person scanning when the scan cannot be read, has no GTIN or no
    lot, or breaks a GS1 rule.
    """
    current_year = today.year if today else _this_year()
    text = _prepare(scanned)
    elements = _split_bracketed(text) if text.startswith("(") else _split_raw(text)

    values: dict[str, str] = {}
    for ai, value in elements:
        if ai in values and values[ai] != value:
            raise Gs1Error(
                f"The scan carries two different values for {_AIS[ai].title} ({ai}): "
                f"{values[ai]} and {value}"
            )
        values[ai] = value

    if "01" not in values:
        raise Gs1Error("No GTIN (01) in the scanned code")
    gtin = values["01"]
    if not gtin.isdigit():
        raise Gs1Error(f"The GTIN (01) must be 14 digits; the scan has {gtin!r}")
    gtin = validate_gtin(gtin)
    if "10" not in values:
        raise Gs1Error("No lot number (10) in the scanned code; type the lot from the label")
    lot = _check_text(values["10"], "10")
    serial = _check_text(values["21"], "21") if "21" in values else None
    expiry = _yymmdd(values["17"], "Expiry", current_year) if "17" in values else None
    produced = _yymmdd(values["11"], "Production date", current_year) if "11" in values else None
    count = None
    for ai in ("30", "37"):
        if ai in values:
            count = _check_count(values[ai], ai)
    return Gs1Data(
        gtin=gtin,
        lot=lot,
        expiry=expiry,
        serial=serial,
        ndc_candidates=ndc_candidates_for_gtin(gtin),
        production_date=produced,
        count=count,
        elements=tuple(elements),
    )


# ---------------------------------------------------------------------------------------------
# Building scan strings (tests, demo data)
# ---------------------------------------------------------------------------------------------


def make_gs1_element_string(
    gtin: str,
    lot: str,
    expiry: dt.date | str | None,
    serial: str | None = None,
    *,
    bracketed: bool = False,
) -> str:
    """The element string a scanner would type for these data (GS for FNC1).

    Predefined-length fields first (01, 17), then lot, GS, serial (GenSpecs §7.8.5). ``expiry``
    is a date or a YYMMDD string (for day 00); ``bracketed`` gives the "(01)…" form instead.
    """
    if len(gtin.strip()) != 14:
        raise Gs1Error(f"The GTIN must be 14 digits; got {gtin!r}")
    value = validate_gtin(gtin)
    _check_text(lot, "10")
    if serial is not None:
        _check_text(serial, "21")
    fields = [("01", value)]
    if isinstance(expiry, dt.date):
        fields.append(("17", expiry.strftime("%y%m%d")))
    elif expiry is not None:
        if len(expiry) != 6 or not expiry.isdigit():
            raise Gs1Error(f"Expiry {expiry} is not a date")
        fields.append(("17", expiry))
    fields.append(("10", lot))
    if serial is not None:
        fields.append(("21", serial))
    if bracketed:
        return "".join(f"({ai}){data}" for ai, data in fields)
    out = ""
    for index, (ai, data) in enumerate(fields):
        out += ai + data
        if _AIS[ai].length is None and index < len(fields) - 1:
            out += GS
    return out
