"""Check-in, rooming into a room, the provider's take and hand-over, checkout, room status and
targets: each checks permission, validates, and writes all or nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.clinics.models import Room, RoomStatusChange
from medassist.clinics.services import set_room_status
from medassist.encounters.models import StageChange
from medassist.encounters.services import StaleVisit, move_visit
from medassist.flow import services
from medassist.flow.models import CheckIn, Checkout, ConsentSignature, FlowTargets
from medassist.flow.services import FollowUp
from medassist.flow.tests.factories import booked_today, check_in_data, make_rooms, walk_to
from medassist.flow.timing import Targets
from medassist.patients.models import Coverage
from medassist.scheduling.models import Appointment
from medassist.scheduling.tests.factories import MONDAY, at

pytestmark = pytest.mark.django_db


def actor(user):  # type: ignore[no-untyped-def]
    return Actor.for_user(user)


def room_of(visit) -> Room:  # type: ignore[no-untyped-def]
    assert visit.room is not None
    return visit.room


def errors_of(exc: pytest.ExceptionInfo) -> dict:  # type: ignore[type-arg]
    return exc.value.message_dict


# --- check-in ---


def test_check_in_verifies_two_identifiers_and_moves_the_visit_to_arrived(cast, types, now):
    visit = booked_today(cast, types, "09:00")
    coverage = Coverage.objects.create(patient=visit.patient, payer_name="Aetna", member_id="W1")
    now("08:52")
    made = services.check_in(
        actor=actor(cast.gwen),
        encounter=visit,
        expected_version=visit.version,
        data=check_in_data(
            visit, coverage_id=str(coverage.public_id), copay_amount=Decimal("25"), payment="card"
        ),
    )
    visit.refresh_from_db()
    assert visit.stage == "arrived"
    assert visit.period_start == at(MONDAY, "08:52")  # arrival time, not the booked time
    assert made.identifiers == ["name", "birth_date"]
    assert made.coverage == coverage and not made.self_pay
    assert made.copay_amount == Decimal("25") and made.payment == "card"
    signed = ConsentSignature.objects.filter(patient=visit.patient)
    assert {(s.form, s.answer, s.signed_on) for s in signed} == {
        ("privacy_notice", "signed", MONDAY),
        ("financial_policy", "signed", MONDAY),
    }
    assert StageChange.objects.get(encounter=visit).to_stage == "arrived"
    assert AuditEvent.objects.filter(entity_type="CheckIn", patient=visit.patient).exists()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"stated_birth_date": dt.date(1980, 3, 5)}, "stated_birth_date", "does not match"),
        ({"stated_birth_date": None}, "stated_birth_date", "date of birth"),
        ({"name_confirmed": False}, "name_confirmed", "two identifiers"),
        ({"demographics_confirmed": False}, "demographics_confirmed", "emergency contact"),
        ({"coverage_id": "not-a-coverage"}, "coverage", "coverage"),
        ({"consents": {"privacy_notice": "signed"}}, "consent_financial_policy", "signed today"),
        (
            {"consents": {"privacy_notice": "on_file", "financial_policy": "signed"}},
            "consent_privacy_notice",
            "no current signature",
        ),
        ({"copay_amount": Decimal("20"), "payment": "none_due"}, "payment", "how it was paid"),
        ({"copay_amount": Decimal("0"), "payment": "cash"}, "copay_amount", "amount collected"),
        ({"copay_amount": Decimal("-5"), "payment": "none_due"}, "copay_amount", "negative"),
        ({"payment": "iou"}, "payment", "copay"),
    ],
)
def test_a_check_in_with_a_gap_is_refused_by_field_and_nothing_is_saved(
    cast, types, changes, field, words
):
    visit = booked_today(cast, types, "09:00")
    with pytest.raises(ValidationError) as exc:
        services.check_in(
            actor=actor(cast.gwen),
            encounter=visit,
            expected_version=visit.version,
            data=check_in_data(visit, **changes),
        )
    assert field in errors_of(exc), errors_of(exc)
    assert words in " ".join(errors_of(exc)[field])
    visit.refresh_from_db()
    assert visit.stage == "scheduled"
    assert not CheckIn.objects.exists() and not ConsentSignature.objects.exists()
    assert not StageChange.objects.exists()


def test_photo_id_with_the_birth_date_is_two_identifiers(cast, types):
    visit = booked_today(cast, types)
    made = services.check_in(
        actor=actor(cast.gwen),
        encounter=visit,
        expected_version=visit.version,
        data=check_in_data(visit, name_confirmed=False, photo_id=True),
    )
    assert made.identifiers == ["birth_date", "photo_id"]


def test_forms_on_file_are_not_signed_again_until_they_expire(cast, types, settings):
    visit = booked_today(cast, types)
    for form, signed in (("privacy_notice", dt.date(2019, 5, 1)), ("financial_policy", MONDAY)):
        ConsentSignature.objects.create(patient=visit.patient, form=form, signed_on=signed)
    on_file = {"privacy_notice": "on_file", "financial_policy": "on_file"}
    services.check_in(
        actor=actor(cast.gwen),
        encounter=visit,
        expected_version=visit.version,
        data=check_in_data(visit, consents=on_file),
    )
    assert ConsentSignature.objects.count() == 2  # nothing new signed
    # A year later the financial policy is due again; a revised notice is too.
    assert not services.consent_current("financial_policy", MONDAY, MONDAY + dt.timedelta(365))
    assert services.consent_current("financial_policy", MONDAY, MONDAY + dt.timedelta(364))
    settings.PRIVACY_NOTICE_DATE = dt.date(2024, 1, 1)
    assert not services.consent_current("privacy_notice", dt.date(2019, 5, 1), MONDAY)
    assert services.consent_current("privacy_notice", dt.date(2024, 1, 1), MONDAY)


def test_a_declined_privacy_notice_is_recorded_and_the_patient_is_still_seen(cast, types):
    visit = booked_today(cast, types)
    services.check_in(
        actor=actor(cast.gwen),
        encounter=visit,
        expected_version=visit.version,
        data=check_in_data(
            visit, consents={"privacy_notice": "declined", "financial_policy": "signed"}
        ),
    )
    declined = ConsentSignature.objects.get(form="privacy_notice")
    assert declined.answer == "declined"
    assert services.latest_signatures(visit.patient)["privacy_notice"] is None


def test_check_in_is_for_todays_visits_only(cast, types):
    visit = booked_today(cast, types)
    visit.period_start = at(MONDAY + dt.timedelta(days=1), "09:00")
    visit.save()
    with pytest.raises(ValidationError, match="on the day of the visit"):
        services.check_in(
            actor=actor(cast.gwen),
            encounter=visit,
            expected_version=visit.version,
            data=check_in_data(visit),
        )


def test_a_provider_does_not_check_patients_in(cast, types):
    visit = booked_today(cast, types)
    with pytest.raises(PermissionDenied):
        services.check_in(
            actor=actor(cast.bob),
            encounter=visit,
            expected_version=visit.version,
            data=check_in_data(visit),
        )


def test_checking_in_twice_is_refused(cast, types):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    with pytest.raises(ValidationError, match="already arrived"):
        services.check_in(
            actor=actor(cast.gwen),
            encounter=visit,
            expected_version=visit.version,
            data=check_in_data(visit),
        )
    assert CheckIn.objects.count() == 1


# --- rooming into a room ---


def test_rooming_takes_a_ready_room_and_makes_the_ma_the_visits_ma(cast, types):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    room = Room.objects.get(clinic=cast.north, name="Exam 2")
    services.room_patient(
        actor=actor(cast.alice), encounter=visit, room=room, expected_version=visit.version
    )
    visit.refresh_from_db()
    room.refresh_from_db()
    assert visit.stage == "roomed" and visit.room == room and visit.medical_assistant == cast.alice
    assert room.status == "occupied" and room.status_by == cast.alice
    assert list(RoomStatusChange.objects.filter(room=room).values_list("status", flat=True)) == [
        "occupied"
    ]


@pytest.mark.parametrize("status", ["dirty", "cleaning", "occupied"])
def test_rooming_in_a_room_that_is_not_ready_is_refused(cast, types, status):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    Room.objects.filter(pk=room.pk).update(status=status)
    room.refresh_from_db()
    with pytest.raises(ValidationError, match="not ready"):
        services.room_patient(
            actor=actor(cast.alice), encounter=visit, room=room, expected_version=visit.version
        )
    visit.refresh_from_db()
    assert visit.stage == "arrived" and visit.room is None


def test_rooming_before_check_in_is_refused(cast, types):
    visit = booked_today(cast, types)
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    with pytest.raises(ValidationError, match="checked-in patient"):
        services.room_patient(
            actor=actor(cast.alice), encounter=visit, room=room, expected_version=visit.version
        )
    room.refresh_from_db()
    assert room.status == "ready"  # nothing taken


def test_another_clinics_room_is_refused(cast, types):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    (south_room,) = make_rooms(cast.south, 1)
    with pytest.raises(ValidationError, match="not one of this clinic's rooms"):
        services.room_patient(
            actor=actor(cast.alice),
            encounter=visit,
            room=south_room,
            expected_version=visit.version,
        )


def test_a_stale_version_gives_the_room_back(cast, types):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    with pytest.raises(StaleVisit):
        services.room_patient(
            actor=actor(cast.alice),
            encounter=visit,
            room=room,
            expected_version=visit.version - 1,
        )
    room.refresh_from_db()
    assert room.status == "ready" and not RoomStatusChange.objects.filter(room=room).exists()


def test_two_patients_cannot_be_roomed_in_one_room(cast, types):
    first = walk_to(booked_today(cast, types, family="One"), "arrived", cast)
    second = walk_to(booked_today(cast, types, "09:20", family="Two"), "arrived", cast)
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    stale_copy = Room.objects.get(pk=room.pk)  # what the second MA's screen showed: ready
    services.room_patient(
        actor=actor(cast.alice), encounter=first, room=room, expected_version=first.version
    )
    with pytest.raises(ValidationError, match="Exam 1 is occupied"):
        services.room_patient(
            actor=actor(cast.alice),
            encounter=second,
            room=stale_copy,
            expected_version=second.version,
        )
    second.refresh_from_db()
    assert second.stage == "arrived"


def test_entering_the_room_without_a_room_is_refused_at_the_lowest_level(cast, types):
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    with pytest.raises(ValidationError, match="ready room"):
        move_visit(
            actor=actor(cast.alice), encounter=visit, to="roomed", expected_version=visit.version
        )


# --- the provider, and the room after the patient leaves ---


def test_the_room_is_dirty_when_the_patient_leaves_it(cast, types):
    visit = walk_to(booked_today(cast, types), "with_provider", cast)
    room = room_of(visit)
    services.hand_to_checkout(
        actor=actor(cast.bob), encounter=visit, expected_version=visit.version
    )
    room.refresh_from_db()
    assert room.status == "dirty"
    assert list(RoomStatusChange.objects.filter(room=room).values_list("status", flat=True)) == [
        "occupied",
        "dirty",
    ]


def test_back_to_the_waiting_room_leaves_the_room_dirty(cast, types):
    visit = walk_to(booked_today(cast, types), "roomed", cast)
    move_visit(
        actor=actor(cast.alice), encounter=visit, to="arrived", expected_version=visit.version
    )
    room = room_of(visit)
    room.refresh_from_db()
    assert room.status == "dirty"


def test_sending_the_patient_back_to_the_ma_keeps_the_room(cast, types):
    visit = walk_to(booked_today(cast, types), "with_provider", cast)
    move_visit(actor=actor(cast.bob), encounter=visit, to="roomed", expected_version=visit.version)
    room = room_of(visit)
    room.refresh_from_db()
    assert room.status == "occupied"


def test_only_providers_take_patients(cast, types):
    visit = walk_to(booked_today(cast, types), "ready_for_provider", cast)
    with pytest.raises(PermissionDenied):
        services.start_provider_visit(
            actor=actor(cast.alice), encounter=visit, expected_version=visit.version
        )


# --- room status by hand ---


@pytest.mark.parametrize(
    ("start", "to", "ok"),
    [
        ("dirty", "cleaning", True),
        ("dirty", "ready", True),
        ("cleaning", "ready", True),
        ("cleaning", "dirty", True),
        ("ready", "dirty", True),
        ("ready", "cleaning", False),
        ("ready", "ready", False),
        ("dirty", "occupied", False),
        ("occupied", "ready", False),  # frees only when the patient leaves
    ],
)
def test_room_status_moves(cast, types, start, to, ok):
    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    Room.objects.filter(pk=room.pk).update(status=start)
    room.refresh_from_db()
    if ok:
        set_room_status(actor=actor(cast.alice), room=room, to=to, expected_version=room.version)
        room.refresh_from_db()
        assert room.status == to and room.status_by == cast.alice
        assert RoomStatusChange.objects.get(room=room).status == to
    else:
        with pytest.raises(ValidationError):
            set_room_status(
                actor=actor(cast.alice), room=room, to=to, expected_version=room.version
            )
        assert not RoomStatusChange.objects.filter(room=room).exists()


def test_a_provider_does_not_mark_rooms_and_a_stale_room_is_refused(cast, types):
    from medassist.clinics.services import StaleRoom

    room = Room.objects.get(clinic=cast.north, name="Exam 1")
    with pytest.raises(PermissionDenied):
        set_room_status(actor=actor(cast.bob), room=room, to="dirty", expected_version=room.version)
    with pytest.raises(StaleRoom, match="meanwhile"):
        set_room_status(
            actor=actor(cast.alice), room=room, to="dirty", expected_version=room.version + 1
        )


# --- checkout ---


def test_checkout_books_the_follow_up_and_closes_the_visit_in_one_step(cast, types, now):
    visit = walk_to(booked_today(cast, types), "ready_for_checkout", cast)
    now("10:00")
    start = at(MONDAY + dt.timedelta(days=14), "10:00")
    made = services.check_out(
        actor=actor(cast.gwen),
        encounter=visit,
        expected_version=visit.version,
        plan="booked",
        follow_up=FollowUp(types["follow-up"], cast.bob, start),
    )
    visit.refresh_from_db()
    assert visit.stage == "done" and visit.period_end == at(MONDAY, "10:00")
    follow_up = made.follow_up
    assert follow_up is not None
    assert follow_up.start == start and follow_up.patient == visit.patient
    assert follow_up.encounter.stage == "scheduled"


def test_a_follow_up_that_cannot_be_booked_leaves_the_visit_open(cast, types):
    visit = walk_to(booked_today(cast, types), "ready_for_checkout", cast)
    sunday = at(MONDAY + dt.timedelta(days=6), "10:00")  # bob has no session on Sundays
    with pytest.raises(ValidationError):
        services.check_out(
            actor=actor(cast.gwen),
            encounter=visit,
            expected_version=visit.version,
            plan="booked",
            follow_up=FollowUp(types["follow-up"], cast.bob, sunday),
        )
    visit.refresh_from_db()
    assert visit.stage == "ready_for_checkout"
    assert not Checkout.objects.exists()
    assert Appointment.objects.filter(patient=visit.patient).count() == 1


@pytest.mark.parametrize(
    ("plan", "follow_up", "words"),
    [("booked", None, "Choose the follow-up"), ("maybe", None, "Say whether")],
)
def test_checkout_needs_a_plan(cast, types, plan, follow_up, words):
    visit = walk_to(booked_today(cast, types), "ready_for_checkout", cast)
    with pytest.raises(ValidationError, match=words):
        services.check_out(
            actor=actor(cast.gwen), encounter=visit, expected_version=visit.version, plan=plan
        )


def test_checkout_before_the_provider_is_done_is_refused(cast, types):
    visit = walk_to(booked_today(cast, types), "with_provider", cast)
    with pytest.raises(ValidationError, match="provider has finished"):
        services.check_out(
            actor=actor(cast.gwen),
            encounter=visit,
            expected_version=visit.version,
            plan="none_needed",
        )


# --- targets ---


def test_the_manager_sets_the_targets(cast, types):
    services.set_targets(actor=actor(cast.dana), clinic=cast.north, targets=Targets(arrived=20))
    assert FlowTargets.objects.get(clinic=cast.north).arrived == 20
    with pytest.raises(PermissionDenied):
        services.set_targets(actor=actor(cast.alice), clinic=cast.north, targets=Targets())
    with pytest.raises(ValidationError):
        services.set_targets(actor=actor(cast.dana), clinic=cast.north, targets=Targets(total=0))
