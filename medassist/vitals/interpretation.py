"""What every interpretation of a vital sign returns, whichever authority it follows: the FHIR
flag (v3 ObservationInterpretation: N, L, H, LL, HH), words for a person, the reference range
that was used and the source of the thresholds, named so the user can see it on hover.

Pure: no Django models. The interpreting modules (adult.py, pediatric.py, growth.py) read the
authorities' tables from the reference directory (medassist.core.reference) and build these."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Flag(StrEnum):
    """HL7 v3 ObservationInterpretation codes used for vital signs
    (http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation)."""

    NORMAL = "N"
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"

    @property
    def display(self) -> str:
        return _DISPLAY[self]

    @property
    def is_critical(self) -> bool:
        return self in (Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH)


_DISPLAY = {
    Flag.NORMAL: "Normal",
    Flag.LOW: "Low",
    Flag.HIGH: "High",
    Flag.CRITICAL_LOW: "Critical low",
    Flag.CRITICAL_HIGH: "Critical high",
}


@dataclass(frozen=True)
class Source:
    """The authority behind a threshold: shown to the user on hover and stored with the reading."""

    name: str  # "ACC/AHA 2017 blood pressure categories"
    version: str  # "2017", "CDC 2000 LMS (May 2000)", "RCP 2017"
    citation: str  # "Whelton PK et al. Hypertension 2018;71:e13-e115"

    def __str__(self) -> str:
        return f"{self.name} ({self.version}). {self.citation}"


@dataclass(frozen=True)
class Interpretation:
    flag: Flag
    text: str  # what a person reads: "Stage 1 hypertension", "Above the 99th centile for age"
    source: Source
    low: Decimal | None = None  # the reference range used, in `unit`; None = unbounded
    high: Decimal | None = None
    unit: str = ""  # UCUM
    percentile: float | None = None  # where the value sits, for centile-based interpretations
    z: float | None = None
    category: str = ""  # a machine-readable category code: "stage1", "elevated", "crisis"
