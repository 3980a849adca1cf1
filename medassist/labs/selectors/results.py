"""Reads of results, scoped to the actor's clinics (another clinic's id looks exactly like a
missing one: 404) and audited where they show patient data.

Who sees what (DOMAIN.md: an MA does not interpret results; findings go to the provider):
- a provider (REVIEW_LAB_RESULTS) sees every value and the lab's flags at once;
- anyone else who may see the clinic's lab orders (the MA, the manager) sees that a report came
  and whose review it waits for; its values and flags only once the provider released it, with
  what the provider wrote for the patient. The values are not even read from the database
  before release for them, so no template slip can show one.

Every page runs a fixed number of queries, however many reports or results it shows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.labs.models import (
    ABNORMAL_FLAGS,
    CRITICAL_FLAGS,
    InboundMessage,
    LabReport,
    LabResult,
    OrderMessage,
    ResultAlert,
)
from medassist.labs.services.results import INBOX_STATUSES, flag_label, value_text
from medassist.patients.models import Patient

INBOX_ROWS = 200
PATIENT_ROWS = 300
TREND_ROWS = 500
QUEUE_ROWS = 200
NOT_ACCEPTED = (OrderMessage.Status.ERROR, OrderMessage.Status.REJECTED, OrderMessage.Status.FAILED)


def _denied(actor: Actor, entity: str, public_id: object) -> Http404:
    return out_of_reach(actor, entity, public_id, message=f"No such {entity}")


def _scope(actor: Actor, perm: Permission) -> list[int]:
    return actor.clinics_with(perm) if actor.user.is_authenticated else []


def person(user: Any) -> str:
    if user is None:
        return "the ordering provider"
    return user.get_full_name() or user.get_username()


def may_see_values(actor: Actor, report: LabReport) -> bool:
    """Values and flags: the provider always; others once the provider released them."""
    return can(actor, Permission.REVIEW_LAB_RESULTS, report) or report.released_at is not None


# -- The provider's inbox -------------------------------------------------------------------------


def _open_alert() -> Exists:
    return Exists(
        ResultAlert.objects.filter(report=OuterRef("pk"), status=ResultAlert.Status.REQUESTED)
    )


@dataclass
class Inbox:
    to_review: list[LabReport]
    not_released: list[LabReport]
    critical: int
    abnormal: int
    other: int

    @property
    def total(self) -> int:
        return self.critical + self.abnormal + self.other


def inbox(actor: Actor) -> Inbox:
    """The reports waiting for this provider's review (critical first, then abnormal, then the
    others, newest first), and those they reviewed and have not released. Four queries."""
    clinics = _scope(actor, Permission.REVIEW_LAB_RESULTS)
    if not clinics:
        raise PermissionDenied("Only a provider has a results inbox.")
    mine = LabReport.objects.filter(ordering_provider_id=actor.user_id, clinic_id__in=clinics)
    unreviewed = mine.filter(reviewed_at__isnull=True)
    counts = unreviewed.aggregate(
        n_critical=Count("id", filter=Q(critical=True)),
        n_abnormal=Count("id", filter=Q(critical=False, abnormal=True)),
        n_other=Count("id", filter=Q(critical=False, abnormal=False)),
    )
    rows = _inbox_rows(unreviewed).order_by("-critical", "-abnormal", "-issued_at", "-id")
    to_review = list(rows[:INBOX_ROWS])
    not_released = list(
        _inbox_rows(mine.filter(reviewed_at__isnull=False, released_at__isnull=True)).order_by(
            "-reviewed_at", "-id"
        )[:INBOX_ROWS]
    )
    shown = to_review + not_released
    if shown:
        record(
            actor,
            Action.READ,
            "DiagnosticReport",
            entity_id=",".join(str(r.public_id) for r in shown[:5])[:64],
            description=f"results inbox: {len(to_review)} to review, {len(not_released)} "
            "reviewed and not released",
        )
    return Inbox(
        to_review=to_review,
        not_released=not_released,
        critical=counts["n_critical"],
        abnormal=counts["n_abnormal"],
        other=counts["n_other"],
    )


def _inbox_rows(rows: QuerySet[LabReport]) -> QuerySet[LabReport]:
    return rows.select_related("patient", "order").annotate(
        has_open_alert=_open_alert(),
        flagged=Count("results", filter=Q(results__flag__in=list(ABNORMAL_FLAGS))),
    )


# -- One report -----------------------------------------------------------------------------------


@dataclass
class ResultRow:
    result: LabResult
    performer: str
    previous: LabResult | None = None
    previous_performer: str = ""
    corrected_from: str = ""  # the value of the previous version, when this one changed it

    @property
    def value(self) -> str:
        return value_text(self.result)

    @property
    def flagged(self) -> bool:
        return self.result.flag in ABNORMAL_FLAGS

    @property
    def critical(self) -> bool:
        return self.result.flag in CRITICAL_FLAGS

    @property
    def flag_text(self) -> str:
        """The lab's flag, always attributed: never the viewer's judgement."""
        if not self.result.flag:
            return f"No flag from {self.performer}"
        return f"Flag from {self.performer}: {flag_label(self.result.flag)}"

    @property
    def reference(self) -> str:
        return reference_text(self.result)

    @property
    def previous_value(self) -> str:
        return value_text(self.previous) if self.previous is not None else ""


def reference_text(result: LabResult) -> str:
    """OBX-7 as the lab sent it, with the unit when it is a numeric range."""
    if not result.reference_text:
        return ""
    numeric = result.reference_low is not None or result.reference_high is not None
    return (
        f"{result.reference_text} {result.unit}"
        if numeric and result.unit
        else result.reference_text
    )


@dataclass
class ReportView:
    report: LabReport
    may_review: bool
    may_tell: bool
    show_values: bool
    rows: list[ResultRow] = field(default_factory=list)
    open_alerts: list[ResultAlert] = field(default_factory=list)
    acknowledged: list[ResultAlert] = field(default_factory=list)

    @property
    def provider(self) -> str:
        return person(self.report.ordering_provider)

    @property
    def corrected(self) -> bool:
        return self.report.status == LabReport.Status.CORRECTED or any(
            r.corrected_from for r in self.rows
        )

    @property
    def versions(self) -> list[dict[str, Any]]:
        return list(reversed(self.report.history)) if self.show_values else []


def _reports(actor: Actor) -> QuerySet[LabReport]:
    return LabReport.objects.filter(clinic_id__in=_scope(actor, Permission.VIEW_LAB_ORDERS))


def get_report(actor: Actor, public_id: uuid.UUID | str) -> LabReport:
    """The report, if the actor may see the clinic's lab work; 404 otherwise. Audited."""
    report = (
        _reports(actor)
        .select_related(
            "patient",
            "order__requisition",
            "ordering_provider",
            "reviewed_by",
            "released_by",
            "told_by",
        )
        .filter(public_id=public_id)
        .first()
    )
    if report is None:
        raise _denied(actor, "DiagnosticReport", public_id)
    record(
        actor,
        Action.READ,
        "DiagnosticReport",
        patient=report.patient,
        clinic_id=report.clinic_id,
        entity_id=str(report.public_id),
        description=f"{report.name} ("
        + ("values shown" if may_see_values(actor, report) else "status only, not released")
        + ")",
    )
    return report


def report_view(actor: Actor, report: LabReport) -> ReportView:
    """What the report page shows this actor (the report from get_report). Four queries at
    most, however many results."""
    show = may_see_values(actor, report)
    view = ReportView(
        report=report,
        may_review=can(actor, Permission.REVIEW_LAB_RESULTS, report),
        may_tell=can(actor, Permission.VIEW_LAB_ORDERS, report) and report.released_at is not None,
        show_values=show,
    )
    if not show:
        return view
    results = list(report.results.all())
    before = _previous_versions(report)
    previous = _previous_results(actor, report, results)
    for r in results:
        row = ResultRow(r, report.performer)
        found = previous.get(r.pk)
        if found is not None:
            row.previous, row.previous_performer = found
        old = before.get(r.loinc)
        if old is not None and report.version > 1 and old != value_text(r):
            row.corrected_from = old
        view.rows.append(row)
    if view.may_review:
        alerts = list(
            ResultAlert.objects.filter(report=report)
            .select_related("acknowledged_by")
            .order_by("raised_at")
        )
        view.open_alerts = [a for a in alerts if a.status == ResultAlert.Status.REQUESTED]
        view.acknowledged = [a for a in alerts if a.status == ResultAlert.Status.COMPLETED]
    return view


def _previous_versions(report: LabReport) -> dict[str, str]:
    if not report.history:
        return {}
    last = report.history[-1]
    return {r["loinc"]: r["value"] for r in last.get("results", [])}


def _visible_results(actor: Actor, patient: Patient) -> QuerySet[LabResult]:
    rows = LabResult.objects.filter(patient=patient).exclude(
        report__status=LabReport.Status.CANCELLED
    )
    if not can(actor, Permission.REVIEW_LAB_RESULTS, patient):
        rows = rows.filter(report__released_at__isnull=False)
    return rows


def _previous_results(
    actor: Actor, report: LabReport, results: list[LabResult]
) -> dict[int, tuple[LabResult, str]]:
    """For each result, the patient's latest earlier result of the same LOINC from another
    report (that the actor may see), with who performed it. One query."""
    if not results:
        return {}
    loincs = {r.loinc for r in results}
    latest = max((r.observed_at or report.issued_at) for r in results)
    earlier = list(
        _visible_results(actor, report.patient)
        .filter(loinc__in=loincs, observed_at__lt=latest)
        .exclude(report=report)
        .select_related("report")
        .order_by("-observed_at", "-id")[:200]
    )
    out: dict[int, tuple[LabResult, str]] = {}
    for r in results:
        when = r.observed_at or report.issued_at
        for e in earlier:
            if e.loinc == r.loinc and e.observed_at is not None and e.observed_at < when:
                out[r.pk] = (e, e.report.performer)
                break
    return out


# -- A patient's results --------------------------------------------------------------------------


@dataclass
class PatientReport:
    report: LabReport
    show_values: bool
    rows: list[ResultRow] = field(default_factory=list)

    @property
    def provider(self) -> str:
        return person(self.report.ordering_provider)


@dataclass
class PatientResults:
    patient: Patient
    reports: list[PatientReport]
    may_review: bool
    trends: list[tuple[str, str]]  # (loinc, name) of numeric results the actor may see


def get_patient(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    from medassist.patients.selectors import get_patient as patient_of

    return patient_of(actor, public_id, Permission.VIEW_LAB_ORDERS, audit_as="DiagnosticReport")


def patient_results(actor: Actor, patient_id: uuid.UUID | str) -> PatientResults:
    """The patient's reports, newest first; values only where the actor may see them. Four
    queries however many reports."""
    patient = get_patient(actor, patient_id)
    may_review = can(actor, Permission.REVIEW_LAB_RESULTS, patient)
    reports = list(
        LabReport.objects.filter(patient=patient)
        .select_related("ordering_provider", "order")
        .order_by("-issued_at", "-id")[:PATIENT_ROWS]
    )
    visible = [r for r in reports if may_review or r.released_at is not None]
    by_report: dict[int, list[LabResult]] = defaultdict(list)
    for result in LabResult.objects.filter(report_id__in=[r.pk for r in visible]):
        by_report[result.report_id].append(result)
    out = []
    trends: dict[str, str] = {}
    for r in reports:
        show = may_review or r.released_at is not None
        rows = [ResultRow(x, r.performer) for x in by_report.get(r.pk, [])] if show else []
        for row in rows:
            if row.result.value_number is not None and r.status != LabReport.Status.CANCELLED:
                trends.setdefault(row.result.loinc, row.result.name)
        out.append(PatientReport(r, show, rows))
    return PatientResults(patient, out, may_review, sorted(trends.items(), key=lambda t: t[1]))


# -- Trends ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendRow:
    result: LabResult
    when: dt.datetime
    value: float | None  # None: not plotted (no number, or another unit)
    text: str
    flag: str
    flag_text: str
    performer: str
    reference: str

    @property
    def flagged(self) -> bool:
        return self.flag in ABNORMAL_FLAGS

    @property
    def critical(self) -> bool:
        return self.flag in CRITICAL_FLAGS


@dataclass
class LabTrend:
    loinc: str
    name: str
    unit: str
    rows: list[TrendRow]
    band: tuple[float | None, float | None] | None  # the latest result's reference range
    band_text: str = ""
    released_only: bool = False

    @property
    def points(self) -> list[TrendRow]:
        return [r for r in self.rows if r.value is not None]

    @property
    def not_plotted(self) -> int:
        return len(self.rows) - len(self.points)


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def trend(actor: Actor, patient_id: uuid.UUID | str, loinc: str) -> tuple[Patient, LabTrend]:
    """One LOINC over time for the patient: the results the actor may see, oldest first, in the
    unit of the latest one (others are listed, not plotted). Three queries."""
    patient = get_patient(actor, patient_id)
    code = str(loinc)[:10]
    rows = list(
        _visible_results(actor, patient)
        .filter(loinc=code, observed_at__isnull=False)
        .select_related("report")
        .order_by("observed_at", "id")[:TREND_ROWS]
    )
    record(
        actor,
        Action.READ,
        "Observation",
        patient=patient,
        clinic_id=patient.clinic_id,
        entity_id=str(patient.public_id),
        description=f"lab trend of LOINC {code}: {len(rows)} result(s)",
    )
    last = rows[-1] if rows else None
    unit = last.unit if last else ""
    out: list[TrendRow] = []
    for r in rows:
        flag = r.flag
        label = (
            f"Flag from {r.report.performer}: {flag_label(flag)}"
            if flag
            else f"No flag from {r.report.performer}"
        )
        out.append(
            TrendRow(
                result=r,
                when=r.observed_at,  # type: ignore[arg-type]
                value=_float(r.value_number) if r.unit == unit else None,
                text=value_text(r),
                flag=flag,
                flag_text=label,
                performer=r.report.performer,
                reference=reference_text(r),
            )
        )
    band = None
    band_text = ""
    if last is not None and (last.reference_low is not None or last.reference_high is not None):
        band = (_float(last.reference_low), _float(last.reference_high))
        band_text = reference_text(last)
    return patient, LabTrend(
        loinc=code,
        name=last.name if last else code,
        unit=unit,
        rows=out,
        band=band,
        band_text=band_text,
        released_only=not can(actor, Permission.REVIEW_LAB_RESULTS, patient),
    )


# -- Critical-result alerts -----------------------------------------------------------------------


def open_alerts(actor: Actor) -> list[ResultAlert]:
    """The critical results waiting for this provider's acknowledgment, oldest first."""
    clinics = _scope(actor, Permission.REVIEW_LAB_RESULTS)
    if not clinics:
        return []
    return list(
        ResultAlert.objects.filter(
            owner_id=actor.user_id, clinic_id__in=clinics, status=ResultAlert.Status.REQUESTED
        )
        .select_related("patient", "report")
        .order_by("raised_at", "id")[:20]
    )


def get_alert(actor: Actor, public_id: uuid.UUID | str) -> ResultAlert:
    alert = (
        ResultAlert.objects.filter(
            clinic_id__in=_scope(actor, Permission.VIEW_LAB_ORDERS), public_id=public_id
        )
        .select_related("patient", "report")
        .first()
    )
    if alert is None:
        raise _denied(actor, "Task", public_id)
    record(
        actor,
        Action.READ,
        "Task",
        patient=alert.patient,
        clinic_id=alert.clinic_id,
        entity_id=str(alert.public_id),
    )
    return alert


# -- The interface's error queue ------------------------------------------------------------------


@dataclass
class Queue:
    messages: list[InboundMessage]
    order_messages: list[OrderMessage]
    handled: list[InboundMessage]


def interface_queue(actor: Actor) -> Queue:
    """Messages from the labs that could not be filed (of the manager's clinics; those with no
    clinic are for the command line), orders the labs did not accept, and the last handled.
    Three queries."""
    clinics = _scope(actor, Permission.MANAGE_LAB_INTERFACE)
    if not clinics:
        raise PermissionDenied("Only the clinic manager sees the lab interface's error queue.")
    inbound = InboundMessage.objects.filter(clinic_id__in=clinics).select_related("lab")
    messages = list(
        inbound.filter(status__in=INBOX_STATUSES).order_by("-received_at", "-id")[:QUEUE_ROWS]
    )
    handled = list(
        inbound.filter(status__in=(InboundMessage.Status.RESOLVED, InboundMessage.Status.DISMISSED))
        .select_related("handled_by")
        .order_by("-handled_at", "-id")[:20]
    )
    order_messages = list(
        OrderMessage.objects.filter(clinic_id__in=clinics, status__in=NOT_ACCEPTED)
        .select_related("requisition__patient", "requisition__lab")
        .order_by("-created_at", "-id")[:QUEUE_ROWS]
    )
    record(
        actor,
        Action.READ,
        "MessageHeader",
        entity_id="lab-interface",
        description=(
            f"lab interface queue: {len(messages)} message(s) not filed, "
            f"{len(order_messages)} order message(s) not accepted"
        ),
    )
    return Queue(messages, order_messages, handled)


@dataclass
class MessageView:
    message: InboundMessage
    segments: list[str]
    ack_segments: list[str]
    reports: list[LabReport]

    @property
    def waiting(self) -> bool:
        return self.message.status in INBOX_STATUSES


def segments(raw: str) -> list[str]:
    """An HL7 v2 message one segment a line (segments end in CR; files often carry LF)."""
    text = (raw or "").replace("\r\n", "\r").replace("\n", "\r")
    return [s for s in text.split("\r") if s.strip()]


def get_inbound(actor: Actor, public_id: uuid.UUID | str) -> InboundMessage:
    message = (
        InboundMessage.objects.filter(
            clinic_id__in=_scope(actor, Permission.MANAGE_LAB_INTERFACE), public_id=public_id
        )
        .select_related("lab", "handled_by")
        .first()
    )
    if message is None:
        raise _denied(actor, "MessageHeader", public_id)
    return message


def message_view(actor: Actor, public_id: uuid.UUID | str) -> MessageView:
    message = get_inbound(actor, public_id)
    reports = list(message.reports.select_related("patient"))
    record(
        actor,
        Action.READ,
        "MessageHeader",
        patient=reports[0].patient if len({r.patient_id for r in reports}) == 1 else None,
        clinic_id=message.clinic_id,
        entity_id=str(message.public_id),
        description=f"lab message {message.control_id} ({message.get_status_display()}) shown",
    )
    return MessageView(message, segments(message.raw), segments(message.ack), reports)
