"""Reads the FHIR adapter needs that the domain apps do not offer as selectors yet: the
patient's history records, scoped through the patients the actor may see (so an emergency
grant reaches them as it reaches the chart), and one record by public id, audited as
get_patient() audits a chart."""

from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import Model, Prefetch, QuerySet

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Membership
from medassist.fhir.mappers.common import practitioner_id as _practitioner_id
from medassist.fhir.mappers.schedule import ScheduleGroup
from medassist.history.models import Allergy, Condition, Medication, SmokingStatus
from medassist.immunizations.models import Immunization
from medassist.patients.selectors import emergency_reason, visible_patients
from medassist.rooming.models import ScreeningResponse
from medassist.scheduling.models import ScheduleTemplate
from medassist.vitals.models import VitalAlert, VitalSign

M = TypeVar("M", bound=Model)


def _of_visible_patients(actor: Actor, model: type[M]) -> QuerySet[M]:
    if not actor.user.is_authenticated:
        return model._default_manager.none()
    return model._default_manager.filter(patient__in=visible_patients(actor))


def visible_allergies(actor: Actor) -> QuerySet[Allergy]:
    return _of_visible_patients(actor, Allergy).select_related("patient")


def visible_medications(actor: Actor) -> QuerySet[Medication]:
    return _of_visible_patients(actor, Medication).select_related("patient")


def visible_smoking_statuses(actor: Actor) -> QuerySet[SmokingStatus]:
    return _of_visible_patients(actor, SmokingStatus).select_related("patient", "encounter")


def visible_screenings(actor: Actor) -> QuerySet[ScreeningResponse]:
    return (
        _of_visible_patients(actor, ScreeningResponse)
        .select_related("patient", "encounter", "by")
        .prefetch_related(
            Prefetch("by__memberships", queryset=Membership.objects.filter(active=True))
        )
    )


def visible_conditions(actor: Actor) -> QuerySet[Condition]:
    return _of_visible_patients(actor, Condition).select_related("patient")


def _active_memberships(name: str) -> Prefetch:
    return Prefetch(f"{name}__memberships", queryset=Membership.objects.filter(active=True))


def visible_vital_signs(actor: Actor) -> QuerySet[VitalSign]:
    """The vital signs of the patients the actor may see, with what the mapper reads: patient,
    visit, recorder and the recorder's titles (a constant number of queries a page)."""
    return (
        _of_visible_patients(actor, VitalSign)
        .select_related("patient", "encounter", "by")
        .prefetch_related(_active_memberships("by"))
    )


def visible_vital_alerts(actor: Actor) -> QuerySet[VitalAlert]:
    """The critical-value alerts (FHIR Task) of the patients the actor may see."""
    return (
        _of_visible_patients(actor, VitalAlert)
        .select_related("patient", "sign", "encounter", "owner")
        .prefetch_related(_active_memberships("owner"))
    )


def visible_immunizations(actor: Actor) -> QuerySet[Immunization]:
    """The doses in the charts of the clinics where the actor may see immunizations (an
    emergency grant opens the chart, not the immunization record), with what the mapper reads:
    patient, clinic, visit, lot, who gave and who ordered it, and their titles."""
    if not actor.user.is_authenticated:
        return Immunization.objects.none()
    clinics = actor.clinics_with(Permission.VIEW_IMMUNIZATIONS)
    return (
        Immunization.objects.filter(patient__clinic_id__in=clinics)
        .select_related("patient", "clinic", "encounter", "lot", "given_by", "ordering_provider")
        .prefetch_related(_active_memberships("given_by"), _active_memberships("ordering_provider"))
    )


def get_patient_record(actor: Actor, matching: QuerySet[M], entity_id: str, *, audit_as: str) -> M:
    """The one record of `matching` (scoped to the actor, narrowed to the id asked for, with
    its patient loaded), or 404 when absent or out of reach, alike. Records the read, or the
    refused attempt; a read under an emergency grant carries the grant's reason (ONC
    170.315(d)(6))."""
    found: Any = matching.first()
    if found is None:
        raise out_of_reach(actor, audit_as, entity_id)
    patient = found.patient
    reason = (
        ""
        if patient.clinic_id in actor.clinics_with(Permission.VIEW_PATIENT)
        else f"emergency access: {emergency_reason(actor, patient)}"
    )
    record(actor, Action.READ, audit_as, patient=patient, entity_id=entity_id, reason=reason)
    return found


def visible_staff(actor: Actor) -> QuerySet[Any]:
    """The staff of the actor's clinics (whom the actor's records name as practitioners), with
    their memberships at those clinics."""
    if not actor.user.is_authenticated:
        return get_user_model().objects.none()
    clinics = list(actor.roles_by_clinic)
    return (
        get_user_model()
        .objects.filter(memberships__clinic_id__in=clinics, memberships__active=True)
        .distinct()
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(clinic_id__in=clinics, active=True),
            )
        )
    )


def get_practitioner(actor: Actor, practitioner_id: str) -> Any:
    """The staff member of the actor's clinics whose Practitioner id this is, or 404. Staff
    names are not patient data; the read is recorded all the same, as every API read is."""
    staff = visible_staff(actor)
    pks = [
        pk for pk in staff.values_list("pk", flat=True) if _practitioner_id(pk) == practitioner_id
    ]
    found = staff.filter(pk__in=pks).first()
    if found is None:
        raise out_of_reach(actor, "Practitioner", practitioner_id)
    record(actor, Action.READ, "Practitioner", entity_id=practitioner_id)
    return found


def visible_schedules(actor: Actor, provider_pks: list[int] | None = None) -> list[ScheduleGroup]:
    """The schedules (a provider's templates at a clinic) of the clinics whose schedule the
    actor may see, ordered by clinic and provider name: three queries, however many."""
    if not actor.user.is_authenticated:
        return []
    clinics = actor.clinics_with(Permission.VIEW_SCHEDULE)
    templates = (
        ScheduleTemplate.objects.filter(clinic_id__in=clinics)
        .select_related("clinic", "provider")
        .prefetch_related(
            "appointment_types",
            Prefetch(
                "provider__memberships",
                queryset=Membership.objects.filter(clinic_id__in=clinics, active=True),
            ),
        )
        .order_by(
            "clinic__name",
            "provider__last_name",
            "provider__first_name",
            "provider_id",
            "weekday",
            "start_time",
        )
    )
    if provider_pks is not None:
        templates = templates.filter(provider_id__in=provider_pks)
    groups: dict[tuple[int, int], ScheduleGroup] = {}
    for template in templates:
        key = (template.clinic_id, template.provider_id)
        if key not in groups:
            groups[key] = ScheduleGroup(template.clinic, template.provider)
        groups[key].templates.append(template)
    return list(groups.values())


def get_schedule(actor: Actor, schedule_id: str) -> ScheduleGroup:
    found = next((g for g in visible_schedules(actor) if g.id == schedule_id), None)
    if found is None:
        raise out_of_reach(actor, "Schedule", schedule_id)
    record(actor, Action.READ, "Schedule", clinic_id=found.clinic.pk, entity_id=schedule_id)
    return found
