"""Writing and checking the audit trail. Services call record() inside their own transaction,
so an entry exists exactly when the change it describes was committed."""

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils.ipv6 import clean_ipv6_address

from medassist.access.actor import Actor
from medassist.audit.chain import GENESIS, link_hash
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.core import clock

# Any constant serves: it names the lock that serializes appends to the chain on PostgreSQL.
_CHAIN_LOCK = 0x4D41_5544


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    # SQLite: writers already hold the database's single write lock (transaction_mode IMMEDIATE).


def _stored_ip(ip: str | None) -> str | None:
    """The address exactly as the database will give it back, so that the hash computed before
    the insert matches the row read back by verify (both databases store IPv6 in compressed
    lower-case form: "2001:0DB8::0001" comes back as "2001:db8::1"). An address that is not one
    (e.g. a proxy's placeholder) is dropped rather than failing the audited action."""
    if not ip:
        return None
    try:
        ipaddress.ip_address(ip)
        return clean_ipv6_address(ip) if ":" in ip else ip
    except (ValueError, ValidationError):
        return None


def _text(value: str, limit: int) -> str:
    """Text as stored: NUL removed (PostgreSQL refuses it in text; it arrives in forged
    headers and user names), cut to the column's length."""
    return value.replace("\x00", "")[:limit]


def record(
    actor: Actor,
    action: Action | str,
    entity_type: str,
    *,
    patient: Any = None,
    clinic_id: int | None = None,
    entity_id: str = "",
    description: str = "",
    outcome: Outcome | str = Outcome.SUCCESS,
    reason: str = "",
    username: str | None = None,
) -> AuditEvent:
    if clinic_id is None and patient is not None:
        clinic_id = patient.clinic_id
    with transaction.atomic():
        _lock_chain()
        prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        event = AuditEvent(
            # In UTC, as the database gives it back: the hash covers its isoformat().
            occurred_at=clock.now().astimezone(dt.UTC),
            user_id=actor.user_id,
            username=_text(username if username is not None else actor.username, 150),
            roles=_text(",".join(sorted(actor.roles)), 200),
            clinic_id=int(clinic_id) if clinic_id is not None else None,
            patient_id=getattr(patient, "pk", None),
            action=str(action),
            entity_type=_text(entity_type, 60),
            entity_id=_text(str(entity_id), 64),
            description=_text(description, 500),
            outcome=str(outcome),
            reason=_text(reason, 500),
            channel=actor.channel,
            source_ip=_stored_ip(actor.ip),
            user_agent=_text(actor.user_agent, 300),
            prev_hash=prev,
        )
        event.hash = link_hash(prev, event.hashed_fields())
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class Anchor:
    """An entry's id and hash, written down outside the database (a ticket, a log shipped
    elsewhere, paper). The hash commits to every entry up to it, so a later check against the
    anchor detects removal of the latest entries and a recomputed chain, which the chain alone
    cannot: whoever can write the table can also rewrite every hash after a change."""

    event_id: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> "Anchor":
        event_id, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if not (sep and event_id.isdigit() and len(digest) == 64):
            raise ValueError(f"an anchor looks like 1234:<64 hex digits>, not {text!r}")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise ValueError(f"an anchor's hash is 64 hex digits, not {digest!r}") from None
        return cls(int(event_id), digest)

    def __str__(self) -> str:
        return f"{self.event_id}:{self.hash}"


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    problem: str
    event: AuditEvent | None = None  # the entry where the break shows, when there is one


@dataclass(frozen=True)
class ChainCheck:
    checked: int  # entries found intact before the first break (all of them when intact)
    broken: ChainBreak | None
    head: Anchor | None  # the last entry checked: the anchor to keep for next time

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(
    *,
    chunk_size: int = 5000,
    anchor: Anchor | None = None,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> ChainCheck:
    """Walk the whole trail in order (memory stays flat: rows are streamed in chunks) and
    return how many entries were intact and the first break. With an `anchor`, also check
    that its entry is still there, unchanged, so that removing the latest entries shows."""
    prev = GENESIS
    checked = 0
    head: Anchor | None = None
    anchor_seen = False

    def broken(problem: str, event: AuditEvent | None = None) -> ChainCheck:
        return ChainCheck(checked, ChainBreak(event.pk if event else None, problem, event), head)

    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != prev:
            if head is None:
                return broken(
                    "does not start the chain (the first entries were removed, "
                    "or this entry's link was changed)",
                    event,
                )
            return broken(
                f"does not follow entry #{head.event_id} (an entry between them was removed, "
                "or entries were reordered, or this entry's link was changed)",
                event,
            )
        if link_hash(prev, event.hashed_fields()) != event.hash:
            return broken("content does not match its hash (the entry was changed)", event)
        if anchor is not None and not anchor_seen and event.pk >= anchor.event_id:
            if event.pk != anchor.event_id:
                return broken(f"the anchor entry #{anchor.event_id} is missing", event)
            if event.hash != anchor.hash:
                return broken(
                    "differs from the anchor (the trail up to this entry was rewritten)", event
                )
            anchor_seen = True
        prev = event.hash
        head = Anchor(event.pk, event.hash)
        checked += 1
        if on_progress is not None and checked % progress_every == 0:
            on_progress(checked)
    if anchor is not None and not anchor_seen:
        last = f"#{head.event_id}" if head else "nothing (the trail is empty)"
        return broken(
            f"the trail ends at {last}, before the anchor entry #{anchor.event_id}: "
            "the latest entries were removed"
        )
    return ChainCheck(checked, None, head)


def out_of_reach(
    actor: Actor,
    entity_type: str,
    entity_id: object,
    *,
    action: Action | str = Action.READ,
    message: str = "Not found",
) -> Http404:
    """Record the denied attempt on a record that does not exist or is outside the actor's
    clinics (the two must look the same to the caller), and give the 404 to raise."""
    record(
        actor,
        action,
        entity_type,
        entity_id=str(entity_id)[:64],
        outcome=Outcome.DENIED,
        description="not found or outside the user's clinics",
    )
    return Http404(message)
