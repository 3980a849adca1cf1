"""Immunization, served as the other clinical resources are (resources.Kind): read by id and
searched by patient, date and status (the US Core Immunization searches), scoped to the charts
of the clinics where the user may see immunizations, audited, a constant number of queries a
page. The routes are registered in immunization_api.py."""

from collections.abc import Callable

from django.db.models import Q

from medassist.access.permissions import Permission
from medassist.fhir import selectors
from medassist.fhir.mappers import immunization as immunization_mapper
from medassist.fhir.resources import Kind, reference_to, token_set
from medassist.fhir.resources import _by_day as by_local_day  # records kept by the day
from medassist.fhir.search import NOTHING, SearchParam, date_param, uuid_or_none
from medassist.immunizations.models import Immunization

_SP = "http://hl7.org/fhir/SearchParameter/"
_US_CORE_SP = "http://hl7.org/fhir/us/core/SearchParameter/"


def _id(value: str) -> Q:
    public_id = uuid_or_none(value)
    return Q(public_id=public_id) if public_id else NOTHING


def _occurrence(value: str) -> Q:
    """occurrenceDateTime as the resource shows it: the exact time of a dose given here, the
    day (in the clinic's time zone) of one recorded by the day."""
    timed: Callable[[str], Q] = date_param("given_at", "date", with_time=True)
    return (Q(given_at__isnull=False) & timed(value)) | (
        Q(given_at__isnull=True) & by_local_day("occurred_on")(value)
    )


IMMUNIZATION = Kind(
    name="Immunization",
    noun="immunizations",
    permission=Permission.VIEW_IMMUNIZATIONS,
    params={
        p.name: p
        for p in (
            SearchParam("_id", "token", _SP + "Resource-id", "The dose's id (a UUID)."),
            SearchParam(
                "patient",
                "reference",
                _US_CORE_SP + "us-core-immunization-patient",
                "The patient: Patient/<id> or <id>.",
            ),
            SearchParam(
                "date",
                "date",
                _US_CORE_SP + "us-core-immunization-date",
                "When it was given (occurrenceDateTime), with a prefix eq ne gt ge lt le; give it "
                "twice for a range. A value without a zone is local.",
            ),
            SearchParam(
                "status",
                "token",
                _US_CORE_SP + "us-core-immunization-status",
                "completed | not-done (refused or not given) | entered-in-error.",
            ),
        )
    },
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "date": _occurrence,
        "status": token_set(
            immunization_mapper.EVENT_STATUS,
            {s.value: Q(status=s.value) for s in Immunization.Status},
        ),
    },
    scoped=selectors.visible_immunizations,
    order=("-occurred_on", "-id"),
    to_fhir=immunization_mapper.to_fhir,
    profile=immunization_mapper.US_CORE_IMMUNIZATION,
    documentation=(
        "Doses given here, recorded from outside records (primarySource false, reportOrigin "
        "NIP001) or refused (not-done, statusReason), with CVX and NDC, lot, route and site "
        "(HL7 tables 0162/0163), funding source and VFC eligibility, and the VIS given. Only "
        "for users whose role may see immunizations. "
        "Immunization/$immds-forecast (and [base]/$immds-forecast) runs the CDC CDSi "
        "forecaster on the patient and doses in the request: see the operation."
    ),
)
