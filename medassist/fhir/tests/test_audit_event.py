import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.audit.services import record
from medassist.core import clock
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 10, day, hour, tzinfo=dt.UTC)


# The trail below is of October 2025; this range leaves out what the test run itself writes
# today (tokens issued, earlier searches).
OCTOBER = ["ge2025-10-01", "lt2025-11-01"]


@pytest.fixture
def trail(cast, monkeypatch):  # type: ignore[no-untyped-def]
    """A known trail: alice reads a North patient on the 10th, bob updates it on the 12th,
    carol is refused it on the 14th."""
    patient = make_patient(cast.north, family="Audited", given="Ann")
    entries = [
        (at(10), cast.alice, Action.READ, Outcome.SUCCESS),
        (at(12), cast.bob, Action.UPDATE, Outcome.SUCCESS),
        (at(14), cast.carol, Action.READ, Outcome.DENIED),
    ]
    for when, user, action, outcome in entries:
        monkeypatch.setattr(clock, "now", lambda when=when: when)
        record(
            Actor.for_user(user, ip="10.0.0.7"),
            action,
            "Patient",
            patient=patient if outcome == Outcome.SUCCESS else None,
            clinic_id=cast.north.pk,
            entity_id=str(patient.public_id),
            outcome=outcome,
        )
    monkeypatch.undo()
    return patient


def entries(response) -> list[dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [e["resource"] for e in response.json().get("entry", [])]


def who(resources: list[dict]) -> list[str]:
    return [r["agent"][0].get("name", "") for r in resources]


def test_the_auditor_searches_the_trail_as_a_valid_bundle(trail, api_as):
    response = api_as("erin").get("/fhir/R4/AuditEvent", {"date": OCTOBER})

    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset"
    assert who(entries(response)) == ["carol", "bob", "alice"]  # latest first


def test_an_entry_carries_action_outcome_agent_address_and_patient(trail, api_as):
    resources = entries(api_as("erin").get("/fhir/R4/AuditEvent", {"agent": "bob"}))

    (update,) = resources
    assert update["action"] == "U"
    assert update["outcome"] == "0"
    assert update["recorded"] == "2025-10-12T12:00:00+00:00"
    assert update["agent"][0]["network"] == {"address": "10.0.0.7", "type": "2"}
    assert update["entity"][0]["what"] == {"reference": f"Patient/{trail.public_id}"}
    assert update["source"]["site"] == "North Family Medicine"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date": "2025-10-12"}, ["bob"]),
        ({"date": "2025-10"}, ["carol", "bob", "alice"]),
        ({"date": ["ge2025-10-11", "le2025-10-14"]}, ["carol", "bob"]),
        ({"date": ["gt2025-10-10", "lt2025-10-14"]}, ["bob"]),
        ({"date": ["ge2025-10-12T12:00:00Z", "lt2025-11"]}, ["carol", "bob"]),
        ({"date": ["gt2025-10-12T12:00:00Z", "lt2025-11"]}, ["carol"]),
        ({"date": "2025-10-12T07:00-05:00"}, ["bob"]),  # the same minute, in Chicago time
        ({"date": "2025-10-12T07:00"}, ["bob"]),  # no zone: the server's, Chicago's
        ({"date": ["ne2025-10-12", "lt2025-11"]}, ["carol", "alice"]),
        ({"agent": "ALICE"}, ["alice"]),
        ({"action": "U"}, ["bob"]),
        ({"action": "R", "date": OCTOBER}, ["carol", "alice"]),
        ({"action": "C,U", "date": OCTOBER}, ["bob"]),
        ({"action": "http://hl7.org/fhir/audit-event-action|U"}, ["bob"]),
        ({"subtype": "update"}, ["bob"]),
        ({"outcome": "4", "date": OCTOBER}, ["carol"]),
        ({"outcome": "12"}, []),
    ],
)
def test_the_trail_filters_by_each_parameter(trail, api_as, params, expected):
    assert who(entries(api_as("erin").get("/fhir/R4/AuditEvent", params))) == expected


def test_the_trail_filters_by_patient(trail, api_as):
    erin = api_as("erin")
    by_reference = entries(
        erin.get("/fhir/R4/AuditEvent", {"patient": f"Patient/{trail.public_id}"})
    )
    by_id = entries(erin.get("/fhir/R4/AuditEvent", {"patient": str(trail.public_id)}))

    assert who(by_reference) == who(by_id) == ["bob", "alice"]
    assert entries(erin.get("/fhir/R4/AuditEvent", {"patient": "Practitioner/1"})) == []
    assert entries(erin.get("/fhir/R4/AuditEvent", {"patient": "not-an-id"})) == []


def test_a_medical_assistant_gets_403_and_the_attempt_is_recorded(trail, api_as):
    response = api_as("alice").get("/fhir/R4/AuditEvent", {"bogus": "1"})

    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    denied = AuditEvent.objects.get(entity_type="AuditEvent.search")
    assert (denied.username, denied.outcome) == ("alice", Outcome.DENIED)


def test_each_look_at_the_trail_is_recorded_after_the_page_is_read(trail, api_as):
    erin = api_as("erin")

    first = entries(erin.get("/fhir/R4/AuditEvent", {"subtype": "search"}))
    second = entries(erin.get("/fhir/R4/AuditEvent", {"subtype": "search"}))

    assert first == []  # the look is not in its own answer
    assert [r["entity"][-1]["name"] for r in second] == ["AuditEvent.search"]
    assert second[0]["agent"][0]["name"] == "erin"
    assert second[0]["action"] == "E"


def test_the_clinic_manager_may_not_read_the_trail(trail, api_as):
    assert api_as("dana").get("/fhir/R4/AuditEvent").status_code == 403


def test_the_trail_is_scoped_to_the_auditors_clinics(cast, api_as):
    from medassist.clinics.models import Clinic

    east = Clinic.objects.create(network=cast.network, name="East", code="east")
    record(Actor.for_user(cast.alice), Action.READ, "Patient", clinic_id=cast.north.pk)
    record(Actor.for_user(cast.alice), Action.READ, "Patient", clinic_id=east.pk)

    sites = [
        r["source"].get("site")
        for r in entries(api_as("erin").get("/fhir/R4/AuditEvent", {"action": "R"}))
    ]
    assert sites == ["North Family Medicine"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("date=last-week", "date"),
        ("date=2026-11-12T25:00", "date"),
        ("date=2026-11-12T10:00+15:00", "date"),
        ("date=ap2026", "date"),
        ("agent:identifier=alice", "agent:identifier"),
        ("user=alice", "user"),
        ("_count=x", "_count"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(trail, api_as, query, parameter):
    response = api_as("erin").get(f"/fhir/R4/AuditEvent?{query}")

    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [parameter]


def test_paging_the_trail(trail, api_as):
    erin = api_as("erin")
    first = erin.get("/fhir/R4/AuditEvent", {"date": OCTOBER, "_count": 2})
    assert who(entries(first)) == ["carol", "bob"]
    assert first.json()["total"] == 3
    following = next(link["url"] for link in first.json()["link"] if link["relation"] == "next")
    assert who(entries(erin.get(following))) == ["alice"]


def test_post_search_of_the_trail(trail, api_as):
    response = api_as("erin").post(
        "/fhir/R4/AuditEvent/_search",
        "agent=bob",
        content_type="application/x-www-form-urlencoded",
    )
    assert who(entries(response)) == ["bob"]


def test_queries_do_not_grow_with_the_page(cast, api_as):
    erin = api_as("erin")
    for i in range(12):
        patient = make_patient(cast.north, family=f"Many{chr(97 + i)}")
        record(Actor.for_user(cast.alice), Action.READ, "Patient", patient=patient)

    def queries_for(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert (
                erin.get("/fhir/R4/AuditEvent", {"action": "R", "_count": count}).status_code == 200
            )
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(12)
