"""Labs over FHIR: ServiceRequest (lab orders), Specimen, DiagnosticReport and the lab results as
Observations, mapped as US Core 9.0.0 profiles them and compared with the FHIR R4 examples; read
and search scoped to the actor's clinics and audited; and the visibility rule of issue 6: a
report the provider has not released is seen only by those who review lab results."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.specimen import Specimen as FhirSpecimen

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.fhir import lab_api
from medassist.fhir.mappers import lab as mapper
from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.tests.lab_records import (
    CHOLESTEROL,
    COLLECTED_AT,
    ISSUED_AT,
    LIPID_PANEL,
    ORDERED_AT,
    RECEIVED_AT,
    collected_specimen,
    lab_order,
    lab_result,
    lipid_report,
    make_test,
    north_lab_records,
)
from medassist.fhir.tests.records import make_critical_bp
from medassist.labs.models import Flag, LabOrder, LabReport, LabResult, Specimen
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"
JSON = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
EXAMPLES = Path(settings.REFERENCE_DIR) / "fhir" / "fhir-r4-examples"
PROFILES = Path(settings.REFERENCE_DIR) / "fhir" / "us-core-9.0.0-profiles"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def lipid_bundle(resource_id: str) -> dict[str, Any]:
    entries = example("Bundle-lipids.json")["entry"]
    return next(e["resource"] for e in entries if e["resource"]["id"] == resource_id)


def profile_url(file_name: str) -> str:
    return json.loads((PROFILES / file_name).read_text())["url"]


def codings(concept: dict[str, Any]) -> dict[str, str]:
    return {c["system"]: c["code"] for c in concept.get("coding", [])}


def as_bob(cast: Any) -> Actor:
    return Actor.for_user(cast.bob)


def order_as_read(order: LabOrder, cast: Any) -> dict[str, Any]:
    return mapper.service_request_to_fhir(lab_api.visible_lab_orders(as_bob(cast)).get(pk=order.pk))


def specimen_as_read(specimen: Specimen, cast: Any) -> dict[str, Any]:
    found = lab_api.visible_specimens(as_bob(cast)).get(pk=specimen.pk)
    return mapper.specimen_to_fhir(found)


def report_as_read(report: LabReport, cast: Any) -> dict[str, Any]:
    found = lab_api.visible_lab_reports(as_bob(cast)).get(pk=report.pk)
    return mapper.diagnostic_report_to_fhir(found)


def result_as_read(result: LabResult, cast: Any) -> dict[str, Any]:
    found = lab_api.visible_lab_results(as_bob(cast)).get(pk=result.pk)
    return mapper.lab_observation_to_fhir(found)


def visit_of(record: Any) -> str:
    """The public id of the visit a requisition or report belongs to."""
    assert record.encounter is not None
    return str(record.encounter.public_id)


def first_result(report: LabReport) -> LabResult:
    found = report.results.order_by("sequence").first()
    assert found is not None
    return found


@pytest.fixture
def patient(cast):  # type: ignore[no-untyped-def]
    return make_patient(cast.north, family="Lindqvist", given="Ada", birth_date=dt.date(1961, 2, 3))


# The mappers --------------------------------------------------------------------------------


def test_a_lab_order_is_a_us_core_service_request_with_its_numbers_reasons_and_specimen(
    cast, patient
):
    order = lab_order(patient, cast, collect_not_before=ORDERED_AT + dt.timedelta(hours=2))
    specimen = collected_specimen(order, cast)

    resource = order_as_read(order, cast)

    ServiceRequest.model_validate(resource)
    assert resource["meta"]["profile"] == [
        profile_url("structuredefinition-us-core-servicerequest.json")
    ]
    placer, filler = resource["identifier"]
    # The identifier type as the FHIR R4 example ServiceRequest-lipid codes its placer number.
    lipid_placer = example("ServiceRequest-lipid.json")["identifier"][0]["type"]["coding"][0]
    assert (
        codings(placer["type"])
        == {lipid_placer["system"]: lipid_placer["code"]}
        == {mapper.V2_0203: "PLAC"}
    )
    assert (placer["system"], placer["value"]) == (mapper.PLACER_SYSTEM, order.placer_number)
    assert codings(filler["type"]) == {mapper.V2_0203: "FILL"}
    assert filler["value"] == order.filler_number
    assert filler["assigner"] == {"display": "Quest Diagnostics Springfield"}
    assert resource["requisition"]["value"] == order.requisition.number
    assert codings(resource["requisition"]["type"]) == {mapper.V2_0203: "PGN"}
    assert (resource["status"], resource["intent"], resource["priority"]) == (
        "active",
        "order",
        "routine",
    )
    assert [codings(c) for c in resource["category"]] == [{SNOMED: "108252007"}]
    assert codings(resource["code"]) == {LOINC: LIPID_PANEL}
    assert resource["code"]["text"] == "Lipid panel"
    assert resource["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert resource["encounter"] == {"reference": f"Encounter/{visit_of(order.requisition)}"}
    assert resource["authoredOn"] == ORDERED_AT.isoformat()
    assert resource["requester"] == {
        "reference": f"Practitioner/{practitioner_id(cast.bob.pk)}",
        "display": "Robert Okafor, MD",
    }
    assert resource["performer"] == [
        {"type": "Organization", "display": "Quest Diagnostics Springfield"}
    ]
    assert resource["reasonCode"] == [
        {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/sid/icd-10-cm",
                    "code": "E78.5",
                    "display": "Hyperlipidemia, unspecified",
                }
            ],
            "text": "Hyperlipidemia, unspecified",
        }
    ]
    assert resource["specimen"] == [
        {"reference": f"Specimen/{specimen.public_id}", "display": specimen.accession}
    ]
    assert resource["note"] == [{"text": "Fasting 12 hours"}]
    # A timed draw: not before two hours after the order, with no end.
    assert resource["occurrencePeriod"] == {
        "start": (ORDERED_AT + dt.timedelta(hours=2)).isoformat()
    }


def test_an_order_the_lab_has_not_numbered_has_no_filler_identifier_and_a_cancelled_one_says_why(
    cast, patient
):
    order = lab_order(
        patient,
        cast,
        filler_number="",
        status=LabOrder.Status.REVOKED,
        cancelled_reason="Patient left before the draw",
        diagnoses=[],
        note="",
    )

    resource = order_as_read(order, cast)

    ServiceRequest.model_validate(resource)
    assert [codings(i["type"]) for i in resource["identifier"]] == [{mapper.V2_0203: "PLAC"}]
    assert resource["status"] == "revoked"
    assert resource["note"] == [{"text": "Cancelled: Patient left before the draw"}]
    assert "reasonCode" not in resource and "occurrencePeriod" not in resource
    assert "specimen" not in resource


def test_a_specimen_is_a_us_core_specimen_with_its_collection_container_and_processing(
    cast, patient
):
    order = lab_order(patient, cast)
    specimen = collected_specimen(order, cast)

    resource = specimen_as_read(specimen, cast)

    FhirSpecimen.model_validate(resource)
    assert resource["meta"]["profile"] == [profile_url("StructureDefinition-us-core-specimen.json")]
    accession = {"system": mapper.ACCESSION_SYSTEM, "value": specimen.accession}
    assert resource["accessionIdentifier"] == accession
    assert resource["identifier"] == [accession]  # US Core: identifier must be supported
    assert resource["status"] == "available"
    assert codings(resource["type"]) == {mapper.V2_0487: "SER"}
    assert resource["type"]["text"] == "Serum"
    assert resource["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert resource["request"] == [
        {"reference": f"ServiceRequest/{order.public_id}", "display": order.placer_number}
    ]
    assert resource["receivedTime"] == RECEIVED_AT.isoformat()
    collection = resource["collection"]
    # The elements of the FHIR R4 example Specimen-101's collection, but its quantity.
    assert set(example("Specimen-101.json")["collection"]) - set(collection) == {"quantity"}
    assert collection["collector"]["reference"] == f"Practitioner/{practitioner_id(cast.alice.pk)}"
    assert collection["collectedDateTime"] == COLLECTED_AT.isoformat()
    assert collection["method"] == {
        "coding": [{"system": mapper.V2_0488, "code": "VENIP", "display": "Venipuncture"}],
        "text": "Venipuncture",
    }
    assert collection["bodySite"] == {"text": "left antecubital vein"}
    assert collection["fastingStatusDuration"] == {
        "value": 12,
        "unit": "h",
        "system": UCUM,
        "code": "h",
    }
    (container,) = resource["container"]
    assert container["description"] == "Gold top / SST (clot activator and gel)"
    assert container["additiveCodeableConcept"] == {"text": "clot activator and gel"}
    assert resource["processing"] == [
        {
            "description": "Centrifuged: 10 min at 1300 g",
            "timeDateTime": (COLLECTED_AT + dt.timedelta(minutes=35)).isoformat(),
        },
        {
            "description": "Refrigerated",
            "timeDateTime": (COLLECTED_AT + dt.timedelta(minutes=50)).isoformat(),
        },
    ]
    assert resource["note"] == [
        {"text": "Hemolysis risk (difficult draw, small needle, slow fill)"}
    ]


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [
        (Specimen.Status.COLLECTED, "available"),
        (Specimen.Status.LABELED, "available"),
        (Specimen.Status.PROCESSED, "available"),
        (Specimen.Status.PACKAGED, "available"),
        (Specimen.Status.IN_TRANSIT, "available"),
        (Specimen.Status.RECEIVED, "available"),
        (Specimen.Status.REJECTED, "unsatisfactory"),  # FHIR: a quality issue
        (Specimen.Status.NOT_COLLECTED, "unavailable"),  # FHIR: no physical specimen
    ],
)
def test_the_specimen_status_follows_the_chain_of_custody(cast, patient, status, fhir_status):
    specimen = collected_specimen(lab_order(patient, cast), cast, status=status, steps=())

    resource = specimen_as_read(specimen, cast)

    assert resource["status"] == fhir_status
    assert "receivedTime" not in resource and "processing" not in resource
    FhirSpecimen.model_validate(resource)


@pytest.mark.parametrize(
    ("method", "coded"),
    [
        (Specimen.Method.VENIPUNCTURE, ("VENIP", "Venipuncture")),
        (Specimen.Method.CAPILLARY, ("CAP", "Capillary Specimen")),
        (Specimen.Method.SWAB, ("SWA", "Swab")),
        # Not in HL7 v2 table 0488 (THO v2-0488 3.0.0): the words only, no made-up code.
        (Specimen.Method.CLEAN_CATCH, None),
        (Specimen.Method.RANDOM_URINE, None),
        (Specimen.Method.STOOL, None),
    ],
)
def test_the_collection_method_is_coded_only_where_table_0488_has_it(cast, patient, method, coded):
    specimen = collected_specimen(lab_order(patient, cast), cast, method=method)

    resource = specimen_as_read(specimen, cast)

    shown = resource["collection"]["method"]
    assert shown["text"] == Specimen.Method(method).label
    if coded is None:
        assert "coding" not in shown
    else:
        assert shown["coding"] == [
            {"system": mapper.V2_0488, "code": coded[0], "display": coded[1]}
        ]
    FhirSpecimen.model_validate(resource)


def test_a_lab_report_is_a_us_core_lab_diagnostic_report_like_the_lipid_example(cast, patient):
    order = lab_order(patient, cast)
    specimen = collected_specimen(order, cast)
    report = lipid_report(order, cast)

    resource = report_as_read(report, cast)

    DiagnosticReport.model_validate(resource)
    assert resource["meta"]["profile"] == [
        profile_url("StructureDefinition-us-core-diagnosticreport-lab.json")
    ]
    assert resource["meta"]["lastUpdated"]  # US Core: meta.lastUpdated must be supported
    assert resource["status"] == "final"
    assert [codings(c) for c in resource["category"]] == [{mapper.V2_0074: "LAB"}]
    example_report = lipid_bundle("lipids")
    assert codings(resource["code"]) == codings(example_report["code"]) == {LOINC: LIPID_PANEL}
    assert resource["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert resource["encounter"] == {"reference": f"Encounter/{visit_of(report)}"}
    # US Core us-core-8 and us-core-9: a final report has effective[x] and issued.
    assert resource["effectiveDateTime"] == COLLECTED_AT.isoformat()
    assert resource["issued"] == ISSUED_AT.isoformat()
    assert resource["performer"] == [
        {"type": "Organization", "display": "Quest Diagnostics Springfield"}
    ]
    assert set(resource["performer"][0]) - {"type"} <= set(example_report["performer"][0])
    results = [r.public_id for r in report.results.order_by("sequence")]
    assert [r["reference"] for r in resource["result"]] == [f"Observation/lab-{r}" for r in results]
    assert resource["basedOn"] == [{"reference": f"ServiceRequest/{order.public_id}"}]
    assert resource["specimen"] == [
        {"reference": f"Specimen/{specimen.public_id}", "display": specimen.accession}
    ]
    assert codings(resource["identifier"][0]["type"]) == {mapper.V2_0203: "FILL"}
    assert resource["identifier"][0]["value"] == order.filler_number


def test_a_point_of_care_report_has_no_order_and_the_clinic_as_performer(cast, patient):
    report = LabReport.objects.create(
        clinic=cast.north,
        patient=patient,
        encounter=make_encounter(patient, cast.bob),
        source=LabReport.Source.POCT,
        loinc="78012-2",
        name="Rapid strep A",
        status=LabReport.Status.FINAL,
        performer=cast.north.name,
        collected_at=COLLECTED_AT,
        ordering_provider=cast.bob,
    )
    lab_result(
        report,
        loinc="78012-2",
        name="Streptococcus pyogenes Ag",
        value_type=LabResult.ValueType.CODED,
        value_code="260385009",
        value_text="Negative",
        unit="",
        flag=Flag.NORMAL,
    )

    resource = report_as_read(report, cast)
    observation = result_as_read(first_result(report), cast)

    DiagnosticReport.model_validate(resource)
    Observation.model_validate(observation)
    assert "basedOn" not in resource and "specimen" not in resource
    assert resource["performer"] == [{"type": "Organization", "display": "North Family Medicine"}]
    assert "basedOn" not in observation and "specimen" not in observation


def test_a_numeric_lab_result_is_a_us_core_lab_observation_shaped_like_the_lipid_example(
    cast, patient
):
    order = lab_order(patient, cast)
    specimen = collected_specimen(order, cast)
    report = lipid_report(order, cast)
    result = first_result(report)  # cholesterol 245 mg/dL, flagged H, range <200

    resource = result_as_read(result, cast)

    Observation.model_validate(resource)
    assert resource["id"] == f"lab-{result.public_id}"
    assert resource["meta"]["profile"] == [
        profile_url("StructureDefinition-us-core-observation-lab.json")
    ]
    assert [codings(c) for c in resource["category"]] == [
        {"http://terminology.hl7.org/CodeSystem/observation-category": "laboratory"}
    ]
    assert codings(resource["code"]) == {LOINC: CHOLESTEROL}
    assert resource["code"]["text"] == "Cholesterol"
    assert resource["status"] == "final"
    assert resource["subject"]["reference"] == f"Patient/{patient.public_id}"
    assert resource["effectiveDateTime"] == COLLECTED_AT.isoformat()
    assert resource["issued"] == ISSUED_AT.isoformat()
    # Shaped as the lipid Bundle's cholesterol: a UCUM quantity, and a high bound in UCUM.
    cholesterol = lipid_bundle("cholesterol")
    assert set(resource["valueQuantity"]) == set(cholesterol["valueQuantity"])
    assert resource["valueQuantity"] == {
        "value": 245,
        "unit": "mg/dL",
        "system": UCUM,
        "code": "mg/dL",
    }
    (reference_range,) = resource["referenceRange"]
    assert set(reference_range["high"]) == set(cholesterol["referenceRange"][0]["high"])
    assert reference_range == {
        "high": {"value": 200, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
        "text": "<200",
    }
    assert resource["interpretation"] == [
        {"coding": [{"system": V3_INTERPRETATION, "code": "H", "display": "High"}], "text": "High"}
    ]
    assert resource["performer"] == [
        {"type": "Organization", "display": "Quest Diagnostics Springfield"}
    ]
    assert resource["basedOn"] == [{"reference": f"ServiceRequest/{order.public_id}"}]
    assert resource["specimen"] == {
        "reference": f"Specimen/{specimen.public_id}",
        "display": specimen.accession,
    }


def test_after_a_redraw_the_result_names_the_specimen_the_lab_received(cast, patient):
    order = lab_order(patient, cast)
    first = collected_specimen(order, cast, status=Specimen.Status.REJECTED, steps=())
    redraw = collected_specimen(order, cast)
    report = lipid_report(order, cast)

    observation = result_as_read(first_result(report), cast)
    resource = report_as_read(report, cast)

    assert observation["specimen"]["reference"] == f"Specimen/{redraw.public_id}"
    assert [s["reference"] for s in resource["specimen"]] == [
        f"Specimen/{first.public_id}",
        f"Specimen/{redraw.public_id}",
    ]


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        (
            {"value_type": "SN", "value_number": Decimal("5"), "value_comparator": "<",
             "unit": "mg/L"},
            {"valueQuantity": {"value": 5, "comparator": "<", "unit": "mg/L", "system": UCUM,
                               "code": "mg/L"}},
        ),
        (
            {"value_type": "SN", "value_number": Decimal("1000"), "value_comparator": ">="},
            {"valueQuantity": {"value": 1000, "comparator": ">=", "unit": "mg/dL",
                               "system": UCUM, "code": "mg/dL"}},
        ),
        (  # a comparator on a plain number is not the lab's: NM has none
            {"value_type": "NM", "value_number": Decimal("4.20"), "value_comparator": "<"},
            {"valueQuantity": {"value": 4.2, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}},
        ),
        (  # a number without a unit: no UCUM code is made up
            {"value_type": "NM", "value_number": Decimal("1.015"), "unit": ""},
            {"valueQuantity": {"value": 1.015}},
        ),
        (
            {"value_type": "ST", "value_text": "Cloudy", "unit": ""},
            {"valueString": "Cloudy"},
        ),
        (
            {"value_type": "CWE", "value_code": "10828004", "value_text": "Positive", "unit": ""},
            {"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "10828004"}],
                                      "text": "Positive"}},
        ),
        (
            {"value_type": "NM", "value_text": "Test not performed: hemolyzed"},
            {"valueString": "Test not performed: hemolyzed"},
        ),
        (
            {"value_type": "NM", "status": "cancelled"},
            {"dataAbsentReason": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "not-performed"}], "text": "not-performed"}},
        ),
    ],
)  # fmt: skip
def test_each_kind_of_value_is_given_as_us_core_asks(cast, patient, fields, value):
    report = lipid_report(lab_order(patient, cast), cast)
    result = lab_result(report, sequence=9, **fields)

    resource = result_as_read(result, cast)

    Observation.model_validate(resource)
    shown = {k: v for k, v in resource.items() if k.startswith(("value", "dataAbsentReason"))}
    assert shown == value


@pytest.mark.parametrize(
    ("flag", "display"),
    [
        (Flag.NORMAL, "Normal"),
        (Flag.LOW, "Low"),
        (Flag.HIGH, "High"),
        (Flag.CRITICAL_LOW, "Critical low"),
        (Flag.CRITICAL_HIGH, "Critical high"),
        (Flag.ABNORMAL, "Abnormal"),
        (Flag.CRITICAL, "Critical abnormal"),
        (Flag.BELOW_RANGE, "Off scale low"),
        (Flag.ABOVE_RANGE, "Off scale high"),
    ],
)
def test_the_lab_flag_is_the_v3_interpretation_of_the_same_code(cast, patient, flag, display):
    report = lipid_report(lab_order(patient, cast), cast)
    result = lab_result(report, sequence=9, value_number=Decimal("1"), flag=flag)

    resource = result_as_read(result, cast)

    assert resource["interpretation"] == [
        {
            "coding": [{"system": V3_INTERPRETATION, "code": str(flag), "display": display}],
            "text": Flag(flag).label,
        }
    ]
    Observation.model_validate(resource)


def test_a_reference_range_given_only_as_text_is_kept_as_text(cast, patient):
    report = lipid_report(lab_order(patient, cast), cast)
    result = lab_result(
        report, sequence=9, value_type="ST", value_text="Negative", reference_text="Negative"
    )

    assert result_as_read(result, cast)["referenceRange"] == [{"text": "Negative"}]


def test_lab_observation_ids_cannot_be_taken_for_a_vital_signs_or_a_screenings(cast, patient):
    report = lipid_report(lab_order(patient, cast), cast)
    result = first_result(report)
    visit = visit_of(report)

    assert mapper.parse_lab_observation_id(f"lab-{result.public_id}") == result.public_id
    assert mapper.parse_lab_observation_id(str(result.public_id)) is None  # a vital sign's form
    assert mapper.parse_lab_observation_id(f"{visit}-55757-9") is None  # a screening's
    assert mapper.parse_lab_observation_id(f"lab-{result.public_id.hex}") is None
    assert mapper.parse_lab_observation_id("lab-not-a-uuid") is None


# Read: audited, scoped, and the visibility rule ---------------------------------------------


def test_bob_reads_each_lab_resource_and_each_read_is_recorded_with_the_patient(
    cast, patient, api_as
):
    ids = north_lab_records(cast, patient)
    bob = api_as("bob")

    for resource_type in ("ServiceRequest", "Specimen", "DiagnosticReport"):
        response = bob.get(f"/fhir/R4/{resource_type}/{ids[resource_type]}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith(JSON)
        assert response.json()["id"] == ids[resource_type]
        event = AuditEvent.objects.get(action=Action.READ, entity_type=resource_type)
        assert (event.username, event.patient_id, event.entity_id, event.outcome) == (
            "bob",
            patient.pk,
            ids[resource_type],
            Outcome.SUCCESS,
        )
    observation = bob.get(f"/fhir/R4/Observation/{ids['LabObservation']}")
    assert observation.status_code == 200, observation.content
    result = LabResult.objects.get(public_id=ids["LabObservation"].removeprefix("lab-"))
    assert observation.json() == result_as_read(result, cast)
    event = AuditEvent.objects.get(action=Action.READ, entity_type="Observation")
    assert (event.username, event.patient_id, event.entity_id) == (
        "bob",
        patient.pk,
        ids["LabObservation"],
    )


@pytest.mark.parametrize(
    "resource_type", ["ServiceRequest", "Specimen", "DiagnosticReport", "Observation"]
)
def test_an_outsider_gets_the_404_of_a_missing_record_and_nothing_changes(
    cast, patient, api_as, resource_type
):
    ids = north_lab_records(cast, patient)
    key = "LabObservation" if resource_type == "Observation" else resource_type
    missing = "lab-" + MISSING if resource_type == "Observation" else MISSING
    url = f"/fhir/R4/{resource_type}/"
    before = {
        "orders": list(LabOrder.objects.values()),
        "specimens": list(Specimen.objects.values()),
        "reports": list(LabReport.objects.values()),
        "results": list(LabResult.objects.values()),
    }
    carol = api_as("carol")

    outsider = carol.get(url + ids[key])
    absent = carol.get(url + missing)
    put = carol.put(url + ids[key], "{}", content_type=JSON)
    delete = carol.delete(url + ids[key])

    assert outsider.status_code == absent.status_code == 404
    assert outsider.content == absent.content
    OperationOutcome.model_validate(outsider.json())
    assert put.status_code == delete.status_code == 405
    assert put["Allow"] == "GET"
    assert before == {
        "orders": list(LabOrder.objects.values()),
        "specimens": list(Specimen.objects.values()),
        "reports": list(LabReport.objects.values()),
        "results": list(LabResult.objects.values()),
    }
    denied = AuditEvent.objects.get(username="carol", entity_id=ids[key])
    assert (denied.entity_type, denied.outcome) == (resource_type, Outcome.DENIED)
    search = carol.get(f"/fhir/R4/{resource_type}", {"patient": str(patient.public_id)})
    assert search.status_code == 200
    assert search.json()["total"] == 0


def test_a_malformed_id_gets_the_same_404_as_a_missing_one(cast, api_as):
    bob = api_as("bob")
    for resource_type in ("ServiceRequest", "Specimen", "DiagnosticReport"):
        malformed = bob.get(f"/fhir/R4/{resource_type}/not-an-id")
        missing = bob.get(f"/fhir/R4/{resource_type}/{MISSING}")
        assert malformed.status_code == missing.status_code == 404
        assert malformed.content == missing.content
    assert bob.get("/fhir/R4/Observation/lab-not-an-id").status_code == 404


def test_the_ma_does_not_see_a_report_the_provider_has_not_released_until_it_is(
    cast, patient, api_as
):
    """Issue 6: the MA never sees a normal/abnormal call presented as theirs. Before bob
    releases the report, alice gets the 404 of a missing record and searches leave it out;
    bob, who reviews results, sees it; once released, alice sees it too."""
    order = lab_order(patient, cast)
    collected_specimen(order, cast)
    report = lipid_report(order, cast, released=False)
    result = first_result(report)
    alice, bob = api_as("alice"), api_as("bob")
    report_url = f"/fhir/R4/DiagnosticReport/{report.public_id}"
    result_url = f"/fhir/R4/Observation/lab-{result.public_id}"
    mine = {"patient": str(patient.public_id)}

    assert alice.get(report_url).status_code == 404
    assert alice.get(result_url).status_code == 404
    assert (
        alice.get(report_url).content == alice.get(f"/fhir/R4/DiagnosticReport/{MISSING}").content
    )
    assert alice.get("/fhir/R4/DiagnosticReport", mine).json()["total"] == 0
    assert alice.get("/fhir/R4/Observation", mine).json()["total"] == 0
    # The order and the specimen are hers to see: she drew it.
    assert alice.get(f"/fhir/R4/ServiceRequest/{order.public_id}").status_code == 200
    assert alice.get("/fhir/R4/Specimen", mine).json()["total"] == 1
    assert AuditEvent.objects.filter(
        username="alice",
        entity_type="DiagnosticReport",
        entity_id=str(report.public_id),
        outcome=Outcome.DENIED,
    ).exists()
    assert bob.get(report_url).status_code == 200
    assert bob.get(result_url).status_code == 200
    assert bob.get("/fhir/R4/Observation", mine).json()["total"] == 4

    report.released_at = ISSUED_AT + dt.timedelta(hours=2)
    report.released_by = cast.bob
    report.save()

    assert alice.get(report_url).status_code == 200
    assert alice.get(result_url).json()["interpretation"][0]["coding"][0]["code"] == "H"
    assert alice.get("/fhir/R4/DiagnosticReport", mine).json()["total"] == 1
    assert alice.get("/fhir/R4/Observation", mine).json()["total"] == 4
    # The clinic manager sees lab orders too: released results, and nothing before.
    assert api_as("dana").get(report_url).status_code == 200


def test_the_manager_does_not_see_an_unreleased_report_either(cast, patient, api_as):
    report = lipid_report(lab_order(patient, cast), cast, released=False)

    assert api_as("dana").get(f"/fhir/R4/DiagnosticReport/{report.public_id}").status_code == 404


def test_roles_without_lab_access_get_403_on_search_and_404_on_read(cast, patient, api_as):
    ids = north_lab_records(cast, patient)
    for username in ("gwen", "erin"):  # front desk; compliance auditor
        client = api_as(username)
        for resource_type in ("ServiceRequest", "Specimen", "DiagnosticReport"):
            search = client.get(f"/fhir/R4/{resource_type}")
            assert search.status_code == 403, (username, resource_type)
            assert search.json()["issue"][0]["code"] == "forbidden"
            assert client.get(f"/fhir/R4/{resource_type}/{ids[resource_type]}").status_code == 404
        assert AuditEvent.objects.filter(
            username=username, entity_type="DiagnosticReport.search", outcome=Outcome.DENIED
        ).exists()
    # The front desk sees the chart's Observations, but no lab results.
    observations = api_as("gwen").get("/fhir/R4/Observation", {"patient": str(patient.public_id)})
    assert observations.status_code == 200
    assert observations.json()["total"] == 0
    assert api_as("gwen").get(f"/fhir/R4/Observation/{ids['LabObservation']}").status_code == 404


# Search ------------------------------------------------------------------------------------


def ids_of(client: Client, resource_type: str, **params: Any) -> list[str]:
    response = client.get(f"/fhir/R4/{resource_type}", params)
    assert response.status_code == 200, response.content
    Bundle.model_validate(response.json())
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def refused(client: Client, resource_type: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/fhir/R4/{resource_type}", params)
    assert response.status_code == 400, response.content
    OperationOutcome.model_validate(response.json())
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_service_requests_are_found_by_patient_status_code_identifier_and_authored_date(
    cast, patient, api_as
):
    other = make_patient(cast.north, family="Other", given="Person")
    lipids = lab_order(patient, cast)
    a1c = lab_order(
        patient,
        cast,
        test=make_test(cast.north, "4548-4", name="Hemoglobin A1c", specimen_type="BLD"),
        ordered_at=ORDERED_AT - dt.timedelta(days=30),
        filler_number="",
        status=LabOrder.Status.COMPLETED,
    )
    lab_order(other, cast)
    bob = api_as("bob")
    mine = {"patient": f"Patient/{patient.public_id}"}
    both = [str(lipids.public_id), str(a1c.public_id)]

    assert ids_of(bob, "ServiceRequest", **mine) == both  # latest order first
    assert ids_of(bob, "ServiceRequest", **mine, status="completed") == [str(a1c.public_id)]
    assert ids_of(
        bob, "ServiceRequest", **mine, status="http://hl7.org/fhir/request-status|active"
    ) == [str(lipids.public_id)]
    assert ids_of(bob, "ServiceRequest", **mine, code="http://loinc.org|4548-4") == [
        str(a1c.public_id)
    ]
    assert ids_of(bob, "ServiceRequest", **mine, code="4548-4,24331-1") == both
    assert ids_of(bob, "ServiceRequest", **mine, code="http://snomed.info/sct|4548-4") == []
    assert ids_of(
        bob, "ServiceRequest", identifier=f"{mapper.PLACER_SYSTEM}|{lipids.placer_number}"
    ) == [str(lipids.public_id)]
    assert ids_of(bob, "ServiceRequest", identifier=lipids.filler_number) == [str(lipids.public_id)]
    assert ids_of(bob, "ServiceRequest", identifier=f"|{lipids.filler_number}") == [
        str(lipids.public_id)
    ]
    # The filler number is the lab's, not in our placer system; another system finds nothing.
    assert (
        ids_of(bob, "ServiceRequest", identifier=f"{mapper.PLACER_SYSTEM}|{lipids.filler_number}")
        == []
    )
    assert ids_of(bob, "ServiceRequest", identifier=f"urn:other|{lipids.placer_number}") == []
    assert ids_of(bob, "ServiceRequest", requisition=a1c.requisition.number) == [str(a1c.public_id)]
    assert ids_of(bob, "ServiceRequest", **mine, authored="2026-11-20") == [str(lipids.public_id)]
    assert ids_of(bob, "ServiceRequest", **mine, authored="lt2026-11") == [str(a1c.public_id)]
    assert ids_of(bob, "ServiceRequest", **mine, category="108252007") == both
    assert refused(bob, "ServiceRequest", authored="2026-13-01")["expression"] == ["authored"]
    unknown = refused(bob, "ServiceRequest", specimen="x")
    assert unknown["code"] == "not-supported" and unknown["expression"] == ["specimen"]
    searches = AuditEvent.objects.filter(entity_type="ServiceRequest.search", username="bob")
    assert searches.count() == 15  # each search recorded; the refused ones are not searches
    assert searches.filter(patient=patient).count() == 12  # a page of one patient's names them


def test_specimens_are_found_by_patient_accession_and_status(cast, patient, api_as):
    order = lab_order(patient, cast)
    received = collected_specimen(order, cast)
    rejected = collected_specimen(order, cast, status=Specimen.Status.REJECTED)
    collected_specimen(lab_order(make_patient(cast.north, family="Other"), cast), cast)
    alice = api_as("alice")
    mine = {"patient": str(patient.public_id)}

    assert set(ids_of(alice, "Specimen", **mine)) == {
        str(received.public_id),
        str(rejected.public_id),
    }
    assert ids_of(alice, "Specimen", accession=received.accession) == [str(received.public_id)]
    assert ids_of(
        alice, "Specimen", accession=f"{mapper.ACCESSION_SYSTEM}|{rejected.accession}"
    ) == [str(rejected.public_id)]
    assert ids_of(alice, "Specimen", accession=f"urn:other|{rejected.accession}") == []
    assert ids_of(alice, "Specimen", **mine, status="unsatisfactory") == [str(rejected.public_id)]
    assert ids_of(alice, "Specimen", **mine, status="available") == [str(received.public_id)]


def test_diagnostic_reports_are_found_by_patient_category_code_date_and_status(
    cast, patient, api_as
):
    lipids = lipid_report(lab_order(patient, cast), cast)
    earlier = lipid_report(
        lab_order(patient, cast),
        cast,
        status=LabReport.Status.PRELIMINARY,
        collected_at=COLLECTED_AT - dt.timedelta(days=60),
        issued_at=ISSUED_AT - dt.timedelta(days=60),
    )
    bob = api_as("bob")
    mine = {"patient": str(patient.public_id)}
    both = [str(lipids.public_id), str(earlier.public_id)]

    assert ids_of(bob, "DiagnosticReport", **mine) == both  # latest issued first
    assert ids_of(bob, "DiagnosticReport", **mine, category="LAB") == both
    assert (
        ids_of(
            bob,
            "DiagnosticReport",
            **mine,
            category="http://terminology.hl7.org/CodeSystem/v2-0074|LAB",
        )
        == both
    )
    assert ids_of(bob, "DiagnosticReport", **mine, category="RAD") == []
    assert ids_of(bob, "DiagnosticReport", **mine, code=f"{LOINC}|{LIPID_PANEL}") == both
    assert ids_of(bob, "DiagnosticReport", **mine, code="4548-4") == []
    assert ids_of(bob, "DiagnosticReport", **mine, date="2026-11-20") == [str(lipids.public_id)]
    assert ids_of(bob, "DiagnosticReport", **mine, date="ge2026-11-01", status="final") == [
        str(lipids.public_id)
    ]
    assert ids_of(bob, "DiagnosticReport", **mine, status="preliminary") == [str(earlier.public_id)]
    assert refused(bob, "DiagnosticReport", date="yesterday")["expression"] == ["date"]


def test_a_search_is_paged_with_next_and_previous_links(cast, patient, api_as):
    for _ in range(3):
        lipid_report(lab_order(patient, cast), cast)
    bob = api_as("bob")

    first = bob.get("/fhir/R4/DiagnosticReport", {"patient": str(patient.public_id), "_count": 2})
    body = first.json()
    links = {link["relation"]: link["url"] for link in body["link"]}
    second = bob.get(links["next"]).json()

    assert body["total"] == second["total"] == 3
    assert len(body["entry"]) == 2 and len(second["entry"]) == 1
    assert "_offset=2" in links["next"]
    assert {link["relation"] for link in second["link"]} == {"self", "previous"}
    seen = {e["resource"]["id"] for e in body["entry"] + second["entry"]}
    assert len(seen) == 3
    assert bob.get("/fhir/R4/DiagnosticReport", {"_count": "many"}).status_code == 400


def test_search_by_form_post_is_the_same_search(cast, patient, api_as):
    order = lab_order(patient, cast)

    response = api_as("bob").post(
        "/fhir/R4/ServiceRequest/_search",
        f"patient={patient.public_id}",
        content_type="application/x-www-form-urlencoded",
    )

    assert [e["resource"]["id"] for e in response.json()["entry"]] == [str(order.public_id)]


def test_lab_results_join_the_observation_search_without_changing_the_vital_signs(
    cast, patient, api_as
):
    report = lipid_report(lab_order(patient, cast), cast)  # results observed 2026-11-20 15:20
    visit = make_encounter(patient, cast.bob)
    later = make_critical_bp(visit, cast.alice, at=COLLECTED_AT + dt.timedelta(hours=1))
    earlier = make_critical_bp(visit, cast.alice, at=COLLECTED_AT - dt.timedelta(hours=1))
    bob = api_as("bob")
    mine = {"patient": str(patient.public_id)}
    labs = [f"lab-{r.public_id}" for r in report.results.order_by("-id")]  # same time: by id

    assert ids_of(bob, "Observation", **mine) == (
        [str(later.sign.public_id)] + labs + [str(earlier.sign.public_id)]
    )
    assert ids_of(bob, "Observation", **mine, category="laboratory") == labs
    observation_category = "http://terminology.hl7.org/CodeSystem/observation-category"
    assert ids_of(bob, "Observation", **mine, category=f"{observation_category}|laboratory") == labs
    assert ids_of(bob, "Observation", **mine, category="vital-signs") == [
        str(later.sign.public_id),
        str(earlier.sign.public_id),
    ]
    assert ids_of(bob, "Observation", **mine, code=CHOLESTEROL) == [
        f"lab-{first_result(report).public_id}"
    ]
    assert ids_of(bob, "Observation", **mine, code="85354-9") == [
        str(later.sign.public_id),
        str(earlier.sign.public_id),
    ]
    assert ids_of(bob, "Observation", **mine, category="laboratory", date="2026-11-21") == []
    assert ids_of(bob, "Observation", **mine, category="laboratory", date="2026-11-20") == labs
    assert ids_of(bob, "Observation", encounter=visit_of(report)) == labs
    # Paging runs over the merged list.
    paged = bob.get("/fhir/R4/Observation", {**mine, "_count": 2, "_offset": 1}).json()
    assert paged["total"] == 6
    assert [e["resource"]["id"] for e in paged["entry"]] == labs[:2]
    # A vital sign still reads as one, and its Task still points at it.
    sign = bob.get(f"/fhir/R4/Observation/{later.sign.public_id}").json()
    assert [c["coding"][0]["code"] for c in sign["category"]] == ["vital-signs"]
    task = bob.get(f"/fhir/R4/Task/{later.public_id}").json()
    assert task["focus"] == {"reference": f"Observation/{later.sign.public_id}"}


def test_each_search_takes_the_same_queries_for_two_results_as_for_ten(cast, api_as):
    for i in range(10):
        person = make_patient(cast.north, family=f"Person{i}", given="Pat")
        order = lab_order(person, cast)
        collected_specimen(order, cast)
        lipid_report(order, cast)
    bob = api_as("bob")

    def queries_for(resource_type: str, count: int, **params: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = bob.get(f"/fhir/R4/{resource_type}", {"_count": count, **params})
            assert response.status_code == 200
        assert len(response.json()["entry"]) == count
        return len(ctx.captured_queries)

    for resource_type in ("ServiceRequest", "Specimen", "DiagnosticReport"):
        assert queries_for(resource_type, 2) == queries_for(resource_type, 10), resource_type
    assert queries_for("Observation", 2, category="laboratory") == queries_for(
        "Observation", 10, category="laboratory"
    )


def test_metadata_lists_the_lab_resources_with_their_profiles_and_parameters():
    body = Client().get("/fhir/R4/metadata").json()

    CapabilityStatement.model_validate(body)
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    for kind in lab_api.LAB_KINDS:
        served = resources[kind.name]
        assert served["supportedProfile"] == [kind.profile]
        assert {i["code"] for i in served["interaction"]} == {"read", "search-type"}
        assert {p["name"] for p in served["searchParam"]} == set(kind.params)
    assert {"patient", "status", "code", "identifier", "authored"} <= set(
        lab_api.SERVICE_REQUEST.params
    )
    assert {"patient", "accession"} <= set(lab_api.SPECIMEN.params)
    assert {"patient", "category", "code", "date", "status"} <= set(
        lab_api.DIAGNOSTIC_REPORT.params
    )
    assert mapper.US_CORE_OBSERVATION_LAB in resources["Observation"]["supportedProfile"]


# Point-of-care results: who ran the test and on which kit lot -------------------------------


def _poct_glucose(cast: Any, actor_of: Any, readings: list[str]) -> list[LabReport]:
    """Capillary glucoses run at one North visit (alternately by Alice and Bob), through the
    point-of-care service, each filed as its own report."""
    from medassist.poct import services as poct_services
    from medassist.poct.tests import factories as poct
    from medassist.rooming.tests.factories import roomed_visit

    test, lot, _ = poct.ready_test(cast, "glucose")
    visit = roomed_visit(cast, family="Haddad")
    reports = []
    for i, reading in enumerate(readings):
        done = poct_services.run_test(
            actor=actor_of(cast.alice if i % 2 == 0 else cast.bob),
            encounter=visit,
            test=test,
            kit_lot=lot,
            confirm_birth_date=visit.patient.birth_date,
            values={"41653-7": reading},
        )
        assert done.report is not None
        reports.append(done.report)
    return reports


def test_a_point_of_care_observation_names_its_operator_and_kit_lot(cast, actor_of, api_as):
    (report,) = _poct_glucose(cast, actor_of, ["38"])
    result = first_result(report)
    bob = api_as("bob")

    observation = bob.get(f"/fhir/R4/Observation/{mapper.lab_observation_id(result)}").json()
    diagnostic = bob.get(f"/fhir/R4/DiagnosticReport/{report.public_id}").json()

    parsed = Observation.model_validate(observation)
    DiagnosticReport.model_validate(diagnostic)
    assert parsed.device is not None
    assert parsed.device.display == "Assure Prism multi, lot 4B21X"
    assert observation["device"] == {"type": "Device", "display": "Assure Prism multi, lot 4B21X"}
    operator = {
        "reference": f"Practitioner/{practitioner_id(cast.alice.pk)}",
        "display": "Alice Moreno, CCMA",
    }
    clinic = {"type": "Organization", "display": "North Family Medicine"}
    assert observation["performer"] == [operator, clinic]
    assert [p.reference for p in parsed.performer or []] == [operator["reference"], None]
    assert diagnostic["performer"] == [operator, clinic]
    assert "device" not in diagnostic  # R4 DiagnosticReport has no device element
    # The clinic's critical limits flagged it, and the interpretation says so.
    assert codings(observation["interpretation"][0]) == {V3_INTERPRETATION: "LL"}
    assert observation["referenceRange"][0]["text"] == "70-140"
    # The operator's Practitioner resolves for the reader.
    assert bob.get(f"/fhir/R4/{operator['reference']}").status_code == 200


def test_a_reference_labs_report_has_no_device_and_no_operator(cast, patient):
    order = lab_order(patient, cast)
    collected_specimen(order, cast)
    report = lipid_report(order, cast)
    observation = result_as_read(first_result(report), cast)
    assert "device" not in observation
    assert all(p.get("type") == "Organization" for p in observation["performer"])


def test_point_of_care_searches_take_the_same_queries_for_two_as_for_ten(cast, actor_of, api_as):
    _poct_glucose(cast, actor_of, ["104", "38", "250", "450", "HI", "LO", "70", "141", "53", "99"])
    bob = api_as("bob")

    def queries_for(resource_type: str, count: int, **params: str) -> tuple[int, list]:
        with CaptureQueriesContext(connection) as ctx:
            response = bob.get(f"/fhir/R4/{resource_type}", {"_count": count, **params})
            assert response.status_code == 200
        entries = response.json()["entry"]
        assert len(entries) == count
        return len(ctx.captured_queries), [e["resource"] for e in entries]

    two, _ = queries_for("DiagnosticReport", 2)
    ten, reports = queries_for("DiagnosticReport", 10)
    assert two == ten
    assert {r["performer"][0]["display"] for r in reports} == {
        "Alice Moreno, CCMA",
        "Robert Okafor, MD",
    }
    two, _ = queries_for("Observation", 2, category="laboratory")
    ten, observations = queries_for("Observation", 10, category="laboratory")
    assert two == ten
    assert {o["device"]["display"] for o in observations} == {"Assure Prism multi, lot 4B21X"}
