"""Sending orders end to end: bob orders -> queued OrderMessage -> ORM/OML over MLLP to the lab
test double on 127.0.0.1 -> ACK stored; errors, rejections, silence, retries, waiting for the
lab's address (no attempt spent), and the order of a requisition's messages."""

import dataclasses

import hl7
import pytest

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.events.services import MAX_ATTEMPTS
from medassist.hl7.ack import build_ack
from medassist.hl7.lab_double import LabDouble
from medassist.hl7.mllp import MllpServer
from medassist.hl7.tests.test_lab_orders import (
    deliver_due,
    field,
    hl7apy_validate,
    make_catalog,
    make_lab,
    place,
)
from medassist.labs.models import OrderMessage, PerformingLab
from medassist.labs.services import orders as order_services

pytestmark = pytest.mark.django_db


def give_address(cast, lab, port, **changes):  # type: ignore[no-untyped-def]
    """dana sets the lab's MLLP address on the catalog page (save_lab)."""
    fields = order_services.LabFields(
        name=lab.name,
        facility=lab.facility,
        clinic_facility=lab.clinic_facility,
        application=lab.application,
        message_type=lab.message_type,
        host="127.0.0.1",
        port=port,
        timeout_seconds=1,
    )
    return order_services.save_lab(
        actor=Actor.for_user(cast.dana),
        clinic_id=lab.clinic_id,
        fields=dataclasses.replace(fields, **changes),
        lab=lab,
    )


@pytest.fixture
def lab_double():  # type: ignore[no-untyped-def]
    with LabDouble("AA") as double:
        yield double


def order_cbc(cast, actor_of, lab, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return place(cast, actor_of, [make_catalog(lab)["cbc"]])


@pytest.mark.parametrize("kind", ["ORM^O01", "OML^O21"])
def test_an_order_is_sent_and_acknowledged(
    cast, actor_of, lab_double, kind, django_capture_on_commit_callbacks
):
    lab = make_lab(cast, double=lab_double, message_type=kind)
    requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.ACCEPTED, om.last_error
    assert om.ack_code == "AA" and om.attempts == 1 and om.answered_at is not None
    [received] = lab_double.received
    assert om.message == received  # frozen: what was sent is what is kept
    assert hl7apy_validate(received)
    order = requisition.orders.get()
    assert field(received, "MSH", 9).startswith(kind)
    assert field(received, "MSH", 10) == om.control_id
    assert field(received, "ORC", 2) == f"{order.placer_number}^NORTHFM"
    assert field(received, "OBR", 2) == f"{order.placer_number}^NORTHFM"
    assert str(hl7.parse(om.ack_raw).segment("MSA")[2]) == om.control_id
    disclosure = AuditEvent.objects.get(action="export", entity_id=str(requisition.public_id))
    assert disclosure.username == "system:lab" and disclosure.patient_id == requisition.patient_id
    assert order.placer_number in disclosure.description and "AA" in disclosure.description
    assert OutboxMessage.objects.get(kind="lab.order").status == OutboxMessage.Status.SENT


def test_a_lab_error_is_kept_and_not_resent(cast, actor_of, django_capture_on_commit_callbacks):
    with LabDouble("AE", error_location="OBR-4", error_text="Test 005009 not on file") as double:
        lab = make_lab(cast, double=double)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
        om = OrderMessage.objects.get(requisition=requisition)
        assert om.status == OrderMessage.Status.ERROR and om.ack_code == "AE"
        assert om.ack_errors[0]["location"] == "OBR-4"
        assert om.ack_errors[0]["text"] == "Test 005009 not on file"
        assert om.ack_text == "OBR-4: Test 005009 not on file"
        deliver_due()
        assert len(double.received) == 1  # not sent twice
    event = AuditEvent.objects.get(action="export", entity_id=str(requisition.public_id))
    assert event.outcome == "failed"


def test_a_rejection(cast, actor_of, django_capture_on_commit_callbacks):
    with LabDouble("AR") as double:
        lab = make_lab(cast, double=double)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
        deliver_due()
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.REJECTED and om.ack_code == "AR"
    assert "rejected" in om.ack_text.lower()
    assert om.attempts == 1


def test_silence_is_retried_with_the_same_control_id_and_the_same_bytes(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with LabDouble("AA", script=("timeout",)) as double:
        lab = make_lab(cast, double=double)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
        om = OrderMessage.objects.get(requisition=requisition)
        assert om.status == OrderMessage.Status.QUEUED and "no reply" in om.last_error
        frozen = om.message
        outbox = OutboxMessage.objects.get(kind="lab.order")
        assert outbox.status == OutboxMessage.Status.QUEUED and outbox.attempts == 1
        assert outbox.available_at > clock.now()  # backoff
        deliver_due()
        om.refresh_from_db()
        assert om.status == OrderMessage.Status.ACCEPTED and om.attempts == 2
        assert om.message == frozen
        # The lab stored the first copy and recognised the second by its MSH-10.
        assert len(double.received) == 1 and double.duplicates == 1
        assert double.modes_used == ["timeout", "AA"]


def test_a_lab_that_hangs_up_fails_after_the_last_attempt(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with LabDouble("close") as double:
        lab = make_lab(cast, double=double)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
        for _ in range(MAX_ATTEMPTS):
            deliver_due()
        assert len(double.modes_used) == MAX_ATTEMPTS
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.FAILED and om.attempts == MAX_ATTEMPTS
    assert "closed the connection" in om.last_error
    assert OutboxMessage.objects.get(kind="lab.order").status == OutboxMessage.Status.FAILED
    assert not AuditEvent.objects.filter(action="export").exists()  # nothing reached the lab


def test_nothing_listening(cast, actor_of, django_capture_on_commit_callbacks):
    with LabDouble() as double:
        port = double.port
    lab = make_lab(cast, host="127.0.0.1", port=port)
    requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.QUEUED and "could not connect" in om.last_error


def test_a_lab_without_an_address_keeps_the_order_waiting_and_spends_no_attempt(
    cast, actor_of, lab_double, django_capture_on_commit_callbacks
):
    lab = make_lab(cast)  # no host, no port yet (go-live day)
    requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    for _ in range(MAX_ATTEMPTS + 2):  # `medassist events run`, again and again
        deliver_due()
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.QUEUED and om.message == "" and om.attempts == 0
    assert om.last_error == "the lab has no address: set it on the catalog page"
    [outbox] = OutboxMessage.objects.filter(kind="lab.order")
    assert outbox.status == OutboxMessage.Status.SKIPPED and outbox.attempts == 1
    assert "waiting: the lab has no address" in outbox.detail
    with django_capture_on_commit_callbacks(execute=True):
        give_address(cast, lab, lab_double.port)
    assert lab_double.received == []  # not in dana's request: the next `events run` sends it
    deliver_due()
    om.refresh_from_db()
    assert om.status == OrderMessage.Status.ACCEPTED and om.attempts == 1 and om.last_error == ""
    assert len(lab_double.received) == 1
    saved = AuditEvent.objects.filter(entity_id=str(lab.public_id)).latest("id")
    assert "1 waiting order message(s) queued to send" in saved.description


def test_saving_the_lab_again_queues_nothing_twice(
    cast, actor_of, lab_double, django_capture_on_commit_callbacks
):
    lab = make_lab(cast)
    order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    give_address(cast, lab, lab_double.port)
    give_address(cast, lab, lab_double.port)  # saved twice before `events run`
    assert OutboxMessage.objects.filter(kind="lab.order", status="queued").count() == 1
    deliver_due()
    assert len(lab_double.received) == 1 and lab_double.duplicates == 0


def test_an_order_collected_while_waiting_goes_out_with_its_specimen(
    cast, actor_of, lab_double, django_capture_on_commit_callbacks, settings
):
    from medassist.hl7.tests.test_lab_orders import collect

    settings.TIME_ZONE = "America/Chicago"
    lab = make_lab(cast, message_type="OML^O21")
    requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    collect(cast, actor_of, requisition)
    give_address(cast, lab, lab_double.port)
    deliver_due()
    [received] = lab_double.received
    specimen = requisition.orders.get().specimens.get()
    assert field(received, "SPM", 2) == f"{specimen.accession}&NORTHFM"
    drawn = clock.localtime(specimen.collected_at).strftime("%Y%m%d%H%M%S%z")
    assert drawn[-5:] in ("-0600", "-0500")  # Chicago's offset, not +0000
    assert field(received, "OBR", 7) == drawn


def test_a_cancel_never_overtakes_its_new_order(cast, actor_of, django_capture_on_commit_callbacks):
    with LabDouble("AA", script=("close",)) as double:
        lab = make_lab(cast, double=double)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
        assert double.received == []  # the lab hung up on the new order
        with django_capture_on_commit_callbacks(execute=True):
            order_services.cancel_order(
                actor=actor_of(cast.bob), order=requisition.orders.get(), reason="wrong patient"
            )
        assert double.received == []  # the cancel waited for it
        cancel = OrderMessage.objects.get(requisition=requisition, control="CA")
        assert cancel.status == "queued" and cancel.attempts == 0
        assert "waits for the new order" in cancel.last_error
        deliver_due()  # the new order goes, is accepted, and the cancel is queued behind it
        deliver_due()
        controls = [str(hl7.parse(m).segment("ORC")[1]) for m in double.received]
    assert controls == ["NW", "CA"]
    assert set(OrderMessage.objects.values_list("status", flat=True)) == {"accepted"}


class _AnswersWithOrl(MllpServer):
    """A lab whose engine answers orders with an ORL^O22 (an application response)."""

    def __init__(self, control_id: str = "") -> None:
        super().__init__(self._answer)
        self.control_id = control_id

    def _answer(self, message: str) -> str:
        ack = build_ack(message, "AA", profile=None)
        ack = ack.replace("|ACK^O21^ACK|", "|ORL^O22^ORL_O22|").replace(
            "|ACK^O01^ACK|", "|ORL^O22^ORL_O22|"
        )
        if self.control_id:
            msa = ack.split("\r")[1].split("|")
            msa[2] = self.control_id
            ack = ack.replace(ack.split("\r")[1], "|".join(msa))
        return ack


def test_an_order_response_counts_as_the_acknowledgement(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with _AnswersWithOrl() as server:
        lab = make_lab(cast, host="127.0.0.1", port=server.port, message_type="OML^O21")
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.ACCEPTED, om.last_error
    assert "ORL^O22" in om.ack_raw


def test_an_acknowledgement_of_another_message_is_not_taken(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with _AnswersWithOrl(control_id="SOMETHING-ELSE") as server:
        lab = make_lab(cast, host="127.0.0.1", port=server.port)
        requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == OrderMessage.Status.QUEUED
    assert "acknowledged SOMETHING-ELSE" in om.last_error


def test_a_disabled_lab_keeps_the_message_waiting(
    cast, actor_of, lab_double, django_capture_on_commit_callbacks
):
    lab = make_lab(cast, double=lab_double)
    requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])  # queued, not yet run
    PerformingLab.objects.filter(pk=lab.pk).update(enabled=False)
    deliver_due()
    om = OrderMessage.objects.get(requisition=requisition)
    assert om.status == "queued" and "turned off" in om.last_error and om.attempts == 0
    assert lab_double.received == []
    give_address(cast, lab, lab_double.port, enabled=True)  # turned on again
    deliver_due()
    om.refresh_from_db()
    assert om.status == "accepted" and len(lab_double.received) == 1


@pytest.mark.parametrize("kind", ["ORM^O01", "OML^O21"])
def test_after_collection_the_lab_is_told_the_tubes_by_a_change_order(
    cast, actor_of, lab_double, kind, django_capture_on_commit_callbacks
):
    """The new order goes when it is placed, before anything is drawn; the collection then
    sends a change order (ORC-1 XO) with the collection time (OBR-7) and, in OML, each tube's
    accession (SPM-2), so the tube that reaches the lab matches its order."""
    from medassist.hl7.tests.test_lab_orders import collect

    lab = make_lab(cast, double=lab_double, message_type=kind)
    requisition = order_cbc(cast, actor_of, lab, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        collect(cast, actor_of, requisition)
    new, change = OrderMessage.objects.filter(requisition=requisition).order_by("pk")
    assert (new.control, change.control) == ("NW", "XO")
    assert change.status == OrderMessage.Status.ACCEPTED, change.last_error
    first, second = lab_double.received
    assert field(first, "ORC", 1) == "NW" and field(first, "OBR", 7) == ""
    assert field(second, "ORC", 1) == "XO"
    order = requisition.orders.get()
    specimen = order.specimens.get()
    assert field(second, "ORC", 2) == f"{order.placer_number}^NORTHFM"
    drawn = clock.localtime(specimen.collected_at).strftime("%Y%m%d%H%M%S%z")
    assert field(second, "OBR", 7) == drawn
    if kind == "OML^O21":
        assert field(second, "SPM", 2) == f"{specimen.accession}&NORTHFM"
    assert hl7apy_validate(second)
