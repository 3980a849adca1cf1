"""The CDSi evaluation and forecasting engine.

Follows CDC's Logic Specification for ACIP Recommendations v4.6 (December 2024), chapter by
chapter; each function names the section and business rule (BR id) it carries out. All
clinical content is in CDC's supporting data (data.py); this module holds only the logic.

    4.2  organize immunization history     -> _antigen_records
    5.1  select relevant patient series    -> _relevant
    6    evaluate each dose against target doses -> _evaluate
    7    forecast the next target dose     -> _forecast
    8    select the best patient series    -> _best_series
    9    vaccine group forecasts           -> _group_forecast

Where the specification leaves a choice open, the reading taken is written where it is applied
(search for the rule id): a completed series group counts for a conditional skip only from the
date it was completed (table 6-7 with CONDSKIP-2); vaccine counts for a skip look at the whole
history when vaccine types are listed (CONDSKIP-1); an empty candidate earliest date is
12/31/2999 (table 7-9); the forecast finish date adds one minimum interval (SELECTB-12); the
conflict status of an earlier dose is its status in the patient series being evaluated
(CALCDTCONFLICT-2); which of several vaccine group forecasts is shown first (_choose) is not
specified at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import data as sd
from .dates import MAX_DATE, MIN_DATE, Duration
from .types import (
    AdministeredDose,
    AntigenForecast,
    DoseEvaluation,
    Patient,
    PatientObservation,
    Result,
    VaccineGroupForecast,
)

VALID, NOT_VALID, EXTRANEOUS, SUBSTANDARD = "Valid", "Not Valid", "Extraneous", "Sub-standard"
SATISFIED, SKIPPED = "Satisfied", "Skipped"
NOT_COMPLETE, COMPLETE, IMMUNE = "Not Complete", "Complete", "Immune"
AGED_OUT, CONTRAINDICATED, NOT_RECOMMENDED = "Aged Out", "Contraindicated", "Not Recommended"

# Evaluation reasons, in CDC's test-case wording.
TOO_YOUNG, TOO_OLD, TOO_SOON = "Age: Too Young", "Age: Too Old", "Interval: Too Soon"
AGE_GRACE, INTERVAL_GRACE = "Age: Grace Period", "Interval: Grace Period"
INADVERTENT, CONFLICT = "Inadvertent Vaccine", "Live Virus Conflict"
NOT_PREFERABLE = "Not a Preferable or Allowable Vaccine"
SERIES_COMPLETE, CONDITION = "Series Already Complete", "Dose Condition (Sub-standard)"
PRIORITY = {"A": 3, "B": 2, "C": 1}

load = sd.load


def _plus(start: dt.date, duration: Duration | None) -> dt.date | None:
    return None if duration is None else duration.after(start)


def _in_effect(effective: dt.date | None, cessation: dt.date | None, on: dt.date) -> bool:
    """RELEVANT-1/2 (section 3.3): a component with effective/cessation dates applies only when
    the anchor date falls between them (both ends inclusive); empty dates always apply."""
    return (effective or MIN_DATE) <= on <= (cessation or MAX_DATE)


@dataclass(slots=True)
class _Record:
    """An antigen administered record (4.2): one antigen of one administered dose."""

    dose: AdministeredDose
    cvx: str
    date: dt.date
    index: int  # position of the dose in the date-sorted history


@dataclass(slots=True)
class _Outcome:
    status: str
    reasons: list[str]
    target: int | None = None  # index of the target dose it was evaluated against
    inadvertent: bool = False


@dataclass(slots=True)
class _Target:
    dose: sd.SeriesDose
    status: str | None = None  # None = not satisfied
    record: _Record | None = None


@dataclass(slots=True)
class _Forecast:
    status: str
    target: _Target | None = None
    earliest: dt.date | None = None
    recommended: dt.date | None = None
    past_due: dt.date | None = None
    latest: dt.date | None = None
    unadjusted_recommended: dt.date | None = None
    unadjusted_past_due: dt.date | None = None
    reason: str | None = None
    dose_number: int | None = None
    vaccines: tuple[str, ...] = ()
    priority: bool = False


@dataclass(slots=True)
class _PatientSeries:
    series: sd.Series
    targets: list[_Target]
    outcomes: dict[int, _Outcome] = field(default_factory=dict)  # record index -> outcome
    forecast: _Forecast | None = None

    @property
    def valid_doses(self) -> int:  # SELECTB-21
        return sum(1 for t in self.targets if t.status == SATISFIED)

    def satisfied_record(self, number: int) -> _Record | None:
        for target in self.targets:
            if target.dose.number == number and target.status == SATISFIED:
                return target.record
        return None


class _Context:
    """One run: the patient, the assessment date and the whole dose history."""

    def __init__(self, data: sd.SupportingData, patient: Patient, assessed: dt.date) -> None:
        self.data = data
        self.patient = patient
        self.assessed = assessed
        self.dob = patient.dob
        self.gender = {"F": "Female", "M": "Male"}.get(patient.gender.upper()[:1], "Unknown")
        self.doses = sorted(patient.doses, key=lambda d: d.date_administered)
        self.cvx = [sd.normalize_cvx(d.cvx) for d in self.doses]  # by position in self.doses
        # CALCDTINT-9 measures from "the most recent active patient observation": when a code
        # is repeated (two pregnancies) the latest dated one stands for it.
        self.observations: dict[str, PatientObservation] = {}
        for o in patient.observations:
            code = o.code.zfill(3)
            kept = self.observations.get(code)
            if kept is None or (o.date or MIN_DATE) >= (kept.date or MIN_DATE):
                self.observations[code] = o
        self._ages: dict[int, tuple[Duration, dt.date]] = {}  # id(age) -> (age, dob + age)
        self._facts: dict[str, tuple[bool, bool, frozenset[str]]] = {}
        # antigen -> series group -> the date its first complete patient series was completed
        self.complete_groups: dict[str, dict[str, dt.date]] = {}

    def age_date(self, duration: Duration | None) -> dt.date | None:
        """Date of birth plus an age (CALCDTAGE-1..5, CALCDTIND, CALCDTSKIP-3/4, ...)."""
        if duration is None:
            return None
        # keyed by identity (hashing the dataclass costs more than the date arithmetic); the
        # entry keeps its Duration alive, so an id is never reused while the run lasts
        found = self._ages.get(id(duration))
        if found is None:
            found = self._ages[id(duration)] = (duration, duration.after(self.dob))
        return found[1]

    def observed(self, code: str) -> bool:
        return bool(self.observations) and code.zfill(3) in self.observations

    def antigen_facts(self, antigen: sd.Antigen) -> tuple[bool, bool, frozenset[str]]:
        """7.2 and 7.3 depend only on the patient and the antigen: evidence of immunity, an
        antigen contraindication, the contraindicated vaccines (worked out once per antigen)."""
        found = self._facts.get(antigen.name)
        if found is None:
            found = self._facts[antigen.name] = (
                _immune(self, antigen),
                _antigen_contraindicated(self, antigen),
                frozenset(_contraindicated_vaccines(self, antigen)),
            )
        return found


# -- 4.2 Organize immunization history -------------------------------------------------------


def _antigen_records(ctx: _Context) -> dict[str, list[_Record]]:
    """Break each dose into its antigens (CVX to antigen map, with association ages)."""
    records: dict[str, list[_Record]] = {}
    for index, dose in enumerate(ctx.doses):
        cvx = sd.normalize_cvx(dose.cvx)
        for association in ctx.data.cvx_antigens.get(cvx, ()):
            begin = ctx.age_date(association.begin_age) or MIN_DATE
            end = ctx.age_date(association.end_age) or MAX_DATE
            if begin <= dose.date_administered < end:
                records.setdefault(association.antigen, []).append(
                    _Record(dose, cvx, dose.date_administered, index)
                )
    return records


# -- 5.1 Select relevant patient series --------------------------------------------------------


def _indication_applies(ctx: _Context, indication: sd.Indication) -> bool:
    """Table 5-4: an indication applies when its observation is active and the assessment date
    is within the indication's ages."""
    if not ctx.observed(indication.code):
        return False
    begin = ctx.age_date(indication.begin_age) or MIN_DATE
    end = ctx.age_date(indication.end_age) or MAX_DATE
    return begin <= ctx.assessed < end


def _relevant(ctx: _Context, series: sd.Series) -> bool:
    """Table 5-5."""
    if series.genders and ctx.gender not in series.genders:
        return False
    if series.kind in {"Standard", "Evaluation Only"}:
        return True
    return bool(ctx.observations) and any(_indication_applies(ctx, i) for i in series.indications)


# -- 6 Evaluate ------------------------------------------------------------------------------


def _age_for(dose: sd.SeriesDose, on: dt.date) -> sd.Age | None:
    for age in dose.ages:
        if _in_effect(age.effective, age.cessation, on):
            return age
    return None


def _previous(ps: _PatientSeries, records: list[_Record], position: int) -> _Record | None:
    """CALCDTINT-1: the most immediate previous dose that was evaluated Valid or Not Valid and was
    not an inadvertent administration."""
    for earlier in reversed(records[:position]):
        outcome = ps.outcomes.get(earlier.index)
        if outcome and outcome.status in {VALID, NOT_VALID} and not outcome.inadvertent:
            return earlier
    return None


def _reference_date(
    ctx: _Context,
    ps: _PatientSeries,
    interval: sd.Interval,
    records: list[_Record],
    position: int,
) -> dt.date | None:
    """CALCDTINT-1, -2, -8 and -9: the date an interval is measured from (None: the interval
    does not apply, there is nothing to measure from)."""
    if interval.from_previous:
        previous = _previous(ps, records, position)
        return previous.date if previous else None
    if interval.from_target_dose is not None:
        satisfied = ps.satisfied_record(interval.from_target_dose)
        return satisfied.date if satisfied else None
    if interval.from_most_recent:
        # CALCDTINT-8: the most recent earlier dose of one of the listed vaccine types, from the
        # whole history (a zoster interval is measured from a varicella vaccine), skipping a
        # dose this patient series found to be an inadvertent administration. In evaluation
        # "earlier" is earlier in the date-sorted history; in a forecast, any dose given.
        limit = records[position].index if position < len(records) else len(ctx.doses)
        for index in range(limit - 1, -1, -1):
            dose = ctx.doses[index]
            if dose.date_administered > ctx.assessed:
                continue
            if ctx.cvx[index] not in interval.from_most_recent:
                continue
            outcome = ps.outcomes.get(index)
            if outcome is None or not outcome.inadvertent:
                return dose.date_administered
        return None
    if interval.from_observation:
        observation = ctx.observations.get(interval.from_observation.zfill(3))
        return observation.date if observation else None
    return None


def _in_conflict(ctx: _Context, ps: _PatientSeries, record: _Record) -> bool:
    """6.7: the dose is an impacted vaccine dose administered (CONFLICT-3) when its date is on
    or after the conflict begin interval date (CALCDTCONFLICT-1) and before the conflict end
    interval date (CALCDTCONFLICT-2) of an earlier dose of a conflicting vaccine type.

    CALCDTCONFLICT-2 uses the minimum conflict end interval when the earlier dose is 'Valid' or
    has no evaluation status, the conflict end interval when it has another status. The status
    is the earlier dose's evaluation in this relevant patient series: a measles dose has none in
    a varicella series (the spec's "no evaluation status"), an earlier varicella dose that was
    too young is 'Not Valid' there. Same-day doses are never in conflict: every conflict begin
    interval in the supporting data is 1 day, and the begin date is computed, not assumed."""
    conflicts = ctx.data.conflicts_by_previous.get(record.cvx)
    if not conflicts:
        return False
    for index in range(record.index):
        found = conflicts.get(ctx.cvx[index])
        if not found:
            continue
        given = ctx.doses[index].date_administered
        outcome = ps.outcomes.get(index)
        valid_or_none = outcome is None or outcome.status == VALID
        for conflict in found:
            begin = _plus(given, conflict.begin) or MIN_DATE
            end = _plus(given, conflict.minimum_end if valid_or_none else conflict.end) or MIN_DATE
            if begin <= record.date < end:
                return True
    return False


def _vaccine_matches(ctx: _Context, vaccine: sd.SeriesVaccine, record: _Record) -> bool:
    begin = ctx.age_date(vaccine.begin_age) or MIN_DATE
    end = ctx.age_date(vaccine.end_age) or MAX_DATE
    if not begin <= record.date < end:
        return False
    # Table 6-26: a preferable vaccine named by trade name (manufacturer) must be that product;
    # CDSi compares trade names, which a dose carries as its MVX here.
    return not (vaccine.mvx and record.dose.mvx and vaccine.mvx.upper() != record.dose.mvx.upper())


def _condition_met(
    ctx: _Context,
    ps: _PatientSeries,
    condition: sd.Condition,
    reference: dt.date,
    records: list[_Record],
    position: int,
) -> bool:
    """Tables 6-6 to 6-9."""
    kind = condition.kind
    if kind == "age":
        begin = ctx.age_date(condition.begin_age) or MIN_DATE
        end = ctx.age_date(condition.end_age) or MAX_DATE
        return begin <= reference < end
    if kind == "completed series":
        # Table 6-7 asks whether the series group holds a relevant patient series with the
        # status 'Complete'. A status is a property of the history up to a date, and CONDSKIP-2
        # makes every skip condition relative to its reference date (the date administered in
        # evaluation), so the group must have been complete on or before that date: a dose
        # given in September is not skipped because of a series the patient completed in the
        # following April. "On or before" follows the glossary's "previous vaccine dose
        # administered: prior to or on the same day as" the current one.
        completed = ctx.complete_groups.get(ps.series.antigen, {})
        return any(
            group in completed and completed[group] <= reference
            for group in condition.series_groups
        )
    if kind == "interval":
        previous = records[position - 1] if 0 < position <= len(records) else None
        if previous is None:
            return False
        # CALCDTSKIP-5: from the immediate previous dose administered
        return reference >= (_plus(previous.date, condition.interval) or MAX_DATE)
    if kind.startswith("vaccine count"):
        begin = ctx.age_date(condition.begin_age) or MIN_DATE
        end = ctx.age_date(condition.end_age) or MAX_DATE
        start = condition.start_date or MIN_DATE
        stop = condition.end_date or MAX_DATE
        # CONDSKIP-1 counts "vaccine doses administered" of the listed vaccine types: the whole
        # history, not only this antigen's records (a pertussis target dose is skipped after a
        # Td, which has no pertussis antigen). With no vaccine types "any vaccine valid for the
        # antigen is permitted" (glossary, Conditional Skip Type): this antigen's records. Only
        # doses before the one being evaluated count (all of them in a forecast); 'Valid' is
        # the dose's evaluation status in this patient series.
        limit = records[position].index if position < len(records) else len(ctx.doses)
        if condition.vaccine_types:
            wanted_types = condition.vaccine_types
            indices: Iterable[int] = (i for i in range(limit) if ctx.cvx[i] in wanted_types)
        else:
            indices = (r.index for r in records[:position])
        count = 0
        for index in indices:
            given = ctx.doses[index].date_administered
            if not (begin <= given < end and start <= given < stop):
                continue
            if condition.dose_type == "valid":
                outcome = ps.outcomes.get(index)
                if not outcome or outcome.status != VALID:
                    continue
            count += 1
        wanted = condition.dose_count or 0
        logic = condition.dose_count_logic
        if logic.startswith("greater"):
            return count > wanted
        if logic.startswith("equal"):
            return count == wanted
        if logic.startswith("less"):
            return count < wanted
        return False
    return False


def _can_skip(
    ctx: _Context,
    ps: _PatientSeries,
    target: _Target,
    context: str,
    reference: dt.date,
    records: list[_Record],
    position: int,
) -> bool:
    """6.2 / 7.1 / 7.6.1, tables 6-10 and 6-11. `context` is "evaluation" or "forecast"; a skip
    of context "both" serves both. Sets are selected by effective/cessation date against the
    reference date (RELEVANT-1/2)."""
    for skip in target.dose.skips:
        if skip.context not in {context, "both"}:
            continue
        results = []
        for skip_set in skip.sets:
            if not _in_effect(skip_set.effective, skip_set.cessation, reference):
                continue
            met = [
                _condition_met(ctx, ps, c, reference, records, position)
                for c in skip_set.conditions
            ]
            if not met:
                continue
            results.append(all(met) if skip_set.logic == "and" else any(met))
        if not results:
            continue
        if skip.logic == "and":
            if all(results):
                return True
        elif any(results):
            return True
    return False


def _evaluate_record(
    ctx: _Context, ps: _PatientSeries, target: _Target, records: list[_Record], position: int
) -> _Outcome:
    """6.3 to 6.10 for one antigen administered record against one target dose."""
    record = records[position]
    dose = target.dose
    # 6.3 inadvertent vaccine
    if record.cvx in dose.inadvertent:
        return _Outcome(NOT_VALID, [INADVERTENT], inadvertent=True)
    reasons: list[str] = []
    # 6.4 age (table 6-15)
    age_ok: bool | str = True
    age = _age_for(dose, record.date)
    if age is not None:
        absolute = ctx.age_date(age.absolute_minimum) or MIN_DATE
        minimum = ctx.age_date(age.minimum) or MIN_DATE
        maximum = ctx.age_date(age.maximum) or MAX_DATE
        if record.date < absolute:
            age_ok = False
            reasons.append(TOO_YOUNG)
        elif record.date < minimum:
            reasons.append(AGE_GRACE)
        elif record.date >= maximum:
            age_ok = EXTRANEOUS
            reasons.append(TOO_OLD)
    # 6.5 preferable interval (table 6-18), all must be satisfied
    preferable_ok = True
    preferable_reasons: list[str] = []
    for interval in dose.intervals:
        if not _in_effect(interval.effective, interval.cessation, record.date):
            continue
        reference = _reference_date(ctx, ps, interval, records, position)
        if reference is None:
            continue
        absolute = _plus(reference, interval.absolute_minimum) or MIN_DATE
        minimum = _plus(reference, interval.minimum) or MIN_DATE
        if record.date < absolute:
            preferable_ok = False
            preferable_reasons.append(TOO_SOON)
        elif record.date < minimum:
            preferable_reasons.append(INTERVAL_GRACE)
    interval_ok = preferable_ok
    if not preferable_ok:
        # 6.6 allowable interval (table 6-21); none defined counts as not satisfied
        allowable = [
            i for i in dose.allowable_intervals if _in_effect(i.effective, i.cessation, record.date)
        ]
        if allowable:
            interval_ok = True
            for interval in allowable:
                reference = _reference_date(ctx, ps, interval, records, position)
                if reference is None:
                    continue
                if record.date < (_plus(reference, interval.absolute_minimum) or MIN_DATE):
                    interval_ok = False
    if interval_ok:
        reasons.extend(r for r in preferable_reasons if r != TOO_SOON)
    else:
        reasons.append(TOO_SOON)
    # 6.7 vaccine conflict
    conflict = _in_conflict(ctx, ps, record)
    if conflict:
        reasons.append(CONFLICT)
    # 6.8 / 6.9 preferable, then allowable vaccine
    vaccine_ok = any(
        v.cvx == record.cvx and _vaccine_matches(ctx, v, record) for v in dose.preferable
    ) or any(v.cvx == record.cvx and _vaccine_matches(ctx, v, record) for v in dose.allowable)
    if not vaccine_ok:
        reasons.append(NOT_PREFERABLE)
    # 6.10 satisfy target dose (table 6-31)
    if age_ok is True and interval_ok and not conflict and vaccine_ok:
        return _Outcome(VALID, reasons)
    if age_ok == EXTRANEOUS:
        return _Outcome(EXTRANEOUS, reasons)
    return _Outcome(NOT_VALID, reasons)


def _evaluate(ctx: _Context, ps: _PatientSeries, records: list[_Record]) -> None:
    """4.4 figure 4-6: walk the target doses and the antigen administered records together."""
    current = 0
    for position, record in enumerate(records):
        if current >= len(ps.targets):
            ps.outcomes[record.index] = _Outcome(EXTRANEOUS, [SERIES_COMPLETE])
            continue
        # 6.1 dose administered condition (table 6-3)
        if record.dose.dose_condition:
            ps.outcomes[record.index] = _Outcome(SUBSTANDARD, [CONDITION], target=current)
            continue
        while current < len(ps.targets) and _can_skip(
            ctx, ps, ps.targets[current], "evaluation", record.date, records, position
        ):
            ps.targets[current].status = SKIPPED
            current += 1
        if current >= len(ps.targets):
            ps.outcomes[record.index] = _Outcome(EXTRANEOUS, [SERIES_COMPLETE])
            continue
        target = ps.targets[current]
        outcome = _evaluate_record(ctx, ps, target, records, position)
        outcome.target = current
        ps.outcomes[record.index] = outcome
        if outcome.status == VALID:
            target.status, target.record = SATISFIED, record
            if target.dose.recurring:
                ps.targets.insert(current + 1, _Target(target.dose))
            current += 1


# -- 7 Forecast -------------------------------------------------------------------------------


def _immune(ctx: _Context, antigen: sd.Antigen) -> bool:
    """7.2, table 7-3."""
    if any(ctx.observed(code) for code in antigen.immunity_codes):
        return True
    if antigen.immunity_birth_date and ctx.dob < antigen.immunity_birth_date:
        if any(ctx.observed(code) for code in antigen.immunity_exclusions):
            return False
        if antigen.immunity_birth_country:
            country = (ctx.patient.country_of_birth or "").strip().upper().replace(".", "")
            wanted = antigen.immunity_birth_country.upper().replace(".", "")
            return (
                country in {wanted, "US", "USA"} if wanted in {"US", "USA"} else (country == wanted)
            )
        return True
    return False


def _age_window(ctx: _Context, begin: Duration | None, end: Duration | None) -> bool:
    return (ctx.age_date(begin) or MIN_DATE) <= ctx.assessed < (ctx.age_date(end) or MAX_DATE)


def _contraindicated_vaccines(ctx: _Context, antigen: sd.Antigen) -> set[str]:
    """Table 7-6: CVX codes contraindicated for this patient today."""
    blocked: set[str] = set()
    for contraindication in antigen.vaccine_contraindications:
        if not ctx.observed(contraindication.code):
            continue
        for vaccine in contraindication.vaccines:
            if _age_window(ctx, vaccine.begin_age, vaccine.end_age):
                blocked.add(vaccine.cvx)
    return blocked


def _antigen_contraindicated(ctx: _Context, antigen: sd.Antigen) -> bool:
    """Table 7-5."""
    return any(
        ctx.observed(c.code) and _age_window(ctx, c.begin_age, c.end_age)
        for c in antigen.antigen_contraindications
    )


def _dates(
    ctx: _Context,
    ps: _PatientSeries,
    index: int,
    records: list[_Record],
    blocked: frozenset[str],
) -> _Forecast:
    """7.5, FORECASTDTCAN-1 and FORECASTDT-1 to -6, FORECASTRECVAC-1, FORECASTDN-1."""
    target = ps.targets[index]
    dose = target.dose
    age = _age_for(dose, ctx.assessed)
    minimum_age = ctx.age_date(age.minimum) if age else None
    earliest_age = ctx.age_date(age.earliest_recommended) if age else None
    latest_age = ctx.age_date(age.latest_recommended) if age else None
    maximum_age = ctx.age_date(age.maximum) if age else None
    candidates: list[dt.date] = [minimum_age] if minimum_age else []
    earliest_intervals: list[dt.date] = []
    latest_intervals: list[dt.date] = []
    intervals = [i for i in dose.intervals if _in_effect(i.effective, i.cessation, ctx.assessed)]
    for interval in intervals:
        reference = _reference_date(ctx, ps, interval, records, len(records))
        if reference is None:
            continue
        if interval.minimum:
            candidates.append(interval.minimum.after(reference))
        if interval.earliest_recommended:
            earliest_intervals.append(interval.earliest_recommended.after(reference))
        if interval.latest_recommended:
            latest_intervals.append(interval.latest_recommended.after(reference))
    # CALCDTCONFLICT-3: a dose given of a vaccine type conflicting with a preferable vaccine
    # of the target dose ends its conflict at its date plus the conflict end interval
    for vaccine in dose.preferable:
        conflicts = ctx.data.conflicts_by_previous.get(vaccine.cvx)
        if not conflicts:
            continue
        for given, cvx in zip(ctx.doses, ctx.cvx, strict=True):
            if given.date_administered > ctx.assessed:
                continue
            for conflict in conflicts.get(cvx, ()):
                if conflict.end:
                    candidates.append(conflict.end.after(given.date_administered))
    if dose.season_start:
        candidates.append(dose.season_start)
    evaluated = [r for r in records if r.index in ps.outcomes]
    if evaluated:
        candidates.append(evaluated[-1].date)
    # Table 7-9: a candidate earliest date with nothing to compute it from (no minimum age, no
    # interval with a reference dose, no conflict, season or earlier dose) is assumed to be
    # 12/31/2999, so table 7-10 finds it is not before the maximum age date and the series is
    # 'Aged Out' ("unable to finish the series prior to the maximum age"); it is never the
    # date of birth.
    earliest = max(candidates) if candidates else MAX_DATE
    if earliest_age:
        recommended = earliest_age
    elif earliest_intervals:
        recommended = max(earliest_intervals)
    else:
        recommended = earliest
    if latest_age:
        past_due: dt.date | None = latest_age - dt.timedelta(days=1)
    elif latest_intervals:
        past_due = max(latest_intervals) - dt.timedelta(days=1)
    else:
        past_due = None
    forecast = _Forecast(
        NOT_COMPLETE,
        target=target,
        earliest=earliest,
        unadjusted_recommended=recommended,
        unadjusted_past_due=past_due,
        recommended=max(recommended, earliest),
        past_due=max(past_due, earliest) if past_due else None,
        latest=maximum_age - dt.timedelta(days=1) if maximum_age else None,
        priority=bool(intervals) and all(i.priority for i in intervals),
    )
    # FORECASTDN-1
    number = 0
    for t in ps.targets:
        if t.status != SATISFIED:
            continue
        start = t.dose.season_start
        if start is None or (t.record is not None and t.record.date >= start):
            number += 1
    forecast.dose_number = number + 1
    forecast.vaccines = tuple(
        v.cvx
        for v in dose.preferable
        if v.forecast
        and v.cvx not in blocked
        and any(
            (ctx.age_date(v.begin_age) or MIN_DATE) <= day < (ctx.age_date(v.end_age) or MAX_DATE)
            for day in (earliest, forecast.recommended or earliest)
        )
    )
    return forecast


def _forecast(
    ctx: _Context, antigen: sd.Antigen, ps: _PatientSeries, records: list[_Record]
) -> _Forecast:
    """Chapter 7 (figure 7-1) for one relevant patient series: 7.1 conditional skip, 7.2
    immunity, 7.3 contraindications, 7.4 forecast need (table 7-10), 7.5 dates, and 7.6: when
    the forecast target dose would be skipped on its own earliest date, it is skipped and the
    forecast is made again, from 7.1, for the next target dose."""
    position = len(records)
    index = next((i for i, t in enumerate(ps.targets) if t.status is None), len(ps.targets))
    immune, antigen_contraindicated, blocked = ctx.antigen_facts(antigen)
    while True:
        # 7.1 conditional skip, reference date = assessment date (CONDSKIP-2)
        while index < len(ps.targets) and _can_skip(
            ctx, ps, ps.targets[index], "forecast", ctx.assessed, records, position
        ):
            ps.targets[index].status = SKIPPED
            index += 1
        # 7.4, table 7-10, in the order of its rules
        if index >= len(ps.targets):
            if any(t.status == SATISFIED for t in ps.targets):
                return _Forecast(COMPLETE, reason="Patient series is complete")
            return _Forecast(
                NOT_RECOMMENDED,
                reason="Not recommended at this time due to past immunization history",
            )
        if immune:
            return _Forecast(IMMUNE, reason="Patient has evidence of immunity")
        target = ps.targets[index]
        # table 7-7: an antigen contraindication, or every preferable vaccine of the target dose
        # to be forecast has a vaccine contraindication (table 7-6)
        preferable = {v.cvx for v in target.dose.preferable}
        if antigen_contraindicated or (preferable and preferable <= blocked):
            return _Forecast(CONTRAINDICATED, reason="Patient has a contraindication")
        if target.dose.season_end and ctx.assessed > target.dose.season_end:
            return _Forecast(NOT_RECOMMENDED, reason="Past seasonal recommendation end date")
        forecast = _dates(ctx, ps, index, records, blocked)
        maximum = forecast.latest + dt.timedelta(days=1) if forecast.latest else MAX_DATE
        if ctx.assessed >= maximum:
            return _Forecast(AGED_OUT, reason="Patient has exceeded the maximum age")
        if forecast.earliest is None or forecast.earliest >= maximum:
            return _Forecast(
                AGED_OUT, reason="Patient is unable to finish the series prior to the maximum age"
            )
        # 7.6 validate the recommendation: conditional skip with the earliest date (7.6.1)
        if not _can_skip(ctx, ps, target, "forecast", forecast.earliest, records, position):
            return forecast
        target.status = SKIPPED
        index += 1


# -- 8 Select best patient series ------------------------------------------------------------


def _finish_date(ps: _PatientSeries) -> dt.date | None:
    """SELECTB-12: "the earliest date of the patient series forecast ... plus the latest
    minimum interval from the remaining target dose(s)". Read as written: the one minimum
    interval, of the target doses after the forecast one, that ends latest when added to the
    earliest date (not a chain of all of them, which the rule does not say); no remaining
    target dose: the earliest date itself."""
    forecast = ps.forecast
    if forecast is None or forecast.earliest is None or forecast.target is None:
        return None
    remaining = ps.targets[ps.targets.index(forecast.target) + 1 :]
    minimums = [i.minimum for t in remaining for i in t.dose.intervals if i.minimum]
    return max((m.after(forecast.earliest) for m in minimums), default=forecast.earliest)


def _completable(ctx: _Context, ps: _PatientSeries) -> bool:
    """SELECTB-3."""
    finish = _finish_date(ps)
    if finish is None:
        return False
    last = ps.targets[-1].dose
    age = _age_for(last, ctx.assessed)
    maximum = ctx.age_date(age.maximum) if age else None
    return maximum is None or finish < maximum


def _status(ps: _PatientSeries) -> str:
    return ps.forecast.status if ps.forecast else NOT_COMPLETE


def _points(values: list[bool], tie_zero: bool, win: int) -> list[int]:
    """Tables 8-7, 8-9, 8-11: +win when true for one series (or for several when ties do not
    zero), 0 when true for two or more and ties zero, -win when not true."""
    true_count = sum(values)
    return [(0 if tie_zero and true_count > 1 else win) if value else -win for value in values]


def _prioritized(ctx: _Context, group: list[_PatientSeries]) -> _PatientSeries | None:
    """8.1 to 8.7 for one series group."""
    # SELECTB-24
    all_contraindicated = all(_status(ps) == CONTRAINDICATED for ps in group)
    candidates = [ps for ps in group if _status(ps) != CONTRAINDICATED or all_contraindicated]
    defaults = [ps for ps in group if ps.series.default]
    top = max(PRIORITY.get(ps.series.priority, 0) for ps in group)
    no_valid_anywhere = all(ps.valid_doses == 0 for ps in group)
    scorable: list[_PatientSeries] = []
    for ps in candidates:
        kind = ps.series.kind
        if kind == "Risk":
            if PRIORITY.get(ps.series.priority, 0) >= top:
                scorable.append(ps)
        elif kind == "Standard":
            valid = [t.record.date for t in ps.targets if t.status == SATISFIED and t.record]
            start_by = ctx.age_date(ps.series.max_age_to_start) or MAX_DATE
            if (valid and min(valid) < start_by) or (no_valid_anywhere and not defaults):
                scorable.append(ps)
        elif kind == "Evaluation Only" and _status(ps) == COMPLETE:
            scorable.append(ps)
    # 8.2, table 8-3
    complete = [ps for ps in scorable if _status(ps) == COMPLETE]
    in_process = [
        ps for ps in scorable if _status(ps) == NOT_COMPLETE and ps.valid_doses > 0
    ]  # SELECTB-16
    if not scorable:
        return defaults[0] if len(defaults) == 1 else None
    if len(scorable) == 1:
        return scorable[0]
    if len(complete) == 1:
        return complete[0]
    if not complete and len(in_process) == 1:
        return in_process[0]
    if not complete and not in_process and len(defaults) == 1:
        # table 8-3, last rule: it counts the group's default series, scorable or not (as the
        # first rule does when nothing is scorable)
        return defaults[0]
    # 8.3, table 8-5
    scores: list[int]
    if len(complete) >= 2:
        scored = complete
        counts = [ps.valid_doses for ps in scored]
        scores = _points([v >= max(counts) for v in counts], True, 1)
    elif len(in_process) >= 2:
        scored = in_process
        scores = _in_process_scores(ctx, scored)
    elif all(ps.valid_doses == 0 for ps in scorable):
        scored = scorable
        scores = _no_valid_scores(ctx, scored)
    else:
        scored = scorable
        scores = _in_process_scores(ctx, scored)
    # 8.7 SELECTBEST-1/2: highest score, then the best series preference
    best = max(zip(scores, scored, strict=True), key=lambda p: (p[0], -p[1].series.preference))
    return best[1]


def _in_process_scores(ctx: _Context, scored: list[_PatientSeries]) -> list[int]:
    """8.5, table 8-9."""
    product = [
        ps.series.product_path
        and all(o.status == VALID for o in ps.outcomes.values() if o.target is not None)
        for ps in scored
    ]
    completable = [_completable(ctx, ps) for ps in scored]
    valid = [ps.valid_doses for ps in scored]
    remaining = [sum(1 for t in ps.targets if t.status is None) for ps in scored]
    finishes = [_finish_date(ps) if c else None for ps, c in zip(scored, completable, strict=True)]
    known = [f for f in finishes if f is not None]
    scores = [0] * len(scored)
    rows = [
        _points(product, False, 2),
        _points(completable, False, 3),
        _points([v >= max(valid) for v in valid], True, 2),
        _points([r <= min(remaining) for r in remaining], True, 2),
        _points([f is not None and f <= min(known) for f in finishes], True, 1),
    ]
    for row in rows:
        scores = [a + b for a, b in zip(scores, row, strict=True)]
    return scores


def _no_valid_scores(ctx: _Context, scored: list[_PatientSeries]) -> list[int]:
    """8.6, table 8-11."""
    starts = [ps.forecast.earliest if ps.forecast else None for ps in scored]
    known = [s for s in starts if s is not None]
    start_earliest = [s is not None and s <= min(known) for s in starts]
    completable = [_completable(ctx, ps) for ps in scored]
    product = [ps.series.product_path for ps in scored]
    rows = [
        _points(start_earliest, True, 1),
        _points(completable, False, 1),
        [-1 if p else 1 for p in product],
    ]
    scores = [0] * len(scored)
    for row in rows:
        scores = [a + b for a, b in zip(scores, row, strict=True)]
    return scores


def _best_series(ctx: _Context, all_series: list[_PatientSeries]) -> list[_PatientSeries]:
    """8.8, table 8-14."""
    groups: dict[str, list[_PatientSeries]] = {}
    for ps in all_series:
        groups.setdefault(ps.series.group, []).append(ps)
    prioritized = {
        name: chosen
        for name, members in groups.items()
        if (chosen := _prioritized(ctx, members)) is not None
    }
    best: list[_PatientSeries] = []
    for ps in prioritized.values():
        status = _status(ps)
        # The equivalent series groups named by the prioritized series itself (a risk series
        # with no equivalent group stands on its own even if a standard series names its group).
        others = [prioritized[g] for g in ps.series.equivalent_groups if g in prioritized]
        if status == COMPLETE:
            best.append(ps)
            continue
        if any(_status(o) == COMPLETE for o in others):
            continue
        if ps.series.kind == "Evaluation Only":
            continue
        if ps.series.kind == "Risk" or not any(o.series.kind == "Risk" for o in others):
            best.append(ps)
    return best


# -- 9 Vaccine group forecast -----------------------------------------------------------------


def _antigen_forecast(ps: _PatientSeries) -> AntigenForecast:
    f = ps.forecast or _Forecast(NOT_COMPLETE)
    return AntigenForecast(
        antigen=ps.series.antigen,
        series=ps.series.name,
        status=f.status,
        dose_number=f.dose_number if f.status == NOT_COMPLETE else None,
        earliest=f.earliest,
        recommended=f.recommended,
        past_due=f.past_due,
        latest=f.latest,
        reason=f.reason,
        interval_priority_flag=f.priority,
    )


def _group_forecast(
    ctx: _Context, name: str, members: list[_PatientSeries], records: dict[str, list[_Record]]
) -> VaccineGroupForecast:
    """Chapter 9: FORECASTVG-1 to -8, SINGLEANTVG-1/2, table 9-4, MULTIANTVG-1."""
    antigens = ctx.data.vaccine_groups[name]
    forecasts = [ps.forecast or _Forecast(NOT_COMPLETE) for ps in members]
    statuses = [f.status for f in forecasts]
    if len(antigens) == 1:
        status = statuses[0]
    elif CONTRAINDICATED in statuses:
        status = CONTRAINDICATED
    elif AGED_OUT in statuses:
        status = AGED_OUT
    elif NOT_RECOMMENDED in statuses:
        status = NOT_RECOMMENDED
    elif NOT_COMPLETE in statuses:
        status = NOT_COMPLETE
    elif all(s == IMMUNE for s in statuses):
        status = IMMUNE
    else:
        status = COMPLETE
    dated = [f for f in forecasts if f.status == NOT_COMPLETE and f.earliest]
    earliest = recommended = past_due = latest = None
    dose_number = None
    vaccines: tuple[str, ...] = ()
    if status == NOT_COMPLETE and dated:
        if len(antigens) == 1:
            earliest = min(f.earliest for f in dated if f.earliest)
        elif any(f.priority for f in dated):
            given = [r.date for antigen in antigens for r in records.get(antigen, ())]
            earliest = max([min(f.earliest for f in dated if f.earliest), *given])
        else:
            earliest = max(f.earliest for f in dated if f.earliest)
        recommended = max(min(f.recommended for f in dated if f.recommended), earliest)
        dues = [f.past_due for f in dated if f.past_due]
        past_due = max(min(dues), earliest) if dues else None
        latests = [f.latest for f in dated if f.latest]
        latest = min(latests) if latests else None
        numbers = [f.dose_number for f in dated if f.dose_number]
        if numbers:
            full = ctx.data.administer_full_group.get(name, False)
            dose_number = min(numbers) if full else max(numbers)
        vaccines = tuple(dict.fromkeys(cvx for f in dated for cvx in f.vaccines))
    reasons = [f.reason for f in forecasts if f.reason]
    return VaccineGroupForecast(
        vaccine_group=name,
        status=status,
        dose_number=dose_number,
        earliest=earliest,
        recommended=recommended,
        past_due=past_due,
        latest=latest,
        antigens=tuple(_antigen_forecast(ps) for ps in members),
        reason="; ".join(dict.fromkeys(reasons)) or None,
        recommended_vaccines=vaccines,
        series_group=members[0].series.group_name,
        series_type=members[0].series.kind,
        starts=max(
            (ctx.age_date(ps.series.min_age_to_start) or MIN_DATE for ps in members),
            default=None,
        ),
    )


def _choose(
    ctx: _Context, options: list[tuple[VaccineGroupForecast, list[_PatientSeries]]]
) -> VaccineGroupForecast:
    """Which of a vaccine group's forecasts is shown first. Chapter 9 makes one vaccine group
    forecast per series group and series type (FORECASTVG-1, DEFFORECAST-012, section 4.6: "a
    patient may end up with more than 1 vaccine group forecast"), so a child has a childhood and
    a 50-and-over pneumococcal forecast; all of them are returned, the logic specification does
    not say which to show, and this is only the presentation order:

    1. a series group the patient can act on now: one whose minimum age to start has been
       reached or in which the patient already has a valid dose (a 47-year-old's PPSV23 started
       the 50+ series); a 75-and-over RSV forecast does not hide an infant's;
    2. of those, one the patient has not aged out of;
    3. a risk series before a standard one: it exists only because of the patient's indication
       (table 5-5) and is the recommendation made for it, even when complete;
    4. then the dose due soonest, then the status order below."""

    def started(option: tuple[VaccineGroupForecast, list[_PatientSeries]]) -> bool:
        forecast, members = option
        return (
            forecast.starts is None
            or forecast.starts <= ctx.assessed
            or any(ps.valid_doses for ps in members)
        )

    chosen = [o for o in options if started(o)] or options
    chosen = [o for o in chosen if o[0].status != AGED_OUT] or chosen
    chosen = [o for o in chosen if o[0].series_type == "Risk"] or chosen
    order = [NOT_COMPLETE, CONTRAINDICATED, COMPLETE, IMMUNE, NOT_RECOMMENDED, AGED_OUT]
    return min(
        (o[0] for o in chosen),
        key=lambda f: (
            not (f.status == NOT_COMPLETE and f.earliest),
            f.earliest or MAX_DATE,
            order.index(f.status) if f.status in order else len(order),
        ),
    )


def _group_order(group: str) -> tuple[int, str]:
    return (int(group), "") if group.isdigit() else (1 << 30, group)


def forecast(data: sd.SupportingData, patient: Patient, assessment_date: dt.date) -> Result:
    """Evaluate every dose and forecast every vaccine group for one patient on one date."""
    ctx = _Context(data, patient, assessment_date)
    records = _antigen_records(ctx)
    evaluations: list[DoseEvaluation] = []
    best_by_antigen: dict[str, list[_PatientSeries]] = {}
    for antigen in data.antigens.values():
        antigen_records = records.get(antigen.name, [])
        relevant = [
            _PatientSeries(series, [_Target(d) for d in series.doses])
            for series in antigen.series
            if _relevant(ctx, series)
        ]
        # Completed-series skip conditions (table 6-7) look at another series group of the same
        # antigen; in the supporting data they always name a lower-numbered group (risk groups
        # name standard group 1), so series are evaluated in numeric group order and each
        # completion is recorded as it happens.
        relevant.sort(key=lambda ps: _group_order(ps.series.group))
        for ps in relevant:
            _evaluate(ctx, ps, antigen_records)
            ps.forecast = _forecast(ctx, antigen, ps, antigen_records)
            if ps.forecast.status == COMPLETE:
                # completed on the date of the last dose that satisfied one of its targets
                done = max((t.record.date for t in ps.targets if t.record), default=ctx.assessed)
                completed = ctx.complete_groups.setdefault(antigen.name, {})
                completed[ps.series.group] = min(done, completed.get(ps.series.group, done))
        best = _best_series(ctx, relevant) if relevant else []
        best_by_antigen[antigen.name] = best
        for ps in best:
            for record in antigen_records:
                outcome = ps.outcomes.get(record.index)
                if outcome is None:
                    continue
                target = ps.targets[outcome.target] if outcome.target is not None else None
                if target is not None and target.dose.number and outcome.target is not None:
                    number: int | None = outcome.target + 1
                else:
                    number = None
                evaluations.append(
                    DoseEvaluation(
                        dose_id=record.dose.id,
                        antigen=antigen.name,
                        status=outcome.status,
                        reasons=tuple(outcome.reasons),
                        series=ps.series.name,
                        series_type=ps.series.kind,
                        target_dose=number,
                    )
                )
    groups: dict[str, VaccineGroupForecast] = {}
    alternatives: dict[str, tuple[VaccineGroupForecast, ...]] = {}
    for name, antigens in data.vaccine_groups.items():
        by_group: dict[tuple[str, str], list[_PatientSeries]] = {}
        for antigen_name in antigens:
            for ps in best_by_antigen.get(antigen_name, []):
                by_group.setdefault((ps.series.group, ps.series.kind), []).append(ps)
        options = [
            (_group_forecast(ctx, name, members, records), members) for members in by_group.values()
        ]
        if options:
            chosen = _choose(ctx, options)
            groups[name] = chosen
            alternatives[name] = tuple(o for o, _ in options if o is not chosen)
    return Result(assessment_date, tuple(evaluations), groups, alternatives)


def reference_directory(root: Path) -> Path:
    """The supporting-data XML folder inside a reference directory."""
    return root / "cdsi" / "supporting-data-4.64" / "XML"
