import pytest
from django.test import Client
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from medassist.fhir.mappers.patient import US_CORE_PATIENT
from medassist.fhir.search import AUDIT_EVENT_PARAMS, PATIENT_PARAMS

pytestmark = pytest.mark.django_db


def test_metadata_needs_no_token_and_is_a_valid_capability_statement():
    response = Client().get("/fhir/R4/metadata")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance"


def test_metadata_lists_patient_read_and_search_with_us_core_and_audit_event_search():
    body = Client().get("/fhir/R4/metadata").json()

    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    patient, audit = resources["Patient"], resources["AuditEvent"]
    assert {i["code"] for i in patient["interaction"]} == {"read", "search-type"}
    assert patient["supportedProfile"] == [US_CORE_PATIENT]
    assert {p["name"] for p in patient["searchParam"]} == set(PATIENT_PARAMS)
    assert {"name", "family", "given", "birthdate", "identifier"} <= set(PATIENT_PARAMS)
    assert {i["code"] for i in audit["interaction"]} == {"search-type"}
    assert {p["name"] for p in audit["searchParam"]} == set(AUDIT_EVENT_PARAMS)
    assert {"date", "agent", "patient", "action"} <= set(AUDIT_EVENT_PARAMS)


def test_metadata_names_its_base_url():
    body = Client().get("/fhir/R4/metadata").json()
    assert body["implementation"]["url"] == "http://testserver/fhir/R4/"


def test_pretty_output_is_indented_and_other_formats_are_refused():
    assert b'\n  "resourceType"' in Client().get("/fhir/R4/metadata?_pretty=true").content

    response = Client().get("/fhir/R4/metadata?_format=xml")
    assert response.status_code == 406
    assert response.json()["issue"][0]["expression"] == ["_format"]
    assert Client().get("/fhir/R4/metadata?_format=application/fhir%2Bjson").status_code == 200


def test_metadata_lists_each_clinical_resource_with_its_interactions_and_parameters():
    from medassist.fhir.resources import (
        KINDS,
        OBSERVATION_PARAMS,
        QUESTIONNAIRE_RESPONSE_PARAMS,
        SCHEDULE_PARAMS,
        SLOT_PARAMS,
    )

    body = Client().get("/fhir/R4/metadata").json()
    CapabilityStatement.model_validate(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}

    expected = {kind.name: kind.params for kind in KINDS.values()} | {
        "Observation": OBSERVATION_PARAMS,
        "QuestionnaireResponse": QUESTIONNAIRE_RESPONSE_PARAMS,
        "Schedule": SCHEDULE_PARAMS,
    }
    for name, params in expected.items():
        created = {"create"} if name == "Observation" else set()  # vital signs, by POST
        assert {i["code"] for i in resources[name]["interaction"]} == {"read", "search-type"} | (
            created
        )
        assert {p["name"] for p in resources[name]["searchParam"]} == set(params)
    assert {i["code"] for i in body["rest"][0]["interaction"]} == {"batch", "transaction"}
    assert {i["code"] for i in resources["Slot"]["interaction"]} == {"search-type"}
    assert {p["name"] for p in resources["Slot"]["searchParam"]} == set(SLOT_PARAMS)
    assert {i["code"] for i in resources["Practitioner"]["interaction"]} == {"read"}
    assert resources["Encounter"]["supportedProfile"] == [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter"
    ]
    assert {"patient", "date", "status", "class"} <= set(expected["Encounter"])
    assert {"patient", "date", "actor", "status"} <= set(expected["Appointment"])
