import datetime as dt
import importlib
from contextlib import contextmanager
from io import StringIO
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent
from medassist.audit.services import Anchor, record, verify_chain
from medassist.core import clock
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

TRIGGER = importlib.import_module("medassist.audit.migrations.0002_append_only_trigger").TRIGGER
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def record_some(cast, n: int = 5) -> list[AuditEvent]:
    patient = make_patient(cast.north)
    alice = Actor.for_user(cast.alice, ip="10.0.0.7", user_agent="Firefox")
    return [
        record(alice, Action.READ, "Patient", patient=patient, entity_id=str(patient.public_id))
        for _ in range(n)
    ]


@contextmanager
def trigger_disabled():
    """Tampering as someone who owns the table would: past the append-only trigger."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
        try:
            yield
        finally:
            with connection.cursor() as cur:
                cur.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
    else:
        yield


def tamper(sql: str, params: list) -> None:
    with trigger_disabled(), connection.cursor() as cur:
        cur.execute(sql, params)


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_recorded_entries_form_an_intact_chain(cast):
    events = record_some(cast)
    check = verify_chain()
    assert check.intact and check.checked == len(events)
    assert check.head == Anchor(events[-1].pk, events[-1].hash)
    assert events[1].prev_hash == events[0].hash


def test_verify_command_says_the_trail_is_intact(cast):
    record_some(cast, 3)
    out = verify()
    assert "3 entries checked: audit trail intact." in out
    assert "Anchor for next time" in out


def test_verify_passes_on_an_empty_trail(db):
    assert "0 entries checked: audit trail intact." in verify()


def test_a_changed_entry_is_found_and_named(cast):
    events = record_some(cast)
    changed = events[2]
    tamper("UPDATE audit_auditevent SET username = %s WHERE id = %s", ["mallory", changed.pk])

    with pytest.raises(CommandError) as failure:
        verify()

    message = str(failure.value)
    assert f"entry #{changed.pk} " in message
    assert "user mallory" in message and "action read" in message
    assert "content does not match its hash" in message
    assert verify_chain().checked == 2


def test_a_changed_hash_is_found_at_that_entry(cast):
    events = record_some(cast)
    tamper("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["f" * 64, events[1].pk])
    with pytest.raises(CommandError, match=f"entry #{events[1].pk} "):
        verify()


def test_a_removed_middle_entry_is_found(cast):
    events = record_some(cast)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])

    with pytest.raises(CommandError) as failure:
        verify()

    message = str(failure.value)
    assert f"entry #{events[3].pk} " in message
    assert f"does not follow entry #{events[1].pk}" in message and "removed" in message


def test_a_removed_first_entry_is_found(cast):
    events = record_some(cast)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    with pytest.raises(CommandError, match="does not start the chain"):
        verify()


def test_removed_latest_entries_show_only_against_an_anchor(cast):
    events = record_some(cast)
    anchor = str(verify_chain().head)
    tamper("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].pk])

    # The documented limit: the rest of the chain is consistent.
    assert "3 entries checked: audit trail intact." in verify()
    with pytest.raises(CommandError, match=f"before the anchor entry #{events[4].pk}"):
        verify("--anchor", anchor)


def test_an_anchor_still_in_place_passes(cast):
    events = record_some(cast)
    anchor = str(Anchor(events[2].pk, events[2].hash))
    record_some(cast, 2)
    out = verify("--anchor", anchor)
    assert "7 entries checked: audit trail intact." in out
    assert f"Anchor entry #{events[2].pk} found unchanged." in out


def test_a_rewritten_chain_fails_against_the_anchor(cast):
    events = record_some(cast)
    with pytest.raises(CommandError, match="differs from the anchor"):
        verify("--anchor", f"{events[1].pk}:{'a' * 64}")


def test_a_malformed_anchor_is_refused(db):
    with pytest.raises(CommandError, match="anchor looks like"):
        verify("--anchor", "12:nothex")


def test_progress_goes_to_stderr(cast):
    record_some(cast, 5)
    out, err = StringIO(), StringIO()
    call_command("audit", "verify", "--progress-every", "2", stdout=out, stderr=err)
    assert "2 entries checked" in err.getvalue() and "4 entries checked" in err.getvalue()
    assert "entries checked:" not in err.getvalue()


def test_an_ipv6_address_in_any_spelling_keeps_the_chain_intact(cast):
    actor = Actor.for_user(cast.alice, ip="2001:0DB8:0000::0001")
    event = record(actor, Action.LOGIN, "Session")
    event.refresh_from_db()
    assert event.source_ip == "2001:db8::1"
    assert verify_chain().intact


def test_a_clock_in_local_time_keeps_the_chain_intact(cast):
    local = dt.datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
    with mock.patch.object(clock, "now", return_value=local):
        record(Actor.for_user(cast.alice), Action.LOGIN, "Session")
    assert verify_chain().intact


@on_postgresql
def test_the_database_refuses_to_change_an_entry(cast):
    event = record_some(cast, 1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(username="mallory")
    event.refresh_from_db()
    assert event.username == "alice"


@on_postgresql
def test_the_database_refuses_to_remove_an_entry(cast):
    event = record_some(cast, 1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_nul_in_any_recorded_text_is_dropped_and_the_chain_still_verifies(cast):
    # PostgreSQL refuses NUL in text; forged headers and typed user names carry it.
    actor = Actor.for_user(cast.alice, ip="127.0.0.1", user_agent="curl\x00/8", channel="web")
    event = record(
        actor, Action.LOGIN_FAILED, "User\x00", username="ali\x00ce", description="x\x00y"
    )
    event.refresh_from_db()
    assert (event.user_agent, event.username, event.entity_type, event.description) == (
        "curl/8",
        "alice",
        "User",
        "xy",
    )
    assert verify_chain().intact
