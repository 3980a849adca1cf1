"""Vital signs over FHIR: US Core vital-sign Observations created (alone, or in a batch or
transaction Bundle) through the same record_vitals() as the rooming form, read and searched
back, and the critical-value alerts they raise served as Task. Invalid FHIR is refused with an
OperationOutcome naming the element, and nothing is stored."""

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.task import Task

from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.core import clock
from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.tests.records import make_critical_bp
from medassist.patients.tests.factories import make_encounter, make_patient
from medassist.rooming.tests.factories import roomed_visit
from medassist.vitals.models import VitalAlert, VitalSet, VitalSign

pytestmark = pytest.mark.django_db

INFERNO = Path("/work/shared/reference/fhir/us-core-inferno")
FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
# The LOINC codes of the components a vital sign keeps (blood pressure, inhaled oxygen).
COMPONENT_CODES = {"8480-6", "8462-4", "96608-5", "96609-3", "3151-8", "3150-0"}


def _bundle(name: str) -> dict[str, Any]:
    return json.loads((INFERNO / name).read_text())


def _is_vital_sign(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") == "Observation" and any(
        c.get("code") == "vital-signs"
        for category in resource.get("category", [])
        for c in category.get("coding", [])
    )


def _vital_signs(name: str) -> list[tuple[str, int]]:
    return [
        (name, i)
        for i, e in enumerate(_bundle(name)["entry"])
        if _is_vital_sign(e.get("resource", {}))
    ]


INFERNO_VITALS = _vital_signs("uscore_bundle_patient_client_test.json") + _vital_signs(
    "uscore_bundle_patient_85.json"
)


def post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type=FHIR_JSON)


def issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def codes_of(concept: dict[str, Any]) -> set[str]:
    return {c["code"] for c in concept.get("coding", []) if c.get("system") == LOINC}


def observation(patient: Any, code: str, value: Any, unit: str, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "effectiveDateTime": clock.now().isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }
    resource.update(extra)
    return resource


def blood_pressure(patient: Any, systolic: int, diastolic: int, **extra: Any) -> dict[str, Any]:
    resource = observation(patient, "85354-9", 0, "mm[Hg]", **extra)
    del resource["valueQuantity"]
    resource["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {
                "value": value,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }
        for code, value in (("8480-6", systolic), ("8462-4", diastolic))
    ]
    return resource


def nothing_stored() -> bool:
    return not (
        VitalSet.objects.exists() or VitalSign.objects.exists() or VitalAlert.objects.exists()
    )


# Create: every US Core vital sign of Inferno's test data -------------------------------------


@pytest.mark.parametrize(("name", "index"), INFERNO_VITALS, ids=lambda v: str(v))
def test_each_inferno_vital_sign_is_recorded_and_reads_back_the_same(cast, api_as, name, index):
    bundle = _bundle(name)
    person = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    patient = make_patient(
        cast.north,
        family="Inferno",
        birth_date=dt.date.fromisoformat(person["birthDate"]),
        sex=person["gender"],
    )
    sent = copy.deepcopy(bundle["entry"][index]["resource"])
    sent["subject"] = {"reference": f"Patient/{patient.public_id}"}
    alice = api_as("alice")

    response = post(alice, "/fhir/R4/Observation", sent)

    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"http://testserver/fhir/R4/Observation/{created['id']}"
    read = alice.get(f"/fhir/R4/Observation/{created['id']}")
    assert read.status_code == 200
    back = read.json()
    Observation.model_validate(back)
    assert back == created
    assert back["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert codes_of(sent["code"]) <= codes_of(back["code"])
    assert ("valueQuantity" in sent) == ("valueQuantity" in back)
    if "valueQuantity" in sent:
        assert back["valueQuantity"]["value"] == sent["valueQuantity"]["value"]
        assert back["valueQuantity"]["code"] == sent["valueQuantity"]["code"]
    assert ("dataAbsentReason" in sent) == ("dataAbsentReason" in back)
    for part in sent.get("component", []):
        wanted = codes_of(part["code"]) & COMPONENT_CODES
        if not wanted or "valueQuantity" not in part:
            continue
        kept = next(c for c in back["component"] if wanted <= codes_of(c["code"]))
        assert kept["valueQuantity"]["value"] == part["valueQuantity"]["value"]
        assert kept["valueQuantity"]["code"] == part["valueQuantity"]["code"]
    assert VitalSign.objects.get(public_id=created["id"]).vital_set.channel == "fhir"


def test_a_weight_in_pounds_is_kept_in_pounds_with_its_interpretation(cast, api_as):
    patient = make_patient(cast.north)
    response = post(
        api_as("alice"),
        "/fhir/R4/Observation",
        observation(patient, "29463-7", 154.5, "[lb_av]"),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["valueQuantity"] == {
        "value": 154.5,
        "unit": "lb",
        "system": "http://unitsofmeasure.org",
        "code": "[lb_av]",
    }
    assert body["meta"]["profile"] == [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-weight"
    ]
    assert body["performer"][0]["reference"] == f"Practitioner/{practitioner_id(cast.alice.pk)}"


def test_a_reading_with_an_interpretation_carries_its_flag_and_range(cast, api_as):
    visit = roomed_visit(cast)
    sent = blood_pressure(
        visit.patient, 150, 95, encounter={"reference": f"Encounter/{visit.public_id}"}
    )
    body = post(api_as("alice"), "/fhir/R4/Observation", sent).json()
    Observation.model_validate(body)
    assert body["encounter"] == {"reference": f"Encounter/{visit.public_id}"}
    assert "valueQuantity" not in body
    assert [codes_of(c["code"]) for c in body["component"]] == [{"8480-6"}, {"8462-4"}]
    coding = body["interpretation"][0]["coding"][0]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    assert coding["code"] in ("H", "HH")
    assert body["interpretation"][0]["text"]


def test_a_date_without_a_time_is_midnight_clinic_time(cast, api_as):
    patient = make_patient(cast.north)
    sent = observation(patient, "8867-4", 72, "/min", effectiveDateTime="2024-05-06")
    created = post(api_as("alice"), "/fhir/R4/Observation", sent).json()
    sign = VitalSign.objects.get(public_id=created["id"])
    assert clock.localtime(sign.effective).isoformat().startswith("2024-05-06T00:00:00")


# Refused: invalid FHIR, what this server does not record, impossible values -----------------


def test_the_invalid_inferno_bundles_are_refused_naming_the_element(cast, api_as):
    alice = api_as("alice")

    bp = issue(post(alice, "/fhir/R4/", _bundle("uscore_bundle_patient_355.json")), 422)
    media = issue(post(alice, "/fhir/R4/", _bundle("us_quality_core_bundle_patient.json")), 422)

    assert "Bundle.entry[266].resource.effectivePeriod.stop" in bp["expression"]
    assert (
        "Bundle.entry[266].resource.effectivePeriod.stop: extra field not permitted"
        in (bp["diagnostics"])
    )
    assert "Bundle.entry[1].resource.content.link" in media["expression"]
    assert nothing_stored()


def test_entry_266_alone_is_refused_naming_effective_period_stop(cast, api_as):
    patient = make_patient(cast.north)
    sent = copy.deepcopy(_bundle("uscore_bundle_patient_355.json")["entry"][266]["resource"])
    sent["subject"] = {"reference": f"Patient/{patient.public_id}"}

    found = issue(post(api_as("alice"), "/fhir/R4/Observation", sent), 422)

    assert found["expression"] == ["Observation.effectivePeriod.stop"]
    assert found["diagnostics"] == "Observation.effectivePeriod.stop: extra field not permitted"
    assert nothing_stored()


def test_an_impossible_temperature_is_refused_naming_the_element_and_the_slip(cast, api_as):
    patient = make_patient(cast.north)
    sent = observation(patient, "8310-5", 986, "[degF]")

    found = issue(post(api_as("alice"), "/fhir/R4/Observation", sent), 422)

    assert found["expression"] == ["Observation.valueQuantity.value"]
    assert "98.6" in found["diagnostics"]  # the likely slip, named
    assert nothing_stored()


def test_an_impossible_systolic_names_its_component(cast, api_as):
    patient = make_patient(cast.north)
    found = issue(
        post(api_as("alice"), "/fhir/R4/Observation", blood_pressure(patient, 1200, 80)), 422
    )
    assert found["expression"] == ["Observation.component[0].valueQuantity.value"]
    assert "systolic" in found["diagnostics"]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"valueQuantity": {"value": 70, "system": "http://unitsofmeasure.org", "code": "st"}},
         "Observation.valueQuantity.code"),
        ({"code": {"coding": [{"system": LOINC, "code": "2345-7"}]}}, "Observation.code"),
        ({"status": "preliminary"}, "Observation.status"),
        ({"effectiveDateTime": None}, "Observation.effective[x]"),
        ({"subject": {"reference": "Patient/00000000-0000-4000-8000-000000000000"}},
         "Observation.subject"),
        ({"encounter": {"reference": "Encounter/00000000-0000-4000-8000-000000000000"}},
         "Observation.encounter"),
        ({"valueString": "heavy", "valueQuantity": None}, "Observation.valueString"),
        ({"valueQuantity": {"value": 70.5, "code": "kg", "unit": "kg"}, "code": {
            "coding": [{"system": LOINC, "code": "8867-4"}]}}, "Observation.valueQuantity.code"),
        ({"effectiveDateTime": "2999-01-01T10:00:00Z"}, "Observation.effectiveDateTime"),
    ],
)  # fmt: skip
def test_what_is_not_recorded_is_refused_naming_the_element(cast, api_as, change, element):
    patient = make_patient(cast.north)
    sent = observation(patient, "29463-7", 70, "kg")
    sent.update(change)
    sent = {k: v for k, v in sent.items() if v is not None}

    found = issue(post(api_as("alice"), "/fhir/R4/Observation", sent), 422)

    assert element in found["expression"], found
    assert nothing_stored()


def test_a_body_that_is_not_json_is_400_and_a_form_is_415(cast, api_as):
    alice = api_as("alice")
    assert issue(alice.post("/fhir/R4/Observation", "{nope", content_type=FHIR_JSON), 400)
    assert issue(alice.post("/fhir/R4/Observation", {"a": "b"}), 415)
    assert issue(post(alice, "/fhir/R4/Observation", [1, 2]), 422)
    assert nothing_stored()


def test_a_role_that_may_not_record_vitals_is_403(cast, api_as):
    patient = make_patient(cast.north)
    found = issue(
        post(api_as("erin"), "/fhir/R4/Observation", observation(patient, "8867-4", 72, "/min")),
        403,
    )
    assert found["code"] == "forbidden"
    assert AuditEvent.objects.filter(outcome=Outcome.DENIED, entity_type="Observation").exists()
    assert nothing_stored()


# Critical values: the alert as a Task ---------------------------------------------------------


def test_a_critical_blood_pressure_at_a_visit_raises_a_task_for_its_provider(cast, api_as):
    visit = roomed_visit(cast)
    alice, bob = api_as("alice"), api_as("bob")
    sent = blood_pressure(
        visit.patient, 190, 125, encounter={"reference": f"Encounter/{visit.public_id}"}
    )

    created = post(alice, "/fhir/R4/Observation", sent)

    assert created.status_code == 201, created.content
    sign_id = created.json()["id"]
    alert = VitalAlert.objects.get()
    task = bob.get(f"/fhir/R4/Task/{alert.public_id}")
    assert task.status_code == 200, task.content
    body = task.json()
    Task.model_validate(body)
    assert body["status"] == "requested"
    assert body["intent"] == "order"
    assert body["priority"] == "stat"
    assert body["focus"] == {"reference": f"Observation/{sign_id}"}
    assert body["for"]["reference"] == f"Patient/{visit.patient.public_id}"
    assert body["encounter"] == {"reference": f"Encounter/{visit.public_id}"}
    assert body["owner"]["reference"] == f"Practitioner/{practitioner_id(cast.bob.pk)}"
    assert body["code"]["text"] == "Acknowledge critical vital sign"
    found = bob.get(
        "/fhir/R4/Task", {"patient": str(visit.patient.public_id), "status": "requested"}
    ).json()
    Bundle.model_validate(found)
    assert [e["resource"]["id"] for e in found["entry"]] == [str(alert.public_id)]
    assert bob.get("/fhir/R4/Task", {"status": "completed"}).json()["total"] == 0
    owner = f"Practitioner/{practitioner_id(cast.bob.pk)}"
    assert bob.get("/fhir/R4/Task", {"owner": owner}).json()["total"] == 1
    assert bob.get("/fhir/R4/Task", {"focus": f"Observation/{sign_id}"}).json()["total"] == 1
    assert (
        AuditEvent.objects.filter(action=Action.READ, entity_type="Task").get().patient_id
        == visit.patient.pk
    )


def test_an_escalated_acknowledged_task_says_so(cast, api_as):
    visit = roomed_visit(cast)
    alert = make_critical_bp(visit, cast.alice)
    now = clock.now()
    VitalAlert.objects.filter(pk=alert.pk).update(
        escalated_at=now,
        status=VitalAlert.Status.COMPLETED,
        acknowledged_at=now,
        acknowledged_by=cast.dana,
    )
    body = api_as("bob").get(f"/fhir/R4/Task/{alert.public_id}").json()
    Task.model_validate(body)
    assert body["status"] == "completed"
    assert body["businessStatus"] == {"text": "escalated"}
    assert body["executionPeriod"]["end"] == now.isoformat()


# Outsiders -------------------------------------------------------------------------------------


def test_an_outsider_cannot_read_search_or_create(cast, api_as):
    patient = make_patient(cast.north)
    visit = make_encounter(patient, cast.bob)
    alert = make_critical_bp(visit, cast.alice)
    carol = api_as("carol")

    assert issue(carol.get(f"/fhir/R4/Observation/{alert.sign.public_id}"), 404)
    assert issue(carol.get(f"/fhir/R4/Task/{alert.public_id}"), 404)
    assert carol.get("/fhir/R4/Observation", {"category": "vital-signs"}).json()["total"] == 0
    assert carol.get("/fhir/R4/Task").json()["total"] == 0
    before = VitalSign.objects.count()
    refused = issue(
        post(carol, "/fhir/R4/Observation", observation(patient, "8867-4", 72, "/min")), 422
    )
    missing = issue(
        post(
            carol,
            "/fhir/R4/Observation",
            observation(make_patient(cast.north), "8867-4", 72, "/min")
            | {"subject": {"reference": "Patient/00000000-0000-4000-8000-000000000000"}},
        ),
        422,
    )
    assert refused["expression"] == ["Observation.subject"]
    assert (
        refused["diagnostics"].split(" Patient/")[0] == missing["diagnostics"].split(" Patient/")[0]
    )
    assert VitalSign.objects.count() == before
    in_bundle = post(
        carol,
        "/fhir/R4/",
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": observation(patient, "8867-4", 72, "/min"),
                    "request": {"method": "POST", "url": "Observation"},
                }
            ],
        },
    )
    assert issue(in_bundle, 422)["expression"] == ["Bundle.entry[0].resource.subject"]
    assert VitalSign.objects.count() == before


# Search ----------------------------------------------------------------------------------------


def test_search_by_patient_category_code_and_date(cast, api_as):
    patient = make_patient(cast.north)
    alice = api_as("alice")
    for code, value, unit, day in (
        ("8867-4", 72, "/min", "2026-11-20T10:00:00-06:00"),
        ("8867-4", 80, "/min", "2026-11-21T10:00:00-06:00"),
        ("9279-1", 16, "/min", "2026-11-20T09:00:00-06:00"),
    ):
        sent = observation(patient, code, value, unit, effectiveDateTime=day)
        assert post(alice, "/fhir/R4/Observation", sent).status_code == 201
    other = make_patient(cast.north, family="Other")
    post(alice, "/fhir/R4/Observation", observation(other, "8867-4", 60, "/min"))

    def values(**params: str) -> list[Any]:
        response = alice.get(
            "/fhir/R4/Observation",
            {"patient": str(patient.public_id), "category": "vital-signs"} | params,
        )
        assert response.status_code == 200, response.content
        Bundle.model_validate(response.json())
        return [e["resource"]["valueQuantity"]["value"] for e in response.json().get("entry", [])]

    assert values() == [80, 72, 16]  # latest first
    assert values(code="http://loinc.org|8867-4") == [80, 72]
    assert values(code="8867-4,9279-1", date="2026-11-20") == [72, 16]
    assert values(code="8867-4", date="ge2026-11-21") == [80]
    assert values(category="survey") == []
    assert values(_count="1") == [80]


def test_observation_search_takes_the_same_queries_for_one_or_many(cast, api_as):
    patient = make_patient(cast.north)
    visit = make_encounter(patient, cast.bob)
    alice = api_as("alice")
    make_critical_bp(visit, cast.alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = alice.get("/fhir/R4/Observation", {"patient": str(patient.public_id)})
        assert response.status_code == 200
        return len(captured)

    one = queries()
    for _ in range(5):
        make_critical_bp(visit, cast.bob)
    assert queries() == one
    with CaptureQueriesContext(connection) as captured:
        alice.get("/fhir/R4/Task", {"patient": str(patient.public_id)})
    many = len(captured)
    VitalAlert.objects.filter(pk__in=VitalAlert.objects.values("pk")[:5]).delete()
    with CaptureQueriesContext(connection) as captured:
        alice.get("/fhir/R4/Task", {"patient": str(patient.public_id)})
    assert len(captured) == many


# Bundles ---------------------------------------------------------------------------------------


def _entries(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources]


def test_a_transaction_is_all_or_nothing(cast, api_as):
    patient = make_patient(cast.north)
    alice = api_as("alice")
    good = observation(patient, "8867-4", 72, "/min")
    bad = observation(patient, "8310-5", 986, "[degF]")

    refused = post(
        alice,
        "/fhir/R4/",
        {"resourceType": "Bundle", "type": "transaction", "entry": _entries(good, bad)},
    )
    assert issue(refused, 422)["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert nothing_stored()

    done = post(
        alice,
        "/fhir/R4/",
        {"resourceType": "Bundle", "type": "transaction", "entry": _entries(good, good)},
    )
    assert done.status_code == 200, done.content
    body = done.json()
    Bundle.model_validate(body)
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 2
    assert VitalSign.objects.count() == 2


def test_a_batch_answers_each_entry(cast, api_as):
    patient = make_patient(cast.north)
    good = observation(patient, "8867-4", 72, "/min")
    bad = observation(patient, "8310-5", 986, "[degF]")

    response = post(
        api_as("alice"),
        "/fhir/R4/",
        {"resourceType": "Bundle", "type": "batch", "entry": _entries(good, bad)},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    Bundle.model_validate(body)
    first, second = body["entry"]
    assert first["response"]["status"] == "201 Created"
    assert second["response"]["status"] == "422"
    assert second["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.valueQuantity.value"
    ]
    assert VitalSign.objects.count() == 1


@pytest.mark.parametrize(
    ("bundle", "element"),
    [
        ({"type": "collection", "entry": []}, "Bundle.type"),
        (
            {
                "type": "transaction",
                "entry": [
                    {
                        "resource": {"resourceType": "Patient"},
                        "request": {"method": "PUT", "url": "Patient/1"},
                    }
                ],
            },
            "Bundle.entry[0].request",
        ),
        (
            {"type": "batch", "entry": [{"resource": {"resourceType": "Nope"}}]},
            "Bundle.entry[0].resource.resourceType",
        ),
    ],
)
def test_an_unsupported_bundle_is_refused_naming_the_entry(cast, api_as, bundle, element):
    found = issue(post(api_as("alice"), "/fhir/R4/", {"resourceType": "Bundle", **bundle}), 422)
    assert element in found["expression"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "2020-02-30", "9999-12-31T23:59:59-14:00"]
)
def test_a_time_out_of_reach_is_refused_not_a_server_error(cast, api_as, when):
    patient = make_patient(cast.north)
    sent = observation(patient, "8867-4", 72, "/min", effectiveDateTime=when)
    found = issue(post(api_as("alice"), "/fhir/R4/Observation", sent), 422)
    assert found["expression"] == ["Observation.effectiveDateTime"]
    assert nothing_stored()


def test_the_same_observation_sent_again_is_answered_not_stored_twice(cast, api_as):
    visit = roomed_visit(cast)
    alice = api_as("alice")
    sent = blood_pressure(
        visit.patient,
        192,
        126,
        identifier=[{"system": "urn:oid:1.2.3.4", "value": "bp-0001"}],
        encounter={"reference": f"Encounter/{visit.public_id}"},
    )
    first = post(alice, "/fhir/R4/Observation", sent)
    again = post(alice, "/fhir/R4/Observation", sent)
    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert VitalSign.objects.count() == 1 and VitalAlert.objects.count() == 1
    # Without an identifier the server cannot tell a resend from a second reading.
    del sent["identifier"]
    assert post(alice, "/fhir/R4/Observation", sent).status_code == 201
    assert VitalSign.objects.count() == 2


def test_an_observation_from_years_ago_is_stored_flagged_without_a_task(cast, api_as):
    visit = roomed_visit(cast)
    sent = blood_pressure(visit.patient, 210, 125, effectiveDateTime="2019-03-01T10:00:00Z")
    created = post(api_as("alice"), "/fhir/R4/Observation", sent)
    assert created.status_code == 201, created.content
    assert created.json()["interpretation"][0]["coding"][0]["code"] == "HH"
    assert not VitalAlert.objects.exists()


def test_a_value_entered_in_error_cancels_its_task(cast, api_as):
    from medassist.access.actor import Actor
    from medassist.vitals.services import retract_sign

    visit = roomed_visit(cast)
    alice, bob = api_as("alice"), api_as("bob")
    created = post(alice, "/fhir/R4/Observation", blood_pressure(visit.patient, 194, 126))
    assert created.status_code == 201, created.content
    alert = VitalAlert.objects.get()
    retract_sign(
        actor=Actor.for_user(cast.alice), sign=alert.sign, reason="cuff on the wrong patient"
    )
    body = bob.get(f"/fhir/R4/Task/{alert.public_id}").json()
    Task.model_validate(body)
    assert body["status"] == "cancelled"
    assert body["statusReason"]["text"] == "Cancelled: cuff on the wrong patient"
    assert not any(n["text"].startswith("Acknowledgment note") for n in body["note"])
    found = bob.get(f"/fhir/R4/Task?patient={visit.patient.public_id}&status=cancelled").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [str(alert.public_id)]
    observation = bob.get(f"/fhir/R4/Observation/{created.json()['id']}").json()
    assert observation["status"] == "entered-in-error"
