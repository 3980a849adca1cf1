import pytest

from medassist.audit.tests.factories import verified_client


@pytest.fixture
def erin_client(cast):
    """erin, compliance auditor of North and South, signed in with her second factor."""
    return verified_client(cast.erin)
