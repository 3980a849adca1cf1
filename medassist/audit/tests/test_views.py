import csv
import datetime as dt
import io
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medassist.access.actor import Actor
from medassist.access.roles import Role
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.audit.selectors import SORT_COLUMNS
from medassist.audit.services import record
from medassist.audit.tests.factories import verified_client
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.patients.services import grant_emergency_access
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
DAY = dt.date(2026, 11, 10)  # the test entries' day, well before the report's own entries


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)


def record_at(when: dt.datetime, user, action=Action.READ, *, patient=None, ip="10.0.0.1", **kw):  # type: ignore[no-untyped-def]
    with mock.patch.object(clock, "now", return_value=when):
        return record(Actor.for_user(user, ip=ip), action, "Patient", patient=patient, **kw)


def listed(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.pk for e in response.context["report"].page.object_list]


def on_day(**params: str) -> dict[str, str]:
    return {"from": DAY.isoformat(), "to": DAY.isoformat(), **params}


def test_erin_sees_alices_read_of_a_north_chart(client, erin_client, cast):
    patient = make_patient(cast.north, family="Okonkwo", given="Ada")
    client.force_login(cast.alice)
    assert client.get(f"/patients/{patient.public_id}/").status_code == 200

    response = erin_client.get("/audit/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Audit trail</h1>" in body
    read = AuditEvent.objects.get(action=Action.READ, patient=patient)
    assert read.pk in listed(response)
    assert f"MRN {patient.mrn}" in body and "alice" in body


def test_looking_at_the_report_is_itself_audited(erin_client, cast):
    erin_client.get("/audit/", {"user": "alice"})
    event = AuditEvent.objects.filter(username="erin", entity_type="AuditEvent").get()
    assert event.action == Action.SEARCH and event.outcome == Outcome.SUCCESS
    assert "user alice" in event.description


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_staff_without_the_auditor_role_get_403_and_the_attempt_is_audited(client, cast, who):
    client.force_login(getattr(cast, who))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    denied = AuditEvent.objects.filter(username=who, entity_type="AuditEvent")
    assert set(denied.values_list("outcome", flat=True)) == {Outcome.DENIED}
    assert denied.count() == 2


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    assert client.get("/audit/")["Location"].startswith("/account/login/")


def test_an_administrator_of_south_reads_only_south_and_may_not_export(cast):
    north_patient = make_patient(cast.north)
    south_patient = make_patient(cast.south)
    north = record_at(at(9), cast.alice, patient=north_patient)
    south = record_at(at(10), cast.carol, patient=south_patient)
    Membership.objects.create(user=cast.frank, clinic=cast.south, role=Role.ADMINISTRATOR)
    client = verified_client(cast.frank)

    response = client.get("/audit/", on_day())
    ids = listed(response)
    assert south.pk in ids and north.pk not in ids
    # an administrator reads the trail but may not export it
    assert "Export CSV" not in response.content.decode()
    assert client.get("/audit/export.csv").status_code == 403


# -- filters ---------------------------------------------------------------------------------


@pytest.fixture
def trail(cast):
    """A small trail on DAY: two patients, three users, several actions and outcomes."""
    north1 = make_patient(cast.north, family="Ames")
    north2 = make_patient(cast.north, family="Baker")
    south = make_patient(cast.south, family="Cruz")
    return {
        "north1": north1,
        "north2": north2,
        "south": south,
        "events": [
            record_at(at(8, 5), cast.alice, patient=north1, ip="10.0.0.3"),
            record_at(at(9, 10), cast.bob, Action.UPDATE, patient=north1, ip="10.0.0.1"),
            record_at(at(10, 15), cast.alice, Action.PRINT, patient=north2, ip="10.0.0.2"),
            record_at(
                at(11, 20),
                cast.carol,
                Action.READ,
                patient=south,
                ip="10.0.0.5",
                outcome=Outcome.DENIED,
            ),
            record_at(at(12, 25), cast.frank, Action.CREATE, patient=south, ip="10.0.0.4"),
        ],
    }


def test_filter_by_user(erin_client, trail):
    events = trail["events"]
    assert set(listed(erin_client.get("/audit/", on_day(user="alice")))) == {
        events[0].pk,
        events[2].pk,
    }
    # user names are matched whatever the case
    assert len(listed(erin_client.get("/audit/", on_day(user="BOB")))) == 1


def test_filter_by_patient_mrn_or_public_id(erin_client, trail):
    events = trail["events"]
    north1 = trail["north1"]
    by_mrn = listed(erin_client.get("/audit/", on_day(patient=north1.mrn)))
    by_id = listed(erin_client.get("/audit/", on_day(patient=str(north1.public_id))))
    assert set(by_mrn) == set(by_id) == {events[0].pk, events[1].pk}


def test_filter_by_action_and_outcome(erin_client, trail):
    events = trail["events"]
    assert listed(erin_client.get("/audit/", on_day(action="print"))) == [events[2].pk]
    assert listed(erin_client.get("/audit/", on_day(outcome="denied"))) == [events[3].pk]


def test_filter_by_dates_in_the_clinics_local_time(erin_client, cast):
    patient = make_patient(cast.north)
    # 11:30 pm in Chicago on the 10th is already the 11th in UTC.
    late = record_at(at(23, 30), cast.alice, patient=patient)
    next_day = record_at(at(0, 30, DAY + dt.timedelta(days=1)), cast.alice, patient=patient)
    before = record_at(at(7, 0, DAY - dt.timedelta(days=3)), cast.alice, patient=patient)

    assert listed(erin_client.get("/audit/", on_day())) == [late.pk]
    tenth_on = listed(erin_client.get("/audit/", {"from": "2026-11-10", "user": "alice"}))
    assert set(tenth_on) == {late.pk, next_day.pk}
    until_tenth = listed(erin_client.get("/audit/", {"to": "11/10/2026", "user": "alice"}))
    assert set(until_tenth) == {late.pk, before.pk}


# -- sorting ---------------------------------------------------------------------------------

SORT_VALUE = {
    "time": lambda e: e.occurred_at,
    "user": lambda e: e.username,
    "clinic": lambda e: e.clinic.name,
    "patient": lambda e: e.patient.mrn,
    "action": lambda e: e.action,
    "entity": lambda e: (e.entity_type, e.entity_id),
    "outcome": lambda e: e.outcome,
    "ip": lambda e: e.source_ip,
}


def test_every_sort_key_is_tested():
    assert set(SORT_VALUE) == set(SORT_COLUMNS)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("key", sorted(SORT_VALUE))
def test_sort_by_each_column(erin_client, trail, key, descending):
    events = AuditEvent.objects.filter(pk__in=[e.pk for e in trail["events"]]).select_related(
        "clinic", "patient"
    )
    expected = [
        e.pk for e in sorted(events, key=lambda e: (SORT_VALUE[key](e), e.pk), reverse=descending)
    ]
    sort = ("-" if descending else "") + key
    response = erin_client.get("/audit/", on_day(sort=sort))
    assert listed(response) == expected
    # the header of the sorted column says so, and links to the other direction
    body = response.content.decode()
    assert f'aria-sort="{"descending" if descending else "ascending"}"' in body
    assert f"sort={key if descending else '-' + key}" in body


def test_header_links_keep_the_filters(erin_client, trail):
    body = erin_client.get("/audit/", {"user": "alice", "action": "read"}).content.decode()
    assert 'href="/audit/?user=alice&amp;action=read&amp;sort=user"' in body


def test_an_unknown_sort_key_falls_back_to_newest_first(erin_client, trail):
    response = erin_client.get("/audit/", on_day(sort="password"))
    assert response.status_code == 200
    assert listed(response) == [e.pk for e in reversed(trail["events"])]


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "notadate"}, "From: Enter the first day as YYYY-MM-DD"),
        ({"to": "2026-13-45"}, "To: Enter the last day as YYYY-MM-DD"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "The last day is before the first day."),
        ({"action": "drop table"}, "Action: Choose an action from the list."),
        ({"outcome": "maybe"}, "Outcome: Choose an outcome from the list."),
        ({"user": "x" * 500}, "User: Ensure this value has at most 150 characters"),
    ],
)
def test_bad_filters_give_a_message_not_an_error(erin_client, trail, params, message):
    response = erin_client.get("/audit/", params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["report"].page is None  # nothing listed under filters not understood


def test_a_bad_page_number_shows_the_first_page(erin_client, trail):
    response = erin_client.get("/audit/", on_day(page="abc"))
    assert response.status_code == 200 and response.context["report"].page.number == 1


def test_bad_filters_on_export_give_400_with_the_reason(erin_client, trail):
    response = erin_client.get("/audit/export.csv", {"from": "notadate"})
    assert response.status_code == 400
    assert "From: Enter the first day" in response.content.decode()


# -- HTMX, pages -----------------------------------------------------------------------------


def test_htmx_gets_only_the_table(erin_client, trail):
    response = erin_client.get("/audit/", on_day(user="alice"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert [t.name for t in response.templates][0] == "audit/partials/_table.html"
    assert "<html" not in body and "<table>" in body and "Emergency access" not in body


def test_htmx_history_restore_gets_the_whole_page(erin_client, trail):
    response = erin_client.get(
        "/audit/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_fifty_entries_a_page(erin_client, cast):
    patient = make_patient(cast.north)
    for minute in range(55):
        record_at(at(9, minute), cast.alice, patient=patient)
    first = erin_client.get("/audit/", on_day())
    second = erin_client.get("/audit/", on_day(page="2"))
    assert len(listed(first)) == 50 and len(listed(second)) == 5
    assert "Page 1 of 2" in first.content.decode()
    assert not set(listed(first)) & set(listed(second))


def test_report_queries_do_not_grow_with_the_trail(erin_client, cast):
    patients = [make_patient(cast.north), make_patient(cast.south)]

    def add(n: int) -> None:
        for i in range(n):
            record_at(at(9, i % 60), cast.alice, patient=patients[i % 2])
            record_at(at(10, i % 60), cast.carol, Action.EMERGENCY_ACCESS, patient=patients[0])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert erin_client.get("/audit/", on_day()).status_code == 200
        return len(captured)

    erin_client.get("/audit/")  # warm the session
    add(5)
    few = queries()
    add(55)
    assert queries() == few


# -- emergency access ------------------------------------------------------------------------


def test_break_the_glass_is_shown_first_with_its_reason(erin_client, cast):
    patient = make_patient(cast.north, family="Lindqvist", birth_date=dt.date(1961, 5, 2))
    grant_emergency_access(
        actor=Actor.for_user(cast.carol),
        mrn=patient.mrn,
        birth_date=patient.birth_date,
        reason="Unconscious in our waiting room, need allergies",
    )

    body = erin_client.get("/audit/").content.decode()

    panel = body[body.index("Emergency access") : body.index("<h1>Audit trail</h1>")]
    assert "carol" in panel and f"MRN {patient.mrn}" in panel
    assert "Unconscious in our waiting room, need allergies" in panel


def test_no_emergency_access_says_so(erin_client, cast):
    assert "No emergency access" in erin_client.get("/audit/").content.decode()


# -- export ----------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_lists_the_filtered_entries_and_is_audited(erin_client, trail):
    response = erin_client.get("/audit/export.csv", on_day(user="alice"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    events = trail["events"]
    assert [int(r["id"]) for r in rows] == [events[2].pk, events[0].pk]
    first = rows[1]
    assert first["username"] == "alice" and first["patient_mrn"] == trail["north1"].mrn
    assert first["action"] == "read" and first["entity_type"] == "Patient"
    assert first["clinic"] == "north" and first["source_ip"] == "10.0.0.3"
    assert first["time"] == "2026-11-10T08:05:00-06:00"
    export = AuditEvent.objects.get(action=Action.EXPORT, entity_type="AuditEvent")
    assert export.username == "erin" and "user alice" in export.description


def test_export_contains_every_matching_entry_not_one_page(erin_client, cast):
    patient = make_patient(cast.north)
    for minute in range(60):
        record_at(at(9, minute), cast.alice, patient=patient)
    assert len(read_csv(erin_client.get("/audit/export.csv", on_day()))) == 60


def test_export_does_not_list_itself_but_the_next_one_does(erin_client, trail):
    first = read_csv(erin_client.get("/audit/export.csv"))
    assert "export" not in {r["action"] for r in first}
    second = read_csv(erin_client.get("/audit/export.csv"))
    assert "export" in {r["action"] for r in second}


def test_export_defuses_spreadsheet_formulas(erin_client, cast):
    patient = make_patient(cast.north)
    record_at(at(9), cast.alice, Action.EMERGENCY_ACCESS, patient=patient, reason="=HYPERLINK(1)")
    (row,) = read_csv(erin_client.get("/audit/export.csv", on_day()))
    assert row["reason"] == "'=HYPERLINK(1)"


def test_the_report_links_to_the_export_with_the_same_filters(erin_client, trail):
    body = erin_client.get("/audit/", {"user": "alice", "action": "read"}).content.decode()
    assert "/audit/export.csv?user=alice&amp;action=read" in body
