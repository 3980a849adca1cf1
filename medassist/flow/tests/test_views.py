"""The clinic-day pages, through the test client: the board, check-in, rooming into a room,
the provider's buttons, checkout with the after-visit summary, rooms, cycle times, targets."""

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from medassist.audit.models import Action, AuditEvent
from medassist.clinics.models import Room
from medassist.encounters.models import Encounter
from medassist.flow.models import Checkout, FlowTargets
from medassist.flow.tests.factories import booked_today, walk_to
from medassist.history.models import Allergy
from medassist.rooming.tests.factories import make_medication
from medassist.scheduling.tests.factories import MONDAY, at

pytestmark = pytest.mark.django_db
BOARD = "/flow/board/"
POLL = {"HX-Request": "true", "X-Medassist-Poll": "1"}


@pytest.fixture
def as_user(cast):  # type: ignore[no-untyped-def]
    def make(username: str) -> Client:
        client = Client(raise_request_exception=False)
        client.force_login(getattr(cast, username))
        return client

    return make


def fingerprint_of(html: str) -> str:
    return re.search(r'id="board-fp" name="fp" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr id="visit-([0-9a-f-]{36})"', html)


# --- the board ---


def test_the_board_shows_every_visit_of_the_day_once_with_its_stage_and_time(
    cast, types, now, as_user
):
    walk_to(booked_today(cast, types, "08:00", family="Done"), "done", cast)
    roomed = walk_to(booked_today(cast, types, "08:20", family="Roomed"), "roomed", cast)
    waiting = walk_to(booked_today(cast, types, "08:40", family="Waiting"), "arrived", cast)
    later = booked_today(cast, types, "11:00", family="Later")
    booked_today(cast, types, "09:00", family="Tomorrow").__class__.objects.filter(
        patient__family="Tomorrow"
    ).update(period_start=at(MONDAY + dt.timedelta(days=1), "09:00"))
    now("09:05")

    html = as_user("alice").get(BOARD).content.decode()

    ids = rows_of(html)
    assert len(ids) == len(set(ids)) == 4  # tomorrow's visit is not on today's board
    assert ids[-1] == str(later.public_id)  # in booked order
    row = html[html.index(f'id="visit-{waiting.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Arrived" in row and "35 min" in row  # checked in at 08:30, now 09:05
    assert "over the 15-min target" in row
    row = html[html.index(f'id="visit-{roomed.public_id}"') :]
    assert roomed.room is not None
    assert f"<td>{roomed.room.name}</td>" in row[: row.index("</tr>")]
    assert 'class="n">1</span> Done' in html


def test_the_board_runs_the_same_number_of_queries_for_3_or_30_visits(cast, types, as_user):
    alice = as_user("alice")
    for i in range(3):
        walk_to(booked_today(cast, types, f"08:{i * 10:02d}", family=f"A{i}"), "arrived", cast)
    alice.get(BOARD)
    with CaptureQueriesContext(connection) as few:
        alice.get(BOARD)
    for i in range(27):
        hh, mm = divmod(9 * 60 + i * 20, 60)
        visit = booked_today(cast, types, f"{hh:02d}:{mm:02d}", family=f"B{i}")
        if i % 3 == 0:
            walk_to(visit, "arrived", cast)
    with CaptureQueriesContext(connection) as many:
        response = alice.get(BOARD)
    assert len(rows_of(response.content.decode())) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_another_clinics_user_sees_only_their_own_board(cast, types, as_user):
    booked_today(cast, types, family="Northonly")
    html = as_user("carol").get(BOARD, {"clinic": "north"}).content.decode()
    assert "Northonly" not in html and "South Pediatrics" in html


def test_the_poll_answers_204_until_something_changes(cast, types, now, as_user):
    visit = booked_today(cast, types, "09:00")
    alice = as_user("alice")
    fp = fingerprint_of(alice.get(BOARD).content.decode())
    assert alice.get(BOARD, {"fp": fp, "clinic": "north"}, headers=POLL).status_code == 204
    reads = AuditEvent.objects.filter(entity_type="FlowBoard").count()

    walk_to(visit, "arrived", cast)  # the front desk checks the patient in
    changed = alice.get(BOARD, {"fp": fp, "clinic": "north"}, headers=POLL)

    assert changed.status_code == 200
    assert "Arrived" in changed.content.decode()
    assert fingerprint_of(changed.content.decode()) != fp
    assert AuditEvent.objects.filter(entity_type="FlowBoard").count() == reads + 1


def test_the_poll_brings_new_minutes_even_when_nothing_moves(cast, types, now, as_user):
    booked_today(cast, types, "09:00")
    alice = as_user("alice")
    fp = fingerprint_of(alice.get(BOARD).content.decode())
    now("08:31")
    assert alice.get(BOARD, {"fp": fp}, headers=POLL).status_code == 200


def test_the_poll_does_not_keep_the_session_alive(cast, types, now, as_user):
    alice = as_user("alice")
    alice.get(BOARD)
    session = alice.session
    last = session["medassist_last_activity"]
    session["medassist_last_activity"] = last - 60
    session.save()
    alice.get(BOARD, headers=POLL)
    assert alice.session["medassist_last_activity"] == last - 60  # a poll is not activity
    alice.get(BOARD)
    assert alice.session["medassist_last_activity"] > last - 60  # a person's request is


def test_filters_narrow_the_board_and_its_counts(cast, types, as_user):
    from medassist.clinics.models import Membership
    from medassist.scheduling.tests.factories import make_week

    other = cast.frank.__class__.objects.create_user("pat", first_name="Pat", last_name="Lee")
    Membership.objects.create(user=other, clinic=cast.north, role="provider", title="DO")
    make_week(cast.north, other)
    booked_today(cast, types, "09:00", family="Bobs")
    booked_today(cast, types, "09:00", family="Pats", provider=other)
    html = as_user("alice").get(BOARD, {"provider": "pat"}).content.decode()
    assert "Pats" in html and "Bobs" not in html
    assert 'class="n">1</span> Scheduled' in html
    finished = walk_to(booked_today(cast, types, "08:00", family="Gone"), "done", cast)
    html = as_user("alice").get(BOARD, {"finished": "0"}).content.decode()
    assert str(finished.public_id) not in html


# --- actions from the board ---


def test_check_in_page_refuses_a_wrong_birth_date_with_a_clear_message(cast, types, as_user):
    visit = booked_today(cast, types)
    url = f"/flow/visits/{visit.public_id}/check-in/"
    gwen = as_user("gwen")
    assert "Date of birth, as the patient says it" in gwen.get(url).content.decode()
    response = gwen.post(
        url,
        {
            "version": visit.version,
            "name_confirmed": "on",
            "stated_birth_date": "1980-03-05",
            "demographics_confirmed": "on",
            "coverage": "self_pay",
            "consent_privacy_notice": "signed",
            "consent_financial_policy": "signed",
            "copay_amount": "0",
            "payment": "none_due",
        },
    )
    assert response.status_code == 422
    assert "does not match this chart" in response.content.decode()
    visit.refresh_from_db()
    assert visit.stage == "scheduled"


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday", "\x00", "9" * 40])
def test_check_in_with_malformed_input_is_a_form_error(cast, types, as_user, bad):
    visit = booked_today(cast, types)
    response = as_user("gwen").post(
        f"/flow/visits/{visit.public_id}/check-in/",
        {"version": visit.version, "stated_birth_date": bad, "copay_amount": bad, "payment": bad},
    )
    assert response.status_code == 422
    visit.refresh_from_db()
    assert visit.stage == "scheduled"


def test_check_in_then_room_then_take_from_the_board(cast, types, now, as_user):
    visit = booked_today(cast, types)
    gwen, alice, bob = as_user("gwen"), as_user("alice"), as_user("bob")
    response = gwen.post(
        f"/flow/visits/{visit.public_id}/check-in/",
        {
            "version": visit.version,
            "name_confirmed": "on",
            "stated_birth_date": "1980-03-04",
            "demographics_confirmed": "on",
            "coverage": "self_pay",
            "consent_privacy_notice": "signed",
            "consent_financial_policy": "declined",
            "copay_amount": "15.00",
            "payment": "cash",
            "next": "/flow/board/?clinic=north",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/flow/board/?clinic=north"
    visit.refresh_from_db()
    assert visit.stage == "arrived"

    room = Room.objects.get(clinic=cast.north, name="Exam 3")
    response = alice.post(
        f"/flow/visits/{visit.public_id}/room/",
        {"version": visit.version, "room": str(room.public_id)},
    )
    assert response["Location"] == f"/rooming/{visit.public_id}/"

    visit.refresh_from_db()
    from medassist.access.actor import Actor
    from medassist.encounters.services import move_visit

    move_visit(
        actor=Actor.for_user(cast.alice),
        encounter=visit,
        to="ready_for_provider",
        expected_version=visit.version,
    )
    board = bob.get(BOARD).content.decode()
    assert "Ready for provider" in board and "Take patient" in board
    response = bob.post(f"/flow/visits/{visit.public_id}/take/", {"version": visit.version})
    assert response["Location"] == f"/rooming/{visit.public_id}/summary/"
    visit.refresh_from_db()
    assert visit.stage == "with_provider"


def test_a_stale_board_button_says_what_happened(cast, types, as_user):
    visit = walk_to(booked_today(cast, types), "ready_for_provider", cast)
    bob = as_user("bob")
    seen = visit.version
    bob.post(f"/flow/visits/{visit.public_id}/take/", {"version": seen})
    response = bob.post(
        f"/flow/visits/{visit.public_id}/to-checkout/", {"version": seen}, follow=True
    )
    assert "Someone else changed this visit meanwhile" in response.content.decode()
    visit.refresh_from_db()
    assert visit.stage == "with_provider"


def test_rooming_in_a_dirty_room_from_the_board_is_refused(cast, types, as_user):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    Room.objects.filter(pk=room.pk).update(status="dirty")
    response = as_user("alice").post(
        f"/flow/visits/{visit.public_id}/room/",
        {"version": visit.version, "room": str(room.public_id)},
        follow=True,
    )
    assert "Exam 1 is dirty, not ready" in response.content.decode()
    visit.refresh_from_db()
    assert visit.stage == "arrived"


# --- checkout and the after-visit summary ---


def test_checkout_offers_open_times_and_books_the_follow_up(cast, types, now, as_user):
    visit = walk_to(booked_today(cast, types), "ready_for_checkout", cast)
    gwen = as_user("gwen")
    url = f"/flow/visits/{visit.public_id}/checkout/"
    page = gwen.get(url).content.decode()
    slots = re.findall(r'name="slot" value="([^"]+)"', page)
    assert slots, "the first open times for a follow-up in about two weeks"
    first = dt.datetime.fromisoformat(slots[0].split("|")[0])
    assert first.date() >= MONDAY + dt.timedelta(days=12)

    response = gwen.post(
        url,
        {
            "version": visit.version,
            "plan": "booked",
            "slot": slots[0],
            "appointment_type": "follow-up",
            "provider": "bob",
            "follow_up_in": "14",
            "action": "close",
        },
    )
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.stage == "done"
    checkout = Checkout.objects.select_related("follow_up").get(encounter=visit)
    assert checkout.follow_up is not None and checkout.follow_up.start == first
    assert "Follow-up booked" in gwen.get(url).content.decode()


def test_checkout_with_a_forged_slot_is_a_form_error(cast, types, as_user):
    visit = walk_to(booked_today(cast, types), "ready_for_checkout", cast)
    response = as_user("gwen").post(
        f"/flow/visits/{visit.public_id}/checkout/",
        {
            "version": visit.version,
            "plan": "booked",
            "slot": "not-a-time|bob",
            "appointment_type": "follow-up",
            "provider": "bob",
            "follow_up_in": "14",
        },
    )
    assert response.status_code == 422
    assert "not one of those offered" in response.content.decode()
    visit.refresh_from_db()
    assert visit.stage == "ready_for_checkout"


def test_the_after_visit_summary_is_a_pdf_for_the_patient_and_is_audited(cast, types, as_user):
    visit = walk_to(booked_today(cast, types, family="Abernathy"), "ready_for_checkout", cast)
    make_medication(visit.patient, "Lisinopril")
    Allergy.objects.create(patient=visit.patient, substance="Penicillin", reaction="hives")
    Encounter.objects.filter(pk=visit.pk).update(reason="Cough for two weeks")
    response = as_user("gwen").get(f"/flow/visits/{visit.public_id}/after-visit-summary.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    for words in (
        "Maria Abernathy",
        "Cough for two weeks",
        "Penicillin",
        "Lisinopril",
        "North Family Medicine",
        "217-555-0100",
    ):
        assert words in text, words
    assert AuditEvent.objects.filter(
        action=Action.PRINT, entity_type="AfterVisitSummary", patient=visit.patient
    ).exists()


# --- rooms, cycle times, targets ---


def test_the_rooms_page_shows_who_cleaned_and_lets_the_ma_mark_a_room(cast, types, as_user):
    room = Room.objects.get(clinic=cast.north, name="Exam 2")
    Room.objects.filter(pk=room.pk).update(status="dirty")
    alice = as_user("alice")
    response = alice.post(
        f"/flow/rooms/{room.public_id}/status/",
        {"version": room.version, "status": "ready"},
        follow=True,
    )
    html = response.content.decode()
    assert "Exam 2 is ready" in html
    assert "Alice Moreno" in alice.get("/flow/rooms/").content.decode()
    # The room board names the patients in the rooms: its read is in the audit trail.
    assert AuditEvent.objects.filter(entity_type="RoomBoard", username="alice").exists()


def test_cycle_times_show_a_plot_per_provider(cast, types, now, as_user):
    # Each visit: 10 min waiting, 5 rooming, 5 waiting for bob, 20 with him, 4 at checkout.
    minutes = {
        "arrived": 0,
        "roomed": 10,
        "ready_for_provider": 15,
        "with_provider": 20,
        "ready_for_checkout": 40,
        "done": 44,
    }
    for i in range(3):
        start = at(MONDAY, f"08:{i * 10:02d}")
        walk_to(
            booked_today(cast, types, f"08:{i * 10:02d}", family=f"C{i}"),
            "done",
            cast,
            before=lambda step, s=start: now(s + dt.timedelta(minutes=minutes[step])),
        )
    html = as_user("bob").get("/flow/cycle-times/").content.decode()
    assert "<svg" in html and 'class="seg seg-waiting"' in html
    assert "Robert Okafor (3)" in html
    assert "Robert Okafor: Arrival to roomed 10 min" in html  # each bar names its minutes
    assert "Robert Okafor: With the provider 20 min" in html
    assert ">44 min</text>" in html  # door to door
    assert as_user("alice").get("/flow/cycle-times/").status_code == 403  # not an MA's report


def test_the_manager_sets_targets_and_the_ma_may_not(cast, types, as_user):
    dana = as_user("dana")
    fields = {
        "arrived": 20,
        "roomed": 15,
        "ready_for_provider": 10,
        "with_provider": 30,
        "ready_for_checkout": 10,
        "total": 100,
    }
    assert dana.post("/flow/targets/", fields).status_code == 302
    assert FlowTargets.objects.get(clinic=cast.north).total == 100
    assert dana.post("/flow/targets/", fields | {"total": "0"}).status_code == 422
    assert as_user("alice").get("/flow/targets/").status_code == 403


@pytest.mark.parametrize("target", ["0", "//evil.example/x", "javascript:alert(1)", "flow:board"])
def test_where_to_go_back_is_a_path_on_this_site_only(cast, types, as_user, target):
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    response = as_user("alice").post(
        f"/flow/rooms/{room.public_id}/status/",
        {"version": room.version, "status": "dirty", "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == "/flow/board/?clinic=north"


def test_the_rooms_page_names_who_is_in_each_room_in_constant_queries(cast, types, as_user):
    alice = as_user("alice")
    first = walk_to(booked_today(cast, types, family="Inroom"), "roomed", cast)
    alice.get("/flow/rooms/")
    with CaptureQueriesContext(connection) as one:
        html = alice.get("/flow/rooms/").content.decode()
    assert first.room is not None
    row = html[html.index(f'id="room-{first.room.public_id}"') :]
    assert "Inroom, Maria · Roomed" in row[: row.index("</tr>")]
    walk_to(booked_today(cast, types, "09:20", family="Second"), "roomed", cast)
    with CaptureQueriesContext(connection) as two:
        alice.get("/flow/rooms/")
    assert len(two.captured_queries) == len(one.captured_queries)
