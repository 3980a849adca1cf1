"""Reads of vital signs and alerts, each scoped to the actor's clinics and audited where they
show patient data."""

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.patients.models import Patient
from medassist.vitals import units
from medassist.vitals.assess import ADULT_YEARS, Sitting, assess, completed_years
from medassist.vitals.interpretation import Interpretation
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign
from medassist.vitals.services import sex_for_charts

# What the flowsheet shows, in the order an MA takes them.
FLOWSHEET = (
    Measure.BLOOD_PRESSURE,
    Measure.HEART_RATE,
    Measure.RESPIRATORY_RATE,
    Measure.TEMPERATURE,
    Measure.SPO2,
    Measure.HEIGHT,
    Measure.WEIGHT,
    Measure.BMI,
    Measure.HEAD,
    Measure.BMI_PERCENTILE,
    Measure.WEIGHT_FOR_LENGTH,
    Measure.HEAD_PERCENTILE,
)


def shown(sign: VitalSign) -> str:
    """The value as measured, with the other unit system beside it: "70.3 kg (155 lb)"."""
    if sign.value is None:
        return f"not measured ({sign.absent_reason})" if sign.absent_reason else "not measured"
    if sign.measure == Measure.BLOOD_PRESSURE:
        return f"{int(sign.value)}/{int(sign.value2 or 0)} mmHg"
    if sign.unit in (units.PCT, units.PER_MIN, units.KG_M2, units.MMHG):
        label = {units.PER_MIN: "/min", units.KG_M2: "kg/m²"}.get(sign.unit, sign.unit)
        value = sign.value.normalize()
        return f"{value:f}{'' if label in ('%', '/min') else ' '}{label}"
    return units.show_both(units.Quantity(sign.value.normalize(), sign.unit))


@dataclass
class Row:
    """One measurement as the flowsheet shows it."""

    sign: VitalSign
    text: str
    flag: str
    interpretation: str
    source: str
    range_text: str

    @classmethod
    def of(cls, sign: VitalSign) -> "Row":
        low, high = sign.range_low, sign.range_high
        unit = sign.range_unit
        if low is not None and high is not None:
            rng = f"{_num(low)}–{_num(high)} {unit}"
        elif low is not None:
            rng = f"≥ {_num(low)} {unit}"
        elif high is not None:
            rng = f"≤ {_num(high)} {unit}"
        else:
            rng = ""
        return cls(sign, shown(sign), sign.flag, sign.interpretation, sign.source, rng.strip())


def _num(d: Decimal) -> str:
    return f"{d.normalize():f}"


@dataclass
class VisitVitals:
    """The visit's vital signs: every reading, the latest of each, the blood pressures with
    their average, the last visit's values beside today's, alerts and the repeat timer."""

    rows: list[Row]
    latest: dict[str, Row]
    blood_pressures: list[Row]
    average_bp: str = ""
    average_bp_reading: Interpretation | None = None
    previous: dict[str, Row] = field(default_factory=dict)
    previous_date: dt.date | None = None
    alerts: list[VitalAlert] = field(default_factory=list)
    repeat_due_at: dt.datetime | None = None
    news2: VitalSet | None = None
    age_days: int = 0

    @property
    def choices(self) -> dict[str, Any]:
        from medassist.vitals import forms

        return {
            "positions": forms.POSITIONS,
            "arms": forms.ARMS,
            "cuffs": forms.CUFFS,
            "sites": forms.PULSE_SITES,
            "rhythms": forms.RHYTHMS,
            "routes": forms.ROUTES,
            "acvpu": VitalSet.Consciousness.choices,
        }

    @property
    def show_head(self) -> bool:
        """Head circumference is measured under 3 years (AAP Bright Futures periodicity)."""
        return self.age_days < 3 * 365.25

    @property
    def lying_length(self) -> bool:
        """Under 2 years a child is measured lying down (CDC/WHO: recumbent length < 24 months)."""
        return self.age_days < 731

    @property
    def flowsheet(self) -> list[tuple[str, Row | None, Row | None]]:
        return [
            (Measure(m).label, self.latest.get(m), self.previous.get(m))
            for m in FLOWSHEET
            if m in self.latest or m in self.previous
        ]

    @property
    def repeat_seconds(self) -> int | None:
        if self.repeat_due_at is None:
            return None
        return max(0, int((self.repeat_due_at - clock.now()).total_seconds()))


def visit_vitals(visit: Encounter) -> VisitVitals:
    """For a visit the caller has already opened (and audited). Three queries."""
    signs = list(
        VitalSign.objects.filter(encounter=visit, status=VitalSign.Status.FINAL)
        .select_related("vital_set")
        .order_by("effective", "id")
    )
    rows = [Row.of(s) for s in signs]
    latest = {r.sign.measure: r for r in rows}
    bps = [r for r in rows if r.sign.measure == Measure.BLOOD_PRESSURE and r.sign.value is not None]
    out = VisitVitals(
        rows=rows,
        latest=latest,
        blood_pressures=bps,
        age_days=(_visit_day(visit) - visit.patient.birth_date).days,
    )
    if len(bps) >= 2:
        sbp = round(statistics.mean(int(r.sign.value or 0) for r in bps))
        dbp = round(statistics.mean(int(r.sign.value2 or 0) for r in bps))
        out.average_bp = f"{sbp}/{dbp} mmHg (average of {len(bps)})"
        patient = visit.patient
        height = latest.get(Measure.HEIGHT)
        out.average_bp_reading = assess(
            Sitting(
                age_days=out.age_days,
                age_years=completed_years(patient.birth_date, _visit_day(visit)),
                sex=sex_for_charts(patient),
                systolic=sbp,
                diastolic=dbp,
                height_cm=units.rounded(units.to_cm(_q(height.sign)), 1)
                if height and height.sign.value is not None
                else None,
            )
        ).by_measure.get("bp")
    if bps and bps[-1].sign.repeat_due_at is not None and len(bps) == 1:
        out.repeat_due_at = bps[-1].sign.repeat_due_at
    sets = [s.vital_set for s in signs if s.vital_set.news2_total is not None]
    out.news2 = sets[-1] if sets else None
    previous_visit = (
        VitalSign.objects.filter(
            patient_id=visit.patient_id,
            status=VitalSign.Status.FINAL,
            encounter__isnull=False,
            effective__lt=signs[0].effective if signs else visit.period_start,
        )
        .exclude(encounter=visit)
        .order_by("-effective")
        .values_list("encounter_id", flat=True)
        .first()
    )
    if previous_visit is not None:
        earlier = VitalSign.objects.filter(
            encounter_id=previous_visit, status=VitalSign.Status.FINAL
        ).order_by("effective", "id")
        out.previous = {s.measure: Row.of(s) for s in earlier}
        if out.previous:
            any_row = next(iter(out.previous.values()))
            out.previous_date = clock.localtime(any_row.sign.effective).date()
    out.alerts = list(
        VitalAlert.objects.filter(encounter=visit).select_related("owner", "acknowledged_by")
    )
    return out


def _visit_day(visit: Encounter) -> dt.date:
    """The visit's day: ages on the flowsheet are the patient's age then, not today."""
    return clock.localtime(visit.period_start).date()


def _q(sign: VitalSign) -> units.Quantity:
    return units.Quantity((sign.value or Decimal(0)).normalize(), sign.unit)


# Alerts ------------------------------------------------------------------------------------


def alerts_for(actor: Actor) -> QuerySet[VitalAlert]:
    """The open alerts this actor must act on: their own (at clinics where they still work);
    for a provider, those with no owner at their clinics; for a manager, those escalated at
    their clinics."""
    mine = Q(owner_id=actor.user_id, clinic_id__in=actor.clinics_with(Permission.ACKNOWLEDGE_ALERT))
    unowned = Q(owner__isnull=True, clinic_id__in=actor.clinics_with(Permission.SEE_PATIENT))
    escalated = Q(
        escalated_at__isnull=False,
        clinic_id__in=actor.clinics_with(Permission.MANAGE_VITALS_POLICY),
    )
    return (
        VitalAlert.objects.filter(status=VitalAlert.Status.REQUESTED)
        .filter(mine | unowned | escalated)
        .select_related("patient", "sign", "encounter__room", "owner")
        .order_by("raised_at")
    )


def _one(actor: Actor, rows: QuerySet[Any], public_id: uuid.UUID | str, entity: str) -> Any:
    """One row of the actor's clinics by public id, or 404 (absent and out of reach look the
    same); the read is audited either way."""
    row = rows.filter(clinic_id__in=actor.clinics_with(Permission.VIEW_PATIENT)).first()
    if row is None:
        raise out_of_reach(actor, entity, public_id, message=f"No such {entity}")
    record(
        actor,
        Action.READ,
        entity,
        patient=row.patient,
        clinic_id=row.clinic_id,
        entity_id=str(row.public_id),
    )
    return row


def get_sign(actor: Actor, public_id: uuid.UUID | str) -> VitalSign:
    rows = VitalSign.objects.select_related("patient", "encounter").filter(public_id=public_id)
    return _one(actor, rows, public_id, "Observation")


def get_alert(actor: Actor, public_id: uuid.UUID | str) -> VitalAlert:
    rows = VitalAlert.objects.select_related(
        "patient", "sign", "encounter", "owner", "acknowledged_by"
    ).filter(public_id=public_id)
    return _one(actor, rows, public_id, "Task")


@dataclass
class BoardMark:
    alerts: list[str] = field(default_factory=list)  # reasons of open alerts
    repeat_due_at: dt.datetime | None = None


def board_marks(clinic_id: int, encounter_ids: list[int]) -> dict[int, BoardMark]:
    """Open alerts and blood-pressure repeat timers of the board's visits: two queries."""
    marks: dict[int, BoardMark] = defaultdict(BoardMark)
    for encounter_id, reason in VitalAlert.objects.filter(
        clinic_id=clinic_id, encounter_id__in=encounter_ids, status=VitalAlert.Status.REQUESTED
    ).values_list("encounter_id", "reason"):
        marks[encounter_id].alerts.append(reason)
    for encounter_id, due in VitalSign.objects.filter(
        clinic_id=clinic_id,
        encounter_id__in=encounter_ids,
        measure=Measure.BLOOD_PRESSURE,
        repeat_due_at__isnull=False,
    ).values_list("encounter_id", "repeat_due_at"):
        marks[encounter_id].repeat_due_at = due
    return dict(marks)


def board_alert_stamp(clinic_id: int, day_start: dt.datetime) -> str:
    """Changes whenever an alert of the day is raised or acknowledged, or a repeat timer is set
    or ended: part of the board's fingerprint."""
    from django.db.models import Count, Max

    a = VitalAlert.objects.filter(clinic_id=clinic_id, raised_at__gte=day_start).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    b = VitalSign.objects.filter(
        clinic_id=clinic_id, effective__gte=day_start, measure=Measure.BLOOD_PRESSURE
    ).aggregate(n=Count("id"), due=Count("repeat_due_at"))
    return f"{a['n']}|{a['last']}|{b['n']}|{b['due']}"


@dataclass
class AckReport:
    count: int
    open: int
    median_seconds: float | None
    p90_seconds: float | None
    escalated: int
    rows: list[VitalAlert]


def acknowledgment_report(actor: Actor, clinic: Any, since: dt.datetime) -> AckReport:
    """Time to acknowledge critical-value alerts at a clinic since a date (clinic reports)."""
    from django.core.exceptions import PermissionDenied

    if not can(actor, Permission.VIEW_CLINIC_REPORTS, clinic):
        raise PermissionDenied("Your role does not include this clinic's reports.")
    rows = list(
        VitalAlert.objects.filter(clinic=clinic, raised_at__gte=since)
        .select_related("owner", "acknowledged_by", "patient")
        .order_by("-raised_at")[:500]
    )
    seconds = sorted(s for r in rows if (s := r.seconds_to_acknowledge) is not None)
    record(
        actor,
        Action.READ,
        "AlertReport",
        clinic_id=clinic.pk,
        entity_id=str(since.date()),
        description=f"critical-value acknowledgment report: {len(rows)} alerts",
    )
    return AckReport(
        count=len(rows),
        open=sum(r.status == VitalAlert.Status.REQUESTED for r in rows),
        median_seconds=statistics.median(seconds) if seconds else None,
        p90_seconds=statistics.quantiles(seconds, n=10, method="inclusive")[8]
        if len(seconds) >= 2
        else (seconds[0] if seconds else None),
        escalated=sum(r.escalated_at is not None for r in rows),
        rows=rows,
    )


# Trends and growth ------------------------------------------------------------------------


@dataclass
class Trend:
    measure: str
    label: str
    points: list[tuple[dt.datetime, float, float | None]]  # time, value (canonical), value2
    unit: str
    band: tuple[float, float] | None  # the latest reading's reference range
    rows: list[Row]


def patient_trends(actor: Actor, patient_public_id: uuid.UUID | str) -> tuple[Patient, list[Trend]]:
    from medassist.patients.selectors import get_patient

    patient = get_patient(actor, patient_public_id)
    signs = list(
        VitalSign.objects.filter(
            patient=patient, status=VitalSign.Status.FINAL, value__isnull=False
        ).order_by("effective", "id")[:2000]
    )
    record(
        actor,
        Action.READ,
        "Observation",
        patient=patient,
        clinic_id=patient.clinic_id,
        entity_id=str(patient.public_id),
        description=f"vital-sign trends: {len(signs)} observations",
    )
    by_measure: dict[str, list[VitalSign]] = defaultdict(list)
    for s in signs:
        by_measure[s.measure].append(s)
    trends = []
    for m in FLOWSHEET:
        if m not in by_measure:
            continue
        rows = by_measure[m]
        unit, convert = _canonical_unit(m)
        points = [
            (s.effective, float(convert(s)), float(s.value2) if s.value2 is not None else None)
            for s in rows
        ]
        last = rows[-1]
        band = None
        growing = m in _GROWING and is_child(patient)
        if (
            not growing
            and last.range_low is not None
            and last.range_high is not None
            and last.range_unit == unit
        ):
            band = (float(last.range_low), float(last.range_high))
        trends.append(Trend(m, Measure(m).label, points, unit, band, [Row.of(s) for s in rows]))
    return patient, trends


def _canonical_unit(measure: str) -> tuple[str, Any]:
    if measure == Measure.WEIGHT:
        return units.KG, lambda s: units.to_kg(_q(s))
    if measure in (Measure.HEIGHT, Measure.HEAD):
        return units.CM, lambda s: units.to_cm(_q(s))
    if measure == Measure.TEMPERATURE:
        return units.CEL, lambda s: units.to_celsius(_q(s))
    return _STORED_UNIT.get(measure, ""), lambda s: s.value


_STORED_UNIT: dict[str, str] = {
    Measure.BLOOD_PRESSURE: units.MMHG,
    Measure.HEART_RATE: units.PER_MIN,
    Measure.RESPIRATORY_RATE: units.PER_MIN,
    Measure.SPO2: units.PCT,
    Measure.BMI: units.KG_M2,
    Measure.BMI_PERCENTILE: units.PCT,
    Measure.WEIGHT_FOR_LENGTH: units.PCT,
    Measure.HEAD_PERCENTILE: units.PCT,
}
# A child's weight, height, head and BMI ranges move with age: their band belongs on the growth
# chart (centile curves), not across a trend of dates.
_GROWING = frozenset({Measure.WEIGHT, Measure.HEIGHT, Measure.HEAD, Measure.BMI})


def is_child(patient: Patient) -> bool:
    return completed_years(patient.birth_date, clock.today()) < ADULT_YEARS
