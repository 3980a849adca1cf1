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
