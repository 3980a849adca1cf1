import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

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
