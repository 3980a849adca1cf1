"""The demo's schedule as loaded: consistent with the scheduling rules and the stage path."""

import datetime as dt

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from medassist.clinics.models import Room
from medassist.demo.schedule import working_days
from medassist.demo.seed import load_demo
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.stages import IN_ROOM, TRANSITIONS, Stage
from medassist.scheduling import slots
from medassist.scheduling.models import Appointment, ScheduleTemplate
from medassist.scheduling.selectors import calendar

TODAY = dt.date(2026, 1, 15)  # a Thursday


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        yield load_demo(today=TODAY, per_clinic=120)
        transaction.set_rollback(True)


def test_working_days_skip_weekends_and_holidays():
    assert working_days(dt.date(2026, 12, 23)) == [
        dt.date(2026, 12, 23), dt.date(2026, 12, 24), dt.date(2026, 12, 28),
        dt.date(2026, 12, 29), dt.date(2026, 12, 30), dt.date(2026, 12, 31),
    ]  # fmt: skip


def test_no_scheduled_encounter_lacks_its_appointment(loaded, db):
    assert not Encounter.objects.filter(stage="scheduled", appointment__isnull=True).exists()
    assert loaded.appointments == Appointment.objects.count()


def test_each_clinic_has_rooms_types_and_its_providers_week(loaded, db):
    for code, provider in (("north", "bob"), ("south", "frank")):
        assert Room.objects.filter(clinic__code=code, kind="exam").count() == 6
        assert Room.objects.filter(clinic__code=code, kind="procedure").count() == 1
        weekdays = set(
            ScheduleTemplate.objects.filter(
                clinic__code=code, provider__username=provider
            ).values_list("weekday", flat=True)
        )
        assert weekdays >= {0, 1, 2, 3, 4}


def test_every_day_ahead_is_booked_and_every_booking_obeys_the_rules(loaded, db):
    tz = timezone.get_default_timezone()
    for appt in Appointment.objects.select_related("clinic", "provider", "appointment_type"):
        day = appt.start.astimezone(tz).date()
        cal = calendar(appt.clinic_id, day, day, appt.provider_id)
        problem = slots.why_not_bookable(
            sessions=cal.sessions(appt.provider_id, day, appt.appointment_type_id),
            blocks=cal.blocks_of(appt.provider_id, day),
            bookings=cal.bookings_of(appt.provider_id, day, exclude=[appt.pk]),
            start=appt.start.astimezone(tz),
            minutes=appt.appointment_type.minutes,
        )
        assert problem == "", (appt.start, problem)
    for day in working_days(TODAY)[1:]:
        for code in ("north", "south"):
            lo = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
            n = Appointment.objects.filter(
                clinic__code=code, start__gte=lo, start__lt=lo + dt.timedelta(days=1)
            ).count()
            assert 8 <= n <= 30, (code, day, n)


def test_todays_board_has_someone_in_every_stage_and_moves_follow_the_path(loaded, db):
    for code in ("north", "south"):
        stages = set(
            Encounter.objects.filter(clinic__code=code, appointment__isnull=False).values_list(
                "stage", flat=True
            )
        )
        assert stages >= {
            "scheduled", "arrived", "roomed", "ready_for_provider", "with_provider",
            "ready_for_checkout", "done",
        }  # fmt: skip
    for change in StageChange.objects.all():
        assert Stage(change.to_stage) in TRANSITIONS[Stage(change.from_stage)]
    for enc in Encounter.objects.filter(stage__in=IN_ROOM):
        assert enc.room is not None and enc.room.status == "occupied"
    assert Room.objects.filter(status="occupied").count() == 6  # three per clinic


def test_the_front_desk_opens_the_demo_day_and_tomorrows_previsit_list(loaded, client, db):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="gwen"))
    day = client.get(f"/schedule/?day={TODAY:%Y-%m-%d}")
    assert day.status_code == 200
    html = day.content.decode()
    assert "Abernathy, Josephine" in html and "With provider" in html
    tomorrow = working_days(TODAY)[1]
    previsit = client.get(f"/schedule/previsit/?day={tomorrow:%Y-%m-%d}")
    assert previsit.status_code == 200 and "To do before the visit" in previsit.content.decode()
