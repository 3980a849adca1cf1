"""Queueing work for after commit, and doing it.

enqueue() writes an OutboxMessage inside the caller's transaction and asks for it to be
processed once that transaction commits: a rolled-back change leaves no message and sends
nothing. process_outbox() delivers what is due, at most once per message when it succeeds
(a message leaves "queued" only through this function, claimed by a conditional UPDATE so that
two workers never send the same message), retrying failures with backoff.

Apps register a handler per kind (in their AppConfig.ready):
    register_handler("appointment.reminder", send_appointment_reminder)
A handler takes the message and returns what it did (a short text, no PHI), raises Skip when
there is nothing to send, or raises any other exception to have the message retried.
"""

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from medassist.core import clock
from medassist.events.models import OutboxMessage

log = logging.getLogger("medassist.events")

Handler = Callable[[OutboxMessage], str]
_HANDLERS: dict[str, Handler] = {}

# Minutes to wait before attempt n+1 after n failures; the last failure gives up.
BACKOFF_MINUTES = (1, 5, 30, 120)
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
# How long a claimed message is held by the worker delivering it.
LEASE = dt.timedelta(minutes=5)


class Skip(Exception):
    """Nothing to deliver (the patient opted out, the visit was cancelled); not an error."""


def register_handler(kind: str, handler: Handler) -> None:
    _HANDLERS[kind] = handler


def enqueue(
    kind: str,
    payload: dict,
    *,
    subject: str = "",
    available_at: dt.datetime | None = None,
    process_after_commit: bool = True,
    background: bool = False,
) -> OutboxMessage:
    """Queue a message in the current transaction; deliver it after commit if already due.
    With `background`, delivery runs on its own thread, so a slow receiver (a registry that
    takes its full timeout to fail) never holds up the request that queued it."""
    message = OutboxMessage.objects.create(
        kind=kind, payload=payload, subject=subject[:64], available_at=available_at or clock.now()
    )
    if process_after_commit and message.available_at <= clock.now():
        if background and getattr(settings, "OUTBOX_BACKGROUND", True):
            transaction.on_commit(lambda: process_in_background([message.pk]))
        else:
            transaction.on_commit(lambda: process_outbox(ids=[message.pk]))
    return message


def process_in_background(ids: list[int]) -> threading.Thread:
    """process_outbox(ids) on a daemon thread with its own database connection."""

    def run() -> None:
        try:
            process_outbox(ids=ids)
        except Exception:  # the message stays queued; `medassist events run` retries it
            log.exception("background delivery of outbox messages %s failed", ids)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"outbox-{ids[0]}", daemon=True)
    thread.start()
    return thread


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


@dataclass
class RunResult:
    sent: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.skipped} skipped, {self.retrying} to retry, "
            f"{self.failed} failed"
        )


def process_outbox(*, ids: Iterable[int] | None = None, limit: int = 200) -> RunResult:
    """Deliver the queued messages that are due (only those in `ids` when given). Safe to run
    any number of times, from any number of processes."""
    due = OutboxMessage.objects.filter(status=OutboxMessage.Status.QUEUED)
    due = due.filter(available_at__lte=clock.now())
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    result = RunResult()
    for message in list(due.order_by("available_at", "id")[:limit]):
        _deliver(message, result)
    return result


def _deliver(message: OutboxMessage, result: RunResult) -> None:
    # The claim is a lease: while one worker is delivering (a registry may take its whole
    # timeout to answer), the message is not due for any other; if that worker dies, the
    # message is due again when the lease runs out.
    claimed = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.QUEUED, attempts=message.attempts
    ).update(attempts=F("attempts") + 1, available_at=clock.now() + LEASE)
    if not claimed:  # another worker has it
        return
    message.attempts += 1
    now = clock.now()
    handler = _HANDLERS.get(message.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler registered for {message.kind!r}")
        detail = handler(message)
    except Skip as skip:
        _finish(message, OutboxMessage.Status.SKIPPED, detail=str(skip))
        result.skipped += 1
    except Exception as exc:  # any failure is retried; the request that queued it never sees it
        error = f"{exc.__class__.__name__}: {exc}"[:500]
        log.warning("outbox message %s attempt %s failed: %s", message.pk, message.attempts, error)
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, OutboxMessage.Status.FAILED, last_error=error)
            result.failed += 1
        else:
            OutboxMessage.objects.filter(pk=message.pk).update(
                last_error=error, available_at=now + backoff(message.attempts)
            )
            result.retrying += 1
    else:
        _finish(message, OutboxMessage.Status.SENT, detail=detail, sent_at=now)
        result.sent += 1


def _finish(message: OutboxMessage, status: str, **fields: object) -> None:
    for name in ("detail", "last_error"):
        if isinstance(fields.get(name), str):
            fields[name] = str(fields[name])[: 200 if name == "detail" else 500]
    OutboxMessage.objects.filter(pk=message.pk).update(status=status, **fields)
