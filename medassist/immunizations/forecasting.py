"""The CDSi forecaster applied to a patient's record: what is due, overdue or up to date.

The engine (cdsi/) is pure; this module turns stored doses and indications into its input,
reads CDC's supporting data from the configured reference directory, and summarises the result
for people (the chart, the pre-visit list) in words an MA and a provider use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from medassist.core import clock
from medassist.immunizations.cdsi import engine, types
from medassist.immunizations.cdsi.data import SupportingData
from medassist.immunizations.models import Immunization, PatientIndication

SUPPORTING_DATA_RELEASE = "supporting-data-4.64"

# What the clinic sees, in the order it cares about.
OVERDUE, DUE, DUE_LATER, UP_TO_DATE, NOT_NEEDED = (
    "overdue",
    "due",
    "due later",
    "up to date",
    "not needed",
)
_ORDER = {OVERDUE: 0, DUE: 1, DUE_LATER: 2, UP_TO_DATE: 3, NOT_NEEDED: 4}
# The vaccine groups a primary care clinic forecasts routinely; travel and outbreak vaccines
# (cholera, dengue, Ebola, JE, rabies, TBE, typhoid, yellow fever, orthopoxvirus, chikungunya)
# only appear when a risk series makes them relevant (their standard status is "not needed").
ROUTINE = (
    "HepB",
    "Rotavirus",
    "DTaP/Tdap/Td",
    "Hib",
    "Pneumococcal",
    "Polio",
    "Influenza",
    "COVID-19",
    "MMR",
    "Varicella",
    "HepA",
    "Meningococcal",
    "Meningococcal B",
    "HPV",
    "Zoster",
    "RSV",
)


def supporting_data_dir() -> Path:
    return Path(settings.REFERENCE_DIR) / "cdsi" / SUPPORTING_DATA_RELEASE / "XML"


def supporting_data() -> SupportingData:
    return engine.load(supporting_data_dir())


def cdsi_sex(sex: str) -> str:
    return {"female": "F", "male": "M"}.get(sex, "U")


def cdsi_dose(dose: Immunization) -> types.AdministeredDose:
    """CALCDTLOTEXP-1 / table 6-3: a dose given after its lot expired is sub-standard."""
    expired = dose.expires_on is not None and dose.occurred_on > dose.expires_on
    return types.AdministeredDose(
        id=str(dose.public_id),
        date_administered=dose.occurred_on,
        cvx=dose.cvx,
        mvx=dose.mvx or None,
        dose_condition="expired lot" if expired else None,
    )


def cdsi_patient(
    *,
    birth_date: dt.date,
    sex: str,
    doses: Iterable[Immunization],
    indications: Iterable[PatientIndication] = (),
    extra: Iterable[types.AdministeredDose] = (),
) -> types.Patient:
    return types.Patient(
        dob=birth_date,
        gender=cdsi_sex(sex),
        doses=tuple(
            [cdsi_dose(d) for d in doses if d.status == Immunization.Status.COMPLETED] + list(extra)
        ),
        observations=tuple(
            types.PatientObservation(i.code, i.observed_on) for i in indications if i.active
        ),
    )


@dataclass(frozen=True)
class GroupLine:
    """One vaccine group as the chart shows it."""

    group: str
    status: str  # OVERDUE / DUE / DUE_LATER / UP_TO_DATE / NOT_NEEDED
    words: str  # e.g. "Dose 3 due now (earliest 2026-01-05, overdue from 2026-03-04)"
    forecast: types.VaccineGroupForecast

    @property
    def actionable(self) -> bool:
        return self.status in (OVERDUE, DUE)


def classify(forecast: types.VaccineGroupForecast, on: dt.date) -> str:
    if forecast.status != engine.NOT_COMPLETE or forecast.earliest is None:
        return UP_TO_DATE if forecast.status in (engine.COMPLETE, engine.IMMUNE) else NOT_NEEDED
    if forecast.past_due is not None and on > forecast.past_due:
        return OVERDUE
    if on >= forecast.earliest:
        return DUE
    return DUE_LATER


def describe(forecast: types.VaccineGroupForecast, on: dt.date) -> str:
    status = classify(forecast, on)
    if status in (UP_TO_DATE, NOT_NEEDED):
        return {
            engine.COMPLETE: "Series complete",
            engine.IMMUNE: "Immune",
            engine.AGED_OUT: "Aged out of the series",
            engine.CONTRAINDICATED: "Contraindicated",
            engine.NOT_RECOMMENDED: "Not recommended now",
        }.get(forecast.status, forecast.status)
    number = f"Dose {forecast.dose_number}" if forecast.dose_number else "Next dose"
    parts = [f"earliest {forecast.earliest:%Y-%m-%d}"]
    if forecast.recommended and forecast.recommended != forecast.earliest:
        parts.append(f"recommended {forecast.recommended:%Y-%m-%d}")
    if forecast.past_due:
        parts.append(f"overdue after {forecast.past_due:%Y-%m-%d}")
    when = {OVERDUE: "overdue", DUE: "due now", DUE_LATER: "due later"}[status]
    return f"{number} {when} ({', '.join(parts)})"


def summarise(
    result: types.Result, on: dt.date, groups: Iterable[str] = ROUTINE
) -> list[GroupLine]:
    """The routine groups plus any group a risk series made relevant, most urgent first."""
    names = list(groups)
    for name, forecast in result.groups.items():
        if name not in names and forecast.series_type == "Risk":
            names.append(name)
    lines = [
        GroupLine(
            name,
            classify(result.groups[name], on),
            describe(result.groups[name], on),
            result.groups[name],
        )
        for name in names
        if name in result.groups
    ]
    return sorted(lines, key=lambda line: (_ORDER[line.status], names.index(line.group)))


def run(
    *,
    birth_date: dt.date,
    sex: str,
    doses: Iterable[Immunization],
    indications: Iterable[PatientIndication] = (),
    on: dt.date | None = None,
    extra: Iterable[types.AdministeredDose] = (),
) -> types.Result:
    patient = cdsi_patient(
        birth_date=birth_date, sex=sex, doses=doses, indications=indications, extra=extra
    )
    return engine.forecast(supporting_data(), patient, on or clock.today())
