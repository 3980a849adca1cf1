import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medassist.encounters.models import Encounter
from medassist.patients.tests.factories import make_patient, record_no_known_allergies
from medassist.scheduling.models import Appointment, ScheduleBlock, WaitlistEntry
from medassist.scheduling.tests.factories import (
    MONDAY,
    at,
    make_appointment,
    make_block,
    make_template,
)

TUESDAY = MONDAY + dt.timedelta(days=1)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_day_view_shows_each_providers_appointments_and_blocked_time(cast, north, maria):
    make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    make_block(cast.north, at(MONDAY, "12:00"), at(MONDAY, "13:00"), "Lunch", provider=cast.bob)
    page = client_for(cast.gwen).get("/schedule/?day=2026-11-23")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rivera, Maria" in html and "Robert Okafor" in html
    assert f"appt-type-{north['follow-up'].pk}" in html
    assert '<td class="blocked">Lunch</td>' in html


def test_the_day_view_defaults_to_today(cast, north, maria):
    make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    assert "Rivera, Maria" in client_for(cast.gwen).get("/schedule/").content.decode()


def test_junk_day_falls_back_to_today(cast, north):
    assert client_for(cast.gwen).get("/schedule/?day=not-a-day").status_code == 200


def test_an_outsider_asking_for_north_sees_only_her_own_clinic(cast, north, maria):
    make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    page = client_for(cast.carol).get("/schedule/?clinic=north&day=2026-11-23")
    assert page.status_code == 200
    assert "Rivera" not in page.content.decode()
    assert "South Pediatrics" in page.content.decode()


def test_someone_without_the_schedule_at_any_clinic_is_refused(cast, north):
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.create_user("stranger", password="x")  # noqa: S106
    assert client_for(stranger).get("/schedule/").status_code == 403
    assert client_for(stranger).get("/schedule/waitlist/").status_code == 403


def test_the_day_view_runs_the_same_queries_for_5_or_40_appointments(cast, north):
    make_template(cast.north, cast.dana, weekday=0)  # a second column
    client = client_for(cast.gwen)
    patients = [make_patient(cast.north, family=f"Pat{i:02d}", given="Test") for i in range(40)]

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/schedule/?day=2026-11-23").status_code == 200
        return len(ctx.captured_queries)

    count()  # the first request of a session does its own bookkeeping
    for i, p in enumerate(patients[:5]):
        make_appointment(
            p, cast.bob, north["follow-up"], at(MONDAY, "08:00") + dt.timedelta(minutes=10 * i)
        )
    few = count()
    for i, p in enumerate(patients[5:]):
        who = cast.bob if i % 2 else cast.dana
        make_appointment(
            p, who, north["immunization"], at(MONDAY, "13:00") + dt.timedelta(minutes=10 * i)
        )
    assert count() == few


def test_the_type_colors_come_as_a_style_sheet(cast, north):
    css = client_for(cast.gwen).get("/schedule/types.css")
    assert css["Content-Type"] == "text/css"
    assert (
        f".appt-type-{north['follow-up'].pk} {{ --type-color: #56B4E9; }}" in css.content.decode()
    )


def _booking(maria, north, **over):
    data = {
        "clinic": "north",
        "patient": str(maria.public_id),
        "appointment_type": "follow-up",
        "provider": "bob",
        "date": "2026-11-23",
        "time": "09:00",
        "reason": "knee pain",
        "action": "book",
    }
    return {**data, **over}


def test_booking_from_the_form_goes_to_the_appointment(cast, north, maria):
    response = client_for(cast.gwen).post("/schedule/book/", _booking(maria, north))
    appt = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/schedule/appointments/{appt.public_id}/"
    assert appt.reason == "knee pain" and appt.start == at(MONDAY, "09:00")


def test_a_refused_booking_shows_the_reason_as_a_form_error(cast, north, maria):
    response = client_for(cast.gwen).post("/schedule/book/", _booking(maria, north, time="18:00"))
    assert response.status_code == 400
    assert "18:00 is outside" in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_booking_form_prefills_from_an_open_slot_link(cast, north, maria):
    page = client_for(cast.gwen).get(
        f"/schedule/book/?patient={maria.public_id}&provider=bob&date=2026-11-23&time=09:00"
    )
    html = page.content.decode()
    assert page.status_code == 200 and "Rivera, Maria" in html and 'value="09:00"' in html


def test_the_booking_form_finds_patients_and_suggests_first_open_slots(cast, north, maria):
    client = client_for(cast.gwen)
    found = client.get("/schedule/book/patients/?q=rivera")
    assert f'value="{maria.public_id}"' in found.content.decode()
    slots = client.get("/schedule/book/suggestions/?clinic=north&appointment_type=follow-up")
    assert "Mon Nov 23 08:00 with Robert Okafor" in slots.content.decode()


def test_a_provider_may_not_open_the_booking_form(cast, north):
    assert client_for(cast.bob).get("/schedule/book/").status_code == 403


def test_putting_a_patient_on_the_waitlist_from_the_booking_form(cast, north, maria):
    response = client_for(cast.gwen).post(
        "/schedule/book/", _booking(maria, north, action="waitlist", provider="")
    )
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert entry.patient == maria and entry.provider is None


def test_the_appointment_page_shows_the_reminder_delivery(cast, north, maria):
    client = client_for(cast.gwen)
    client.post("/schedule/book/", _booking(maria, north))
    appt = Appointment.objects.get()
    html = client.get(f"/schedule/appointments/{appt.public_id}/").content.decode()
    assert "Booking confirmation (sms)" in html


def test_cancel_from_the_page_needs_a_reason_and_a_current_version(cast, north, maria):
    appt = make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    client = client_for(cast.gwen)
    url = f"/schedule/appointments/{appt.public_id}/cancel/"
    assert client.post(url, {"version": 1, "reason": ""}).status_code == 400
    stale = client.post(url, {"version": 5, "reason": "sick"})
    assert stale.status_code == 409 and "Someone else changed this visit" in stale.content.decode()
    assert client.post(url, {"version": 1, "reason": "sick"}).status_code == 302
    assert Encounter.objects.get().stage == "cancelled"


def test_reschedule_from_the_page(cast, north, maria):
    appt = make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    response = client_for(cast.gwen).post(
        f"/schedule/appointments/{appt.public_id}/reschedule/",
        {"version": 1, "date": "2026-11-24", "time": "10:00", "provider": ""},
    )
    new = Appointment.objects.get(rescheduled_from=appt)
    assert response["Location"] == f"/schedule/appointments/{new.public_id}/"
    assert new.start == at(TUESDAY, "10:00")


def test_no_show_from_the_page_before_time_is_refused(cast, north, maria):
    appt = make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    response = client_for(cast.gwen).post(
        f"/schedule/appointments/{appt.public_id}/no-show/", {"version": 1}
    )
    assert response.status_code == 400 and "not a no-show yet" in response.content.decode()


def test_a_provider_may_view_but_not_cancel(cast, north, maria):
    appt = make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    client = client_for(cast.bob)
    assert client.get(f"/schedule/appointments/{appt.public_id}/").status_code == 200
    url = f"/schedule/appointments/{appt.public_id}/cancel/"
    assert client.post(url, {"version": 1, "reason": "x"}).status_code == 404
    assert Encounter.objects.get().stage == "scheduled"


def test_the_waitlist_page_offers_a_cancelled_slot_and_books_it(cast, north, maria, sam):
    client = client_for(cast.gwen)
    appt = make_appointment(sam, cast.bob, north["follow-up"], at(TUESDAY, "09:00"))
    client.post(f"/schedule/appointments/{appt.public_id}/cancel/", {"version": 1, "reason": "x"})
    entry = WaitlistEntry.objects.create(
        clinic=cast.north, patient=maria, appointment_type=north["follow-up"]
    )
    html = client.get("/schedule/waitlist/").content.decode()
    assert "Book Maria into this opening" in html
    response = client.post(
        f"/schedule/waitlist/{entry.public_id}/book/",
        {"provider": "bob", "start": "2026-11-24T09:00"},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.appointment is not None and entry.appointment.start == at(TUESDAY, "09:00")


def test_the_previsit_page_lists_tomorrows_open_items(cast, north, maria, sam):
    make_appointment(maria, cast.bob, north["follow-up"], at(TUESDAY, "09:00"))
    make_appointment(sam, cast.bob, north["physical"], at(TUESDAY, "10:00"))
    record_no_known_allergies(sam)
    html = client_for(cast.gwen).get("/schedule/previsit/").content.decode()
    assert "Tuesday, November 24" in html
    assert html.count("No insurance coverage on file") == 2
    assert html.count("Allergies not yet asked") == 1
    assert "Follow-up, but no earlier visit on file" in html


def test_blocked_time_is_managed_by_the_manager(cast, north):
    form = {
        "clinic": "north",
        "provider": "bob",
        "date": "2026-11-24",
        "start_time": "12:00",
        "end_time": "13:00",
        "reason": "Lunch",
    }
    assert client_for(cast.gwen).post("/schedule/blocks/", form).status_code == 403
    dana = client_for(cast.dana)
    assert dana.post("/schedule/blocks/", {**form, "end_time": "11:00"}).status_code == 400
    assert dana.post("/schedule/blocks/", form).status_code == 302
    block = ScheduleBlock.objects.get()
    assert block.provider == cast.bob
    assert dana.post(f"/schedule/blocks/{block.public_id}/remove/").status_code == 302
    assert not ScheduleBlock.objects.exists()


@pytest.mark.parametrize(
    "url", ["/schedule/", "/schedule/book/", "/schedule/waitlist/", "/schedule/previsit/"]
)
def test_pages_need_a_sign_in(url, db):
    assert Client().get(url).status_code == 302


def test_the_patients_reminder_choice_is_set_from_the_appointment_page(cast, north, maria):
    appt = make_appointment(maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    client = client_for(cast.gwen)
    url = f"/schedule/appointments/{appt.public_id}/reminders/"
    assert client.post(url, {"channel": "fax", "opted_out": "1"}).status_code == 400
    assert client.post(url, {"channel": "sms", "opted_out": "1"}).status_code == 302
    page = client.get(f"/schedule/appointments/{appt.public_id}/").content.decode()
    assert "asked for no reminders by sms" in page
    assert maria.reminder_preferences.get().opted_out
