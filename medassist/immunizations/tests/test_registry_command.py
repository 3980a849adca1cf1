import io

import pytest
from django.core.management import CommandError, call_command

from medassist.immunizations.models import RegistryConnection

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("registry", *args, stdout=out)
    return out.getvalue()


def test_set_show_and_off(cast):
    assert "No clinic" in run("show")
    run("set", "north", "--host", "127.0.0.1", "--port", "5500", "--facility", "NFM", "--test")
    row = RegistryConnection.objects.get(clinic=cast.north)
    assert (row.port, row.sending_facility, row.processing_id, row.active) == (
        5500,
        "NFM",
        "T",
        True,
    )
    assert "north: 127.0.0.1:5500 as NFM" in run("show")
    run("off", "north")
    row.refresh_from_db()
    assert not row.active


def test_bad_input(cast):
    with pytest.raises(CommandError, match="No clinic with code 'west'"):
        run("set", "west", "--host", "h", "--port", "1", "--facility", "F")
    with pytest.raises(CommandError, match="port"):
        run("set", "north", "--host", "h", "--port", "70000", "--facility", "F")
    assert not RegistryConnection.objects.exists()
