"""Results in, end to end: bob's order goes to the lab double, the lab double sends its ORU^R01
back to our MLLP listener (or it is taken from a file), and the result lands in bob's inbox;
repeats, races, every kind of malformed message, unknown patients, orders and senders, and
the ACK that only goes out once the message is committed."""

import io
import os
import signal
import socket
import threading
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, DataError

from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.core.testing import race
from medassist.hl7 import lab_intake
from medassist.hl7.ack import Ack, parse_ack
from medassist.hl7.lab_double import LabDouble
from medassist.hl7.lab_intake import ResultListener, receive, refile
from medassist.hl7.mllp import MllpConnectionError, frame
from medassist.hl7.tests.test_lab_orders import make_catalog, make_lab, place
from medassist.labs.intake import NotFiled
from medassist.labs.models import InboundMessage, LabOrder, LabReport, LabResult, ResultAlert
from medassist.labs.selectors.results import inbox, interface_queue
from medassist.labs.services.results import retry_inbound
from medassist.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab_double():  # type: ignore[no-untyped-def]
    with LabDouble("AA", application="PRLLIS") as double:
        yield double


@pytest.fixture
def ordered(cast, actor_of, lab_double, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """bob has ordered a CBC and a lipid panel; the lab took the order (AA)."""
    lab = make_lab(cast, double=lab_double)
    catalog = make_catalog(lab)
    with django_capture_on_commit_callbacks(execute=True):
        requisition = place(cast, actor_of, [catalog["cbc"], catalog["lipids"]])
    [order_message] = lab_double.received
    return requisition, order_message


def ack_lines(ack: str) -> list[str]:
    return ack.rstrip("\r").split("\r")


def set_field(text: str, name: str, n: int, number: int, new: str) -> str:
    """``text`` with field ``number`` of its n-th ``name`` segment replaced by ``new``."""
    lines, seen = text.split("\r"), 0
    for i, line in enumerate(lines):
        if line.startswith(name + "|"):
            seen += 1
            if seen == n:
                fields = line.split("|")
                fields += [""] * (number + 1 - len(fields))
                fields[number] = new
                lines[i] = "|".join(fields)
    return "\r".join(lines)


def err(ack: str, n: int = 1) -> list[str]:
    """The n-th ERR segment's fields."""
    return [line for line in ack_lines(ack) if line.startswith("ERR")][n - 1].split("|")


# --- filed: the result reaches the provider -------------------------------------------------


def test_results_are_filed_and_reach_bobs_inbox(cast, actor_of, lab_double, ordered):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    oru = lab_double.result_for(order, values={"718-7": "6.1"}, flags={"718-7": "LL"})
    ack = receive(oru)
    parsed = parse_ack(ack)
    assert parsed.code == "AA" and parsed.errors == ()
    assert parsed.control_id == oru.split("\r")[0].split("|")[9]
    assert ack_lines(ack)[0].startswith("MSH|^~\\&|MEDASSIST|NORTHFM|PRLLIS|PRL|")
    assert "Z23" not in ack  # no immunization profile on a lab's ACK
    cbc, lipids = (
        LabReport.objects.get(order__test__loinc=loinc) for loinc in ("57021-8", "24331-1")
    )
    assert cbc.ordering_provider == cast.bob and cbc.reviewed_at is None
    assert cbc.status == LabReport.Status.FINAL and cbc.performer == "Prairie Reference Laboratory"
    assert cbc.results.count() == 20 and lipids.results.count() == 4
    hgb = cbc.results.get(loinc="718-7")
    assert (hgb.flag, str(hgb.value_number), hgb.unit) == ("LL", "6.1000", "g/dL")
    assert cbc.critical and ResultAlert.objects.filter(report=cbc, owner=cast.bob).exists()
    assert set(inbox(actor_of(cast.bob)).to_review) == {cbc, lipids}
    row = InboundMessage.objects.get()
    assert row.status == InboundMessage.Status.FILED and row.ack == ack and row.ack_code == "AA"
    assert row.clinic == cast.north and row.sender == "PRLLIS^PRL" and row.channel == "mllp"
    assert set(row.reports.all()) == {cbc, lipids}
    assert cbc.order is not None and cbc.order.stage == LabOrder.Stage.RESULTED
    audit = AuditEvent.objects.get(entity_type="MessageHeader", entity_id=str(row.public_id))
    assert audit.username == "system:lab-interface" and "AA, filed (2 reports)" in audit.description


@pytest.mark.django_db(transaction=True)
def test_results_over_the_mllp_listener(cast, actor_of):  # type: ignore[no-untyped-def]
    with LabDouble(application="PRLLIS") as double, ResultListener(port=0) as listener:
        lab = make_lab(cast, double=double)
        requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])  # sent on commit
        [order] = double.received
        ack = double.push(double.result_for(order), listener.host, listener.port)
        assert ack.code == "AA", ack.raw
        # The ACK came after the commit: another connection sees what was filed.
        report = LabReport.objects.get(order__requisition=requisition)
        assert report.ordering_provider == cast.bob and report.reviewed_at is None
        assert report.results.count() == 20
        assert InboundMessage.objects.get().status == InboundMessage.Status.FILED
        # Several messages on one connection, the way an interface engine sends them.
        again = double.push(
            double.result_for(order, status="C", values={"6690-2": "7.9"}),
            listener.host,
            listener.port,
        )
        assert again.code == "AA"
        report.refresh_from_db()
        assert report.status == LabReport.Status.CORRECTED and report.version == 2


def test_the_receive_command_prints_each_ack(cast, lab_double, ordered, tmp_path):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    good = tmp_path / "results.hl7"
    good.write_text(lab_double.result_for(order).replace("\r", "\n"))
    out, err_out = io.StringIO(), io.StringIO()
    call_command("hl7", "receive", str(good), stdout=out, stderr=err_out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("MSH|^~\\&|MEDASSIST|NORTHFM|PRLLIS|PRL|")
    assert lines[1].startswith("MSA|AA|")
    assert f"{good}: AA" in err_out.getvalue()
    assert InboundMessage.objects.get().channel == "file"
    assert LabReport.objects.count() == 2


def test_the_receive_command_fails_when_any_message_is_not_accepted(  # type: ignore[no-untyped-def]
    cast, lab_double, ordered, tmp_path
):
    _requisition, order = ordered
    both = tmp_path / "two.hl7"
    good = lab_double.result_for(order)
    bad = lab_double.result_for(order, values={"718-7": "x"}).replace("|ST|718-7", "|NM|718-7")
    both.write_bytes(frame(good) + frame(bad))  # MLLP-framed, as captured off the wire
    missing = tmp_path / "nowhere.hl7"
    out, err_out = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"1 of 2 messages not accepted.*1 file\(s\) unreadable"):
        call_command("hl7", "receive", str(both), str(missing), stdout=out, stderr=err_out)
    acks = out.getvalue().split("\n\n")
    assert [parse_ack(a).code for a in acks] == ["AA", "AE"]
    assert "OBX^3^5" in acks[1]
    assert "(message 2 of 2): AE" in err_out.getvalue()
    assert "cannot read it" in err_out.getvalue()


# --- the same message again -----------------------------------------------------------------


def test_a_repeat_gets_the_same_ack_and_files_nothing_twice(lab_double, ordered):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    oru = lab_double.result_for(order)
    first = receive(oru)
    second = receive(oru.replace("\r", "\n"))  # a resend may come with other line ends
    assert second == first
    assert LabReport.objects.count() == 2 and LabResult.objects.count() == 24
    row = InboundMessage.objects.get()
    assert row.repeats == 1


def test_a_repeat_of_an_error_gets_the_same_error(lab_double, ordered):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    oru = lab_double.result_for(order).replace("||19800304|", "||19800231|")
    first = receive(oru)
    assert parse_ack(first).code == "AE"
    assert receive(oru) == first
    assert InboundMessage.objects.get().repeats == 1


def test_a_reused_control_id_with_other_content_is_refused_and_kept(  # type: ignore[no-untyped-def]
    cast, actor_of, lab_double, ordered
):
    _requisition, order = ordered
    original = lab_double.result_for(order, control_id="DUP1")
    first_ack = receive(original)
    other = lab_double.result_for(order, control_id="DUP1", values={"6690-2": "12.5"})
    ack_text = receive(other)
    ack = parse_ack(ack_text)
    assert ack.code == "AR" and ack.errors[0].location == "MSH-10" and ack.errors[0].code == "205"
    day = clock.localtime(clock.now()).date().isoformat()
    assert ack.errors[0].text == (
        f"MSH-10 DUP1 was already used for a different message on {day}: the lab must send it "
        "under a new control id."
    )
    first, second = InboundMessage.objects.order_by("pk")
    assert first.repeats == 0 and first.duplicate_of is None
    assert second.duplicate_of == first and "|12.5|" in second.raw and "|12.5|" not in first.raw
    assert second.status == InboundMessage.Status.REJECTED and second.ack == ack_text
    assert second.clinic == cast.north and second.lab == first.lab  # the manager's queue
    assert second in interface_queue(actor_of(cast.dana)).messages
    assert LabResult.objects.get(loinc="6690-2").value_number == Decimal("7.2")  # the first stands
    # The same again: each answered as before, nothing stored a third time.
    assert receive(original) == first_ack
    assert receive(other) == ack_text
    assert InboundMessage.objects.count() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.repeats, second.repeats) == (1, 1)
    # A third message under the id: its own row too, pointing at the first.
    third = lab_double.result_for(order, control_id="DUP1", values={"6690-2": "3.1"})
    assert parse_ack(receive(third)).code == "AR"
    assert InboundMessage.objects.filter(duplicate_of=first).count() == 2


def test_the_loser_of_a_race_answers_like_a_repeat(lab_double, ordered):  # type: ignore[no-untyped-def]
    """Two connections deliver the same message: both find no row, both insert; the unique
    constraint refuses the second, which then answers with the first one's ACK."""
    _requisition, order = ordered
    oru = lab_double.result_for(order)
    first = receive(oru)
    looked: list[int] = []
    real = lab_intake._earlier

    def not_yet_committed(header, text):  # type: ignore[no-untyped-def]
        if not looked:  # the first look happens before the other connection committed
            looked.append(1)
            return None
        return real(header, text)

    with mock.patch.object(lab_intake, "_earlier", side_effect=not_yet_committed):
        assert receive(oru) == first
    assert InboundMessage.objects.count() == 1 and InboundMessage.objects.get().repeats == 1
    assert LabReport.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_connections_at_once_store_one_message(cast, actor_of):  # type: ignore[no-untyped-def]
    with LabDouble(application="PRLLIS") as double:
        lab = make_lab(cast, double=double)
        place(cast, actor_of, [make_catalog(lab)["cbc"]])
        oru = double.result_for(double.received[0])
    acks: list[str] = []
    outcomes = race(lambda: acks.append(receive(oru)), lambda: acks.append(receive(oru)))
    assert outcomes == [None, None]
    assert len(acks) == 2 and acks[0] == acks[1] and parse_ack(acks[0]).code == "AA"
    assert InboundMessage.objects.count() == 1 and InboundMessage.objects.get().repeats == 1
    assert LabReport.objects.count() == 1 and LabResult.objects.count() == 20


# --- malformed: refused (AR) or not filed (AE), each with its ERR ---------------------------

MALFORMED = [
    # (name, change, ack code, ERR-2, ERR-3 code, words in ERR-8, InboundMessage status)
    (
        "not HL7",
        lambda t: "Hello, this is the lab.",
        "AR",
        "MSH^1",
        "100",
        "not an HL7 v2 message",
        "rejected",
    ),
    ("no MSH", lambda t: t.split("\r", 1)[1], "AR", "MSH^1", "100", "starts with 'PID", "rejected"),
    (
        "no MSH-10",
        lambda t: t.replace("|RFBAD|", "||"),
        "AR",
        "MSH^1^10",
        "101",
        "control id (MSH-10) is empty",
        "rejected",
    ),
    (
        "not ORU",
        lambda t: t.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01"),
        "AR",
        "MSH^1^9",
        "200",
        "ADT^A01 is not taken",
        "rejected",
    ),
    (
        "not R01",
        lambda t: t.replace("ORU^R01^ORU_R01", "ORU^R30^ORU_R30"),
        "AR",
        "MSH^1^9",
        "201",
        "Event R30",
        "rejected",
    ),
    (
        "training message",
        lambda t: t.replace("|RFBAD|P|", "|RFBAD|T|"),
        "AR",
        "MSH^1^11",
        "202",
        "Processing id T",
        "rejected",
    ),
    (
        "no PID",
        lambda t: "\r".join(s for s in t.split("\r") if not s.startswith("PID")),
        "AE",
        "PID^1",
        "100",
        "no PID segment",
        "error",
    ),
    (
        "no OBR",
        lambda t: "\r".join(s for s in t.split("\r") if s[:3] in ("MSH", "PID")),
        "AE",
        "OBR^1",
        "100",
        "no OBR segment",
        "error",
    ),
    (
        "NM not a number",
        lambda t: set_field(t, "OBX", 3, 5, "14,1"),
        "AE",
        "OBX^3^5",
        "102",
        "'14,1' is not a number",
        "error",
    ),
    (
        "bad timestamp",
        lambda t: set_field(t, "OBX", 1, 14, "20261340"),
        "AE",
        "OBX^1^14",
        "102",
        "not a real date/time",
        "error",
    ),
    (
        "bad birth date",
        lambda t: set_field(t, "PID", 1, 7, "1980-03-04"),
        "AE",
        "PID^1^7",
        "102",
        "not an HL7 date",
        "error",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "code", "location", "condition", "words", "status"),
    MALFORMED,
    ids=[m[0] for m in MALFORMED],
)
def test_malformed_messages_get_a_specific_err(  # type: ignore[no-untyped-def]
    lab_double, ordered, name, change, code, location, condition, words, status
):
    _requisition, order = ordered
    text = change(lab_double.result_for(order, control_id="RFBAD"))
    ack = receive(text)
    parsed = parse_ack(ack)
    assert parsed.code == code, ack
    fields = err(ack)
    assert fields[2] == location
    assert fields[3].startswith(f"{condition}^")
    assert fields[4] == "E"
    assert words in parsed.errors[0].text  # ERR-8, unescaped
    row = InboundMessage.objects.get()
    assert row.status == status and row.ack == ack and row.ack_code == code
    assert row.errors and row.errors[0]["code"] == condition
    assert row.raw.startswith(text.split("\r")[0][:10]) or name == "not HL7"
    assert not LabReport.objects.exists()  # nothing else stored


def test_unknown_patient_is_named_pid_3_and_queued(cast, lab_double, ordered):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    oru = lab_double.result_for(order).replace(
        f"|{requisition.patient.mrn}^^^NORTH^MR|", "|9999999^^^NORTH^MR|"
    )
    ack = receive(oru)
    parsed = parse_ack(ack)
    assert parsed.code == "AE"
    assert {e.location for e in parsed.errors} == {"PID-3"}
    assert err(ack)[2] == "PID^1^3" and err(ack)[3].startswith("204^")
    assert "9999999 is not the patient of order" in err(ack)[8]
    row = InboundMessage.objects.get()
    assert row.status == InboundMessage.Status.ERROR and row.clinic == cast.north
    assert not LabReport.objects.exists()


def test_unknown_placer_number_is_named_obr_2_and_queued(lab_double, ordered):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    placer = requisition.orders.order_by("pk").first().placer_number
    oru = lab_double.result_for(order).replace(f"|{placer}^NORTHFM|", "|NORTH-99999999^NORTHFM|")
    ack = receive(oru)
    assert parse_ack(ack).code == "AE"
    assert err(ack)[2] == "OBR^1^2" and err(ack)[3].startswith("204^")
    assert "No order NORTH-99999999" in err(ack)[8]
    assert InboundMessage.objects.get().status == InboundMessage.Status.ERROR
    assert not LabReport.objects.exists()  # the other report of the message waits with it


def test_unknown_sender_is_kept_without_a_clinic_and_answered_ae(lab_double, ordered):  # type: ignore[no-untyped-def]
    """AE, not AR: AR tells the lab not to send the message again, and a typo in a facility id
    on go-live day must not lose a result."""
    _requisition, order = ordered
    oru = lab_double.result_for(order).replace("|PRLLIS|PRL|", "|OTHERLIS|OTHERLAB|", 1)
    ack = receive(oru)
    assert parse_ack(ack).code == "AE"
    assert err(ack)[2] == "MSH^1^4" and "Unknown sender OTHERLAB to NORTHFM" in err(ack)[8]
    assert err(ack)[3].startswith("204^")
    row = InboundMessage.objects.get()
    assert row.status == InboundMessage.Status.ERROR and row.clinic is None and row.lab is None
    assert row.sender == "OTHERLIS^OTHERLAB"
    assert not LabReport.objects.exists()


# --- the ACK only after commit --------------------------------------------------------------


def test_no_ack_when_the_commit_fails(lab_double, ordered):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    real = lab_intake.file_results

    def files_then_fails(**kwargs):  # type: ignore[no-untyped-def]
        real(**kwargs)  # everything written...
        raise DatabaseError("disk I/O error")  # ...and then the transaction cannot commit

    with (
        mock.patch.object(lab_intake, "file_results", side_effect=files_then_fails),
        pytest.raises(DatabaseError),
    ):
        receive(lab_double.result_for(order))
    assert not InboundMessage.objects.exists()
    assert not LabReport.objects.exists() and not LabResult.objects.exists()
    assert not AuditEvent.objects.filter(entity_type="MessageHeader").exists()


@pytest.mark.parametrize("error", [ValueError("unforeseen"), DataError("value too long")])
def test_a_message_that_breaks_filing_is_queued_not_left_unanswered(lab_double, ordered, error):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    with mock.patch.object(lab_intake, "file_results", side_effect=error):
        ack = parse_ack(receive(lab_double.result_for(order)))
    assert ack.code == "AE" and ack.errors[0].code == "207" and ack.errors[0].location == ""
    assert type(error).__name__ in ack.errors[0].text
    row = InboundMessage.objects.get()
    assert row.status == InboundMessage.Status.ERROR and row.clinic is not None
    assert not LabReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_listener_sends_no_ack_when_the_commit_fails(cast, actor_of):  # type: ignore[no-untyped-def]
    with LabDouble(application="PRLLIS") as double, ResultListener(port=0) as listener:
        lab = make_lab(cast, double=double)
        place(cast, actor_of, [make_catalog(lab)["cbc"]])
        oru = double.result_for(double.received[0])
        with (
            mock.patch.object(lab_intake, "file_results", side_effect=DatabaseError("lost")),
            pytest.raises(MllpConnectionError, match="closed the connection without a reply"),
        ):
            double.push(oru, listener.host, listener.port, timeout=5)
        assert not InboundMessage.objects.exists()
        # The lab sends it again once we are back: filed, and answered AA.
        assert double.push(oru, listener.host, listener.port).code == "AA"
    assert LabReport.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_listener_answers_garbage_and_keeps_listening(cast):  # type: ignore[no-untyped-def]
    with ResultListener(port=0) as listener:
        with socket.create_connection((listener.host, listener.port), timeout=5) as conn:
            conn.sendall(frame("not a message at all"))
            reply = conn.recv(65536)
        assert parse_ack(reply).code == "AR"
    assert InboundMessage.objects.get().status == InboundMessage.Status.REJECTED


# --- the error queue's Retry ----------------------------------------------------------------


def test_retry_files_a_message_once_the_record_is_put_right(  # type: ignore[no-untyped-def]
    cast, actor_of, lab_double, ordered
):
    requisition, order = ordered
    patient = requisition.patient
    # The lab has the patient's name as it should be; our chart had a typo that day.
    Patient.objects.filter(pk=patient.pk).update(family="Rivero")
    ack = receive(lab_double.result_for(order))
    assert parse_ack(ack).code == "AE" and err(ack)[2] == "PID^1^5"
    row = InboundMessage.objects.get()
    Patient.objects.filter(pk=patient.pk).update(family="Rivera")
    reports = retry_inbound(actor=actor_of(cast.dana), message=row)  # through our refiler
    assert len(reports) == 2
    row.refresh_from_db()
    assert row.status == InboundMessage.Status.RESOLVED and row.reports.count() == 2
    assert LabReport.objects.filter(ordering_provider=cast.bob).count() == 2


def test_refile_says_what_is_still_wrong(lab_double, ordered):  # type: ignore[no-untyped-def]
    _requisition, order = ordered
    receive(
        lab_double.result_for(order).replace(
            "|NM|718-7^Hemoglobin^LN||14.1|", "|NM|718-7^Hemoglobin^LN||x|"
        )
    )
    with pytest.raises(NotFiled) as caught:
        refile(InboundMessage.objects.get())
    assert [p.location for p in caught.value.problems] == ["OBX[3]-5"]


def test_refile_of_a_sender_set_up_since(cast, lab_double, ordered):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    lab = requisition.lab
    oru = lab_double.result_for(order)
    lab.facility = "PRL-NEW"
    lab.save(update_fields=["facility"])
    assert parse_ack(receive(oru)).code == "AE"  # the lab was known under another id
    row = InboundMessage.objects.get()
    with pytest.raises(NotFiled, match="Unknown sender"):
        refile(row)
    lab.facility = "PRL"
    lab.save(update_fields=["facility"])
    assert len(refile(row)) == 2
    row.refresh_from_db()
    assert row.lab == lab and row.clinic == cast.north


def test_the_receive_command_splits_a_file_of_messages(lab_double, ordered, tmp_path):  # type: ignore[no-untyped-def]
    requisition, order = ordered
    cbc, lipids = (o.placer_number for o in requisition.orders.order_by("pk"))
    first = lab_double.result_for(order, only=[cbc])
    second = lab_double.result_for(order, only=[lipids])
    batch = tmp_path / "batch.txt"
    batch.write_text(first.replace("\r", "\r\n") + second.replace("\r", "\r\n"))
    out = io.StringIO()
    call_command("hl7", "receive", str(batch), stdout=out, stderr=io.StringIO())
    assert out.getvalue().count("MSA|AA|") == 2
    assert LabReport.objects.count() == 2 and InboundMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_listen_command_files_until_it_is_stopped(cast, actor_of):  # type: ignore[no-untyped-def]
    with LabDouble(application="PRLLIS") as double:
        lab = make_lab(cast, double=double)
        place(cast, actor_of, [make_catalog(lab)["cbc"]])
        oru = double.result_for(double.received[0])
        out = io.StringIO()
        acks: list[Ack] = []

        def lab_engine() -> None:
            try:
                for _ in range(500):
                    if "Listening" in out.getvalue():
                        break
                    time.sleep(0.02)
                port = int(out.getvalue().splitlines()[0].rsplit(":", 1)[1])
                acks.append(double.push(oru, "127.0.0.1", port))
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops it

        engine = threading.Thread(target=lab_engine)
        engine.start()
        call_command("hl7", "listen", "--port", "0", stdout=out)
        engine.join(timeout=10)
    assert [a.code for a in acks] == ["AA"]
    assert out.getvalue().splitlines()[-1] == "Stopped."
    assert LabReport.objects.count() == 1
