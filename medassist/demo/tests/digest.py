"""Shared by the demo's database tests."""

import hashlib
import json

from medassist.clinics.models import Network
from medassist.encounters.models import Encounter
from medassist.history.models import Allergy, Condition, Medication
from medassist.patients.models import Coverage, NameSpelling, Patient, PatientContact


def database_digest() -> str:
    """Every stored field of the demo data that does not depend on row ids."""
    rows = {
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
                  else n + "__code" if n == "clinic" else n for n in names]  # fmt: skip
        rows[model.__name__] = list(
            model.objects.order_by("public_id").values("patient__public_id", *values)
        )
    text = json.dumps(rows, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
