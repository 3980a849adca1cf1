"""Recording vitals end to end through the service: plausibility, interpretation by age,
critical-value alerts, acknowledgment, escalation and the blood-pressure repeat timer."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.rooming.tests.factories import roomed_visit
from medassist.vitals import services, units
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign, VitalsPolicy
from medassist.vitals.services import BloodPressure, VitalsEntry

pytestmark = pytest.mark.django_db


def toddler_visit(cast):  # type: ignore[no-untyped-def]
    today = clock.today()
    born = today.replace(year=today.year - 2) - dt.timedelta(days=60)
    return roomed_visit(cast, birth_date=born, visit_type="Sick visit", family="Okafor")


def adult_visit(cast, **kw):  # type: ignore[no-untyped-def]
    return roomed_visit(cast, birth_date=dt.date(1968, 5, 2), **kw)


def febrile_toddler_entry() -> VitalsEntry:
    return VitalsEntry(
        heart_rate=165,
        respiratory_rate=36,
        temperature=units.temperature(Decimal("104.4"), units.DEGF),
        spo2=97,
        weight=units.weight(pounds=Decimal("28"), ounces=Decimal("4")),
        height=units.length(centimetres=Decimal("89.0")),
        recumbent=False,
    )


def test_a_febrile_toddler_raises_alerts_to_the_visit_provider(cast, actor_of):
    visit = toddler_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=febrile_toddler_entry(),
    )
    assert out.vital_set is not None
    by = {s.measure: s for s in out.signs}
    # Stored exactly as measured, in the unit measured.
    assert by[Measure.TEMPERATURE].value == Decimal("104.4")
    assert by[Measure.TEMPERATURE].unit == units.DEGF
    assert by[Measure.WEIGHT].unit == units.LB and by[Measure.WEIGHT].value == Decimal("28.25")
    # 40.2 °C: at or above the 40 °C default; HR 165 above the 99th Fleming centile (142 at 2-3 y).
    triggers = {a.trigger for a in out.alerts}
    assert "temperature_high" in triggers
    assert "heart_rate_centile" in triggers
    assert by[Measure.HEART_RATE].flag == "HH"
    assert "Fleming" in by[Measure.HEART_RATE].source
    assert all(a.owner_id == cast.bob.pk and a.status == "requested" for a in out.alerts)
    # BMI computed, never typed, and a BMI-for-age percentile from the CDC tables.
    assert by[Measure.BMI].details == {"computed": True}
    assert Measure.BMI_PERCENTILE in by
    assert AuditEvent.objects.filter(entity_type="Task", action="create").count() == len(out.alerts)


def test_an_adult_crisis_bp_alerts_and_elevated_bp_starts_the_repeat_timer(cast, actor_of):
    visit = adult_visit(cast)
    alice = actor_of(cast.alice)
    out = services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(186, 112, "sitting", "left", "adult")),
    )
    bp = out.signs[0]
    assert bp.category == "crisis" and bp.flag == "HH"
    assert [a.trigger for a in out.alerts] == ["bp_crisis"]
    assert bp.repeat_due_at == bp.effective + dt.timedelta(minutes=5)
    # The repeat ends the timer.
    services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(176, 104)),
    )
    bp.refresh_from_db()
    assert bp.repeat_due_at is None


def test_a_normal_adult_bp_needs_no_repeat_and_raises_nothing(cast, actor_of):
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(112, 72)),
    )
    assert out.alerts == [] and out.signs[0].repeat_due_at is None and out.signs[0].flag == "N"


def test_impossible_values_are_refused_naming_the_slip_and_nothing_is_saved(cast, actor_of):
    visit = adult_visit(cast)
    with pytest.raises(ValidationError) as exc:
        services.record_vitals(
            actor=actor_of(cast.alice),
            patient=visit.patient,
            encounter=visit,
            entry=VitalsEntry(temperature=units.temperature(Decimal("986"), units.DEGF)),
        )
    assert "98.6" in " ".join(exc.value.message_dict["temperature"])
    assert not VitalSet.objects.exists() and not VitalSign.objects.exists()


def test_improbable_values_wait_for_confirmation(cast, actor_of):
    visit = adult_visit(cast)
    alice = actor_of(cast.alice)
    services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(weight=units.weight(kilograms=Decimal("80"))),
    )
    later = VitalsEntry(weight=units.weight(kilograms=Decimal("60")))  # -25% the same day
    first = services.record_vitals(actor=alice, patient=visit.patient, encounter=visit, entry=later)
    assert first.vital_set is None and first.to_confirm
    assert VitalSign.objects.filter(measure=Measure.WEIGHT).count() == 1
    again = services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=later,
        confirmed=[f.code for f in first.to_confirm],
    )
    assert again.vital_set is not None
    assert again.vital_set.confirmed[0]["code"] == first.to_confirm[0].code


def test_news2_is_scored_for_adults_with_every_parameter(cast, actor_of):
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(
            blood_pressure=BloodPressure(98, 60),  # 2
            heart_rate=118,  # 2
            respiratory_rate=24,  # 2
            temperature=units.temperature(Decimal("38.6"), units.CEL),  # 1
            spo2=95,  # 1
            consciousness="A",
        ),
    )
    assert out.vital_set is not None
    assert out.vital_set.news2_total == 8
    assert "news2_high" in {a.trigger for a in out.alerts}


def test_the_provider_acknowledges_and_the_time_is_recorded(cast, actor_of):
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(spo2=86),
    )
    alert = out.alerts[0]
    with pytest.raises(PermissionDenied):  # the MA cannot acknowledge for the provider
        services.acknowledge_alert(actor=actor_of(cast.alice), alert=alert)
    with pytest.raises(PermissionDenied):  # nor a provider of another clinic
        services.acknowledge_alert(actor=actor_of(cast.frank), alert=alert)
    done = services.acknowledge_alert(actor=actor_of(cast.bob), alert=alert, note="seeing now")
    assert done.status == VitalAlert.Status.COMPLETED and done.seconds_to_acknowledge is not None
    with pytest.raises(ValidationError):
        services.acknowledge_alert(actor=actor_of(cast.bob), alert=alert)


def test_unacknowledged_alerts_escalate_after_the_clinic_time(cast, actor_of):
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(spo2=85),
    )
    alert = out.alerts[0]
    dana = actor_of(cast.dana)
    with pytest.raises(PermissionDenied):  # not the manager's yet
        services.acknowledge_alert(actor=dana, alert=alert)
    now = clock.now()
    assert services.escalate_due([cast.north.pk], now=now + dt.timedelta(minutes=9)) == 0
    assert (
        services.escalate_due([cast.north.pk], now=now + dt.timedelta(minutes=10, seconds=1)) == 1
    )
    assert services.escalate_due([cast.north.pk], now=now + dt.timedelta(minutes=30)) == 0  # once
    alert.refresh_from_db()
    assert alert.escalated_at is not None
    assert services.acknowledge_alert(actor=dana, alert=alert).acknowledged_by_id == cast.dana.pk


def test_the_clinic_policy_changes_the_thresholds(cast, actor_of):
    services.save_policy(
        actor=actor_of(cast.dana),
        clinic=cast.north,
        values={
            "news2_total": 7,
            "news2_single_red": True,
            "systolic": 170,
            "diastolic": 110,
            "spo2_below": 92,
            "temperature": Decimal("39.5"),
            "pediatric_centiles": True,
            "escalate_after": 5,
            "bp_repeat_after": 3,
        },
    )
    assert VitalsPolicy.objects.get(clinic=cast.north).systolic == 170
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(172, 96), spo2=91),
    )
    assert {a.trigger for a in out.alerts} == {"bp_crisis", "spo2_low"}
    assert out.signs[0].repeat_due_at == out.signs[0].effective + dt.timedelta(minutes=3)
    with pytest.raises(PermissionDenied):
        services.save_policy(actor=actor_of(cast.alice), clinic=cast.north, values={})


def test_outsiders_cannot_record(cast, actor_of):
    visit = adult_visit(cast)
    with pytest.raises(PermissionDenied):
        services.record_vitals(
            actor=actor_of(cast.carol),
            patient=visit.patient,
            encounter=visit,
            entry=VitalsEntry(heart_rate=80),
        )
    assert not VitalSign.objects.exists()


def test_vitals_are_refused_once_the_visit_is_over(cast, actor_of):
    visit = adult_visit(cast, stage="done")
    with pytest.raises(ValidationError):
        services.record_vitals(
            actor=actor_of(cast.alice),
            patient=visit.patient,
            encounter=visit,
            entry=VitalsEntry(heart_rate=80),
        )


def test_the_escalate_command_escalates_overdue_alerts(cast, actor_of):
    from io import StringIO

    from django.core.management import call_command

    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(spo2=84),
    )
    VitalAlert.objects.filter(pk=out.alerts[0].pk).update(
        raised_at=clock.now() - dt.timedelta(minutes=11)
    )
    text = StringIO()
    call_command("vitals", "escalate", stdout=text)
    assert text.getvalue().strip() == "1 alert escalated"
    assert VitalAlert.objects.get().escalated_at is not None


def test_a_childs_repeat_bp_is_read_at_the_height_measured_this_month(cast, actor_of):
    today = clock.today()
    visit = roomed_visit(cast, birth_date=today.replace(year=today.year - 8), family="Lee")
    alice = actor_of(cast.alice)
    services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(height=units.length(centimetres=Decimal("128.0")), recumbent=False),
    )
    out = services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(124, 70)),
    )
    bp = out.signs[0]
    assert "AAP" in bp.source or "Flynn" in bp.source
    assert bp.category in ("elevated", "stage1", "stage2")
    assert bp.details["pediatric"]["height_percentile"] is not None


@pytest.mark.parametrize(
    ("entry", "measure"),
    [
        (VitalsEntry(heart_rate=32), "heart_rate"),  # NEWS2 pulse <= 40 scores 3
        (VitalsEntry(heart_rate=170), "heart_rate"),  # >= 131 scores 3
        (VitalsEntry(respiratory_rate=6), "respiratory_rate"),  # <= 8 scores 3
        (VitalsEntry(respiratory_rate=30), "respiratory_rate"),  # >= 25 scores 3
        (VitalsEntry(temperature=units.temperature(Decimal("34.8"), units.CEL)), "temperature"),
        (VitalsEntry(blood_pressure=BloodPressure(86, 50)), "bp"),  # SBP <= 90 scores 3
    ],
)
def test_an_adults_single_red_value_alerts_without_a_full_news2_set(cast, actor_of, entry, measure):
    visit = adult_visit(cast)
    alice = actor_of(cast.alice)
    out = services.record_vitals(actor=alice, patient=visit.patient, encounter=visit, entry=entry)
    if out.to_confirm:  # an improbable value: the MA re-measures and confirms it
        out = services.record_vitals(
            actor=alice,
            patient=visit.patient,
            encounter=visit,
            entry=entry,
            confirmed=[f.code for f in out.to_confirm],
        )
    assert out.vital_set is not None and out.vital_set.news2_total is None
    assert [(a.trigger, a.sign.measure) for a in out.alerts] == [("news2_red", measure)]


def test_adult_low_blood_pressure_is_flagged_low_not_normal(cast, actor_of):
    visit = adult_visit(cast)
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(96, 58)),  # NEWS2 91-100 scores 2
    )
    assert out.signs[0].flag == "L" and "Low blood pressure" in out.signs[0].interpretation
    assert out.alerts == []


def test_a_reading_from_long_ago_is_flagged_but_calls_nobody(cast, actor_of):
    from medassist.patients.tests.factories import make_patient

    patient = make_patient(cast.north, family="Archive", birth_date=dt.date(1950, 1, 1))
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=patient,
        entry=VitalsEntry(
            blood_pressure=BloodPressure(210, 125), taken_at=clock.now() - dt.timedelta(days=400)
        ),
        accept_improbable=True,
        channel="fhir",
    )
    assert out.signs[0].flag == "HH" and out.alerts == []


def test_the_18th_birthday_makes_an_adult_that_day(cast, actor_of):
    today = clock.today()
    born = dt.date(today.year - 18, today.month, min(today.day, 28))
    if born > today.replace(year=today.year - 18):  # pragma: no cover - near month ends
        born = born.replace(day=born.day - 1)
    visit = roomed_visit(cast, birth_date=born, family="Birthday")
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(blood_pressure=BloodPressure(134, 70)),
    )
    assert "ACC/AHA" in out.signs[0].source and out.signs[0].category == "stage1"


def test_a_confirmation_is_for_that_value_only(cast, actor_of):
    visit = adult_visit(cast)
    alice = actor_of(cast.alice)
    services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(weight=units.weight(kilograms=Decimal("80"))),
    )
    asked = services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(weight=units.weight(kilograms=Decimal("60"))),
    )
    other = services.record_vitals(
        actor=alice,
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(weight=units.weight(kilograms=Decimal("58"))),
        confirmed=[f.code for f in asked.to_confirm],
    )
    assert other.vital_set is None and other.to_confirm  # 58 kg was not what she confirmed


def test_the_manager_cannot_silence_an_unowned_alert_before_it_escalates(cast, actor_of):
    from medassist.patients.tests.factories import make_patient

    patient = make_patient(cast.north, family="Posted", birth_date=dt.date(1950, 1, 1))
    out = services.record_vitals(
        actor=actor_of(cast.alice),
        patient=patient,
        entry=VitalsEntry(spo2=84),
        accept_improbable=True,
        channel="fhir",
    )
    alert = out.alerts[0]
    assert alert.owner_id is None
    assert not services.may_acknowledge(actor_of(cast.dana), alert)
    assert not services.may_acknowledge(actor_of(cast.frank), alert)  # another clinic
    assert services.may_acknowledge(actor_of(cast.bob), alert)  # any North provider


def test_a_value_entered_in_error_leaves_with_what_came_from_it_and_its_alert(cast, actor_of):
    visit = toddler_visit(cast)
    alice = actor_of(cast.alice)
    out = services.record_vitals(
        actor=alice, patient=visit.patient, encounter=visit, entry=febrile_toddler_entry()
    )
    by = {s.measure: s for s in out.signs}
    fever = next(a for a in out.alerts if a.trigger == "temperature_high")
    with pytest.raises(ValidationError):
        services.retract_sign(actor=alice, sign=by[Measure.TEMPERATURE], reason="  ")
    with pytest.raises(PermissionDenied):
        services.retract_sign(actor=actor_of(cast.carol), sign=by[Measure.TEMPERATURE], reason="x")
    services.retract_sign(actor=alice, sign=by[Measure.TEMPERATURE], reason="wrong patient")
    fever.refresh_from_db()
    assert fever.status == VitalAlert.Status.CANCELLED
    services.retract_sign(actor=alice, sign=by[Measure.WEIGHT], reason="scale not zeroed")
    gone = set(
        VitalSign.objects.filter(status=VitalSign.Status.ENTERED_IN_ERROR).values_list(
            "measure", flat=True
        )
    )
    derived = {Measure.BMI, Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH} & set(by)
    assert Measure.BMI in derived
    assert gone == {Measure.TEMPERATURE, Measure.WEIGHT} | derived
    # The heart-rate alert stands: its value was right.
    assert VitalAlert.objects.filter(status=VitalAlert.Status.REQUESTED).count() == 1
    with pytest.raises(ValidationError):
        services.retract_sign(actor=alice, sign=by[Measure.WEIGHT], reason="again")
