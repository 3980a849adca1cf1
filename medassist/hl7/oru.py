"""Results in: ORU^R01 (HL7 v2.5.1 ch. 7.3.1, "unsolicited transmission of an observation
message") read into the labs app's own terms (medassist.labs.intake).

    MSH [SFT] { [PID [PD1] [NTE...] [PV1 [PV2]]]
                { [ORC] OBR [NTE...] [TQ1...] [CTD] { OBX [NTE...] } [FT1] [CTI] { SPM [OBX] } }
              } [DSC]

``read_header`` reads what the intake needs before anything else (who sent it, its MSH-10,
its type); ``parse_oru`` reads the patient and every ORC/OBR group with its OBX results and
their notes. Whatever cannot be read is collected as a ``Problem`` naming the place
("OBX[3]-5": the third OBX segment of the message, field 5 — ERR-2 ``OBX^3^5``) and raised
together in ``Malformed``; nothing is guessed. Whether the results match our orders and
patients is the labs app's question (``services.results.file_results``), not this module's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from medassist.hl7.er7 import parse_date, parse_timestamp, repetitions, value
from medassist.labs.intake import IncomingReport, IncomingResult, IncomingResults, Problem

__all__ = ["Header", "Malformed", "parse_oru", "read_header"]

# HL70357 message error condition codes (ERR-3).
SEGMENT_SEQUENCE: Final = "100"
REQUIRED_MISSING: Final = "101"
DATA_TYPE: Final = "102"
TABLE_VALUE: Final = "103"

#: HL70123 result status (OBR-25) → LabReport.Status. A (some, not all, results available)
#: and R (stored, not yet verified) are not final: filed as preliminary.
REPORT_STATUS: Final = {
    "P": "preliminary",
    "A": "preliminary",
    "R": "preliminary",
    "F": "final",
    "C": "corrected",
    "X": "cancelled",
}
#: HL70085 observation result status (OBX-11) → FHIR Observation.status.
RESULT_STATUS: Final = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",  # not yet verified
    "X": "cancelled",  # results cannot be obtained for this observation
    "W": "entered-in-error",  # the result sent before was wrong
}
#: HL70125 value types (OBX-2) we read → LabResult.ValueType. TX and FT are text; CE is CWE's
#: predecessor.
VALUE_TYPES: Final = {
    "NM": "NM",
    "SN": "SN",
    "ST": "ST",
    "TX": "ST",
    "FT": "ST",
    "CWE": "CWE",
    "CE": "CWE",
}
#: SN-1 comparators (HL7 v2.5.1 ch. 2.A.72) → FHIR Quantity.comparator ("=" is none).
_COMPARATORS: Final = {"": "", "=": "", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
# LabResult.value_number is 14 digits with 4 decimals.
_LARGEST: Final = Decimal("1e10")
# Segments of ORU^R01 that carry nothing the intake files; read past.
_IGNORED: Final = frozenset(
    {"SFT", "PD1", "NK1", "PV1", "PV2", "TQ1", "TQ2", "CTD", "FT1", "CTI", "DSC"}
)


@dataclass(frozen=True)
class Header:
    """MSH as the intake reads it first."""

    sending_application: str  # MSH-3.1
    sending_facility: str  # MSH-4.1
    receiving_application: str  # MSH-5.1
    receiving_facility: str  # MSH-6.1
    control_id: str  # MSH-10
    message_code: str  # MSH-9.1
    trigger_event: str  # MSH-9.2
    version: str  # MSH-12
    processing_id: str = ""  # MSH-11.1 (HL70103)

    @property
    def sender(self) -> str:
        """MSH-3^MSH-4, the key (with MSH-10) that makes a message a repeat."""
        return f"{self.sending_application}^{self.sending_facility}"

    @property
    def message_type(self) -> str:
        return "^".join(p for p in (self.message_code, self.trigger_event) if p)


def read_header(message: Any) -> Header:
    msh = message.segment("MSH")
    return Header(
        sending_application=value(msh, 3).strip(),
        sending_facility=value(msh, 4).strip(),
        receiving_application=value(msh, 5).strip(),
        receiving_facility=value(msh, 6).strip(),
        control_id=value(msh, 10).strip(),
        message_code=value(msh, 9, 1).strip().upper(),
        trigger_event=value(msh, 9, 2).strip().upper(),
        version=value(msh, 12).strip(),
        processing_id=value(msh, 11, 1).strip().upper(),
    )


@dataclass
class Malformed(Exception):
    """The message cannot be read as results: every problem found, each naming its place."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{p.location}: {p.text}" for p in self.problems)


def _coded_loinc(segment: Any, number: int) -> tuple[str, str, bool]:
    """A CE/CWE's LOINC code and text (the first triplet or the alternate, whichever says LN),
    and whether one did; otherwise the first triplet as sent."""
    code, text, system = (value(segment, number, c).strip() for c in (1, 2, 3))
    alt_code, alt_text, alt_system = (value(segment, number, c).strip() for c in (4, 5, 6))
    if system.upper() == "LN" and code:
        return code, text or alt_text, True
    if alt_system.upper() == "LN" and alt_code:
        return alt_code, alt_text or text, True
    return code, text, False


def _join(segment: Any, number: int, separator: str) -> str:
    """Every repetition of a text field, one after the other."""
    count = max(repetitions(segment, number), 1)
    parts = [value(segment, number, rep=r).strip() for r in range(1, count + 1)]
    return separator.join(p for p in parts if p)


class _Reader:
    """One pass over the segments, collecting problems as it goes."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.problems: list[Problem] = []

    def problem(self, location: str, text: str, code: str) -> None:
        self.problems.append(Problem(location=location, text=text, code=code))

    def time(self, segment: Any, number: int, where: str, what: str) -> dt.datetime | None:
        text = value(segment, number, 1).strip()
        if not text:
            return None
        try:
            return parse_timestamp(text, self.tz)
        except ValueError as error:
            self.problem(f"{where}-{number}", f"{what}: {error}.", DATA_TYPE)
            return None

    def number(self, text: str, location: str, what: str) -> Decimal | None:
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            self.problem(location, f"{what} {text!r} is not a number.", DATA_TYPE)
            return None
        if not number.is_finite() or abs(number) >= _LARGEST:
            self.problem(location, f"{what} {text!r} is not a number we can store.", DATA_TYPE)
            return None
        return number


def _value_fields(reader: _Reader, obx: Any, where: str, kind: str) -> dict[str, Any] | None:
    """OBX-5 read as its OBX-2 says; None when it cannot be (the problem is recorded)."""
    at = f"{where}-5"
    raw = value(obx, 5).strip()
    if kind == "NM":
        number = reader.number(raw, at, "The value (OBX-2 is NM, a number)")
        return None if number is None else {"value_number": number}
    if kind == "SN":
        comparator = value(obx, 5, 1).strip()
        first, separator, second = (value(obx, 5, c).strip() for c in (2, 3, 4))
        if comparator not in _COMPARATORS:
            reader.problem(
                f"{at}.1", f"Comparator {comparator!r} is not one of <, >, <=, >=, =.", DATA_TYPE
            )
            return None
        if separator or second:
            # A ratio (1:128), a range (10-20) or a category (2+): kept as the lab wrote it.
            if separator not in (":", "/", "-", "+", "."):
                reader.problem(f"{at}.3", f"Separator {separator!r} is not an SN one.", DATA_TYPE)
                return None
            for part, comp in ((first, 2), (second, 4)):
                if part and reader.number(part, f"{at}.{comp}", "The number") is None:
                    return None
            return {"value_comparator": "", "value_text": f"{comparator}{first}{separator}{second}"}
        number = reader.number(first, f"{at}.2", "The value (OBX-2 is SN)")
        if number is None:
            return None
        return {"value_number": number, "value_comparator": _COMPARATORS[comparator]}
    if kind == "CWE":
        code, text = value(obx, 5, 1).strip(), value(obx, 5, 2).strip()
        return {"value_code": code, "value_text": text or code}
    separator = "\n" if value(obx, 2).strip().upper() in ("TX", "FT") else " "
    return {"value_text": _join(obx, 5, separator)}


def _result(reader: _Reader, obx: Any, where: str, running: int) -> IncomingResult | None:
    set_id = value(obx, 1).strip()
    sequence = int(set_id) if set_id.isdigit() else running
    loinc, name, is_loinc = _coded_loinc(obx, 3)
    if not loinc:
        reader.problem(f"{where}-3", "The observation has no code (OBX-3).", REQUIRED_MISSING)
    elif not is_loinc:
        reader.problem(
            f"{where}-3",
            f"Observation {loinc!r} carries no LOINC code (OBX-3.3 or OBX-3.6 must be LN).",
            TABLE_VALUE,
        )
    status_code = value(obx, 11).strip().upper()
    status = RESULT_STATUS.get(status_code)
    if not status_code:
        reader.problem(f"{where}-11", "The result status (OBX-11) is empty.", REQUIRED_MISSING)
    elif status is None:
        reader.problem(
            f"{where}-11",
            f"Result status {status_code!r} is not one of F, C, P, R, X, W (HL7 table 0085).",
            TABLE_VALUE,
        )
    observed_at = reader.time(obx, 14, where, "The observation time (OBX-14)")
    raw_type = value(obx, 2).strip().upper()
    has_value = bool(str(obx[5]).strip()) if len(obx) > 5 else False
    common: dict[str, Any] = {
        "sequence": sequence,
        "loinc": loinc,
        "name": name or loinc,
        "unit": value(obx, 6, 1).strip() or value(obx, 6, 2).strip(),
        "reference_text": value(obx, 7).strip(),
        "flag": value(obx, 8).strip().upper(),
        "status": status or "final",
        "observed_at": observed_at,
        "location": where,
    }
    if not has_value:
        if status_code in ("X", "W"):  # nothing to report, said so
            return IncomingResult(value_type=VALUE_TYPES.get(raw_type, "ST"), **common)
        reader.problem(f"{where}-5", "The observation value (OBX-5) is empty.", REQUIRED_MISSING)
        return None
    if not raw_type:
        reader.problem(f"{where}-2", "The value type (OBX-2) is empty.", REQUIRED_MISSING)
        return None
    kind = VALUE_TYPES.get(raw_type)
    if kind is None:
        reader.problem(
            f"{where}-2",
            f"Value type {raw_type!r} is not one we file (NM, SN, ST, TX, FT, CWE, CE).",
            TABLE_VALUE,
        )
        return None
    fields = _value_fields(reader, obx, where, kind)
    if fields is None:
        return None
    return IncomingResult(value_type=kind, **common, **fields)


@dataclass
class _Group:
    """One ORC/OBR group while it is being read: its results, each with the notes (NTE) that
    follow it; notes before the first OBX are the report's."""

    report: dict[str, Any]
    results: list[tuple[IncomingResult | None, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    in_specimen: bool = False

    def note(self, text: str) -> None:
        (self.results[-1][1] if self.results else self.notes).append(text)

    def build(self) -> IncomingReport:
        results = tuple(
            IncomingResult(**{**r.__dict__, "note": " ".join(notes)}) if notes else r
            for r, notes in self.results
            if r is not None
        )
        return IncomingReport(**self.report, results=results, note=" ".join(self.notes))


def _report_fields(reader: _Reader, obr: Any, orc: Any | None, where: str) -> dict[str, Any]:
    placer = value(obr, 2, 1).strip() or (value(orc, 2, 1).strip() if orc is not None else "")
    filler = value(obr, 3, 1).strip() or (value(orc, 3, 1).strip() if orc is not None else "")
    loinc, name, is_loinc = _coded_loinc(obr, 4)
    if not loinc and not name:
        reader.problem(f"{where}-4", "The test ordered (OBR-4) is empty.", REQUIRED_MISSING)
    status_code = value(obr, 25).strip().upper()
    status = REPORT_STATUS.get(status_code, "")
    if not status_code:
        reader.problem(f"{where}-25", "The result status (OBR-25) is empty.", REQUIRED_MISSING)
    elif not status:
        reader.problem(
            f"{where}-25",
            f"Result status {status_code!r} is not one of P, A, R, F, C, X (HL7 table 0123).",
            TABLE_VALUE,
        )
    return {
        "placer_number": placer,
        "filler_number": filler,
        # The lab's own code alone says nothing about LOINC: the order's test tells it.
        "loinc": loinc if is_loinc else "",
        "name": name,
        "status": status,
        "collected_at": reader.time(obr, 7, where, "The collection time (OBR-7)"),
        "received_at": reader.time(obr, 14, where, "The time the lab received it (OBR-14)"),
        "issued_at": reader.time(obr, 22, where, "The report time (OBR-22)"),
        "location": where,
    }


def parse_oru(message: Any, *, tz: dt.tzinfo) -> IncomingResults:
    """The results of one ORU^R01 (parsed by er7.parse_message) for one patient.

    ``tz`` is the sender's time zone, for times sent without their UTC offset. Raises
    ``Malformed`` with every problem found."""
    reader = _Reader(tz)
    header = read_header(message)
    if not any(str(s[0]).strip().upper() == "PID" for s in message):
        reader.problem("PID", "The message has no PID segment: whose results?", SEGMENT_SEQUENCE)
        raise Malformed(reader.problems)
    seen: Counter[str] = Counter()
    pid: Any | None = None
    orc: Any | None = None
    groups: list[_Group] = []
    for segment in list(message)[1:]:
        kind = str(segment[0]).strip().upper()
        seen[kind] += 1
        # Locations name the segment's place in the message, ERR-2 style: "OBX[3]" is the
        # third OBX (OBX^3); the first PID is plain "PID".
        where = kind if kind == "PID" and seen[kind] == 1 else f"{kind}[{seen[kind]}]"
        if kind == "PID":
            if pid is not None:
                reader.problem(
                    where,
                    "One patient per message: this message carries a second PID. Send each "
                    "patient's results in their own message.",
                    SEGMENT_SEQUENCE,
                )
                break
            pid = segment
        elif kind == "ORC":
            orc = segment
        elif kind == "OBR":
            if pid is None:
                reader.problem(where, "An OBR comes before the PID.", SEGMENT_SEQUENCE)
                break
            groups.append(_Group(_report_fields(reader, segment, orc, where)))
            orc = None
        elif kind == "OBX":
            group = groups[-1] if groups else None
            if group is None:
                reader.problem(where, "An OBX comes before any OBR.", SEGMENT_SEQUENCE)
                continue
            if group.in_specimen:
                continue  # an observation about the specimen (SPM group), not a result
            group.results.append((_result(reader, segment, where, len(group.results) + 1), []))
        elif kind == "NTE":
            text = _join(segment, 3, " ")
            group = groups[-1] if groups else None
            if group is not None and text and not group.in_specimen:
                group.note(text)  # (a note before any OBR is about the patient: not filed)
        elif kind == "SPM":
            if groups:
                group = groups[-1]
                group.in_specimen = True
                received = reader.time(segment, 18, where, "The time the lab received it (SPM-18)")
                if group.report.get("received_at") is None and received is not None:
                    group.report["received_at"] = received
        elif kind not in _IGNORED and not kind.startswith("Z"):
            reader.problem(where, f"Segment {kind} has no place in an ORU^R01.", SEGMENT_SEQUENCE)
    if pid is None:  # it came after the OBR (reported above)
        raise Malformed(reader.problems)
    mrn = _mrn(pid)
    if not mrn:
        reader.problem("PID-3", "The patient identifier (PID-3) is empty.", REQUIRED_MISSING)
    birth_date = None
    birth_text = value(pid, 7, 1).strip()
    if birth_text:
        try:
            birth_date = parse_date(birth_text)
        except ValueError as error:
            reader.problem("PID-7", f"The birth date (PID-7): {error}.", DATA_TYPE)
    if not groups:
        reader.problem("OBR", "The message has no OBR segment: no results.", SEGMENT_SEQUENCE)
    if reader.problems:
        raise Malformed(reader.problems)
    return IncomingResults(
        control_id=header.control_id,
        patient_mrn=mrn,
        patient_family=value(pid, 5, 1).strip(),
        patient_given=value(pid, 5, 2).strip(),
        patient_birth_date=birth_date,
        reports=tuple(group.build() for group in groups),
    )


def _mrn(pid: Any) -> str:
    """PID-3: the first identifier of type MR (the one we sent), else the first one."""
    count = repetitions(pid, 3)
    identifiers = [
        (value(pid, 3, 1, rep=r).strip(), value(pid, 3, 5, rep=r).strip().upper())
        for r in range(1, count + 1)
    ]
    for number, kind in identifiers:
        if number and kind == "MR":
            return number
    return next((number for number, _kind in identifiers if number), "")
