"""`medassist demo` and `medassist serve`."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from medassist.demo.management.commands import demo, serve
from medassist.demo.tests.digest import database_digest, database_rows
from medassist.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def runserver(monkeypatch):
    calls = []
    monkeypatch.setattr(serve, "call_command", lambda *a, **kw: calls.append((a, kw)))
    return calls


# transaction=True: --reset flushes, and PostgreSQL refuses TRUNCATE inside a transaction that
# still holds deferred foreign-key checks (as a test's wrapping transaction would).
@pytest.mark.django_db(transaction=True)
def test_demo_loads_once_and_reset_loads_the_same_data_again(monkeypatch):
    monkeypatch.setattr("medassist.demo.seed.clock.today", lambda: dt.date(2026, 1, 15))
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    first = database_digest()
    first_rows = database_rows()
    assert Patient.objects.count() == 480

    call_command("demo", "--no-serve", stdout=out)
    assert database_digest() == first  # nothing duplicated, nothing changed

    Patient.objects.filter(family="Abernathy").update(phone="217-555-0000")
    call_command("demo", "--no-serve", "--reset", stdout=out)
    # A fresh database loaded on the same day holds exactly the same data.
    again = database_rows()
    assert [table for table in first_rows if again[table] != first_rows[table]] == []
    assert database_digest() == first

    text = out.getvalue()
    assert text.count("Loaded 480 patients") == 2
    assert "already holds a clinic network" in text
    for username in ("alice", "bob", "dana", "erin", "carol", "frank"):
        assert f"  {username} " in text
    assert "medassist-demo" in text and "TOTP" in text


def test_demo_serves_unless_told_not_to(monkeypatch, runserver):
    monkeypatch.setattr(demo, "has_demo_data", lambda: True)
    call_command("demo", "--port", "8123", stdout=io.StringIO())
    assert runserver == [
        (("runserver", "127.0.0.1:8123"), {"use_reloader": False, "use_ipv6": False})
    ]
    call_command("demo", "--no-serve", stdout=io.StringIO())
    assert len(runserver) == 1


def test_serve_listens_where_asked(runserver):
    call_command("serve", "--host", "::1", "--port", "9000")
    assert runserver == [(("runserver", "[::1]:9000"), {"use_reloader": False, "use_ipv6": True})]
