"""The lab interface's error queue (clinic manager): messages not filed, newest first, with
their problems; the raw message and our ACK; Retry (through the refiler the HL7 adapter
registers: a fake one here) and Dismiss with a reason; orders the labs did not accept; the
outsider's 404."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from medassist.audit.models import AuditEvent
from medassist.labs.models import InboundMessage, LabReport, OrderMessage
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
    from medassist.access.roles import Role
    from medassist.clinics.models import Membership

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
