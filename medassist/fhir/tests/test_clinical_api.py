"""Read and search of the clinical resources: scoped to the user's clinics, audited, strict
about parameters, and a constant number of queries a page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle

from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.encounters.stages import Stage
from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.mappers.schedule import schedule_id
from medassist.fhir.tests.records import (
    make_appointment,
    make_screening,
    make_template,
    north_records,
)
from medassist.history.models import Condition, Medication, SmokingStatus
from medassist.patients.tests.factories import make_allergy, make_encounter, make_patient

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"
READABLE = [
    "Encounter",
    "AllergyIntolerance",
    "MedicationRequest",
    "Condition",
    "Appointment",
    "Observation",
    "QuestionnaireResponse",
    "Schedule",
    "Practitioner",
    "Task",
]
SEARCHABLE = [r for r in READABLE if r != "Practitioner"]


@pytest.fixture
def north(cast):  # type: ignore[no-untyped-def]
    patient = make_patient(cast.north, family="Okonkwo", given="Ada")
    return patient, north_records(cast, patient)


def entries(response) -> list[dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    Bundle.model_validate(response.json())
    return [e["resource"] for e in response.json().get("entry", [])]


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["id"] for r in entries(response)]


# Read ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", READABLE)
def test_alice_reads_each_resource_and_the_read_is_recorded(north, api_as, resource_type):
    patient, known = north

    response = api_as("alice").get(f"/fhir/R4/{resource_type}/{known[resource_type]}")

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert response.json()["resourceType"] == resource_type
    assert response.json()["id"] == known[resource_type]
    event = AuditEvent.objects.get(action=Action.READ, entity_type=resource_type)
    assert (event.username, event.channel, event.outcome) == ("alice", "api", Outcome.SUCCESS)
    if resource_type not in ("Schedule", "Practitioner"):
        assert event.patient_id == patient.pk


@pytest.mark.parametrize("resource_type", READABLE)
def test_an_outsider_gets_the_same_404_as_for_a_missing_record(north, api_as, resource_type):
    _, known = north
    carol = api_as("carol")

    outsider = carol.get(f"/fhir/R4/{resource_type}/{known[resource_type]}")
    missing = carol.get(f"/fhir/R4/{resource_type}/{MISSING}")
    malformed = carol.get(f"/fhir/R4/{resource_type}/not-an-id")

    assert outsider.status_code == missing.status_code == malformed.status_code == 404
    assert outsider.content == missing.content == malformed.content
    assert outsider.json()["issue"][0]["code"] == "not-found"
    denied = AuditEvent.objects.get(entity_id=known[resource_type], username="carol")
    assert denied.outcome == Outcome.DENIED


def test_an_observation_reads_a_smoking_status_by_its_own_id(north, api_as):
    patient, _ = north
    status = SmokingStatus.objects.get(patient=patient)

    response = api_as("alice").get(f"/fhir/R4/Observation/{status.public_id}")

    assert response.json()["code"]["coding"][0]["code"] == "72166-2"


def test_the_auditor_reads_no_charts_and_searches_none(north, api_as):
    _, known = north
    erin = api_as("erin")
    assert erin.get(f"/fhir/R4/Encounter/{known['Encounter']}").status_code == 404
    for resource_type in SEARCHABLE:
        response = erin.get(f"/fhir/R4/{resource_type}")
        assert response.status_code == 403, resource_type
        assert response.json()["issue"][0]["code"] == "forbidden"
    assert AuditEvent.objects.filter(outcome=Outcome.DENIED, username="erin").count() >= len(
        SEARCHABLE
    )


# Search --------------------------------------------------------------------------------------


def test_encounters_by_patient_date_status_and_class(cast, api_as):
    patient = make_patient(cast.north)
    other = make_patient(cast.north, family="Other")
    day = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    roomed = make_encounter(patient, cast.bob, stage=Stage.ROOMED, start=day)
    waiting = make_encounter(patient, cast.bob, stage=Stage.READY_FOR_PROVIDER, start=day)
    earlier = make_encounter(patient, cast.bob, stage=Stage.DONE, start=day - dt.timedelta(days=30))
    virtual = make_encounter(other, cast.bob, kind="VR", start=day)
    alice = api_as("alice")

    def search(**params):  # type: ignore[no-untyped-def]
        return set(ids(alice.get("/fhir/R4/Encounter", params)))

    mine = {str(e.public_id) for e in (roomed, waiting, earlier)}
    assert search(patient=f"Patient/{patient.public_id}") == mine
    assert search(patient=str(patient.public_id), status="triaged") == {
        str(roomed.public_id),
        str(waiting.public_id),
    }
    assert search(status="finished") == {str(earlier.public_id)}
    assert search(status="finished,triaged") == mine
    assert search(date="lt2026-11-01") == {str(earlier.public_id)}
    assert search(date=["ge2026-11-20", "le2026-11-20"]) == mine - {str(earlier.public_id)} | {
        str(virtual.public_id)
    }
    assert search(date="gt2026-11-20") == set()
    assert search(date="eq2026-10-21") == {str(earlier.public_id)}
    assert search(**{"class": "VR"}) == {str(virtual.public_id)}
    assert search(**{"class": "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB"}) == mine
    assert search(status="entered-in-error") == set()


def test_encounter_pages_follow_count_with_next_links(cast, api_as):
    patient = make_patient(cast.north)
    for day in range(1, 6):
        make_encounter(patient, cast.bob, start=dt.datetime(2026, 11, day, 15, tzinfo=dt.UTC))
    alice = api_as("alice")

    first = alice.get("/fhir/R4/Encounter", {"_count": 2})
    assert first.json()["total"] == 5
    assert [e["resource"]["period"]["start"][:10] for e in first.json()["entry"]] == [
        "2026-11-05",
        "2026-11-04",
    ]
    following = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
    assert "_offset=2" in following
    assert len(entries(alice.get(following))) == 2


def test_allergies_by_patient_and_clinical_status(cast, api_as):
    patient = make_patient(cast.north)
    active = make_allergy(patient, "Penicillin")
    inactive = make_allergy(patient, "Latex", active=False)
    make_allergy(patient, "Mistake", verification="entered-in-error")
    make_allergy(make_patient(cast.north, family="Other"), "Sulfa")
    alice = api_as("alice")

    def search(**params):  # type: ignore[no-untyped-def]
        return ids(
            alice.get("/fhir/R4/AllergyIntolerance", {"patient": patient.public_id} | params)
        )

    assert len(search()) == 3
    assert search(**{"clinical-status": "active"}) == [str(active.public_id)]
    assert search(**{"clinical-status": "inactive"}) == [str(inactive.public_id)]
    system = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
    assert search(**{"clinical-status": f"{system}|active"}) == [str(active.public_id)]


def test_medications_by_status_and_intent(cast, api_as):
    patient = make_patient(cast.north)
    taking = Medication.objects.create(patient=patient, name="Metformin")
    stopped = Medication.objects.create(patient=patient, name="Atenolol", active=False)
    alice = api_as("alice")

    def search(**params):  # type: ignore[no-untyped-def]
        return ids(alice.get("/fhir/R4/MedicationRequest", {"patient": patient.public_id} | params))

    assert search(status="active") == [str(taking.public_id)]
    assert search(status="stopped") == [str(stopped.public_id)]
    assert len(search(intent="order,plan")) == 2
    assert search(intent="order") == []


def test_conditions_by_category_and_status_without_family_history(cast, api_as):
    patient = make_patient(cast.north)

    def make(category: str, **fields: object) -> str:
        made = Condition.objects.create(
            patient=patient, category=category, description=category, **fields
        )
        return str(made.public_id)

    problem = make(Condition.Category.PROBLEM)
    medical = make(Condition.Category.MEDICAL_HISTORY, active=False)
    surgical = make(Condition.Category.SURGICAL_HISTORY)
    make(Condition.Category.FAMILY_HISTORY, relative="mother")
    alice = api_as("alice")

    def search(**params):  # type: ignore[no-untyped-def]
        return set(ids(alice.get("/fhir/R4/Condition", {"patient": patient.public_id} | params)))

    assert search() == {problem, medical, surgical}
    assert search(category="problem-list-item") == {problem, medical, surgical}
    assert search(category="medical-history") == {medical}
    assert search(category="surgical-history,medical-history") == {medical, surgical}
    assert search(category="family-history") == set()
    assert search(**{"clinical-status": "inactive"}) == {medical}


def test_appointments_by_actor_practitioner_patient_status_and_date(cast, api_as):
    patient = make_patient(cast.north)
    booked = make_appointment(patient, cast.bob)
    later = make_appointment(
        make_patient(cast.north, family="Other"),
        cast.bob,
        start=dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC),
        stage=Stage.ARRIVED,
    )
    alice = api_as("alice")
    bob = f"Practitioner/{practitioner_id(cast.bob.pk)}"

    def search(**params):  # type: ignore[no-untyped-def]
        return ids(alice.get("/fhir/R4/Appointment", params))

    both = [str(booked.public_id), str(later.public_id)]
    assert search(actor=bob) == both
    assert search(practitioner=practitioner_id(cast.bob.pk)) == both
    assert search(actor=f"Practitioner/{practitioner_id(cast.alice.pk)}") == []
    assert search(actor=f"Patient/{patient.public_id}") == [str(booked.public_id)]
    assert search(patient=str(patient.public_id)) == [str(booked.public_id)]
    assert search(status="checked-in") == [str(later.public_id)]
    assert search(status="booked") == [str(booked.public_id)]
    assert search(date="ge2026-11-25") == [str(later.public_id)]


def test_schedules_by_actor_and_slots_by_schedule_and_start(cast, api_as, monkeypatch):
    from medassist.core import clock

    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC))
    monkeypatch.setattr(clock, "today", lambda: dt.date(2026, 11, 16))
    make_template(cast.north, cast.bob, weekday=4)  # Fridays 08:00-12:00, 20-minute slots
    patient = make_patient(cast.north)
    # Friday 20 November, 09:00 in Chicago (UTC-6)
    make_appointment(patient, cast.bob, start=dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC))
    alice = api_as("alice")
    bob_schedule = schedule_id(cast.north.pk, cast.bob.pk)

    found = ids(
        alice.get("/fhir/R4/Schedule", {"actor": f"Practitioner/{practitioner_id(cast.bob.pk)}"})
    )
    assert found == [bob_schedule]
    assert ids(alice.get("/fhir/R4/Schedule", {"actor": practitioner_id(cast.alice.pk)})) == []

    week = entries(
        alice.get(
            "/fhir/R4/Slot",
            {"schedule": f"Schedule/{bob_schedule}", "start": ["ge2026-11-20", "lt2026-11-21"]},
        )
    )
    assert len(week) == 12  # 08:00 to 12:00 by 20 minutes
    busy = [s["start"] for s in week if s["status"] == "busy"]
    assert busy == ["2026-11-20T09:00:00-06:00"]
    free = entries(
        alice.get("/fhir/R4/Slot", {"schedule": bob_schedule, "status": "free", "_count": 100})
    )
    assert len(free) == 11  # the next seven days hold that one Friday
    assert api_as("carol").get("/fhir/R4/Slot", {"schedule": bob_schedule}).json()["total"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "schedule=a&schedule=b",
        "schedule=a,b",
        "schedule=x&start=ge{today}&start=le{in_a_year}",
    ],
)
def test_a_slot_search_needs_one_schedule_and_a_short_range(cast, api_as, query):
    # The range is counted from today (a search never looks into the past), so it is given
    # relative to today: a fixed calendar year shrinks to a few days by December.
    from medassist.core import clock

    today = clock.today()
    query = query.format(today=today, in_a_year=today + dt.timedelta(days=365))
    response = api_as("alice").get(f"/fhir/R4/Slot?{query}")
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] in (["schedule"], ["start"])


def test_observations_by_category_and_code_and_answers_by_questionnaire(north, api_as):
    patient, _ = north
    alice = api_as("alice")

    def codes(**params):  # type: ignore[no-untyped-def]
        found = entries(alice.get("/fhir/R4/Observation", {"patient": patient.public_id} | params))
        return [r["code"]["coding"][0]["code"] for r in found]

    assert sorted(codes()) == ["55758-7", "72166-2", "85354-9"]
    assert codes(category="vital-signs") == ["85354-9"]
    assert codes(category="social-history") == ["72166-2"]
    assert codes(category="survey") == ["55758-7"]
    assert codes(code="http://loinc.org|72166-2") == ["72166-2"]
    assert codes(code="55757-9") == ["55758-7"]  # the panel's code finds its total
    assert codes(date="ge2026-11-20T00:00Z", category="survey") == ["55758-7"]
    answers = entries(
        alice.get("/fhir/R4/QuestionnaireResponse", {"questionnaire": "http://loinc.org/q/55757-9"})
    )
    assert [r["questionnaire"] for r in answers] == ["http://loinc.org/q/55757-9"]
    assert entries(alice.get("/fhir/R4/QuestionnaireResponse", {"questionnaire": "44249-1"})) == []


@pytest.mark.parametrize("resource_type", SEARCHABLE)
def test_a_search_sees_only_the_users_clinics(north, api_as, resource_type):
    assert api_as("alice").get(f"/fhir/R4/{resource_type}").json()["total"] >= 1
    assert api_as("carol").get(f"/fhir/R4/{resource_type}").json()["total"] == 0


def test_a_search_is_recorded_once_naming_the_patient(north, api_as):
    patient, _ = north

    api_as("alice").get("/fhir/R4/AllergyIntolerance", {"patient": patient.public_id})

    (event,) = AuditEvent.objects.filter(action=Action.SEARCH)
    assert event.entity_type == "AllergyIntolerance.search"
    assert event.patient_id == patient.pk
    assert f"patient={patient.public_id}" in event.description


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/fhir/R4/Encounter?foo=1", "foo"),
        ("/fhir/R4/Encounter?date=yesterday", "date"),
        ("/fhir/R4/Encounter?date=ap2026", "date"),
        ("/fhir/R4/Encounter?status:not=finished", "status:not"),
        ("/fhir/R4/AllergyIntolerance?_count=x", "_count"),
        ("/fhir/R4/MedicationRequest?code=1", "code"),
        ("/fhir/R4/Condition?onset-date=2020", "onset-date"),
        ("/fhir/R4/Appointment?date=2026-13", "date"),
        ("/fhir/R4/Schedule?date=2026", "date"),
        ("/fhir/R4/Slot?schedule=x&start=ne2026-11-20", "start"),
        ("/fhir/R4/Observation?date=2026-02-30", "date"),
        ("/fhir/R4/QuestionnaireResponse?authored=soon", "authored"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it_and_no_search_is_recorded(cast, api_as, url, parameter):
    response = api_as("alice").get(url)

    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["expression"] == [parameter]
    assert not AuditEvent.objects.filter(action=Action.SEARCH).exists()


@pytest.mark.parametrize("resource_type", SEARCHABLE)
def test_other_methods_are_405(api_as, resource_type):
    if resource_type == "Observation":  # vital signs are created by POST
        response = api_as("alice").put(f"/fhir/R4/{resource_type}", {})
        assert response.status_code == 405
        assert response["Allow"] == "GET, POST"
        return
    response = api_as("alice").post(f"/fhir/R4/{resource_type}", {})
    assert response.status_code == 405
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("resource_type", ["Encounter", "Condition", "QuestionnaireResponse"])
def test_post_search_takes_a_form(north, api_as, resource_type):
    patient, _ = north
    response = api_as("alice").post(
        f"/fhir/R4/{resource_type}/_search",
        f"patient={patient.public_id}",
        content_type="application/x-www-form-urlencoded",
    )
    assert len(entries(response)) == 1


# Queries -------------------------------------------------------------------------------------


def _many(cast, count: int) -> None:  # type: ignore[no-untyped-def]
    """`count` records of every kind, for patients of North, each with its own staff."""
    for i in range(count):
        patient = make_patient(cast.north, family=f"Many{i:02d}")
        booking = make_appointment(
            patient,
            cast.bob,
            start=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC) + dt.timedelta(days=i),
            medical_assistant=cast.alice,
        )
        make_allergy(patient)
        Medication.objects.create(patient=patient, name="Metformin")
        Condition.objects.create(patient=patient, category="problem-list-item", description="x")
        make_screening(booking.encounter, by=cast.alice)
        SmokingStatus.objects.create(patient=patient, code=SmokingStatus.Value.NEVER)


@pytest.mark.parametrize("resource_type", SEARCHABLE)
def test_queries_do_not_grow_with_the_page(cast, api_as, resource_type):
    _many(cast, 20)
    make_template(cast.north, cast.bob)
    make_template(cast.north, cast.alice)
    alice = api_as("alice")

    def queries_for(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = alice.get(f"/fhir/R4/{resource_type}", {"_count": count})
            assert response.status_code == 200
        assert len(response.json().get("entry", [])) == min(count, response.json()["total"])
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(20)
