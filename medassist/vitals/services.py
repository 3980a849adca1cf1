"""Recording vital signs, and the alerts they raise.

record_vitals() is the one way in, for the rooming form and for FHIR Observation POSTs alike:
plausibility first (impossible values refused with the likely slip named; improbable ones
must be confirmed), then the interpretation for the patient's age, then the clinic's
critical-value policy, all in one transaction with the audit entries. Nothing is half-saved.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.patients.models import Patient
from medassist.vitals import adult, plausibility, units
from medassist.vitals.assess import (
    ADULT_YEARS,
    NEWS2_MIN_YEARS,
    Assessment,
    Sitting,
    assess,
    completed_years,
)
from medassist.vitals.interpretation import Interpretation
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign, VitalsPolicy
from medassist.vitals.policy import Measured, Policy, Trigger, critical_triggers
from medassist.vitals.units import Quantity

# The stages in which vitals are taken: in the room, before and with the provider.
OPEN_STAGES = frozenset(
    {Encounter.Stage.ROOMED, Encounter.Stage.READY_FOR_PROVIDER, Encounter.Stage.WITH_PROVIDER}
)
# A height this recent stands for an adult's height in BMI (adults' height barely changes;
# children are measured at the visit).
ADULT_HEIGHT_FOR_BMI = dt.timedelta(days=365)
CHILD_HEIGHT_FOR_BMI = dt.timedelta(hours=12)
CHILD_HEIGHT_FOR_BP = dt.timedelta(days=31)
RAISED_BP = frozenset({"elevated", "stage1", "stage2", "crisis"})
# Critical values call the provider only when measured within this long (a record sent in from
# another system about last year is flagged, but it is not an emergency now).
ALERT_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class BloodPressure:
    systolic: int
    diastolic: int
    position: str = ""  # sitting, standing, lying
    arm: str = ""  # left, right
    cuff: str = ""  # small adult, adult, large adult, child, infant, thigh


@dataclass(frozen=True)
class Reported:
    """A value received as already worked out elsewhere (a FHIR BMI or percentile): stored as
    sent, never computed here from it."""

    measure: str
    value: Decimal | None
    unit: str
    absent_reason: str = ""


@dataclass(frozen=True)
class VitalsEntry:
    blood_pressure: BloodPressure | None = None
    heart_rate: int | None = None
    heart_site: str = ""  # radial, apical, brachial, monitor
    rhythm: str = ""  # regular, irregular
    respiratory_rate: int | None = None
    temperature: Quantity | None = None
    temperature_route: str = ""  # oral, tympanic, temporal, axillary, rectal
    spo2: int | None = None
    on_oxygen: bool = False
    o2_flow: Decimal | None = None  # L/min
    o2_concentration: int | None = None  # %
    height: Quantity | None = None
    recumbent: bool | None = None  # True: length lying down; False: standing height
    weight: Quantity | None = None
    head: Quantity | None = None
    consciousness: str = ""  # ACVPU
    reported: tuple[Reported, ...] = ()
    taken_at: dt.datetime | None = None
    # What an adapter keeps with a measurement beyond the value, by measure (the FHIR create
    # keeps the sender's extra codes, period end and notes): merged into VitalSign.details.
    details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The sender's identifier of the measurement ("system|value"), kept on its row: the same
    # one received again is refused by a unique constraint (the adapter answers with the first).
    source_identifier: str = ""

    def quantities(self) -> dict[str, Quantity]:
        """The values as plausibility.check() reads them."""
        q: dict[str, Quantity] = {}
        if bp := self.blood_pressure:
            q["systolic"] = Quantity(Decimal(bp.systolic), units.MMHG)
            q["diastolic"] = Quantity(Decimal(bp.diastolic), units.MMHG)
        for name in ("heart_rate", "respiratory_rate"):
            if (v := getattr(self, name)) is not None:
                q[name] = Quantity(Decimal(v), units.PER_MIN)
        if self.spo2 is not None:
            q["spo2"] = Quantity(Decimal(self.spo2), units.PCT)
        if self.o2_flow is not None:
            q["o2_flow"] = Quantity(self.o2_flow, units.L_MIN)
        if self.o2_concentration is not None:
            q["o2_concentration"] = Quantity(Decimal(self.o2_concentration), units.PCT)
        for name in ("temperature", "height", "weight", "head"):
            if (v := getattr(self, name)) is not None:
                q[name] = v
        return q

    @property
    def is_empty(self) -> bool:
        return not self.quantities() and not self.reported


@dataclass
class Outcome:
    """What record_vitals() did: saved the set (and raised alerts), or saved nothing because
    some values must be confirmed first."""

    vital_set: VitalSet | None = None
    signs: list[VitalSign] = field(default_factory=list)
    alerts: list[VitalAlert] = field(default_factory=list)
    to_confirm: list[plausibility.Finding] = field(default_factory=list)
    would_alert: list[str] = field(default_factory=list)  # what confirming will send
    accepted_unconfirmed: list[plausibility.Finding] = field(default_factory=list)


def clinic_policy(clinic_id: int) -> Policy:
    return Policy.of(VitalsPolicy.objects.filter(clinic_id=clinic_id).first())


def closed_reason(encounter: Encounter) -> str:
    if encounter.stage in OPEN_STAGES:
        return ""
    return (
        f"This visit is {encounter.get_stage_display().lower()}: vital signs are recorded while "
        "the patient is in the room."
    )


def sex_for_charts(patient: Patient) -> str:
    """The sex of the growth and blood-pressure tables: birth sex where recorded (the tables
    are by sex at birth), else the administrative sex when it is male or female."""
    by_birth = {"M": "male", "F": "female"}.get(patient.birth_sex, "")
    return by_birth or (patient.sex if patient.sex in ("male", "female") else "")


def _previous(patient: Patient, before: dt.datetime) -> dict[str, tuple[Quantity, dt.datetime]]:
    """The patient's last weight, height and head circumference before `before`: the
    plausibility check compares against them."""
    found: dict[str, tuple[Quantity, dt.datetime]] = {}
    rows = (
        VitalSign.objects.filter(
            patient=patient,
            measure__in=(Measure.WEIGHT, Measure.HEIGHT, Measure.HEAD),
            status=VitalSign.Status.FINAL,
            effective__lt=before,
            value__isnull=False,
        )
        .order_by("-effective")
        .values_list("measure", "value", "unit", "effective")[:30]
    )
    for measure, value, unit, effective in rows:
        if value is not None:
            found.setdefault(measure, (Quantity(value.normalize(), unit), effective))
    return found


def _recent_height(patient: Patient, at: dt.datetime, within: dt.timedelta) -> Quantity | None:
    row = (
        VitalSign.objects.filter(
            patient=patient,
            measure=Measure.HEIGHT,
            status=VitalSign.Status.FINAL,
            effective__lte=at,
            effective__gte=at - within,
            value__isnull=False,
        )
        .order_by("-effective")
        .values_list("value", "unit", "details")
        .first()
    )
    if not row or row[0] is None:
        return None
    return Quantity(row[0].normalize(), row[1])


def _check(
    entry: VitalsEntry,
    *,
    age_days: int,
    previous: dict[str, tuple[Quantity, dt.datetime]],
    now: dt.datetime,
) -> tuple[list[plausibility.Finding], list[plausibility.Finding]]:
    values = entry.quantities()
    findings = plausibility.check(values, age_days=age_days, previous=previous, now=now)
    refused = [f for f in findings if f.level == "refuse"]
    # What the MA confirms is this value of this measure: change the value and she is asked
    # again (a code alone would carry a confirmation over to a different number).
    to_confirm = [
        dataclasses.replace(f, code=f"{f.measure}:{f.code}:{_token_value(values.get(f.measure))}")
        for f in findings
        if f.level == "confirm"
    ]
    return refused, to_confirm


def _token_value(q: Quantity | None) -> str:
    return "" if q is None else f"{q.value.normalize():f}{q.unit}"


def record_vitals(
    *,
    actor: Actor,
    patient: Patient,
    entry: VitalsEntry,
    encounter: Encounter | None = None,
    confirmed: Iterable[str] = (),
    accept_improbable: bool = False,
    channel: str = "web",
) -> Outcome:
    """Record one sitting of vital signs. Raises ValidationError (keyed by field) for
    impossible values and PermissionDenied outside the actor's reach. Values that need
    confirming come back in Outcome.to_confirm and nothing is saved, unless every one's code
    is in `confirmed` (or `accept_improbable`, for API clients, who get them back as
    warnings)."""
    clinic_id = encounter.clinic_id if encounter is not None else patient.clinic_id
    if not can(actor, Permission.RECORD_VITALS, encounter or patient):
        raise PermissionDenied("Your role may not record vital signs at this clinic.")
    if encounter is not None and (problem := closed_reason(encounter)):
        raise ValidationError(problem)
    if entry.is_empty:
        raise ValidationError("Enter at least one vital sign.")
    now = clock.now()
    taken_at = entry.taken_at or now
    if taken_at > now + dt.timedelta(minutes=5):
        raise ValidationError({"effective": "The time measured is in the future."})
    day = clock.localtime(taken_at).date()
    age_days = (day - patient.birth_date).days
    age_years = completed_years(patient.birth_date, day)
    if age_days < 0:
        raise ValidationError({"effective": "The time measured is before the patient's birth."})
    refused, to_confirm = _check(
        entry, age_days=age_days, previous=_previous(patient, taken_at), now=taken_at
    )
    if refused:
        raise ValidationError(_by_field(refused))
    pending = [f for f in to_confirm if f.code not in set(confirmed)]
    sitting, assessment = _assess(entry, patient, age_days, age_years, taken_at)
    if pending and not accept_improbable:
        # Nothing is saved yet; say what confirming will set off, so a critical value that is
        # also improbable (SpO2 78%) is confirmed at once, not left on the screen.
        would = critical_triggers(clinic_policy(clinic_id), _measured(sitting, assessment))
        return Outcome(to_confirm=pending, would_alert=[t.reason for t in would])
    news2 = assessment.news2
    with transaction.atomic():
        policy = clinic_policy(clinic_id)
        vital_set = VitalSet.objects.create(
            patient=patient,
            clinic_id=clinic_id,
            encounter=encounter,
            taken_at=taken_at,
            by_id=actor.signed_in_user_id,
            created_by_id=actor.signed_in_user_id,
            consciousness=entry.consciousness,
            on_oxygen=entry.on_oxygen,
            confirmed=[{"code": f.code, "message": f.message} for f in to_confirm],
            channel=channel,
            news2_total=news2.total if news2 else None,
            news2_scores=dict(news2.scores) if news2 else {},
            news2_risk=news2.clinical_risk if news2 else "",
            news2_response=news2.response if news2 else "",
        )
        recent = now - taken_at <= ALERT_WINDOW
        writer = _Writer(actor, vital_set, patient, encounter)
        writer.build(entry, sitting, assessment, to_confirm if accept_improbable else [])
        if encounter is not None and entry.blood_pressure is not None and recent:
            _time_the_repeat(writer, encounter, age_years, policy)
        writer.save()
        # A reading taken long ago (a record sent in from elsewhere) is flagged but calls
        # nobody: the alert is for what is happening to the patient now.
        triggers = critical_triggers(policy, _measured(sitting, assessment)) if recent else []
        alerts = [_raise(actor, writer, t) for t in triggers]
        record(
            actor,
            Action.CREATE,
            "Observation",
            patient=patient,
            clinic_id=clinic_id,
            # The first observation's id (the one a FHIR client was answered with); the
            # description names every measurement of the sitting.
            entity_id=str(writer.signs[0].public_id),
            description=(
                f"vital signs: {', '.join(s.measure for s in writer.signs)}"
                + (f"; {len(alerts)} critical" if alerts else "")
                + (f"; confirmed {', '.join(f.code for f in to_confirm)}" if to_confirm else "")
            )[:300],
        )
    return Outcome(
        vital_set=vital_set,
        signs=writer.signs,
        alerts=alerts,
        accepted_unconfirmed=to_confirm if accept_improbable else [],
    )


def _by_field(findings: list[plausibility.Finding]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.measure, []).append(f.message)
    return out


def _assess(
    entry: VitalsEntry, patient: Patient, age_days: int, age_years: int, taken_at: dt.datetime
) -> tuple[Sitting, Assessment]:
    height = entry.height
    bmi_height = height
    if height is None and entry.weight is not None:
        # An adult's height of the last year stands for today's; a child's only the same day's.
        within = ADULT_HEIGHT_FOR_BMI if age_years >= ADULT_YEARS else CHILD_HEIGHT_FOR_BMI
        bmi_height = _recent_height(patient, taken_at, within)
    bp_height = height or bmi_height
    if bp_height is None and entry.blood_pressure is not None and age_years < ADULT_YEARS:
        # A child's blood pressure is read at their height percentile (AAP 2017): a height of
        # the last month will do when the MA repeats only the pressure.
        bp_height = _recent_height(patient, taken_at, CHILD_HEIGHT_FOR_BP)
    bmi = units.bmi(entry.weight, bmi_height) if entry.weight and bmi_height else None
    bp = entry.blood_pressure
    sitting = Sitting(
        age_days=age_days,
        age_years=age_years,
        sex=sex_for_charts(patient),
        systolic=bp.systolic if bp else None,
        diastolic=bp.diastolic if bp else None,
        heart_rate=entry.heart_rate,
        respiratory_rate=entry.respiratory_rate,
        temperature_c=_canonical(entry.temperature, units.to_celsius, 1),
        spo2=entry.spo2,
        on_oxygen=entry.on_oxygen,
        consciousness=entry.consciousness,
        height_cm=_canonical(height or bmi_height, units.to_cm, 1),
        bp_height_cm=_canonical(bp_height, units.to_cm, 1),
        recumbent=entry.recumbent,
        weight_kg=_canonical(entry.weight, units.to_kg, 3),
        head_cm=_canonical(entry.head, units.to_cm, 1),
        bmi=bmi,
    )
    return sitting, assess(sitting)


def _canonical(q: Quantity | None, convert: Any, places: int) -> Decimal | None:
    return None if q is None else units.rounded(convert(q), places)


def _measured(s: Sitting, a: Assessment) -> Measured:
    news2 = a.news2
    red: tuple[str, ...] = ()
    if news2 is None and (s.age_years or 0) >= NEWS2_MIN_YEARS:
        red = tuple(
            m
            for m, i in a.by_measure.items()
            if i.flag.is_critical and i.source == adult.NEWS2_SOURCE
        )
    return Measured(
        red_readings=red,
        age_days=s.age_days,
        systolic=s.systolic,
        diastolic=s.diastolic,
        heart_rate=s.heart_rate,
        respiratory_rate=s.respiratory_rate,
        spo2=s.spo2,
        temperature_c=s.temperature_c,
        pals_hypotension=a.pals_hypotension,
        news2_total=news2.total if news2 else None,
        news2_red=tuple(p for p, score in news2.scores.items() if score == 3) if news2 else (),
        interpretations=a.by_measure,
    )


class _Writer:
    """Saves the sitting's rows, each with its interpretation."""

    def __init__(
        self, actor: Actor, vital_set: VitalSet, patient: Patient, encounter: Encounter | None
    ) -> None:
        self.actor = actor
        self.set = vital_set
        self.patient = patient
        self.encounter = encounter
        self.signs: list[VitalSign] = []
        self.extra: Mapping[str, Mapping[str, Any]] = {}

    def sign(
        self,
        measure: str,
        value: Decimal | None,
        unit: str,
        interpretation: Interpretation | None = None,
        **fields: Any,
    ) -> VitalSign:
        i = interpretation
        if extra := self.extra.get(measure):
            fields["details"] = {**fields.get("details", {}), **extra}
        sign = VitalSign(
            vital_set=self.set,
            patient=self.patient,
            clinic_id=self.set.clinic_id,
            encounter=self.encounter,
            measure=measure,
            effective=self.set.taken_at,
            value=value,
            unit=unit,
            by_id=self.actor.signed_in_user_id,
            created_by_id=self.actor.signed_in_user_id,
            **fields,
        )
        if i is not None:
            sign.flag = str(i.flag)
            sign.category = i.category
            sign.interpretation = i.text[:200]
            sign.range_low, sign.range_high, sign.range_unit = i.low, i.high, i.unit
            sign.source = str(i.source)[:300]
            sign.percentile, sign.z = i.percentile, i.z
        self.signs.append(sign)
        return sign

    def build(
        self,
        e: VitalsEntry,
        s: Sitting,
        a: Assessment,
        warnings: list[plausibility.Finding],
    ) -> None:
        by = a.by_measure
        self.extra = e.details
        details: dict[str, Any]
        if bp := e.blood_pressure:
            details = {
                k: v
                for k, v in (("position", bp.position), ("arm", bp.arm), ("cuff", bp.cuff))
                if v
            }
            if a.pediatric_bp is not None:
                details["pediatric"] = _pediatric_details(a.pediatric_bp)
            self.sign(
                Measure.BLOOD_PRESSURE,
                Decimal(bp.systolic),
                units.MMHG,
                by.get("bp"),
                value2=Decimal(bp.diastolic),
                details=details,
            )
        if e.heart_rate is not None:
            details = {k: v for k, v in (("site", e.heart_site), ("rhythm", e.rhythm)) if v}
            self.sign(
                Measure.HEART_RATE,
                Decimal(e.heart_rate),
                units.PER_MIN,
                by.get("heart_rate"),
                details=details,
            )
        if e.respiratory_rate is not None:
            self.sign(
                Measure.RESPIRATORY_RATE,
                Decimal(e.respiratory_rate),
                units.PER_MIN,
                by.get("respiratory_rate"),
            )
        if e.temperature is not None:
            details = {"route": e.temperature_route} if e.temperature_route else {}
            self.sign(
                Measure.TEMPERATURE,
                e.temperature.value,
                e.temperature.unit,
                by.get("temperature"),
                details=details,
            )
        if e.spo2 is not None:
            details = {"on_oxygen": e.on_oxygen}
            if e.o2_flow is not None:
                details["o2_flow"] = str(e.o2_flow)
            if e.o2_concentration is not None:
                details["o2_concentration"] = e.o2_concentration
            self.sign(Measure.SPO2, Decimal(e.spo2), units.PCT, by.get("spo2"), details=details)
        if e.height is not None:
            details = {} if e.recumbent is None else {"recumbent": e.recumbent}
            self.sign(
                Measure.HEIGHT, e.height.value, e.height.unit, by.get("height"), details=details
            )
        if e.weight is not None:
            self.sign(Measure.WEIGHT, e.weight.value, e.weight.unit, by.get("weight"))
        if e.head is not None:
            self.sign(Measure.HEAD, e.head.value, e.head.unit, by.get("head"))
        if s.bmi is not None:
            self.sign(Measure.BMI, s.bmi, units.KG_M2, by.get("bmi"), details={"computed": True})
        for measure in (Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH, Measure.HEAD_PERCENTILE):
            if (g := a.growth.get(measure)) is not None and g.percentile is not None:
                self.sign(
                    measure,
                    Decimal(str(round(g.percentile, 1))),
                    units.PCT,
                    g.interpretation,
                    details={"chart": g.chart, "computed": True},
                )
        for r in e.reported:
            self.sign(
                r.measure,
                r.value,
                r.unit,
                by.get(r.measure),
                absent_reason=r.absent_reason,
                details={"reported": True},
            )
        if e.source_identifier:
            primary = next((s for s in self.signs if not s.details.get("computed")), None)
            if primary is not None:
                primary.source_identifier = e.source_identifier[:300]
        if warnings:
            text = "Accepted without confirmation: " + "; ".join(w.message for w in warnings)
            for sign in self.signs:
                sign.note = text[:500]

    def save(self) -> None:
        VitalSign.objects.bulk_create(self.signs)
        # bulk_create sets primary keys on PostgreSQL and SQLite 3.35+; alerts need them.
        if any(sign.pk is None for sign in self.signs):  # pragma: no cover - old SQLite
            self.signs = list(VitalSign.objects.filter(vital_set=self.set).order_by("id"))

    def first(self, measure: str) -> VitalSign:
        return next((s for s in self.signs if s.measure == measure), self.signs[0])


def _pediatric_details(bp: Any) -> dict[str, Any]:
    return {
        "category": bp.category,
        "height_percentile": bp.height_percentile,
        "thresholds": {k: v for k, v in vars(bp).items() if k.startswith(("sbp_", "dbp_"))},
    }


def _time_the_repeat(writer: _Writer, encounter: Encounter, age_years: int, policy: Policy) -> None:
    """An adult's raised first blood pressure is measured again after a rest: the board shows a
    timer until then. A later reading at the visit ends the timer. (Before the new rows are
    saved: one query when there is no earlier reading.)"""
    bp = writer.first(Measure.BLOOD_PRESSURE)
    earlier = list(
        VitalSign.objects.filter(
            encounter=encounter, measure=Measure.BLOOD_PRESSURE, status=VitalSign.Status.FINAL
        ).values_list("pk", "repeat_due_at")
    )
    if earlier:
        if timed := [pk for pk, due in earlier if due is not None]:
            VitalSign.objects.filter(pk__in=timed).update(repeat_due_at=None)
        return
    if age_years >= ADULT_YEARS and bp.category in RAISED_BP:
        bp.repeat_due_at = bp.effective + dt.timedelta(minutes=policy.bp_repeat_after)


def _raise(actor: Actor, writer: _Writer, trigger: Trigger) -> VitalAlert:
    encounter = writer.encounter
    alert = VitalAlert.objects.create(
        clinic_id=writer.set.clinic_id,
        patient=writer.patient,
        encounter=encounter,
        sign=writer.first(trigger.measure),
        owner_id=encounter.provider_id if encounter is not None else None,
        trigger=trigger.code,
        reason=trigger.reason[:300],
        raised_at=writer.set.created_at,
        created_by_id=actor.signed_in_user_id,
    )
    record(
        actor,
        Action.CREATE,
        "Task",
        patient=writer.patient,
        clinic_id=alert.clinic_id,
        entity_id=str(alert.public_id),
        description=f"critical value alert to the provider: {trigger.code}",
    )
    return alert


# Alerts -----------------------------------------------------------------------------------


def may_acknowledge(actor: Actor, alert: VitalAlert) -> bool:
    """The visit's provider acknowledges; any provider of the clinic when the alert has no
    owner (a value sent in without a visit); the clinic manager only once it has escalated."""
    if not can(actor, Permission.ACKNOWLEDGE_ALERT, alert):
        return False
    if alert.owner_id is not None and alert.owner_id == actor.user_id:
        return True
    if alert.owner_id is None and can(actor, Permission.SEE_PATIENT, alert):
        return True
    return alert.escalated_at is not None and can(actor, Permission.MANAGE_VITALS_POLICY, alert)


def acknowledge_alert(*, actor: Actor, alert: VitalAlert, note: str = "") -> VitalAlert:
    if not may_acknowledge(actor, alert):
        raise PermissionDenied(
            "Only the visit's provider (or, once escalated, the manager) may acknowledge "
            "this alert."
        )
    with transaction.atomic():
        now = clock.now()
        updated = VitalAlert.objects.filter(pk=alert.pk, status=VitalAlert.Status.REQUESTED).update(
            status=VitalAlert.Status.COMPLETED,
            acknowledged_at=now,
            acknowledged_by_id=actor.signed_in_user_id,
            note=" ".join(note.split())[:300],
            updated_at=now,
        )
        if not updated:
            raise ValidationError("This alert was already acknowledged.")
        alert.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Task",
            patient=alert.patient,
            clinic_id=alert.clinic_id,
            entity_id=str(alert.public_id),
            description=f"critical value acknowledged after {alert.seconds_to_acknowledge} s",
        )
    return alert


def escalate_due(clinic_ids: Iterable[int], *, now: dt.datetime | None = None) -> int:
    """Mark as escalated every alert of these clinics left unacknowledged past the clinic's
    time: the clinic manager sees it from then on. One conditional UPDATE per clinic, safe to
    run from many requests at once (the page polls and a cron job both call it)."""
    now = now or clock.now()
    clinic_ids = list(clinic_ids)
    minutes = {
        c: p.escalate_after
        for c, p in (
            (row.clinic_id, row) for row in VitalsPolicy.objects.filter(clinic_id__in=clinic_ids)
        )
    }
    escalated = 0
    for clinic_id in clinic_ids:
        after = dt.timedelta(minutes=minutes.get(clinic_id, Policy().escalate_after))
        due = VitalAlert.objects.filter(
            Q(clinic_id=clinic_id, status=VitalAlert.Status.REQUESTED, escalated_at__isnull=True),
            raised_at__lte=now - after,
        )
        # Read first: polls run this every few seconds, and a write (even of no rows) would
        # take SQLite's write lock each time.
        if due.exists():
            escalated += due.update(escalated_at=now, updated_at=now)
    return escalated


def retract_sign(*, actor: Actor, sign: VitalSign, reason: str) -> VitalSign:
    """A value entered in error (the wrong patient, a typing slip that got past the checks):
    it is kept, marked entered-in-error with the reason (FHIR Observation.status), and leaves
    the flowsheet and trends. What was worked out from it at the same sitting (BMI and the
    percentiles from a weight or height) goes with it, an open alert it raised is cancelled,
    and a repeat timer it started stops."""
    if not can(actor, Permission.RECORD_VITALS, sign):
        raise PermissionDenied("Your role may not correct vital signs at this clinic.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why the value is wrong (for the record)."})
    with transaction.atomic():
        locked = VitalSign.objects.select_for_update().get(pk=sign.pk)
        if locked.status == VitalSign.Status.ENTERED_IN_ERROR:
            raise ValidationError("This value was already marked as entered in error.")
        affected = [locked.pk]
        if locked.measure in (Measure.WEIGHT, Measure.HEIGHT, Measure.HEAD):
            affected += [
                s.pk
                for s in VitalSign.objects.filter(vital_set_id=locked.vital_set_id)
                if s.details.get("computed") and s.measure in _DERIVED_FROM.get(locked.measure, ())
            ]
        now = clock.now()
        VitalSign.objects.filter(pk__in=affected).update(
            status=VitalSign.Status.ENTERED_IN_ERROR,
            note=f"Entered in error: {reason}"[:500],
            repeat_due_at=None,
            updated_at=now,
        )
        cancelled = VitalAlert.objects.filter(
            sign_id__in=affected, status=VitalAlert.Status.REQUESTED
        ).update(
            status=VitalAlert.Status.CANCELLED, note=f"Cancelled: {reason}"[:300], updated_at=now
        )
        record(
            actor,
            Action.UPDATE,
            "Observation",
            patient=locked.patient,
            clinic_id=locked.clinic_id,
            entity_id=str(locked.public_id),
            description=(
                f"{locked.measure} entered in error ({len(affected)} observation"
                f"{'s' if len(affected) != 1 else ''}"
                + (
                    f", {cancelled} alert{'s' if cancelled != 1 else ''} cancelled"
                    if cancelled
                    else ""
                )
                + f"): {reason}"
            )[:300],
        )
    locked.refresh_from_db()
    return locked


# What is worked out from a measurement at the same sitting (services._Writer.build).
_DERIVED_FROM: dict[str, tuple[str, ...]] = {
    Measure.WEIGHT: (Measure.BMI, Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH),
    Measure.HEIGHT: (Measure.BMI, Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH),
    Measure.HEAD: (Measure.HEAD_PERCENTILE,),
}


def save_policy(*, actor: Actor, clinic: Any, values: dict[str, Any]) -> VitalsPolicy:
    if not can(actor, Permission.MANAGE_VITALS_POLICY, clinic):
        raise PermissionDenied("Only the clinic manager sets the critical-value policy.")
    with transaction.atomic():
        row, _ = VitalsPolicy.objects.update_or_create(
            clinic=clinic,
            defaults={
                **values,
                "updated_by_id": actor.signed_in_user_id,
                "updated_at": clock.now(),
            },
        )
        record(
            actor,
            Action.UPDATE,
            "VitalsPolicy",
            clinic_id=clinic.pk,
            entity_id=str(clinic.public_id),
            description="critical-value policy: "
            + ", ".join(f"{k}={v}" for k, v in sorted(values.items())),
        )
    return row
