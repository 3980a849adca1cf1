"""The lab interface's error queue (clinic manager): messages not filed, newest first, with
their problems; the raw message and our ACK; Retry (through the refiler the HL7 adapter
registers: a fake one here) and Dismiss with a reason; orders the labs did not accept; the
outsider's 404."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.access.roles import Role
from medassist.audit.models import AuditEvent
from medassist.clinics.models import Membership
from medassist.labs.models import InboundMessage, LabReport, OrderMessage, PerformingLab
from medassist.labs.services import results as services
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient
from tests.test_outsiders import db_fingerprint

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(name: str, message: InboundMessage) -> str:
    return reverse(f"labs:{name}", kwargs={"message_id": message.public_id})


@pytest.fixture
def parsed():  # type: ignore[no-untyped-def]
    """A fake refiler: what each stored message "parses" to, by its primary key."""
    plan: dict = {}
    saved = list(services._refiler)
    services.register_refiler(
        lambda m: services.file_results(lab=m.lab, message=plan[m.pk], inbound=m)  # type: ignore[arg-type]
    )
    yield plan
    services._refiler[:] = saved


def test_the_queue_lists_the_managers_clinics_messages_not_filed_newest_first(cast):
    lab = f.make_lab(cast.north)
    old = f.queued_message(cast.north, lab, received_at=f.T0)
    new = f.queued_message(
        cast.north, lab, received_at=f.T0 + dt.timedelta(hours=1), status="rejected"
    )
    f.queued_message(cast.north, lab, status="filed")
    f.queued_message(cast.north, lab, status="dismissed", handled_at=f.T0)
    clinicless = f.queued_message(None, None, control_id="NOCLINIC")
    f.queued_message(cast.south, f.make_lab(cast.south), control_id="SOUTH1")
    response = client_for(cast.dana).get(reverse("labs:interface"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f'id="message-{new.public_id}"') < html.index(f'id="message-{old.public_id}"')
    assert html.count('id="message-') == 2
    assert "No order PL-UNKNOWN" in html
    assert str(clinicless.public_id) not in html and "SOUTH1" not in html
    assert AuditEvent.objects.filter(entity_type="MessageHeader", user_id=cast.dana.pk).exists()


def test_only_the_manager_sees_the_queue(cast):
    for user in (cast.alice, cast.bob, cast.carol):
        assert client_for(user).get(reverse("labs:interface")).status_code == 403


def test_the_queue_lists_orders_the_labs_did_not_accept(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    for status, control in (("error", "OM-AE"), ("failed", "OM-FAIL"), ("accepted", "OM-AA")):
        OrderMessage.objects.create(
            clinic=cast.north,
            requisition=order.requisition,
            control_id=control,
            status=status,
            ack_text="Unknown test code T99" if status == "error" else "",
            last_error="Connection refused" if status == "failed" else "",
        )
    html = client_for(cast.dana).get(reverse("labs:interface")).content.decode()
    assert "OM-AE" in html and "Unknown test code T99" in html
    assert "OM-FAIL" in html and "Connection refused" in html
    assert "OM-AA" not in html


def test_the_queue_lists_order_messages_waiting_with_a_reason_and_the_reason(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    waits = {
        "OM-NOADDR": ("NW", "the lab has no address: set it on the catalog page"),
        "OM-CA": ("CA", "waits for the new order OM-NOADDR to be accepted by the lab first"),
        "OM-JUST": ("NW", ""),  # queued a moment ago, nothing wrong: not the manager's business
    }
    rows = {
        control: OrderMessage.objects.create(
            clinic=cast.north,
            requisition=order.requisition,
            control_id=control,
            control=kind,
            status=OrderMessage.Status.QUEUED,
            last_error=why,
        )
        for control, (kind, why) in waits.items()
    }
    html = client_for(cast.dana).get(reverse("labs:interface")).content.decode()
    waiting = html.split('id="waiting-title"')[1]
    for control in ("OM-NOADDR", "OM-CA"):
        cell = waiting.split(f'id="order-message-{rows[control].public_id}"')[1].split("</tr>")[0]
        why = waits[control][1]
        assert f"<td>{why[0].upper()}{why[1:]}</td>" in cell and "Resend" not in cell
    assert "cancel · 0 attempts" in waiting
    assert "OM-JUST" not in html
    # not among those the labs did not accept: they were never sent
    assert "Every order sent was accepted." in html.split('id="waiting-title"')[0]


def test_the_queue_runs_constant_queries_with_order_messages(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dana = client_for(cast.dana)
    dana.get(reverse("labs:interface"))  # the session and the user, loaded once

    def queue(n: int) -> int:
        for _ in range(n):
            order = f.make_order(make_patient(cast.north), cast.bob, lab=f.make_lab(cast.north))
            for status, why in (("queued", "the lab has no address"), ("failed", "refused")):
                OrderMessage.objects.create(
                    clinic=cast.north,
                    requisition=order.requisition,
                    control_id=f"OM-{OrderMessage.objects.count()}",
                    status=status,
                    last_error=why,
                )
        with CaptureQueriesContext(connection) as queries:
            html = dana.get(reverse("labs:interface")).content.decode()
        assert html.count('id="order-message-') == OrderMessage.objects.count()  # all listed
        return len(queries)

    assert queue(2) == queue(8)


def test_the_detail_shows_the_raw_message_a_segment_a_line_the_problems_and_our_ack(cast):
    message = f.queued_message(cast.north, f.make_lab(cast.north))
    html = client_for(cast.dana).get(url("message", message)).content.decode()
    raw = html.split('id="raw"')[1].split("</pre>")[0]
    assert "\nPID|1||999||Nobody^Nemo\n" in raw and "\r" not in raw
    assert "OBR[1]-2" in html and "No order PL-UNKNOWN" in html
    ack = html.split('id="ack"')[1].split("</pre>")[0]
    assert "MSA|AE|" in ack and "\nERR||OBR^1^2|204|E" in ack


def test_retry_files_the_message_once_the_order_is_put_right(cast, parsed):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    lab = order.requisition.lab
    message = f.queued_message(cast.north, lab)
    # First the lab's placer number is still wrong: the new problems show, nothing changes.
    parsed[message.pk] = f.message_for(patient, f.report_for(order, placer="PL-TYPO"))
    dana = client_for(cast.dana)
    failed = dana.post(url("message-retry", message))
    assert failed.status_code == 422
    assert "PL-TYPO" in failed.content.decode()
    message.refresh_from_db()
    assert message.status == "error" and "PL-TYPO" in message.errors[0]["text"]
    assert not LabReport.objects.exists()
    # Put right (here: the message now names the order), the retry files it.
    parsed[message.pk] = f.message_for(patient, f.report_for(order))
    done = dana.post(url("message-retry", message))
    assert done.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.handled_by) == ("resolved", cast.dana)
    assert message.handled_at is not None
    report = LabReport.objects.get()
    assert list(message.reports.all()) == [report]
    assert report.order == order
    assert (
        AuditEvent.objects.filter(
            entity_type="MessageHeader", action="update", entity_id=str(message.public_id)
        ).count()
        == 2
    )
    # Handled: no second retry.
    again = dana.post(url("message-retry", message))
    assert again.status_code == 422 and LabReport.objects.count() == 1


def test_retry_without_the_hl7_interface_loaded_says_so(cast):
    saved = list(services._refiler)
    services._refiler.clear()
    try:
        message = f.queued_message(cast.north, f.make_lab(cast.north))
        response = client_for(cast.dana).post(url("message-retry", message))
        assert response.status_code == 422
        assert "not loaded" in response.content.decode()
    finally:
        services._refiler[:] = saved


def test_dismiss_requires_a_reason(cast):
    message = f.queued_message(cast.north, f.make_lab(cast.north))
    dana = client_for(cast.dana)
    refused = dana.post(url("message-dismiss", message), {"reason": " "})
    assert refused.status_code == 422
    assert "Say why the message is dismissed" in refused.content.decode()
    message.refresh_from_db()
    assert message.status == "error"
    done = dana.post(url("message-dismiss", message), {"reason": "Lab resent it as Q2"})
    assert done.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.resolution) == ("dismissed", "Lab resent it as Q2")
    assert message.handled_by == cast.dana
    audit = AuditEvent.objects.filter(entity_type="MessageHeader", action="update").get()
    assert "Lab resent it as Q2" in audit.description


def test_the_ma_and_the_provider_cannot_handle_the_queue(cast, parsed):
    message = f.queued_message(cast.north, f.make_lab(cast.north))
    for user in (cast.alice, cast.bob):
        client = client_for(user)
        assert client.get(url("message", message)).status_code == 404
        client.post(url("message-dismiss", message), {"reason": "no"})
        client.post(url("message-retry", message))
    message.refresh_from_db()
    assert message.status == "error"


@pytest.mark.parametrize("name", ["message", "message-retry", "message-dismiss"])
def test_an_outsider_gets_404_on_a_message_and_nothing_changes(cast, parsed, name):
    message = InboundMessage.objects.get(public_id=f.north_inbound_message(cast))
    # South's manager: the same role, another clinic.
    Membership.objects.create(user=cast.frank, clinic=cast.south, role=Role.CLINIC_MANAGER)
    carol, south_manager = client_for(cast.carol), client_for(cast.frank)
    before = db_fingerprint()
    for client in (carol, south_manager):
        got = (
            client.get(url(name, message))
            if name == "message"
            else client.post(url(name, message), {"reason": "x" * 20})
        )
        assert got.status_code == 404
    assert db_fingerprint() == before


# -- What the message page shows a manager (review of issue 6) -------------------------------------
def raw_of(html: str) -> str:
    return html.split('id="raw"')[1].split(">", 1)[1].split("</pre>")[0]


@pytest.mark.parametrize("status", ["filed", "resolved", "dismissed"])
def test_a_message_out_of_the_queue_shows_its_header_and_outcome_only(cast, status):
    order = f.make_order(make_patient(cast.north), cast.bob)
    raw = f.oru(order, control_id="X1", note="K 6.8 confirmed on repeat")
    message = f.queued_message(
        cast.north, order.requisition.lab, raw=raw, status=status, errors=[], handled_at=f.T0
    )
    response = client_for(cast.dana).get(url("message", message))
    assert response.status_code == 200
    html = response.content.decode()
    shown = raw_of(html)
    assert shown.startswith("MSH|") and "ORU^R01|X1" in shown
    assert "PID|" not in shown and "OBX|" not in shown and "6.8" not in html
    assert "HH" not in shown
    assert message.get_status_display() in html  # the outcome


def test_a_queued_message_masks_values_and_flags_for_a_manager(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    raw = f.oru(order, control_id="X2", note="K 6.8 confirmed on repeat")
    message = f.queued_message(cast.north, order.requisition.lab, raw=raw)
    html = client_for(cast.dana).get(url("message", message)).content.decode()
    shown = raw_of(html)
    assert f"PID|1||{order.patient.mrn}" in shown  # what the manager needs to put things right
    obx = next(line for line in shown.splitlines() if line.startswith("OBX|"))
    assert obx.split("|")[5] == "[value hidden: results are for the provider]"
    assert obx.split("|")[8] == "[value hidden: results are for the provider]"
    assert obx.split("|")[6:8] == ["mmol/L", "3.5-5.1"]
    assert "6.8" not in html and "|HH|" not in shown
    assert "results are for the provider" in html


def test_a_manager_who_also_reviews_results_sees_a_queued_messages_values(cast):
    Membership.objects.create(user=cast.bob, clinic=cast.north, role=Role.CLINIC_MANAGER)
    order = f.make_order(make_patient(cast.north), cast.bob)
    message = f.queued_message(cast.north, order.requisition.lab, raw=f.oru(order, control_id="X3"))
    shown = raw_of(client_for(cast.bob).get(url("message", message)).content.decode())
    assert "||6.8|mmol/L|3.5-5.1|HH|" in shown


def test_the_selector_masks_a_message_without_a_clinic(cast):
    from medassist.labs.selectors import results as selectors

    lab = f.make_lab(cast.north)
    order = f.make_order(make_patient(cast.north), cast.bob, lab=lab)
    message = f.queued_message(
        None,
        None,
        sender=f"LAB^{lab.facility}",
        raw=f.oru(order, control_id="X4"),
        status="rejected",
    )
    view = selectors.message_view(Actor.for_user(cast.dana), message.public_id)
    assert view.masked and not view.header_only
    assert "6.8" not in "\n".join(view.segments)


# -- Messages with no clinic, from one of the clinic's labs (review of issue 6) --------------------
def test_a_message_with_no_clinic_from_a_clinics_lab_facility_is_in_its_queue(cast):
    north_lab = f.make_lab(cast.north)
    typo = f.queued_message(
        None, None, sender=f"LAB^{north_lab.facility}", control_id="TYPO1", status="rejected"
    )
    unknown = f.queued_message(
        None, None, sender="LAB^NOBODY", control_id="NOBODY1", status="rejected"
    )
    lookalike = f.queued_message(
        None, None, sender=f"LAB^X{north_lab.facility}", control_id="LOOKALIKE1"
    )
    html = client_for(cast.dana).get(reverse("labs:interface")).content.decode()
    assert f'id="message-{typo.public_id}"' in html and "not placed" in html
    assert str(unknown.public_id) not in html and str(lookalike.public_id) not in html
    assert client_for(cast.dana).get(url("message", typo)).status_code == 200
    assert client_for(cast.dana).get(url("message", unknown)).status_code == 404
    # South's manager, whose clinic has no lab with that facility id, does not see it.
    Membership.objects.create(user=cast.frank, clinic=cast.south, role=Role.CLINIC_MANAGER)
    south = client_for(cast.frank)
    assert str(typo.public_id) not in south.get(reverse("labs:interface")).content.decode()
    assert south.get(url("message", typo)).status_code == 404
    before = db_fingerprint()
    assert south.post(url("message-retry", typo)).status_code == 404
    assert south.post(url("message-dismiss", typo), {"reason": "not ours"}).status_code == 404
    assert db_fingerprint() == before


def test_retry_files_a_message_with_no_clinic_once_the_labs_identities_are_fixed(cast):
    assert services.refiler() is not None  # the HL7 adapter's own
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    lab = order.requisition.lab
    # The lab mistyped our facility id (MSH-6): received with no clinic, refused (AR).
    raw = f.oru(order, control_id="MSH6TYPO", clinic_facility="NROTH", value="4.2", flag="")
    message = f.queued_message(
        None, None, sender=f"LAB^{lab.facility}", raw=raw, status="rejected", control_id="MSH6TYPO"
    )
    dana = client_for(cast.dana)
    still = dana.post(url("message-retry", message))
    assert still.status_code == 422 and "Unknown sender" in still.content.decode()
    message.refresh_from_db()
    assert message.clinic_id is None and message.status == "rejected"
    # The manager records the id the lab uses for us; the retry files it into North.
    lab.clinic_facility = "NROTH"
    lab.save(update_fields=["clinic_facility"])
    done = dana.post(url("message-retry", message))
    assert done.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.clinic_id, message.lab_id) == (
        "resolved",
        cast.north.pk,
        lab.pk,
    )
    report = LabReport.objects.get()
    assert report.order == order and list(message.reports.all()) == [report]


def test_retry_does_not_file_a_message_with_no_clinic_into_another_clinic(cast):
    patient = make_patient(cast.south)
    north_lab = f.make_lab(cast.north)
    # The same reference lab (facility id) serves South too, under South's id for us.
    south_lab = PerformingLab.objects.create(
        clinic=cast.south,
        name="Prairie (South)",
        facility=north_lab.facility,
        clinic_facility="SOUTHX",
    )
    order = f.make_order(patient, cast.frank, lab=south_lab)
    message = f.queued_message(
        None,
        None,
        sender=f"LAB^{north_lab.facility}",
        status="rejected",
        raw=f.oru(order, control_id="SOUTHMSG", value="4.2", flag=""),
    )
    audits = AuditEvent.objects.count()
    denied = client_for(cast.dana).post(url("message-retry", message), follow=True)
    assert "now another clinic" in denied.content.decode()  # said on the page
    message.refresh_from_db()
    assert (message.clinic_id, message.lab_id, message.status) == (None, None, "rejected")
    assert not LabReport.objects.exists() and AuditEvent.objects.count() <= audits + 1
    with pytest.raises(PermissionDenied):
        services.retry_inbound(actor=Actor.for_user(cast.dana), message=message)


def test_the_queue_runs_constant_queries_with_messages_of_no_clinic(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lab = f.make_lab(cast.north)
    f.make_lab(cast.north)
    dana = client_for(cast.dana)
    dana.get(reverse("labs:interface"))  # the session and the user, loaded once

    def queue(n: int) -> int:
        for _ in range(n):
            f.queued_message(cast.north, lab)
            f.queued_message(None, None, sender=f"LAB^{lab.facility}", status="rejected")
        with CaptureQueriesContext(connection) as queries:
            assert dana.get(reverse("labs:interface")).status_code == 200
        return len(queries)

    assert queue(2) == queue(8)


# -- Resending an order message the lab did not accept ---------------------------------------------
def test_failed_and_error_order_messages_have_a_resend_button(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    rows = {
        status: OrderMessage.objects.create(
            clinic=cast.north,
            requisition=order.requisition,
            control_id=f"OM-{status}",
            status=status,
        )
        for status in ("failed", "error", "rejected")
    }
    html = client_for(cast.dana).get(reverse("labs:interface")).content.decode()
    for status, row in rows.items():
        action = reverse("labs:order-message-resend", kwargs={"message_id": row.public_id})
        cell = html.split(f'id="order-message-{row.public_id}"')[1].split("</tr>")[0]
        if status == "rejected":
            assert action not in cell and "Resend" not in cell
        else:
            assert f'<form method="post" action="{action}"' in cell
            assert 'name="csrfmiddlewaretoken"' in cell and ">Resend<" in cell
