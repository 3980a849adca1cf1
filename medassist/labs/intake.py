"""What a lab's result message says, in the labs app's own terms.

The HL7 adapter (medassist.hl7) parses ORU^R01 into these and hands them to
services.results.file_results(); the domain never sees HL7. Point-of-care tests build the same
objects (services.results.file_point_of_care), so every result is stored, routed and trended
one way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class IncomingResult:
    """One observation (one OBX)."""

    sequence: int
    loinc: str
    name: str
    value_type: str  # LabResult.ValueType: NM, ST, CWE, SN
    value_number: Decimal | None = None
    value_comparator: str = ""  # SN: "<", "<=", ">", ">="
    value_text: str = ""
    value_code: str = ""
    unit: str = ""  # UCUM
    reference_text: str = ""  # OBX-7 as sent, e.g. "3.5-5.1", "<200", "Negative"
    flag: str = ""  # HL7 table 0078 (labs.models.Flag)
    status: str = "final"  # FHIR Observation.status (v2 OBX-11 F final, P preliminary, C corrected)
    observed_at: dt.datetime | None = None
    note: str = ""  # NTE after the OBX
    location: str = ""  # where it was in the message (e.g. "OBX[3]"), for error messages


@dataclass(frozen=True)
class IncomingReport:
    """One ordered test's results (one ORC/OBR group)."""

    placer_number: str  # ORC-2 / OBR-2: our LabOrder.placer_number
    filler_number: str  # ORC-3 / OBR-3
    loinc: str  # OBR-4
    name: str
    status: str  # LabReport.Status: preliminary, final, corrected, cancelled (OBR-25 P/F/C/X)
    collected_at: dt.datetime | None = None  # OBR-7
    issued_at: dt.datetime | None = None  # OBR-22
    received_at: dt.datetime | None = None  # OBR-14 / SPM-18: when the lab received it
    results: tuple[IncomingResult, ...] = ()
    note: str = ""
    location: str = ""  # e.g. "OBR[1]"


@dataclass(frozen=True)
class IncomingResults:
    """One result message (ORU^R01) for one patient."""

    control_id: str  # MSH-10
    patient_mrn: str  # PID-3 (the identifier we sent in the order)
    patient_family: str  # PID-5.1
    patient_given: str  # PID-5.2
    patient_birth_date: dt.date | None  # PID-7
    reports: tuple[IncomingReport, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Why a message, or part of it, cannot be filed: becomes an ERR segment of the ACK."""

    location: str  # "PID-3", "OBR[1]-2", "OBX[4]-5"
    text: str
    code: str = "207"  # HL7 table 0357: 204 unknown key identifier, 207 application error, ...
    severity: str = "E"  # HL7 table 0516: E error, W warning


@dataclass
class NotFiled(Exception):
    """Raised by file_results when the message cannot be matched (unknown patient, unknown or
    mismatched order): nothing is stored; the caller queues it for a person and answers AE."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{p.location}: {p.text}" for p in self.problems)
