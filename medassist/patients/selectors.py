"""Reads of patient data, always scoped to the actor and audited when they show PHI."""

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.core import clock
from medassist.history.selectors import AllergySummary, summarize_allergies
from medassist.patients.models import EmergencyAccess, NameSpelling, Patient
from medassist.patients.search import (
    deletion_keys,
    name_score,
    parse_query,
    prefix_range,
    within_one_edit,
)

SEARCH_CANDIDATES = 200
SEARCH_RESULTS = 25


def emergency_patient_ids(actor: Actor) -> list[int]:
    """Patients the actor holds an unexpired emergency grant to (almost always none). Fetched
    as a list, so that the common case adds no sub-select to every patient query."""
    return list(
        EmergencyAccess.objects.filter(user=actor.user.pk, expires_at__gt=clock.now())
        .values_list("patient_id", flat=True)
        .distinct()
    )


def emergency_reason(actor: Actor, patient: Patient) -> str:
    """The reason of the actor's latest unexpired grant to `patient` ("" when none)."""
    grant = (
        EmergencyAccess.objects.filter(
            user=actor.user.pk, patient_id=patient.pk, expires_at__gt=clock.now()
        )
        .order_by("-granted_at")
        .values_list("reason", flat=True)
        .first()
    )
    return grant or ""


def has_emergency_access(actor: Actor, patient: Patient) -> bool:
    return EmergencyAccess.objects.filter(
        user=actor.user.pk, patient_id=patient.pk, expires_at__gt=clock.now()
    ).exists()


def visible_patients(actor: Actor, perm: Permission = Permission.VIEW_PATIENT) -> QuerySet[Patient]:
    """Every patient the actor may see: those of clinics where they hold `perm`, and those they
    were granted emergency access to. The one door to the Patient table for reads."""
    if not actor.user.is_authenticated:
        return Patient.objects.none()
    scope = Q(clinic_id__in=actor.clinics_with(perm))
    if perm is Permission.VIEW_PATIENT and (granted := emergency_patient_ids(actor)):
        scope |= Q(pk__in=granted)
    return Patient.objects.filter(scope)


def get_patient(
    actor: Actor,
    public_id: uuid.UUID | str,
    perm: Permission = Permission.VIEW_PATIENT,
    *,
    audit_as: str = "Patient",
    action: Action = Action.READ,
) -> Patient:
    """One patient by public id, or 404 when absent *or* outside the actor's reach: an outsider
    cannot tell the two apart. Records the read (or the denied attempt)."""
    patient = (
        visible_patients(actor, perm).select_related("clinic").filter(public_id=public_id).first()
    )
    if patient is None:
        raise out_of_reach(actor, audit_as, public_id, action=action, message="No such patient")
    if not can(actor, perm, patient):  # defence in depth: the scope above already implies it
        raise Http404("No such patient")
    # A read under an emergency grant carries the grant's reason (ONC 170.315(d)(6)).
    reason = (
        ""
        if patient.clinic_id in actor.clinics_with(perm)
        else f"emergency access: {emergency_reason(actor, patient)}"
    )
    record(
        actor, action, audit_as, patient=patient, entity_id=str(patient.public_id), reason=reason
    )
    return patient


def _fuzzy_spellings(tokens: list[str]) -> dict[str, set[str]]:
    """For each token, the indexed name spellings within one edit of it (one query for all)."""
    long_tokens = [t for t in tokens if len(t) >= 4]
    if not long_tokens:
        return {}
    keys_of = {t: deletion_keys(t) for t in long_tokens}
    all_keys = set().union(*keys_of.values())
    found: dict[str, set[str]] = {t: set() for t in long_tokens}
    for key, name in NameSpelling.objects.filter(key__in=all_keys).values_list("key", "name"):
        for token, keys in keys_of.items():
            if key in keys and within_one_edit(token, name):
                found[token].add(name)
    return found


def _name_condition(token: str, fuzzy: set[str]) -> Q:
    low, high = prefix_range(token)
    cond = Q()
    for column in ("family_key", "given_key"):
        bounds = {f"{column}__gte": low} | ({f"{column}__lt": high} if high else {})
        cond |= Q(**bounds)
        if fuzzy:
            cond |= Q(**{f"{column}__in": sorted(fuzzy)})
    return cond


@dataclass(frozen=True)
class SearchResult:
    query: str
    patients: list[Patient]
    understood: str  # what the box understood, shown to the user
    problems: tuple[str, ...] = ()


def search_patients(actor: Actor, raw: str, *, limit: int = SEARCH_RESULTS) -> SearchResult:
    """The single search box: names in any order (typos forgiven), a birth date, an MRN or a
    phone number, in any combination."""
    query = parse_query(raw or "")
    if query.empty:
        return SearchResult(raw, [], "", tuple(query.problems))
    qs = visible_patients(actor).filter(active=True)
    fuzzy = _fuzzy_spellings(query.names)
    for token in query.names:
        qs = qs.filter(_name_condition(token, fuzzy.get(token, set())))
    if query.birth_date:
        qs = qs.filter(birth_date=query.birth_date)
    if query.digits:
        digits = (
            query.digits[1:] if len(query.digits) == 11 and query.digits[0] == "1" else query.digits
        )
        qs = qs.filter(Q(mrn=query.digits) | Q(phone_digits=digits))
    candidates = list(qs.order_by("family_key", "given_key", "id")[:SEARCH_CANDIDATES])
    candidates.sort(
        key=lambda p: (
            -name_score(query.names, p.given_key, p.family_key),
            p.family_key,
            p.given_key,
        )
    )
    understood = " · ".join(
        filter(
            None,
            [
                ("name " + " ".join(query.names)) if query.names else "",
                f"born {query.birth_date:%m/%d/%Y}" if query.birth_date else "",
                f"MRN or phone {query.digits}" if query.digits else "",
            ],
        )
    )
    record(
        actor,
        Action.SEARCH,
        "Patient.search",
        description=understood[:500],
        entity_id=str(len(candidates)),
    )
    return SearchResult(raw, candidates[:limit], understood, tuple(query.problems))


@dataclass(frozen=True)
class Chart:
    """Everything the chart page shows, fetched in a fixed number of queries whatever the
    length of the patient's history."""

    patient: Patient
    allergies: list
    allergy: AllergySummary
    medications: list
    conditions: list
    coverages: list
    contacts: list
    recent_encounters: list
    encounter_count: int
    emergency: bool


RECENT_ENCOUNTERS = 10


def active_allergies(patient: Patient) -> list:
    return list(
        patient.allergies.filter(active=True).exclude(
            verification__in=["refuted", "entered-in-error"]
        )
    )


def open_chart(actor: Actor, public_id: uuid.UUID | str) -> Chart:
    patient = get_patient(actor, public_id)
    encounters = patient.encounters.select_related("provider", "medical_assistant")
    allergies = active_allergies(patient)
    return Chart(
        patient=patient,
        allergies=allergies,
        allergy=summarize_allergies(allergies),
        medications=list(patient.medications.filter(active=True)),
        conditions=list(patient.conditions.filter(active=True)),
        coverages=list(patient.coverages.all()),
        contacts=list(patient.contacts.all()),
        recent_encounters=list(encounters[:RECENT_ENCOUNTERS]),
        encounter_count=patient.encounters.count(),
        emergency=patient.clinic_id not in actor.clinics_with(Permission.VIEW_PATIENT),
    )


def patients_for_export(actor: Actor) -> QuerySet[Patient]:
    """The patient list a clinic may export: its own patients only, never emergency grants."""
    return (
        Patient.objects.filter(clinic_id__in=actor.clinics_with(Permission.PRINT_CHART))
        .select_related("clinic")
        .order_by("family_key", "given_key")
    )
