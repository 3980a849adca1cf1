import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from medassist.access.models import ApiToken
from medassist.access.tokens import (
    TOKEN_PREFIX,
    hash_token,
    issue_token,
    revoke_tokens,
    user_for_token,
)
from medassist.audit.models import Action, AuditEvent
from medassist.core import clock

pytestmark = pytest.mark.django_db


def test_an_issued_token_finds_its_user_and_is_marked_used(cast):
    raw = issue_token(user=cast.alice)

    assert raw.startswith(TOKEN_PREFIX)
    assert user_for_token(raw) == cast.alice
    assert ApiToken.objects.get(user=cast.alice).last_used_at is not None


def test_only_the_hash_of_a_token_is_stored(cast):
    raw = issue_token(user=cast.alice, name="laptop")

    token = ApiToken.objects.get(user=cast.alice)
    assert token.token_hash == hash_token(raw)
    assert token.name == "laptop"
    stored = [str(v) for v in ApiToken.objects.values_list(flat=False)[0]]
    assert not any(raw in value for value in stored)


def test_each_token_is_different(cast):
    assert issue_token(user=cast.alice) != issue_token(user=cast.alice)


@pytest.mark.parametrize(
    "raw", ["", "ma_", "ma_not-a-token", "Bearer", "x" * 10_000, TOKEN_PREFIX + "a" * 200]
)
def test_unknown_or_malformed_tokens_find_nobody(cast, raw):
    issue_token(user=cast.alice)
    assert user_for_token(raw) is None


def test_a_revoked_token_finds_nobody(cast):
    raw = issue_token(user=cast.alice)
    assert revoke_tokens(user=cast.alice) == 1
    assert user_for_token(raw) is None


def test_revoking_by_name_leaves_the_other_tokens(cast):
    laptop = issue_token(user=cast.alice, name="laptop")
    script = issue_token(user=cast.alice, name="script")

    revoke_tokens(user=cast.alice, name="laptop")

    assert user_for_token(laptop) is None
    assert user_for_token(script) == cast.alice


def test_a_token_expires_after_its_days(cast, monkeypatch):
    raw = issue_token(user=cast.alice, days=30)
    issued = clock.now()

    monkeypatch.setattr(clock, "now", lambda: issued + dt.timedelta(days=29, hours=23))
    assert user_for_token(raw) == cast.alice
    monkeypatch.setattr(clock, "now", lambda: issued + dt.timedelta(days=30, minutes=1))
    assert user_for_token(raw) is None


def test_a_token_without_days_never_expires(cast, monkeypatch):
    raw = issue_token(user=cast.alice)
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2999, 1, 1, tzinfo=dt.UTC))
    assert user_for_token(raw) == cast.alice


def test_a_deactivated_users_token_finds_nobody(cast):
    raw = issue_token(user=cast.alice)
    cast.alice.is_active = False
    cast.alice.save()
    assert user_for_token(raw) is None


def test_a_token_lasts_at_least_a_day(cast):
    with pytest.raises(ValueError, match="at least one day"):
        issue_token(user=cast.alice, days=0)


def test_issuing_and_revoking_are_audited_without_the_token(cast):
    raw = issue_token(user=cast.alice, name="laptop")
    revoke_tokens(user=cast.alice)

    issued, revoked = AuditEvent.objects.filter(entity_type="ApiToken").order_by("id")
    assert (issued.action, revoked.action) == (Action.CREATE, Action.UPDATE)
    assert issued.channel == "cli"
    assert "alice" in issued.description and "laptop" in issued.description
    assert raw not in issued.description and raw[len(TOKEN_PREFIX) :] not in issued.description


def run_token_command(*args: str) -> str:
    out = StringIO()
    call_command("token", *args, stdout=out)
    return out.getvalue()


def test_the_token_command_prints_only_a_working_token(cast):
    output = run_token_command("alice")

    raw = output.strip()
    assert output == raw + "\n"
    assert user_for_token(raw) == cast.alice


def test_the_token_command_sets_days_and_name(cast):
    run_token_command("bob", "--days", "7", "--name", "ehr-sync")

    token = ApiToken.objects.get(user=cast.bob)
    assert token.name == "ehr-sync"
    assert token.expires_at is not None
    assert token.expires_at - token.created_at == dt.timedelta(days=7)


def test_the_token_command_revokes(cast):
    raw = run_token_command("alice").strip()

    assert "Revoked 1 token(s) of alice" in run_token_command("alice", "--revoke")
    assert user_for_token(raw) is None


def test_the_token_command_names_an_unknown_user(cast):
    with pytest.raises(CommandError, match="No user called 'mallory'"):
        run_token_command("mallory")


def test_the_token_command_refuses_a_deactivated_user(cast):
    cast.alice.is_active = False
    cast.alice.save()
    with pytest.raises(CommandError, match="deactivated"):
        run_token_command("alice")


@pytest.mark.parametrize("days", ["0", "-3", "abc", "99999"])
def test_the_token_command_refuses_bad_days(cast, days):
    with pytest.raises(CommandError, match="days"):
        run_token_command("alice", "--days", days)


def test_last_used_is_kept_to_the_minute(cast):
    import datetime as dt

    raw = issue_token(user=cast.alice)
    user_for_token(raw)
    first = ApiToken.objects.get(user=cast.alice).last_used_at
    assert first is not None
    user_for_token(raw)  # seconds later: no write
    assert ApiToken.objects.get(user=cast.alice).last_used_at == first
    ApiToken.objects.filter(user=cast.alice).update(last_used_at=first - dt.timedelta(minutes=2))
    user_for_token(raw)
    later = ApiToken.objects.get(user=cast.alice).last_used_at
    assert later is not None and later > first - dt.timedelta(minutes=1)
