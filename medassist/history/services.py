"""Changes to what the patient brings: allergies, medications, histories, smoking status and
social history. Each is made at a visit (FHIR .encounter) by someone allowed to work on the
chart there: rooming staff (ROOM_PATIENT) or whoever may edit the encounter."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.history.models import (
    NO_KNOWN_ALLERGY_SNOMED,
    SNOMED_SYSTEM,
    Allergy,
    Condition,
    Medication,
    SmokingStatus,
    SocialHistory,
)

ALLERGY_FIELDS = ("substance", "category", "reaction", "severity", "criticality", "verification")


def _check(actor: Actor, encounter: Any) -> None:
    if not (
        can(actor, Permission.ROOM_PATIENT, encounter)
        or can(actor, Permission.EDIT_ENCOUNTER, encounter)
    ):
        raise PermissionDenied("Your role may not change this patient's history at this clinic.")


def _audit(actor: Actor, action: str, entity: str, obj: Any, encounter: Any, text: str) -> None:
    record(
        actor,
        action,
        entity,
        patient=encounter.patient,
        clinic_id=encounter.clinic_id,
        entity_id=str(obj.public_id),
        description=text[:300],
    )


@dataclass(frozen=True)
class AllergyData:
    substance: str
    category: str = ""
    reaction: str = ""
    severity: str = ""
    criticality: str = ""
    verification: str = Allergy.Verification.UNCONFIRMED


def _validate_allergy(data: AllergyData) -> None:
    errors: dict[str, str] = {}
    if not data.substance.strip():
        errors["substance"] = "Name the substance (a drug, food or other cause)."
    elif data.substance.strip().lower() in {"nka", "nkda", "no known allergies", "none"}:
        errors["substance"] = "Use the \u201cNo known allergies\u201d button for that answer."
    for name, choices in (
        ("category", Allergy.Category),
        ("severity", Allergy.Severity),
        ("criticality", Allergy.Criticality),
        ("verification", Allergy.Verification),
    ):
        value = getattr(data, name)
        if value and value not in choices.values:
            errors[name] = f"Choose a listed {name}."
    if errors:
        raise ValidationError(errors)


def add_allergy(*, actor: Actor, encounter: Any, data: AllergyData) -> Allergy:
    """Record an allergy. A real allergy retires any active "no known allergies" entry: the two
    answers cannot both be true."""
    _check(actor, encounter)
    _validate_allergy(data)
    patient = encounter.patient
    with transaction.atomic():
        retired = Allergy.objects.filter(
            patient=patient, active=True, code=NO_KNOWN_ALLERGY_SNOMED
        ).update(active=False, updated_at=clock.now(), encounter=encounter)
        allergy = Allergy.objects.create(
            patient=patient,
            encounter=encounter,
            created_by_id=actor.signed_in_user_id,
            substance=data.substance.strip(),
            category=data.category,
            reaction=data.reaction.strip(),
            severity=data.severity,
            criticality=data.criticality,
            verification=data.verification or Allergy.Verification.UNCONFIRMED,
        )
        _audit(
            actor,
            Action.CREATE,
            "AllergyIntolerance",
            allergy,
            encounter,
            f"{allergy.substance}" + ("; retired 'no known allergies'" if retired else ""),
        )
    return allergy


def update_allergy(*, actor: Actor, encounter: Any, allergy: Allergy, data: AllergyData) -> Allergy:
    _check(actor, encounter)
    if allergy.patient_id != encounter.patient_id:
        raise ValidationError("That allergy belongs to another patient.")
    if allergy.is_no_known_allergy:
        raise ValidationError("\u201cNo known allergies\u201d has nothing to edit.")
    _validate_allergy(data)
    with transaction.atomic():
        for name in ALLERGY_FIELDS:
            value = getattr(data, name)
            setattr(allergy, name, value.strip() if isinstance(value, str) else value)
        allergy.encounter = encounter
        allergy.updated_at = clock.now()
        allergy.save()
        _audit(actor, Action.UPDATE, "AllergyIntolerance", allergy, encounter, allergy.substance)
    return allergy


def inactivate_allergy(*, actor: Actor, encounter: Any, allergy: Allergy) -> Allergy:
    """The patient no longer has this allergy (outgrown, or a tolerated challenge)."""
    _check(actor, encounter)
    if allergy.patient_id != encounter.patient_id:
        raise ValidationError("That allergy belongs to another patient.")
    with transaction.atomic():
        allergy.active = False
        allergy.encounter = encounter
        allergy.updated_at = clock.now()
        allergy.save(update_fields=["active", "encounter", "updated_at"])
        _audit(actor, Action.UPDATE, "AllergyIntolerance", allergy, encounter, "inactivated")
    return allergy


def record_no_known_allergies(*, actor: Actor, encounter: Any) -> Allergy:
    """'No known allergies' as an explicit, confirmed answer (SNOMED CT 716186003). Refused while
    the patient has active allergies: those must be inactivated first, one by one, so nobody
    erases a real allergy with one click."""
    _check(actor, encounter)
    patient = encounter.patient
    with transaction.atomic():
        active = list(Allergy.objects.select_for_update().filter(patient=patient, active=True))
        real = [a.substance for a in active if not a.is_no_known_allergy]
        if real:
            raise ValidationError(
                "The patient has active allergies ("
                + ", ".join(real)
                + "). Mark each one inactive first if the patient no longer has it."
            )
        existing = next((a for a in active if a.is_no_known_allergy), None)
        if existing is not None:
            existing.encounter = encounter
            existing.updated_at = clock.now()
            existing.save(update_fields=["encounter", "updated_at"])
            nka = existing
        else:
            nka = Allergy.objects.create(
                patient=patient,
                encounter=encounter,
                created_by_id=actor.signed_in_user_id,
                substance="No known allergies",
                code_system=SNOMED_SYSTEM,
                code=NO_KNOWN_ALLERGY_SNOMED,
                verification=Allergy.Verification.CONFIRMED,
            )
        _audit(actor, Action.CREATE, "AllergyIntolerance", nka, encounter, "no known allergies")
    return nka


@dataclass(frozen=True)
class MedicationData:
    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""


def add_medication(*, actor: Actor, encounter: Any, data: MedicationData) -> Medication:
    """A medication the patient reports taking (reported list)."""
    _check(actor, encounter)
    if not data.name.strip():
        raise ValidationError({"name": "Name the medication."})
    with transaction.atomic():
        medication = Medication.objects.create(
            patient=encounter.patient,
            encounter=encounter,
            created_by_id=actor.signed_in_user_id,
            name=data.name.strip(),
            dose=data.dose.strip(),
            route=data.route.strip(),
            frequency=data.frequency.strip(),
            start_date=None,
        )
        _audit(actor, Action.CREATE, "MedicationStatement", medication, encounter, medication.name)
    return medication


HISTORY_CATEGORIES = (
    Condition.Category.MEDICAL_HISTORY,
    Condition.Category.SURGICAL_HISTORY,
    Condition.Category.FAMILY_HISTORY,
)


def add_condition(
    *, actor: Actor, encounter: Any, category: str, description: str, relative: str = ""
) -> Condition:
    """Add a past medical, surgical or family history entry."""
    _check(actor, encounter)
    errors = {}
    if category not in HISTORY_CATEGORIES:
        errors["category"] = "Choose medical, surgical or family history."
    if not description.strip():
        errors["description"] = "Describe the condition or operation."
    if category == Condition.Category.FAMILY_HISTORY and not relative.strip():
        errors["relative"] = "Say which relative (e.g. mother, brother)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        condition = Condition.objects.create(
            patient=encounter.patient,
            encounter=encounter,
            created_by_id=actor.signed_in_user_id,
            category=category,
            description=description.strip(),
            relative=relative.strip() if category == Condition.Category.FAMILY_HISTORY else "",
        )
        _audit(actor, Action.CREATE, "Condition", condition, encounter, condition.description)
    return condition


def record_smoking_status(
    *, actor: Actor, encounter: Any, code: str, note: str = ""
) -> SmokingStatus:
    """A new smoking status observation as of today (US Core Smoking Status). Earlier ones stay:
    the history of a patient's smoking is clinically meaningful."""
    _check(actor, encounter)
    if code not in SmokingStatus.Value.values:
        raise ValidationError({"smoking": "Choose the patient's smoking status from the list."})
    with transaction.atomic():
        status = SmokingStatus.objects.filter(
            patient=encounter.patient, encounter=encounter
        ).first() or SmokingStatus(patient=encounter.patient, encounter=encounter)
        status.code = code
        status.note = note.strip()[:200]
        status.effective_date = clock.today()
        status.updated_at = clock.now()
        if status.created_by_id is None:
            status.created_by_id = actor.signed_in_user_id
        status.save()
        _audit(actor, Action.CREATE, "Observation.smokingStatus", status, encounter, status.display)
    return status


def record_social_history(
    *,
    actor: Actor,
    encounter: Any,
    topic: str,
    value: str,
    answers: dict | None = None,
    score: int | None = None,
    positive: bool | None = None,
) -> SocialHistory:
    """Alcohol or substance use as of today; one observation per topic per visit (a second
    answer at the same visit corrects the first)."""
    _check(actor, encounter)
    if topic not in SocialHistory.Topic.values:
        raise ValidationError("Unknown social history topic.")
    if not value.strip():
        raise ValidationError({topic: "Record the patient's answer."})
    with transaction.atomic():
        row = SocialHistory.objects.filter(
            patient=encounter.patient, encounter=encounter, topic=topic
        ).first() or SocialHistory(patient=encounter.patient, encounter=encounter, topic=topic)
        row.value = value.strip()[:200]
        row.answers = answers or {}
        row.score = score
        row.positive = positive
        row.effective_date = clock.today()
        row.updated_at = clock.now()
        if row.created_by_id is None:
            row.created_by_id = actor.signed_in_user_id
        row.save()
        _audit(
            actor,
            Action.CREATE,
            "Observation.socialHistory",
            row,
            encounter,
            row.get_topic_display(),
        )
    return row
