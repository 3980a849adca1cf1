"""Sending again: a new order the lab could not be reached with (failed) or answered with an
error (AE) is resent by the clinic manager, as it was (same bytes, same MSH-10); the cancel of
a new order the lab never accepted waits for it, never goes alone, and follows once it is."""

import re

import hl7
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import AuditEvent
from medassist.events.models import OutboxMessage
from medassist.events.services import MAX_ATTEMPTS
from medassist.hl7.lab_double import LabDouble
from medassist.hl7.tests.test_lab_orders import deliver_due, make_catalog, make_lab, place
from medassist.hl7.tests.test_lab_sending import give_address
from medassist.labs.models import OrderMessage, PerformingLab
from medassist.labs.services import orders as order_services

pytestmark = pytest.mark.django_db


def controls(double: LabDouble) -> list[str]:
    """ORC-1 of each message the lab stored, in arrival order."""
    return [str(hl7.parse(m).segment("ORC")[1]) for m in double.received]


def unreachable_port() -> int:
    with LabDouble() as double:
        return double.port  # closed on leaving: nothing listens there now


def test_a_cancel_never_goes_alone_and_follows_its_resent_new_order(
    cast, actor_of, django_capture_on_commit_callbacks
):
    """The reviewer's case: the lab is unreachable all morning (VPN down); the new order fails
    after its last attempt; bob cancels; the lab's address is put right. The lab must not get
    the cancel of an order it never had: the cancel waits until dana resends the new order,
    the lab accepts it, and then the cancel follows."""
    lab = make_lab(cast, host="127.0.0.1", port=unreachable_port())
    with django_capture_on_commit_callbacks(execute=True):
        requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
    for _ in range(MAX_ATTEMPTS):
        deliver_due()
    nw = OrderMessage.objects.get(requisition=requisition, control="NW")
    assert nw.status == OrderMessage.Status.FAILED and nw.attempts == MAX_ATTEMPTS
    frozen = nw.message
    with LabDouble("AA") as double:
        give_address(cast, lab, double.port)
        deliver_due()  # `medassist events run` after the address is fixed
        assert double.received == []  # a failed message goes again only when resent
        with django_capture_on_commit_callbacks(execute=True):
            order_services.cancel_order(
                actor=actor_of(cast.bob), order=requisition.orders.get(), reason="not needed"
            )
        for _ in range(MAX_ATTEMPTS + 1):
            deliver_due()
        assert double.received == []  # the cancel waited, spending no attempt
        ca = OrderMessage.objects.get(requisition=requisition, control="CA")
        assert ca.status == OrderMessage.Status.QUEUED and ca.attempts == 0
        assert ca.last_error == (
            f"waits for the new order {nw.control_id} to be accepted by the lab first "
            "(now: Could not reach the lab)"
        )
        with django_capture_on_commit_callbacks(execute=True):
            order_services.resend_order_message(actor=actor_of(cast.dana), message=nw)
        nw.refresh_from_db()
        assert nw.status == OrderMessage.Status.ACCEPTED and nw.attempts == 1
        assert double.received[0] == frozen  # the same bytes, the same MSH-10
        # The cancel was queued again when the new order was accepted, and went after it.
        assert controls(double) == ["NW", "CA"]
    ca.refresh_from_db()
    assert ca.status == OrderMessage.Status.ACCEPTED and ca.last_error == ""
    event = AuditEvent.objects.get(action="update", entity_id=str(nw.public_id))
    assert event.username == "dana" and event.patient_id == requisition.patient_id
    assert f"{nw.control_id} (NW; requisition {requisition.number})" in event.description
    assert "queued to be sent again; it was Could not reach the lab: could not connect" in (
        event.description
    )


def test_an_error_answer_is_resent_as_it_was(cast, actor_of, django_capture_on_commit_callbacks):
    """The lab answered AE (its compendium lacked the test that morning), then fixed it."""
    with LabDouble("AA", script=("AE",)) as double:
        lab = make_lab(cast, double=double)
        with django_capture_on_commit_callbacks(execute=True):
            requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
        om = OrderMessage.objects.get(requisition=requisition)
        assert om.status == OrderMessage.Status.ERROR and om.ack_code == "AE"
        with django_capture_on_commit_callbacks(execute=True):
            resent = order_services.resend_order_message(actor=actor_of(cast.dana), message=om)
        assert resent.pk == om.pk
        assert double.duplicates == 1  # the lab recognised the MSH-10 it already had
        assert double.modes_used == ["AE", "AA"]
    om.refresh_from_db()
    assert om.status == OrderMessage.Status.ACCEPTED and om.ack_code == "AA"
    assert om.ack_errors == [] and om.attempts == 1


def test_a_resend_clears_the_last_answer_and_queues_the_message(cast, actor_of):  # type: ignore[no-untyped-def]
    lab = make_lab(cast, host="127.0.0.1", port=unreachable_port())
    requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
    om = OrderMessage.objects.get(requisition=requisition)
    # As the handler leaves a message the lab answered AE.
    OutboxMessage.objects.filter(kind="lab.order").update(status=OutboxMessage.Status.SENT)
    OrderMessage.objects.filter(pk=om.pk).update(
        status=OrderMessage.Status.ERROR,
        ack_code="AE",
        ack_text="OBR-4: not on file",
        ack_errors=[{"severity": "E", "code": "207", "location": "OBR-4", "text": "not on file"}],
        attempts=1,
        message="MSH|frozen",
    )
    om.refresh_from_db()
    resent = order_services.resend_order_message(actor=actor_of(cast.dana), message=om)
    assert (resent.status, resent.attempts, resent.ack_code, resent.ack_text) == (
        "queued", 0, "", ""
    )  # fmt: skip
    assert resent.ack_errors == [] and resent.answered_at is None
    assert resent.message == "MSH|frozen" and resent.control_id == om.control_id
    [queued] = OutboxMessage.objects.filter(kind="lab.order", status="queued")
    assert queued.payload == {"message_id": om.pk}
    event = AuditEvent.objects.get(action="update", entity_id=str(om.public_id))
    assert event.description.endswith("it was Error (AE): OBR-4: not on file")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderMessage.Status.ACCEPTED, "is accepted (aa): only a message that failed"),
        (OrderMessage.Status.QUEUED, "is waiting to send: only a message that failed"),
        (OrderMessage.Status.REJECTED, "A rejected one (AR) needs the order put right"),
    ],
)
def test_only_a_failed_or_error_message_is_resent(cast, actor_of, status, expected):  # type: ignore[no-untyped-def]
    lab = make_lab(cast, host="127.0.0.1", port=unreachable_port())
    om = OrderMessage.objects.get(requisition=place(cast, actor_of, [make_catalog(lab)["cbc"]]))
    OrderMessage.objects.filter(pk=om.pk).update(status=status)
    om.refresh_from_db()
    with pytest.raises(ValidationError, match=re.escape(expected)) as caught:
        order_services.resend_order_message(actor=actor_of(cast.dana), message=om)
    assert caught.value.error_dict["general"][0].code == "not_resendable"
    om.refresh_from_db()
    assert om.status == status


@pytest.mark.parametrize(
    ("lab_fields", "code", "expected"),
    [
        ({}, "no_address", "The lab has no address: set it on the catalog page, then send"),
        (
            {"host": "127.0.0.1", "port": 9, "enabled": False},
            "lab_disabled",
            "The interface to Prairie Reference Laboratory is turned off",
        ),
    ],
)
def test_a_lab_that_cannot_take_it_is_named(cast, actor_of, lab_fields, code, expected):  # type: ignore[no-untyped-def]
    lab = make_lab(cast)
    om = OrderMessage.objects.get(requisition=place(cast, actor_of, [make_catalog(lab)["cbc"]]))
    OrderMessage.objects.filter(pk=om.pk).update(status=OrderMessage.Status.FAILED)
    PerformingLab.objects.filter(pk=lab.pk).update(**lab_fields)
    with pytest.raises(ValidationError, match=expected) as caught:
        order_services.resend_order_message(actor=actor_of(cast.dana), message=om)
    assert caught.value.error_dict["general"][0].code == code
    assert OrderMessage.objects.get(pk=om.pk).status == OrderMessage.Status.FAILED


@pytest.mark.parametrize("who", ["bob", "alice", "carol"])
def test_only_the_clinic_manager_resends(cast, actor_of, who):  # type: ignore[no-untyped-def]
    lab = make_lab(cast, host="127.0.0.1", port=unreachable_port())
    om = OrderMessage.objects.get(requisition=place(cast, actor_of, [make_catalog(lab)["cbc"]]))
    OrderMessage.objects.filter(pk=om.pk).update(status=OrderMessage.Status.FAILED)
    with pytest.raises(PermissionDenied, match="Only the clinic manager"):
        order_services.resend_order_message(actor=actor_of(getattr(cast, who)), message=om)
    assert OrderMessage.objects.get(pk=om.pk).status == OrderMessage.Status.FAILED


def test_a_failed_message_is_not_sent_by_a_stray_outbox_entry(cast, actor_of):  # type: ignore[no-untyped-def]
    """Only a message waiting to be sent goes: one the outbox gave up on stays failed even if
    an entry for it is queued (a double wake, an old retry), until the manager resends it."""
    with LabDouble("AA") as double:
        lab = make_lab(cast, double=double)
        requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])  # queued, not yet run
        OrderMessage.objects.filter(requisition=requisition).update(
            status=OrderMessage.Status.FAILED
        )
        deliver_due()
        assert double.received == []
    outbox = OutboxMessage.objects.get(kind="lab.order")
    assert outbox.status == OutboxMessage.Status.SKIPPED and "failed" in outbox.detail
    assert OrderMessage.objects.get(requisition=requisition).status == "failed"


def test_two_entries_for_one_message_send_it_once(cast, actor_of):  # type: ignore[no-untyped-def]
    with LabDouble("AA") as double:
        lab = make_lab(cast, double=double)
        requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])  # queued, not yet run
        om = OrderMessage.objects.get(requisition=requisition)
        order_services.wake_order_messages([om], idle_only=False)  # a second entry
        assert OutboxMessage.objects.filter(kind="lab.order", status="queued").count() == 2
        deliver_due()
        assert len(double.received) == 1 and double.duplicates == 0
    assert OrderMessage.objects.get(pk=om.pk).attempts == 1
