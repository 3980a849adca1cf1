"""Shared by the demo's database tests."""

import hashlib
import json

from medassist.clinics.models import Network
from medassist.encounters.models import Encounter
from medassist.history.models import Allergy, Condition, Medication
from medassist.patients.models import Coverage, NameSpelling, Patient, PatientContact


def database_digest() -> str:
    """Every stored field of the demo data that does not depend on row ids."""
    text = json.dumps(database_rows(), default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def database_rows() -> dict[str, list]:
    """What database_digest() hashes, by table (to find what differs when digests do)."""
    rows: dict[str, list] = {
        "patients": list(
            Patient.objects.order_by("public_id").values(
                "public_id",
                "mrn",
                "clinic__code",
                "family",
                "given",
                "middle",
                "suffix",
                "preferred_name",
                "birth_date",
                "sex",
                "birth_sex",
                "gender_identity",
                "race",
                "ethnicity",
                "preferred_language",
                "interpreter_needed",
                "phone",
                "phone_digits",
                "email",
                "address_line",
                "address_line2",
                "city",
                "state",
                "postal_code",
                "family_key",
                "given_key",
                "created_at",
                "created_by__username",
            )
        ),  # fmt: skip
        "contacts": list(
            PatientContact.objects.order_by("patient__public_id", "name").values(
                "patient__public_id", "name", "relationship", "phone", "is_emergency"
            )
        ),
        "spellings": list(NameSpelling.objects.order_by("key", "name").values("key", "name")),
        "next_mrn": list(Network.objects.values_list("next_mrn", flat=True)),
    }
    for model in (Coverage, Allergy, Medication, Condition, Encounter):
        names = [f.name for f in model._meta.concrete_fields if f.name not in {"id", "patient"}]
        values = [n + "__username" if n in {"provider", "medical_assistant", "created_by"}
                  else n + "__code" if n == "clinic"
                  else n + "__name" if n == "room" else n for n in names]  # fmt: skip
        rows[model.__name__] = list(
            model.objects.order_by("public_id").values("patient__public_id", *values)
        )
    rows.update(_schedule_rows())
    return rows


def _schedule_rows() -> dict[str, list]:
    """The schedule, rooms and today's stage moves (scheduling, clinics, encounters)."""
    from medassist.clinics.models import Room
    from medassist.encounters.models import StageChange
    from medassist.scheduling.models import (
        Appointment,
        AppointmentType,
        ScheduleBlock,
        ScheduleTemplate,
    )

    return {
        "rooms": list(
            Room.objects.order_by("clinic__code", "name").values(
                "clinic__code", "name", "kind", "status", "status_since", "sort_order"
            )
        ),
        "types": list(
            AppointmentType.objects.order_by("clinic__code", "code").values(
                "clinic__code", "code", "name", "minutes", "color", "kind", "same_day_only"
            )
        ),
        "templates": list(
            ScheduleTemplate.objects.order_by(
                "clinic__code", "provider__username", "weekday", "start_time"
            ).values(
                "clinic__code",
                "provider__username",
                "weekday",
                "start_time",
                "end_time",
                "slot_minutes",
                "max_per_slot",
            )
        ),  # fmt: skip
        "blocks": list(
            ScheduleBlock.objects.order_by("public_id").values(
                "public_id", "clinic__code", "provider__username", "start", "end", "reason"
            )
        ),
        "appointments": list(
            Appointment.objects.order_by("public_id").values(
                "public_id",
                "clinic__code",
                "patient__public_id",
                "provider__username",
                "appointment_type__code",
                "encounter__public_id",
                "start",
                "end",
                "reason",
                "created_at",
                "created_by__username",
            )
        ),  # fmt: skip
        "stage_changes": list(
            StageChange.objects.order_by("encounter__public_id", "at", "to_stage").values(
                "encounter__public_id", "from_stage", "to_stage", "at", "by__username"
            )
        ),
    }
