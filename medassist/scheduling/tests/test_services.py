import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import AuditEvent
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.services import StaleVisit
from medassist.patients.tests.factories import make_patient
from medassist.scheduling import selectors, services
from medassist.scheduling.models import Appointment, WaitlistEntry
from medassist.scheduling.tests.factories import MONDAY, at, make_block, make_template

TUESDAY = MONDAY + dt.timedelta(days=1)


def book(actor, patient, provider, type_, start, **kw):
    return services.book_appointment(
        actor=actor, patient=patient, provider=provider, appointment_type=type_, start=start, **kw
    )


def test_booking_creates_a_scheduled_encounter_and_the_appointment_and_audits(
    cast, actor_of, north, maria
):
    appt = book(
        actor_of(cast.gwen),
        maria,
        cast.bob,
        north["follow-up"],
        at(MONDAY, "09:00"),
        reason="Blood pressure check",
    )
    assert appt.end == at(MONDAY, "09:20")
    enc = appt.encounter
    assert enc.stage == Encounter.Stage.SCHEDULED
    assert enc.period_start == at(MONDAY, "09:00")
    assert enc.provider == cast.bob and enc.clinic == cast.north
    assert enc.visit_type == "Follow-up" and enc.reason == "Blood pressure check"
    assert enc.kind == "AMB"
    assert appt.status == "booked"
    assert AuditEvent.objects.filter(
        action="create", entity_type="Appointment", entity_id=str(appt.public_id)
    ).exists()


def test_a_telehealth_booking_makes_a_virtual_encounter(cast, actor_of, north, maria):
    appt = book(actor_of(cast.gwen), maria, cast.bob, north["telehealth"], at(TUESDAY, "10:00"))
    assert appt.encounter.kind == "VR"


def test_an_outsider_may_not_book_for_another_clinics_patient(cast, actor_of, north, maria):
    with pytest.raises(PermissionDenied):
        book(actor_of(cast.carol), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    assert not Appointment.objects.exists()


def test_a_provider_without_booking_permission_may_not_book(cast, actor_of, north, maria):
    with pytest.raises(PermissionDenied):
        book(actor_of(cast.bob), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))


def test_a_day_in_the_past_is_refused(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match="in the past"):
        book(
            actor_of(cast.gwen),
            maria,
            cast.bob,
            north["follow-up"],
            at(MONDAY - dt.timedelta(days=7), "09:00"),
        )


def test_earlier_today_is_accepted_for_a_walk_in_entered_late(cast, actor_of, north, maria, now):
    now(at(MONDAY, "10:30"))
    appt = book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "10:00"))
    assert appt.pk


def test_outside_the_providers_session_is_refused_naming_the_hours(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match=r"12:20 is outside .*08:00-12:00, 13:00-17:00"):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "12:20"))


def test_a_visit_running_past_the_session_end_is_refused(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match="run past the end .* 12:00"):
        book(actor_of(cast.gwen), maria, cast.bob, north["physical"], at(MONDAY, "11:40"))


def test_a_weekend_day_without_sessions_is_refused(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match="no clinic session"):
        book(
            actor_of(cast.gwen),
            maria,
            cast.bob,
            north["follow-up"],
            at(MONDAY + dt.timedelta(days=5), "09:00"),
        )


def test_a_type_the_session_does_not_take_is_refused(cast, actor_of, north, maria):
    make_template(cast.north, cast.frank, weekday=1, types=[north["immunization"]])
    with pytest.raises(ValidationError, match="does not see Follow-up visits on Tuesdays"):
        book(actor_of(cast.gwen), maria, cast.frank, north["follow-up"], at(TUESDAY, "09:00"))


def test_blocked_time_is_refused_naming_the_block(cast, actor_of, north, maria):
    make_block(cast.north, at(MONDAY, "09:00"), at(MONDAY, "10:00"), "Staff meeting")
    with pytest.raises(ValidationError, match=r"blocked from 09:00 to 10:00 \(Staff meeting\)"):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "08:50"))


def test_another_providers_block_does_not_get_in_the_way(cast, actor_of, north, maria):
    make_block(cast.north, at(MONDAY, "09:00"), at(MONDAY, "10:00"), provider=cast.frank)
    assert book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))


def test_an_overlap_with_another_booking_is_refused_naming_it(cast, actor_of, north, maria, sam):
    book(actor_of(cast.gwen), sam, cast.bob, north["physical"], at(MONDAY, "09:00"))
    with pytest.raises(ValidationError, match=r"already booked at that time \(09:00-09:40, Annual"):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:20"))


def test_a_session_with_two_per_slot_takes_a_second_patient_but_not_a_third(
    cast, actor_of, north, maria, sam
):
    make_template(cast.north, cast.frank, weekday=1, max_per_slot=2)
    third = make_patient(cast.north, family="Lee", given="Ann")
    gwen = actor_of(cast.gwen)
    book(gwen, maria, cast.frank, north["follow-up"], at(TUESDAY, "09:00"))
    book(gwen, sam, cast.frank, north["follow-up"], at(TUESDAY, "09:00"))
    with pytest.raises(ValidationError, match="allows 2 at once"):
        book(gwen, third, cast.frank, north["follow-up"], at(TUESDAY, "09:00"))


def test_double_booking_beyond_capacity_needs_the_manager(cast, actor_of, north, maria, sam):
    book(actor_of(cast.gwen), sam, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(PermissionDenied, match="clinic manager"):
        book(
            actor_of(cast.gwen),
            maria,
            cast.bob,
            north["follow-up"],
            at(MONDAY, "09:00"),
            allow_double_booking=True,
        )
    appt = book(
        actor_of(cast.dana),
        maria,
        cast.bob,
        north["follow-up"],
        at(MONDAY, "09:00"),
        allow_double_booking=True,
    )
    assert appt.pk


def test_double_booking_does_not_override_blocked_time(cast, actor_of, north, maria):
    make_block(cast.north, at(MONDAY, "09:00"), at(MONDAY, "10:00"))
    with pytest.raises(ValidationError, match="blocked"):
        book(
            actor_of(cast.dana),
            maria,
            cast.bob,
            north["follow-up"],
            at(MONDAY, "09:00"),
            allow_double_booking=True,
        )


def test_a_patient_already_booked_at_an_overlapping_time_is_refused(cast, actor_of, north, maria):
    make_template(cast.north, cast.frank, weekday=0)
    book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(ValidationError, match="Maria Rivera is already booked at 09:00"):
        book(actor_of(cast.gwen), maria, cast.frank, north["follow-up"], at(MONDAY, "09:10"))


def test_a_cancelled_booking_frees_its_time(cast, actor_of, north, maria, sam):
    gwen = actor_of(cast.gwen)
    first = book(gwen, sam, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    services.cancel_appointment(
        actor=gwen, appointment=first, reason="patient is away", expected_version=1
    )
    assert book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))


def test_same_day_types_are_booked_for_today_only(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match="today only"):
        book(actor_of(cast.gwen), maria, cast.bob, north["same-day"], at(TUESDAY, "09:00"))
    assert book(actor_of(cast.gwen), maria, cast.bob, north["same-day"], at(MONDAY, "09:00"))


def test_another_clinics_type_is_refused(cast, actor_of, north, maria):
    from medassist.scheduling.tests.factories import make_types

    south = make_types(cast.south)
    with pytest.raises(ValidationError, match="another clinic"):
        book(actor_of(cast.gwen), maria, cast.bob, south["follow-up"], at(MONDAY, "09:00"))


def test_rescheduling_books_anew_and_cancels_the_old_visit_as_rescheduled(
    cast, actor_of, north, maria
):
    gwen = actor_of(cast.gwen)
    old = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"), reason="cough")
    new = services.reschedule_appointment(
        actor=gwen, appointment=old, start=at(MONDAY, "09:10"), expected_version=1
    )
    old.refresh_from_db()
    old.encounter.refresh_from_db()
    assert old.encounter.stage == "cancelled" and old.cancel_reason == "rescheduled"
    assert StageChange.objects.get(encounter=old.encounter).note == "rescheduled"
    assert new.rescheduled_from == old and new.reason == "cough"
    assert new.start == at(MONDAY, "09:10")


def test_rescheduling_into_a_conflict_changes_nothing(cast, actor_of, north, maria):
    gwen = actor_of(cast.gwen)
    old = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(ValidationError, match="outside"):
        services.reschedule_appointment(
            actor=gwen, appointment=old, start=at(MONDAY, "18:00"), expected_version=1
        )
    old.encounter.refresh_from_db()
    assert old.encounter.stage == "scheduled"
    assert Appointment.objects.count() == 1


def test_rescheduling_a_stale_appointment_is_refused(cast, actor_of, north, maria):
    gwen = actor_of(cast.gwen)
    old = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(StaleVisit):
        services.reschedule_appointment(
            actor=gwen, appointment=old, start=at(MONDAY, "10:00"), expected_version=7
        )
    assert Appointment.objects.count() == 1


def test_cancel_needs_a_reason(cast, actor_of, north, maria):
    gwen = actor_of(cast.gwen)
    appt = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(ValidationError, match="why"):
        services.cancel_appointment(actor=gwen, appointment=appt, reason="  ", expected_version=1)
    services.cancel_appointment(actor=gwen, appointment=appt, reason="sick", expected_version=1)
    appt.encounter.refresh_from_db()
    assert appt.encounter.stage == "cancelled" and appt.cancel_reason == "sick"
    assert appt.status == "cancelled"


def test_a_cancelled_visit_cannot_be_cancelled_again(cast, actor_of, north, maria):
    gwen = actor_of(cast.gwen)
    appt = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    services.cancel_appointment(actor=gwen, appointment=appt, reason="sick", expected_version=1)
    with pytest.raises(ValidationError, match="this one is cancelled"):
        services.cancel_appointment(actor=gwen, appointment=appt, reason="x", expected_version=2)


def test_no_show_only_once_the_time_has_come(cast, actor_of, north, maria, now):
    gwen = actor_of(cast.gwen)
    appt = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    with pytest.raises(ValidationError, match="not a no-show yet"):
        services.mark_no_show(actor=gwen, appointment=appt, expected_version=1)
    now(at(MONDAY, "09:30"))
    services.mark_no_show(actor=gwen, appointment=appt, expected_version=1)
    appt.encounter.refresh_from_db()
    assert appt.encounter.stage == "no_show" and appt.status == "noshow"


def test_waitlist_entry_is_offered_a_cancelled_slot_and_booking_resolves_it(
    cast, actor_of, north, maria, sam
):
    gwen = actor_of(cast.gwen)
    taken = book(gwen, sam, cast.bob, north["follow-up"], at(TUESDAY, "09:00"))
    entry = services.add_to_waitlist(actor=gwen, patient=maria, appointment_type=north["follow-up"])
    entries = selectors.open_waitlist(gwen, cast.north)
    assert selectors.waitlist_openings(gwen, cast.north, entries) == []

    services.cancel_appointment(actor=gwen, appointment=taken, reason="sick", expected_version=1)
    openings = selectors.waitlist_openings(
        gwen, cast.north, selectors.open_waitlist(gwen, cast.north)
    )
    assert [(o.start, [e.pk for e in o.entries]) for o in openings] == [
        (at(TUESDAY, "09:00"), [entry.pk])
    ]

    appt = services.book_from_waitlist(
        actor=gwen, entry=entry, provider=cast.bob, start=at(TUESDAY, "09:00")
    )
    entry.refresh_from_db()
    assert entry.resolved_at is not None and entry.appointment == appt
    assert selectors.open_waitlist(gwen, cast.north) == []
    assert selectors.waitlist_openings(gwen, cast.north, [entry]) == []


def test_a_longer_visit_on_the_waitlist_is_not_offered_a_shorter_opening(
    cast, actor_of, north, maria, sam
):
    gwen = actor_of(cast.gwen)
    taken = book(gwen, sam, cast.bob, north["follow-up"], at(TUESDAY, "09:00"))
    services.add_to_waitlist(actor=gwen, patient=maria, appointment_type=north["physical"])
    services.cancel_appointment(actor=gwen, appointment=taken, reason="sick", expected_version=1)
    assert (
        selectors.waitlist_openings(gwen, cast.north, selectors.open_waitlist(gwen, cast.north))
        == []
    )


def test_waitlist_dates_must_make_sense(cast, actor_of, north, maria):
    with pytest.raises(ValidationError, match="before the earliest"):
        services.add_to_waitlist(
            actor=actor_of(cast.gwen),
            patient=maria,
            appointment_type=north["follow-up"],
            earliest=TUESDAY,
            latest=MONDAY,
        )
    assert not WaitlistEntry.objects.exists()


def test_first_open_slots_skip_bookings_and_blocks(cast, actor_of, north, maria, now):
    gwen = actor_of(cast.gwen)
    now(at(MONDAY, "08:05"))
    book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "08:20"))
    make_block(cast.north, at(MONDAY, "08:40"), at(MONDAY, "09:20"))
    found = selectors.first_open_slots(gwen, cast.north, north["follow-up"], limit=3)
    assert [s.start for s in found] == [
        at(MONDAY, "09:20"),
        at(MONDAY, "09:40"),
        at(MONDAY, "10:00"),
    ]
    assert all(s.provider == cast.bob for s in found)


def test_first_open_slots_roll_over_to_the_next_day(cast, actor_of, north, now):
    now(at(MONDAY, "16:50"))
    found = selectors.first_open_slots(actor_of(cast.gwen), cast.north, north["follow-up"], limit=1)
    assert found[0].start == at(TUESDAY, "08:00")


def test_first_open_slots_for_a_provider_only_look_at_that_provider(cast, actor_of, north):
    make_template(cast.north, cast.frank, weekday=0, start="07:00", end="08:00")
    gwen = actor_of(cast.gwen)
    anyone = selectors.first_open_slots(gwen, cast.north, north["follow-up"], limit=1)
    bobs = selectors.first_open_slots(
        gwen, cast.north, north["follow-up"], provider=cast.bob, limit=1
    )
    assert anyone[0].provider == cast.frank and bobs[0].provider == cast.bob


def test_blocks_are_managed_by_the_manager_only(cast, actor_of, north):
    with pytest.raises(PermissionDenied):
        services.block_time(
            actor=actor_of(cast.gwen),
            clinic=cast.north,
            start=at(MONDAY, "12:00"),
            end=at(MONDAY, "13:00"),
            reason="Lunch",
        )
    block = services.block_time(
        actor=actor_of(cast.dana),
        clinic=cast.north,
        start=at(MONDAY, "12:00"),
        end=at(MONDAY, "13:00"),
        reason="Lunch",
    )
    services.unblock_time(actor=actor_of(cast.dana), block=block)


def test_slots_for_gives_every_slot_with_its_fhir_status(cast, actor_of, north, maria):
    book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "08:20"))
    make_block(cast.north, at(MONDAY, "08:40"), at(MONDAY, "09:00"))
    found = selectors.slots_for(actor_of(cast.gwen), cast.north, MONDAY)
    first = [(f"{s.start:%H:%M}", s.status) for _, s in found[:3]]
    assert first == [("08:00", "free"), ("08:20", "busy"), ("08:40", "busy-unavailable")]
    assert {pid for pid, _ in found} == {cast.bob.pk}
    assert len(found) == 24  # two 4-hour sessions of 20-minute slots
