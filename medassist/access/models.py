import datetime as dt

from django.conf import settings
from django.db import models

from medassist.core import clock


class ApiToken(models.Model):
    """A bearer token for the FHIR API (RFC 6750). Only the SHA-256 of the token is kept: a
    copy of the database does not give anyone a working token. The raw token is shown once,
    when it is issued (access.tokens.issue_token)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="cli", help_text="what it is for")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="empty: never")
    revoked = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked"])]

    def __str__(self) -> str:
        return f"API token {self.name!r} of user {self.user_id}"

    def is_usable(self, at: dt.datetime) -> bool:
        """Neither revoked nor expired at `at` (the user's own state is checked apart)."""
        return not self.revoked and (self.expires_at is None or at < self.expires_at)
