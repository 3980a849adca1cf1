"""Writes to patient records: each checks permission, validates, writes and audits in one
transaction."""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Clinic, Network
from medassist.core import clock
from medassist.patients.models import EmergencyAccess, NameSpelling, Patient
from medassist.patients.search import deletion_keys, normalize


@dataclass
class Demographics:
    """The command to register or correct a patient (input kept apart from the model)."""

    family: str
    given: str
    birth_date: dt.date
    sex: str
    middle: str = ""
    suffix: str = ""
    preferred_name: str = ""
    birth_sex: str = ""
    gender_identity: str = ""
    race: list[str] = field(default_factory=list)
    ethnicity: str = ""
    preferred_language: str = "en"
    interpreter_needed: bool = False
    phone: str = ""
    email: str = ""
    address_line: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


def phone_digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def index_spellings(names: Iterable[str]) -> None:
    """Add names to the typo-tolerant search index (idempotent)."""
    rows = {(key, name) for name in set(names) if name for key in deletion_keys(name)}
    NameSpelling.objects.bulk_create(
        [NameSpelling(key=k, name=n) for k, n in rows], ignore_conflicts=True, batch_size=2000
    )


def fill_search_keys(patient: Patient) -> Patient:
    """Derive the search columns from what was typed (every writer of names calls this)."""
    patient.family_key = normalize(patient.family)
    patient.given_key = normalize(patient.given)
    patient.phone_digits = phone_digits(patient.phone)
    return patient


def _apply(patient: Patient, data: Demographics) -> list[str]:
    changed = []
    for name, value in asdict(data).items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    fill_search_keys(patient)
    return changed


def _validate(data: Demographics) -> None:
    errors = {}
    if not normalize(data.family):
        errors["family"] = "Enter the last name."
    if not normalize(data.given):
        errors["given"] = "Enter the first name."
    if data.birth_date > clock.today():
        errors["birth_date"] = "The date of birth is in the future."
    elif data.birth_date.year < 1880:
        errors["birth_date"] = "The date of birth is before 1880; check the year."
    if errors:
        raise ValidationError(errors)


def allocate_mrn(network: Network) -> str:
    """Next medical record number of the network (called inside a transaction)."""
    locked = Network.objects.select_for_update().get(pk=network.pk)
    mrn = str(locked.next_mrn)
    Network.objects.filter(pk=network.pk).update(next_mrn=locked.next_mrn + 1)
    return mrn


def register_patient(*, actor: Actor, clinic: Clinic, data: Demographics) -> Patient:
    if not can(actor, Permission.REGISTER_PATIENT, clinic):
        raise PermissionDenied("You may not register patients at this clinic.")
    _validate(data)
    with transaction.atomic():
        patient = Patient(clinic=clinic, network_id=clinic.network_id, created_by_id=actor.user_id)
        _apply(patient, data)
        patient.mrn = allocate_mrn(clinic.network)
        patient.save()
        index_spellings([patient.family_key, patient.given_key])
        record(actor, Action.CREATE, "Patient", patient=patient, entity_id=str(patient.public_id))
    return patient


def update_demographics(*, actor: Actor, patient: Patient, data: Demographics) -> Patient:
    if not can(actor, Permission.EDIT_PATIENT, patient):
        raise PermissionDenied("You may not change this patient's record.")
    _validate(data)
    with transaction.atomic():
        changed = _apply(patient, data)
        if changed:
            patient.updated_at = clock.now()
            patient.save()
            index_spellings([patient.family_key, patient.given_key])
            record(
                actor,
                Action.UPDATE,
                "Patient",
                patient=patient,
                entity_id=str(patient.public_id),
                description="changed: " + ", ".join(changed),
            )
    return patient


def find_for_emergency(actor: Actor, *, mrn: str, birth_date: dt.date) -> Patient:
    """The patient named by two identifiers (MRN and birth date) in the actor's own network."""
    networks = Clinic.objects.filter(pk__in=actor.clinics_with(Permission.EMERGENCY_ACCESS)).values(
        "network_id"
    )
    patient = Patient.objects.filter(
        network_id__in=networks, mrn=mrn.strip(), birth_date=birth_date
    ).first()
    if patient is None:
        raise ValidationError({"mrn": "No patient in your network has that MRN and date of birth."})
    return patient


def grant_emergency_access(
    *, actor: Actor, mrn: str, birth_date: dt.date, reason: str
) -> EmergencyAccess:
    """Break the glass: time-limited access to one patient outside the actor's clinics."""
    if not can(actor, Permission.EMERGENCY_ACCESS):
        raise PermissionDenied("Your role may not use emergency access.")
    reason = " ".join(reason.split())
    if len(reason) < 10:
        raise ValidationError(
            {"reason": "Say why you need this chart now (at least 10 characters)."}
        )
    with transaction.atomic():
        patient = find_for_emergency(actor, mrn=mrn, birth_date=birth_date)
        now = clock.now()
        grant = EmergencyAccess.objects.create(
            user_id=actor.signed_in_user_id,
            patient=patient,
            reason=reason,
            granted_at=now,
            expires_at=now + dt.timedelta(minutes=settings.EMERGENCY_ACCESS_MINUTES),
        )
        record(
            actor,
            Action.EMERGENCY_ACCESS,
            "Patient",
            patient=patient,
            entity_id=str(patient.public_id),
            reason=reason,
            description=f"emergency access until {grant.expires_at:%Y-%m-%d %H:%M} UTC",
        )
    return grant
