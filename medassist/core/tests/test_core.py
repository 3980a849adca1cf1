import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from medassist.audit.tests.factories import verified_client
from medassist.core.reference import missing_reference_files


def test_the_configured_reference_directory_is_complete():
    assert missing_reference_files() == []


def test_a_missing_reference_folder_is_named(tmp_path):
    (tmp_path / "cdsi").mkdir()
    (tmp_path / "cdsi" / "SOURCE.md").write_text("x")
    missing = missing_reference_files(tmp_path)
    assert "cdsi/supporting-data-4.64" in missing and "vitals/SOURCE.md" in missing
    assert "cdsi/SOURCE.md" not in missing


def test_start_up_check_fails_with_a_clear_message(settings, tmp_path):
    settings.REFERENCE_DIR = tmp_path / "nowhere"
    with pytest.raises(SystemCheckError, match=r"Reference data missing under .*nowhere"):
        call_command("check")


@pytest.mark.django_db
def test_healthz_reports_database_and_migrations(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["database"]["vendor"] in {"sqlite", "postgresql"}
    assert body["migrations"] == {"applied": True, "pending": 0}


def _home_actions(client) -> str:  # type: ignore[no-untyped-def]
    body = client.get("/").content.decode()
    return body.split('<div class="actions">')[1].split("</div>")[0]


@pytest.mark.django_db
def test_home_offers_only_the_actions_the_role_allows(cast):
    alice = Client()
    alice.force_login(cast.alice)
    actions = _home_actions(alice)
    assert "Register a new patient" in actions and "Emergency access" in actions
    assert "Audit report" not in actions

    actions = _home_actions(verified_client(cast.erin))  # compliance auditor
    assert "Audit report" in actions
    assert "Register a new patient" not in actions and "Emergency access" not in actions


@pytest.mark.django_db
def test_home_invites_a_user_without_a_second_factor_to_set_one_up(cast):
    alice = Client()
    alice.force_login(cast.alice)
    assert "/account/mfa/setup/" in alice.get("/").content.decode()
    assert "/account/mfa/setup/" not in verified_client(cast.bob).get("/").content.decode()
