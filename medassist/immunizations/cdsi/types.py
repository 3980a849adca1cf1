"""What goes into the CDSi forecaster and what comes out of it.

Plain frozen dataclasses, no Django: the engine is pure and is driven only by CDC's supporting
data (Logic Specification for ACIP Recommendations v4.6, chapter 3 "Business rules",
"Gather necessary data").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AdministeredDose:
    """One vaccine dose as given (or as recorded from outside records)."""

    id: str  # caller's identifier, echoed back in every evaluation
    date_administered: dt.date
    cvx: str  # CDC CVX code, as a string ("08", "107")
    mvx: str | None = None  # manufacturer, CDC MVX code
    # Logic spec "Dose condition": a dose recalled, expired, or given at sub-standard volume is
    # evaluated as sub-standard (not valid) whatever its timing.
    dose_condition: str | None = None


@dataclass(frozen=True, slots=True)
class PatientObservation:
    """A CDSi coded observation (ScheduleSupportingData <observation>), e.g. "007" pregnant."""

    code: str
    date: dt.date | None = None  # when it was observed / began


@dataclass(frozen=True, slots=True)
class Patient:
    dob: dt.date
    gender: str  # "F", "M" or "U"/"" (unknown)
    doses: tuple[AdministeredDose, ...] = ()
    observations: tuple[PatientObservation, ...] = ()
    country_of_birth: str | None = None


@dataclass(frozen=True, slots=True)
class DoseEvaluation:
    """How one administered dose counted for one antigen in the best series."""

    dose_id: str
    antigen: str  # supporting data antigen name, e.g. "Measles"
    status: str  # "Valid", "Not Valid", "Extraneous", "Sub-standard"
    reasons: tuple[str, ...] = ()  # e.g. ("Age: Too Young",), CDC wording
    series: str | None = None  # series name of the best series it was evaluated in
    series_type: str | None = None  # that series' type: "Standard", "Risk", "Evaluation Only"
    target_dose: int | None = None  # 1-based dose number in that series it satisfied


@dataclass(frozen=True, slots=True)
class AntigenForecast:
    antigen: str
    series: str | None
    status: str  # "Not Complete", "Complete", "Aged Out", "Immune", "Contraindicated", ...
    dose_number: int | None
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    latest: dt.date | None
    reason: str | None = None
    interval_priority_flag: bool = False


@dataclass(frozen=True, slots=True)
class VaccineGroupForecast:
    """Logic spec chapter 8: the vaccine group forecast built from its antigens' forecasts."""

    vaccine_group: str  # supporting data name, e.g. "DTaP/Tdap/Td"
    status: str  # "Not Complete", "Complete", "Aged Out", "Immune", "Contraindicated", ...
    dose_number: int | None
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    latest: dt.date | None
    antigens: tuple[AntigenForecast, ...] = ()
    reason: str | None = None
    recommended_vaccines: tuple[str, ...] = ()  # CVX codes of preferable vaccines for next dose
    series_group: str = ""  # e.g. "Standard", "Increased Risk", "Standard 50+"
    series_type: str = ""  # "Standard", "Risk" or "Evaluation Only"
    starts: dt.date | None = None  # the date the patient reaches the series' minimum age to start


@dataclass(frozen=True, slots=True)
class Result:
    assessment_date: dt.date
    evaluations: tuple[DoseEvaluation, ...]
    # The forecast shown for each vaccine group, and the group's other series-group forecasts
    # (a child's 50-and-over pneumococcal forecast, a risk series beside the standard one).
    groups: dict[str, VaccineGroupForecast] = field(default_factory=dict)
    alternatives: dict[str, tuple[VaccineGroupForecast, ...]] = field(default_factory=dict)

    def dose_status_for_group(
        self, dose_id: str, group: str, series_type: str | None = None
    ) -> DoseEvaluation | None:
        """One status for a dose within a vaccine group: as evaluated in the group's shown
        forecast, or, given `series_type` ("Standard" / "Risk"), in the group's best series of
        that type. The first 'Not Valid' (or 'Sub-standard') evaluation when there is one;
        otherwise Valid when some antigen of those series counted it, Extraneous when none did
        (reasons are the chosen evaluation's). A dose that carries none of the group's
        antigens (a varicella dose listed in an MMR history) is reported as evaluated in its
        own group. None when the dose counted for nothing at all (an unknown CVX)."""
        shown = self.groups.get(group)
        forecasts = [shown, *self.alternatives.get(group, ())] if shown else []
        if series_type is None:
            forecasts = forecasts[:1]
        series = {
            a.series
            for f in forecasts
            for a in f.antigens
            if series_type is None or f.series_type.lower() == series_type.lower()
        }
        found = [e for e in self.evaluations if e.dose_id == dose_id and e.series in series]
        if not found:
            found = [e for e in self.evaluations if e.dose_id == dose_id]
        if not found:
            return None
        # Table 3-1: 'Not Valid' and 'Sub-standard' mean the dose must be repeated, so one such
        # antigen makes the dose so for the group. 'Extraneous' means it need not be repeated
        # (extra doses, maximum age): a Tdap given as the 10-year Td booster is Valid for
        # diphtheria and tetanus and extraneous for a complete pertussis series, and it is a
        # Valid dose of the DTaP/Tdap/Td group.
        for e in found:
            if e.status not in {"Valid", "Extraneous"}:
                return e
        return next((e for e in found if e.status == "Valid"), found[0])
