"""Reporting doses to the registry end to end: dose -> queued submission -> VXU over MLLP to the
registry test double on 127.0.0.1 -> ACK stored; errors, rejections, silence and retries."""

import datetime as dt
import io

import hl7
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.events.services import MAX_ATTEMPTS, process_outbox
from medassist.hl7.registry_double import RegistryDouble
from medassist.immunizations import services
from medassist.immunizations.models import RegistryConnection, RegistrySubmission
from medassist.immunizations.tests import factories as f
from medassist.immunizations.tests.test_services import four_month_old

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    with RegistryDouble("AA") as double:
        yield double


def connect(cast, double, timeout=1):  # type: ignore[no-untyped-def]
    return RegistryConnection.objects.create(
        clinic=cast.north,
        host="127.0.0.1",
        port=double.port,
        timeout_seconds=timeout,
        sending_facility="NORTHFM",
    )


def give_hib(cast, actor_of, patient=None):  # type: ignore[no-untyped-def]
    patient = patient or four_month_old(cast)
    orders = f.standing_orders(cast.north, cast.bob, groups=("Hib",))
    lot = f.make_lot(cast.north, f.PEDVAXHIB, lot="H7734")
    return services.administer(
        actor=actor_of(cast.alice),
        patient=patient,
        encounter=None,
        request=f.request_for(patient, lot, orders["Hib"]),
    )


def deliver_due() -> None:
    """Run the outbox as `medassist events run` would, with the clock past every backoff."""
    OutboxMessage.objects.filter(status=OutboxMessage.Status.QUEUED).update(
        available_at=clock.now() - dt.timedelta(seconds=1)
    )
    process_outbox()


def test_dose_is_reported_and_acknowledged(
    cast, actor_of, registry, django_capture_on_commit_callbacks
):
    connect(cast, registry)
    with django_capture_on_commit_callbacks(execute=True):
        dose = give_hib(cast, actor_of)
    submission = RegistrySubmission.objects.get(immunization=dose)
    assert submission.status == RegistrySubmission.Status.ACCEPTED
    assert submission.ack_code == "AA" and submission.attempts == 1
    [received] = registry.received
    message = hl7.parse(received)
    assert str(message["MSH"][0][9]) == "VXU^V04^VXU_V04"
    assert str(message["MSH"][0][10]) == submission.control_id
    assert str(message["MSH"][0][21]) == "Z22^CDCPHINVS"
    # MSH-7 in the clinic's wall-clock time with its UTC offset, as the lab messages are.
    local = timezone.localtime(submission.created_at, timezone.get_default_timezone())
    assert str(message["MSH"][0][7]) == local.strftime("%Y%m%d%H%M%S%z")
    rxa = message.segment("RXA")
    assert str(rxa[5]).startswith("49^")  # CVX PRP-OMP
    assert str(rxa[15]) == "H7734" and str(rxa[17]).startswith("MSD")
    assert str(rxa[9]).startswith("00")  # new record (NIP001)
    assert str(message.segment("RXR")[2]).startswith("LT")
    assert str(message.segment("PID")[7]) == dose.patient.birth_date.strftime("%Y%m%d")
    codes_sent = {str(obx[3]).split("^")[0] for obx in message.segments("OBX")}
    assert {"64994-7", "30963-3", "69764-9", "29769-7"} <= codes_sent
    assert submission.message == received
    disclosure = AuditEvent.objects.get(action="export", entity_id=str(dose.public_id))
    assert disclosure.username == "system:registry" and "AA" in disclosure.description


def test_registry_error_is_kept_for_the_manager_and_not_resent(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with RegistryDouble(
        "AE", error_location="RXA-5", error_text="Vaccine code not recognized"
    ) as double:
        connect(cast, double)
        with django_capture_on_commit_callbacks(execute=True):
            dose = give_hib(cast, actor_of)
        submission = RegistrySubmission.objects.get(immunization=dose)
        assert submission.status == RegistrySubmission.Status.ERROR
        assert submission.ack_code == "AE"
        assert submission.ack_errors[0]["location"] == "RXA-5"
        assert "not recognized" in (submission.ack_errors[0]["text"] + submission.ack_text)
        deliver_due()
        assert len(double.received) == 1  # not sent twice
    services.mark_reviewed(actor=actor_of(cast.dana), submission=submission)
    submission.refresh_from_db()
    assert submission.reviewed_by == cast.dana


def test_rejection(cast, actor_of, django_capture_on_commit_callbacks):
    with RegistryDouble("AR") as double:
        connect(cast, double)
        with django_capture_on_commit_callbacks(execute=True):
            dose = give_hib(cast, actor_of)
    assert RegistrySubmission.objects.get(immunization=dose).status == "rejected"


def test_silence_is_retried_with_the_same_control_id_and_stored_once(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with RegistryDouble("AA", script=("timeout",)) as double:
        connect(cast, double, timeout=1)
        with django_capture_on_commit_callbacks(execute=True):
            dose = give_hib(cast, actor_of)
        submission = RegistrySubmission.objects.get(immunization=dose)
        assert submission.status == RegistrySubmission.Status.QUEUED
        assert "timed out" in submission.last_error.lower() or submission.last_error
        outbox = OutboxMessage.objects.get(subject=str(dose.public_id))
        assert outbox.status == OutboxMessage.Status.QUEUED and outbox.attempts == 1
        assert outbox.available_at > clock.now()  # backoff
        deliver_due()
        submission.refresh_from_db()
        assert submission.status == RegistrySubmission.Status.ACCEPTED
        assert submission.attempts == 2
        assert len(double.received) == 1 and double.duplicates == 1


def test_a_registry_that_never_answers_fails_after_the_last_attempt(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with RegistryDouble("close") as double:
        connect(cast, double, timeout=1)
        with django_capture_on_commit_callbacks(execute=True):
            dose = give_hib(cast, actor_of)
        for _ in range(MAX_ATTEMPTS):
            deliver_due()
    submission = RegistrySubmission.objects.get(immunization=dose)
    assert submission.status == RegistrySubmission.Status.FAILED
    assert submission.attempts == MAX_ATTEMPTS
    outbox = OutboxMessage.objects.get(subject=str(dose.public_id))
    assert outbox.status == OutboxMessage.Status.FAILED


def test_nothing_listening(cast, actor_of, django_capture_on_commit_callbacks):
    with RegistryDouble("AA") as double:
        port = double.port
    RegistryConnection.objects.create(
        clinic=cast.north, host="127.0.0.1", port=port, timeout_seconds=1, sending_facility="N"
    )
    with django_capture_on_commit_callbacks(execute=True):
        dose = give_hib(cast, actor_of)
    submission = RegistrySubmission.objects.get(immunization=dose)
    assert submission.status == RegistrySubmission.Status.QUEUED and submission.last_error


def test_the_vxu_command_prints_the_message(cast, actor_of):
    dose = give_hib(cast, actor_of)
    out = io.StringIO()
    call_command("hl7", "vxu", str(dose.public_id), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("MSH|^~\\&|MEDASSIST|")
    assert [line[:3] for line in lines][:2] == ["MSH", "PID"]
    assert any(line.startswith("RXA|0|1|") for line in lines)
    with pytest.raises(CommandError, match="No immunization"):
        call_command("hl7", "vxu", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(CommandError, match="not an Immunization id"):
        call_command("hl7", "vxu", "42")


def test_deletion_and_historical_and_refusal_messages(
    cast, actor_of, registry, django_capture_on_commit_callbacks
):
    connect(cast, registry)
    patient = four_month_old(cast)
    with django_capture_on_commit_callbacks(execute=True):
        dose = give_hib(cast, actor_of, patient)
    with django_capture_on_commit_callbacks(execute=True):
        dose = services.amend(
            actor=actor_of(cast.alice), immunization=dose, site="RT", reason="right thigh"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.retract(actor=actor_of(cast.alice), immunization=dose, reason="wrong patient")
    with django_capture_on_commit_callbacks(execute=True):
        services.record_historical(
            actor=actor_of(cast.alice),
            patient=patient,
            cvx="10",
            occurred_on=patient.birth_date + dt.timedelta(days=62),
            source="02",
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.record_refusal(
            actor=actor_of(cast.alice), patient=patient, cvx="116", reason="parent declined"
        )
    messages = [hl7.parse(m) for m in registry.received]
    assert [str(m.segment("RXA")[21]) for m in messages] == ["A", "U", "D", "A", "A"]
    assert str(messages[1].segment("RXR")[2]).startswith("RT")
    assert str(messages[3].segment("RXA")[9]).startswith("02")  # historical, other provider
    assert str(messages[4].segment("RXA")[20]) == "RE"
    assert RegistrySubmission.objects.filter(status="accepted").count() == 5


def test_a_correction_waits_for_the_earlier_message_of_the_same_dose(
    cast, actor_of, django_capture_on_commit_callbacks
):
    with RegistryDouble("AA", script=("close",)) as double:
        connect(cast, double, timeout=1)
        with django_capture_on_commit_callbacks(execute=True):
            dose = give_hib(cast, actor_of)  # the add is lost: the registry hung up
        with django_capture_on_commit_callbacks(execute=True):
            services.retract(actor=actor_of(cast.alice), immunization=dose, reason="wrong chart")
        assert double.received == []  # the delete did not overtake the add
        deliver_due()
        deliver_due()
        actions = [str(hl7.parse(m).segment("RXA")[21]) for m in double.received]
    assert actions == ["A", "D"]


def test_reporting_turned_off_keeps_the_message_waiting(cast, actor_of, registry):
    connection = connect(cast, registry)
    dose = give_hib(cast, actor_of)  # queued; delivery has not run yet
    RegistryConnection.objects.filter(pk=connection.pk).update(active=False)
    deliver_due()
    submission = RegistrySubmission.objects.get(immunization=dose)
    assert submission.status == "queued" and "no active registry" in submission.last_error
    assert registry.received == []
    RegistryConnection.objects.filter(pk=connection.pk).update(active=True)
    deliver_due()
    submission.refresh_from_db()
    assert submission.status == "accepted" and len(registry.received) == 1


def test_state_and_317_stock_is_sent_as_public_funds(
    cast, actor_of, registry, django_capture_on_commit_callbacks
):
    from medassist.immunizations.models import Funding

    connect(cast, registry)
    patient = four_month_old(cast)
    orders = f.standing_orders(cast.north, cast.bob, groups=("Hib",))
    lot = f.make_lot(cast.north, f.PEDVAXHIB, lot="S1", funding=Funding.STATE)
    with django_capture_on_commit_callbacks(execute=True):
        dose = services.administer(
            actor=actor_of(cast.alice),
            patient=patient,
            encounter=None,
            request=f.request_for(patient, lot, orders["Hib"], eligibility="V01"),
        )
    submission = RegistrySubmission.objects.get(immunization=dose)
    assert submission.status == "accepted", submission.last_error
    funding = [
        o
        for o in hl7.parse(registry.received[0]).segments("OBX")
        if str(o[3]).startswith("30963-3")
    ]
    assert str(funding[0][5]).startswith("VXC50^")
