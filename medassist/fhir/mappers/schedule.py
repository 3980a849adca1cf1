"""A provider's sessions at a clinic -> FHIR R4 Schedule, and the computed openings -> Slot
(http://hl7.org/fhir/R4/schedule.html, slot.html). Pure.

The workstation keeps no Schedule row: a provider's ScheduleTemplate rows at one clinic are
one Schedule (the actor is the practitioner, the planning horizon is the templates' validity).
Slots are never stored either: they are computed by scheduling/slots.py, the same arithmetic the
booking form uses, so the API cannot offer a time the front desk could not book."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.crypto import salted_hmac

from medassist.fhir.mappers.common import concept, practitioner_reference, without_empty

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def schedule_id(clinic_pk: int, provider_pk: int) -> str:
    """Opaque and stable, as practitioner ids are (no integer key leaves the server)."""
    return salted_hmac("medassist.fhir.Schedule", f"{clinic_pk}:{provider_pk}").hexdigest()[:32]


@dataclass
class ScheduleGroup:
    """One provider's templates at one clinic."""

    clinic: Any
    provider: Any
    templates: list[Any] = field(default_factory=list)

    @property
    def id(self) -> str:
        return schedule_id(self.clinic.pk, self.provider.pk)


def planning_horizon(templates: list[Any], today: dt.date) -> dict[str, str]:
    """From today (or the first template's start, if later) to the last template's end; open
    ended when any template runs without an end date."""
    starts = [t.valid_from or today for t in templates]
    horizon = {"start": max(today, min(starts, default=today)).isoformat()}
    ends = [t.valid_until for t in templates]
    if ends and all(ends):
        horizon["end"] = max(e for e in ends if e).isoformat()
    return horizon


def sessions_text(templates: list[Any]) -> str:
    return "; ".join(
        f"{_WEEKDAYS[t.weekday]} {t.start_time:%H:%M}-{t.end_time:%H:%M}"
        for t in sorted(templates, key=lambda t: (t.weekday, t.start_time))
    )


def schedule_to_fhir(group: ScheduleGroup, today: dt.date) -> dict[str, Any]:
    types = sorted(
        {a.name for t in group.templates for a in t.appointment_types.all()},
    )
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": group.id,
        "active": True,
        "serviceType": [concept(name) for name in types],
        "actor": [
            practitioner_reference(group.provider, group.clinic.pk),
            {"display": group.clinic.name},
        ],
        "planningHorizon": planning_horizon(group.templates, today),
        "comment": f"Sessions: {sessions_text(group.templates)}" if group.templates else "",
    }
    return without_empty(resource)


def slot_id(schedule: str, start: dt.datetime) -> str:
    return f"{schedule}-{start.astimezone(dt.UTC):%Y%m%d%H%M}"


def slot_to_fhir(schedule: str, slot: Any) -> dict[str, Any]:
    """A slots.Slot (start, end, status, booked, capacity) of the schedule."""
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot_id(schedule, slot.start),
        "schedule": {"reference": f"Schedule/{schedule}"},
        "status": slot.status,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        # R4 Slot.overbooked: booked beyond the session's capacity (an approved double-booking).
        "overbooked": slot.booked > slot.capacity or None,
    }
    return without_empty(resource)
