"""Bearer tokens for the FHIR API (RFC 6750): issued from the command line, looked up by hash.

A token is `ma_` followed by 32 random bytes (secrets.token_urlsafe: 256 bits, so guessing is
hopeless and no lock-out is needed). Only its SHA-256 is stored; a plain hash is enough because
the token is random, unlike a password, and it keeps the lookup a single indexed query.
"""

import datetime as dt
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.models import ApiToken
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Tells a leaked token apart in logs and secret scanners; not a secret itself.
TOKEN_PREFIX = "ma_"  # noqa: S105
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 100  # longer than any token issued here: refused before hashing


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _cli_actor() -> Actor:
    # Tokens are issued and revoked by whoever runs `medassist token` on the server: no signed-in
    # user, so the audit entry names the channel and, in its description, the token's owner.
    return Actor.system("cli")


def issue_token(*, user: "User", name: str = "cli", days: int | None = None) -> str:
    """Create a token for `user` and return it. This is the only time the raw token exists:
    it cannot be shown again, only revoked and replaced."""
    if days is not None and days < 1:
        raise ValueError("a token lasts at least one day")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    now = clock.now()
    expires_at = now + dt.timedelta(days=days) if days is not None else None
    with transaction.atomic():
        ApiToken.objects.create(
            user=user,
            name=name[:100],
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=expires_at,
        )
        record(
            _cli_actor(),
            Action.CREATE,
            "ApiToken",
            description=(
                f"API token {name[:100]!r} issued for {user.get_username()}, "
                + (f"expires {expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else "no expiry")
            ),
        )
    return raw


LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def user_for_token(raw: str) -> "User | None":
    """The active user a token belongs to, or None when the token is unknown, revoked, expired
    or its user deactivated. Marks the token as used."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > _MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    # The lookup is by a hash of a random value, so its timing tells nothing about other tokens;
    # the comparison below is constant-time all the same, should the lookup ever change.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = clock.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    # "Last used" to the minute: a client posting many requests a second would otherwise write
    # (and on PostgreSQL, commit to disk) the same row on every one of them.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_tokens(*, user: "User", name: str | None = None) -> int:
    """Revoke the user's tokens (only those called `name`, when given); returns how many."""
    tokens = ApiToken.objects.filter(user=user, revoked=False)
    if name is not None:
        tokens = tokens.filter(name=name)
    with transaction.atomic():
        count = tokens.update(revoked=True)
        record(
            _cli_actor(),
            Action.UPDATE,
            "ApiToken",
            description=(
                f"{count} API token(s) of {user.get_username()} revoked"
                + (f" (name {name[:100]!r})" if name is not None else "")
            ),
        )
    return count
