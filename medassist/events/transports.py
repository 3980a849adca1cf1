"""Ways to deliver a reminder to a patient. Chosen by the setting MEDASSIST_REMINDER_TRANSPORT
(a dotted path; ConsoleTransport by default, so the demo never messages anyone).

A transport's send() returns a short description of what it did (kept on the message) or
raises TransportError; the outbox retries with backoff."""

import json
import logging
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

log = logging.getLogger("medassist.reminders")

DEFAULT_TRANSPORT = "medassist.events.transports.ConsoleTransport"


class TransportError(Exception):
    """Delivery failed; worth trying again later."""


@dataclass(frozen=True)
class Reminder:
    """What is sent: the address for the channel and a text that carries no more PHI than
    needed (clinic, date and time; never the reason for the visit)."""

    to: str
    text: str
    subject: str = "Appointment reminder"


class Transport(Protocol):
    channel: str  # "sms" or "email": what the patient may opt out of

    def send(self, reminder: Reminder) -> str: ...


class ConsoleTransport:
    """The demo's transport: writes the text message to standard output (where `medassist
    demo` and `medassist events run` print) and to the log, instead of sending it."""

    channel = "sms"

    def send(self, reminder: Reminder) -> str:
        line = f"reminder to {_masked(reminder.to)}: {reminder.text}"
        sys.stdout.write(f"[medassist] {line}\n")
        log.info(line)
        return f"written to the console for {_masked(reminder.to)}"


class EmailTransport:
    """E-mail through Django's configured e-mail backend."""

    channel = "email"

    def send(self, reminder: Reminder) -> str:
        sender = getattr(settings, "MEDASSIST_REMINDER_FROM", None) or settings.DEFAULT_FROM_EMAIL
        try:
            send_mail(reminder.subject, reminder.text, sender, [reminder.to])
        except Exception as exc:  # SMTP and backends raise many kinds
            raise TransportError(f"e-mail not sent: {exc.__class__.__name__}") from exc
        return f"e-mailed to {_masked(reminder.to)}"


class SmsWebhookTransport:
    """Text messages through an SMS gateway's webhook: POST {"to", "text"} as JSON to
    MEDASSIST_SMS_WEBHOOK_URL with the bearer token MEDASSIST_SMS_WEBHOOK_TOKEN."""

    channel = "sms"
    timeout_seconds = 10

    def send(self, reminder: Reminder) -> str:
        url = getattr(settings, "MEDASSIST_SMS_WEBHOOK_URL", "")
        token = getattr(settings, "MEDASSIST_SMS_WEBHOOK_TOKEN", "")
        if not url.startswith(("https://", "http://")):
            raise TransportError("MEDASSIST_SMS_WEBHOOK_URL is not set to an http(s) URL")
        body = json.dumps({"to": reminder.to, "text": reminder.text}).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise TransportError(f"SMS gateway answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TransportError(f"SMS gateway unreachable: {exc.__class__.__name__}") from exc
        return f"SMS gateway accepted (HTTP {status}) for {_masked(reminder.to)}"


def _masked(address: str) -> str:
    """An address as the log and the screen show it: enough to recognize, not to harvest."""
    if "@" in address:
        name, _, domain = address.partition("@")
        return f"{name[:1]}***@{domain}"
    return f"***{address[-4:]}" if len(address) > 4 else "***"


def reminder_transport() -> Transport:
    path = getattr(settings, "MEDASSIST_REMINDER_TRANSPORT", DEFAULT_TRANSPORT)
    return import_string(path)()  # type: ignore[no-any-return]
