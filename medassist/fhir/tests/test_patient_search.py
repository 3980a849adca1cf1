import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle

from medassist.audit.models import Action, AuditEvent
from medassist.fhir.mappers.patient import MRN_SYSTEM
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def found(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [e["resource"]["name"][0]["family"] for e in response.json().get("entry", [])]


@pytest.fixture
def north(cast):  # type: ignore[no-untyped-def]
    """Four North patients and one South patient."""
    return {
        "rivera": make_patient(
            cast.north, family="Rivera", given="Maria", birth_date=dt.date(1980, 3, 4)
        ),
        "nunez": make_patient(
            cast.north, family="Núñez", given="José", birth_date=dt.date(1975, 12, 31), sex="male"
        ),
        "smith": make_patient(
            cast.north, family="Smith", given="Rivers", birth_date=dt.date(2001, 6, 15)
        ),
        "okafor": make_patient(
            cast.north, family="Okafor", given="Chidi", birth_date=dt.date(1980, 3, 5), sex="male"
        ),
        "south": make_patient(cast.south, family="Rivera", given="Southern"),
    }


@pytest.fixture
def alice(api_as):  # type: ignore[no-untyped-def]
    return api_as("alice")


def search(client, **params):  # type: ignore[no-untyped-def]
    return client.get("/fhir/R4/Patient", params)


def test_a_search_is_a_valid_searchset_bundle(north, alice):
    response = search(alice, name="rivera")

    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset"
    assert bundle.total == 1
    (entry,) = bundle.entry or []
    assert entry.fullUrl == f"http://testserver/fhir/R4/Patient/{north['rivera'].public_id}"
    assert entry.search is not None and entry.search.mode == "match"


def test_name_matches_the_start_of_family_or_first_name(north, alice):
    assert found(search(alice, name="riv")) == ["Rivera", "Smith"]  # family Rivera, given Rivers


def test_name_ignores_case_and_accents(north, alice):
    assert found(search(alice, name="NUNEZ")) == ["Núñez"]
    assert found(search(alice, name="josé")) == ["Núñez"]


def test_family_and_given_match_only_their_part(north, alice):
    assert found(search(alice, family="riv")) == ["Rivera"]
    assert found(search(alice, given="riv")) == ["Smith"]


def test_a_name_without_letters_finds_nobody(north, alice):
    assert found(search(alice, name="123")) == []


def test_commas_are_alternatives_and_repeats_must_all_hold(north, alice):
    assert found(search(alice, family="rivera,okafor")) == ["Okafor", "Rivera"]
    assert found(alice.get("/fhir/R4/Patient?name=riv&name=maria")) == ["Rivera"]


@pytest.mark.parametrize(
    ("birthdate", "expected"),
    [
        ("1980-03-04", ["Rivera"]),
        ("eq1980-03-04", ["Rivera"]),
        ("1980-03", ["Okafor", "Rivera"]),
        ("1980", ["Okafor", "Rivera"]),
        ("ge1980-03-05", ["Okafor", "Smith"]),
        ("gt1980-03-04", ["Okafor", "Smith"]),
        ("le1980-03-04", ["Núñez", "Rivera"]),
        ("lt1980", ["Núñez"]),
        ("gt1980", ["Smith"]),
        ("ne1980-03", ["Núñez", "Smith"]),
        ("1999", []),
    ],
)
def test_birthdate_with_prefixes_and_precision(north, alice, birthdate, expected):
    assert found(search(alice, birthdate=birthdate)) == expected


def test_birthdate_range_by_two_values(north, alice):
    response = alice.get("/fhir/R4/Patient?birthdate=ge1975&birthdate=lt1980-03-05")
    assert found(response) == ["Núñez", "Rivera"]


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("{mrn}", ["Rivera"]),
        (MRN_SYSTEM + "|{mrn}", ["Rivera"]),
        ("urn:other:system|{mrn}", []),
        ("|{mrn}", []),  # an identifier with no system: ours always has one
        ("999", []),
    ],
)
def test_identifier_matches_the_mrn(north, alice, identifier, expected):
    value = identifier.format(mrn=north["rivera"].mrn)
    assert found(search(alice, identifier=value)) == expected


def test_identifier_with_only_the_system_matches_every_mrn(north, alice):
    assert len(found(search(alice, identifier=MRN_SYSTEM + "|"))) == 4


def test_id_gender_and_active(north, alice):
    north["smith"].active = False
    north["smith"].save()

    assert found(search(alice, _id=str(north["okafor"].public_id))) == ["Okafor"]
    assert found(search(alice, _id="not-a-uuid")) == []
    assert found(search(alice, gender="male")) == ["Núñez", "Okafor"]
    assert found(search(alice, gender="http://hl7.org/fhir/administrative-gender|female")) == [
        "Rivera",
        "Smith",
    ]
    assert found(search(alice, active="false")) == ["Smith"]


def test_a_search_sees_only_the_users_clinics(north, api_as):
    assert found(search(api_as("carol"), family="rivera")) == ["Rivera"]
    response = search(api_as("carol"), family="rivera")
    assert response.json()["entry"][0]["resource"]["name"][0]["given"] == ["Southern"]


def test_each_search_is_recorded_once(north, alice):
    search(alice, family="rivera", birthdate="1980")

    (event,) = AuditEvent.objects.filter(action=Action.SEARCH)
    assert event.entity_type == "Patient.search"
    assert (event.username, event.channel) == ("alice", "api")
    assert "family=rivera" in event.description and "birthdate=1980" in event.description


def test_the_auditor_may_not_search_patients(north, api_as):
    response = search(api_as("erin"), name="rivera")
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


# Paging --------------------------------------------------------------------------------------


def links(response) -> dict[str, dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    return {
        link["relation"]: parse_qs(urlsplit(link["url"]).query) for link in response.json()["link"]
    }


def test_pages_follow_count_and_offset_with_self_next_and_previous_links(north, alice):
    first = search(alice, _count=2)
    assert found(first) == ["Núñez", "Okafor"]
    assert first.json()["total"] == 4
    assert links(first)["self"]["_offset"] == ["0"]
    assert links(first)["next"]["_offset"] == ["2"]
    assert "previous" not in links(first)

    second = alice.get(first.json()["link"][1]["url"])
    assert found(second) == ["Rivera", "Smith"]
    assert links(second)["previous"]["_offset"] == ["0"]
    assert "next" not in links(second)


def test_links_repeat_the_search(north, alice):
    response = search(alice, name="r", birthdate="ge1900", _count=1)
    assert links(response)["next"] == {
        "name": ["r"],
        "birthdate": ["ge1900"],
        "_count": ["1"],
        "_offset": ["1"],
    }


def test_count_defaults_to_20_and_is_capped_at_100(cast, alice):
    for i in range(25):
        make_patient(cast.north, family=f"Page{chr(97 + i)}")

    assert len(found(search(alice))) == 20
    capped = search(alice, _count=1000)
    assert len(found(capped)) == 25
    assert links(capped)["self"]["_count"] == ["100"]


def test_count_zero_gives_only_the_total(north, alice):
    response = search(alice, _count=0)
    assert response.json()["total"] == 4
    assert "entry" not in response.json()


def test_an_offset_past_the_end_is_an_empty_page(north, alice):
    response = search(alice, _offset=50)
    assert found(response) == []
    assert links(response)["previous"]["_offset"] == ["0"]


def test_queries_do_not_grow_with_the_page(cast, alice):
    def queries_for(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert search(alice, _count=count).status_code == 200
        return len(ctx.captured_queries)

    for i in range(12):
        make_patient(cast.north, family=f"Many{chr(97 + i)}", race=["2106-3"], phone="555")
    assert queries_for(2) == queries_for(12)


# POST _search --------------------------------------------------------------------------------


def test_post_search_takes_a_form(north, alice):
    response = alice.post(
        "/fhir/R4/Patient/_search?_count=5",
        "family=rivera",
        content_type="application/x-www-form-urlencoded",
    )
    assert found(response) == ["Rivera"]
    assert links(response)["self"] == {"family": ["rivera"], "_count": ["5"], "_offset": ["0"]}


def test_post_search_refuses_another_body(north, alice):
    response = alice.post(
        "/fhir/R4/Patient/_search", {"family": "x"}, content_type="application/json"
    )
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


def test_get_on_the_search_url_is_405(alice):
    response = alice.get("/fhir/R4/Patient/_search")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


# Refused parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("foo=1", "foo"),
        ("_sort=family", "_sort"),
        ("name:exact=Rivera", "name:exact"),
        ("family:contains=iver", "family:contains"),
        ("birthdate=yesterday", "birthdate"),
        ("birthdate=1980-02-30", "birthdate"),
        ("birthdate=1980-13", "birthdate"),
        ("birthdate=0000", "birthdate"),
        ("birthdate=1980-03-04T10:00", "birthdate"),
        ("birthdate=sa1980", "birthdate"),
        ("birthdate=ge", "birthdate"),
        ("_count=abc", "_count"),
        ("_count=-1", "_count"),
        ("_count=1.5", "_count"),
        ("_count=99999999999999999999", "_count"),
        ("_count=1&_count=2", "_count"),
        ("_offset=-5", "_offset"),
        ("_offset=%C2%B2", "_offset"),
        ("active=maybe", "active"),
        ("name=a%00b", "name"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(north, alice, query, parameter):
    response = alice.get(f"/fhir/R4/Patient?{query}")

    assert response.status_code == 400, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [parameter]
    assert parameter.split(":")[0] in outcome["issue"][0]["diagnostics"]


def test_a_refused_search_is_not_recorded_as_done(north, alice):
    alice.get("/fhir/R4/Patient?foo=1")
    assert not AuditEvent.objects.filter(action=Action.SEARCH).exists()


def test_lenient_handling_ignores_unknown_parameters(north, alice):
    response = alice.get("/fhir/R4/Patient?family=rivera&foo=1", HTTP_PREFER="handling=lenient")
    assert found(response) == ["Rivera"]
    assert "foo" not in response.json()["link"][0]["url"]


def test_empty_values_constrain_nothing(north, alice):
    assert len(found(alice.get("/fhir/R4/Patient?name=&birthdate=&_count="))) == 4
