"""Reads of the clinic day, scoped to the actor's clinics. The flow board runs a fixed number
of queries however many visits the day holds (bench/clinic_day.py measures 900)."""

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.access.roles import Role
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Clinic, Membership, Room, RoomStatusChange
from medassist.core import clock
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.stages import FINAL, IN_ROOM, ON_SITE, Stage
from medassist.flow import cycle
from medassist.flow.models import FlowTargets
from medassist.flow.timing import Targets, VisitTime, minutes_between, visit_time
from medassist.immunizations.selectors import board_marks as observation_marks
from medassist.immunizations.selectors import board_observation_stamp
from medassist.patients.models import age_display
from medassist.scheduling.models import AppointmentType
from medassist.scheduling.selectors import day_bounds
from medassist.vitals.selectors import board_alert_stamp, board_marks

S = Stage
# The board's order of stages, left to right, as the patient moves through the clinic.
BOARD_STAGES = (
    S.SCHEDULED,
    S.ARRIVED,
    S.ROOMED,
    S.READY_FOR_PROVIDER,
    S.WITH_PROVIDER,
    S.READY_FOR_CHECKOUT,
    S.DONE,
    S.NO_SHOW,
    S.CANCELLED,
)
STAGE_LABELS: dict[str, str] = dict(Stage.choices)


def board_clinics(actor: Actor) -> list[Clinic]:
    if not actor.user.is_authenticated:
        return []
    return list(
        Clinic.objects.filter(pk__in=actor.clinics_with(Permission.VIEW_FLOW_BOARD)).order_by(
            "name"
        )
    )


def clinic_targets(clinic: Clinic) -> Targets:
    return Targets.of(FlowTargets.objects.filter(clinic=clinic).first())


@dataclass
class BoardRow:
    """One visit as the board shows it: plain values read in one query, not model instances
    (building ~3,000 of them was half the time of a 900-visit board, bench/clinic_day.py).
    Everything a cell shows is worked out here, once; the template only lays it out."""

    public_id: uuid.UUID
    stage: str
    stage_label: str
    version: int
    patient_family: str
    patient_given: str
    patient_age: str
    interpreter_needed: bool
    type_id: int | None  # the appointment type (None for a walk-in)
    type_name: str
    provider_name: str
    assistant_name: str
    room_id: int | None  # only while the patient is in the room
    room_name: str
    time: VisitTime
    late: int | None  # minutes past the booked time of a patient not yet here
    booked_time: str  # HH:MM, the clinic's time
    stage_time: str
    chart_url: str
    next_url: str  # where the Next cell's button goes, by the visit's stage
    alerts: list[str] = field(default_factory=list)  # open critical-value alerts (vitals)
    repeat_bp_at: str = ""  # HH:MM when a raised blood pressure is due to be taken again
    repeat_bp_due: bool = False  # that time has come
    observe_until: str = ""  # HH:MM when the observation after a vaccine ends (immunizations)
    observation_over: bool = False  # that time has come: the MA releases the patient
    observation_url: str = ""  # the patient's immunization page, where the release is


@dataclass
class StageCount:
    stage: Stage
    count: int


@dataclass
class Board:
    clinic: Clinic
    day: dt.date
    now: dt.datetime
    rows: list[BoardRow]
    counts: list[StageCount]
    rooms: list[Room]
    targets: Targets
    providers: list[Any]
    assistants: list[Any]
    provider: Any = None
    assistant: Any = None
    show_finished: bool = True
    fingerprint: str = ""
    total: int = 0
    may: dict[str, bool] = field(default_factory=dict)  # what the actor may do here

    @cached_property
    def ready_rooms(self) -> list[Room]:
        return [r for r in self.rooms if r.status == Room.Status.READY]

    @cached_property
    def room_options(self) -> SafeString:
        """The <option>s of the ready rooms, built once: every arrived visit's row offers them
        (80 rows of 40 rooms on the bench's clinic day would be 3,200 template loops)."""
        return format_html_join(
            "", '<option value="{}">{}</option>', ((r.public_id, r.name) for r in self.ready_rooms)
        )

    @property
    def here_now(self) -> int:
        return sum(c.count for c in self.counts if c.stage in ON_SITE)

    @property
    def is_today(self) -> bool:
        return self.day == clock.today()


def _day_visits(clinic: Clinic, day: dt.date) -> QuerySet[Encounter]:
    lo, hi = day_bounds(day)
    return Encounter.objects.filter(clinic=clinic, period_start__gte=lo, period_start__lt=hi)


def board_fingerprint(clinic: Clinic, day: dt.date, *extra: object) -> str:
    """Changes whenever anything the board shows changes: a visit added or moved (every move
    bumps Encounter.updated_at), a room's status, a critical-value alert or blood-pressure
    repeat timer, an observation after a vaccine started or released, or the minute on the
    clock (times on the board are in whole minutes). Five aggregate queries: the 5-second poll
    costs almost nothing when nothing changed."""
    visits = _day_visits(clinic, day).aggregate(n=Count("id"), last=Max("updated_at"))
    rooms = Room.objects.filter(clinic=clinic).aggregate(n=Count("id"), last=Max("status_since"))
    minute = clock.now().replace(second=0, microsecond=0)
    vitals = board_alert_stamp(clinic.pk, day_bounds(day)[0])
    observations = board_observation_stamp(clinic.pk, day_bounds(day)[0])
    parts = [clinic.pk, day, visits["n"], visits["last"], rooms["n"], rooms["last"], minute, vitals]
    parts.append(observations)
    text = "|".join(str(p) for p in parts + list(extra))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# The columns the board reads, in the order flow_board() unpacks them.
BOARD_COLUMNS = (
    *("public_id", "stage", "stage_since", "version", "visit_type", "period_start", "period_end"),
    *("booked_at", "patient__public_id", "patient__family", "patient__given"),
    *("patient__birth_date", "patient__interpreter_needed", "provider_id", "medical_assistant_id"),
    *("room_id", "room__name", "appointment__appointment_type_id", "id"),
)
_PROVIDER, _MA = BOARD_COLUMNS.index("provider_id"), BOARD_COLUMNS.index("medical_assistant_id")


def _names(user_ids: set[int | None]) -> dict[int, tuple[str, str]]:
    """(first name or user name, full name or user name) of each user, in one query."""
    users = get_user_model().objects.filter(pk__in=user_ids - {None})
    return {
        pk: (first or username, f"{first} {last}".strip() or username)
        for pk, username, first, last in users.values_list(
            "pk", "username", "first_name", "last_name"
        )
    }


def _link(name: str, kwarg: str) -> Callable[[uuid.UUID], str]:
    """reverse(name) for each of many public ids at the cost of one reverse(): a 900-visit
    board links every row twice, and reverse() per link was a tenth of the board's time."""
    marker = str(uuid.UUID(int=0))
    head, tail = reverse(name, kwargs={kwarg: marker}).split(marker)
    return lambda public_id: f"{head}{public_id}{tail}"


def _next_links(may_see: bool) -> dict[str, Callable[[uuid.UUID], str]]:
    """Where the button of a row's Next cell goes, by the visit's stage."""
    links = {
        S.SCHEDULED: "flow:check-in",
        S.ARRIVED: "flow:room",
        S.ROOMED: "rooming:worklist",
        S.READY_FOR_PROVIDER: "flow:take" if may_see else "rooming:summary",
        S.WITH_PROVIDER: "flow:to-checkout",
        S.READY_FOR_CHECKOUT: "flow:checkout",
        S.DONE: "flow:after-visit-summary",
    }
    return {stage: _link(name, "visit_id") for stage, name in links.items()}


def _staff(clinic: Clinic, roles: tuple[str, ...]) -> list[Any]:
    ids = Membership.objects.filter(clinic=clinic, role__in=roles, active=True).values("user_id")
    return list(get_user_model().objects.filter(pk__in=ids).order_by("last_name", "first_name"))


def flow_board(
    actor: Actor,
    clinic: Clinic,
    day: dt.date,
    *,
    provider: str = "",
    assistant: str = "",
    show_finished: bool = True,
) -> Board:
    """The day's visits at the clinic, each once, in the order of their booked time (walk-ins
    by arrival), with time in stage and door to door against the clinic's targets, and the
    rooms. `provider` and `assistant` (usernames) narrow it; the counts follow the filter."""
    if not can(actor, Permission.VIEW_FLOW_BOARD, clinic):
        raise PermissionDenied("Your role does not include this clinic's flow board.")
    now = clock.now()
    targets = clinic_targets(clinic)
    providers = _staff(clinic, (Role.PROVIDER,))
    assistants = _staff(clinic, (Role.MEDICAL_ASSISTANT, Role.NURSE))
    chosen_provider = next((p for p in providers if p.get_username() == provider), None)
    chosen_assistant = next((a for a in assistants if a.get_username() == assistant), None)
    visits = (
        _day_visits(clinic, day)
        .annotate(booked_at=Coalesce("appointment__start", "period_start"))
        .order_by("booked_at", "id")
        .values_list(*BOARD_COLUMNS)
    )
    if chosen_provider is not None:
        visits = visits.filter(provider=chosen_provider)
    if chosen_assistant is not None:
        visits = visits.filter(medical_assistant=chosen_assistant)
    rows_data = list(visits)
    names = _names({r[_PROVIDER] for r in rows_data} | {r[_MA] for r in rows_data})
    type_names = dict(AppointmentType.objects.filter(clinic=clinic).values_list("pk", "name"))
    may_see = can(actor, Permission.SEE_PATIENT, clinic)
    chart_url = _link("patients:chart", "patient_id")
    next_links = _next_links(may_see)
    zone = clock.localtime(now).tzinfo
    today = clock.today()
    on_site = [r[-1] for r in rows_data if r[1] in ON_SITE]
    marks = board_marks(clinic.pk, on_site)
    observing = observation_marks(clinic.pk, on_site)
    immunization_url = _link("immunizations:patient", "patient_id")
    rows: list[BoardRow] = []
    tally = dict.fromkeys(BOARD_STAGES, 0)
    for (public_id, stage, stage_since, version, visit_type, period_start, period_end, booked_at,
         patient_id, family, given, birth_date, interpreter, provider_id, ma_id, room_id,
         room_name, type_id, visit_pk) in rows_data:  # fmt: skip
        tally[Stage(stage)] += 1
        if not show_finished and stage in FINAL:
            continue
        here = stage not in (S.SCHEDULED, S.NO_SHOW, S.CANCELLED)
        in_room = stage in IN_ROOM
        provider_first, provider_full = names.get(provider_id, ("", ""))
        rows.append(
            BoardRow(
                public_id=public_id,
                stage=stage,
                stage_label=STAGE_LABELS.get(stage, stage),
                version=version,
                patient_family=family,
                patient_given=given,
                patient_age=age_display(birth_date, today),
                interpreter_needed=interpreter,
                type_id=type_id,
                type_name=type_names.get(type_id, "") if type_id else (visit_type or "Walk-in"),
                provider_name=provider_full,
                assistant_name=names.get(ma_id, ("", ""))[0] if ma_id else "",
                room_id=room_id if in_room else None,
                room_name=room_name if in_room and room_name else "",
                time=visit_time(
                    stage=stage,
                    stage_since=stage_since,
                    arrived_at=period_start if here else None,
                    ended_at=period_end,
                    now=now,
                    targets=targets,
                ),
                late=minutes_between(booked_at, now)
                if stage == S.SCHEDULED and booked_at < now
                else None,
                booked_time=booked_at.astimezone(zone).strftime("%H:%M"),
                stage_time=stage_since.astimezone(zone).strftime("%H:%M"),
                chart_url=chart_url(patient_id),
                next_url=next_links[stage](public_id) if stage in next_links else "",
            )
        )
        if (mark := marks.get(visit_pk)) is not None:
            rows[-1].alerts = mark.alerts
            if mark.repeat_due_at is not None:
                rows[-1].repeat_bp_at = mark.repeat_due_at.astimezone(zone).strftime("%H:%M")
                rows[-1].repeat_bp_due = mark.repeat_due_at <= now
        if (ends_at := observing.get(visit_pk)) is not None:
            rows[-1].observe_until = ends_at.astimezone(zone).strftime("%H:%M")
            rows[-1].observation_over = ends_at <= now
            rows[-1].observation_url = immunization_url(patient_id) + "#observation"
    rooms = list(Room.objects.filter(clinic=clinic, active=True).select_related("status_by"))
    record(
        actor,
        Action.READ,
        "FlowBoard",
        clinic_id=clinic.pk,
        entity_id=str(day),
        description=f"flow board: {len(rows)} visits shown"
        + (f", provider {provider}" if chosen_provider else "")
        + (f", MA {assistant}" if chosen_assistant else ""),
    )
    return Board(
        clinic=clinic,
        day=day,
        now=now,
        rows=rows,
        counts=[StageCount(s, tally[s]) for s in BOARD_STAGES],
        rooms=rooms,
        targets=targets,
        providers=providers,
        assistants=assistants,
        provider=chosen_provider,
        assistant=chosen_assistant,
        show_finished=show_finished,
        total=sum(tally.values()),
        may={
            "check_in": can(actor, Permission.CHECK_IN, clinic),
            "room": can(actor, Permission.ROOM_PATIENT, clinic),
            "see": may_see,
            "check_out": can(actor, Permission.CHECK_OUT, clinic),
            "print": can(actor, Permission.PRINT_CHART, clinic),
        },
    )


def get_room(actor: Actor, public_id: uuid.UUID | str) -> Room:
    """A room of a clinic where the actor may change room status, or 404."""
    room = (
        Room.objects.filter(
            public_id=public_id, clinic_id__in=actor.clinics_with(Permission.CLEAN_ROOM)
        )
        .select_related("clinic")
        .first()
        if actor.user.is_authenticated
        else None
    )
    if room is None:
        raise out_of_reach(actor, "Room", public_id, message="No such room")
    return room


def room_for_rooming(visit: Encounter, public_id: str) -> Room | None:
    """The room chosen for a visit, among its clinic's rooms (None if it is not one)."""
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        return None
    return Room.objects.filter(public_id=public_id, clinic_id=visit.clinic_id).first()


def rooms_in_use(actor: Actor, clinic: Clinic) -> list[tuple[Room, Encounter | None]]:
    """The clinic's rooms, each with the visit in it now (two queries). Naming the patient in
    each room is a read of patient data: it is audited."""
    if not can(actor, Permission.VIEW_FLOW_BOARD, clinic):
        raise PermissionDenied("Your role does not include this clinic's rooms.")
    rooms = list(Room.objects.filter(clinic=clinic, active=True).select_related("status_by"))
    in_rooms = Encounter.objects.filter(
        clinic=clinic, stage__in=IN_ROOM, room__in=rooms
    ).select_related("patient")
    occupants = {visit.room_id: visit for visit in in_rooms}
    record(
        actor,
        Action.READ,
        "RoomBoard",
        clinic_id=clinic.pk,
        description=f"rooms: {len(occupants)} occupied",
    )
    return [(room, occupants.get(room.pk)) for room in rooms]


def room_log(actor: Actor, clinic: Clinic, day: dt.date) -> list[RoomStatusChange]:
    """Who changed which room to what, on `day` (the cleaning log infection control asks for)."""
    if not can(actor, Permission.VIEW_FLOW_BOARD, clinic):
        raise PermissionDenied("Your role does not include this clinic's rooms.")
    lo, hi = day_bounds(day)
    return list(
        RoomStatusChange.objects.filter(room__clinic=clinic, at__gte=lo, at__lt=hi)
        .select_related("room", "by")
        .order_by("-at", "-id")
    )


# --- cycle times ---


@dataclass
class CycleReport:
    clinic: Clinic
    first_day: dt.date
    last_day: dt.date
    summary: cycle.CycleSummary
    names: dict[int, str]

    @property
    def providers(self) -> list[cycle.Group]:
        return sorted(self.summary.providers, key=lambda g: self.names.get(g.provider_id or 0, ""))

    @property
    def days(self) -> list[cycle.Group]:
        return self.summary.days

    @property
    def everyone(self) -> cycle.Group:
        return self.summary.everyone

    intervals = cycle.INTERVALS

    def _row(self, group: cycle.Group) -> "CycleRow":
        name = self.names.get(group.provider_id or 0, "Everyone")
        return CycleRow(name, group, [group.intervals.get(i.key) for i in cycle.INTERVALS])

    @property
    def provider_rows(self) -> list["CycleRow"]:
        rows = [self._row(g) for g in self.providers]
        return rows + [self._row(self.everyone)] if len(rows) > 1 else rows

    @property
    def day_rows(self) -> list["CycleRow"]:
        return [self._row(g) for g in self.days]


@dataclass
class CycleRow:
    name: str
    group: cycle.Group
    cells: list[cycle.Summary | None]


def cycle_report(
    actor: Actor, clinic: Clinic, first_day: dt.date, last_day: dt.date
) -> CycleReport:
    """Cycle times per provider and per day from the stage changes of the clinic's visits
    between the two days (inclusive). Two queries, whatever the number of visits."""
    if not can(actor, Permission.VIEW_CLINIC_REPORTS, clinic):
        raise PermissionDenied("Your role does not include this clinic's reports.")
    lo, _ = day_bounds(first_day)
    _, hi = day_bounds(last_day)
    rows = (
        StageChange.objects.filter(
            encounter__clinic=clinic,
            encounter__period_start__gte=lo,
            encounter__period_start__lt=hi,
        )
        .order_by("encounter_id", "at", "id")
        .values_list(
            "encounter_id", "encounter__provider_id", "encounter__period_start", "to_stage", "at"
        )
    )
    summary = cycle.summarize(
        (e, p, clock.localtime(start).date(), stage, at) for e, p, start, stage, at in rows
    )
    ids = {g.provider_id for g in summary.providers if g.provider_id is not None}
    names = {
        u.pk: u.get_full_name() or u.get_username()
        for u in get_user_model().objects.filter(pk__in=ids)
    }
    record(
        actor,
        Action.READ,
        "CycleTimeReport",
        clinic_id=clinic.pk,
        description=f"cycle times {first_day}..{last_day}: {summary.everyone.visits} visits",
    )
    return CycleReport(clinic, first_day, last_day, summary, names)
