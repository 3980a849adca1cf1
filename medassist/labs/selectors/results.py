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
from medassist.core import clock
from medassist.labs.models import (
    ABNORMAL_FLAGS,
    CRITICAL_FLAGS,
    VOID_RESULT_STATUSES,
    InboundMessage,
    LabReport,
    LabResult,
    OrderMessage,
    ResultAlert,
)
from medassist.labs.services.results import (
    INBOX_STATUSES,
    escalate_after,
    flag_label,
    inbound_scope,
    may_tell_patient,
    reviews_at,
    value_text,
)
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
    others, newest first), and those they reviewed and have not released. Theirs are those
    they ordered, and those of any provider who does not review results at the clinic any
    more (left, membership ended, role changed): such a report is every reviewer's there, so
    it reaches someone. Four queries."""
    clinics = _scope(actor, Permission.REVIEW_LAB_RESULTS)
    if not clinics:
        raise PermissionDenied("Only a provider has a results inbox.")
    mine = LabReport.objects.filter(clinic_id__in=clinics).filter(
        Q(ordering_provider_id=actor.user_id) | ~reviews_at("ordering_provider_id")
    )
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
    return rows.select_related("patient", "order", "ordering_provider").annotate(
        has_open_alert=_open_alert(),
        flagged=Count(
            "results",
            filter=Q(results__flag__in=list(ABNORMAL_FLAGS))
            & ~Q(results__status__in=VOID_RESULT_STATUSES),
        ),
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
    def void(self) -> bool:
        """Entered in error (OBX-11 W) or cancelled (X) by the lab: struck through."""
        return self.result.void

    @property
    def void_text(self) -> str:
        if self.result.status == "cancelled":
            return f"cancelled by the lab ({self.performer}): no result"
        return f"entered in error by the lab ({self.performer})"

    @property
    def flagged(self) -> bool:
        return self.result.flag in ABNORMAL_FLAGS and not self.void

    @property
    def critical(self) -> bool:
        return self.result.flag in CRITICAL_FLAGS and not self.void

    @property
    def flag_text(self) -> str:
        """The lab's flag, always attributed: never the viewer's judgement."""
        if self.void:
            return f"None: {self.void_text}"
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
        may_tell=may_tell_patient(actor, report) and report.released_at is not None,
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
    # Neither a cancelled report's results nor a result the lab entered in error or cancelled
    # (OBX-11 W, X) is a trend point or anyone's "previous" value.
    rows = (
        LabResult.objects.filter(patient=patient)
        .exclude(report__status=LabReport.Status.CANCELLED)
        .exclude(status__in=VOID_RESULT_STATUSES)
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
            if (
                row.result.value_number is not None
                and r.status != LabReport.Status.CANCELLED
                and not row.void
            ):
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
    """The critical results waiting for this user's acknowledgment, oldest first.

    A provider sees their own; those whose owner does not review results at the clinic (or
    that have none); and every one at their clinics left unacknowledged past escalate_after()
    (escalated). A clinic manager (ACKNOWLEDGE_ALERT without REVIEW_LAB_RESULTS) sees the
    escalated ones of their clinics, without the value (`value_free`), to reach the on-call
    provider: a clinic whose only provider is away still has someone who sees it (as vitals
    alerts escalate to the manager, vitals/services.py). Each carries `owner_reviews`,
    `overdue` and `value_free`. One query."""
    reviewing = set(_scope(actor, Permission.REVIEW_LAB_RESULTS))
    managing = set(_scope(actor, Permission.ACKNOWLEDGE_ALERT)) - reviewing
    if not reviewing and not managing:
        return []
    cutoff = clock.now() - escalate_after()
    overdue = Q(escalated_at__isnull=False) | Q(raised_at__lte=cutoff)
    alerts: list[ResultAlert] = list(
        ResultAlert.objects.filter(
            clinic_id__in=reviewing | managing, status=ResultAlert.Status.REQUESTED
        )
        .annotate(owner_reviews=reviews_at("owner_id"))
        .filter(
            (
                Q(clinic_id__in=reviewing)
                & (Q(owner_id=actor.user_id) | Q(owner_reviews=False) | overdue)
            )
            | (Q(clinic_id__in=managing) & overdue)
        )
        .select_related("patient", "report", "owner")
        .order_by("raised_at", "id")[:20]
    )
    for alert in alerts:
        alert.overdue = alert.escalated_at is not None or alert.raised_at <= cutoff  # type: ignore[attr-defined]
        alert.value_free = alert.clinic_id not in reviewing  # type: ignore[attr-defined]
    return alerts


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
    order_messages: list[OrderMessage]  # not accepted (AE, AR), or the lab never reached
    handled: list[InboundMessage]
    waiting: list[OrderMessage] = field(default_factory=list)  # not sent yet; why: last_error


def interface_queue(actor: Actor) -> Queue:
    """Messages from the labs that could not be filed (of the manager's clinics, and those that
    came with no clinic from the sending facility, MSH-4, of one of their clinics' labs), orders
    the labs did not accept, orders waiting to be sent for a reason (each list capped on its
    own: a lab without an address never hides a refused order), and the last handled. Five
    queries."""
    clinics = _scope(actor, Permission.MANAGE_LAB_INTERFACE)
    if not clinics:
        raise PermissionDenied("Only the clinic manager sees the lab interface's error queue.")
    inbound = InboundMessage.objects.filter(inbound_scope(clinics)).select_related("lab")
    messages = list(
        inbound.filter(status__in=INBOX_STATUSES).order_by("-received_at", "-id")[:QUEUE_ROWS]
    )
    handled = list(
        inbound.filter(status__in=(InboundMessage.Status.RESOLVED, InboundMessage.Status.DISMISSED))
        .select_related("handled_by")
        .order_by("-handled_at", "-id")[:20]
    )
    orders = (
        OrderMessage.objects.filter(clinic_id__in=clinics)
        .select_related("requisition__patient", "requisition__lab")
        .order_by("-created_at", "-id")
    )
    order_messages = list(orders.filter(status__in=NOT_ACCEPTED)[:QUEUE_ROWS])
    # Queued with the reason it has not gone (hl7.lab: a lab with no address or turned off, a
    # cancel waiting for its new order, a retry after no answer); one just queued has none.
    waiting = list(
        orders.filter(status=OrderMessage.Status.QUEUED).exclude(last_error="")[:QUEUE_ROWS]
    )
    record(
        actor,
        Action.READ,
        "MessageHeader",
        entity_id="lab-interface",
        description=(
            f"lab interface queue: {len(messages)} message(s) not filed, "
            f"{len(order_messages)} order message(s) not accepted, {len(waiting)} waiting"
        ),
    )
    return Queue(messages, order_messages, handled, waiting)


HIDDEN = "value hidden: results are for the provider"


@dataclass
class MessageView:
    message: InboundMessage
    segments: list[str]
    ack_segments: list[str]
    reports: list[LabReport]
    header_only: bool = False  # filed or handled: only its MSH is shown
    masked: bool = False  # values and flags hidden from a viewer who does not review results

    @property
    def waiting(self) -> bool:
        return self.message.status in INBOX_STATUSES


def segments(raw: str) -> list[str]:
    """An HL7 v2 message one segment a line (segments end in CR; files often carry LF)."""
    text = (raw or "").replace("\r\n", "\r").replace("\n", "\r")
    return [s for s in text.split("\r") if s.strip()]


def _masked(segment: str, separator: str) -> str:
    """OBX-5 (the value) and OBX-8 (the lab's flag), and an NTE's comment (NTE-3, which often
    repeats the value), replaced by HIDDEN."""
    fields = segment.split(separator)
    hide = {"OBX": (5, 8), "NTE": (3,)}.get(fields[0].strip().upper(), ())
    for n in hide:
        if len(fields) > n and fields[n].strip():
            fields[n] = f"[{HIDDEN}]"
    return separator.join(fields)


def message_segments(message: InboundMessage, *, may_see_values: bool) -> tuple[list[str], bool]:
    """What the message page shows of the raw message: every segment while it waits in the
    queue (values and flags masked for a viewer who does not review results); only the MSH
    once it was filed or handled (its results are in the chart, where release governs who
    sees them). Returns (segments, header_only)."""
    lines = segments(message.raw)
    if message.status not in INBOX_STATUSES:
        return [s for s in lines if s.startswith("MSH")], True
    if may_see_values:
        return lines, False
    header = next((s for s in lines if s.startswith("MSH")), "")
    separator = header[3] if len(header) > 3 else "|"
    return [_masked(s, separator) for s in lines], False


def get_inbound(actor: Actor, public_id: uuid.UUID | str) -> InboundMessage:
    message = (
        InboundMessage.objects.filter(
            inbound_scope(_scope(actor, Permission.MANAGE_LAB_INTERFACE)), public_id=public_id
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
    reviews = message.clinic_id is not None and message.clinic_id in _scope(
        actor, Permission.REVIEW_LAB_RESULTS
    )
    shown, header_only = message_segments(message, may_see_values=reviews)
    return MessageView(
        message,
        shown,
        segments(message.ack),
        reports,
        header_only=header_only,
        masked=not reviews and not header_only,
    )
