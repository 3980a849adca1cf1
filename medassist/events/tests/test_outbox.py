import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import transaction

from medassist.core import clock
from medassist.events import services
from medassist.events.models import OutboxMessage

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def handled(monkeypatch):
    """A handler for the kind "test.ping" that records its calls and can be told to fail."""
    calls: list[int] = []
    state = {"fail": 0}

    def handler(message):
        calls.append(message.pk)
        if state["fail"]:
            state["fail"] -= 1
            raise ConnectionError("gateway down")
        if message.payload.get("skip"):
            raise services.Skip("nothing to do")
        return "pinged"

    monkeypatch.setitem(services._HANDLERS, "test.ping", handler)
    monkeypatch.setattr(clock, "now", lambda: state.get("now", T0))
    return SimpleNamespace(calls=calls, state=state)


def test_a_message_is_delivered_once_however_often_the_outbox_runs(handled):
    msg = services.enqueue("test.ping", {}, process_after_commit=False)
    assert services.process_outbox().sent == 1
    assert services.process_outbox().sent == 0
    call_command("events", "run")
    msg.refresh_from_db()
    assert handled.calls == [msg.pk]
    assert (msg.status, msg.attempts, msg.detail, msg.sent_at) == ("sent", 1, "pinged", T0)


def test_a_message_is_processed_after_commit(handled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        msg = services.enqueue("test.ping", {})
        assert handled.calls == []  # not while the transaction is open
    assert handled.calls == [msg.pk]


def test_a_rolled_back_transaction_leaves_no_message_and_sends_nothing(
    handled, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.enqueue("test.ping", {})
        raise RuntimeError("the booking failed")
    assert callbacks == [] and handled.calls == []
    assert not OutboxMessage.objects.exists()


def test_a_failure_is_retried_with_backoff_then_given_up(handled):
    handled.state["fail"] = 99
    msg = services.enqueue("test.ping", {}, process_after_commit=False)
    services.process_outbox()
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("queued", 1)
    assert msg.available_at == T0 + dt.timedelta(minutes=1)
    assert msg.last_error == "ConnectionError: gateway down"
    assert services.process_outbox().retrying == 0  # not due yet
    for minutes in (1, 1 + 5, 1 + 5 + 30, 1 + 5 + 30 + 120):
        handled.state["now"] = T0 + dt.timedelta(minutes=minutes)
        services.process_outbox()
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert len(handled.calls) == services.MAX_ATTEMPTS


def test_a_retry_that_succeeds_is_sent(handled):
    handled.state["fail"] = 1
    msg = services.enqueue("test.ping", {}, process_after_commit=False)
    services.process_outbox()
    handled.state["now"] = T0 + dt.timedelta(minutes=2)
    services.process_outbox()
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("sent", 2)


def test_a_skip_is_recorded_as_skipped(handled):
    msg = services.enqueue("test.ping", {"skip": True}, process_after_commit=False)
    assert services.process_outbox().skipped == 1
    msg.refresh_from_db()
    assert (msg.status, msg.detail) == ("skipped", "nothing to do")


def test_a_message_not_yet_due_waits(handled):
    services.enqueue("test.ping", {}, available_at=T0 + dt.timedelta(hours=1))
    assert services.process_outbox().sent == 0
    handled.state["now"] = T0 + dt.timedelta(hours=1)
    assert services.process_outbox().sent == 1


def test_a_message_claimed_by_another_worker_is_left_alone(handled):
    msg = services.enqueue("test.ping", {}, process_after_commit=False)
    stale = OutboxMessage.objects.get(pk=msg.pk)
    OutboxMessage.objects.filter(pk=msg.pk).update(attempts=1)  # the other worker claimed it
    result = services.RunResult()
    services._deliver(stale, result)
    assert handled.calls == [] and result.sent == 0


def test_an_unknown_kind_is_retried_not_lost(handled):
    msg = services.enqueue("no.such.kind", {}, process_after_commit=False)
    services.process_outbox()
    msg.refresh_from_db()
    assert msg.status == "queued" and "no handler" in msg.last_error
