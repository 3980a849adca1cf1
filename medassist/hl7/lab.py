"""Sending lab orders: the outbox handler for "lab.order".

The labs app queues an OrderMessage (with its MSH-10 and the orders it carries) in the same
transaction as the order or the cancel; after commit this handler builds the ORM^O01 or
OML^O21 the lab takes (PerformingLab.message_type) from the stored records, freezes it on the
OrderMessage (a retry sends the same bytes with the same control id, so the lab can recognise
a duplicate), sends it over MLLP to the lab and stores the ACK:
  - AA: accepted;
  - AE / AR: the lab's text and error locations are kept for the clinic manager, and the
    message is not resent (resending the same content would be refused again);
  - no answer, a refused connection or a broken one: the outbox retries with backoff
    (events.services.BACKOFF_MINUTES); after the last attempt the message is "failed", and
    the clinic manager may resend it (labs.services.orders.resend_order_message).
Only a message waiting to be sent ("queued") is sent: a failed or answered one goes again
only through that resend.

Waiting is not failing. A lab with no host or port, or turned off, spends none of the
message's attempts: the message waits ("queued", last_error saying why) and is queued for
sending again when the manager saves the lab with its address (labs.services.orders.save_lab;
`medassist events run` then sends it). A requisition's messages go in the order they were
queued, and a cancel (CA) goes only after the lab accepted the new order (NW): while the NW is
queued, failed, refused or in error, the CA waits; once the NW is accepted (resent, say), the
CA follows.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from django.db import transaction
from django.db.models import F, Q

from medassist.access.actor import Actor
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.events.services import MAX_ATTEMPTS, Skip, register_handler
from medassist.hl7 import mllp
from medassist.hl7.ack import Ack, error_list, exchange
from medassist.hl7.er7 import Sender
from medassist.hl7.lab_orders import (
    Diagnosis,
    LabOrderMessage,
    OrderedTest,
    SpecimenInfo,
    Visit,
    build_lab_order,
)
from medassist.hl7.people import local_time, patient_info, provider
from medassist.labs.models import (
    LabOrder,
    LabRequisition,
    OrderMessage,
    PerformingLab,
    Priority,
    Specimen,
    SpecimenType,
)
from medassist.labs.services.orders import LAB_ORDER_KIND, NO_ADDRESS, wake_order_messages

__all__ = ["APPLICATION", "build_message", "deliver_lab_order", "register"]

log = logging.getLogger("medassist.hl7")

#: MSH-3: who we are to every lab.
APPLICATION = "MEDASSIST"
#: An answer to an order may be a plain ACK or the order response of its message type.
_ANSWERS = ("ACK", "ORR", "ORL")
#: XCN-13 identifier type (HL70203) of the ids we give our users in ORC-12 / OBR-16 / PV1-7:
#: PRN, provider number — a number we assign (XCN-9 says who: our facility id).
_PROVIDER_NUMBER = "PRN"
FINAL = frozenset(
    {OrderMessage.Status.ACCEPTED, OrderMessage.Status.ERROR, OrderMessage.Status.REJECTED}
)
# FHIR request-priority → HL70485: stat S; asap and urgent A (both "as soon as possible",
# ahead of routine, behind stat); routine R.
_PRIORITY: dict[str, str] = {
    Priority.STAT: "S",
    Priority.ASAP: "A",
    Priority.URGENT: "A",
    Priority.ROUTINE: "R",
}


def _orders_of(message: OrderMessage) -> list[LabOrder]:
    """The orders the message carries: those the labs app linked to it; for a message queued
    without them, the requisition's tests (a new order) or its cancelled ones (a cancel)."""
    orders = list(message.orders.select_related("test").order_by("pk"))
    if orders:
        return orders
    everything = LabOrder.objects.filter(requisition_id=message.requisition_id)
    if message.control == "CA":
        everything = everything.filter(status=LabOrder.Status.REVOKED)
    return list(everything.select_related("test").order_by("pk"))


def _ordered_test(order: LabOrder, cancel: bool) -> OrderedTest:
    test = order.test
    # A container that could not be drawn (no vein, refused) is no specimen: its time, the time
    # of the failed attempt, must not become the collection time (OBR-7, SPM-17).
    collected = order.specimens.exclude(status=Specimen.Status.NOT_COLLECTED).order_by("pk")
    specimens = () if cancel else tuple(collected)
    fasting = [s.fasting_hours_reported for s in specimens if s.fasting_hours_reported is not None]
    notes: tuple[str, ...] = ()
    if test.fasting_hours and fasting:
        notes = (f"Patient reports fasting {min(fasting)} h (test asks {test.fasting_hours} h).",)
    return OrderedTest(
        placer_number=order.placer_number,
        filler_number=order.filler_number,
        loinc=test.loinc,
        name=test.name,
        lab_code=test.lab_code,
        specimen_type=test.specimen_type,
        specimen_type_text=SpecimenType(test.specimen_type).label,
        specimens=tuple(
            SpecimenInfo(
                accession=s.accession,
                specimen_type=s.specimen_type,
                specimen_type_text=SpecimenType(s.specimen_type).label,
                collected_at=local_time(s.collected_at),
                method=s.method,
            )
            for s in specimens
            if s.collected_at is not None
        ),
        notes=notes,
    )


def lab_order_message(message: OrderMessage) -> LabOrderMessage:
    """What the OrderMessage says, in the builder's plain values."""
    requisition = LabRequisition.objects.select_related(
        "patient", "patient__clinic", "encounter", "encounter__provider", "lab", "ordered_by"
    ).get(pk=message.requisition_id)
    lab: PerformingLab = requisition.lab
    clinic = requisition.patient.clinic
    cancel = message.control == "CA"
    orders = _orders_of(message)
    encounter = requisition.encounter
    # XCN-1 is our user id, so XCN-9 names us (our facility id, as in ORC-2) and XCN-13 says
    # PRN. The NPI (XCN-13 NPI, assigning authority CMS) would be better for the lab, but users
    # have no NPI field yet.
    who = {"assigning_authority": lab.clinic_facility, "id_type": _PROVIDER_NUMBER}
    ordering = provider(requisition.ordered_by, **who)
    if ordering is None:  # pragma: no cover (ordered_by is required)
        raise ValueError("the requisition has no ordering provider (ORC-12)")
    # Every TS in the clinic's local time with its offset (MSH-7, ORC-9, OBR-7, SPM-17).
    return LabOrderMessage(
        message_type=lab.message_type,
        control=message.control,
        control_id=message.control_id,
        sent_at=local_time(message.created_at),
        sender=Sender(
            application=APPLICATION,
            facility=lab.clinic_facility,
            receiving_application=lab.application,
            receiving_facility=lab.facility,
        ),
        patient=patient_info(requisition.patient),
        visit=(
            Visit(number=str(encounter.public_id), attending=provider(encounter.provider, **who))
            if encounter is not None
            else None
        ),
        requisition_number=requisition.number,
        ordered_at=local_time(requisition.ordered_at),
        ordering_provider=ordering,
        ordering_facility=clinic.name,
        priority=_PRIORITY.get(requisition.priority, "R"),
        diagnoses=tuple(
            Diagnosis(code=d["code"], display=d.get("display", ""))
            for d in requisition.diagnoses
            if d.get("code")
        ),
        note=requisition.note,
        cancel_reason="; ".join(o.cancelled_reason for o in orders if o.cancelled_reason)
        if cancel
        else "",
        tests=tuple(_ordered_test(o, cancel) for o in orders),
    )


def build_message(message: OrderMessage) -> str:
    """The ORM^O01 / OML^O21 for this OrderMessage (ValueError if it cannot be expressed)."""
    return build_lab_order(lab_order_message(message))


def _wait(om: OrderMessage, reason: str) -> NoReturn:
    """Not now, and not a failure: the message stays queued with the reason, its attempts
    untouched, and this outbox entry ends (Skip). It is queued for sending again when what it
    waits for happens: the lab saved with its address, or its new order accepted."""
    OrderMessage.objects.filter(pk=om.pk, status=OrderMessage.Status.QUEUED).update(
        last_error=reason[:300], updated_at=clock.now()
    )
    raise Skip(f"waiting: {reason}")


def _waits_for(om: OrderMessage) -> OrderMessage | None:
    """The earlier message of the requisition this one must follow: one still waiting to be
    sent, or a new order (NW) the lab has not accepted (a cancel must not go alone)."""
    return (
        OrderMessage.objects.filter(requisition_id=om.requisition_id, pk__lt=om.pk)
        .filter(
            Q(status=OrderMessage.Status.QUEUED)
            | (Q(control="NW") & ~Q(status=OrderMessage.Status.ACCEPTED))
        )
        .order_by("pk")
        .first()
    )


def _status(ack: Ack) -> str:
    if ack.accepted:
        return OrderMessage.Status.ACCEPTED
    if ack.rejected:
        return OrderMessage.Status.REJECTED
    return OrderMessage.Status.ERROR


def _ack_text(ack: Ack) -> str:
    """What the lab said in words: MSA-3 when it wrote one, else its ERR texts."""
    texts = [ack.text] if ack.text else []
    texts += [f"{e.location}: {e.text}" if e.location else e.text for e in ack.errors if e.text]
    return "; ".join(texts)[:500]


def deliver_lab_order(outbox: OutboxMessage) -> str:
    om = (
        OrderMessage.objects.select_related("requisition", "requisition__lab")
        .filter(pk=outbox.payload.get("message_id"))
        .first()
    )
    if om is None:
        raise Skip("the order message no longer exists")
    if om.status != OrderMessage.Status.QUEUED:
        # Answered, or failed: a failed message goes again only when the manager resends it.
        raise Skip(f"the order message is {om.status}, not waiting to be sent")
    lab: PerformingLab = om.requisition.lab
    if not lab.enabled:
        _wait(om, f"the lab interface to {lab.name} is turned off: turn it on on the catalog page")
    if not lab.host or not lab.port:
        _wait(om, NO_ADDRESS)
    earlier = _waits_for(om)
    if earlier is not None:
        what = "new order" if earlier.control == "NW" else "cancel"
        _wait(
            om,
            f"waits for the {what} {earlier.control_id} to be accepted by the lab first "
            f"(now: {earlier.get_status_display()})",
        )
    if not om.message:
        try:
            text = build_message(om)
        except ValueError as error:
            # The order cannot be expressed as a message: sending it again will not help.
            OrderMessage.objects.filter(pk=om.pk).update(
                status=OrderMessage.Status.FAILED,
                last_error=f"could not build the message: {error}"[:300],
                updated_at=clock.now(),
            )
            raise Skip(f"could not build the order message: {error}") from error
        OrderMessage.objects.filter(pk=om.pk, message="").update(message=text)
        om.refresh_from_db()
    # Claimed like the outbox claims its messages: should two outbox entries hold this message
    # (one woken while the other was about to give up waiting), only one sends it.
    claimed = OrderMessage.objects.filter(
        pk=om.pk, status=OrderMessage.Status.QUEUED, attempts=om.attempts
    ).update(attempts=F("attempts") + 1, updated_at=clock.now())
    if not claimed:
        raise Skip("another worker is sending this order message")
    try:
        ack = exchange(
            lab.host,
            lab.port,
            om.message,
            control_id=om.control_id,
            timeout=lab.timeout_seconds,
            types=_ANSWERS,
        )
    except (mllp.MllpError, ValueError) as error:
        last = outbox.attempts >= MAX_ATTEMPTS
        OrderMessage.objects.filter(pk=om.pk).update(
            last_error=str(error)[:300],
            status=OrderMessage.Status.FAILED if last else OrderMessage.Status.QUEUED,
            updated_at=clock.now(),
        )
        raise
    requisition = om.requisition
    placers = ", ".join(o.placer_number for o in _orders_of(om))
    with transaction.atomic():
        OrderMessage.objects.filter(pk=om.pk).update(
            status=_status(ack),
            ack_code=ack.code,
            ack_text=_ack_text(ack),
            ack_errors=error_list(ack),
            ack_raw=ack.raw,
            last_error="",
            answered_at=clock.now(),
            updated_at=clock.now(),
        )
        # A disclosure of PHI to the performing lab (for treatment), kept with the others: who
        # was sent what, where, and what they answered.
        record(
            Actor.system("hl7"),
            Action.EXPORT,
            "ServiceRequest",
            patient=requisition.patient,
            clinic_id=om.clinic_id,
            entity_id=str(requisition.public_id),
            description=(
                f"{lab.message_type} {om.control_id} ({om.control} {placers}; requisition "
                f"{requisition.number}) to {lab.name} {lab.host}:{lab.port}: {ack.code}"
            ),
            outcome=Outcome.SUCCESS if ack.accepted else Outcome.FAILED,
            username="system:lab",
        )
        if ack.accepted:
            # What waited for this message (a cancel after its new order) goes now.
            wake_order_messages(
                OrderMessage.objects.filter(
                    requisition_id=om.requisition_id,
                    pk__gt=om.pk,
                    status=OrderMessage.Status.QUEUED,
                ).select_related("requisition"),
                process_after_commit=True,
                idle_only=False,
            )
    return f"{lab.message_type} {om.control_id} ({om.control}): {ack.code}"


def register() -> None:
    register_handler(LAB_ORDER_KIND, deliver_lab_order)
