import pytest

from medassist.access.actor import Actor
from medassist.core.testing import make_cast


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    # PBKDF2 is right for people and too slow for thousands of test logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Outbox deliveries run inline after commit, so a test sees their outcome when it asks.
    settings.OUTBOX_BACKGROUND = False


@pytest.fixture
def cast(db):
    return make_cast()


@pytest.fixture
def actor_of():
    return lambda user: Actor.for_user(user)
