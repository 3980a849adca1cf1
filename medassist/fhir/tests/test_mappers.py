"""The mappers give resources that the R4B models of fhir.resources accept, shaped as US Core
9.0.0 says (extension URLs and shapes from its StructureDefinitions)."""

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.patient import Patient as FhirPatient

from medassist.access.actor import Actor
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.fhir.mappers import audit_event, patient
from medassist.patients.models import Race
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next(e for e in resource.get("extension", []) if e["url"] == url)


@pytest.fixture
def full(cast):  # type: ignore[no-untyped-def]
    """A patient with every demographic the workstation records."""
    return make_patient(
        cast.north,
        family="Núñez",
        given="José",
        middle="Luis",
        suffix="Jr",
        preferred_name="Pepe",
        birth_date=dt.date(1975, 12, 31),
        sex="male",
        birth_sex="M",
        gender_identity="446151000124109",
        race=["2106-3", "2054-5"],
        ethnicity="2135-2",
        preferred_language="es",
        interpreter_needed=True,
        phone="217-555-0142",
        email="jose@example.org",
        address_line="12 Elm St",
        address_line2="Apt 3",
        city="Springfield",
        state="IL",
        postal_code="62701",
    )


def test_a_full_patient_validates_as_r4b(full):
    FhirPatient.model_validate(patient.to_fhir(full))


def test_a_minimal_patient_validates_and_has_no_empty_elements(cast):
    resource = patient.to_fhir(make_patient(cast.north))

    FhirPatient.model_validate(resource)
    assert "telecom" not in resource and "address" not in resource
    assert all(v not in ([], {}, "", None) for v in resource.values())


def test_identity_profile_and_identifier(full):
    resource = patient.to_fhir(full)

    assert resource["id"] == str(full.public_id)
    assert resource["meta"]["profile"] == [patient.US_CORE_PATIENT]
    (mrn,) = resource["identifier"]
    assert (mrn["system"], mrn["value"]) == (patient.MRN_SYSTEM, full.mrn)
    assert mrn["type"]["coding"][0]["code"] == "MR"


def test_names_official_and_usual(full):
    official, usual = patient.to_fhir(full)["name"]

    assert official == {
        "use": "official",
        "family": "Núñez",
        "given": ["José", "Luis"],
        "suffix": ["Jr"],
    }
    assert usual == {"use": "usual", "family": "Núñez", "given": ["Pepe"]}


def test_contact_details_gender_and_birth_date(full):
    resource = patient.to_fhir(full)

    assert resource["telecom"] == [
        {"system": "phone", "value": "217-555-0142"},
        {"system": "email", "value": "jose@example.org"},
    ]
    assert resource["gender"] == "male"
    assert resource["birthDate"] == "1975-12-31"
    assert resource["active"] is True
    assert resource["address"] == [
        {
            "line": ["12 Elm St", "Apt 3"],
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62701",
        }
    ]


def test_preferred_language_as_bcp_47(full):
    (communication,) = patient.to_fhir(full)["communication"]

    assert communication["preferred"] is True
    assert communication["language"]["coding"] == [
        {"system": "urn:ietf:bcp:47", "code": "es", "display": "Spanish"}
    ]


def test_race_as_us_core_race_with_omb_categories_and_text(full):
    race = extension(patient.to_fhir(full), patient.US_CORE_RACE)

    assert race == {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "extension": [
            {
                "url": "ombCategory",
                "valueCoding": {
                    "system": "urn:oid:2.16.840.1.113883.6.238",
                    "code": "2106-3",
                    "display": "White",
                },
            },
            {
                "url": "ombCategory",
                "valueCoding": {
                    "system": "urn:oid:2.16.840.1.113883.6.238",
                    "code": "2054-5",
                    "display": "Black or African American",
                },
            },
            {"url": "text", "valueString": "White, Black or African American"},
        ],
    }


def test_declined_race_is_a_null_flavor(cast):
    resource = patient.to_fhir(make_patient(cast.north, race=[Race.ASKED_DECLINED]))

    (category, text) = extension(resource, patient.US_CORE_RACE)["extension"]
    assert category["valueCoding"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
        "code": "ASKU",
        "display": "asked but unknown",
    }
    assert text == {"url": "text", "valueString": "Asked but declined"}


def test_ethnicity_birth_sex_gender_identity_and_interpreter(full):
    resource = patient.to_fhir(full)

    ethnicity = extension(resource, patient.US_CORE_ETHNICITY)
    assert ethnicity["extension"][0]["valueCoding"]["code"] == "2135-2"
    assert ethnicity["extension"][-1] == {"url": "text", "valueString": "Hispanic or Latino"}
    assert extension(resource, patient.US_CORE_BIRTH_SEX) == {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
        "valueCode": "M",
    }
    identity = extension(resource, patient.INDIVIDUAL_GENDER_IDENTITY)
    (value,) = identity["extension"]
    assert value["url"] == "value"
    assert value["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "446151000124109",
        "display": "Identifies as male gender",
    }
    interpreter = extension(resource, patient.US_CORE_INTERPRETER_NEEDED)
    assert interpreter["valueCoding"]["code"] == "373066001"


def test_unrecorded_demographics_give_no_extensions(cast):
    resource = patient.to_fhir(make_patient(cast.north, race=[]))
    assert "extension" not in resource


def test_unknown_race_codes_are_left_out_rather_than_failing(cast):
    resource = patient.to_fhir(make_patient(cast.north, race=["bogus", "2028-9"]))
    race = extension(resource, patient.US_CORE_RACE)
    assert [e["valueCoding"]["code"] for e in race["extension"][:-1]] == ["2028-9"]


# AuditEvent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_kind_of_entry_validates_as_r4b(cast, action, outcome):
    subject = make_patient(cast.north)
    event = record(
        Actor.for_user(cast.alice, ip="2001:db8::1", channel="api"),
        action,
        "Patient",
        patient=subject,
        entity_id="x",
        description="what happened",
        outcome=outcome,
        reason="emergency: unconscious" if action == Action.EMERGENCY_ACCESS else "",
    )

    resource = audit_event.to_fhir(event)

    FhirAuditEvent.model_validate(resource)
    assert resource["id"] == event.hash
    assert resource["action"] in {"C", "R", "U", "D", "E"}
    assert resource["outcome"] == {"success": "0", "denied": "4", "failed": "8"}[outcome]
    assert resource["subtype"][-1]["code"] == action


def test_an_anonymous_failed_login_validates(cast):
    from django.contrib.auth.models import AnonymousUser

    event = record(
        Actor.for_user(AnonymousUser()),
        Action.LOGIN_FAILED,
        "Session",
        outcome=Outcome.FAILED,
        username="mallory",
    )
    resource = audit_event.to_fhir(event)

    FhirAuditEvent.model_validate(resource)
    assert resource["type"]["code"] == "110114"
    assert resource["agent"][0]["who"]["identifier"]["value"] == "mallory"


def test_break_the_glass_carries_its_purpose(cast):
    event = record(
        Actor.for_user(cast.carol),
        Action.EMERGENCY_ACCESS,
        "Patient",
        patient=make_patient(cast.north),
        reason="unconscious in the waiting room",
    )
    (purpose,) = audit_event.to_fhir(event)["purposeOfEvent"]
    assert purpose["coding"][0]["code"] == "BTG"
    assert purpose["text"] == "unconscious in the waiting room"
