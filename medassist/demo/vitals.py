"""The demo patients' vital signs: a sitting at the in-person visits that reached the room, so
that the charts show trends, the growth charts curves, and today's board a critical value.

Unlike the rest of the demo these are not written as raw rows: every sitting goes through
medassist.vitals.services.record_vitals(), as the clinic's medical assistant (alice at North,
carol at South), so plausibility, interpretations, percentiles, NEWS2, the repeat-BP timer and
critical-value alerts are computed exactly as in the app (and audited as the MA's entries).

Which visits:
- Whose: the patients on today's schedule (both clinics) and the featured ones, i.e. the
  charts a demo opens; every patient with EVERY_PATIENT (or write_vitals(every_patient=True)).
  A sitting through the service costs about 10 ms: every visit of every patient (some 4,000
  sittings) would add 45-60 s to the load; the default adds under two seconds (some 130).
- Every in-person visit of theirs in the last HISTORY_DAYS, and all of a child's under
  GROWTH_CURVE_YEARS (kind AMB, stage done; telehealth visits are not roomed), taken a
  few minutes after the patient was roomed: at the ROOMED stage change where flow.py timed the
  last weeks' visits, else some minutes after the visit's start. The visit is done by then, so
  its in-memory copy is given the ROOMED stage for the call (never saved) and left as it was.
- Today's visits that are past rooming (ready for provider, with provider, checkout, done).
  The visit still at ROOMED is left to the live flow: the MA takes its vitals in the demo. At
  North, the visit ready for (else with) the provider gets a critical value - blood pressure
  184/114 for an adult, SpO2 88 % for a child - so the provider's alert banner and the board show
  an open alert at load time. None of this happens when no visit of today is past rooming.
  record_vitals() refuses times in the future: a sitting whose time is still ahead of the clock
  (the demo loaded before the morning's visits would have happened) is stamped with the load
  time instead.

What is measured, per patient and consistent over time (seeded by the patient's public id):
- Children (under 20): weight, length/height and head circumference each follow the patient's
  own percentile (z-score) on the chart the app reads (WHO 2006 under 2 years, CDC 2000 after),
  with measurement noise: weight at every visit, length/height at well-child and first visits,
  head circumference at well-child visits to 24 months; blood pressure from 3 years at
  well-child visits; heart and respiratory rate around the Fleming 2011 median for age.
- Adults: height stable (the final height of the patient's height percentile), measured at
  physicals, wellness and first visits and yearly; weight drifting slowly with age; blood
  pressure rising with age, in the stage 1/2 ranges for patients with essential hypertension
  (never a crisis), with a repeat reading after a rest whenever the app times one (it does for
  a raised first reading of the last day); SpO2 lower with COPD, an irregular pulse with
  atrial fibrillation.
- Units as the MAs enter them: North mostly in pounds (infants pounds and ounces), feet and
  inches and °F, South in kilograms, centimetres and °C, each with some sittings the other way.
- No past sitting meets a critical-value rule (an old visit's alert would sit open on today's
  banner), and none asks for a plausibility confirmation; write_vitals() counts any that do.

Deterministic: values come from random.Random seeded per patient and visit; only the ids, the
record times (created_at) and the audit entries differ between loads.
"""

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import groupby

from django.core.exceptions import ValidationError
from django.db.models import Q

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo.generator import CLINICS, FEATURED, SEED
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.stages import Stage
from medassist.history.models import Condition
from medassist.patients.models import Patient
from medassist.vitals import growth, units
from medassist.vitals.models import Measure, VitalSign
from medassist.vitals.services import (
    BloodPressure,
    VitalsEntry,
    record_vitals,
    sex_for_charts,
)

# Whose vital signs, and how far back (see the module docstring).
EVERY_PATIENT = False
HISTORY_DAYS = 300
GROWTH_CURVE_YEARS = 3
YEAR = 365.25
ADULT_YEARS = 18
GROWTH_UNTIL_YEARS = 20  # CDC 2000 charts end at 20 years; adults keep that final size
# Today's visits whose rooming is over (the ROOMED one is left to the live flow).
TODAY_MEASURED = (
    Stage.READY_FOR_PROVIDER,
    Stage.WITH_PROVIDER,
    Stage.READY_FOR_CHECKOUT,
    Stage.DONE,
)
CRITICAL_AT = (Stage.READY_FOR_PROVIDER, Stage.WITH_PROVIDER)  # in this order of preference
REPEAT_AFTER = dt.timedelta(minutes=6)
ROOMING = dt.timedelta(
    minutes=8
)  # roomed to ready for the provider, when not timed  # the app asks after 5 minutes' rest
# Fleming 2011 (Lancet 2011;377:1011-18) median heart and respiratory rates, by age from
# (years): the demo's children sit around them.
FLEMING_MEDIANS = (
    (0, 143, 43), (0.25, 140, 41), (0.5, 134, 39), (0.75, 128, 37), (1, 123, 35),
    (1.5, 120, 31), (2, 115, 28), (3, 110, 25), (4, 104, 23), (6, 98, 21), (8, 91, 19),
    (12, 84, 18), (15, 78, 16),
)  # fmt: skip
FEVER_WORDS = ("fever", "sore throat", "ear", "cough", "congestion")
NORTH_METRIC_SHARE = 0.15  # North sittings entered in kg/cm/°C (the other scale, a float MA)
SOUTH_IMPERIAL_SHARE = 0.2  # South sittings entered in lb/in/°F


@dataclass
class Recorded:
    sets: int = 0
    repeats: int = 0
    alerts: int = 0
    # Sittings the service did not save: plausibility confirmations asked, or values refused.
    confirmations: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """Who the patient is, for their vitals: fixed for life."""

    sex: str  # "male" or "female", for the charts
    birth: dt.date
    z_height: float
    z_weight: float
    z_head: float
    drift_kg_per_year: float
    hypertension: dt.date | None  # onset
    bp_offset: int  # mmHg, the patient's own level
    copd: bool
    afib: bool


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (SEED, "vitals", *parts)))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _years(profile: Profile, day: dt.date) -> float:
    return (day - profile.birth).days / YEAR


def profile_of(patient: Patient, problems: dict[str, dt.date | None]) -> Profile:
    """`problems`: the patient's active problem list, ICD-10 code -> onset."""
    rng = _rng(patient.public_id)
    obese = any(code.startswith("E66") for code in problems)
    # Mostly between the 5th and 95th percentiles, weight going with height.
    z_height = _clamp(rng.gauss(0, 0.8), -1.8, 1.9)
    z_weight = 0.7 * z_height + rng.gauss(0, 0.45) + (1.6 if obese else 0)
    if any(code.startswith(("E11", "I10")) for code in problems):
        z_weight += 0.5
    htn = next((code for code in problems if code.startswith("I10")), None)
    onset = problems[htn] if htn else None
    return Profile(
        sex=sex_for_charts(patient) or "female",
        birth=patient.birth_date,
        z_height=z_height,
        z_weight=_clamp(z_weight, -1.8, 2.4),
        z_head=_clamp(0.4 * z_height + rng.gauss(0, 0.7), -1.8, 1.9),
        drift_kg_per_year=rng.uniform(0.1, 0.9),
        hypertension=(onset or patient.birth_date) if htn else None,
        bp_offset=round(rng.gauss(0, 5)),
        copd=any(code.startswith("J44") for code in problems),
        afib=any(code.startswith("I48") for code in problems),
    )


def _on_chart(measure: str, profile: Profile, age_days: int, z: float) -> float | None:
    """The value at z on the chart the app reads for this measure and age (None: no chart)."""
    chart_id = growth.chart_for(measure, age_days)
    if chart_id is None:
        return None
    chart = growth.CHARTS[chart_id]
    x = age_days if chart.x_kind == "age_days" else age_days / growth.DAYS_PER_MONTH
    try:
        L, M, S = growth.lms_at(chart, profile.sex, x)
    except ValueError:
        return None
    return growth.chart_value_at_z(chart, L, M, S, z)


def _final(measure: str, profile: Profile, z: float) -> float:
    """An adult's value: the chart's at 20 years (stature stays; weight drifts from there)."""
    value = _on_chart(measure, profile, round(19.95 * YEAR), z)
    if value is None:  # pragma: no cover - the CDC tables reach 20 years
        raise ValueError(f"no {measure} at 20 years")
    return value


def height_cm(profile: Profile, day: dt.date) -> float:
    age_days = (day - profile.birth).days
    if age_days < GROWTH_UNTIL_YEARS * YEAR - 30:
        value = _on_chart("length", profile, age_days, profile.z_height)
        if value is not None:
            return value
    return _final("length", profile, profile.z_height)


def weight_kg(profile: Profile, day: dt.date) -> float:
    age_days = (day - profile.birth).days
    if age_days < GROWTH_UNTIL_YEARS * YEAR - 30:
        value = _on_chart("weight", profile, age_days, profile.z_weight)
        if value is not None:
            return value
    years = age_days / YEAR
    # Adults gain slowly to their fifties, hold, then lose a little from seventy.
    gained = min(years, 55) - GROWTH_UNTIL_YEARS
    lost = max(0.0, years - 70)
    return (
        _final("weight", profile, profile.z_weight)
        + profile.drift_kg_per_year * gained
        - 0.4 * lost
    )


def head_cm(profile: Profile, day: dt.date) -> float | None:
    return _on_chart("head", profile, (day - profile.birth).days, profile.z_head)


# ---------------------------------------------------------------------------------------------
# One sitting


def _dec(value: float, step: str) -> Decimal:
    """value rounded to a multiple of `step` (e.g. "0.1", "0.25", "0.005")."""
    q = Decimal(step)
    return (Decimal(str(value)) / q).quantize(Decimal(1)) * q


def _weight(kg: float, imperial: bool, infant: bool) -> units.Quantity:
    if not imperial:
        return units.weight(kilograms=_dec(kg, "0.005" if infant else "0.1"))
    lb = kg / float(units.LB_IN_KG)
    if infant:  # the infant scale reads pounds and ounces, to half an ounce
        oz = _dec(lb * 16, "0.5")
        pounds, ounces = divmod(oz, 16)
        return units.weight(pounds=int(pounds), ounces=ounces)
    return units.weight(pounds=_dec(lb, "0.1"))


def _length(cm: float, imperial: bool) -> units.Quantity:
    if not imperial:
        return units.length(centimetres=_dec(cm, "0.1"))
    inches = _dec(cm / float(units.IN_IN_CM), "0.25")
    if inches < 48:
        return units.length(inches=inches)
    feet, rest = divmod(inches, 12)
    return units.length(feet=int(feet), inches=rest)


def _fleming(years: float) -> tuple[int, int]:
    hr, rr = FLEMING_MEDIANS[0][1:]
    for start, h, r in FLEMING_MEDIANS:
        if years >= start:
            hr, rr = h, r
    return hr, rr


@dataclass(frozen=True)
class Visit:
    encounter: Encounter
    taken_at: dt.datetime
    first: bool  # the patient's first visit with vitals
    height_due: bool


def sitting(profile: Profile, visit: Visit, imperial: bool) -> VitalsEntry:
    """What the MA measures at this visit."""
    enc = visit.encounter
    rng = _rng(enc.public_id)
    day = clock.localtime(visit.taken_at).date()
    years = _years(profile, day)
    age_days = (day - profile.birth).days
    reason = f"{enc.visit_type} {enc.reason}".lower()
    well = enc.visit_type in ("Well child", "Annual physical", "Medicare wellness")
    feverish = "sick" in enc.visit_type.lower() and any(w in reason for w in FEVER_WORDS)
    feverish = feverish and rng.random() < 0.6 and age_days >= 61  # AAP: no fever under 61 days
    temp_c = rng.uniform(37.8, 38.9) if feverish else rng.uniform(36.3, 37.3)
    if age_days < 61:
        temp_c = min(temp_c, 37.4)
    infant = years < 2
    weight = weight_kg(profile, day) * (1 + rng.gauss(0, 0.008 if infant else 0.01))
    entry = VitalsEntry(
        temperature=units.temperature(
            _dec(temp_c * 9 / 5 + 32, "0.1") if imperial else _dec(temp_c, "0.1"),
            "[degF]" if imperial else "Cel",
        ),
        temperature_route="temporal" if years < 4 else "oral",
        weight=_weight(weight, imperial, infant),
        taken_at=visit.taken_at,
    )
    fever_rise = max(0.0, temp_c - 37.2)
    if years < ADULT_YEARS:
        entry = _child(entry, profile, visit, rng, years, well, imperial, fever_rise)
    else:
        entry = _adult(entry, profile, visit, rng, years, well or visit.first, imperial, fever_rise)
    if feverish or profile.copd or rng.random() < (0.5 if years >= ADULT_YEARS else 0.2):
        low = 94 if profile.copd else 96
        entry = replace(entry, spo2=rng.randint(low, 99 if low == 96 else 96))
    return entry


def _child(
    entry: VitalsEntry,
    profile: Profile,
    visit: Visit,
    rng: random.Random,
    years: float,
    well: bool,
    imperial: bool,
    fever_rise: float,
) -> VitalsEntry:
    day = clock.localtime(visit.taken_at).date()
    hr, rr = _fleming(years)
    entry = replace(
        entry,
        heart_rate=round(hr * rng.uniform(0.92, 1.06) + 10 * fever_rise),
        heart_site="apical" if years < 2 else "radial",
        respiratory_rate=round(rr * rng.uniform(0.9, 1.08) + 2 * fever_rise),
    )
    if well or visit.first:
        recumbent = (day - profile.birth).days < growth.WHO_LENGTH_HEIGHT_SWITCH_DAYS
        cm = height_cm(profile, day) + rng.gauss(0, 0.25)
        entry = replace(entry, height=_length(cm, imperial), recumbent=recumbent)
        if years < 2 and well and (head := head_cm(profile, day)) is not None:
            entry = replace(
                entry, head=units.length(centimetres=_dec(head + rng.gauss(0, 0.15), "0.1"))
            )
        if years >= 3 and well:
            sbp = 92 + 1.6 * years + profile.bp_offset / 2 + rng.gauss(0, 5)
            dbp = 55 + 0.9 * years + rng.gauss(0, 4)
            entry = replace(
                entry,
                blood_pressure=BloodPressure(
                    round(sbp),
                    round(dbp),
                    "sitting",
                    "right",
                    "child" if years < 11 else "small adult",
                ),
            )
    if years >= 16:
        entry = replace(entry, consciousness="A")
    return entry


def _adult(
    entry: VitalsEntry,
    profile: Profile,
    visit: Visit,
    rng: random.Random,
    years: float,
    height_due: bool,
    imperial: bool,
    fever_rise: float,
) -> VitalsEntry:
    day = clock.localtime(visit.taken_at).date()
    if height_due or visit.height_due:
        cm = height_cm(profile, day) - 0.1 * max(0.0, years - 60) + rng.gauss(0, 0.4)
        entry = replace(entry, height=_length(cm, imperial), recumbent=False)
    if profile.hypertension is not None and day >= profile.hypertension:
        # Treated, not always to target: mostly stage 1, some stage 2, now and then controlled.
        sbp = 133 + 0.15 * (years - 40) + profile.bp_offset + rng.gauss(0, 9)
        dbp = 83 + profile.bp_offset / 2 + rng.gauss(0, 5)
        sbp, dbp = _clamp(sbp, 116, 172), _clamp(dbp, 70, 108)
    else:
        sbp = 106 + 0.25 * (years - 20) + profile.bp_offset + rng.gauss(0, 6)
        dbp = 68 + 0.1 * (years - 20) + profile.bp_offset / 2 + rng.gauss(0, 4)
        sbp, dbp = _clamp(sbp, 96, 136), _clamp(dbp, 58, 86)
    bmi = weight_kg(profile, day) / (height_cm(profile, day) / 100) ** 2
    hr = rng.gauss(76 if profile.afib else 72, 9) + 8 * fever_rise
    return replace(
        entry,
        blood_pressure=BloodPressure(
            round(sbp),
            round(min(dbp, sbp - 25)),
            "sitting",
            rng.choice(("left", "right")),
            "large adult" if bmi >= 32 else "adult",
        ),
        heart_rate=round(_clamp(hr, 54, 108)),
        heart_site="radial",
        rhythm="irregular" if profile.afib else "regular",
        respiratory_rate=rng.choice((14, 16, 16, 16, 18, 18)) + (2 if fever_rise > 0.5 else 0),
        consciousness="A",
    )


def _critical(entry: VitalsEntry, years: float) -> VitalsEntry:
    """Today's critical value at North: a hypertensive crisis, or a child's low oxygen."""
    if years >= ADULT_YEARS:
        bp = entry.blood_pressure or BloodPressure(0, 0, "sitting", "left", "adult")
        return replace(entry, blood_pressure=replace(bp, systolic=184, diastolic=114))
    return replace(entry, spo2=88)


# ---------------------------------------------------------------------------------------------
# Writing


def write_vitals(
    *,
    today: dt.date,
    tz: dt.tzinfo,
    clinics: dict[str, Clinic],
    users: dict,
    progress: Callable[[str], None] | None = None,
    every_patient: bool = EVERY_PATIENT,
) -> Recorded:
    """Record the vital signs of every visit that reached the room and has none yet (a second
    call adds nothing), for today's patients and the featured ones, or for every patient."""
    done = Recorded()
    for plan in CLINICS:
        clinic = clinics[plan.code]
        actor = Actor.for_user(users[plan.medical_assistant])
        _clinic(clinic, actor, today, tz, done, every_patient)
    if progress and (done.confirmations or done.refusals):
        progress(
            f"vital signs not saved: {len(done.confirmations)} to confirm, "
            f"{len(done.refusals)} refused"
        )
    return done


def _visits(clinic: Clinic, today: dt.date, tz: dt.tzinfo, every_patient: bool) -> list[Encounter]:
    start = dt.datetime.combine(today, dt.time.min, tzinfo=tz)
    patients = Patient.objects.filter(clinic=clinic)
    if not every_patient:
        featured = Q()
        for f in FEATURED:
            if f["clinic"] == clinic.code:
                featured |= Q(given=f["given"], family=f["family"])
        seen_today = Encounter.objects.filter(
            clinic=clinic, period_start__gte=start, period_start__lt=start + dt.timedelta(days=1)
        ).exclude(stage__in=(Stage.CANCELLED, Stage.NO_SHOW))
        patients = patients.filter(featured | Q(pk__in=seen_today.values("patient_id")))
    past = Encounter.objects.filter(
        clinic=clinic, kind="AMB", stage=Stage.DONE, period_start__lt=start
    )
    todays = Encounter.objects.filter(
        clinic=clinic,
        kind="AMB",
        stage__in=TODAY_MEASURED,
        period_start__gte=start,
        period_start__lt=start + dt.timedelta(days=1),
    )
    if not every_patient:
        since = start - dt.timedelta(days=HISTORY_DAYS)
        young = today - dt.timedelta(days=round(GROWTH_CURVE_YEARS * YEAR))
        past = past.filter(Q(period_start__gte=since) | Q(patient__birth_date__gt=young))
    return list(
        (past | todays)
        .filter(patient__in=patients)
        .exclude(vital_sets__isnull=False)
        .select_related("patient")
        .order_by("patient_id", "period_start", "public_id")
    )


def _clinic(
    clinic: Clinic,
    actor: Actor,
    today: dt.date,
    tz: dt.tzinfo,
    done: Recorded,
    every_patient: bool,
) -> None:
    visits = _visits(clinic, today, tz, every_patient)
    problems: dict[int, dict[str, dt.date | None]] = {}
    for patient_id, code, onset in Condition.objects.filter(
        patient__clinic=clinic, category="problem-list-item", active=True
    ).values_list("patient_id", "icd10", "onset_date"):
        problems.setdefault(patient_id, {})[code] = onset
    stamps: dict[tuple[int, str], dt.datetime] = {
        (enc_id, stage): at
        for enc_id, stage, at in StageChange.objects.filter(
            encounter__clinic=clinic, to_stage__in=(Stage.ROOMED, Stage.READY_FOR_PROVIDER)
        ).values_list("encounter_id", "to_stage", "at")
    }
    measured_before = set(
        VitalSign.objects.filter(clinic=clinic).values_list("patient_id", flat=True).distinct()
    )
    critical = _critical_visit(clinic, visits, today) if clinic.code == "north" else None
    metric_share = NORTH_METRIC_SHARE if clinic.code == "north" else 1 - SOUTH_IMPERIAL_SHARE
    now = clock.now()
    for patient_id, group in groupby(visits, key=lambda v: v.patient_id):
        ours = list(group)
        profile = profile_of(ours[0].patient, problems.get(patient_id, {}))
        first = patient_id not in measured_before
        last_height: dt.date | None = None
        for enc in ours:
            rng = _rng(enc.public_id, "when")
            roomed = stamps.get((enc.pk, Stage.ROOMED))
            if roomed is not None:
                ready = stamps.get((enc.pk, Stage.READY_FOR_PROVIDER), roomed + ROOMING)
                taken = roomed + (ready - roomed) * rng.uniform(0.25, 0.6)
            else:
                taken = enc.period_start + dt.timedelta(minutes=rng.randint(8, 14))
            taken = min(taken.replace(microsecond=0), now)
            day = clock.localtime(taken).date()
            height_due = last_height is None or (day - last_height).days > 330
            imperial = rng.random() >= metric_share
            entry = sitting(profile, Visit(enc, taken, first, height_due), imperial)
            if enc.pk == critical:
                entry = _critical(entry, _years(profile, day))
            if _record(actor, enc, entry, done, repeat=enc.pk != critical):
                first = False
                if entry.height is not None:
                    last_height = day


def _critical_visit(clinic: Clinic, visits: list[Encounter], today: dt.date) -> int | None:
    """Today's North visit that gets the critical value (None when no visit of today is past
    rooming)."""
    todays = {v.stage: v.pk for v in visits if clock.localtime(v.period_start).date() == today}
    return next((todays[s] for s in CRITICAL_AT if s in todays), None)


def _record(
    actor: Actor, enc: Encounter, entry: VitalsEntry, done: Recorded, *, repeat: bool
) -> bool:
    """One sitting through the service, with the visit in the room for the call; and the repeat
    blood pressure when the app asks for one (unless `repeat` is False: left to the live
    flow, whose board shows the timer)."""
    stage = enc.stage
    enc.stage = Stage.ROOMED
    try:
        outcome = record_vitals(actor=actor, patient=enc.patient, encounter=enc, entry=entry)
        if outcome.vital_set is None:
            done.confirmations.append(f"{enc.public_id}: {[f.code for f in outcome.to_confirm]}")
            return False
        done.sets += 1
        done.alerts += len(outcome.alerts)
        bp = next((s for s in outcome.signs if s.measure == Measure.BLOOD_PRESSURE), None)
        if repeat and bp is not None and bp.repeat_due_at is not None and entry.blood_pressure:
            rng = _rng(enc.public_id, "repeat")
            first = entry.blood_pressure
            again = replace(
                first,
                systolic=first.systolic - rng.randint(1, 8),
                diastolic=first.diastolic - rng.randint(0, 4),
            )
            at = min(bp.effective + REPEAT_AFTER, clock.now())
            again_out = record_vitals(
                actor=actor,
                patient=enc.patient,
                encounter=enc,
                entry=VitalsEntry(blood_pressure=again, taken_at=at),
            )
            done.repeats += again_out.vital_set is not None
            done.alerts += len(again_out.alerts)
        return True
    except ValidationError as exc:
        done.refusals.append(f"{enc.public_id}: {exc.messages}")
        return False
    finally:
        enc.stage = stage
