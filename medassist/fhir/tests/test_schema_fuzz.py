"""No request the API's own OpenAPI schema describes, valid or not, gives a server error:
schemathesis generates them from /fhir/R4/openapi.json and sends them through the WSGI
application, as alice (medical assistant) and as erin (compliance auditor)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from config.wsgi import application
from medassist.access.tokens import issue_token
from medassist.fhir.tests.immunization_records import north_immunization
from medassist.fhir.tests.lab_records import north_lab_records
from medassist.fhir.tests.records import north_records
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

OPERATIONS = [
    ("/fhir/R4/metadata", "GET"),
    ("/fhir/R4/Patient", "GET"),
    ("/fhir/R4/Patient/_search", "POST"),
    ("/fhir/R4/Patient/{id}", "GET"),
    ("/fhir/R4/AuditEvent", "GET"),
    ("/fhir/R4/AuditEvent/_search", "POST"),
    *(
        (path, method)
        for kind in (
            "Encounter",
            "AllergyIntolerance",
            "MedicationRequest",
            "Condition",
            "Appointment",
            "Schedule",
            "Observation",
            "QuestionnaireResponse",
            "Task",
            "Immunization",
            "ServiceRequest",
            "Specimen",
            "DiagnosticReport",
        )
        for path, method in (
            (f"/fhir/R4/{kind}", "GET"),
            (f"/fhir/R4/{kind}/_search", "POST"),
            (f"/fhir/R4/{kind}/{{id}}", "GET"),
        )
    ),
    ("/fhir/R4/Practitioner/{id}", "GET"),
    ("/fhir/R4/Observation", "POST"),
    ("/fhir/R4/", "POST"),
    ("/fhir/R4/Slot", "GET"),
    ("/fhir/R4/Slot/_search", "POST"),
    ("/fhir/R4/Immunization/$immds-forecast", "POST"),
    ("/fhir/R4/$immds-forecast", "POST"),
]


def test_the_schema_lists_every_operation_fuzzed():
    schema = application_schema()
    listed = {
        (path, method.upper())
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    assert listed == set(OPERATIONS)


def application_schema():  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/fhir/R4/openapi.json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """The real WSGI handler closes the database connection after each request when it is
    not in autocommit, which a test transaction never is (PostgreSQL then loses the test's
    data). Django's test Client avoids this the same way: by not listening for those signals."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_generated_request_gives_a_server_error(cast, path, method):
    patient = make_patient(cast.north, family="Fuzz", given="Target")
    make_patient(cast.north, family="Other", given="Person", race=["2106-3"])
    known_ids = (
        north_records(cast, patient)
        | {"Immunization": north_immunization(cast, patient)}
        | north_lab_records(cast, patient)
    )
    tokens = [issue_token(user=cast.alice), issue_token(user=cast.erin)]
    operation = application_schema()[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *(
            [operation.as_strategy(path_parameters={"id": known_ids[path.split("/")[3]]})]
            if "{id}" in path
            else []
        ),
    )

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=cases, token=st.sampled_from(tokens))
    def check(case, token):  # type: ignore[no-untyped-def]
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"

    check()
