"""The collection worklist: today's patients with tests to collect, roomed patients first; each
requisition's tubes in the order of draw with their additive, volume and inversions; fasting,
timed draws and handling in words; the same queries for 2 or 10 patients."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)  # 09:00 in Chicago
PAGE = "/labs/collect/"


@pytest.fixture
def at(monkeypatch):  # type: ignore[no-untyped-def]
    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"])

    def move(**delta: float) -> dt.datetime:
        state["now"] = T0 + dt.timedelta(**delta)
        return state["now"]

    return move


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def visit(cast, family, stage, *, start=None, clinic=None):  # type: ignore[no-untyped-def]
    patient = make_patient(clinic or cast.north, family=family, given="Pat")
    return make_encounter(patient, cast.bob, start=start or T0, stage=stage)


def test_roomed_patients_come_first_then_those_here_then_those_expected(cast, at):
    catalog = f.make_catalog(cast.north)
    south = f.make_catalog(cast.south)
    at(days=-1)
    yesterday = visit(cast, "Yesterday", Encounter.Stage.ARRIVED, start=T0 - dt.timedelta(days=1))
    f.order(cast, yesterday.patient, ("A1C",), catalog=catalog)  # ordered last visit
    at()
    make_encounter(yesterday.patient, cast.bob, start=T0 + dt.timedelta(hours=3), stage="scheduled")
    arrived = visit(cast, "Arrived", Encounter.Stage.ARRIVED)
    roomed = visit(cast, "Roomed", Encounter.Stage.ROOMED)
    left = visit(cast, "Left", Encounter.Stage.DONE)
    drawn = visit(cast, "Drawn", Encounter.Stage.ROOMED)
    walk_in = make_patient(cast.north, family="Walkin", given="Pat")
    southern = visit(cast, "Southern", Encounter.Stage.ROOMED, clinic=cast.south)
    for v in (arrived, roomed, left):
        f.order(cast, v.patient, ("CBC",), encounter=v, catalog=catalog)
    f.order(cast, walk_in, ("CBC",), catalog=catalog)  # from the patient's page, no visit
    f.collect(cast, f.order(cast, drawn.patient, ("TSH", "CBC"), encounter=drawn, catalog=catalog))
    f.order(
        cast, southern.patient, ("CBC",), encounter=southern, provider=cast.frank, catalog=south
    )

    html = client_for(cast.alice).get(PAGE).content.decode()
    found = [html.index(f"{name}, Pat") for name in ("Roomed", "Arrived", "Yesterday", "Walkin")]
    assert found == sorted(found), found
    assert "Roomed</span>" in html  # where the patient is, in words
    assert "No visit today" in html  # the walk-in
    for absent in ("Left, Pat", "Drawn, Pat", "Southern, Pat"):
        assert absent not in html
    assert "4 patients" in html
    assert "Could not be collected at an earlier attempt" not in html
    event = AuditEvent.objects.filter(entity_id=f"lab-worklist-{cast.north.pk}").get()
    assert event.action == Action.READ and "4 patients, 4 tests" in event.description


def test_each_requisition_shows_its_tubes_in_the_order_of_draw_fasting_and_handling(cast, at):
    v = visit(cast, "Rivera", Encounter.Stage.ROOMED)
    f.order(cast, v.patient, ("CBC", "CMP", "LIPID", "UA"), encounter=v)
    html = client_for(cast.alice).get(PAGE).content.decode()
    assert "Fasting 12 h required (Lipid panel): ask when the patient last ate." in html
    tubes = html[html.index('aria-label="Tubes in the order of draw"') :]
    tubes = tubes[: tubes.index("</ol>")]
    positions = [tubes.index(w) for w in ("<b>Gold</b>", "<b>Lavender</b>", "<b>Urine cup</b>")]
    assert positions == sorted(positions)
    gold = tubes[: tubes.index("<b>Lavender</b>")]
    assert 'class="tube tube-gold_sst"' in gold
    assert "additive: clot activator and gel" in gold and "2 mL" in gold and "invert 5×" in gold
    assert "for Comprehensive metabolic panel, Lipid panel" in gold
    assert "spin within 120 min of collection" in gold
    lavender = tubes[tubes.index("<b>Lavender</b>") : tubes.index("<b>Urine cup</b>")]
    assert "additive: K2EDTA" in lavender and "invert 8×" in lavender
    assert "Keep at room temperature; do not refrigerate." in lavender
    cup = tubes[tubes.index("<b>Urine cup</b>") :]
    assert "refrigerate (2–8 °C) after processing" in cup and "invert" not in cup


def test_what_an_earlier_attempt_could_not_collect_stays_for_another_collector(cast, at):
    from medassist.access.actor import Actor
    from medassist.labs.services import orders as services

    v = visit(cast, "Hardstick", Encounter.Stage.ROOMED)
    requisition = f.order(cast, v.patient, ("CBC",), encounter=v)
    services.record_not_collected(
        actor=Actor.for_user(cast.alice), requisition=requisition, reason="No vein", attempts=2
    )
    html = client_for(cast.alice).get(PAGE).content.decode()
    assert "Hardstick, Pat" in html and "Could not be collected at an earlier attempt" in html
    f.collect(cast, requisition, by=cast.bob)
    assert "Hardstick, Pat" not in client_for(cast.alice).get(PAGE).content.decode()


def test_a_timed_draw_says_not_before_until_its_time_comes(cast, at):
    v = visit(cast, "Timed", Encounter.Stage.ROOMED)
    f.order(cast, v.patient, ("PT",), encounter=v, collect_not_before=T0 + dt.timedelta(hours=2))
    html = client_for(cast.alice).get(PAGE).content.decode()
    assert "Timed draw: not before 11:00." in html
    at(hours=2, minutes=1)
    html = client_for(cast.alice).get(PAGE).content.decode()
    assert "Timed draw" not in html and "Timed, Pat" in html


def test_the_worklist_runs_the_same_queries_for_2_or_10_patients(cast, at):
    catalog = f.make_catalog(cast.north)

    def add(n):  # type: ignore[no-untyped-def]
        for i in range(n):
            v = visit(
                cast, f"P{i}x{n}", Encounter.Stage.ROOMED if i % 2 else Encounter.Stage.ARRIVED
            )
            f.order(cast, v.patient, ("CBC", "CMP", "LIPID"), encounter=v, catalog=catalog)
            f.order(cast, v.patient, ("UA",), encounter=v, catalog=catalog)

    client = client_for(cast.alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(PAGE).status_code == 200
        return len(queries)

    add(2)
    count()  # the session's first save
    two = count()
    add(8)
    assert count() == two
    assert "10 patients" in client.get(PAGE).content.decode()


def test_who_sees_the_worklist(cast, at):
    assert client_for(cast.alice).get(PAGE).status_code == 200
    assert client_for(cast.bob).get(PAGE).status_code == 200  # providers draw too
    for user in (cast.gwen, cast.dana):
        assert client_for(user).get(PAGE).status_code == 403
    partial = client_for(cast.alice).get(PAGE, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="worklist"' in partial and "<html" not in partial
    assert reverse("labs:worklist") == PAGE
