"""The clinical mappers give resources the R4B models of fhir.resources accept, shaped as the
US Core profiles they claim."""

import datetime as dt
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from medassist.clinics.models import Room
from medassist.encounters.stages import Stage
from medassist.fhir.mappers import (
    allergy_intolerance,
    appointment,
    condition,
    encounter,
    medication_request,
    observation,
    practitioner,
    schedule,
)
from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.tests.records import make_appointment, make_screening, make_template
from medassist.history.models import Allergy, Condition, Medication, SmokingStatus
from medassist.patients.tests.factories import (
    make_allergy,
    make_encounter,
    make_patient,
    record_no_known_allergies,
)
from medassist.scheduling import slots

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(cast):  # type: ignore[no-untyped-def]
    return make_patient(cast.north, family="Okonkwo", given="Ada")


def codes(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept.get("coding", [])]


# Encounter -----------------------------------------------------------------------------------


def test_a_roomed_visit_is_a_triaged_us_core_encounter_with_staff_room_and_complaint(cast, patient):
    room = Room.objects.create(clinic=cast.north, name="Exam 3")
    visit = make_encounter(
        patient,
        cast.bob,
        stage=Stage.ROOMED,
        medical_assistant=cast.alice,
        room=room,
        reason="Cough for 3 days",
    )

    resource = encounter.to_fhir(visit)

    Encounter.model_validate(resource)
    assert resource["meta"]["profile"] == [encounter.US_CORE_ENCOUNTER]
    assert resource["status"] == "triaged"
    assert resource["class"]["code"] == "AMB"
    assert resource["subject"]["reference"] == f"Patient/{patient.public_id}"
    provider, assistant = resource["participant"]
    assert provider["individual"] == {
        "reference": f"Practitioner/{practitioner_id(cast.bob.pk)}",
        "display": "Robert Okafor, MD",
    }
    assert provider["type"][0]["coding"][0]["code"] == "PPRF"
    assert assistant["individual"]["display"] == "Alice Moreno, CCMA"
    assert resource["location"] == [{"location": {"display": "Exam 3"}}]
    assert resource["reasonCode"] == [{"text": "Cough for 3 days"}]
    assert "appointment" not in resource  # a walk-in


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        (Stage.SCHEDULED, "planned"),
        (Stage.ARRIVED, "arrived"),
        (Stage.WITH_PROVIDER, "in-progress"),
        (Stage.DONE, "finished"),
        (Stage.NO_SHOW, "cancelled"),
    ],
)
def test_the_status_follows_the_stage(cast, patient, stage, status):
    resource = encounter.to_fhir(make_encounter(patient, cast.bob, stage=stage))
    assert resource["status"] == status
    Encounter.model_validate(resource)


def test_a_booked_visit_names_its_appointment_and_its_type(cast, patient):
    booking = make_appointment(patient, cast.bob)

    resource = encounter.to_fhir(booking.encounter)

    assert resource["appointment"] == [{"reference": f"Appointment/{booking.public_id}"}]
    assert resource["type"] == [{"text": "Follow up"}]


# AllergyIntolerance --------------------------------------------------------------------------


def test_an_allergy_is_us_core_with_statuses_code_and_reaction(patient):
    allergy = make_allergy(
        patient,
        "Penicillin",
        code_system="http://www.nlm.nih.gov/research/umls/rxnorm",
        code="7980",
        category="medication",
        criticality="high",
        reaction="Hives",
        verification="confirmed",
    )

    resource = allergy_intolerance.to_fhir(allergy)

    AllergyIntolerance.model_validate(resource)
    assert resource["meta"]["profile"] == [allergy_intolerance.US_CORE_ALLERGY]
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert codes(resource["code"]) == [("http://www.nlm.nih.gov/research/umls/rxnorm", "7980")]
    assert resource["code"]["text"] == "Penicillin"
    assert resource["category"] == ["medication"]
    assert resource["reaction"] == [{"manifestation": [{"text": "Hives"}]}]


def test_no_known_allergies_is_coded_as_the_fhir_nka_example(patient):
    resource = allergy_intolerance.to_fhir(record_no_known_allergies(patient))

    AllergyIntolerance.model_validate(resource)
    assert codes(resource["code"]) == [("http://snomed.info/sct", "716186003")]
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"


def test_an_allergy_entered_in_error_has_no_clinical_status(patient):
    allergy = make_allergy(patient, verification=Allergy.Verification.ENTERED_IN_ERROR)

    resource = allergy_intolerance.to_fhir(allergy)

    AllergyIntolerance.model_validate(resource)
    assert "clinicalStatus" not in resource
    inactive = allergy_intolerance.to_fhir(make_allergy(patient, "Latex", active=False))
    assert inactive["clinicalStatus"]["coding"][0]["code"] == "inactive"


# MedicationRequest ---------------------------------------------------------------------------


def test_a_listed_medication_is_a_reported_plan_with_rxnorm_and_sig(patient):
    medication = Medication.objects.create(
        patient=patient,
        name="Lisinopril 10 mg tablet",
        rxnorm="314076",
        dose="10 mg",
        route="by mouth",
        frequency="daily",
    )

    resource = medication_request.to_fhir(medication)

    MedicationRequest.model_validate(resource)
    assert (resource["status"], resource["intent"], resource["reportedBoolean"]) == (
        "active",
        "plan",
        True,
    )
    assert codes(resource["medicationCodeableConcept"]) == [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "314076")
    ]
    assert resource["dosageInstruction"] == [{"text": "10 mg by mouth daily"}]


def test_a_medication_taken_off_the_list_is_stopped_and_uncoded_is_text(patient):
    medication = Medication.objects.create(patient=patient, name="Herbal tea", active=False)

    resource = medication_request.to_fhir(medication)

    MedicationRequest.model_validate(resource)
    assert resource["status"] == "stopped"
    assert resource["medicationCodeableConcept"] == {"text": "Herbal tea"}
    assert "dosageInstruction" not in resource


# Condition -----------------------------------------------------------------------------------


def test_a_problem_is_a_problem_list_item_with_icd10_and_snomed(patient):
    problem = Condition.objects.create(
        patient=patient,
        category=Condition.Category.PROBLEM,
        description="Essential hypertension",
        icd10="I10",
        snomed="59621000",
        onset_date=dt.date(2019, 5, 1),
    )

    resource = condition.to_fhir(problem)

    FhirCondition.model_validate(resource)
    assert resource["meta"]["profile"] == [condition.US_CORE_CONDITION]
    assert resource["category"] == [{"coding": [condition.PROBLEM_LIST_ITEM]}]
    assert codes(resource["code"]) == [
        ("http://hl7.org/fhir/sid/icd-10-cm", "I10"),
        ("http://snomed.info/sct", "59621000"),
    ]
    assert resource["onsetDateTime"] == "2019-05-01"
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"


def test_past_history_keeps_the_us_core_category_and_says_which_history(patient):
    history = Condition.objects.create(
        patient=patient,
        category=Condition.Category.SURGICAL_HISTORY,
        description="Appendectomy",
        active=False,
    )

    resource = condition.to_fhir(history)

    FhirCondition.model_validate(resource)
    assert [c["coding"][0]["code"] for c in resource["category"]] == [
        "problem-list-item",
        "surgical-history",
    ]
    assert resource["clinicalStatus"]["coding"][0]["code"] == "inactive"


def test_family_history_is_not_exported_as_condition():
    assert Condition.Category.FAMILY_HISTORY not in condition.EXPORTED


# Appointment, Practitioner, Schedule, Slot ---------------------------------------------------


def test_an_appointment_has_its_derived_status_type_and_both_participants(cast, patient):
    booking = make_appointment(patient, cast.bob, stage=Stage.ARRIVED)

    resource = appointment.to_fhir(booking)

    Appointment.model_validate(resource)
    assert resource["status"] == "checked-in"
    assert resource["appointmentType"]["coding"][0]["code"] == "follow-up"
    assert resource["minutesDuration"] == 20
    actors = [p["actor"]["reference"] for p in resource["participant"]]
    assert actors == [
        f"Patient/{patient.public_id}",
        f"Practitioner/{practitioner_id(cast.bob.pk)}",
    ]


def test_a_cancelled_appointment_gives_its_reason(cast, patient):
    booking = make_appointment(patient, cast.bob, stage=Stage.CANCELLED)
    booking.cancel_reason = "Patient is out of town"

    resource = appointment.to_fhir(booking)

    assert resource["status"] == "cancelled"
    assert resource["cancelationReason"] == {"text": "Patient is out of town"}


def test_a_practitioner_has_a_name_an_opaque_id_and_the_title(cast):
    resource = practitioner.to_fhir(cast.bob)

    Practitioner.model_validate(resource)
    assert resource["id"] == practitioner_id(cast.bob.pk) != str(cast.bob.pk)
    assert resource["name"] == [{"text": "Robert Okafor", "family": "Okafor", "given": ["Robert"]}]
    assert resource["qualification"] == [{"code": {"text": "MD"}}]


def test_a_schedule_names_the_provider_sessions_and_horizon(cast):
    template = make_template(cast.north, cast.bob, weekday=0)
    template.valid_until = dt.date(2027, 6, 30)
    group = schedule.ScheduleGroup(cast.north, cast.bob, [template])

    resource = schedule.schedule_to_fhir(group, dt.date(2026, 11, 20))

    Schedule.model_validate(resource)
    assert resource["actor"][0]["display"] == "Robert Okafor, MD"
    assert resource["planningHorizon"] == {"start": "2026-11-20", "end": "2027-06-30"}
    assert resource["comment"] == "Sessions: Mon 08:00-12:00"


def test_a_slot_refers_to_its_schedule():
    start = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
    computed = slots.Slot(start, start + dt.timedelta(minutes=20), slots.FREE)

    resource = schedule.slot_to_fhir("abc123", computed)

    Slot.model_validate(resource)
    assert resource["id"] == "abc123-202611231400"
    assert resource["schedule"] == {"reference": "Schedule/abc123"}
    assert resource["status"] == "free"


# Observation and QuestionnaireResponse -------------------------------------------------------


def test_smoking_status_is_us_core_smoking_status(patient):
    status = SmokingStatus.objects.create(
        patient=patient, code=SmokingStatus.Value.FORMER, effective_date=dt.date(2026, 11, 20)
    )

    resource = observation.smoking_status_to_fhir(status)

    Observation.model_validate(resource)
    assert resource["meta"]["profile"] == [observation.US_CORE_SMOKING_STATUS]
    assert codes(resource["code"]) == [("http://loinc.org", "72166-2")]
    assert codes(resource["valueCodeableConcept"]) == [("http://snomed.info/sct", "8517006")]
    assert resource["category"][0]["coding"][0]["code"] == "social-history"


def test_a_screening_total_is_an_observation_derived_from_its_answers(cast, patient):
    screening = make_screening(make_encounter(patient, cast.bob), by=cast.alice)

    resource = observation.screening_to_fhir(screening)

    Observation.model_validate(resource)
    assert codes(resource["code"]) == [("http://loinc.org", "55758-7")]
    assert resource["valueInteger"] == 3
    assert resource["interpretation"][0]["coding"][0]["code"] == "POS"
    assert resource["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{resource['id']}"}]
    assert resource["performer"][0]["display"] == "Alice Moreno, CCMA"


def test_a_screening_without_a_loinc_total_gives_its_interpretation(cast, patient):
    screening = make_screening(
        make_encounter(patient, cast.bob),
        instrument="STEADI-3KQ",
        title="Fall risk (STEADI)",
        answers={"fell": "no", "unsteady": "no", "worried": "no"},
        total_score=None,
        total_loinc="",
        interpretation="Not at risk of falls",
        positive=False,
    )

    resource = observation.screening_to_fhir(screening)

    Observation.model_validate(resource)
    assert "valueInteger" not in resource
    assert resource["valueCodeableConcept"] == {"text": "Not at risk of falls"}
    assert resource["code"]["coding"][0]["system"] == observation.LOCAL_INSTRUMENT


def test_the_answers_are_a_questionnaire_response_item_by_item(cast, patient):
    screening = make_screening(make_encounter(patient, cast.bob))

    resource = observation.questionnaire_response_to_fhir(screening)

    QuestionnaireResponse.model_validate(resource)
    assert resource["questionnaire"] == "http://loinc.org/q/55757-9"
    first, second = resource["item"]
    assert first["linkId"] == "44250-9"
    assert first["text"] == "Little interest or pleasure in doing things"
    assert first["answer"] == [{"valueCoding": {"code": "1", "display": "Several days"}}]
    assert second["answer"][0]["valueCoding"]["code"] == "2"


def test_a_screening_id_reads_back():
    visit = "0b5e7a9c-1d2e-4f3a-8b4c-5d6e7f8a9b0c"
    assert observation.parse_screening_id(f"{visit}-44249-1") == (uuid.UUID(visit), "44249-1")
    assert observation.parse_screening_id("nonsense") is None
