"""The chain of custody after collection: processing (centrifuge, aliquot, cold), the courier's
manifest, the hand-off, the lab's receipt entered by hand, the specimen's trail in order, and
the pending-specimens board with its overdue rules (on a frozen clock)."""

import datetime as dt
import io
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.labs.models import (
    CustodyEvent,
    LabOrder,
    LabTest,
    Manifest,
    OrderMessage,
    PerformingLab,
    Specimen,
)
from medassist.labs.selectors.orders import overdue_reason
from medassist.labs.services import orders as services
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)  # 09:00 in Chicago


@pytest.fixture
def at(monkeypatch):  # type: ignore[no-untyped-def]
    """The clock, set by the test: at(hours=1.5) moves it to T0 + 1 h 30."""
    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"])

    def move(**delta: float) -> dt.datetime:
        state["now"] = T0 + dt.timedelta(**delta)
        return state["now"]

    return move


def refusal(excinfo) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    name, errors = next(iter(excinfo.value.error_dict.items()))
    return name, errors[0].code


def alice(cast) -> Actor:  # type: ignore[no-untyped-def]
    return Actor.for_user(cast.alice)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def steps(specimen) -> list[str]:  # type: ignore[no-untyped-def]
    return list(specimen.custody.order_by("at", "id").values_list("step", flat=True))


# -- Processing ----------------------------------------------------------------------------------


def test_centrifuging_in_time_is_recorded_with_who_when_and_how_long(cast, at):
    gold, lavender = f.labelled(cast, f.order(cast, make_patient(cast.north), ("CMP", "CBC")))
    when = at(minutes=45)
    done = services.process_specimen(
        actor=alice(cast), specimen=gold, spun_minutes=10, refrigerated=False
    )
    assert done.warnings == []
    gold.refresh_from_db()
    assert gold.status == "processed"
    event = gold.custody.get(step="spun")
    assert (event.at, event.by, event.detail) == (
        when,
        cast.alice,
        "10 min, 45 min after collection",
    )
    assert AuditEvent.objects.filter(
        entity_id=str(gold.public_id), action=Action.UPDATE, description__contains="Centrifuged"
    ).exists()


def test_a_late_centrifuge_is_recorded_and_warned_about(cast, at):
    gold = f.labelled(cast, f.order(cast, make_patient(cast.north), ("CMP",)))[0]
    at(hours=3)
    done = services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10)
    assert done.warnings == [
        "Centrifuged 180 min after collection; Comprehensive metabolic panel must be spun "
        "within 120 min. Recorded: tell the provider; the lab may reject it and it may need to be "
        "drawn again."
    ]
    assert gold.custody.get(step="spun").detail.endswith("(late: limit 120 min)")


def test_a_serum_tube_spun_before_it_clotted_is_warned_about(cast, at):
    gold = f.labelled(cast, f.order(cast, make_patient(cast.north), ("TSH",)))[0]
    at(minutes=10)
    done = services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10)
    assert "stand 30 min upright to clot" in done.warnings[0]


def test_processing_refusals(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC", "UA"))
    f.collect(cast, requisition)
    gold, lavender, cup = Specimen.objects.filter(requisition=requisition).order_by("id")
    with pytest.raises(ValidationError) as excinfo:
        services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10)
    assert refusal(excinfo) == ("general", "unlabelled")
    services.print_labels(actor=alice(cast), requisition=requisition)
    gold.refresh_from_db()
    lavender.refresh_from_db()
    cup.refresh_from_db()
    at(minutes=40)
    cases: list[tuple[Specimen, dict[str, Any], tuple[str, str]]] = [
        (lavender, {"spun_minutes": 10}, ("spun_minutes", "not_spun")),  # whole blood for a CBC
        (gold, {}, ("general", "nothing")),
        (gold, {"refrigerated": True, "frozen": True}, ("frozen", "both")),
        (gold, {"spun_minutes": 45}, ("spun_minutes", "range")),
        (gold, {"spun_minutes": 10, "at": T0 + dt.timedelta(hours=2)}, ("at", "future")),
        (gold, {"spun_minutes": 10, "at": T0 - dt.timedelta(hours=2)}, ("at", "before_collection")),
    ]
    for specimen, kw, expected in cases:
        with pytest.raises(ValidationError) as excinfo:
            services.process_specimen(actor=alice(cast), specimen=specimen, **kw)
        assert refusal(excinfo) == expected, kw
    assert not CustodyEvent.objects.filter(step="spun").exists()
    services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10)
    with pytest.raises(ValidationError) as excinfo:
        services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10)
    assert refusal(excinfo) == ("spun_minutes", "twice")
    # The urinalysis is refrigerated as its catalog entry says; a CBC stays at room temperature.
    assert (
        services.process_specimen(actor=alice(cast), specimen=cup, refrigerated=True).warnings == []
    )
    warned = services.process_specimen(actor=alice(cast), specimen=lavender, refrigerated=True)
    assert "keep at room temperature" in warned.warnings[0]
    with pytest.raises(PermissionDenied):
        services.process_specimen(actor=Actor.for_user(cast.gwen), specimen=gold, aliquoted=True)


# -- The manifest and the courier ----------------------------------------------------------------


def test_packing_makes_a_manifest_of_the_labs_specimens(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC"))
    specimens = f.ready_to_pack(cast, requisition)
    at(minutes=50)
    manifest = services.create_manifest(actor=alice(cast), lab=requisition.lab, specimens=specimens)
    assert manifest.number == f"NORTH-M{manifest.pk:06d}" and len(manifest.number) <= 20
    assert (manifest.packaged_by, manifest.packaged_at) == (
        cast.alice,
        T0 + dt.timedelta(minutes=50),
    )
    for s in Specimen.objects.filter(requisition=requisition):
        assert (s.status, s.manifest) == ("packaged", manifest)
        event = s.custody.get(step="packaged")
        assert event.detail == f"manifest {manifest.number} for Riverside Reference Laboratory"
    with pytest.raises(ValidationError) as excinfo:
        services.create_manifest(actor=alice(cast), lab=requisition.lab, specimens=specimens)
    assert refusal(excinfo) == ("specimens", "packed")


def test_packing_refuses_what_is_not_ready_or_not_for_that_lab(cast, at):
    lab = f.make_catalog(cast.north).lab
    unlabelled = f.order(cast, make_patient(cast.north, family="A"), ("CBC",))
    f.collect(cast, unlabelled)
    unspun = f.labelled(cast, f.order(cast, make_patient(cast.north, family="B"), ("CMP",)))
    other_lab = PerformingLab.objects.create(
        clinic=cast.north, name="Pathology Partners", facility="PPL", clinic_facility="NORTH"
    )
    ldh = LabTest.objects.create(
        clinic=cast.north, lab=other_lab, loinc="2532-0", name="LDH", lab_code="LDH",
        specimen_type="SER", container="gold_sst", spin_within_minutes=120,
    )  # fmt: skip
    elsewhere = services.place_order(
        actor=Actor.for_user(cast.bob),
        patient=make_patient(cast.north, family="C"),
        tests=[ldh],
        diagnoses=[services.Diagnosis("R53.83")],
    )[0]
    elsewhere_specimens = f.ready_to_pack(cast, elsewhere)
    cancelled = f.order(cast, make_patient(cast.north, family="D"), ("CBC",))
    cancelled_specimens = f.labelled(cast, cancelled)
    services.cancel_order(
        actor=Actor.for_user(cast.bob), order=cancelled.orders.get(), reason="duplicate"
    )
    cases = [
        (Specimen.objects.filter(requisition=unlabelled), "unlabelled"),
        (unspun, "not_spun"),
        (elsewhere_specimens, "lab"),
        (cancelled_specimens, "cancelled"),
        ([], "none"),
    ]
    for chosen, code in cases:
        with pytest.raises(ValidationError) as excinfo:
            services.create_manifest(actor=alice(cast), lab=lab, specimens=list(chosen))
        assert refusal(excinfo) == ("specimens", code)
    assert not Manifest.objects.exists()
    with pytest.raises(PermissionDenied):
        services.create_manifest(actor=Actor.for_user(cast.carol), lab=lab, specimens=unspun)


def test_the_courier_takes_the_bag_and_the_orders_go_with_it(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC"))
    manifest = f.packed(cast, requisition)
    with pytest.raises(ValidationError) as excinfo:
        services.hand_to_courier(actor=alice(cast), manifest=manifest, courier_name=" ")
    assert refusal(excinfo) == ("courier_name", "courier")
    with pytest.raises(ValidationError) as excinfo:
        services.hand_to_courier(
            actor=alice(cast),
            manifest=manifest,
            courier_name="Sam",
            handed_at=T0 + dt.timedelta(hours=1),
        )
    assert refusal(excinfo) == ("handed_at", "future")
    when = at(hours=1)
    services.hand_to_courier(actor=alice(cast), manifest=manifest, courier_name=" Sam  Okoro ")
    manifest.refresh_from_db()
    assert (manifest.courier_name, manifest.handed_at, manifest.handed_by) == (
        "Sam Okoro",
        when,
        cast.alice,
    )
    for s in Specimen.objects.filter(manifest=manifest):
        assert s.status == "in_transit"
        event = s.custody.get(step="courier")
        assert (event.by, event.by_name, event.at) == (cast.alice, "Sam Okoro", when)
    assert set(requisition.orders.values_list("stage", flat=True)) == {"in_transit"}
    with pytest.raises(ValidationError) as excinfo:
        services.hand_to_courier(actor=alice(cast), manifest=manifest, courier_name="Pat")
    assert refusal(excinfo) == ("courier_name", "already_handed")
    assert CustodyEvent.objects.filter(step="courier").count() == 2


def test_a_cancelled_test_stays_cancelled_when_its_tube_travels(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "TSH"))
    cmp, tsh = requisition.orders.order_by("id")
    manifest = f.packed(cast, requisition)
    services.cancel_order(actor=Actor.for_user(cast.bob), order=tsh, reason="not needed")
    services.hand_to_courier(actor=alice(cast), manifest=manifest, courier_name="Sam")
    assert dict(requisition.orders.values_list("id", "stage")) == {
        cmp.pk: "in_transit",
        tsh.pk: "cancelled",
    }


# -- The lab's receipt -------------------------------------------------------------------------


def test_the_manager_or_collector_enters_a_receipt_for_a_lab_without_an_interface(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC"))
    at(hours=1)
    manifest = f.handed(cast, requisition)
    gold, lavender = Specimen.objects.filter(manifest=manifest).order_by("id")
    with pytest.raises(PermissionDenied):
        services.record_received(actor=Actor.for_user(cast.gwen), specimen=gold)
    with pytest.raises(ValidationError) as excinfo:
        services.record_received(
            actor=alice(cast), specimen=gold, received_at=T0 + dt.timedelta(minutes=30)
        )
    assert refusal(excinfo) == ("received_at", "before_courier")
    when = at(hours=5)
    services.record_received(actor=Actor.for_user(cast.dana), specimen=gold, received_by="J. Lee")
    gold.refresh_from_db()
    assert gold.status == "received"
    event = gold.custody.get(step="received")
    assert (event.by, event.by_name, event.at) == (
        cast.dana,
        "Riverside Reference Laboratory (J. Lee)",
        when,
    )
    cmp = requisition.orders.get(test__lab_code="CMP")
    assert cmp.stage == "at_lab"
    assert requisition.orders.get(test__lab_code="CBC").stage == "in_transit"
    with pytest.raises(ValidationError) as excinfo:
        services.record_received(actor=alice(cast), specimen=gold)
    assert refusal(excinfo) == ("general", "not_in_transit")
    services.record_received(actor=alice(cast), specimen=lavender)
    assert set(requisition.orders.values_list("stage", flat=True)) == {"at_lab"}


def test_a_lab_with_an_interface_reports_receipt_itself(cast, at):
    requisition = f.order(cast, make_patient(cast.north), ("CBC",))
    PerformingLab.objects.filter(pk=requisition.lab.pk).update(host="lab.example", port=2575)
    at(hours=1)
    specimen = f.handed(cast, requisition).specimens.get()
    with pytest.raises(ValidationError) as excinfo:
        services.record_received(actor=alice(cast), specimen=specimen)
    assert refusal(excinfo) == ("general", "interface")


def test_a_not_yet_handed_specimen_has_no_receipt(cast):
    specimen = f.ready_to_pack(cast, f.order(cast, make_patient(cast.north), ("CBC",)))[0]
    with pytest.raises(ValidationError) as excinfo:
        services.record_received(actor=alice(cast), specimen=specimen)
    assert "hand it over first" in str(excinfo.value)


# -- The specimen's page: the whole trail, in order ------------------------------------------------


def test_the_specimen_page_shows_every_hand_in_order(cast, at):
    requisition = f.order(cast, make_patient(cast.north, family="Rivera"), ("CMP",))
    f.collect(cast, requisition)
    at(minutes=2)
    services.print_labels(actor=alice(cast), requisition=requisition)
    gold = Specimen.objects.get(requisition=requisition)
    at(minutes=40)
    services.process_specimen(actor=alice(cast), specimen=gold, spun_minutes=10, refrigerated=True)
    at(minutes=60)
    manifest = services.create_manifest(actor=alice(cast), lab=requisition.lab, specimens=[gold])
    at(minutes=90)
    services.hand_to_courier(actor=alice(cast), manifest=manifest, courier_name="Sam Okoro")
    at(hours=6)
    services.record_received(actor=alice(cast), specimen=gold)
    assert steps(gold) == [
        "collected", "labeled", "spun", "refrigerated", "packaged", "courier", "received",
    ]  # fmt: skip
    html = (
        client_for(cast.alice)
        .get(reverse("labs:specimen", kwargs={"specimen_id": gold.public_id}))
        .content.decode()
    )
    trail = html[html.index('aria-label="Chain of custody"') :]
    words = ["Collected", "Labelled", "Centrifuged", "Refrigerated", "Packaged with manifest",
             "Handed to courier", "Received by the lab"]  # fmt: skip
    positions = [trail.index(f"<b>{w}</b>") for w in words]
    assert positions == sorted(positions)
    assert "Sam Okoro" in trail and "Alice Moreno" in trail
    assert AuditEvent.objects.filter(
        entity_id=str(gold.public_id), action=Action.READ, entity_type="Specimen"
    ).exists()


def test_the_manifest_prints_with_its_patients_and_is_audited(cast, at):
    manifest = f.packed(
        cast, f.order(cast, make_patient(cast.north, family="Rivera"), ("CMP", "CBC"))
    )
    response = client_for(cast.alice).get(
        reverse("labs:manifest-pdf", kwargs={"manifest_id": manifest.public_id})
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert manifest.number in text and "RIVERA, Maria" in text and "03/04/1980" in text
    assert all(s.accession in text for s in manifest.specimens.all())
    assert "Courier (name, signature, time)" in " ".join(text.split())
    assert AuditEvent.objects.filter(
        entity_id=str(manifest.public_id), action=Action.PRINT
    ).exists()


# -- The pending board ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collected", "handed", "now", "reason"),
    [
        # pickup 4 h, transit 24 h (the lab's hours)
        (0, None, 3.99, ""),
        (0, None, 4, ""),  # exactly at the limit: not yet
        (0, None, 4.01, "not handed to the courier within 4 h of collection"),
        (0, None, 30, "not handed to the courier within 4 h of collection"),
        (0, 3.5, 5, ""),  # handed in time, in transit
        (0, 4, 5, ""),  # handed exactly at the pickup limit: in time
        # handed late: the missed pickup window stays on the board (stability), and transit
        # still counts from the hand-off
        (0, 6, 7, "handed to the courier 6 h after collection (pickup within 4 h)"),
        (0, 6, 30.01, "not received by the lab within 24 h of the hand-off"),
        (0, 1, 25, ""),
        (0, 1, 25.01, "not received by the lab within 24 h of the hand-off"),
    ],
)
def test_overdue_rules(collected, handed, now, reason):
    def hours(h):  # type: ignore[no-untyped-def]
        return None if h is None else T0 + dt.timedelta(hours=h)

    assert (
        overdue_reason(
            collected_at=hours(collected),  # type: ignore[arg-type]
            handed_at=hours(handed),
            pickup_hours=4,
            transit_hours=24,
            now=hours(now),  # type: ignore[arg-type]
        )
        == reason
    )


def test_the_board_shows_every_specimen_not_at_the_lab_with_its_age_and_why_it_is_overdue(cast, at):
    waiting = f.order(cast, make_patient(cast.north, family="Waiting"), ("CBC",))
    f.labelled(cast, waiting)
    travelling = f.order(cast, make_patient(cast.north, family="Travelling"), ("CBC",))
    at(minutes=30)
    f.handed(cast, travelling)
    arrived = f.order(cast, make_patient(cast.north, family="Arrived"), ("CBC",))
    specimen = f.handed(cast, arrived).specimens.get()
    services.record_received(actor=alice(cast), specimen=specimen)
    refused = f.order(cast, make_patient(cast.north, family="Refused"), ("CBC",))
    services.record_not_collected(
        actor=alice(cast), requisition=refused, reason="refused", attempts=0
    )
    dropped = f.order(cast, make_patient(cast.north, family="Dropped"), ("CBC",))
    f.labelled(cast, dropped)
    services.cancel_order(actor=Actor.for_user(cast.bob), order=dropped.orders.get(), reason="dup")
    f.labelled(
        cast,
        f.order(cast, make_patient(cast.south, family="Southern"), ("CBC",), provider=cast.frank),
        by=cast.carol,
    )

    page = reverse("labs:pending")
    at(hours=2)
    html = client_for(cast.alice).get(page).content.decode()
    assert "2 specimens, <b>0 overdue</b>" in html
    assert "WAITING" in html and "TRAVELLING" in html
    for absent in ("ARRIVED", "REFUSED", "DROPPED", "SOUTHERN"):
        assert absent not in html
    assert "2 h 00 min" in html  # the waiting one, collected at T0
    at(hours=4, minutes=1)
    html = client_for(cast.alice).get(page).content.decode()
    assert "1 overdue" in html
    row = html[html.index("WAITING") :]
    assert "not handed to the courier within 4 h of collection" in row[: row.index("</tr>")]
    at(hours=24, minutes=31)
    html = client_for(cast.alice).get(page).content.decode()
    row = html[html.index("TRAVELLING") :]
    assert "not received by the lab within 24 h of the hand-off" in row[: row.index("</tr>")]
    # HTMX refresh returns just the table
    partial = client_for(cast.alice).get(page, HTTP_HX_REQUEST="true").content.decode()
    assert partial.strip().startswith('<div id="pending"') and "<html" not in partial


def test_the_board_says_when_the_lab_does_not_have_the_order(cast, at):
    requisition = f.order(cast, make_patient(cast.north, family="Unsent"), ("CBC",))
    PerformingLab.objects.filter(pk=requisition.lab.pk).update(host="lab.example", port=2575)
    f.labelled(cast, requisition)
    html = client_for(cast.alice).get(reverse("labs:pending")).content.decode()
    assert "the lab does not have the order: waiting to send" in html
    OrderMessage.objects.filter(requisition=requisition).update(status="accepted", ack_code="AA")
    html = client_for(cast.alice).get(reverse("labs:pending")).content.decode()
    assert "the lab does not have the order" not in html


def test_the_board_runs_the_same_queries_for_2_or_10_specimens(cast, at):
    catalog = f.make_catalog(cast.north)

    def fill(n):  # type: ignore[no-untyped-def]
        for i in range(n):
            requisition = f.order(
                cast, make_patient(cast.north, family=f"P{i}x{n}"), ("CMP", "CBC"), catalog=catalog
            )
            if i % 2:
                f.handed(cast, requisition)
            else:
                f.labelled(cast, requisition)

    client = client_for(cast.alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("labs:pending")).status_code == 200
        return len(queries)

    fill(2)
    count()  # the first request of the session also saves the session
    two = count()
    fill(8)
    assert count() == two
    assert LabOrder.objects.count() == 20


def test_the_packing_page_lists_the_patients_and_records_the_read(cast, at):
    requisition = f.order(cast, make_patient(cast.north, family="Packer"), ("CBC",))
    f.ready_to_pack(cast, requisition)
    client = Client()
    client.force_login(cast.alice)
    page = client.get(
        reverse("labs:new-manifest"), {"lab": str(requisition.lab.public_id)}
    ).content.decode()
    assert "packer" in page.lower()
    read = AuditEvent.objects.filter(action=Action.READ, entity_type="Specimen").last()
    assert read is not None and read.clinic_id == cast.north.pk
    assert "specimens to pack" in read.description
