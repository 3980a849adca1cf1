"""ER7, the pipe-and-hat encoding of HL7 v2: what every message of the adapter is written and
read with (VXU to the registry, orders to labs, results from labs, acknowledgements).

Writing: values go into python-hl7 containers through ``SegmentBuilder``, which escapes each
one (HL7 v2.5.1 ch. 2.7.4), so ``| ^ ~ \\ &`` in a name can never break the structure; the
common data types (XPN, XAD, XTN, XCN) are built here once. Reading: ``parse_message`` takes
what a peer sent (``\\r``, ``\\n`` or ``\\r\\n`` between segments, MLLP framing, a byte-order
mark) and ``value`` reads one leaf, unescaped. Timestamps are HL7 DTM both ways.

Pure: no Django, no models.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final

import hl7

__all__ = [
    "Address",
    "PersonName",
    "Provider",
    "SegmentBuilder",
    "Sender",
    "declare_charset",
    "decode",
    "escape",
    "format_date",
    "format_timestamp",
    "new_message",
    "normalize",
    "parse_date",
    "parse_message",
    "parse_timestamp",
    "put_xad",
    "put_xcn",
    "put_xpn",
    "put_xtn_phone",
    "segments",
    "value",
]

ENCODING_CHARACTERS: Final = "^~\\&"
_ESCAPES: Final = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}


def escape(value: str) -> str:
    """Text made safe for one HL7 v2 component or subcomponent.

    The delimiters become the escape sequences of HL7 v2.5.1 ch. 2.7.4 (``\\F\\ \\S\\ \\T\\
    \\R\\ \\E\\``). A control character (a line break in a pasted address, say) would end the
    segment, and ST/ID/XPN have no escape for it, so it becomes a space. Other characters,
    accented letters included, pass unchanged; ``declare_charset`` then declares UTF-8 in
    MSH-18.
    """
    out: list[str] = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


# --- time ------------------------------------------------------------------------------------


def format_date(day: dt.date) -> str:
    """An HL7 DT (YYYYMMDD); a datetime gives the date in its own timezone."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def format_timestamp(moment: dt.datetime) -> str:
    """An HL7 DTM precise to the second with its UTC offset, as the IG wants for MSH-7."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a message time must be timezone-aware (MSH-7 carries its UTC offset)")
    return f"{format_date(moment)}{moment:%H%M%S%z}"


# HL7 v2.5.1 ch. 2.A.22 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_DTM = re.compile(
    r"(?P<year>\d{4})(?:(?P<month>\d{2})(?:(?P<day>\d{2})(?:(?P<hour>\d{2})(?:(?P<minute>\d{2})"
    r"(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?)?)?(?P<offset>[+-]\d{4})?"
)


def parse_timestamp(text: str, default_tz: dt.tzinfo) -> dt.datetime:
    """An HL7 DTM (or the TS whose first component it is) as an aware datetime.

    A time without its offset is the sender's local time, taken to be ``default_tz``; a value
    precise only to the day or month is the start of it. ValueError says what is wrong.
    """
    match = _DTM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])")
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k not in ("offset",)}
    fraction = match["fraction"] or ""
    try:
        moment = dt.datetime(  # noqa: DTZ001 (the zone is attached just below)
            parts["year"],
            parts.get("month", 1),
            parts.get("day", 1),
            parts.get("hour", 0),
            parts.get("minute", 0),
            parts.get("second", 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError as error:
        raise ValueError(f"{text!r} is not a real date/time: {error}") from error
    offset = match["offset"]
    if offset:
        minutes = int(offset[1:3]) * 60 + int(offset[3:5])
        if int(offset[1:3]) > 14 or int(offset[3:5]) > 59:
            raise ValueError(f"{text!r} has an impossible UTC offset {offset}")
        sign = -1 if offset[0] == "-" else 1
        return moment.replace(tzinfo=dt.timezone(sign * dt.timedelta(minutes=minutes)))
    if hasattr(default_tz, "localize"):  # pragma: no cover (pytz zones)
        return default_tz.localize(moment)  # type: ignore[no-any-return,attr-defined]
    return moment.replace(tzinfo=default_tz)


def parse_date(text: str) -> dt.date:
    """An HL7 DT (YYYY[MM[DD]]), or the date part of a DTM (PID-7 is a TS in 2.5.1)."""
    match = _DTM.fullmatch(text.strip())
    if match is None or match["day"] is None:
        raise ValueError(f"{text!r} is not an HL7 date (YYYYMMDD)")
    try:
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a real date: {error}") from error


# --- writing ---------------------------------------------------------------------------------


class SegmentBuilder:
    """One segment under construction, held in python-hl7 containers.

    ``put`` escapes its value and leaves the field out when the value is empty, so an
    optional value never needs an ``if`` at the call site.
    """

    def __init__(self, segment: Any) -> None:
        self._segment = segment

    @classmethod
    def append_to(cls, message: Any, segment_id: str) -> SegmentBuilder:
        segment = message.create_segment([message.create_field([segment_id])])
        message.append(segment)
        return cls(segment)

    def put(self, field: int, value: str, *, rep: int = 1, comp: int = 1, sub: int = 1) -> None:
        if value:
            self._segment.assign_field(escape(value), field, rep, comp, sub)

    def put_raw(self, field: int, er7: str) -> None:
        """A whole field that is already valid ER7 with the standard delimiters."""
        if er7:
            self._segment.assign_field(er7, field)

    def coded(
        self,
        field: int,
        code: str,
        text: str,
        system: str,
        *,
        rep: int = 1,
        first: int = 1,
        comp: int | None = None,
    ) -> None:
        """A CE/CWE triplet; ``first=4`` writes the alternate coding (CE-4..6). With ``comp``
        the triplet goes in that component's subcomponents (a CWE inside SPS or SPM)."""
        if not code:
            return
        if comp is not None:
            for sub, part in enumerate((code, text, system), start=first):
                self.put(field, part, rep=rep, comp=comp, sub=sub)
            return
        self.put(field, code, rep=rep, comp=first)
        self.put(field, text, rep=rep, comp=first + 1)
        self.put(field, system, rep=rep, comp=first + 2)


def new_message() -> Any:
    """An hl7.Message holding only ``MSH|^~\\&|``, standard delimiters (MSH-1, MSH-2)."""
    return hl7.parse(f"MSH|{ENCODING_CHARACTERS}|")


def declare_charset(message: Any) -> str:
    """The message as ER7; MSH-18 says UTF-8 when it holds anything beyond ASCII.

    HL7 v2's default character set is ASCII; a name like "Zoë" must not go out undeclared.
    """
    text = str(message)
    if not text.isascii():
        SegmentBuilder(message.segment("MSH")).put(18, "UNICODE UTF-8")
        text = str(message)
    return text


def require(value: str, what: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{what} is required")


def one_of(value: str, table: dict[str, Any], what: str) -> None:
    if value not in table:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(table)}")


# --- common data types -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sender:
    """Who sends to whom: MSH-3..6, MSH-11 and MSH-22/23 (pre-adopted from v2.7 by the CDC IG).

    ``facility`` also names the assigning authority of our order numbers (ORC-2/ORC-3 EI-2),
    as in the IG's example messages.
    """

    application: str
    facility: str
    receiving_application: str = ""
    receiving_facility: str = ""
    processing_id: str = "P"  # HL70103: P production, T training, D debugging
    sending_organization: str = ""  # MSH-22 Sending Responsible Organization (IG r1.5, RE)
    receiving_organization: str = ""  # MSH-23 Receiving Responsible Organization (RE)

    def __post_init__(self) -> None:
        require(self.application, "Sender.application (MSH-3)")
        require(self.facility, "Sender.facility (MSH-4)")
        one_of(self.processing_id, {"P": 1, "T": 1, "D": 1}, "processing id (MSH-11)")


@dataclass(frozen=True, kw_only=True)
class PersonName:
    family: str
    given: str = ""
    middle: str = ""

    def __post_init__(self) -> None:
        require(self.family, "family name")


@dataclass(frozen=True, kw_only=True)
class Address:
    """An XAD; ``kind`` is HL70190 (L legal, H home, M mailing, ...)."""

    street: str
    other: str = ""
    city: str
    state: str
    postal_code: str
    country: str = "USA"
    kind: str = "L"


@dataclass(frozen=True, kw_only=True)
class Provider:
    """A person in an XCN: RXA-10, ORC-10, ORC-12, OBR-16, PV1-7."""

    id: str = ""
    family: str = ""
    given: str = ""
    middle: str = ""
    credential: str = ""  # XCN-21 professional suffix, e.g. RN, MD (IG example 01)
    assigning_authority: str = ""  # XCN-9
    id_type: str = ""  # XCN-13, e.g. NPI, PRN

    def __post_init__(self) -> None:
        if not (self.id or self.family):
            raise ValueError("a provider needs an id or a family name")


def put_xpn(seg: SegmentBuilder, field: int, name: PersonName, name_type: str) -> None:
    seg.put(field, name.family, comp=1)
    seg.put(field, name.given, comp=2)
    seg.put(field, name.middle, comp=3)
    seg.put(field, name_type, comp=7)  # XPN-7 name type: L legal, M maiden (HL70200)


def put_xad(seg: SegmentBuilder, field: int, address: Address | None) -> None:
    if address is None:
        return
    seg.put(field, address.street, comp=1)
    seg.put(field, address.other, comp=2)
    seg.put(field, address.city, comp=3)
    seg.put(field, address.state, comp=4)
    seg.put(field, address.postal_code, comp=5)
    seg.put(field, address.country, comp=6)
    seg.put(field, address.kind, comp=7)


def put_xtn_phone(seg: SegmentBuilder, field: int, number: str, *, rep: int = 1) -> None:
    """CDC IG XTN: XTN-1 is not used; use code PRN, equipment PH, area code and local number."""
    if not number:
        return
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    seg.put(field, "PRN", rep=rep, comp=2)
    seg.put(field, "PH", rep=rep, comp=3)
    if len(digits) == 10:
        seg.put(field, digits[:3], rep=rep, comp=6)
        seg.put(field, digits[3:], rep=rep, comp=7)
    else:  # not a North American number: XTN-12 unformatted telephone number
        seg.put(field, number, rep=rep, comp=12)


def put_xcn(seg: SegmentBuilder, field: int, person: Provider | None) -> None:
    if person is None:
        return
    seg.put(field, person.id, comp=1)
    seg.put(field, person.family, comp=2)
    seg.put(field, person.given, comp=3)
    seg.put(field, person.middle, comp=4)
    seg.put(field, person.assigning_authority, comp=9)
    if person.family:
        seg.put(field, "L", comp=10)
    seg.put(field, person.id_type, comp=13)
    seg.put(field, person.credential, comp=21)


# --- reading ---------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """A message's bytes as text: UTF-8 (what we send, and declare in MSH-18), else ISO 8859-1
    (MSH-18 "8859/1", which older lab systems send): every byte is a character in it, so a name
    like "Zoë" is read as written instead of turning into replacement marks."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalize(text: str | bytes) -> str:
    """One HL7 v2 message as ER7 with ``\\r`` between segments.

    Accepts ``\\n`` or ``\\r\\n`` line ends, a UTF-8 byte-order mark and MLLP framing
    (0x0B ... 0x1C 0x0D) around the message.
    """
    if isinstance(text, bytes):
        text = decode(text)
    text = text.strip().lstrip("\ufeff").strip("\x0b\x1c").strip()
    lines = re.split(r"\r\n|\r|\n", text)
    return "\r".join(line for line in lines if line.strip())


def parse_message(text: str | bytes) -> Any:
    """The message parsed by python-hl7; ValueError for anything that is not HL7 v2."""
    normalized = normalize(text)
    if not normalized.startswith("MSH"):
        start = normalized[:20]
        raise ValueError(f"not an HL7 v2 message: it starts with {start!r}, not MSH")
    if normalized[3:8] != "|^~\\&":
        raise ValueError("unsupported delimiters: MSH-1/MSH-2 must be |^~\\&")
    try:
        return hl7.parse(normalized)
    except Exception as exc:  # python-hl7 raises several kinds for malformed text
        raise ValueError(f"malformed HL7 v2 message: {exc}") from exc


def segments(message: Any, segment_id: str) -> list[Any]:
    return [segment for segment in message if str(segment[0]) == segment_id]


def value(segment: Any, field: int, comp: int = 1, sub: int = 1, *, rep: int = 1) -> str:
    """One leaf of a parsed segment, unescaped; "" where the message stops short."""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub))
    except IndexError:
        return ""


def repetitions(segment: Any, field: int) -> int:
    """How many repetitions field ``field`` of a parsed segment has (0 when empty)."""
    if len(segment) <= field:
        return 0
    raw = str(segment[field])
    return 0 if not raw else len(segment(field))
