"""The messages that wait for a person, seen from the server: `medassist hl7 queue` lists every
clinic's, those of no clinic (an unknown sender) included, without patient names; `--attach`
gives a message of no clinic to its lab once the manager has put the lab's facility ids right,
and the manager's Retry then files it. Our ACKs carry the clinic's local time."""

import io

import hl7
import pytest
from django.core.management import call_command

from medassist.audit.models import AuditEvent
from medassist.hl7.ack import parse_ack
from medassist.hl7.lab_double import LabDouble
from medassist.hl7.lab_intake import receive
from medassist.hl7.tests.test_lab_orders import make_catalog, make_lab, place
from medassist.labs.models import InboundMessage, LabReport, PerformingLab
from medassist.labs.selectors.results import interface_queue
from medassist.labs.services.results import retry_inbound
from medassist.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab_double():  # type: ignore[no-untyped-def]
    with LabDouble("AA", application="PRLLIS") as double:
        yield double


@pytest.fixture
def ordered(cast, actor_of, lab_double, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    lab = make_lab(cast, double=lab_double)
    with django_capture_on_commit_callbacks(execute=True):
        requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
    [order_message] = lab_double.received
    return requisition, order_message


def queue(*args: str) -> str:
    out = io.StringIO()
    call_command("hl7", "queue", *args, stdout=out)
    return out.getvalue()


def test_a_mistyped_facility_id_waits_for_the_ids_to_be_put_right(  # type: ignore[no-untyped-def]
    cast, actor_of, lab_double, ordered
):
    """Go-live: the lab sends MSH-6 NORTH instead of NORTHFM. AE (the lab may send it again),
    kept with no clinic, listed by the command; once dana puts the id right, --attach gives it
    to North and her Retry files it."""
    requisition, order = ordered
    oru = lab_double.result_for(order, control_id="Z1").replace(
        "|MEDASSIST|NORTHFM|", "|MEDASSIST|NORTH|", 1
    )
    assert "|NORTH|" in oru
    assert parse_ack(receive(oru)).code == "AE"
    row = InboundMessage.objects.get()
    assert row.clinic is None and row.status == InboundMessage.Status.ERROR

    listed = queue()
    assert "MSH-10 Z1" in listed and "from PRLLIS^PRL" in listed and "AE error" in listed
    assert "no clinic" in listed and str(row.public_id) in listed
    assert "MSH-4 [204]: Unknown sender PRL to NORTH" in listed
    assert "1 message(s) waiting, 1 of no clinic" in listed
    patient = requisition.patient
    assert patient.family not in listed and patient.given not in listed

    assert "Attached" not in queue("--attach")  # the ids do not match yet: nothing moves
    PerformingLab.objects.filter(pk=requisition.lab_id).update(clinic_facility="NORTH")
    attached = queue("--attach")
    assert f"Attached MSH-10 Z1 from PRLLIS^PRL to {requisition.lab.name}." in attached
    row.refresh_from_db()
    assert row.clinic == cast.north and row.lab_id == requisition.lab_id
    assert row in interface_queue(actor_of(cast.dana)).messages
    assert AuditEvent.objects.filter(
        action="update", entity_id=str(row.public_id), clinic=cast.north
    ).exists()
    assert len(retry_inbound(actor=actor_of(cast.dana), message=row)) == 1
    row.refresh_from_db()
    assert row.status == InboundMessage.Status.RESOLVED
    assert LabReport.objects.get().patient == patient
    assert "No lab message is waiting." in queue()


def test_the_listing_says_no_patient_name_and_is_audited(lab_double, ordered):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    patient = requisition.patient
    # Our chart had a typo that day: the lab's family name does not match (a PID-5 problem,
    # whose text quotes the name the lab sent).
    Patient.objects.filter(pk=patient.pk).update(family="Rivero")
    assert parse_ack(receive(lab_double.result_for(order, control_id="N1"))).code == "AE"
    [problem] = InboundMessage.objects.get().errors
    assert problem["location"] == "PID-5" and patient.family in problem["text"]
    listed = queue()
    assert "MSH-10 N1" in listed and "north" in listed.lower()
    assert "PID-5 [207]: (what it says about the patient is shown on the clinic's" in listed
    assert patient.family not in listed and patient.given not in listed
    assert "Rivero" not in listed
    event = AuditEvent.objects.filter(action="read", entity_id="lab-interface").latest("id")
    assert event.username == "system:cli" and "1 message(s) waiting, 0 of no clinic" in (
        event.description
    )


def test_a_reused_control_id_is_listed_with_the_first(lab_double, ordered):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    receive(lab_double.result_for(order, control_id="R7"))
    receive(lab_double.result_for(order, control_id="R7", values={"6690-2": "12.5"}))
    listed = queue()
    assert listed.count("from PRLLIS^PRL") == 1  # the first was filed; only the second waits
    assert "AR rejected" in listed and "MSH-10 first used" in listed
    assert "MSH-10 [205]: MSH-10 R7 was already used for a different message on" in listed


def test_nothing_waiting(cast):  # type: ignore[no-untyped-def]
    assert queue().strip() == "No lab message is waiting."


def test_our_ack_carries_the_clinics_local_time(lab_double, ordered, settings):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "America/Chicago"
    _requisition, order = ordered
    ack = receive(lab_double.result_for(order))
    msh7 = str(hl7.parse(ack).segment("MSH")[7])
    assert msh7[-5:] in ("-0600", "-0500"), msh7  # not +0000
