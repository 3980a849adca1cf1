"""The demo's vital signs, as loaded through the vitals service (loaded once for the module,
rolled back after)."""

import datetime as dt
import zoneinfo
from collections import Counter
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo import seed
from medassist.demo import vitals as demo_vitals
from medassist.encounters.models import Encounter
from medassist.encounters.stages import Stage
from medassist.patients.models import Patient
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign

TODAY = dt.date(2026, 1, 15)
# The load happens at lunchtime of TODAY: the morning's visits are past, and recent enough for
# the service to time repeat readings and call the provider.
NOW = dt.datetime(2026, 1, 15, 12, 30, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
PERCENTILES = (Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH, Measure.HEAD_PERCENTILE)


@pytest.fixture(scope="module")
def recorded(django_db_setup, django_db_blocker):
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    results: list[demo_vitals.Recorded] = []

    def keep(**kwargs):
        results.append(demo_vitals.write_vitals(**kwargs))
        return results[-1]

    with django_db_blocker.unblock(), fast, transaction.atomic():
        with mock.patch.object(seed, "write_vitals", keep), mock.patch.object(clock, "now", now):
            seed.load_demo(today=TODAY)
        yield results[0]
        transaction.set_rollback(True)


def now() -> dt.datetime:
    return NOW


def _args() -> dict:
    return {
        "today": TODAY,
        "tz": timezone.get_default_timezone(),
        "clinics": {c.code: c for c in Clinic.objects.all()},
        "users": {u.username: u for u in get_user_model().objects.all()},
    }


def test_every_sitting_was_saved_without_confirmation_or_refusal(recorded, db):
    assert recorded.confirmations == [] and recorded.refusals == []
    assert recorded.sets > 100
    assert VitalSet.objects.count() == recorded.sets + recorded.repeats
    assert VitalSet.objects.filter(confirmed__len__gt=0).count() == 0
    assert not VitalSign.objects.exclude(note="").exists()


def test_children_follow_a_growth_curve(recorded, db):
    curves = []
    for patient in Patient.objects.filter(birth_date__gt=TODAY - dt.timedelta(days=5 * 365)):
        signs = VitalSign.objects.filter(patient=patient, percentile__isnull=False)
        weights = list(signs.filter(measure=Measure.WEIGHT).order_by("effective"))
        lengths = list(signs.filter(measure=Measure.HEIGHT).order_by("effective"))
        if len(weights) >= 3 and len(lengths) >= 3:
            curves.append((patient, weights, lengths))
    assert curves, "no child with three weights and lengths on a growth chart"
    for patient, weights, lengths in curves:
        assert VitalSign.objects.filter(patient=patient, measure__in=PERCENTILES).exists()
        # A percentile kept, not a random walk across the chart.
        kept = [w.percentile or 0.0 for w in weights]
        assert max(kept) - min(kept) < 45, (patient, kept)
        assert [s.effective for s in lengths] == sorted(s.effective for s in lengths)
    assert VitalSign.objects.filter(measure=Measure.HEAD_PERCENTILE).exists()


def test_adults_have_blood_pressure_series_some_hypertensive(recorded, db):
    adult = TODAY - dt.timedelta(days=round(18 * 365.25))
    per_patient = (
        VitalSign.objects.filter(measure=Measure.BLOOD_PRESSURE, patient__birth_date__lt=adult)
        .values("patient")
        .annotate(visits=Count("encounter", distinct=True))
    )
    assert sum(1 for row in per_patient if row["visits"] >= 3) >= 3
    categories = Counter(
        VitalSign.objects.filter(measure=Measure.BLOOD_PRESSURE).values_list("category", flat=True)
    )
    assert categories["stage1"] and categories["stage2"] and categories["normal"]
    # A raised first reading the app times a repeat for is measured again: no timer is left
    # running, but at the visit with the critical value (left to the live board).
    timed = VitalSign.objects.filter(repeat_due_at__isnull=False)
    assert not timed.filter(alerts__isnull=True).exists()


def test_adult_height_is_stable(recorded, db):
    adult = TODAY - dt.timedelta(days=round(22 * 365.25))
    heights: dict[int, list[float]] = {}
    for sign in VitalSign.objects.filter(measure=Measure.HEIGHT, patient__birth_date__lt=adult):
        cm = float(sign.value) * (2.54 if sign.unit == "[in_i]" else 1)  # type: ignore[arg-type]
        heights.setdefault(sign.patient_id, []).append(cm)
    assert heights
    assert all(max(h) - min(h) < 2.5 for h in heights.values())


def test_units_are_mixed_as_the_medical_assistants_enter_them(recorded, db):
    used = set(VitalSign.objects.values_list("unit", flat=True))
    assert {"[lb_av]", "kg", "[in_i]", "cm", "Cel", "[degF]"} <= used


def test_only_in_person_visits_that_reached_the_room_have_vitals(recorded, db):
    measured = Encounter.objects.filter(vital_sets__isnull=False).distinct()
    assert not measured.filter(kind="VR").exists()
    assert not measured.filter(stage__in=(Stage.SCHEDULED, Stage.ARRIVED, Stage.ROOMED)).exists()
    # The visits keep their stage: vitals were taken while they were in the room.
    assert measured.filter(stage=Stage.DONE).count() > 100
    for enc in measured.filter(stage=Stage.DONE)[:50]:
        taken = min(s.taken_at for s in enc.vital_sets.all())
        assert enc.period_start <= taken <= (enc.period_end or taken)


def test_today_north_has_a_critical_value_for_the_provider(recorded, db):
    alert = VitalAlert.objects.get()  # the only one: no past visit raised an alert
    visit, owner = alert.encounter, alert.owner
    assert visit is not None and owner is not None
    assert alert.clinic.code == "north" and owner.get_username() == "bob"
    assert alert.status == VitalAlert.Status.REQUESTED
    assert visit.stage in {str(s) for s in demo_vitals.CRITICAL_AT}
    assert visit.period_start.astimezone(timezone.get_default_timezone()).date() == TODAY
    # The patient still at ROOMED is left to the live flow.
    roomed = Encounter.objects.filter(stage=Stage.ROOMED, period_start__date=TODAY)
    assert roomed.exists() and not VitalSet.objects.filter(encounter__in=roomed).exists()


def test_writing_again_adds_nothing(recorded, db):
    before = VitalSet.objects.count()
    with mock.patch.object(clock, "now", now):
        again = demo_vitals.write_vitals(**_args())
    assert (again.sets, again.repeats) == (0, 0)
    assert VitalSet.objects.count() == before


def test_the_sittings_are_deterministic(recorded, db):
    enc = (
        Encounter.objects.filter(vital_sets__isnull=False, stage=Stage.DONE)
        .select_related("patient")
        .first()
    )
    assert enc is not None
    profile = demo_vitals.profile_of(enc.patient, {})
    visit = demo_vitals.Visit(enc, enc.period_start, first=True, height_due=True)
    assert demo_vitals.profile_of(enc.patient, {}) == profile
    assert demo_vitals.sitting(profile, visit, True) == demo_vitals.sitting(profile, visit, True)
