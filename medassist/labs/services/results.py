"""Results: filing what a lab (or a point-of-care test) found, routing it to the ordering
provider, review and release with words for the patient, telling the patient, critical-result
alerts, and the interface's error queue.

- file_results(): the HL7 adapter hands a parsed ORU^R01 (labs.intake.IncomingResults). Every
  report is matched to our order by its placer number and the patient by PID-3, PID-5 and PID-7
  before anything is written; one report that cannot be matched stops the whole message
  (NotFiled with every problem found, nothing stored), because half a message filed and half in
  the error queue is harder to put right than a whole one waiting for a person.
  An older report never overwrites a newer one (a preliminary or final after the correction,
  or one issued before the version held: refused, OBR-25 / OBR-22, code 207), and the same
  report sent again under a new MSH-10 changes nothing (linked and audited as a repeat).
- file_point_of_care(): a CLIA-waived test run in the clinic, stored and routed the same way.
- Critical results alert the ordering provider, or every reviewer of the clinic when the
  provider does not review results there; escalate_overdue_alerts() puts an alert left
  unacknowledged past escalate_after() on every reviewer's banner.
- review_report / release_report / record_patient_told / acknowledge_result_alert: the
  provider's and the MA's actions. An MA never sees a value before the provider released it
  (DOMAIN.md: the MA does not interpret results; the system routes findings to the provider).
- retry_inbound / dismiss_inbound: the clinic manager's error queue. How to re-parse a stored
  message is the HL7 adapter's; it registers it with register_refiler() (the domain never
  imports the adapter).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.access.roles import Role, permissions_for
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.labs.intake import (
    IncomingReport,
    IncomingResult,
    IncomingResults,
    NotFiled,
    Problem,
)
from medassist.labs.models import (
    ABNORMAL_FLAGS,
    CRITICAL_FLAGS,
    VOID_RESULT_STATUSES,
    CustodyEvent,
    Flag,
    InboundMessage,
    LabOrder,
    LabReport,
    LabResult,
    PerformingLab,
    ResultAlert,
    Specimen,
)

SYSTEM_USERNAME = "system:lab-results"
PATIENT_MESSAGE_MAX = 2000
NOTE_MAX = 300
# A result "performed" a few minutes ahead of the server's clock is a device clock, not a
# mistake; further ahead is a typing slip.
CLOCK_SKEW = dt.timedelta(minutes=5)

# HL7 v2 table 0357 (message error condition codes), as used in the ERR segments of the ACK.
REQUIRED_MISSING = "101"
TABLE_VALUE_NOT_FOUND = "103"
UNKNOWN_KEY = "204"
DUPLICATE_KEY = "205"
APPLICATION_ERROR = "207"

_VALUE_TYPES = frozenset(LabResult.ValueType.values)
_REPORT_STATUSES = frozenset(LabReport.Status.values)
_FLAGS = frozenset(Flag.values)
# A specimen the lab can have received: not one already received, rejected or never collected.
_AWAITING_RECEIPT = (
    Specimen.Status.COLLECTED,
    Specimen.Status.LABELED,
    Specimen.Status.PROCESSED,
    Specimen.Status.PACKAGED,
    Specimen.Status.IN_TRANSIT,
)
INBOX_STATUSES = (InboundMessage.Status.ERROR, InboundMessage.Status.REJECTED)


# -- The system as an actor ---------------------------------------------------------------------


def may_tell_patient(actor: Actor, report: LabReport) -> bool:
    """Who tells the patient what the provider released: the clinical staff (an MA or nurse,
    who collect, or a provider), not the manager or the front desk, who hold no clinical role."""
    return can(actor, Permission.COLLECT_SPECIMEN, report) or can(
        actor, Permission.REVIEW_LAB_RESULTS, report
    )


def system_actor() -> Actor:
    """Who files what a lab sent: no user; audited as SYSTEM_USERNAME on the HL7 channel (as the
    immunization registry's answers are, medassist/hl7/registry.py)."""
    return Actor.system("hl7")


def _record_as_system(action: Action, entity: str, **fields: Any) -> None:
    record(system_actor(), action, entity, username=SYSTEM_USERNAME, **fields)


# -- Who reviews results at a clinic ------------------------------------------------------------


def reviewer_roles() -> list[str]:
    """The roles that hold REVIEW_LAB_RESULTS (access/roles.py: the provider)."""
    return [r for r in Role.values if Permission.REVIEW_LAB_RESULTS in permissions_for({r})]


def reviewers(clinic_id: int) -> QuerySet[Membership]:
    """Every active member with REVIEW_LAB_RESULTS at the clinic (an active user, an active
    membership in a role that holds the permission)."""
    return Membership.objects.filter(
        clinic_id=clinic_id, active=True, user__is_active=True, role__in=reviewer_roles()
    )


def reviews_at(user_field: str, clinic_field: str = "clinic_id") -> Exists:
    """For a queryset of reports or alerts: does the user in `user_field` review results at the
    row's clinic today? (False for no user.) A report or alert whose person does not (they
    left, their membership ended, their role changed) is every reviewer's of the clinic."""
    return Exists(
        Membership.objects.filter(
            user_id=OuterRef(user_field),
            clinic_id=OuterRef(clinic_field),
            active=True,
            user__is_active=True,
            role__in=reviewer_roles(),
        )
    )


def escalate_after() -> dt.timedelta:
    """How long a critical-result alert waits for its owner before it goes on the banner of
    every reviewer at the clinic: settings.LAB_ALERT_ESCALATE_MINUTES, 10 by default, the same
    default as the vitals policy's escalation (medassist/vitals/policy.py, Policy.escalate_after
    = 10: "an unacknowledged alert escalates ... after 10 minutes", a medassist default). The
    Joint Commission (NPSG.02.03.01) asks each organisation to set its own time frame for
    reporting critical results; this is ours until the clinic sets one."""
    return dt.timedelta(minutes=int(getattr(settings, "LAB_ALERT_ESCALATE_MINUTES", 10)))


# -- Reference ranges (pure) --------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
# HL7 v2.5.1 chapter 7, OBX-7 "References Range": for numeric values "lower limit-upper limit",
# "> lower limit" or "< upper limit"; otherwise the normal value as text ("Negative").
_BETWEEN = re.compile(rf"^({_NUMBER})\s*(?:-|–|—|\bto\b)\s*({_NUMBER})$")
_BOUND = re.compile(rf"^(<=|>=|=<|=>|<|>|≤|≥)\s*({_NUMBER})$")
_UPPER = {"<", "<=", "=<", "≤"}


@dataclass(frozen=True)
class ReferenceRange:
    low: Decimal | None
    high: Decimal | None
    text: str

    @property
    def numeric(self) -> bool:
        return self.low is not None or self.high is not None


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    # The column holds 14 digits, 4 after the point.
    if not value.is_finite() or abs(value) >= Decimal("1e10"):
        return None
    return value


def parse_reference_range(text: str) -> ReferenceRange:
    """OBX-7 as sent -> numeric limits where it has them. "3.5-5.1" -> 3.5..5.1; "<200" -> high
    200; ">=40" -> low 40; "-2-3" -> -2..3; "Negative" and anything unreadable -> text only
    (never a guess: a range read wrong would shade the wrong band on the trend)."""
    cleaned = " ".join(str(text or "").split())
    body = cleaned.strip("()[] ")
    found = _BETWEEN.match(body)
    if found:
        low, high = _decimal(found.group(1)), _decimal(found.group(2))
        if low is not None and high is not None and low <= high:
            return ReferenceRange(low, high, cleaned)
        return ReferenceRange(None, None, cleaned)
    found = _BOUND.match(body)
    if found:
        limit = _decimal(found.group(2))
        if limit is not None:
            if found.group(1) in _UPPER:
                return ReferenceRange(None, limit, cleaned)
            return ReferenceRange(limit, None, cleaned)
    return ReferenceRange(None, None, cleaned)


def is_abnormal(flags: Iterable[str]) -> bool:
    """Only L, H, LL, HH, A, AA, < and > (HL7 v2.5.1 table 0078's range flags) make a result
    abnormal; the delta, susceptibility and qualitative codes do not."""
    return any(f in ABNORMAL_FLAGS for f in flags)


def is_critical(flags: Iterable[str]) -> bool:
    """LL, HH and AA (table 0078: "panic limits", "very abnormal")."""
    return any(f in CRITICAL_FLAGS for f in flags)


def counted_flags(results: Iterable[Any]) -> list[str]:
    """The flags of the results that say something about the patient: not those entered in
    error or cancelled by the lab (OBX-11 W, X)."""
    return [r.flag for r in results if r.status not in VOID_RESULT_STATUSES]


def value_text(result: Any) -> str:
    """A result's value as the lab sent it, with its unit: "6.8 mmol/L", "<5 mg/dL", "Positive"."""
    if result.value_number is not None:
        number = f"{Decimal(result.value_number).normalize():f}"
        comparator = getattr(result, "value_comparator", "") or ""
        text = f"{comparator}{number}"
    else:
        text = result.value_text or result.value_code or ""
    unit = result.unit or ""
    return f"{text} {unit}".strip() if text else ""


def flag_label(flag: str) -> str:
    return Flag(flag).label if flag in _FLAGS else flag


# -- Names and birth dates ----------------------------------------------------------------------


def _name_key(name: str) -> str:
    """Case, accents, spaces and punctuation aside: "O'Neil-Smith" matches "ONEIL SMITH"."""
    folded = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in folded if c.isalnum()).casefold()


# -- Filing what a lab sent ---------------------------------------------------------------------


_Refiler = Callable[[InboundMessage], list[LabReport]]
_refiler: list[_Refiler] = []


def register_refiler(fn: _Refiler) -> None:
    """The HL7 adapter registers how to re-parse and file a stored InboundMessage (used by the
    error queue's Retry). The latest registration wins."""
    _refiler[:] = [fn]


def refiler() -> _Refiler | None:
    return _refiler[0] if _refiler else None


@dataclass
class _Plan:
    incoming: IncomingReport
    order: LabOrder
    existing: LabReport | None
    location: str
    repeat: bool = False  # the same report as stored, sent again: changes nothing


def _location(report: IncomingReport, index: int) -> str:
    return report.location or f"OBR[{index}]"


def _check_results(incoming: IncomingReport, where: str) -> list[Problem]:
    problems = []
    for n, r in enumerate(incoming.results, start=1):
        at = r.location or f"{where}/OBX[{n}]"
        if not r.loinc.strip():
            problems.append(
                Problem(f"{at}-3", "The observation has no code (OBX-3).", REQUIRED_MISSING)
            )
        if r.value_type not in _VALUE_TYPES:
            problems.append(
                Problem(
                    f"{at}-2",
                    f"Value type {r.value_type!r} is not one we file "
                    f"(expected one of {', '.join(sorted(_VALUE_TYPES))}).",
                    TABLE_VALUE_NOT_FOUND,
                )
            )
        if r.flag and r.flag not in _FLAGS:
            problems.append(
                Problem(
                    f"{at}-8",
                    f"Abnormal flag {r.flag!r} is not in HL7 table 0078 "
                    f"(expected one of {', '.join(sorted(_FLAGS))}).",
                    TABLE_VALUE_NOT_FOUND,
                )
            )
    return problems


def _match(lab: PerformingLab, message: IncomingResults) -> list[_Plan]:
    """Every report matched to its order and patient, or NotFiled with every problem found."""
    problems: list[Problem] = []
    if not message.reports:
        raise NotFiled(
            problems=[Problem("OBR", "The message has no ORC/OBR group: nothing to file.", "101")]
        )
    placers = [r.placer_number.strip() for r in message.reports]
    orders = {
        o.placer_number: o
        for o in LabOrder.objects.select_for_update(of=("self",))
        .filter(
            placer_number__in=[p for p in placers if p],
            clinic_id=lab.clinic_id,
            requisition__lab=lab,
        )
        .select_related("patient", "requisition", "test")
    }
    existing = {r.order_id: r for r in LabReport.objects.filter(order__in=list(orders.values()))}
    held: dict[int, list[LabResult]] = {}
    for stored in LabResult.objects.filter(report__in=list(existing.values())):
        held.setdefault(stored.report_id, []).append(stored)
    plans: list[_Plan] = []
    seen: set[str] = set()
    for index, (incoming, placer) in enumerate(zip(message.reports, placers, strict=True), 1):
        where = _location(incoming, index)
        if not placer:
            problems.append(
                Problem(
                    f"{where}-2",
                    "The placer order number (ORC-2/OBR-2) is empty.",
                    REQUIRED_MISSING,
                )
            )
            continue
        if placer in seen:
            problems.append(
                Problem(
                    f"{where}-2",
                    f"Order {placer} appears twice in this message.",
                    DUPLICATE_KEY,
                )
            )
            continue
        seen.add(placer)
        order = orders.get(placer)
        if order is None:
            # The same words whether the number is unknown or another clinic's or lab's:
            # the answer goes back to the lab and must not confirm anyone else's order.
            problems.append(
                Problem(
                    f"{where}-2",
                    f"No order {placer} from {lab.clinic_facility} to this lab "
                    "(ORC-2/OBR-2 must be our placer order number).",
                    UNKNOWN_KEY,
                )
            )
            continue
        problems += _check_patient(message, order)
        if incoming.status not in _REPORT_STATUSES:
            problems.append(
                Problem(
                    f"{where}-25",
                    f"Result status {incoming.status!r} is not one of preliminary, final, "
                    "corrected or cancelled (OBR-25 P, F, C or X).",
                    TABLE_VALUE_NOT_FOUND,
                )
            )
            continue
        earlier = existing.get(order.pk)
        if earlier is not None and _same_as_stored(incoming, earlier, held.get(earlier.pk, [])):
            plans.append(_Plan(incoming, order, earlier, where, repeat=True))
            continue
        stale = _stale(incoming, earlier, placer, where) if earlier is not None else None
        if stale is not None:
            problems.append(stale)
            continue
        problems += _check_results(incoming, where)
        plans.append(_Plan(incoming, order, earlier, where))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise NotFiled(problems=unique)
    return plans


def _stale(incoming: IncomingReport, earlier: LabReport, placer: str, where: str) -> Problem | None:
    """An older report must not overwrite a newer one (a late delivery, a resend, the error
    queue's Retry of a message the lab has corrected since). HL7 v2.5.1 ch. 7 (OBR-25, table
    0123): a final report is changed by a corrected one (C); a preliminary or final arriving
    after the correction, or any report issued (OBR-22) before the version we hold, is an
    older report and is refused, with what the lab should send instead."""
    status = LabReport.Status
    fix = "send a corrected report, OBR-25 C, to change it"
    if incoming.status == status.PRELIMINARY and earlier.status in (status.FINAL, status.CORRECTED):
        which = "corrected" if earlier.status == status.CORRECTED else "final"
        return Problem(
            f"{where}-25",
            f"A preliminary report for order {placer} after its {which} one: not filed over "
            f"the {which} ({fix}).",
            APPLICATION_ERROR,
        )
    if incoming.status == status.FINAL and earlier.status == status.CORRECTED:
        return Problem(
            f"{where}-25",
            f"A final report for order {placer} after its corrected one: not filed over the "
            f"correction ({fix}).",
            APPLICATION_ERROR,
        )
    if incoming.issued_at is not None and incoming.issued_at < earlier.issued_at:
        return Problem(
            f"{where}-22",
            f"The report for order {placer} was issued {_when(incoming.issued_at)} (OBR-22), "
            f"before the version we hold (issued {_when(earlier.issued_at)}): an older report "
            f"is not filed over a newer one ({fix}, with its new OBR-22).",
            APPLICATION_ERROR,
        )
    return None


def _when(at: dt.datetime) -> str:
    return f"{clock.localtime(at):%Y-%m-%d %H:%M}"


# What makes two versions of an observation the same (its value, flag, range, unit, status and
# the lab's note): a report resent with all of these unchanged is the same report.
_SAME = (
    "loinc",
    "sequence",
    "value_type",
    "value_number",
    "value_comparator",
    "value_text",
    "value_code",
    "unit",
    "reference_text",
    "flag",
    "status",
    "note",
)


def _same_as_stored(
    incoming: IncomingReport, earlier: LabReport, stored: Sequence[LabResult]
) -> bool:
    """The lab sent again what we hold (a re-queue under a new MSH-10, a nightly "resend all
    finals"): same status, same observations. Filing it would make a new version and send
    the provider's review, the release and what the patient was told back to the start."""
    if incoming.status != earlier.status:
        return False
    if incoming.filler_number[:40] != earlier.filler_number:
        return False
    if incoming.collected_at is not None and incoming.collected_at != earlier.collected_at:
        return False
    if incoming.status == LabReport.Status.CANCELLED and not incoming.results:
        return True  # a cancellation without results keeps the old ones (_file_one)
    if len(stored) != len(incoming.results):
        return False

    def key(row: dict[str, Any]) -> tuple[str, int]:
        return (str(row["loinc"]), int(row["sequence"]))

    sent = sorted(
        (
            {**_result_fields(r, earlier), "observed_explicitly": r.observed_at is not None}
            for r in incoming.results
        ),
        key=key,
    )
    held = sorted(
        ({name: getattr(r, name) for name in (*_SAME, "observed_at")} for r in stored), key=key
    )
    for new, old in zip(sent, held, strict=True):
        if any(new[name] != old[name] for name in _SAME):
            return False
        if new["observed_explicitly"] and new["observed_at"] != old["observed_at"]:
            return False
    return True


def _check_patient(message: IncomingResults, order: LabOrder) -> list[Problem]:
    patient = order.patient
    out = []
    if message.patient_mrn.strip() != patient.mrn:
        out.append(
            Problem(
                "PID-3",
                f"Patient identifier {message.patient_mrn.strip() or '(empty)'} is not the "
                f"patient of order {order.placer_number}.",
                UNKNOWN_KEY,
            )
        )
        return out
    if _name_key(message.patient_family) != _name_key(patient.family):
        out.append(
            Problem(
                "PID-5",
                f"Family name {message.patient_family!r} does not match the patient of order "
                f"{order.placer_number}.",
                APPLICATION_ERROR,
            )
        )
    if message.patient_birth_date != patient.birth_date:
        sent = message.patient_birth_date.isoformat() if message.patient_birth_date else "(empty)"
        out.append(
            Problem(
                "PID-7",
                f"Birth date {sent} does not match the patient of order {order.placer_number}.",
                APPLICATION_ERROR,
            )
        )
    return out


def file_results(
    *, lab: PerformingLab, message: IncomingResults, inbound: InboundMessage | None = None
) -> list[LabReport]:
    """File one result message: all of its reports, or none (NotFiled, nothing stored)."""
    now = clock.now()
    reports: list[LabReport] = []
    with transaction.atomic():
        # Matching locks the orders (PostgreSQL): two copies of a message filed at once must
        # not both create the report, nor a preliminary slip in over a final filed meanwhile.
        plans = _match(lab, message)
        for plan in plans:
            if plan.repeat:
                reports.append(_file_repeat(lab, plan, message.control_id))
            else:
                reports.append(_file_one(lab, plan, now))
        _receive_specimens(lab, plans, now)
        if inbound is not None:
            inbound.reports.add(*reports)
    return reports


def _file_repeat(lab: PerformingLab, plan: _Plan, control_id: str) -> LabReport:
    """The same report again: nothing changes (its version, review, release and what the
    patient was told stay); the message is linked to it by the caller, and the audit trail
    says it came again."""
    report = plan.existing
    if report is None:  # a repeat is always of a stored report (_match)
        raise ValueError("A repeat needs the stored report.")
    _record_as_system(
        Action.UPDATE,
        "DiagnosticReport",
        patient=plan.order.patient,
        clinic_id=plan.order.clinic_id,
        entity_id=str(report.public_id),
        description=(
            f"{report.name}: {lab.name} sent version {report.version} again for order "
            f"{plan.order.placer_number} (message {control_id or '(no MSH-10)'}): a repeat, "
            "identical to what is filed; nothing changed"
        )[:500],
    )
    return report


def _snapshot(report: LabReport, results: Sequence[LabResult]) -> dict[str, Any]:
    """What a version of the report said, for its history."""

    def at(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "version": report.version,
        "status": report.status,
        "issued_at": at(report.issued_at),
        "reviewed_at": at(report.reviewed_at),
        "reviewed_by": report.reviewed_by_id,
        "released_at": at(report.released_at),
        "released_by": report.released_by_id,
        "patient_message": report.patient_message,
        "told_at": at(report.told_at),
        "told_by": report.told_by_id,
        "told_how": report.told_how,
        "replaced_at": at(clock.now()),
        "results": [
            {
                "loinc": r.loinc,
                "name": r.name,
                "value": value_text(r),
                "flag": r.flag,
                "reference": r.reference_text,
                "status": r.status,
            }
            for r in results
        ],
    }


def _result_fields(r: IncomingResult, report: LabReport) -> dict[str, Any]:
    rng = parse_reference_range(r.reference_text)
    return {
        "patient_id": report.patient_id,
        "sequence": r.sequence,
        "loinc": r.loinc.strip(),
        "name": r.name[:200],
        "value_type": r.value_type,
        "value_number": r.value_number,
        "value_comparator": r.value_comparator,
        "value_text": r.value_text[:500],
        "value_code": r.value_code[:20],
        "unit": r.unit[:30],
        "reference_low": rng.low,
        "reference_high": rng.high,
        "reference_text": rng.text[:60],
        "flag": r.flag,
        "status": r.status or "final",
        # OBX-14, else the collection (OBR-7), else when the lab issued it: every result has a
        # time, so it has a place on the trend.
        "observed_at": r.observed_at or report.collected_at or report.issued_at,
        "note": r.note[:500],
    }


def _store_results(report: LabReport, incoming: Sequence[IncomingResult]) -> list[LabResult]:
    """Replace the report's results by the incoming ones, keeping each Observation's identity
    where the same code comes back (a corrected value is the same Observation, corrected)."""
    old = list(report.results.all())
    by_key: dict[tuple[str, int], LabResult] = {}
    counts: dict[str, int] = {}
    for existing in old:
        n = counts[existing.loinc] = counts.get(existing.loinc, 0) + 1
        by_key[(existing.loinc, n)] = existing
    counts = {}
    kept: list[LabResult] = []
    new_rows: list[LabResult] = []
    changed: list[LabResult] = []
    changed_fields: set[str] = {"updated_at"}
    for r in incoming:
        fields = _result_fields(r, report)
        n = counts[fields["loinc"]] = counts.get(fields["loinc"], 0) + 1
        row = by_key.pop((fields["loinc"], n), None)
        if row is None:
            row = LabResult(report=report, **fields)
            new_rows.append(row)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = clock.now()
            changed.append(row)
            changed_fields |= set(fields)
        kept.append(row)
    # One INSERT (and one UPDATE) per report, not one per observation: a CBC with differential
    # is 20 rows, and intake throughput is bounded by these writes (bench/oru.py).
    LabResult.objects.bulk_create(new_rows)
    if changed:
        LabResult.objects.bulk_update(changed, sorted(changed_fields))
    # What the new version no longer carries is gone from it (kept in the report's history).
    LabResult.objects.filter(pk__in=[r.pk for r in by_key.values()]).delete()
    return kept


def _file_one(lab: PerformingLab, plan: _Plan, now: dt.datetime) -> LabReport:
    incoming, order = plan.incoming, plan.order
    report = plan.existing
    requisition = order.requisition
    cancelled = incoming.status == LabReport.Status.CANCELLED
    fields = {
        "loinc": (incoming.loinc or order.test.loinc)[:10],
        "name": (incoming.name or order.test.name)[:200],
        "status": incoming.status,
        "performer": lab.name,
        "filler_number": incoming.filler_number[:40],
        "issued_at": incoming.issued_at or now,
        "ordering_provider_id": requisition.ordered_by_id,
    }
    if incoming.collected_at is not None:
        fields["collected_at"] = incoming.collected_at
    if report is None:
        fields.setdefault("collected_at", _collected_at(order))
        report = LabReport(
            clinic_id=order.clinic_id,
            patient_id=order.patient_id,
            encounter_id=requisition.encounter_id,
            order=order,
            source=LabReport.Source.LAB,
            **fields,
        )
        report.save()
        old_results: list[LabResult] = []
        action = Action.CREATE
    else:
        old_results = list(report.results.all())
        report.history = [*report.history, _snapshot(report, old_results)]
        for name, value in fields.items():
            setattr(report, name, value)
        report.version += 1
        # A new version goes back to the provider: reviewed and released were of the old one
        # (and what the patient was told is kept in the history above).
        report.reviewed_at = report.reviewed_by = None  # type: ignore[assignment]
        report.released_at = report.released_by = None  # type: ignore[assignment]
        report.told_at = report.told_by = None  # type: ignore[assignment]
        report.told_how = ""
        report.updated_at = now
        action = Action.UPDATE
    if incoming.results or not cancelled:
        results = _store_results(report, incoming.results)
    else:
        results = old_results
    flags = counted_flags(results)
    report.abnormal = is_abnormal(flags)
    report.critical = is_critical(flags)
    report.save()

    _move_order(order, incoming, lab, now)
    _record_as_system(
        action,
        "DiagnosticReport",
        patient=order.patient,
        clinic_id=order.clinic_id,
        entity_id=str(report.public_id),
        description=(
            f"{report.name}: {report.get_status_display().lower()} result from {lab.name} "
            f"filed for order {order.placer_number} (version {report.version}, "
            f"{len(results)} observation{'s' if len(results) != 1 else ''})"
        ),
    )
    if report.critical:
        _raise_alert(report, results, actor=None)
    return report


def _collected_at(order: LabOrder) -> dt.datetime | None:
    """When the first specimen of the order was drawn; not a specimen recorded as not
    collected (its time is when the attempt was given up, not a draw)."""
    return (
        Specimen.objects.filter(orders=order, collected_at__isnull=False)
        .exclude(status=Specimen.Status.NOT_COLLECTED)
        .order_by("collected_at")
        .values_list("collected_at", flat=True)
        .first()
    )


def _move_order(order: LabOrder, incoming: IncomingReport, lab: PerformingLab, now: Any) -> None:
    updates: dict[str, Any] = {"updated_at": now}
    if incoming.filler_number and not order.filler_number:
        updates["filler_number"] = incoming.filler_number[:40]
    if incoming.status == LabReport.Status.CANCELLED:
        updates["stage"] = LabOrder.Stage.CANCELLED
        updates["status"] = LabOrder.Status.REVOKED
        why = f"Cancelled by {lab.name}" + (f": {incoming.note}" if incoming.note else "")
        updates["cancelled_reason"] = why[:200]
    elif incoming.status == LabReport.Status.PRELIMINARY:
        updates["stage"] = LabOrder.Stage.PARTIAL
    else:
        updates["stage"] = LabOrder.Stage.RESULTED
        updates["status"] = LabOrder.Status.COMPLETED
    LabOrder.objects.filter(pk=order.pk).update(**updates)
    for name, value in updates.items():
        setattr(order, name, value)


def _receive_specimens(lab: PerformingLab, plans: Sequence[_Plan], now: dt.datetime) -> None:
    """A result means the lab had the specimen: record its receipt if the courier's hand-off
    was the last we knew (CustodyEvent "received", by the lab)."""
    received_at = {p.order.pk: p.incoming.received_at for p in plans}
    specimens = list(
        Specimen.objects.filter(
            orders__in=list(received_at), status__in=_AWAITING_RECEIPT
        ).distinct()
    )
    if not specimens:
        return
    through = Specimen.orders.through.objects.filter(
        specimen_id__in=[s.pk for s in specimens], laborder_id__in=list(received_at)
    ).values_list("specimen_id", "laborder_id")
    when: dict[int, dt.datetime] = {}
    for specimen_id, order_id in through:
        at = received_at.get(order_id)
        if at is not None:
            when[specimen_id] = min(when.get(specimen_id, at), at)
    CustodyEvent.objects.bulk_create(
        CustodyEvent(
            specimen=s,
            step=CustodyEvent.Step.RECEIVED_BY_LAB,
            at=when.get(s.pk, now),
            by_name=lab.name[:120],
            detail="receipt known from the lab's result message",
            recorded_at=now,
        )
        for s in specimens
    )
    Specimen.objects.filter(pk__in=[s.pk for s in specimens]).update(
        status=Specimen.Status.RECEIVED, updated_at=now
    )


def _alert_reason(report: LabReport, results: Sequence[LabResult]) -> str:
    parts = [
        f"{r.name} {value_text(r)} (flag from {report.performer}: {flag_label(r.flag)})"
        for r in results
        if r.flag in CRITICAL_FLAGS and r.status not in VOID_RESULT_STATUSES
    ]
    return ("; ".join(parts) or report.name)[:300]


def alert_owner_id(report: LabReport) -> int | None:
    """Who a critical result alerts: the ordering provider while they review results at the
    report's clinic; otherwise nobody in particular, which puts it on the banner of every
    reviewer at the clinic (selectors.results.open_alerts), so it reaches someone."""
    provider = report.ordering_provider_id
    if provider is None or not reviewers(report.clinic_id).filter(user_id=provider).exists():
        return None
    return provider


def _raise_alert(report: LabReport, results: Sequence[LabResult], actor: Actor | None) -> None:
    """One open alert per report (FHIR Task, priority stat, owned by the ordering provider, or
    by the clinic's reviewers when the provider does not review here). A report filed again
    with the same critical values raises nothing new; new critical values update the open
    alert, or raise a new one if the last was already acknowledged."""
    reason = _alert_reason(report, results)
    alerts = list(ResultAlert.objects.select_for_update().filter(report=report))
    if any(a.reason == reason for a in alerts):
        return
    owner_id = alert_owner_id(report)
    open_alert = next((a for a in alerts if a.status == ResultAlert.Status.REQUESTED), None)
    if open_alert is not None:
        ResultAlert.objects.filter(pk=open_alert.pk).update(
            reason=reason, updated_at=clock.now(), owner_id=owner_id
        )
        alert = open_alert
        action = Action.UPDATE
    else:
        alert = ResultAlert.objects.create(
            clinic_id=report.clinic_id,
            patient_id=report.patient_id,
            report=report,
            owner_id=owner_id,
            reason=reason,
            raised_at=clock.now(),
            created_by_id=actor.user_id if actor else None,
        )
        action = Action.CREATE
    whom = (
        "the ordering provider"
        if owner_id is not None
        else "every reviewer at the clinic (the ordering provider does not review results here)"
    )
    fields: dict[str, Any] = {
        "patient": report.patient,
        "clinic_id": report.clinic_id,
        "entity_id": str(alert.public_id),
        "description": f"critical result alert for {whom}: {reason}",
    }
    if actor is None:
        _record_as_system(action, "Task", **fields)
    else:
        record(actor, action, "Task", **fields)


def escalate_overdue_alerts(
    clinic_ids: Iterable[int], *, now: dt.datetime | None = None
) -> list[ResultAlert]:
    """Record as escalated every open critical-result alert of these clinics not acknowledged
    within escalate_after() of being raised: from then on it is on the banner of every
    reviewer at the clinic, so a provider out of the office does not leave it unseen. Called
    by the banner every reviewer's page polls (as vitals.views does for vitals alerts).
    Returns the alerts escalated now (each audited once)."""
    now = now or clock.now()
    clinics = list(clinic_ids)
    if not clinics:
        return []
    cutoff = now - escalate_after()
    due = Q(
        clinic_id__in=clinics,
        status=ResultAlert.Status.REQUESTED,
        escalated_at__isnull=True,
        raised_at__lte=cutoff,
    )
    if not ResultAlert.objects.filter(due).exists():
        return []  # the banner's every poll: one cheap query when nothing is due
    with transaction.atomic():
        alerts = list(ResultAlert.objects.select_for_update().filter(due).select_related("patient"))
        ResultAlert.objects.filter(pk__in=[a.pk for a in alerts]).update(
            escalated_at=now, updated_at=now
        )
        minutes = int(escalate_after().total_seconds() // 60)
        for alert in alerts:
            alert.escalated_at = now
            _record_as_system(
                Action.UPDATE,
                "Task",
                patient=alert.patient,
                clinic_id=alert.clinic_id,
                entity_id=str(alert.public_id),
                description=(
                    f"critical result alert not acknowledged within {minutes} min: escalated to "
                    f"every reviewer at the clinic: {alert.reason}"
                )[:500],
            )
    return alerts


# -- Point-of-care tests ------------------------------------------------------------------------


def _may_review_at(user: Any, clinic_id: int) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return clinic_id in Actor.for_user(user).clinics_with(Permission.REVIEW_LAB_RESULTS)


def file_point_of_care(
    *,
    actor: Actor,
    patient: Any,
    encounter: Any,
    loinc: str,
    name: str,
    results: Sequence[IncomingResult],
    ordering_provider: Any,
    performed_at: dt.datetime,
) -> LabReport:
    """A CLIA-waived test run in the clinic: a final report performed by the clinic, routed to
    the ordering provider's inbox like any lab's (and a critical value alerts them)."""
    if not can(actor, Permission.RUN_POCT, patient):
        raise PermissionDenied("Your role does not run point-of-care tests at this clinic.")
    if encounter is not None and encounter.patient_id != patient.pk:
        raise ValidationError({"encounter": "This visit is another patient's."})
    if not loinc.strip():
        raise ValidationError({"loinc": "The test has no LOINC code."})
    if not results:
        raise ValidationError({"results": "Record at least one result."})
    if ordering_provider is None:
        raise ValidationError(
            {"ordering_provider": "Choose the provider who ordered the test (CLIA: on order)."}
        )
    if not _may_review_at(ordering_provider, patient.clinic_id):
        raise ValidationError(
            {"ordering_provider": "The ordering provider must review results at this clinic."}
        )
    now = clock.now()
    if performed_at > now + CLOCK_SKEW:
        raise ValidationError({"performed_at": "The test time is in the future."})
    for r in results:
        if r.value_type not in _VALUE_TYPES:
            raise ValidationError({"results": f"Unknown value type {r.value_type!r}."})
        if r.flag and r.flag not in _FLAGS:
            raise ValidationError({"results": f"Unknown flag {r.flag!r} (HL7 table 0078)."})
        if not r.loinc.strip():
            raise ValidationError({"results": "Each result needs its LOINC code."})
    with transaction.atomic():
        report = LabReport.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            encounter=encounter,
            source=LabReport.Source.POCT,
            loinc=loinc.strip()[:10],
            name=name[:200],
            status=LabReport.Status.FINAL,
            performer=patient.clinic.name[:200],
            collected_at=performed_at,
            issued_at=now,
            ordering_provider=ordering_provider,
            created_by_id=actor.signed_in_user_id,
        )
        stored = [
            LabResult.objects.create(
                report=report,
                **{
                    **_result_fields(r, report),
                    "observed_at": r.observed_at or performed_at,
                },
            )
            for r in results
        ]
        flags = counted_flags(stored)
        report.abnormal = is_abnormal(flags)
        report.critical = is_critical(flags)
        report.save(update_fields=["abnormal", "critical"])
        record(
            actor,
            Action.CREATE,
            "DiagnosticReport",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(report.public_id),
            description=f"point-of-care {report.name}: {len(stored)} result(s), final",
        )
        if report.critical:
            _raise_alert(report, stored, actor=actor)
    return report


# -- The provider's review and release ------------------------------------------------------------


def _lock(report: LabReport, seen_version: int | None) -> LabReport:
    """The report, locked in the transaction; refused when a newer version arrived since the
    person read `seen_version` (None: not checked)."""
    report = LabReport.objects.select_for_update().select_related("patient").get(pk=report.pk)
    if seen_version is not None and seen_version != report.version:
        raise ValidationError(
            "A newer version of this report arrived while you were reading it; "
            "look at it again before you act on it."
        )
    return report


def review_report(*, actor: Actor, report: LabReport, seen_version: int | None = None) -> LabReport:
    """Mark the report reviewed by the provider (not yet released to the patient)."""
    if not can(actor, Permission.REVIEW_LAB_RESULTS, report):
        raise PermissionDenied("Only a provider reviews lab results.")
    with transaction.atomic():
        report = _lock(report, seen_version)
        if report.reviewed_at is not None:
            raise ValidationError("This report was already reviewed.")
        now = clock.now()
        report.reviewed_at, report.reviewed_by_id = now, actor.signed_in_user_id
        report.updated_at = now
        report.save(update_fields=["reviewed_at", "reviewed_by", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "DiagnosticReport",
            patient=report.patient,
            clinic_id=report.clinic_id,
            entity_id=str(report.public_id),
            description=f"{report.name} (version {report.version}) reviewed",
        )
    return report


def release_report(
    *, actor: Actor, report: LabReport, message: str, seen_version: int | None = None
) -> LabReport:
    """Release the report to the patient with what the provider wrote for them (the MA reads it
    out); releasing marks it reviewed too."""
    if not can(actor, Permission.REVIEW_LAB_RESULTS, report):
        raise PermissionDenied("Only a provider releases lab results.")
    text = "\n".join(line.rstrip() for line in (message or "").strip().splitlines())
    if not text:
        raise ValidationError(
            {"message": "Write what the patient should be told: the MA reads it out to them."}
        )
    if len(text) > PATIENT_MESSAGE_MAX:
        raise ValidationError(
            {"message": f"Keep the message to {PATIENT_MESSAGE_MAX} characters ({len(text)})."}
        )
    if "\x00" in text:
        raise ValidationError({"message": "Null characters are not allowed."})
    with transaction.atomic():
        report = _lock(report, seen_version)
        if report.released_at is not None:
            raise ValidationError("This report was already released.")
        now = clock.now()
        if report.reviewed_at is None:
            report.reviewed_at, report.reviewed_by_id = now, actor.signed_in_user_id
        report.released_at, report.released_by_id = now, actor.signed_in_user_id
        report.patient_message = text
        report.updated_at = now
        report.save(
            update_fields=[
                "reviewed_at",
                "reviewed_by",
                "released_at",
                "released_by",
                "patient_message",
                "updated_at",
            ]
        )
        record(
            actor,
            Action.UPDATE,
            "DiagnosticReport",
            patient=report.patient,
            clinic_id=report.clinic_id,
            entity_id=str(report.public_id),
            description=f"{report.name} (version {report.version}) released to the patient",
        )
    return report


def record_patient_told(
    *,
    actor: Actor,
    report: LabReport,
    how: str,
    told_at: dt.datetime | None = None,
    seen_version: int | None = None,
) -> LabReport:
    """The MA (or anyone who may see the orders) told the patient the released result: who,
    how (in person, by phone) and when."""
    if not may_tell_patient(actor, report):
        raise PermissionDenied("Your role does not relay lab results at this clinic.")
    if how not in LabReport.ToldHow.values:
        raise ValidationError({"how": "Say how the patient was told: in person or by phone."})
    now = clock.now()
    told_at = told_at or now
    if told_at > now + CLOCK_SKEW:
        raise ValidationError({"told_at": "That time is in the future."})
    with transaction.atomic():
        report = _lock(report, seen_version)
        if report.released_at is None:
            raise ValidationError(
                "The provider has not released this result yet: there is nothing to tell."
            )
        if told_at < report.released_at:
            raise ValidationError({"told_at": "That time is before the result was released."})
        if report.told_at is not None:
            raise ValidationError("The patient was already told this result.")
        report.told_at, report.told_by_id, report.told_how = told_at, actor.signed_in_user_id, how
        report.updated_at = now
        report.save(update_fields=["told_at", "told_by", "told_how", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "DiagnosticReport",
            patient=report.patient,
            clinic_id=report.clinic_id,
            entity_id=str(report.public_id),
            description=(
                f"{report.name} told to the patient "
                f"{LabReport.ToldHow(how).label.lower()} at {clock.localtime(told_at):%H:%M}"
            ),
        )
    return report


def acknowledge_result_alert(*, actor: Actor, alert: ResultAlert, note: str) -> ResultAlert:
    """The provider acknowledges a critical result, with the read-back (what they understood the
    result to be, and what they will do): completes the Task."""
    if not can(actor, Permission.REVIEW_LAB_RESULTS, alert):
        # The clinic manager records the hand-off of an escalated alert (who took it), never
        # before it escalated: until then it is the providers'.
        escalated = alert.escalated_at is not None or alert.raised_at <= clock.now() - (
            escalate_after()
        )
        if not (can(actor, Permission.ACKNOWLEDGE_ALERT, alert) and escalated):
            raise PermissionDenied("Only a provider acknowledges critical results.")
    text = " ".join((note or "").split())
    if not text:
        raise ValidationError(
            {"note": "Write the read-back: the value as you understood it, and what you will do."}
        )
    if len(text) > NOTE_MAX or "\x00" in text:
        raise ValidationError({"note": f"Keep the note to {NOTE_MAX} characters."})
    with transaction.atomic():
        now = clock.now()
        updated = ResultAlert.objects.filter(
            pk=alert.pk, status=ResultAlert.Status.REQUESTED
        ).update(
            status=ResultAlert.Status.COMPLETED,
            acknowledged_at=now,
            acknowledged_by_id=actor.signed_in_user_id,
            note=text,
            updated_at=now,
        )
        if not updated:
            raise ValidationError("This alert was already acknowledged.")
        alert.refresh_from_db()
        seconds = int((now - alert.raised_at).total_seconds())
        record(
            actor,
            Action.UPDATE,
            "Task",
            patient=alert.patient,
            clinic_id=alert.clinic_id,
            entity_id=str(alert.public_id),
            description=f"critical result acknowledged after {seconds} s; read-back: {text}",
        )
    return alert


# -- The interface's error queue ------------------------------------------------------------------


def _problems_json(problems: Iterable[Problem]) -> list[dict[str, str]]:
    return [
        {"location": p.location, "text": p.text, "code": p.code, "severity": p.severity}
        for p in problems
    ]


def sender_facility(sender: str) -> str:
    """MSH-4 of an InboundMessage.sender ("MSH-3^MSH-4")."""
    return (sender or "").partition("^")[2].strip()


def lab_facilities(clinic_ids: Iterable[int]) -> list[str]:
    """The facility ids (MSH-4) of the labs these clinics send to."""
    return sorted(
        set(
            PerformingLab.objects.filter(clinic_id__in=list(clinic_ids)).values_list(
                "facility", flat=True
            )
        )
    )


def inbound_scope(clinic_ids: Iterable[int]) -> Q:
    """The inbound messages a manager of these clinics handles: their clinics' own, and those
    that came with no clinic (a sender we could not place: MSH-6 mistyped by a lab we know, or
    a lab not set up yet) whose sending facility (MSH-4) is one of the labs these clinics have.
    One query (the facilities)."""
    clinics = list(clinic_ids)
    scope = Q(clinic_id__in=clinics)
    unplaced = Q()
    for facility in lab_facilities(clinics):
        unplaced |= Q(sender__endswith=f"^{facility}")
    if unplaced:
        scope |= Q(clinic__isnull=True) & unplaced
    return scope


def may_handle_inbound(actor: Actor, message: InboundMessage) -> bool:
    clinics = actor.clinics_with(Permission.MANAGE_LAB_INTERFACE)
    if message.clinic_id is not None:
        return message.clinic_id in clinics
    facility = sender_facility(message.sender)
    return bool(facility) and facility in lab_facilities(clinics)


def _check_queue(actor: Actor, message: InboundMessage) -> None:
    if not may_handle_inbound(actor, message):
        raise PermissionDenied("Only the clinic manager handles the lab interface's messages.")


def _lock_unhandled(message: InboundMessage) -> InboundMessage:
    """In the transaction: the message, locked, still in the queue (else refused)."""
    message = InboundMessage.objects.select_for_update().get(pk=message.pk)
    if message.status not in INBOX_STATUSES:
        raise ValidationError(f"This message was already handled ({message.get_status_display()}).")
    return message


def _handled(
    message: InboundMessage, actor: Actor, status: str, resolution: str, now: dt.datetime
) -> None:
    """Take the message out of the queue: how (`status`), by whom and when, and why."""
    message.status = status
    message.handled_at, message.handled_by_id = now, actor.signed_in_user_id
    message.resolution = resolution
    message.updated_at = now
    message.save(update_fields=["status", "handled_at", "handled_by", "resolution", "updated_at"])


def retry_inbound(*, actor: Actor, message: InboundMessage) -> list[LabReport]:
    """File a queued message again (after the order or the patient was put right): RESOLVED
    when it files; NotFiled with the new problems otherwise (the message stays queued, its
    problems replaced by the new ones)."""
    _check_queue(actor, message)
    fn = refiler()
    if fn is None:
        raise ValidationError("The HL7 interface is not loaded: a retry cannot parse the message.")
    problems: list[Problem] | None = None
    reports: list[LabReport] = []
    with transaction.atomic():
        message = _lock_unhandled(message)
        now = clock.now()
        try:
            with transaction.atomic():
                reports = fn(message)
                # A message that came with no clinic is placed by the refiler (the lab it now
                # matches); it files only into a clinic this manager handles.
                if message.clinic_id not in actor.clinics_with(Permission.MANAGE_LAB_INTERFACE):
                    raise PermissionDenied(
                        "This message's sender (MSH-4 / MSH-6) is now another clinic's lab: "
                        "that clinic's manager files it."
                    )
        except NotFiled as exc:
            problems = exc.problems or [Problem("MSH", "The message could not be filed.")]
            message.errors = _problems_json(problems)
            message.updated_at = now
            message.save(update_fields=["errors", "updated_at"])
            record(
                actor,
                Action.UPDATE,
                "MessageHeader",
                clinic_id=message.clinic_id,
                entity_id=str(message.public_id),
                description=(
                    f"retry of lab message {message.control_id} did not file: "
                    f"{len(problems)} problem(s)"
                ),
                outcome=Outcome.FAILED,
            )
        else:
            _handled(
                message,
                actor,
                InboundMessage.Status.RESOLVED,
                f"Filed on retry: {len(reports)} report{'s' if len(reports) != 1 else ''}.",
                now,
            )
            message.reports.add(*reports)
            record(
                actor,
                Action.UPDATE,
                "MessageHeader",
                clinic_id=message.clinic_id,
                entity_id=str(message.public_id),
                description=f"lab message {message.control_id} filed on retry",
            )
    if problems is not None:
        raise NotFiled(problems=problems)
    return reports


def dismiss_inbound(*, actor: Actor, message: InboundMessage, reason: str) -> InboundMessage:
    """Take a message out of the queue without filing it, saying why (e.g. "the lab resent it
    corrected as MSG123")."""
    _check_queue(actor, message)
    text = " ".join((reason or "").split())
    if not text:
        raise ValidationError({"reason": "Say why the message is dismissed without filing."})
    if len(text) > 300 or "\x00" in text:
        raise ValidationError({"reason": "Keep the reason to 300 characters."})
    with transaction.atomic():
        message = _lock_unhandled(message)
        now = clock.now()
        _handled(message, actor, InboundMessage.Status.DISMISSED, text, now)
        record(
            actor,
            Action.UPDATE,
            "MessageHeader",
            clinic_id=message.clinic_id,
            entity_id=str(message.public_id),
            description=f"lab message {message.control_id} dismissed: {text}",
        )
    return message
