"""The ordering and specimen pages over HTTP: ordering from a visit (tests grouped by lab, ticked
from the keyboard), the patient's orders, cancelling, collecting (a wrong date of birth refused
on its field, nothing saved; a double submit collects once), "unable to collect", processing,
packing, the hand-off and the lab's receipt. Another clinic's MA gets 404 on every id route and
changes nothing."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.labs.models import (
    CustodyEvent,
    LabOrder,
    LabRequisition,
    LabTest,
    Manifest,
    OrderMessage,
    PerformingLab,
    Specimen,
)
from medassist.labs.services import orders as services
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(name: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"labs:{name}", kwargs=kwargs)


def labelled_controls(html: str) -> None:
    """Every checkbox, text box and list has a label pointing at it (keyboard and screen
    reader users reach each one by its name)."""
    for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if re.search(r'type="(hidden|submit)"', control) or 'id="patient-search"' in control:
            continue
        found = re.search(r'id="([^"]+)"', control)
        assert found, control
        assert f'for="{found.group(1)}"' in html, control


def error_of(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" role="alert" id="error-{name}">(.*?)</p>', html, re.S)
    assert found, f"no error on {name}"
    return found.group(1)


# -- Ordering --------------------------------------------------------------------------------


def test_the_provider_orders_from_the_visit_and_sees_the_orders(cast):
    catalog = f.make_catalog(cast.north)
    patient, visit = f.today_patient(cast, family="Rivera", given="Maria")
    bob = client_for(cast.bob)
    page = url("order-visit", encounter_id=visit.public_id)
    html = bob.get(page).content.decode()
    assert "<legend>Riverside Reference Laboratory</legend>" in html
    assert f'name="tests" value="{catalog["LIPID"].public_id}"' in html
    assert "LOINC 24331-1 · Gold top / SST (clot activator and gel) · fasting 12 h" in html
    labelled_controls(html)
    response = bob.post(
        page,
        {
            "tests": [str(catalog["LIPID"].public_id), str(catalog["CBC"].public_id)],
            "priority": "routine",
            "diagnoses": "E78.5 Hyperlipidemia, unspecified\nZ00.00",
            "note": "",
            "collect_not_before": "",
        },
    )
    requisition = LabRequisition.objects.get()
    assert response.status_code == 302
    assert (
        response["Location"]
        == url("patient-orders", patient_id=patient.public_id) + f"#req-{requisition.public_id}"
    )
    assert requisition.encounter == visit and requisition.orders.count() == 2
    assert requisition.diagnoses == [
        {"code": "E78.5", "display": "Hyperlipidemia, unspecified"},
        {"code": "Z00.00", "display": ""},
    ]
    html = bob.get(response["Location"]).content.decode()
    assert "requisition NORTH-REQ" in html and "Awaiting collection" in html
    for o in requisition.orders.all():
        assert o.placer_number in html
    assert "E78.5 Hyperlipidemia, unspecified; Z00.00" in html
    assert "Waiting to send" in html  # the order message, until the lab answers
    # the order page now says what is already waiting
    assert "Already ordered, waiting to be collected" in bob.get(page).content.decode()


def test_a_bad_order_is_shown_on_its_fields_keeping_the_ticks_and_nothing_is_saved(cast):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    page = url("order-patient", patient_id=patient.public_id)
    bob = client_for(cast.bob)
    response = bob.post(page, {"tests": [], "priority": "routine", "diagnoses": "E78.5"})
    assert response.status_code == 422
    assert "Choose at least one test." in error_of(response.content.decode(), "tests")
    cbc = str(catalog["CBC"].public_id)
    response = bob.post(page, {"tests": [cbc], "priority": "routine", "diagnoses": "anemia"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "Line 1: &#x27;anemia&#x27; is not an ICD-10-CM code" in error_of(html, "diagnoses")
    [tick] = re.findall(rf'<input type="checkbox" name="tests" value="{cbc}"[^>]*>', html)
    assert tick.endswith(" checked>"), tick
    response = bob.post(
        page, {"tests": ["not-a-uuid"], "priority": "routine", "diagnoses": "D64.9"}
    )
    assert response.status_code == 422
    other = f.make_catalog(cast.south)["CBC"]
    response = bob.post(
        page, {"tests": [str(other.public_id)], "priority": "routine", "diagnoses": "D64.9"}
    )
    assert (
        response.status_code == 422
        and "not in this clinic&#x27;s catalog" in response.content.decode()
    )
    assert not LabRequisition.objects.exists()


ORDER = {"priority": "routine", "diagnoses": "Z00.00", "note": "", "collect_not_before": ""}


def test_ordering_from_the_chart_attaches_todays_open_visit(cast):
    catalog = f.make_catalog(cast.north)
    patient, visit = f.today_patient(cast)
    # Not today's, not open, or not at a clinic where bob orders: none of these counts.
    make_encounter(patient, cast.bob, start=clock.now() - dt.timedelta(days=1), stage="arrived")
    make_encounter(patient, cast.bob, start=clock.now(), stage="done")
    Encounter.objects.create(
        patient=patient, clinic=cast.south, provider=cast.frank, period_start=clock.now()
    )
    bob = client_for(cast.bob)
    page = url("order-patient", patient_id=patient.public_id)
    html = bob.get(page).content.decode()
    at = clock.localtime(visit.period_start).strftime("%H:%M")
    assert f"For today's visit at {at} with {cast.bob.get_full_name()}." in html
    response = bob.post(page, {**ORDER, "tests": [str(catalog["CBC"].public_id)]})
    assert response.status_code == 302
    assert LabRequisition.objects.get().encounter == visit


@pytest.mark.parametrize("others", ["none", "closed", "two"])
def test_ordering_from_the_chart_without_exactly_one_open_visit_today_attaches_none(cast, others):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    if others == "closed":
        for stage in ("done", "cancelled", "no_show"):
            make_encounter(patient, cast.bob, start=clock.now(), stage=stage)
    elif others == "two":  # which one is meant? The provider orders from that visit.
        for _ in range(2):
            make_encounter(patient, cast.bob, start=clock.now(), stage="arrived")
    bob = client_for(cast.bob)
    page = url("order-patient", patient_id=patient.public_id)
    html = bob.get(page).content.decode()
    assert "For today's visit" not in html
    assert "Not for a visit: ordered from the chart." in html
    response = bob.post(page, {**ORDER, "tests": [str(catalog["CBC"].public_id)]})
    assert response.status_code == 302
    assert LabRequisition.objects.get().encounter is None


def test_only_providers_reach_the_order_page(cast):
    f.make_catalog(cast.north)
    patient, visit = f.today_patient(cast)
    for page in (
        url("order-patient", patient_id=patient.public_id),
        url("order-visit", encounter_id=visit.public_id),
    ):
        assert client_for(cast.alice).get(page).status_code == 403
        assert client_for(cast.bob).get(page).status_code == 200
    # the MA sees the patient's orders, without the provider's buttons
    html = (
        client_for(cast.alice)
        .get(url("patient-orders", patient_id=patient.public_id))
        .content.decode()
    )
    assert "No lab orders." in html and "Order lab tests" not in html


def test_the_patients_orders_page_runs_the_same_queries_for_2_or_10_requisitions(cast):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    page = url("patient-orders", patient_id=patient.public_id)
    client = client_for(cast.alice)

    def add(n):  # type: ignore[no-untyped-def]
        for i in range(n):
            requisition = f.order(
                cast, patient, ("CMP", "CBC") if i % 2 else ("UA",), catalog=catalog
            )
            # collected (so the same tests may be ordered again), some labelled too
            if i % 3 == 0:
                f.labelled(cast, requisition)
            else:
                f.collect(cast, requisition)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page).status_code == 200
        return len(queries)

    add(2)
    count()
    two = count()
    add(8)
    assert count() == two


def test_cancelling_from_the_page_asks_for_the_reason(cast):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC"))
    order = requisition.orders.order_by("id").first()
    assert order is not None
    page = url("cancel-order", order_id=order.public_id)
    bob = client_for(cast.bob)
    assert "Cancel Comprehensive metabolic panel" in bob.get(page).content.decode()
    assert bob.post(page, {"reason": ""}).status_code == 422
    assert client_for(cast.alice).post(page, {"reason": "ordered in error"}).status_code == 403
    response = bob.post(page, {"reason": "Ordered in error"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancelled_reason) == ("revoked", "Ordered in error")
    again = bob.post(page, {"reason": "again"})
    assert again.status_code == 422 and "already cancelled" in again.content.decode()
    assert OrderMessage.objects.filter(control="CA").count() == 1


# -- Collecting ------------------------------------------------------------------------------


def collect_form(patient, **changes) -> dict:  # type: ignore[no-untyped-def]
    data = {
        "confirm_name": "on",
        "confirm_birth_date": patient.birth_date.strftime("%m/%d/%Y"),
        "method": "VENIP",
        "body_site": "Left antecubital (median cubital vein)",
        "attempts": "1",
        "fasting_hours_reported": "13",
        "collected_at": "",
        "note": "",
    }
    data.update(changes)
    return data


def test_collecting_refuses_a_wrong_date_of_birth_on_its_field_then_collects_and_labels(cast):
    patient = make_patient(
        cast.north, family="Rivera", given="Maria", birth_date=dt.date(1980, 3, 4)
    )
    requisition = f.order(cast, patient, ("CBC", "LIPID"))
    page = url("collect", requisition_id=requisition.public_id)
    client = client_for(cast.alice)
    html = client.get(page).content.decode()
    assert "RIVERA, Maria" in html
    assert (
        "03/04/1980" not in html and "1980-03-04" not in html
    )  # the MA asks; the page does not tell
    assert "Fasting 12 h required (Lipid panel): ask when the patient last ate." in html
    assert html.index("<b>Gold</b>") < html.index("<b>Lavender</b>")
    labelled_controls(html)
    response = client.post(page, collect_form(patient, confirm_birth_date="04/03/1980"))
    assert response.status_code == 422
    assert "does not match this patient&#x27;s record" in error_of(
        response.content.decode(), "confirm_birth_date"
    )
    assert not Specimen.objects.exists() and not CustodyEvent.objects.exists()
    response = client.post(page, collect_form(patient, confirm_name=""))
    assert response.status_code == 422 and "Maria Rivera" in error_of(
        response.content.decode(), "confirm_name"
    )
    response = client.post(page, collect_form(patient, attempts="3"))
    assert "CLSI GP41" in error_of(response.content.decode(), "attempts")
    response = client.post(page, collect_form(patient, fasting_hours_reported="3"))
    assert response.status_code == 302 and response["Location"] == page + "#labels"
    assert Specimen.objects.count() == 2
    html = client.get(page).content.decode()
    assert "Not fasting: the patient last ate 3 h ago" in html  # the warning, for the provider
    assert "Print labels (PDF)" in html and "not_fasting" in html
    assert 'name="confirm_birth_date"' not in html  # nothing left to collect
    # The same form sent again (a double click, the back button): nothing collected twice.
    again = client.post(page, collect_form(patient))
    assert again.status_code == 302 and again["Location"] == page + "#labels"
    assert Specimen.objects.count() == 2
    assert "These specimens were already collected" in client.get(page).content.decode()


def test_unable_to_collect_from_the_page(cast):
    patient = make_patient(cast.north)
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    page = url("not-collected", requisition_id=requisition.public_id)
    client = client_for(cast.alice)
    bad = client.post(page, {"problem": "unable_to_collect", "reason": "", "attempts": "2"})
    assert bad.status_code == 422 and '<details id="unable" open>' in bad.content.decode()
    assert client.get(page).status_code == 405
    response = client.post(
        page, {"problem": "unable_to_collect", "reason": "No suitable vein", "attempts": "2"}
    )
    assert response.status_code == 302
    assert set(requisition.orders.values_list("stage", flat=True)) == {"not_collected"}
    html = client.get(url("collect", requisition_id=requisition.public_id)).content.decode()
    assert "Earlier attempts" in html and "No suitable vein (2 attempts)" in html


# -- After collection ------------------------------------------------------------------------


def test_process_pack_hand_over_and_receive_from_the_pages(cast):
    requisition = f.order(cast, make_patient(cast.north, family="Rivera"), ("CMP", "CBC"))
    gold, lavender = f.labelled(cast, requisition)
    client = client_for(cast.alice)
    page = url("process", specimen_id=gold.public_id)
    assert "Centrifuged for (minutes)" in client.get(page).content.decode()
    bad = client.post(page, {"spun_minutes": "", "at": ""})
    assert bad.status_code == 422 and "Tick what was done" in bad.content.decode()
    wrong = client.post(url("process", specimen_id=lavender.public_id), {"spun_minutes": "10"})
    assert "do not centrifuge it" in error_of(wrong.content.decode(), "spun_minutes")
    assert client.post(page, {"spun_minutes": "10", "refrigerated": "on"}).status_code == 302
    assert list(gold.custody.values_list("step", flat=True).order_by("id")) == [
        "collected", "labeled", "spun", "refrigerated",
    ]  # fmt: skip
    # Pack: the ready specimens are ticked; making the manifest leads to its page.
    html = client.get(url("new-manifest")).content.decode()
    assert f'value="{gold.public_id}" id="sp-{gold.public_id}" checked' in html
    labelled_controls(html)
    response = client.post(
        url("new-manifest"),
        {
            "lab": str(requisition.lab.public_id),
            "specimens": [str(gold.public_id), str(lavender.public_id)],
        },
    )
    manifest = Manifest.objects.get()
    assert response.status_code == 302 and response["Location"] == url(
        "manifest", manifest_id=manifest.public_id
    )
    html = client.get(response["Location"]).content.decode()
    assert "Waiting for the courier" in html and gold.accession in html
    handoff = url("handoff", manifest_id=manifest.public_id)
    assert client.post(handoff, {"courier_name": ""}).status_code == 422
    assert client.post(handoff, {"courier_name": "Sam Okoro"}).status_code == 302
    assert (
        "Handed to Sam Okoro"
        in client.get(url("manifest", manifest_id=manifest.public_id)).content.decode()
    )
    # The lab has no interface: its receipt is entered by hand.
    received = url("received", specimen_id=gold.public_id)
    assert (
        "Record the lab's receipt"
        in client.get(url("specimen", specimen_id=gold.public_id)).content.decode()
    )
    later = clock.localtime(clock.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(received, {"received_at": later}).status_code == 422
    assert client.post(received, {"received_by": "J. Lee"}).status_code == 302
    gold.refresh_from_db()
    assert gold.status == "received"


def test_packing_needs_a_lab_and_refuses_what_is_not_ready(cast):
    requisition = f.order(cast, make_patient(cast.north), ("CMP",))
    gold = f.labelled(cast, requisition)[0]
    PerformingLab.objects.create(
        clinic=cast.north, name="Second lab", facility="SEC", clinic_facility="N"
    )
    client = client_for(cast.alice)
    html = client.get(url("new-manifest")).content.decode()
    assert "Choose the lab." in html and 'id="pick-lab"' in html
    response = client.post(url("new-manifest"), {"specimens": [str(gold.public_id)]})
    assert response.status_code == 422 and "Choose the lab first." in response.content.decode()
    page = url("new-manifest") + f"?lab={requisition.lab.public_id}"
    html = client.get(page).content.decode()
    assert "centrifuge it first" in html
    assert f'value="{gold.public_id}" id="sp-{gold.public_id}">' in html  # not ticked
    response = client.post(
        url("new-manifest"),
        {"lab": str(requisition.lab.public_id), "specimens": [str(gold.public_id)]},
    )
    assert response.status_code == 422 and "centrifuge it first" in response.content.decode()
    assert not Manifest.objects.exists()
    assert client_for(cast.gwen).get(url("new-manifest")).status_code == 403


# -- Outsiders -------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_id_route_and_nothing_changes(cast):
    from tests.routes import id_routes

    makers = {
        "order-visit": f.north_visit,
        "order-patient": f.north_patient,
        "patient-orders": f.north_patient,
        "cancel-order": f.north_order,
        "collect": f.north_requisition,
        "not-collected": f.north_requisition,
        "labels-pdf": f.north_collected_requisition,
        "labels-zpl": f.north_collected_requisition,
        "specimen": f.north_specimen,
        "process": f.north_specimen,
        "received": f.north_specimen_in_transit,
        "manifest": f.north_manifest,
        "manifest-pdf": f.north_manifest,
        "handoff": f.north_manifest,
        "lab-edit": f.north_lab,
        "test-edit": f.north_test,
        "order-message-resend": f.north_failed_order_message,
    }
    from medassist.labs.views.orders import urlpatterns

    with_ids = {p.name for p in urlpatterns if "<uuid:" in str(p.pattern)}
    assert with_ids == set(makers), "every id route of this part has its North object"
    assert {f"labs/{p.pattern}" for p in urlpatterns if p.name in makers} <= set(id_routes())
    data = {
        "reason": "outsider was here",
        "confirm_name": "on",
        "confirm_birth_date": "03/04/1980",
        "method": "VENIP",
        "attempts": "1",
        "fasting_hours_reported": "13",
        "problem": "unable_to_collect",
        "spun_minutes": "10",
        "courier_name": "Mallory",
        "received_by": "Mallory",
        "name": "Changed",
        "facility": "X",
        "clinic_facility": "Y",
        "message_type": "ORM^O01",
        "timeout_seconds": "30",
        "pickup_hours": "4",
        "transit_hours": "24",
        "loinc": "2345-7",
        "lab_code": "X1",
        "specimen_type": "SER",
        "container": "gold_sst",
        "volume_ml": "1",
        "fasting_hours": "0",
        "handling": "room",
        "sort_order": "0",
        "priority": "stat",
        "diagnoses": "Z00.00",
    }

    def state():  # type: ignore[no-untyped-def]
        return (
            list(LabRequisition.objects.values_list("id", "number").order_by("id")),
            list(
                LabOrder.objects.values_list("id", "status", "stage", "cancelled_reason").order_by(
                    "id"
                )
            ),
            list(
                Specimen.objects.values_list(
                    "id", "status", "labels_printed", "manifest_id"
                ).order_by("id")
            ),
            CustodyEvent.objects.count(),
            list(Manifest.objects.values_list("id", "courier_name", "handed_at").order_by("id")),
            OrderMessage.objects.count(),
            list(PerformingLab.objects.values_list("id", "name", "facility").order_by("id")),
            list(LabTest.objects.values_list("id", "name", "loinc").order_by("id")),
        )

    carol = client_for(cast.carol)
    for name, make in makers.items():
        object_id = make(cast)
        param = next(p for p in urlpatterns if p.name == name).pattern.converters  # type: ignore[attr-defined]
        path = url(name, **{next(iter(param)): object_id})
        before = state()
        got = {"GET": carol.get(path).status_code, "POST": carol.post(path, data).status_code}
        assert state() == before, f"{name}: an outsider changed something"
        assert set(got.values()) <= {404, 405} and 404 in got.values(), (name, got)
        # exactly as for a record that does not exist
        missing = url(name, **{next(iter(param)): "00000000-0000-4000-8000-000000000000"})
        assert carol.get(missing).status_code == got["GET"], name
    # and the South MA's own lists show none of North's
    for page in (url("worklist"), url("pending"), url("new-manifest")):
        html = carol.get(page).content.decode()
        assert "Northerner" not in html.replace("NORTHERNER", "Northerner"), page
    assert Actor.for_user(cast.carol).clinics_with(services.Permission.COLLECT_SPECIMEN) == [
        cast.south.pk
    ]
