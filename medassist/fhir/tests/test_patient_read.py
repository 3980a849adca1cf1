import hashlib

import pytest
from django.apps import apps
from fhir.resources.R4B.patient import Patient as FhirPatient

from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.fhir.mappers.patient import MRN_SYSTEM
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"


def data_fingerprint() -> str:
    """Every row of every table but the ones any request may touch (the audit trail, the
    tokens' last use, sessions)."""
    skip = {"audit.AuditEvent", "access.ApiToken", "sessions.Session"}
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.label not in skip and not model._meta.proxy:
            for row in model._default_manager.order_by("pk").values_list():
                digest.update(repr(row).encode())
    return digest.hexdigest()


def test_alice_reads_a_north_patient_as_us_core_patient(cast, api_as):
    patient = make_patient(cast.north, family="Okonkwo", given="Ada")

    response = api_as("alice").get(f"/fhir/R4/Patient/{patient.public_id}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert response["Cache-Control"].startswith("no-store")
    resource = FhirPatient.model_validate(response.json())
    assert resource.id == str(patient.public_id)
    assert resource.name and resource.name[0].family == "Okonkwo"
    assert resource.identifier
    assert (resource.identifier[0].system, resource.identifier[0].value) == (
        MRN_SYSTEM,
        patient.mrn,
    )


def test_the_read_is_recorded_on_the_api_channel(cast, api_as):
    patient = make_patient(cast.north)

    api_as("alice").get(f"/fhir/R4/Patient/{patient.public_id}", REMOTE_ADDR="10.1.2.3")

    event = AuditEvent.objects.get(action=Action.READ, patient=patient)
    assert (event.username, event.channel, event.outcome) == ("alice", "api", Outcome.SUCCESS)
    assert event.source_ip == "10.1.2.3"


def test_an_outsider_gets_the_same_404_as_for_a_missing_patient_and_nothing_changes(cast, api_as):
    north = make_patient(cast.north, family="Northerner", given="Nell")
    carol = api_as("carol")
    before = data_fingerprint()

    outsider = carol.get(f"/fhir/R4/Patient/{north.public_id}")
    missing = carol.get(f"/fhir/R4/Patient/{MISSING}")

    assert outsider.status_code == missing.status_code == 404
    assert outsider.content == missing.content
    assert outsider.json()["resourceType"] == "OperationOutcome"
    assert outsider.json()["issue"][0]["code"] == "not-found"
    assert data_fingerprint() == before
    assert not AuditEvent.objects.filter(patient=north, outcome=Outcome.SUCCESS).exists()
    denied = AuditEvent.objects.get(entity_id=str(north.public_id))
    assert (denied.username, denied.outcome) == ("carol", Outcome.DENIED)


@pytest.mark.parametrize("bad_id", ["abc", "123", "not-a-uuid-at-all", "%00", "x" * 300])
def test_a_malformed_id_is_the_same_404(cast, api_as, bad_id):
    client = api_as("alice")
    missing = client.get(f"/fhir/R4/Patient/{MISSING}")

    response = client.get(f"/fhir/R4/Patient/{bad_id}")

    assert response.status_code == 404
    assert response.content == missing.content


def test_other_methods_on_a_patient_are_405_and_change_nothing(cast, api_as):
    patient = make_patient(cast.north)
    client = api_as("alice")
    before = data_fingerprint()

    for method in (client.post, client.put, client.patch, client.delete):
        response = method(f"/fhir/R4/Patient/{patient.public_id}", {"family": "Changed"})
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response.json()["issue"][0]["code"] == "not-supported"
    assert data_fingerprint() == before


def test_an_auditor_cannot_read_charts(cast, api_as):
    patient = make_patient(cast.north)
    assert api_as("erin").get(f"/fhir/R4/Patient/{patient.public_id}").status_code == 404
