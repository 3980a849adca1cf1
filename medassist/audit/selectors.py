"""Reads of the audit trail, scoped to the auditor and themselves audited (who watches the
watchers: ONC 170.315(d)(2) counts a look at the trail as an auditable event)."""

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action, AuditEvent, Outcome
from medassist.audit.services import record
from medassist.clinics.models import Membership

PAGE_SIZE = 50
RECENT_EMERGENCIES = 10

# Public sort key (in URLs) -> the columns it orders by. Only these reach order_by().
SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("occurred_at",),
    "user": ("username",),
    "clinic": ("clinic__name",),
    "patient": ("patient__mrn",),
    "action": ("action",),
    "entity": ("entity_type", "entity_id"),
    "outcome": ("outcome",),
    "ip": ("source_ip",),
}
DEFAULT_SORT = "-time"


def visible_audit_events(
    actor: Actor, perm: Permission = Permission.VIEW_AUDIT
) -> QuerySet[AuditEvent]:
    """The trail an auditor may read: entries of the clinics where they hold `perm`, the
    sign-ins and sign-outs of those clinics' staff, and failed sign-ins of unknown users."""
    clinics = actor.clinics_with(perm)
    if not clinics:
        return AuditEvent.objects.none()
    staff = Membership.objects.filter(clinic_id__in=clinics).values("user_id")
    return AuditEvent.objects.filter(
        Q(clinic_id__in=clinics)
        | Q(clinic__isnull=True, user_id__in=staff)
        | Q(clinic__isnull=True, user__isnull=True)
    )


@dataclass(frozen=True)
class AuditFilters:
    """What the auditor asked for. Dates are whole days in the clinic's local time."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    username: str = ""
    patient: str = ""  # an MRN or a patient's public id
    action: str = ""
    outcome: str = ""
    sort: str = DEFAULT_SORT

    def describe(self) -> str:
        """The filters in a line, for the audit entry that records the look."""
        parts = [
            f"from {self.date_from:%Y-%m-%d}" if self.date_from else "",
            f"to {self.date_to:%Y-%m-%d}" if self.date_to else "",
            f"user {self.username}" if self.username else "",
            f"patient {self.patient}" if self.patient else "",
            f"action {self.action}" if self.action else "",
            f"outcome {self.outcome}" if self.outcome else "",
        ]
        return "; ".join(p for p in parts if p) or "all entries"


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _patient_condition(text: str) -> Q:
    try:
        return Q(patient__public_id=uuid.UUID(text))
    except ValueError:
        return Q(patient__mrn=text)


def _order_by(sort: str) -> list[str]:
    descending = sort.startswith("-")
    columns = SORT_COLUMNS.get(sort.lstrip("-"), SORT_COLUMNS["time"])
    sign = "-" if descending else ""
    # id last: a stable order, so that no entry shows on two pages or on none.
    return [sign + c for c in columns] + [sign + "id"]


def filter_audit_events(events: QuerySet[AuditEvent], f: AuditFilters) -> QuerySet[AuditEvent]:
    if f.date_from:
        events = events.filter(occurred_at__gte=_local_midnight(f.date_from))
    if f.date_to:
        events = events.filter(occurred_at__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    if f.username:
        events = events.filter(username__iexact=f.username)
    if f.patient:
        events = events.filter(_patient_condition(f.patient))
    if f.action:
        events = events.filter(action=f.action)
    if f.outcome:
        events = events.filter(outcome=f.outcome)
    return events.order_by(*_order_by(f.sort))


def recent_emergency_access(actor: Actor, limit: int = RECENT_EMERGENCIES) -> list[AuditEvent]:
    """The latest break-the-glass entries, which the compliance auditor reviews first."""
    return list(
        visible_audit_events(actor)
        .filter(action=Action.EMERGENCY_ACCESS)
        .select_related("patient", "clinic")
        .order_by("-occurred_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class AuditReport:
    filters: AuditFilters | None  # None: the filters given were not valid; nothing is listed
    page: Page | None
    emergencies: list[AuditEvent] = field(default_factory=list)
    can_export: bool = False


def _require(actor: Actor, perm: Permission, what: str) -> None:
    if not can(actor, perm):
        record(
            actor,
            Action.EXPORT if perm is Permission.EXPORT_AUDIT else Action.READ,
            "AuditEvent",
            outcome=Outcome.DENIED,
            description=f"{what}: the user's roles do not allow it",
        )
        raise PermissionDenied(f"Your role may not {what}.")


def audit_report(
    actor: Actor, filters: AuditFilters | None, *, page_number: int | str | None = 1
) -> AuditReport:
    """One page of the trail as filtered, the recent emergency accesses, and the record that
    this actor looked. A fixed number of queries whatever the page holds."""
    _require(actor, Permission.VIEW_AUDIT, "read the audit trail")
    emergencies = recent_emergency_access(actor)
    page = None
    if filters is not None:
        events = filter_audit_events(
            visible_audit_events(actor).select_related("patient", "clinic"), filters
        )
        page = Paginator(events, PAGE_SIZE).get_page(page_number)
        page.object_list = list(page.object_list)  # read now, before this look is recorded
    record(
        actor,
        Action.SEARCH,
        "AuditEvent",
        description=(
            f"audit report page {page.number}: {filters.describe()}"
            if page is not None and filters is not None
            else "audit report (filters not valid: no entries listed)"
        )[:500],
    )
    return AuditReport(
        filters=filters,
        page=page,
        emergencies=emergencies,
        can_export=can(actor, Permission.EXPORT_AUDIT),
    )


EXPORT_COLUMNS = (
    "id",
    "time",
    "username",
    "roles",
    "clinic",
    "patient_mrn",
    "action",
    "entity_type",
    "entity_id",
    "outcome",
    "reason",
    "description",
    "channel",
    "source_ip",
    "user_agent",
    "hash",
)
_EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "username",
    "roles",
    "clinic__code",
    "patient__mrn",
    "action",
    "entity_type",
    "entity_id",
    "outcome",
    "reason",
    "description",
    "channel",
    "source_ip",
    "user_agent",
    "hash",
)


def export_audit_events(actor: Actor, filters: AuditFilters) -> Iterator[tuple]:
    """Every entry matching the filters, as rows of EXPORT_COLUMNS, to be streamed. The check
    and the record of the export happen now, before any row is read; the export lists the
    entries that existed when it was asked for."""
    _require(actor, Permission.EXPORT_AUDIT, "export the audit trail")
    export = record(
        actor,
        Action.EXPORT,
        "AuditEvent",
        description=f"audit trail CSV: {filters.describe()}"[:500],
    )
    events = filter_audit_events(
        visible_audit_events(actor, Permission.EXPORT_AUDIT).filter(id__lt=export.pk), filters
    )
    return _export_rows(events.values_list(*_EXPORT_FIELDS))


def _export_rows(rows: QuerySet) -> Iterator[tuple]:
    for row in rows.iterator(chunk_size=2000):
        yield (row[0], timezone.localtime(row[1]).isoformat(), *row[2:])
