"""The Immunization routes, on the API's router (views.router) and in its style: read and search
as for every clinical resource (views._register), and the ImmDS $immds-forecast operation, at
the base as the IG defines it (system level) and on Immunization. Imported by api.py, before the
router joins the API. The forecast path is registered before Immunization/{id}, which would
otherwise take "$immds-forecast" for an id."""

from typing import Any

from django.http import HttpRequest

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.fhir import immds
from medassist.fhir.immunizations import IMMUNIZATION
from medassist.fhir.outcome import FhirError
from medassist.fhir.search import check_format
from medassist.fhir.views import _refuse_other_methods, _register, router
from medassist.fhir.vitals_in import read_json

AUDIT_AS = "Immunization.$immds-forecast"

_FORECAST_ANSWERS = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    },
    "responses": {
        status: {
            "description": description,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
        for status, description in {
            200: "Parameters: evaluation (ImmunizationEvaluation) per dose and antigen, and "
            "recommendation (ImmunizationRecommendation)",
            400: "OperationOutcome: the body is not JSON",
            401: "OperationOutcome: no valid bearer token",
            403: "OperationOutcome: the user's role may not see immunizations",
            415: "OperationOutcome: the body is not FHIR JSON",
            422: "OperationOutcome: the Parameters cannot be forecast; names the element",
        }.items()
    },
}


def immds_forecast(request: HttpRequest) -> dict[str, Any]:
    """ImmDS $immds-forecast: the CDSi evaluation and forecast of the patient and doses sent.
    Nothing is read from the records or stored; the call is audited (without the patient's
    data)."""
    check_format(request.GET.get("_format", ""))
    actor = request.actor  # type: ignore[attr-defined]
    if not can(actor, Permission.VIEW_IMMUNIZATIONS):
        record(
            actor,
            Action.READ,
            AUDIT_AS,
            outcome=Outcome.DENIED,
            description="FHIR $immds-forecast: the user's roles do not allow it",
        )
        raise FhirError(403, "Your role may not see immunizations.")
    asked = immds.parse(read_json(request))
    result, data = immds.forecast(asked)
    answer = immds.parameters(asked, result, data)
    record(actor, Action.READ, AUDIT_AS, description=immds.describe(asked, result))
    return answer


def immds_forecast_on_immunization(request: HttpRequest) -> dict[str, Any]:
    return immds_forecast(request)


router.post(
    "/$immds-forecast",
    url_name="immds-forecast",
    operation_id="immds_forecast",
    summary="ImmDS forecast: evaluate the doses sent and forecast each vaccine group (CDC CDSi)",
    openapi_extra=_FORECAST_ANSWERS,
)(immds_forecast)
router.post(
    "/Immunization/$immds-forecast",
    url_name="immunization-immds-forecast",
    operation_id="immunization_immds_forecast",
    summary="ImmDS forecast, invoked on Immunization",
    openapi_extra=_FORECAST_ANSWERS,
)(immds_forecast_on_immunization)
_register(IMMUNIZATION)

_refuse_other_methods("/$immds-forecast", ["POST"])
_refuse_other_methods("/Immunization/$immds-forecast", ["POST"])
_refuse_other_methods("/Immunization", ["GET"])
_refuse_other_methods("/Immunization/_search", ["POST"])
_refuse_other_methods("/Immunization/{id}", ["GET"], with_id=True)
