import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from medassist.events.models import OutboxMessage
from medassist.events.services import process_outbox
from medassist.scheduling import services
from medassist.scheduling.models import ReminderPreference
from medassist.scheduling.tests.factories import MONDAY, at

WEBHOOK = "medassist.events.transports.SmsWebhookTransport"


def book(actor, patient, provider, type_, start):
    return services.book_appointment(
        actor=actor,
        patient=patient,
        provider=provider,
        appointment_type=type_,
        start=start,
        reason="painful urination",
    )


@pytest.fixture
def gateway(settings):
    """A stand-in SMS gateway on 127.0.0.1 that records what it receives."""
    received: list[dict] = []
    state = {"status": 202}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers["Authorization"], "json": json.loads(body)})
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MEDASSIST_REMINDER_TRANSPORT = WEBHOOK
    settings.MEDASSIST_SMS_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/sms"
    settings.MEDASSIST_SMS_WEBHOOK_TOKEN = "test-token"  # noqa: S105
    yield received, state
    server.shutdown()
    server.server_close()


def test_booking_sends_the_confirmation_after_commit_through_the_webhook(
    cast, actor_of, north, maria, gateway, django_capture_on_commit_callbacks
):
    received, _ = gateway
    with django_capture_on_commit_callbacks(execute=True):
        appt = book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    assert len(received) == 1
    assert received[0]["auth"] == "Bearer test-token"
    assert received[0]["json"] == {
        "to": "217-555-0142",
        "text": "Your appointment is booked at North Family Medicine on Mon Nov 23 at 09:00 AM."
        " To change it, call 217-555-0100.",
    }
    sent = OutboxMessage.objects.get(subject=str(appt.public_id), payload__when="booked")
    assert sent.status == "sent" and "HTTP 202" in sent.detail


def test_the_reminder_text_carries_no_reason_no_provider_and_no_name(
    cast, actor_of, north, maria, gateway, django_capture_on_commit_callbacks
):
    received, _ = gateway
    with django_capture_on_commit_callbacks(execute=True):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    text = received[0]["json"]["text"].lower()
    for phi in ("urination", "okafor", "maria", "rivera", "follow-up"):
        assert phi not in text


def test_a_booking_rolled_back_sends_nothing(
    cast, actor_of, north, maria, gateway, django_capture_on_commit_callbacks
):
    from django.db import transaction

    received, _ = gateway
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
        raise RuntimeError("something later in the request failed")
    assert received == [] and not OutboxMessage.objects.exists()


def test_a_day_before_reminder_is_queued_for_a_later_visit(cast, actor_of, north, maria):
    appt = book(
        actor_of(cast.gwen),
        maria,
        cast.bob,
        north["follow-up"],
        at(MONDAY.replace(day=25), "09:00"),
    )
    later = OutboxMessage.objects.get(subject=str(appt.public_id), payload__when="day_before")
    assert later.available_at == at(MONDAY.replace(day=24), "10:00")


def test_opting_out_of_the_channel_skips_the_message(
    cast, actor_of, north, maria, gateway, django_capture_on_commit_callbacks
):
    received, _ = gateway
    services.set_reminder_preference(
        actor=actor_of(cast.gwen), patient=maria, channel="sms", opted_out=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        appt = book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    assert received == []
    msg = OutboxMessage.objects.get(subject=str(appt.public_id))
    assert (msg.status, msg.detail) == ("skipped", "the patient opted out of sms reminders")


def test_opting_out_of_email_does_not_stop_texts(
    cast, actor_of, north, maria, gateway, django_capture_on_commit_callbacks
):
    received, _ = gateway
    ReminderPreference.objects.create(patient=maria, channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    assert len(received) == 1


def test_a_gateway_error_is_retried_by_the_runner(
    cast, actor_of, north, maria, gateway, now, django_capture_on_commit_callbacks
):
    received, state = gateway
    state["status"] = 503
    with django_capture_on_commit_callbacks(execute=True):
        appt = book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    msg = OutboxMessage.objects.get(subject=str(appt.public_id))
    assert (msg.status, msg.attempts, msg.last_error) == (
        "queued",
        1,
        "TransportError: SMS gateway answered HTTP 503",
    )
    state["status"] = 202
    now(at(MONDAY, "07:02"))
    assert process_outbox().sent == 1
    assert len(received) == 2


def test_a_cancelled_visit_gets_no_reminder(cast, actor_of, north, maria):
    gwen = actor_of(cast.gwen)
    appt = book(gwen, maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    services.cancel_appointment(actor=gwen, appointment=appt, reason="sick", expected_version=1)
    process_outbox()
    msg = OutboxMessage.objects.get(subject=str(appt.public_id))
    assert (msg.status, msg.detail) == ("skipped", "the visit is cancelled")


def test_email_reminders_go_through_djangos_mail_backend(cast, actor_of, north, settings):
    from medassist.patients.tests.factories import make_patient

    settings.MEDASSIST_REMINDER_TRANSPORT = "medassist.events.transports.EmailTransport"
    pat = make_patient(cast.north, family="Ng", given="Lu", email="lu@example.org")
    book(actor_of(cast.gwen), pat, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    process_outbox()
    assert [m.to for m in mail.outbox] == [["lu@example.org"]]
    assert "North Family Medicine" in mail.outbox[0].body


def test_the_console_transport_writes_to_the_console(cast, actor_of, north, maria, capsys):
    book(actor_of(cast.gwen), maria, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    process_outbox()
    assert "reminder to ***0142: Your appointment is booked" in capsys.readouterr().out


def test_no_phone_on_file_skips(cast, actor_of, north):
    from medassist.patients.tests.factories import make_patient

    pat = make_patient(cast.north, family="Ng", given="Lu")
    appt = book(actor_of(cast.gwen), pat, cast.bob, north["follow-up"], at(MONDAY, "09:00"))
    process_outbox()
    assert (
        OutboxMessage.objects.get(subject=str(appt.public_id)).detail == "no phone number on file"
    )
