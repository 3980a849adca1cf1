from collections.abc import Callable

import pytest
from django.test import Client

from medassist.access.tokens import issue_token, user_for_token


@pytest.fixture
def api_as(cast) -> Callable[[str], Client]:
    """A FHIR client acting as one of the cast, by bearer token: api_as("alice")."""

    def make(username: str) -> Client:
        token = issue_token(user=getattr(cast, username), name="test")
        # As a client in steady use: its token's last-used time was just written (it is kept
        # to the minute), so counting a request's queries counts the request's own.
        user_for_token(token)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}", raise_request_exception=False)

    return make
