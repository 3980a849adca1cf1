"""Small pieces the lab and point-of-care services share: a refusal on one field, text as it is
stored, and a permission check at a clinic known by id."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.clinics.models import Clinic


def refuse(field_name: str, message: str, code: str = "invalid") -> ValidationError:
    """A refusal naming the field it is about (the form shows it there)."""
    return ValidationError({field_name: [ValidationError(message, code=code)]})


def clean(value: str, limit: int) -> str:
    """Typed text as stored: white space folded, NUL removed (PostgreSQL refuses it), cut to
    the column's length."""
    return " ".join(str(value or "").replace("\x00", "").split())[:limit]


def at_clinic(actor: Actor, perms: Iterable[Permission], clinic_id: int, message: str) -> None:
    """can() for a clinic known by id, with any one of `perms` (no query: an unsaved Clinic
    carries the id); refused with PermissionDenied(message)."""
    clinic = Clinic(pk=clinic_id)
    if not any(can(actor, p, clinic) for p in perms):
        raise PermissionDenied(message)
