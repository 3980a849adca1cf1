"""The demo's clinic day as the front desk and the rooms left it: check-ins (two identifiers,
forms, copay) for today's visits that have arrived, the checkout of the visits that are done,
the rooms' cleaning log, and the timed stage changes of the last weeks' visits, so that the
cycle-time report has days to compare.

Deterministic like the rest of the demo: every choice comes from a generator seeded with the
visit's public id, and every time from the visit's own times.
"""

import datetime as dt
import random
from decimal import Decimal

from medassist.clinics.models import Clinic, Room, RoomStatusChange
from medassist.demo.generator import CLINICS, SEED
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.stages import Stage
from medassist.flow.models import CheckIn, Checkout, ConsentSignature

# Minutes each segment of a past demo visit took: (median, spread) of a log-normal, chosen
# for the demo only so that most segments are short and a few long. Not clinical data.
SEGMENT_MINUTES = {
    Stage.ROOMED: (11, 0.5),  # waiting room
    Stage.READY_FOR_PROVIDER: (9, 0.35),  # rooming
    Stage.WITH_PROVIDER: (6, 0.7),  # waiting for the provider
    Stage.READY_FOR_CHECKOUT: (17, 0.35),  # with the provider
    Stage.DONE: (5, 0.4),  # checkout
}
COPAYS = (Decimal("0"), Decimal("20"), Decimal("25"), Decimal("40"))
HISTORY_DAYS = 21


def write_flow(*, today: dt.date, tz: dt.tzinfo, clinics: dict[str, Clinic], users: dict) -> int:
    """Returns the number of past visits given timed stage changes."""
    timed = 0
    for plan in CLINICS:
        clinic = clinics[plan.code]
        desk = users["gwen"] if clinic.code == "north" else users[plan.medical_assistant]
        ma = users[plan.medical_assistant]
        _desk_records(clinic, today, tz, desk)
        _room_history(clinic, today, tz, ma)
        timed += _past_stage_changes(clinic, today, tz, ma, users[plan.provider], desk)
    return timed


def _rng(visit: Encounter, what: str) -> random.Random:
    return random.Random(f"{SEED}:{visit.public_id}:{what}")


def _todays(clinic: Clinic, today: dt.date, tz: dt.tzinfo) -> list[Encounter]:
    lo = dt.datetime.combine(today, dt.time.min, tzinfo=tz)
    return list(
        Encounter.objects.filter(
            clinic=clinic, period_start__gte=lo, period_start__lt=lo + dt.timedelta(days=1)
        )
        .exclude(stage__in=(Stage.SCHEDULED, Stage.CANCELLED, Stage.NO_SHOW))
        .select_related("patient")
        .prefetch_related("patient__coverages")
        .order_by("period_start", "public_id")
    )


def _desk_records(clinic: Clinic, today: dt.date, tz: dt.tzinfo, desk) -> None:  # type: ignore[no-untyped-def]
    check_ins, consents, checkouts = [], [], []
    for visit in _todays(clinic, today, tz):
        rng = _rng(visit, "desk")
        coverage = next(iter(visit.patient.coverages.all()), None)
        copay = rng.choice(COPAYS) if coverage else Decimal("0")
        check_ins.append(
            CheckIn(
                encounter=visit,
                at=visit.period_start,
                by=desk,
                identifiers=["name", "birth_date"],
                demographics_confirmed=True,
                coverage=coverage,
                self_pay=coverage is None,
                copay_amount=copay,
                payment=rng.choice(("card", "cash")) if copay else "none_due",
            )
        )
        # Most patients signed the forms at an earlier visit; some sign them today.
        for form in ConsentSignature.Form:
            earlier = rng.random() < 0.7
            signed_on = today - dt.timedelta(days=rng.randint(30, 300)) if earlier else today
            consents.append(
                ConsentSignature(
                    patient=visit.patient,
                    form=form,
                    signed_on=signed_on,
                    encounter=None if earlier else visit,
                    recorded_at=visit.period_start,
                    recorded_by=desk,
                )
            )
        if visit.stage == Stage.DONE:
            checkouts.append(
                Checkout(
                    encounter=visit,
                    at=visit.period_end or visit.period_start,
                    by=desk,
                    plan=Checkout.Plan.AS_NEEDED,
                )
            )
    CheckIn.objects.bulk_create(check_ins)
    ConsentSignature.objects.bulk_create(consents)
    Checkout.objects.bulk_create(checkouts)


def _room_history(clinic: Clinic, today: dt.date, tz: dt.tzinfo, ma) -> None:  # type: ignore[no-untyped-def]
    """The rooms the morning's patients used: each occupied when roomed, dirty when the patient
    left; the done patient's room already cleaned, the checkout patient's still dirty."""
    rooms = {r.name: r for r in Room.objects.filter(clinic=clinic)}
    todays = {v.stage: v for v in _todays(clinic, today, tz)}
    changes: list[RoomStatusChange] = []
    for visit in Encounter.objects.filter(pk__in=[v.pk for v in todays.values()]):
        stamps = dict(StageChange.objects.filter(encounter=visit).values_list("to_stage", "at"))
        if visit.room_id:  # still in the room: occupied since roomed
            changes.append(
                RoomStatusChange(
                    room_id=visit.room_id, status="occupied", at=stamps["roomed"], by=ma
                )
            )
    for stage, name, cleaned in (
        (Stage.DONE, "Exam 5", True),
        (Stage.READY_FOR_CHECKOUT, "Exam 4", False),
    ):
        left_room = todays.get(stage)
        room = rooms.get(name)
        if left_room is None or room is None:
            continue
        stamps = dict(StageChange.objects.filter(encounter=left_room).values_list("to_stage", "at"))
        left = stamps[Stage.READY_FOR_CHECKOUT]
        Encounter.objects.filter(pk=left_room.pk).update(room=room)
        changes += [
            RoomStatusChange(room=room, status="occupied", at=stamps[Stage.ROOMED], by=ma),
            RoomStatusChange(room=room, status="dirty", at=left, by=ma),
        ]
        status, since = Room.Status.DIRTY, left
        if cleaned:
            changes += [
                RoomStatusChange(
                    room=room, status="cleaning", at=left + dt.timedelta(minutes=2), by=ma
                ),
                RoomStatusChange(
                    room=room, status="ready", at=left + dt.timedelta(minutes=6), by=ma
                ),
            ]
            status, since = Room.Status.READY, left + dt.timedelta(minutes=6)
        Room.objects.filter(pk=room.pk).update(status=status, status_since=since, status_by=ma)
    RoomStatusChange.objects.bulk_create(changes)


def _past_stage_changes(clinic: Clinic, today: dt.date, tz: dt.tzinfo, ma, provider, desk) -> int:  # type: ignore[no-untyped-def]
    """Timed stage changes for the finished visits of the last HISTORY_DAYS days."""
    lo = dt.datetime.combine(today - dt.timedelta(days=HISTORY_DAYS), dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(today, dt.time.min, tzinfo=tz)
    visits = list(
        Encounter.objects.filter(
            clinic=clinic, stage=Stage.DONE, period_start__gte=lo, period_start__lt=hi
        ).order_by("period_start", "public_id")
    )
    rows: list[StageChange] = []
    ends = []
    for visit in visits:
        rng = _rng(visit, "cycle")
        at = visit.period_start
        rows.append(
            StageChange(
                encounter=visit, from_stage=Stage.SCHEDULED, to_stage=Stage.ARRIVED, at=at, by=desk
            )
        )
        previous = Stage.ARRIVED
        for stage, (median, spread) in SEGMENT_MINUTES.items():
            at = at + dt.timedelta(minutes=round(rng.lognormvariate(0, spread) * median, 1))
            who = provider if stage in (Stage.WITH_PROVIDER, Stage.READY_FOR_CHECKOUT) else ma
            who = desk if stage == Stage.DONE else who
            rows.append(
                StageChange(encounter=visit, from_stage=previous, to_stage=stage, at=at, by=who)
            )
            previous = stage
        visit.period_end = visit.stage_since = at
        ends.append(visit)
    StageChange.objects.bulk_create(rows)
    Encounter.objects.bulk_update(ends, ["period_end", "stage_since"])
    return len(visits)
