"""Immunization over FHIR: the US Core mapper (given, historical, refused, entered in error),
read and search scoped to the clinics where the user may see immunizations, and the ImmDS
$immds-forecast operation, checked against CDC's own CDSi test cases."""

import csv
import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization as FhirImmunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.fhir.immds import GROUP_CVX
from medassist.fhir.mappers import immunization as mapper
from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.selectors import visible_immunizations
from medassist.fhir.tests.immunization_records import (
    ENGERIX_NDC10,
    GIVEN_AT,
    VIS_ENCODED,
    given_dose,
    historical_dose,
    refused_dose,
)
from medassist.immunizations import forecasting
from medassist.immunizations.cdsi import testcases as tc
from medassist.immunizations.models import Immunization
from medassist.patients.models import Patient
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"
CVX = "http://hl7.org/fhir/sid/cvx"
CODES = Path(settings.REFERENCE_DIR) / "cdsi" / "codes"
HEALTHY = Path(settings.REFERENCE_DIR) / "cdsi" / "testcases" / "healthy-v4.45.json"
FORECAST_URL = "/fhir/R4/Immunization/$immds-forecast"
JSON = "application/fhir+json"


def loaded(dose: Immunization, cast: Any) -> Immunization:
    """The dose as the API reads it (scoped, with what the mapper needs)."""
    return visible_immunizations(Actor.for_user(cast.alice)).get(pk=dose.pk)


def codings(concept: dict[str, Any]) -> dict[str, str]:
    return {c["system"]: c["code"] for c in concept.get("coding", [])}


@pytest.fixture
def patient(cast):  # type: ignore[no-untyped-def]
    return make_patient(cast.north, family="Adeyemi", given="Tobi", birth_date=dt.date(2026, 5, 1))


# The mapper ----------------------------------------------------------------------------------


def test_a_dose_given_here_is_a_us_core_immunization_with_everything_the_registry_needs(
    cast, patient
):
    dose = loaded(given_dose(patient, cast), cast)

    resource = mapper.to_fhir(dose)

    FhirImmunization.model_validate(resource)
    assert resource["meta"]["profile"] == [mapper.US_CORE_IMMUNIZATION]
    assert resource["status"] == "completed"
    assert resource["primarySource"] is True
    assert "reportOrigin" not in resource
    assert codings(resource["vaccineCode"]) == {CVX: "08", mapper.NDC: ENGERIX_NDC10}
    assert resource["patient"]["reference"] == f"Patient/{patient.public_id}"
    assert dose.encounter is not None
    assert resource["encounter"] == {"reference": f"Encounter/{dose.encounter.public_id}"}
    assert resource["occurrenceDateTime"] == GIVEN_AT.isoformat()
    assert resource["location"] == {"display": cast.north.name}
    assert resource["lotNumber"] == "7K2B4"
    assert resource["expirationDate"] == "2027-06-30"
    assert codings(resource["site"]) == {mapper.V2_0163: "LT"}
    assert codings(resource["route"]) == {mapper.V2_0162: "IM", mapper.NCIT: "C28161"}
    assert resource["doseQuantity"] == {
        "value": 0.5,
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }
    performers = {
        p["function"]["coding"][0]["code"]: p["actor"]["reference"] for p in resource["performer"]
    }
    assert performers == {
        "AP": f"Practitioner/{practitioner_id(cast.alice.pk)}",
        "OP": f"Practitioner/{practitioner_id(cast.bob.pk)}",
    }
    assert codings(resource["fundingSource"]) == {mapper.CDCPHINVS: "VXC50"}
    assert [codings(c) for c in resource["programEligibility"]] == [{mapper.V2_0064: "V02"}]
    assert resource["education"] == [
        {
            "documentType": VIS_ENCODED,
            "publicationDate": "2023-05-12",
            "presentationDate": "2026-11-20",
        }
    ]
    assert resource["manufacturer"]["identifier"] == {"system": mapper.MVX, "value": "SKB"}
    assert "GlaxoSmithKline" in resource["manufacturer"]["display"]


def test_a_dose_from_a_parents_record_is_not_a_primary_source_and_says_where_it_came_from(
    cast, patient
):
    dose = loaded(historical_dose(patient), cast)

    resource = mapper.to_fhir(dose)

    FhirImmunization.model_validate(resource)
    assert resource["primarySource"] is False
    assert codings(resource["reportOrigin"]) == {
        mapper.NIP001: "03",
        mapper.IMMUNIZATION_ORIGIN: "record",
    }
    assert resource["occurrenceDateTime"] == "2026-01-10"
    assert "performer" not in resource and "location" not in resource
    assert resource["note"] == [{"text": "Reported from: yellow card from the Lagos clinic"}]


@pytest.mark.parametrize(
    ("source", "nip001"),
    [
        (Immunization.Source.HISTORICAL, "01"),
        (Immunization.Source.OTHER_PROVIDER, "02"),
        (Immunization.Source.PARENT_RECALL, "04"),
        (Immunization.Source.REGISTRY, "05"),  # CDC NIP001: 05 other registry
        (Immunization.Source.SCHOOL, "07"),  # 07 school record (08 is a public agency)
    ],
)
def test_each_historical_source_is_coded_as_cdc_nip001_means_it(cast, patient, source, nip001):
    resource = mapper.to_fhir(loaded(historical_dose(patient, source=source), cast))

    assert codings(resource["reportOrigin"])[mapper.NIP001] == nip001
    FhirImmunization.model_validate(resource)


def test_a_refused_dose_is_not_done_for_patient_objection(cast, patient):
    resource = mapper.to_fhir(loaded(refused_dose(patient), cast))

    FhirImmunization.model_validate(resource)
    assert resource["status"] == "not-done"
    assert codings(resource["statusReason"]) == {mapper.V3_ACT_REASON: "PATOBJ"}
    assert resource["statusReason"]["text"] == "Parent declined: wants to wait until spring"
    assert codings(resource["vaccineCode"]) == {CVX: "141"}


def test_a_dose_entered_in_error_says_so_and_why(cast, patient):
    dose = given_dose(
        patient,
        cast,
        status=Immunization.Status.ENTERED_IN_ERROR,
        retracted_reason="Recorded in the wrong chart",
    )

    resource = mapper.to_fhir(loaded(dose, cast))

    FhirImmunization.model_validate(resource)
    assert resource["status"] == "entered-in-error"
    assert "statusReason" not in resource
    assert {"text": "Entered in error: Recorded in the wrong chart"} in resource["note"]


# Read and search -----------------------------------------------------------------------------


def test_alice_reads_a_dose_and_the_read_is_recorded(cast, patient, api_as):
    dose = given_dose(patient, cast)

    response = api_as("alice").get(f"/fhir/R4/Immunization/{dose.public_id}")

    assert response.status_code == 200, response.content
    assert response.json() == mapper.to_fhir(loaded(dose, cast))
    event = AuditEvent.objects.get(action=Action.READ, entity_type="Immunization")
    assert (event.username, event.patient_id, event.outcome) == (
        "alice",
        patient.pk,
        Outcome.SUCCESS,
    )
    assert event.entity_id == str(dose.public_id)


def test_an_outsider_gets_the_404_of_a_missing_dose_and_nothing_changes(cast, patient, api_as):
    dose = given_dose(patient, cast)
    before = mapper.to_fhir(loaded(dose, cast))
    carol = api_as("carol")

    outsider = carol.get(f"/fhir/R4/Immunization/{dose.public_id}")
    missing = carol.get(f"/fhir/R4/Immunization/{MISSING}")
    malformed = carol.get("/fhir/R4/Immunization/not-an-id")
    put = carol.put(f"/fhir/R4/Immunization/{dose.public_id}", "{}", content_type=JSON)

    assert outsider.status_code == missing.status_code == malformed.status_code == 404
    assert outsider.content == missing.content == malformed.content
    assert put.status_code == 405 and put["Allow"] == "GET"
    assert mapper.to_fhir(loaded(dose, cast)) == before
    denied = AuditEvent.objects.get(
        entity_type="Immunization", username="carol", entity_id=str(dose.public_id)
    )
    assert denied.outcome == Outcome.DENIED
    search = carol.get("/fhir/R4/Immunization", {"patient": str(patient.public_id)})
    assert search.json()["total"] == 0


def test_a_role_that_may_not_see_immunizations_gets_403_on_search_and_404_on_read(
    cast, patient, api_as
):
    dose = given_dose(patient, cast)
    erin = api_as("erin")  # compliance auditor at North: reads the trail, not charts

    search = erin.get("/fhir/R4/Immunization")
    read = erin.get(f"/fhir/R4/Immunization/{dose.public_id}")

    assert search.status_code == 403
    assert search.json()["issue"][0]["code"] == "forbidden"
    assert read.status_code == 404
    assert AuditEvent.objects.filter(
        entity_type="Immunization.search", username="erin", outcome=Outcome.DENIED
    ).exists()


def search_ids(client: Client, **params: str) -> list[str]:
    response = client.get("/fhir/R4/Immunization", params)
    assert response.status_code == 200, response.content
    Bundle.model_validate(response.json())
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def test_search_by_patient_date_and_status(cast, patient, api_as):
    other = make_patient(cast.north, family="Other", given="Person")
    given = given_dose(patient, cast)  # 2026-11-20 at 15:05 UTC
    historical = historical_dose(patient)  # 2026-01-10, by the day
    refused = refused_dose(patient)  # 2026-10-02
    given_dose(other, cast)
    alice = api_as("alice")
    mine = {"patient": f"Patient/{patient.public_id}"}

    assert search_ids(alice, **mine) == [str(given.public_id), str(refused.public_id)] + [
        str(historical.public_id)
    ]
    assert search_ids(alice, **mine, status="completed") == [
        str(given.public_id),
        str(historical.public_id),
    ]
    assert search_ids(alice, **mine, status="http://hl7.org/fhir/event-status|not-done") == [
        str(refused.public_id)
    ]
    assert search_ids(alice, **mine, date="2026-01-10") == [str(historical.public_id)]
    assert search_ids(alice, **mine, date="ge2026-10") == [
        str(given.public_id),
        str(refused.public_id),
    ]
    # A dose given here is found by the time it was given, to the minute.
    assert search_ids(alice, **mine, date="2026-11-20T15:05Z") == [str(given.public_id)]
    assert search_ids(alice, **mine, date="2026-11-20T15:06Z") == []
    response = alice.get("/fhir/R4/Immunization", {**mine, "date": "2026-13-01"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["date"]
    searches = AuditEvent.objects.filter(entity_type="Immunization.search", username="alice")
    assert searches.count() == 7  # each search recorded; the refused one is not a search
    # a page of one patient's doses names the patient (accounting of disclosures)
    assert searches.filter(patient=patient).count() == 6  # the empty page names no one


def test_search_by_form_post_is_the_same_search(cast, patient, api_as):
    dose = given_dose(patient, cast)

    response = api_as("alice").post(
        "/fhir/R4/Immunization/_search",
        f"patient={patient.public_id}",
        content_type="application/x-www-form-urlencoded",
    )

    assert [e["resource"]["id"] for e in response.json()["entry"]] == [str(dose.public_id)]


def test_queries_do_not_grow_with_the_page(cast, api_as):
    for i in range(12):
        child = make_patient(cast.north, family=f"Child{i}", given="Kid")
        given_dose(child, cast, ordering_provider=cast.bob if i % 2 else None)
        historical_dose(child)
    alice = api_as("alice")

    def queries_for(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = alice.get("/fhir/R4/Immunization", {"_count": count})
            assert response.status_code == 200
        assert len(response.json()["entry"]) == count
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(20)


def test_metadata_lists_immunization_and_the_forecast_operation():
    body = Client().get("/fhir/R4/metadata").json()

    CapabilityStatement.model_validate(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    immunization = resources["Immunization"]
    assert immunization["supportedProfile"] == [mapper.US_CORE_IMMUNIZATION]
    assert {i["code"] for i in immunization["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in immunization["searchParam"]} == {"_id", "patient", "date", "status"}
    assert body["rest"][0]["operation"][0]["definition"] == (
        "http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation"
    )


# $immds-forecast -----------------------------------------------------------------------------


@functools.cache
def cdc_cases() -> dict[str, tc.CdsiCase]:
    return {case.id: case for case in tc.load_case_file(HEALTHY).cases}


def case_parameters(case: tc.CdsiCase) -> dict[str, Any]:
    """A CDC test case as an ImmDS request: the patient, each dose as a completed Immunization
    (id dose-<n>), the assessment date."""
    patient_id = f"cdc-{case.id}"

    def immunization(dose: tc.ExpectedDose) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Immunization",
            "id": f"dose-{dose.dose_number}",
            "status": "completed",
            "vaccineCode": {
                "coding": [{"system": CVX, "code": dose.cvx, "display": dose.vaccine_name}]
            },
            "patient": {"reference": f"Patient/{patient_id}"},
            "occurrenceDateTime": dose.date_administered.isoformat(),
            "primarySource": False,
        }
        if dose.mvx:
            resource["manufacturer"] = {"identifier": {"system": mapper.MVX, "value": dose.mvx}}
        return resource

    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "assessmentDate", "valueDate": case.assessment_date.isoformat()},
            {
                "name": "patient",
                "resource": {
                    "resourceType": "Patient",
                    "id": patient_id,
                    "gender": {"F": "female", "M": "male"}[case.gender],
                    "birthDate": case.dob.isoformat(),
                },
            },
            *({"name": "immunization", "resource": immunization(d)} for d in case.doses),
        ],
    }


def post(client: Client, body: Any, url: str = FORECAST_URL) -> Any:
    return client.post(url, json.dumps(body), content_type=JSON)


def answer(response: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    assert response.status_code == 200, response.content
    Parameters.model_validate(response.json())
    parts = response.json()["parameter"]
    evaluations = [p["resource"] for p in parts if p["name"] == "evaluation"]
    (recommendation,) = [p["resource"] for p in parts if p["name"] == "recommendation"]
    return evaluations, recommendation


def group_entry(recommendation: dict[str, Any], group: str) -> dict[str, Any]:
    (entry,) = [
        r
        for r in recommendation["recommendation"]
        if r["vaccineCode"][0]["coding"][0]["code"] == GROUP_CVX[group]
    ]
    return entry


FORECAST_STATUS = "http://hl7.org/fhir/us/immds/CodeSystem/ForecastStatus"
STATUS_REASON = "http://hl7.org/fhir/us/immds/CodeSystem/StatusReason"
DOSE_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
# The IG's ForecastStatus codes for CDSi's series statuses.
IMMDS_STATUS = {"Not Complete": "notComplete", "Complete": "complete", "Immune": "immune"}
CRITERIA = {"30981-5": "earliest", "30980-7": "recommended", "59778-1": "past_due"}


@pytest.mark.parametrize(
    "case_id",
    [
        "2013-0201",  # HepB: two valid doses, dose 3 due with earliest/recommended/past due
        "2013-0186",  # HepA: two valid doses six months apart, series complete
        "2013-0037",  # DTaP: dose 2 not valid (interval too soon), dose 3 due
    ],
)
def test_the_forecast_of_a_cdc_test_case_is_what_cdc_expects(cast, api_as, case_id):
    case = cdc_cases()[case_id]
    group = tc.supporting_data_group(case.vaccine_group)
    antigens = forecasting.supporting_data().vaccine_groups[group]
    stored = (Patient.objects.count(), Immunization.objects.count())

    evaluations, recommendation = answer(post(api_as("alice"), case_parameters(case)))

    expected = case.expected
    entry = group_entry(recommendation, group)
    assert recommendation["patient"] == {"reference": f"Patient/cdc-{case.id}"}
    assert recommendation["date"] == case.assessment_date.isoformat()
    assert codings(entry["forecastStatus"])[FORECAST_STATUS] == IMMDS_STATUS[expected.status]
    dates = {CRITERIA.get(c["code"]["coding"][0]["code"]): c["value"] for c in entry.get(
        "dateCriterion", []
    )}  # fmt: skip
    for field in ("earliest", "recommended", "past_due"):
        want = getattr(expected, field)
        assert dates.get(field) == (want.isoformat() if want else None), field
    assert entry.get("doseNumberPositiveInt") == expected.dose_number
    for dose in case.doses:
        mine = [
            e
            for e in evaluations
            if e["immunizationEvent"] == {"reference": f"Immunization/dose-{dose.dose_number}"}
            and e["targetDisease"]["text"] in antigens
        ]
        assert {e["targetDisease"]["text"] for e in mine} == set(antigens), dose
        dose_statuses = {codings(e["doseStatus"])[DOSE_STATUS] for e in mine}
        if dose.status == "Valid":
            assert dose_statuses == {"valid"}, dose
        else:
            assert "notvalid" in dose_statuses, dose
            wrong = [e for e in mine if e["doseStatus"]["text"] == dose.status]
            reasons = [r["text"].casefold() for e in wrong for r in e["doseStatusReason"]]
            assert dose.reason is not None and dose.reason.casefold() in reasons
    assert (Patient.objects.count(), Immunization.objects.count()) == stored  # nothing stored


def test_a_not_valid_dose_carries_the_igs_status_reason_code(api_as):
    case = cdc_cases()["2013-0037"]  # dose 2: "Interval: too Soon"

    evaluations, _ = answer(post(api_as("alice"), case_parameters(case)))

    def of(dose_id: str) -> list[dict[str, Any]]:
        return [e for e in evaluations if e["immunizationEvent"]["reference"].endswith(dose_id)]

    second = of("/dose-2")
    assert second and all(e["doseStatus"]["text"] == "Not Valid" for e in second)
    assert all(codings(e["doseStatusReason"][0])[STATUS_REASON] == "toosoon" for e in second)
    assert all("doseNumberPositiveInt" not in e for e in second)
    first = of("/dose-1")
    assert {e["doseNumberPositiveInt"] for e in first} == {1}
    assert {e["targetDisease"]["text"] for e in first} == {"Diphtheria", "Pertussis", "Tetanus"}
    diphtheria = next(e for e in first if e["targetDisease"]["text"] == "Diphtheria")
    assert codings(diphtheria["targetDisease"]) == {"http://snomed.info/sct": "397428000"}


def test_the_due_date_passed_is_overdue_in_the_fhir_status_too(api_as):
    case = cdc_cases()["2013-0201"]
    body = case_parameters(case)
    body["parameter"][0]["valueDate"] = "2027-07-01"  # after the past-due date, 2027-06-09

    _, recommendation = answer(post(api_as("alice"), body))

    entry = group_entry(recommendation, "HepB")
    assert codings(entry["forecastStatus"]) == {
        FORECAST_STATUS: "notComplete",
        "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status": "overdue",
    }


def test_the_operation_answers_the_same_at_the_base_as_the_ig_defines_it(api_as):
    body = case_parameters(cdc_cases()["2013-0201"])
    alice = api_as("alice")

    assert post(alice, body, "/fhir/R4/$immds-forecast").json() == post(alice, body).json()


def test_a_dose_without_an_id_is_contained_in_its_evaluation(api_as):
    body = case_parameters(cdc_cases()["2013-0201"])
    del body["parameter"][2]["resource"]["id"]

    evaluations, _ = answer(post(api_as("alice"), body))

    first = evaluations[0]
    assert first["immunizationEvent"] == {"reference": "#dose"}
    assert first["contained"][0]["id"] == "dose"
    assert first["contained"][0]["occurrenceDateTime"] == "2025-10-13"


def test_doses_not_given_are_left_out_and_an_expired_lot_makes_a_dose_sub_standard(api_as):
    case = cdc_cases()["2013-0201"]
    body = case_parameters(case)
    refused = json.loads(json.dumps(body["parameter"][3]))
    refused["resource"] |= {"id": "refused", "status": "not-done"}
    body["parameter"].append(refused)
    body["parameter"][3]["resource"]["expirationDate"] = "2025-11-01"  # given 2025-11-10

    evaluations, recommendation = answer(post(api_as("alice"), body))

    events = [e["immunizationEvent"]["reference"] for e in evaluations]
    assert "Immunization/refused" not in events
    second = next(e for e in evaluations if e["immunizationEvent"]["reference"].endswith("-2"))
    assert second["doseStatus"]["text"] == "Sub-standard"
    assert codings(second["doseStatusReason"][0]) == {STATUS_REASON: "expired"}
    assert group_entry(recommendation, "HepB")["doseNumberPositiveInt"] == 2  # to be repeated


def test_the_forecast_is_audited_without_the_patients_data(api_as):
    case = cdc_cases()["2013-0201"]

    post(api_as("alice"), case_parameters(case))

    event = AuditEvent.objects.get(entity_type="Immunization.$immds-forecast")
    assert (event.username, event.outcome, event.patient_id) == ("alice", Outcome.SUCCESS, None)
    assert case.dob.isoformat() not in event.description
    assert "08" not in event.description.split("date")[0]
    assert "2 dose(s) evaluated" in event.description


def test_the_forecast_needs_a_role_that_may_see_immunizations_and_a_token(api_as):
    body = case_parameters(cdc_cases()["2013-0201"])

    refused = post(api_as("erin"), body)
    anonymous = post(Client(), body)

    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert anonymous.status_code == 401
    assert AuditEvent.objects.filter(
        entity_type="Immunization.$immds-forecast", username="erin", outcome=Outcome.DENIED
    ).exists()


def test_only_post_reaches_the_operation(api_as):
    response = api_as("alice").get(FORECAST_URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["resourceType"] == "OperationOutcome"


def _without(name: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        body["parameter"] = [p for p in body["parameter"] if p["name"] != name]

    return change


def _set(index: int, **fields: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        target = body["parameter"][index]
        target = target.get("resource", target)
        for key, value in fields.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value

    return change


def _append(part: dict[str, Any]) -> Any:
    return lambda body: body["parameter"].append(part)


BAD_INPUTS = [
    (
        "no assessmentDate",
        _without("assessmentDate"),
        "Parameters.parameter.where(name = 'assessmentDate')",
    ),
    ("no patient", _without("patient"), "Parameters.parameter.where(name = 'patient')"),
    ("assessmentDate not a date", _set(0, valueDate=None, valueString="soon"), None),
    ("a patient without birthDate", _set(1, birthDate=None), "resource.birthDate"),
    ("a birthDate of a month", _set(1, birthDate="2025-08"), "resource.birthDate"),
    ("a birthDate that is no date", _set(1, birthDate="2025-13-40"), "resource.birthDate"),
    ("a patient without gender", _set(1, gender=None), "resource.gender"),
    (
        "an Observation as the patient",
        _set(1, resourceType="Observation"),
        "Parameters.parameter[1].resource.resourceType",
    ),
    (
        "an Immunization without a CVX coding",
        _set(
            2,
            vaccineCode={"coding": [{"system": mapper.NDC, "code": "58160-820-43"}]},
        ),
        "Parameters.parameter[2].resource.vaccineCode",
    ),
    (
        "a CVX code that is not one",
        _set(2, vaccineCode={"coding": [{"system": CVX, "code": "HepB"}]}),
        "Parameters.parameter[2].resource.vaccineCode.coding[0].code",
    ),
    (
        "a dose before birth",
        _set(2, occurrenceDateTime="2025-01-01"),
        "Parameters.parameter[2].resource.occurrenceDateTime",
    ),
    (
        "a dose after the assessment date",
        _set(2, occurrenceDateTime="2030-01-01"),
        "Parameters.parameter[2].resource.occurrenceDateTime",
    ),
    (
        "a dose with only a text date",
        _set(2, occurrenceDateTime=None, occurrenceString="last spring"),
        "Parameters.parameter[2].resource.occurrenceString",
    ),
    (
        "an assessment before birth",
        _set(0, valueDate="2024-01-01"),
        "Parameters.parameter[0].valueDate",
    ),
    (
        "a dose of another patient",
        _set(2, patient={"reference": "Patient/someone-else"}),
        "Parameters.parameter[2].resource.patient",
    ),
    ("two doses with one id", _set(3, id="dose-1"), "Parameters.parameter[3].resource.id"),
    (
        "an unknown parameter",
        _append({"name": "observation", "valueString": "pregnant"}),
        "Parameters.parameter[4].name",
    ),
]


@pytest.mark.parametrize(("label", "change", "path"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_422_operation_outcome_naming_the_element(api_as, label, change, path):
    body = case_parameters(cdc_cases()["2013-0201"])
    change(body)

    response = post(api_as("alice"), body)

    assert response.status_code == 422, (label, response.content)
    OperationOutcome.model_validate(response.json())
    issue = response.json()["issue"][0]
    assert issue["severity"] == "error"
    if path is not None:
        assert any(e.endswith(path) for e in issue["expression"]), issue
    else:
        assert issue["expression"], issue


def test_a_body_that_is_not_json_or_not_fhir_json_or_not_parameters_is_refused(api_as):
    alice = api_as("alice")

    not_json = alice.post(FORECAST_URL, "{", content_type=JSON)
    not_fhir = alice.post(FORECAST_URL, "a=1", content_type="text/plain")
    not_parameters = post(alice, {"resourceType": "Patient", "birthDate": "2020-01-01"})

    assert not_json.status_code == 400
    assert not_fhir.status_code == 415
    assert not_parameters.status_code == 422
    assert not_parameters.json()["issue"][0]["expression"] == ["Parameters.resourceType"]


def test_each_vaccine_group_code_is_cdcs_and_names_exactly_the_groups_antigens():
    data = forecasting.supporting_data()
    with (CODES / "cvx-to-vaccine-group.csv").open(encoding="utf-8") as f:
        cdc_group_codes = {row["cvx_for_vaccine_group"] for row in csv.DictReader(f)}

    assert set(GROUP_CVX) == set(data.vaccine_groups)
    for group, cvx in GROUP_CVX.items():
        assert cvx in cdc_group_codes or cvx == "109", group  # 109: pneumococcal, unspecified
        carried = {a.antigen for a in data.cvx_antigens[cvx]}
        assert carried == set(data.vaccine_groups[group]), group


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def test_no_mangled_request_gives_a_server_error(api_as):
    alice = api_as("alice")
    base = case_parameters(cdc_cases()["2013-0037"])
    paths = [
        ("parameter", 0, "valueDate"),
        ("parameter", 1, "resource", "birthDate"),
        ("parameter", 1, "resource", "gender"),
        ("parameter", 2, "resource", "vaccineCode"),
        ("parameter", 2, "resource", "occurrenceDateTime"),
        ("parameter", 2, "resource", "status"),
        ("parameter", 3, "resource", "manufacturer"),
        ("parameter", 3, "resource", "expirationDate"),
        ("parameter", 1, "resource"),
        ("parameter", 2),
        ("parameter",),
    ]

    @hypothesis_settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(where=st.sampled_from(paths), value=ANY_JSON)
    def check(where, value):  # type: ignore[no-untyped-def]
        body = json.loads(json.dumps(base))
        target = body
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
        response = post(alice, body)
        assert response.status_code in (200, 422), (where, value, response.content[:300])
        if response.status_code == 422:
            assert response.json()["resourceType"] == "OperationOutcome"

    check()
