"""The demo's lab orders (medassist/demo/labs.py): made through the services, some waiting on the
collection worklist, the others with the courier and waiting for results."""

import re

import pytest

from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.demo.labs import CATALOG, COURIER, seed_orders
from medassist.events.models import OutboxMessage
from medassist.labs.models import (
    CustodyEvent,
    Handling,
    LabOrder,
    LabRequisition,
    Manifest,
    Specimen,
)
from medassist.labs.selectors.orders import worklist
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db


def test_todays_north_patients_get_open_orders_some_drawn_and_sent(cast):
    visits = [
        make_encounter(
            make_patient(cast.north, family=f"Demo{i}"),
            cast.bob,
            start=clock.now(),
            stage="arrived",
        )
        for i in range(6)
    ]
    done = seed_orders(cast.north, visits, cast.bob, cast.alice)
    assert (done.awaiting_collection, done.with_courier, done.requisitions) == (3, 3, 6)
    assert LabRequisition.objects.filter(encounter__in=visits).count() == 6
    waiting = LabOrder.objects.filter(stage="to_collect")
    sent = LabOrder.objects.filter(stage="in_transit")
    assert waiting.count() == 6 and sent.count() == 7
    assert {o.patient_id for o in waiting} == {v.patient_id for v in visits[0::2]}
    manifest = Manifest.objects.get()
    assert manifest.courier_name == COURIER and manifest.handed_by == cast.alice
    specimens = Specimen.objects.all()
    assert {s.status for s in specimens} == {"in_transit"}
    for s in specimens:
        trail = list(s.custody.order_by("at", "id").values_list("step", flat=True))
        assert trail[:2] == ["collected", "labeled"] and trail[-2:] == ["packaged", "courier"]
        if s.specimen_type in ("SER", "PLAS"):
            assert "spun" in trail
    # a new order per requisition, and a change order (the tubes) for each one drawn
    assert OutboxMessage.objects.filter(kind="lab.order").count() == 6 + 3
    assert AuditEvent.objects.filter(entity_type="Specimen").exists()
    assert CustodyEvent.objects.filter(step="courier").count() == specimens.count()
    # and the MA's worklist shows the three waiting
    board = worklist(f.Actor.for_user(cast.alice))
    assert [row.patient.family for row in board.patients] == ["Demo0", "Demo2", "Demo4"]


def test_patients_without_a_visit_can_be_given_too(cast):
    patients = [make_patient(cast.north, family="Solo")]
    done = seed_orders(cast.north, patients, cast.bob, cast.alice)
    assert done.awaiting_collection == 1
    assert LabRequisition.objects.get().encounter is None


def test_the_demo_lipid_and_cmp_tube_says_fasting_once(cast):
    visit = make_encounter(make_patient(cast.north), cast.bob, start=clock.now(), stage="arrived")
    seed_orders(cast.north, [visit], cast.bob, cast.alice)  # CMP, lipid panel and CBC
    [row] = worklist(f.Actor.for_user(cast.alice)).patients
    [item] = row.items
    # The 12 h of the lipid panel, once; the tube's own lines say no other number of hours.
    assert item.fasting_text == (
        "Fasting 12 h required (Lipid panel): ask when the patient last ate."
    )
    [gold] = [t for t in item.tubes if t.info.code == "gold_sst"]
    assert gold.tests == ("Comprehensive metabolic panel", "Lipid panel")
    assert "Water and needed medicines only." in gold.handling
    assert not [line for t in item.tubes for line in t.handling if "fasting" in line.lower()]


def test_no_demo_test_says_twice_what_its_tube_already_says():
    """The worklist shows a test's fasting hours and its handling in words of their own; the
    instructions add only what those do not say (no second, clashing fasting or storage
    message)."""
    for test in CATALOG:
        said = test.instructions.lower()
        assert "fast" not in said, test.lab_code
        if test.handling != Handling.ROOM_TEMPERATURE:
            assert not re.search(r"refrigerat|freez|light", said), test.lab_code
