"""The clinical resources served beside Patient, one table entry each: its search parameters
(which the CapabilityStatement and the OpenAPI schema list), how each parameter becomes a
condition on a queryset already scoped to the actor, the permission it needs, the scoped
queryset with what its mapper reads loaded up front (a constant number of queries a page), and
the mapper."""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.clinics.models import Membership
from medassist.encounters.selectors import visible_encounters
from medassist.encounters.stages import APPOINTMENT_STATUS, ENCOUNTER_STATUS
from medassist.fhir import selectors
from medassist.fhir.mappers import allergy_intolerance as allergy_mapper
from medassist.fhir.mappers import appointment as appointment_mapper
from medassist.fhir.mappers import condition as condition_mapper
from medassist.fhir.mappers import encounter as encounter_mapper
from medassist.fhir.mappers import medication_request as medication_mapper
from medassist.fhir.mappers import task as task_mapper
from medassist.fhir.mappers.common import LOINC, V3_ACT_CODE, practitioner_id
from medassist.fhir.mappers.observation import OBSERVATION_CATEGORY
from medassist.fhir.search import (
    NOTHING,
    DateRange,
    SearchParam,
    date_condition,
    date_param,
    parse_date_value,
    split_token,
    uuid_or_none,
)
from medassist.history.models import SMOKING_STATUS_LOINC, Condition
from medassist.scheduling.selectors import visible_appointments
from medassist.vitals.models import LOINC_CODES, SPO2_ARTERIAL_LOINC, Measure, VitalAlert

_SP = "http://hl7.org/fhir/SearchParameter/"
_US_CORE_SP = "http://hl7.org/fhir/us/core/SearchParameter/"


@dataclass(frozen=True)
class Kind:
    """One resource type served by read and search."""

    name: str  # the FHIR resource type
    noun: str  # what a user calls them, for messages: "visits"
    permission: Permission
    params: Mapping[str, SearchParam]
    conditions: Mapping[str, Callable[[str], Q]]
    scoped: Callable[[Actor], QuerySet[Any]]  # the actor's, loaded for the mapper
    order: tuple[str, ...]
    to_fhir: Callable[[Any], dict[str, Any]]
    profile: str
    documentation: str


# A condition every row meets. Not Q(): an empty Q vanishes when ORed ("order,plan" would
# become "order" alone), and "a,b" must find what a finds or b finds.
EVERYTHING = ~NOTHING


def _params(*params: SearchParam) -> dict[str, SearchParam]:
    return {p.name: p for p in params}


# Conditions --------------------------------------------------------------------------------


def reference_to(resource_type: str, column: str) -> Callable[[str], Q]:
    """A reference parameter: `Type/<id>`, a full URL ending so, or the bare id. A reference
    to another resource type, or an id that is no UUID, is a valid search that finds nothing."""

    def condition(value: str) -> Q:
        _, slash, tail = value.rpartition(f"{resource_type}/")
        if not slash and "/" in value:
            return NOTHING
        public_id = uuid_or_none(tail)
        return Q(**{column: public_id}) if public_id else NOTHING

    return condition


def staff_pks_for(practitioner_ids: set[str]) -> list[int]:
    """The users whose Practitioner id is one of these (ids are HMACs, so they are found by
    computing each staff member's: one query, however many are asked for)."""
    if not practitioner_ids:
        return []
    staff = Membership.objects.values_list("user_id", flat=True).distinct()
    return [pk for pk in staff if practitioner_id(pk) in practitioner_ids]


def practitioner_reference(column: str) -> Callable[[str], Q]:
    def condition(value: str) -> Q:
        _, slash, tail = value.rpartition("Practitioner/")
        if not slash and "/" in value:
            return NOTHING
        pks = staff_pks_for({tail})
        return Q(**{f"{column}__in": pks}) if pks else NOTHING

    return condition


def token_set(system: str, values_for: Mapping[str, Q]) -> Callable[[str], Q]:
    """A token parameter whose codes each stand for a condition; an unknown code (or system)
    is a valid search that finds nothing."""

    def condition(value: str) -> Q:
        given_system, code = split_token(value)
        if given_system not in (None, system) or code not in values_for:
            return NOTHING
        return values_for[code]

    return condition


def _id(value: str) -> Q:
    public_id = uuid_or_none(value)
    return Q(public_id=public_id) if public_id else NOTHING


def _stages_for(status_map: Mapping[Any, str], column: str) -> dict[str, Q]:
    stages: dict[str, list[str]] = {}
    for stage, status in status_map.items():
        stages.setdefault(status, []).append(str(stage))
    return {status: Q(**{f"{column}__in": s}) for status, s in stages.items()}


_ID = SearchParam("_id", "token", _SP + "Resource-id", "The resource's id (a UUID).")


def _patient_param(resource: str) -> SearchParam:
    return SearchParam(
        "patient", "reference", f"{_SP}{resource}-patient", "The patient: Patient/<id> or <id>."
    )


def _staff_prefetch(*names: str) -> list[Prefetch]:
    # The staff's memberships give their titles ("Robert Okafor, MD"): one query a page.
    memberships = Membership.objects.filter(active=True)
    return [Prefetch(f"{name}__memberships", queryset=memberships) for name in names]


# Encounter ---------------------------------------------------------------------------------

ENCOUNTER_STATUS_SYSTEM = "http://hl7.org/fhir/encounter-status"

ENCOUNTER = Kind(
    name="Encounter",
    noun="visits",
    permission=Permission.VIEW_ENCOUNTER,
    params=_params(
        _ID,
        _patient_param("clinical"),
        SearchParam(
            "date",
            "date",
            _SP + "clinical-date",
            "When the visit started (arrival, or the booked start until then), with a prefix "
            "eq ne gt ge lt le; give it twice for a range. A value without a zone is local.",
        ),
        SearchParam(
            "status",
            "token",
            _SP + "Encounter-status",
            "planned | arrived | triaged | in-progress | finished | cancelled "
            "(derived from the visit's stage on the clinic day).",
        ),
        SearchParam(
            "class", "token", _SP + "Encounter-class", "AMB (office visit) | VR (telehealth)."
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "date": date_param("period_start", "date", with_time=True),
        "status": token_set(ENCOUNTER_STATUS_SYSTEM, _stages_for(ENCOUNTER_STATUS, "stage")),
        "class": token_set(V3_ACT_CODE, {"AMB": Q(kind="AMB"), "VR": Q(kind="VR")}),
    },
    scoped=lambda actor: (
        visible_encounters(actor)
        .select_related(
            "patient",
            "clinic",
            "room",
            "provider",
            "medical_assistant",
            "appointment__appointment_type",
        )
        .prefetch_related(*_staff_prefetch("provider", "medical_assistant"))
    ),
    order=("-period_start", "-id"),
    to_fhir=encounter_mapper.to_fhir,
    profile=encounter_mapper.US_CORE_ENCOUNTER,
    documentation="The visits of the user's clinics; status is derived from the visit's stage.",
)


# AllergyIntolerance ------------------------------------------------------------------------

_NOT_IN_ERROR = ~Q(verification="entered-in-error")

ALLERGY_INTOLERANCE = Kind(
    name="AllergyIntolerance",
    noun="allergies",
    permission=Permission.VIEW_PATIENT,
    params=_params(
        _ID,
        _patient_param("clinical"),
        SearchParam(
            "clinical-status",
            "token",
            _US_CORE_SP + "us-core-allergyintolerance-clinical-status",
            "active | inactive.",
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "clinical-status": token_set(
            allergy_mapper.CLINICAL_STATUS,
            {
                "active": Q(active=True) & _NOT_IN_ERROR,
                "inactive": Q(active=False) & _NOT_IN_ERROR,
            },
        ),
    },
    scoped=selectors.visible_allergies,
    order=("patient_id", "substance", "id"),
    to_fhir=allergy_mapper.to_fhir,
    profile=allergy_mapper.US_CORE_ALLERGY,
    documentation=(
        "Allergies and intolerances; 'no known allergies' is SNOMED CT 716186003, as in the "
        "FHIR example allergyintolerance-nka."
    ),
)


# MedicationRequest -------------------------------------------------------------------------

MEDICATION_REQUEST = Kind(
    name="MedicationRequest",
    noun="medications",
    permission=Permission.VIEW_PATIENT,
    params=_params(
        _ID,
        _patient_param("clinical"),
        SearchParam(
            "status", "token", _SP + "medications-status", "active | stopped (taken off the list)."
        ),
        SearchParam(
            "intent",
            "token",
            _US_CORE_SP + "us-core-medicationrequest-intent",
            "plan: the whole list is patient-reported (reportedBoolean true), as US Core "
            "represents a reported medication list; order finds nothing.",
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "status": token_set(
            "http://hl7.org/fhir/CodeSystem/medicationrequest-status",
            {"active": Q(active=True), "stopped": Q(active=False)},
        ),
        "intent": token_set(
            "http://hl7.org/fhir/CodeSystem/medicationrequest-intent",
            {medication_mapper.INTENT: EVERYTHING},
        ),
    },
    scoped=selectors.visible_medications,
    order=("patient_id", "name", "id"),
    to_fhir=medication_mapper.to_fhir,
    profile=medication_mapper.US_CORE_MEDICATION_REQUEST,
    documentation="The patient-reported medication list (intent plan, reportedBoolean true).",
)


# Condition ---------------------------------------------------------------------------------

_CATEGORY_SYSTEMS = (condition_mapper.CONDITION_CATEGORY, condition_mapper.HISTORY_CATEGORY)


def _condition_category(value: str) -> Q:
    system, code = split_token(value)
    if code == "problem-list-item" and system in (None, condition_mapper.CONDITION_CATEGORY):
        return EVERYTHING  # every exported condition carries it (see mappers/condition.py)
    histories = (Condition.Category.MEDICAL_HISTORY, Condition.Category.SURGICAL_HISTORY)
    if code in histories and system in (None, condition_mapper.HISTORY_CATEGORY):
        return Q(category=code)
    return NOTHING


CONDITION = Kind(
    name="Condition",
    noun="problems and histories",
    permission=Permission.VIEW_PATIENT,
    params=_params(
        _ID,
        _patient_param("clinical"),
        SearchParam(
            "category",
            "token",
            _US_CORE_SP + "us-core-condition-category",
            "problem-list-item (every condition served) | medical-history | surgical-history.",
        ),
        SearchParam(
            "clinical-status",
            "token",
            _US_CORE_SP + "us-core-condition-clinical-status",
            "active | inactive.",
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "category": _condition_category,
        "clinical-status": token_set(
            condition_mapper.CONDITION_CLINICAL,
            {"active": Q(active=True), "inactive": Q(active=False)},
        ),
    },
    scoped=lambda actor: selectors.visible_conditions(actor).filter(
        category__in=condition_mapper.EXPORTED
    ),
    order=("patient_id", "category", "description", "id"),
    to_fhir=condition_mapper.to_fhir,
    profile=condition_mapper.US_CORE_CONDITION,
    documentation=(
        "Problems, and past medical and surgical history. Family history is not served as "
        "Condition (its subject would read as the patient's own disease)."
    ),
)


# Appointment -------------------------------------------------------------------------------


def _appointment_actor(value: str) -> Q:
    if "Practitioner/" in value:
        return practitioner_reference("provider_id")(value)
    return reference_to("Patient", "patient__public_id")(value)


APPOINTMENT = Kind(
    name="Appointment",
    noun="appointments",
    permission=Permission.VIEW_SCHEDULE,
    params=_params(
        _ID,
        SearchParam("patient", "reference", _SP + "Appointment-patient", "Patient/<id> or <id>."),
        SearchParam(
            "date",
            "date",
            _SP + "Appointment-date",
            "The booked start, with a prefix eq ne gt ge lt le; give it twice for a range.",
        ),
        SearchParam(
            "actor",
            "reference",
            _SP + "Appointment-actor",
            "Practitioner/<id> (the provider) or Patient/<id>.",
        ),
        SearchParam(
            "practitioner",
            "reference",
            _SP + "Appointment-practitioner",
            "The provider: Practitioner/<id> or <id>.",
        ),
        SearchParam(
            "status",
            "token",
            _SP + "Appointment-status",
            "booked | checked-in | fulfilled | noshow | cancelled (derived from the visit's "
            "stage).",
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "date": date_param("start", "date", with_time=True),
        "actor": _appointment_actor,
        "practitioner": practitioner_reference("provider_id"),
        "status": token_set(
            "http://hl7.org/fhir/appointmentstatus",
            _stages_for(APPOINTMENT_STATUS, "encounter__stage"),
        ),
    },
    scoped=lambda actor: (
        visible_appointments(actor)
        .select_related("encounter", "patient", "provider", "appointment_type", "clinic")
        .prefetch_related(*_staff_prefetch("provider"))
    ),
    order=("start", "id"),
    to_fhir=appointment_mapper.to_fhir,
    profile="http://hl7.org/fhir/StructureDefinition/Appointment",
    documentation="The bookings of the user's clinics; status is derived from the visit's stage.",
)


# Task (critical-value alerts) -------------------------------------------------------------

TASK = Kind(
    name="Task",
    noun="alerts",
    permission=Permission.VIEW_PATIENT,
    params=_params(
        _ID,
        SearchParam("patient", "reference", _SP + "Task-patient", "Patient/<id> or <id>."),
        SearchParam(
            "status",
            "token",
            _SP + "Task-status",
            "requested (waiting for the provider's acknowledgment) | completed (acknowledged) | "
            "cancelled (the value was entered in error).",
        ),
        SearchParam(
            "owner",
            "reference",
            _SP + "Task-owner",
            "The provider who must acknowledge: Practitioner/<id> or <id>.",
        ),
        SearchParam(
            "focus",
            "reference",
            _SP + "Task-focus",
            "The critical vital sign: Observation/<id> or <id>.",
        ),
        SearchParam(
            "_lastUpdated",
            "date",
            _SP + "Resource-lastUpdated",
            "When it last changed, with a prefix eq ne gt ge lt le.",
        ),
    ),
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "status": token_set(
            "http://hl7.org/fhir/task-status",
            {s.value: Q(status=s.value) for s in VitalAlert.Status},
        ),
        "owner": practitioner_reference("owner_id"),
        "focus": reference_to("Observation", "sign__public_id"),
        "_lastUpdated": date_param("updated_at", "_lastUpdated", with_time=True),
    },
    scoped=selectors.visible_vital_alerts,
    order=("-raised_at", "-id"),
    to_fhir=task_mapper.to_fhir,
    profile="http://hl7.org/fhir/StructureDefinition/Task",
    documentation=(
        "Critical vital-sign alerts: the visit's provider is asked (priority stat) to "
        "acknowledge the Observation in focus; businessStatus 'escalated' once it went to the "
        "clinic manager unacknowledged."
    ),
)


KINDS = {
    k.name: k
    for k in (ENCOUNTER, ALLERGY_INTOLERANCE, MEDICATION_REQUEST, CONDITION, APPOINTMENT, TASK)
}


# Schedule and Slot (computed, not rows: views.py searches them itself) ----------------------

SCHEDULE_PARAMS = _params(
    SearchParam("_id", "token", _SP + "Resource-id", "The schedule's id."),
    SearchParam(
        "actor",
        "reference",
        _SP + "Schedule-actor",
        "The provider: Practitioner/<id> or <id>.",
    ),
)

SLOT_DAYS = 31  # the longest stretch one Slot search computes

SLOT_PARAMS = _params(
    SearchParam(
        "schedule",
        "reference",
        _SP + "Slot-schedule",
        "Required: the schedule, Schedule/<id> or <id>.",
    ),
    SearchParam(
        "start",
        "date",
        _SP + "Slot-start",
        f"The slot's start, with a prefix eq gt ge lt le; give it twice for a range of at most "
        f"{SLOT_DAYS} days (default: the next 7 days). A value without a zone is local.",
    ),
    SearchParam(
        "status",
        "token",
        _SP + "Slot-status",
        "free | busy | busy-unavailable (default: all).",
    ),
)


# Observation (smoking status, screening totals) and QuestionnaireResponse (the answers) -----

OBSERVATION_PARAMS = _params(
    _patient_param("clinical"),
    SearchParam(
        "category",
        "token",
        _US_CORE_SP + "us-core-observation-category",
        "social-history (smoking status) | survey (screening results) | vital-signs | "
        "laboratory (lab results).",
    ),
    SearchParam(
        "code",
        "token",
        _US_CORE_SP + "us-core-observation-code",
        "LOINC: 72166-2 smoking status, a screening's total or panel code "
        "(44261-6 PHQ-9 total, 55758-7 PHQ-2 total, ...), or a vital sign's "
        "(85354-9 blood pressure, 8867-4 heart rate, 59408-5 or 2708-6 pulse oximetry, ...), "
        "or a lab result's (2093-3 cholesterol, ...).",
    ),
    SearchParam(
        "date",
        "date",
        _US_CORE_SP + "us-core-observation-date",
        "When it was observed, with a prefix eq ne gt ge lt le; give it twice for a range.",
    ),
    SearchParam(
        "encounter",
        "reference",
        _SP + "clinical-encounter",
        "The visit: Encounter/<id> or <id>.",
    ),
)


def _local_day_range(value: str) -> tuple[str, DateRange]:
    """A date search value as a range of local dates, for records kept by the day."""
    prefix, span = parse_date_value("date", value, with_time=True)
    zone = timezone.get_current_timezone()
    low = timezone.localdate(span.low, zone) if span.low.year > 1 else dt.date.min
    high = None
    if span.high is not None and span.high.year < 9999:
        high = timezone.localdate(span.high - dt.timedelta(microseconds=1), zone)
        high += dt.timedelta(days=1)
    return prefix, DateRange(low, high)


def _by_day(field: str) -> Callable[[str], Q]:
    def condition(value: str) -> Q:
        prefix, span = _local_day_range(value)
        return date_condition(field, prefix, span)

    return condition


def _loinc(codes: Callable[[str], Q]) -> Callable[[str], Q]:
    def condition(value: str) -> Q:
        system, code = split_token(value)
        if system not in (None, LOINC) or not code:
            return NOTHING
        return codes(code)

    return condition


SMOKING_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "patient": reference_to("Patient", "patient__public_id"),
    "category": token_set(OBSERVATION_CATEGORY, {"social-history": EVERYTHING}),
    "code": _loinc(lambda code: EVERYTHING if code == SMOKING_STATUS_LOINC else NOTHING),
    "date": _by_day("effective_date"),
    "encounter": reference_to("Encounter", "encounter__public_id"),
}
SCREENING_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "patient": reference_to("Patient", "patient__public_id"),
    "category": token_set(OBSERVATION_CATEGORY, {"survey": EVERYTHING}),
    "code": _loinc(lambda code: Q(total_loinc=code) | Q(instrument=code)),
    "date": date_param("at", "date", with_time=True),
    "encounter": reference_to("Encounter", "encounter__public_id"),
}

# The LOINC codes a vital sign is found by: its profile's code, and pulse oximetry's second.
VITAL_SIGN_MEASURES: dict[str, str] = {code: m for m, (code, _) in LOINC_CODES.items()} | {
    SPO2_ARTERIAL_LOINC: Measure.SPO2
}
VITAL_SIGN_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "patient": reference_to("Patient", "patient__public_id"),
    "category": token_set(OBSERVATION_CATEGORY, {"vital-signs": EVERYTHING}),
    "code": _loinc(
        lambda code: (
            Q(measure=VITAL_SIGN_MEASURES[code]) if code in VITAL_SIGN_MEASURES else NOTHING
        )
    ),
    "date": date_param("effective", "date", with_time=True),
    "encounter": reference_to("Encounter", "encounter__public_id"),
}

QUESTIONNAIRE_RESPONSE_PARAMS = _params(
    _patient_param("QuestionnaireResponse"),
    SearchParam(
        "questionnaire",
        "reference",
        _SP + "QuestionnaireResponse-questionnaire",
        "The instrument: http://loinc.org/q/<panel code> (44249-1 PHQ-9, 55757-9 PHQ-2, ...) "
        "or the code alone.",
    ),
    SearchParam(
        "authored",
        "date",
        _SP + "QuestionnaireResponse-authored",
        "When the answers were recorded, with a prefix eq ne gt ge lt le.",
    ),
)


def _questionnaire(value: str) -> Q:
    code = value.rstrip("/").rsplit("/", 1)[-1].split("|")[0]
    return Q(instrument=code) if code else NOTHING


QUESTIONNAIRE_RESPONSE_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "patient": reference_to("Patient", "patient__public_id"),
    "questionnaire": _questionnaire,
    "authored": date_param("at", "authored", with_time=True),
}
