"""Visits of the clinic day for the flow tests: booked for today at North, moved along by the
real services, so the stage changes are the ones the board and the reports read."""

from decimal import Decimal

from medassist.access.actor import Actor
from medassist.clinics.models import Room
from medassist.encounters.models import Encounter
from medassist.flow import services
from medassist.flow.services import CheckInData
from medassist.patients.tests.factories import make_patient
from medassist.scheduling.tests.factories import MONDAY, at, make_appointment

ORDER = [
    "scheduled",
    "arrived",
    "roomed",
    "ready_for_provider",
    "with_provider",
    "ready_for_checkout",
    "done",
]


def make_rooms(clinic, n=3, status=Room.Status.READY) -> list[Room]:  # type: ignore[no-untyped-def]
    return [
        Room.objects.create(clinic=clinic, name=f"Exam {i}", sort_order=i, status=status)
        for i in range(1, n + 1)
    ]


def booked_today(
    cast,
    types,
    hhmm="09:00",
    *,
    family="Rivera",
    given="Maria",
    provider=None,
    kind="follow-up",
    clinic=None,
    **patient_fields,
) -> Encounter:  # type: ignore[no-untyped-def]
    clinic = clinic or cast.north
    patient = make_patient(clinic, family=family, given=given, **patient_fields)
    appointment = make_appointment(patient, provider or cast.bob, types[kind], at(MONDAY, hhmm))
    return appointment.encounter


def check_in_data(visit: Encounter, **changes) -> CheckInData:  # type: ignore[no-untyped-def]
    data = CheckInData(
        stated_birth_date=visit.patient.birth_date,
        name_confirmed=True,
        photo_id=False,
        demographics_confirmed=True,
        coverage_id="self_pay",
        consents={"privacy_notice": "signed", "financial_policy": "signed"},
        copay_amount=Decimal("0"),
        payment="none_due",
    )
    for k, v in changes.items():
        setattr(data, k, v)
    return data


def walk_to(visit: Encounter, stage: str, cast, room: Room | None = None, before=None) -> Encounter:  # type: ignore[no-untyped-def]
    """Move a scheduled visit forward to `stage`, each step by the person who does it.
    `before(step)` runs before each step (a test moves the clock there)."""
    desk, ma, provider = (Actor.for_user(u) for u in (cast.gwen, cast.alice, cast.bob))
    for step in ORDER[ORDER.index(visit.stage) + 1 : ORDER.index(stage) + 1]:
        if before is not None:
            before(step)
        visit.refresh_from_db()
        v = visit.version
        if step == "arrived":
            services.check_in(
                actor=desk, encounter=visit, expected_version=v, data=check_in_data(visit)
            )
        elif step == "roomed":
            room = room or Room.objects.filter(clinic=visit.clinic, status="ready").first()
            assert room is not None, "no ready room to walk the visit into"
            services.room_patient(actor=ma, encounter=visit, room=room, expected_version=v)
        elif step == "ready_for_provider":
            from medassist.encounters.services import move_visit

            move_visit(actor=ma, encounter=visit, to=step, expected_version=v)
        elif step == "with_provider":
            services.start_provider_visit(actor=provider, encounter=visit, expected_version=v)
        elif step == "ready_for_checkout":
            services.hand_to_checkout(actor=provider, encounter=visit, expected_version=v)
        elif step == "done":
            services.check_out(actor=desk, encounter=visit, expected_version=v, plan="none_needed")
    visit.refresh_from_db()
    return visit
