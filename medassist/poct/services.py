"""Running CLIA-waived tests: the clinic's test menu, kits and controls received, external
control runs with their corrective actions, staff competency, and patient tests.

run_test() is the one way a patient result is recorded. In one transaction, after locking the
kit lot, it checks the lockout (lockout.check: the kit's expiry, the required QC, the
operator's competency), the patient's second identifier and every reading (rules.read_value:
the manufacturer's reportable range), then stores the run and files the result as a lab
Observation + DiagnosticReport routed to the visit's provider
(labs.services.results.file_point_of_care). A result the device marks invalid, or whose
internal control did not appear, is stored as invalid and reported to nobody.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.access.roles import permissions_for
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.labs.intake import IncomingResult
from medassist.labs.services.common import at_clinic, clean, refuse
from medassist.labs.services.results import file_point_of_care
from medassist.poct import catalog, lockout, rules
from medassist.poct.models import (
    Competency,
    ControlLot,
    KitLot,
    PocTest,
    PocTestRun,
    QcRun,
)

CLOCK_SKEW = dt.timedelta(minutes=5)
# A control run or an assessment is recorded when it is done; entering one later than this is
# a correction for the manager, not a QC record for today's testing.
LATE_QC = dt.timedelta(days=2)
ASSESSMENT_BACKDATE_DAYS = 30
NOT_TESTABLE = frozenset({Encounter.Stage.CANCELLED, Encounter.Stage.NO_SHOW})
POCT_PERMISSIONS = (Permission.RUN_POCT, Permission.RUN_QC, Permission.MANAGE_POCT)


class Locked(ValidationError):
    """A patient test (or a control run) refused by the lockout; .reasons says each why."""

    def __init__(self, reasons: Sequence[lockout.Reason]) -> None:
        self.reasons = list(reasons)
        super().__init__({"lockout": [ValidationError(r.text, code=r.code) for r in reasons]})


def zone() -> dt.tzinfo:
    """The clinic's time zone (one per installation: settings.TIME_ZONE)."""
    return timezone.get_default_timezone()


def _lot_number(value: str, what: str) -> str:
    text = "".join(str(value or "").split()).upper()
    if not text:
        raise refuse("lot_number", f"Type the {what} lot number from the box.", "required")
    if len(text) > 30 or not all(c.isalnum() or c in "-./" for c in text):
        raise refuse(
            "lot_number",
            f"A {what} lot number is up to 30 letters, digits, '-', '.' or '/'.",
            "invalid",
        )
    return text


def person(user: object) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""  # type: ignore[attr-defined]
    return full or getattr(user, "username", "") or "This person"


# -- The test menu ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestConfig:
    """What the manager sets for one test (the form's fields, or a demo's)."""

    kind: str
    device: str
    manufacturer: str
    name: str = ""
    loinc: str = ""
    reportable_low: Decimal | None = None
    reportable_high: Decimal | None = None
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    control_levels: tuple[str, ...] | None = None
    qc_on_new_lot: bool = True
    qc_on_new_shipment: bool = True
    qc_every_days: int | None = None
    internal_control: bool | None = None
    active: bool = True


def default_config(kind_code: str, **changes: object) -> TestConfig:
    """The catalog's starting point for a kind (device, ranges and limits, levels, frequency)."""
    info = catalog.kind(kind_code)
    analyte = info.analytes[0]
    quantitative = info.result_type == catalog.QUANTITATIVE
    fields: dict[str, object] = {
        "kind": info.code,
        "device": info.device,
        "manufacturer": info.manufacturer,
        "name": info.name,
        "loinc": info.loinc,
        "reportable_low": analyte.low if quantitative else None,
        "reportable_high": analyte.high if quantitative else None,
        "reference_low": analyte.reference_low if quantitative else None,
        "reference_high": analyte.reference_high if quantitative else None,
        "critical_low": analyte.critical_low if quantitative else None,
        "critical_high": analyte.critical_high if quantitative else None,
        "control_levels": tuple(lv.code for lv in info.levels),
        "qc_every_days": info.qc_every_days,
        "internal_control": info.internal_control,
    }
    fields.update(changes)
    return TestConfig(**fields)  # type: ignore[arg-type]


def configure_test(
    *, actor: Actor, clinic_id: int, config: TestConfig, test: PocTest | None = None
) -> PocTest:
    """Put a test on the clinic's menu, or change one (test given). The analytes and their
    LOINC codes come from the catalog; the manager sets the device, the manufacturer's
    reportable range and the QC policy from the package insert."""
    at_clinic(
        actor,
        [Permission.MANAGE_POCT],
        clinic_id,
        "Only the clinic manager changes the point-of-care test menu.",
    )
    if test is not None and test.clinic_id != clinic_id:
        raise PermissionDenied("That test is on another clinic's menu.")
    info = catalog.BY_CODE.get(config.kind)
    if info is None:
        raise refuse("kind", "Choose a test from the list.", "kind")
    if test is not None and test.kind != info.code:
        raise refuse("kind", "A test's kind cannot change: add a new test instead.", "kind")
    name = clean(config.name, 80) or info.name
    device, manufacturer = clean(config.device, 120), clean(config.manufacturer, 120)
    if not device:
        raise refuse("device", "Name the kit, strip or analyzer (as on its box).", "required")
    if not manufacturer:
        raise refuse("manufacturer", "Name the manufacturer (as on the package insert).")
    loinc = config.loinc or info.loinc
    if loinc not in {code for code, _, _ in info.report_codes}:
        shown = ", ".join(f"{code} ({use})" for code, use, _ in info.report_codes)
        raise refuse("loinc", f"The report's LOINC code for {info.name} is one of {shown}.")
    low, high = config.reportable_low, config.reportable_high
    if info.result_type == catalog.QUANTITATIVE:
        unit = info.analytes[0].unit
        if low is None or high is None:
            raise refuse(
                "reportable_low",
                f"Type the manufacturer's reportable range ({unit}) from the package insert.",
                "required",
            )
        if not Decimal("0") <= low < high <= Decimal("100000"):
            raise refuse("reportable_high", "The range's low end must be below its high end.")
        limits = _limits(info.analytes[0].with_range(low, high), config)
    else:
        low = high = None
        limits = dict.fromkeys(LIMIT_FIELDS)
    known = [lv.code for lv in info.levels]
    levels = list(config.control_levels) if config.control_levels is not None else known
    unknown = [lv for lv in levels if lv not in known]
    if unknown or not levels:
        names = lockout.words([lv.label.lower() for lv in info.levels])
        raise refuse("control_levels", f"Choose the external control levels: {names}.")
    every = config.qc_every_days
    if every is not None and not 1 <= every <= 366:
        raise refuse("qc_every_days", "Scheduled controls are every 1 to 366 days, or none.")
    internal = info.internal_control if config.internal_control is None else config.internal_control
    clash = PocTest.objects.filter(clinic_id=clinic_id, name=name)
    if test is not None:
        clash = clash.exclude(pk=test.pk)
    if clash.exists():
        raise refuse("name", f"A test named {name} is already on this clinic's menu.", "name")
    values = {
        "name": name,
        "device": device,
        "manufacturer": manufacturer,
        "loinc": loinc,
        "result_type": info.result_type,
        "specimen_type": info.specimen_type,
        "reportable_low": low,
        "reportable_high": high,
        **limits,
        "control_levels": [lv for lv in known if lv in levels],
        "qc_on_new_lot": config.qc_on_new_lot,
        "qc_on_new_shipment": config.qc_on_new_shipment,
        "qc_every_days": every,
        "internal_control": internal,
        "active": config.active,
    }
    with transaction.atomic():
        if test is None:
            order = PocTest.objects.filter(clinic_id=clinic_id).count()
            test = PocTest.objects.create(
                clinic_id=clinic_id,
                kind=info.code,
                sort_order=order,
                created_by_id=actor.signed_in_user_id,
                **values,
            )
            verb = Action.CREATE
        else:
            for key, value in values.items():
                setattr(test, key, value)
            test.updated_at = clock.now()
            test.save()
            verb = Action.UPDATE
        record(
            actor,
            verb,
            "Basic",
            clinic_id=clinic_id,
            entity_id=str(test.public_id),
            description=(
                f"point-of-care test {test.name}: {test.device} ({test.manufacturer}); "
                + (f"{test.limits_text}; " if test.limits_text else "")
                + f"QC {test.qc_schedule}; {'on the menu' if test.active else 'off the menu'}"
            ),
        )
    return test


LIMIT_FIELDS = ("reference_low", "reference_high", "critical_low", "critical_high")


def _limits(analyte: catalog.Analyte, config: TestConfig) -> dict[str, Decimal | None]:
    """The reference interval and critical limits of a quantitative test, checked: a reference
    interval is required (it is what the provider reads the result against); each critical
    limit is optional (none: no critical value on that side), lies outside the reference
    interval and within the device's reportable range (so that LO and HI are critical when the
    limit is set: rules.flag_of), and every limit has no more decimals than the device shows."""
    unit, word = analyte.unit, analyte.device_word
    ref_low, ref_high = config.reference_low, config.reference_high
    crit_low, crit_high = config.critical_low, config.critical_high
    for name, value in zip(LIMIT_FIELDS, (ref_low, ref_high, crit_low, crit_high), strict=True):
        if value is None:
            continue
        finite = value.is_finite() and Decimal("0") <= value <= Decimal("100000")
        exponent = value.normalize().as_tuple().exponent if finite else 0
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if not finite or places > analyte.decimals:
            shown = (
                "a whole number" if analyte.decimals == 0 else f"{analyte.decimals} decimal place"
            )
            raise refuse(name, f"Type the limit in {unit} as the {word} shows it ({shown}).")
    if ref_low is None or ref_high is None:
        raise refuse(
            "reference_low" if ref_low is None else "reference_high",
            f"Type the clinic's reference interval ({unit}), both ends: the provider reads the "
            f"result against it.",
            "required",
        )
    if ref_low > ref_high:
        raise refuse("reference_high", "The reference interval's low end is above its high end.")
    reportable = rules.range_text(analyte)
    if crit_low is not None:
        if crit_low >= ref_low:
            raise refuse(
                "critical_low",
                f"The critical low limit must be below the reference interval's low end "
                f"({ref_low} {unit}); leave it empty for no critical low value.",
            )
        if analyte.low is not None and crit_low < analyte.low:
            raise refuse(
                "critical_low",
                f"The critical low limit must be within the {word}'s reportable range "
                f"{reportable}: the {word} shows LO below {analyte.low}, so a lower limit "
                "could not be told.",
            )
    if crit_high is not None:
        if crit_high <= ref_high:
            raise refuse(
                "critical_high",
                f"The critical high limit must be above the reference interval's high end "
                f"({ref_high} {unit}); leave it empty for no critical high value.",
            )
        if analyte.high is not None and crit_high > analyte.high:
            raise refuse(
                "critical_high",
                f"The critical high limit must be within the {word}'s reportable range "
                f"{reportable}: the {word} shows HI above {analyte.high}, so a higher limit "
                "could not be told.",
            )
    return dict(zip(LIMIT_FIELDS, (ref_low, ref_high, crit_low, crit_high), strict=True))


# -- Kits and controls -----------------------------------------------------------------------------

STOCK_PERMISSIONS = (Permission.MANAGE_POCT, Permission.RUN_QC)
_Lot = TypeVar("_Lot", KitLot, ControlLot)


def _received_on(received_on: dt.date | None, expires_on: dt.date, expired: str) -> dt.date:
    """The day a lot was received (today when not said), checked: not in the future, and the
    lot not expired (refused with `expired`)."""
    today = clock.today()
    received_on = received_on or today
    if received_on > today:
        raise refuse("received_on", "The date received is in the future.", "future")
    if expires_on < today:
        raise refuse("expires_on", expired, "expired")
    return received_on


def receive_kit_lot(
    *,
    actor: Actor,
    test: PocTest,
    lot_number: str,
    expires_on: dt.date,
    shipment: str,
    received_on: dt.date | None = None,
    tests_received: int | None = None,
) -> KitLot:
    """A shipment of kits (strips, cartridges) of one lot, put into use. Each shipment is its
    own row: the QC policy may need controls on a new shipment of a lot already in use."""
    at_clinic(
        actor, STOCK_PERMISSIONS, test.clinic_id, "Your role does not receive point-of-care kits."
    )
    lot_number = _lot_number(lot_number, "kit")
    shipment = clean(shipment, 40)
    if not shipment:
        raise refuse("shipment", "Type the shipment's packing slip or order number.", "required")
    received_on = _received_on(
        received_on,
        expires_on,
        f"Kit lot {lot_number} expired on {expires_on:%Y-%m-%d}: do not put it into use; "
        "return it to the supplier or discard it.",
    )
    if tests_received is not None and not 1 <= tests_received <= 100_000:
        raise refuse("tests_received", "The number of tests received is 1 to 100000.")
    return _receive(
        actor,
        KitLot,
        test,
        {"lot_number": lot_number, "shipment": shipment},
        refuse(
            "shipment",
            f"Shipment {shipment} of lot {lot_number} is already received for {test.name}.",
            "duplicate",
        ),
        f"received {test.name} kit lot {lot_number} (expires {expires_on:%Y-%m-%d}), "
        f"shipment {shipment}",
        expires_on=expires_on,
        received_on=received_on,
        tests_received=tests_received,
    )


def _receive(
    actor: Actor,
    model: type[_Lot],
    test: PocTest,
    key: dict[str, str],
    duplicate: ValidationError,
    description: str,
    **fields: Any,
) -> _Lot:
    """A kit or control lot received for `test`, recorded once: a second one with the same
    `key` is refused with `duplicate`."""
    with transaction.atomic():
        if model.objects.filter(test=test, **key).exists():
            raise duplicate
        lot = model.objects.create(
            clinic_id=test.clinic_id,
            test=test,
            **key,
            **fields,
            received_by_id=actor.signed_in_user_id,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Device",
            clinic_id=test.clinic_id,
            entity_id=str(lot.public_id),
            description=description,
        )
    return lot


def retire_kit_lot(*, actor: Actor, lot: KitLot, reason: str) -> KitLot:
    """Take a kit lot out of use (expired, used up, recalled, failed QC that could not be
    corrected): no test can be run on it again."""
    return _retire(
        actor,
        lot,
        reason,
        not_allowed="Your role does not manage point-of-care kits.",
        no_reason="Say why the lot is taken out of use.",
        what="kit lot",
        already_code="retired",
        retired_by_id=actor.signed_in_user_id,
    )


def receive_control_lot(
    *,
    actor: Actor,
    test: PocTest,
    level: str,
    lot_number: str,
    expires_on: dt.date,
    expected: Mapping[str, rules.Expectation],
    product: str = "",
    received_on: dt.date | None = None,
) -> ControlLot:
    """A lot of one external control level, with the reading or range it must give for each
    of the test's analytes (its package insert or bottle)."""
    at_clinic(actor, STOCK_PERMISSIONS, test.clinic_id, "Your role does not receive control lots.")
    found = test.kind_info.level(level)
    if found is None:
        names = lockout.words([lv.label.lower() for lv in test.kind_info.levels])
        raise refuse("level", f"Choose the control's level: {names}.", "level")
    lot_number = _lot_number(lot_number, "control")
    received_on = _received_on(
        received_on,
        expires_on,
        f"Control lot {lot_number} expired on {expires_on:%Y-%m-%d}: an expired control "
        "cannot be used for QC; discard it.",
    )
    stored: dict[str, dict] = {}
    for analyte in test.analytes:
        want = expected.get(analyte.code)
        if want is None:
            raise refuse(
                f"expected_{analyte.code}",
                f"{analyte.short}: type what the control must read (from its insert).",
                "required",
            )
        problem = rules.check_expectation(analyte, want)
        if problem:
            raise refuse(f"expected_{analyte.code}", problem, "expected")
        stored[analyte.code] = want.as_json()
    return _receive(
        actor,
        ControlLot,
        test,
        {"level": level, "lot_number": lot_number},
        refuse(
            "lot_number",
            f"The {found.label.lower()} control lot {lot_number} is already received.",
            "duplicate",
        ),
        f"received {test.name} {found.label.lower()} control lot {lot_number} (expires "
        f"{expires_on:%Y-%m-%d})",
        expires_on=expires_on,
        product=clean(product, 120),
        expected=stored,
        received_on=received_on,
    )


def retire_control_lot(*, actor: Actor, lot: ControlLot, reason: str) -> ControlLot:
    return _retire(
        actor,
        lot,
        reason,
        not_allowed="Your role does not manage control lots.",
        no_reason="Say why the control lot is taken out of use.",
        what="control lot",
        already_code="invalid",
    )


def _retire(
    actor: Actor,
    lot: _Lot,
    reason: str,
    *,
    not_allowed: str,
    no_reason: str,
    what: str,
    already_code: str,
    **retired: object,
) -> _Lot:
    """Take a kit or control lot (`what`) out of use, once: a second time is refused."""
    at_clinic(actor, STOCK_PERMISSIONS, lot.clinic_id, not_allowed)
    reason = clean(reason, 200)
    if not reason:
        raise refuse("reason", no_reason, "required")
    with transaction.atomic():
        now = clock.now()
        done = (
            type(lot)
            .objects.filter(pk=lot.pk, retired_at__isnull=True)
            .update(retired_at=now, **retired, retired_reason=reason, updated_at=now)
        )
        if not done:
            raise refuse(
                "reason",
                f"{what.capitalize()} {lot.lot_number} is already out of use.",
                already_code,
            )
        lot.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Device",
            clinic_id=lot.clinic_id,
            entity_id=str(lot.public_id),
            description=f"{what} {lot.lot_number} taken out of use: {reason}",
        )
    return lot


# -- The lockout -----------------------------------------------------------------------------------


def usable_control_lots(test: PocTest, today: dt.date) -> list[ControlLot]:
    return list(
        ControlLot.objects.filter(test=test, retired_at__isnull=True, expires_on__gte=today)
    )


def lockout_for(
    test: PocTest,
    lot: KitLot | None,
    operator: Any,
    *,
    now: dt.datetime | None = None,
) -> list[lockout.Reason]:
    """The lockout reasons for a patient test on `lot` by `operator` now (three queries)."""
    now = now or clock.now()
    today = clock.localtime(now).date()
    runs: list[lockout.QcFacts] = []
    if lot is not None:
        runs = [
            r.facts()
            for r in QcRun.objects.filter(test=test, kit_lot__lot_number=lot.lot_number)
            .select_related("kit_lot")
            .order_by("performed_at", "id")
        ]
    user_id = operator.pk
    skills = [c.facts() for c in Competency.objects.filter(test=test, user_id=user_id)]
    stocked = {c.level for c in usable_control_lots(test, today)}
    return lockout.check(
        policy=test.policy(),
        lot=lot.facts() if lot is not None else None,
        qc=runs,
        operator=person(operator),
        competencies=skills,
        now=now,
        zone=zone(),
        control_levels_in_stock=stocked,
    )


def _covering_runs(test: PocTest, lot: KitLot) -> list[QcRun]:
    """The passing runs that qualify the lot for a patient test: the latest passing run of
    each required level, on this shipment or (for a lot checked as a new lot only) another."""
    found: dict[str, QcRun] = {}
    levels = {code for code, _ in test.levels}
    for run in QcRun.objects.filter(
        test=test, kit_lot__lot_number=lot.lot_number, passed=True, level__in=levels
    ).order_by("performed_at", "id"):
        if run.kit_lot_id == lot.pk or run.level not in found:
            found[run.level] = run
    return list(found.values())


# -- External controls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlEntry:
    control_lot: ControlLot
    observed: Mapping[str, str]  # analyte LOINC -> what the device showed


def _competency_reasons(test: PocTest, user: Any, day: dt.date) -> list[lockout.Reason]:
    user_id = user.pk
    skills = [c.facts() for c in Competency.objects.filter(test=test, user_id=user_id)]
    return lockout.competency_reasons(test.name, person(user), skills, day)


def record_controls(
    *,
    actor: Actor,
    kit_lot: KitLot,
    entries: Sequence[ControlEntry],
    reason: str,
    performed_at: dt.datetime | None = None,
) -> list[QcRun]:
    """One external control event on a kit lot: a run per level, each passed or failed by the
    control lot's expectations (rules.qc_outcome). The person running controls needs a
    current competency for the test, as for patient tests."""
    test = kit_lot.test
    at_clinic(actor, [Permission.RUN_QC], kit_lot.clinic_id, "Your role does not run QC.")
    now = clock.now()
    at = performed_at or now
    if at > now + CLOCK_SKEW:
        raise refuse("performed_at", "The time of the control run is in the future.", "future")
    if at < now - LATE_QC:
        raise refuse(
            "performed_at",
            f"A control run is recorded when it is done; one more than {LATE_QC.days} days "
            "old cannot qualify today's testing.",
            "too_old",
        )
    day = clock.localtime(at).date()
    if reason not in QcRun.Reason.values:
        raise refuse("reason", "Say why the controls are run (new lot, new shipment, ...).")
    if not entries:
        raise refuse("entries", "Record at least one control level's reading.", "required")
    not_competent = _competency_reasons(test, actor.user, day)
    if not_competent:
        raise Locked(not_competent)
    if kit_lot.retired_at is not None:
        raise refuse(
            "kit_lot", f"Kit lot {kit_lot.lot_number} is out of use: run controls on a lot in use."
        )
    if kit_lot.expired_on(day):
        raise refuse(
            "kit_lot",
            f"Kit lot {kit_lot.lot_number} expired on {kit_lot.expires_on:%Y-%m-%d}: take it out "
            "of use; controls on an expired lot do not qualify it.",
            "kit_expired",
        )
    if day < kit_lot.received_on:
        # Controls cannot have been run on a shipment before it was in the building: a run
        # dated earlier would qualify a new shipment without testing it.
        raise refuse(
            "performed_at",
            f"Kit lot {kit_lot.lot_number} was received on {kit_lot.received_on:%Y-%m-%d}: "
            "a control run on it cannot be dated before that.",
            "before_receipt",
        )
    seen: set[str] = set()
    outcomes: list[tuple[ControlLot, rules.QcOutcome]] = []
    for entry in entries:
        control = entry.control_lot
        field_name = f"observed_{control.level}"
        if control.test_id != test.pk:
            raise refuse(field_name, "That control lot is for another test.", "control_lot")
        if control.level in seen:
            raise refuse(field_name, "One reading per control level per run.", "duplicate")
        seen.add(control.level)
        label = test.level_label(control.level).lower()
        if control.retired_at is not None:
            raise refuse(field_name, f"The {label} control lot {control.lot_number} is out of use.")
        if day < control.received_on:
            raise refuse(
                field_name,
                f"The {label} control lot {control.lot_number} was received on "
                f"{control.received_on:%Y-%m-%d}: a run with it cannot be dated before that.",
                "before_receipt",
            )
        if control.expired_on(day):
            raise refuse(
                field_name,
                f"The {label} control lot {control.lot_number} expired on "
                f"{control.expires_on:%Y-%m-%d}: an expired control cannot be used for QC. "
                "Receive a new control lot (Kits page).",
                "control_expired",
            )
        try:
            outcome = rules.qc_outcome(test.analytes, control.expectations, entry.observed)
        except rules.ValueRefused as exc:
            raise refuse(field_name, f"{test.level_label(control.level)} control: {exc}") from exc
        outcomes.append((control, outcome))
    runs: list[QcRun] = []
    with transaction.atomic():
        KitLot.objects.select_for_update().filter(pk=kit_lot.pk).first()
        for control, outcome in outcomes:
            run = QcRun.objects.create(
                clinic_id=kit_lot.clinic_id,
                test=test,
                kit_lot=kit_lot,
                control_lot=control,
                level=control.level,
                observed=outcome.observed,
                expected=control.expected,
                passed=outcome.passed,
                problems=list(outcome.problems),
                reason=reason,
                performed_by_id=actor.signed_in_user_id,
                performed_at=at,
                created_by_id=actor.signed_in_user_id,
            )
            record(
                actor,
                Action.CREATE,
                "Observation",
                clinic_id=kit_lot.clinic_id,
                entity_id=str(run.public_id),
                description=(
                    f"QC {test.name} {test.level_label(control.level).lower()} control lot "
                    f"{control.lot_number} on kit lot {kit_lot.lot_number}: "
                    f"{'passed' if outcome.passed else 'FAILED'}"
                ),
            )
            runs.append(run)
    return runs


def record_corrective_action(*, actor: Actor, run: QcRun, action: str) -> QcRun:
    """What was done about a failed control run (CDC "Ready? Set? Test!": document the
    problem and the corrective action before patient testing resumes)."""
    at_clinic(
        actor,
        [Permission.RUN_QC, Permission.MANAGE_POCT],
        run.clinic_id,
        "Your role does not record QC corrective actions.",
    )
    action = clean(action, 1000)
    if run.passed:
        raise refuse("action", "This control run passed: it needs no corrective action.")
    if len(action) < 10:
        raise refuse(
            "action",
            "Say what was done, e.g. 'Repeated with a new control swab from lot …; checked "
            "storage temperature and kit expiry'.",
            "required",
        )
    now = clock.now()
    with transaction.atomic():
        done = QcRun.objects.filter(pk=run.pk, corrective_action="").update(
            corrective_action=action,
            corrective_by_id=actor.signed_in_user_id,
            corrective_at=now,
            updated_at=now,
        )
        if not done:
            raise refuse("action", "A corrective action is already recorded for this run.")
        run.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Observation",
            clinic_id=run.clinic_id,
            entity_id=str(run.public_id),
            description=f"QC corrective action: {action}"[:500],
        )
    return run


# -- Competency ------------------------------------------------------------------------------------


def testers(clinic_id: int) -> list:
    """The clinic's people whose role runs point-of-care tests, by name."""
    roles = _roles_with(Permission.RUN_POCT)
    seen: dict[int, object] = {}
    for m in (
        Membership.objects.filter(clinic_id=clinic_id, active=True, role__in=roles)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    ):
        if m.user.is_active:
            seen.setdefault(m.user_id, m.user)
    return list(seen.values())


def _roles_with(perm: Permission) -> list[str]:
    from medassist.access.roles import ROLE_PERMISSIONS

    return [role for role in ROLE_PERMISSIONS if perm in permissions_for({role})]


def record_competency(
    *,
    actor: Actor,
    user: object,
    test: PocTest,
    assessed_on: dt.date,
    methods: Sequence[str],
    note: str = "",
) -> Competency:
    """A manager's record of a person's assessed competency for one test. Valid six months
    during the person's first year of testing it, a year after (rules.competency_valid_until)."""
    at_clinic(
        actor,
        [Permission.MANAGE_POCT],
        test.clinic_id,
        "Only the clinic manager records competency assessments.",
    )
    user_id = getattr(user, "pk", None)
    if (
        user_id is None
        or not Membership.objects.filter(
            user_id=user_id,
            clinic_id=test.clinic_id,
            active=True,
            role__in=_roles_with(Permission.RUN_POCT),
        ).exists()
    ):
        raise refuse("user", "Choose a person whose role at this clinic runs tests.", "user")
    if user_id == actor.signed_in_user_id:
        raise refuse("user", "A person's competency is assessed by someone else.", "self")
    today = clock.today()
    if assessed_on > today:
        raise refuse("assessed_on", "The assessment date is in the future.", "future")
    if assessed_on < today - dt.timedelta(days=ASSESSMENT_BACKDATE_DAYS):
        raise refuse(
            "assessed_on",
            f"Record an assessment within {ASSESSMENT_BACKDATE_DAYS} days of it (paper records "
            "older than that stay in the personnel file).",
            "too_old",
        )
    chosen = list(dict.fromkeys(methods))
    if not chosen or any(m not in Competency.Method.values for m in chosen):
        raise refuse(
            "methods", "Tick how competency was assessed (at least one method).", "required"
        )
    with transaction.atomic():
        first = (
            Competency.objects.filter(user_id=user_id, test=test)
            .order_by("assessed_on")
            .values_list("assessed_on", flat=True)
            .first()
        )
        valid_until = rules.competency_valid_until(assessed_on, first)
        competency = Competency.objects.create(
            clinic_id=test.clinic_id,
            user_id=user_id,
            test=test,
            assessed_by_id=actor.signed_in_user_id,
            assessed_on=assessed_on,
            valid_until=valid_until,
            methods=chosen,
            first_year=rules.add_months(first or assessed_on, rules.FIRST_YEAR) > assessed_on,
            note=clean(note, 300),
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Basic",
            clinic_id=test.clinic_id,
            entity_id=str(competency.public_id),
            description=(
                f"competency of {person(user)} for {test.name} assessed {assessed_on:%Y-%m-%d}, "
                f"valid until {valid_until:%Y-%m-%d}"
            ),
        )
    return competency


def record_competencies(
    *,
    actor: Actor,
    user: object,
    tests: Sequence[PocTest],
    assessed_on: dt.date,
    methods: Sequence[str],
    note: str = "",
) -> list[Competency]:
    """One assessment covering several tests (the manager observed the person run each):
    all recorded, or none."""
    if not tests:
        raise refuse("tests", "Tick the tests the person was assessed on.", "required")
    with transaction.atomic():
        return [
            record_competency(
                actor=actor,
                user=user,
                test=test,
                assessed_on=assessed_on,
                methods=methods,
                note=note,
            )
            for test in tests
        ]


# -- Patient tests ---------------------------------------------------------------------------------


def _result(reading: rules.Reading, sequence: int, at: dt.datetime, note: str) -> IncomingResult:
    analyte = reading.analyte
    common = {
        "sequence": sequence,
        "loinc": analyte.code,
        "name": analyte.name,
        "unit": analyte.unit,
        "reference_text": analyte.reference_text,
        "flag": rules.flag_of(reading),
        "observed_at": at,
        "note": note,
    }
    if analyte.quantitative:
        return IncomingResult(
            value_type="SN" if reading.comparator else "NM",
            value_number=reading.number,
            value_comparator=reading.comparator,
            **common,  # type: ignore[arg-type]
        )
    if analyte.numeric_answers:
        return IncomingResult(value_type="NM", value_number=reading.number, **common)  # type: ignore[arg-type]
    code = catalog.SNOMED.get(reading.text, "")
    return IncomingResult(
        value_type="CWE" if code else "ST",
        value_text=reading.text.capitalize(),
        value_code=code,
        **common,  # type: ignore[arg-type]
    )


def _trail(
    test: PocTest, lot: KitLot, operator: str, covering: list[QcRun], internal: bool | None
) -> str:  # noqa: E501
    """What each Observation says of how it was produced (CLIA 42 CFR 493.1283: the test
    record identifies who tested and with what; kept on the result for the provider)."""
    qc = "; ".join(
        f"{test.level_label(r.level).lower()} control passed "
        f"{clock.localtime(r.performed_at):%Y-%m-%d %H:%M}"
        for r in covering
    )
    parts = [
        f"Point-of-care test, {test.device} ({test.manufacturer})",
        f"kit lot {lot.lot_number} exp {lot.expires_on:%Y-%m-%d}",
        f"performed by {operator}",
    ]
    if internal is not None:
        parts.append("internal control valid")
    if qc:
        parts.append(f"QC: {qc}")
    return ". ".join(parts)[:500]


def run_test(
    *,
    actor: Actor,
    encounter: Encounter,
    test: PocTest,
    kit_lot: KitLot,
    confirm_birth_date: dt.date | None,
    values: Mapping[str, str],
    internal_control_valid: bool | None = None,
) -> PocTestRun:
    """Record one patient test as the kit showed it. Refused (nothing saved) when locked out,
    when the second identifier does not match, or when a reading cannot be recorded as typed;
    the refusal says which and how to fix it."""
    if not can(actor, Permission.RUN_POCT, encounter):
        raise PermissionDenied("Your role does not run point-of-care tests at this clinic.")
    patient = encounter.patient
    if test.clinic_id != encounter.clinic_id or kit_lot.test_id != test.pk:
        raise refuse("kit_lot", "That kit lot is not one of this clinic's for this test.")
    if encounter.stage in NOT_TESTABLE:
        raise refuse(
            "encounter",
            f"This visit was {encounter.get_stage_display().lower()}: a test belongs to a visit "
            "the patient came to.",
            "visit",
        )
    if confirm_birth_date != patient.birth_date:
        raise refuse(
            "confirm_birth_date",
            "The date of birth does not match this patient's record. Check the patient's "
            "identity (name and date of birth) before testing.",
            "wrong_patient",
        )
    if test.internal_control and internal_control_valid is None:
        raise refuse(
            "internal_control_valid",
            f"Say whether the {test.device}'s internal control appeared.",
            "required",
        )
    internal = internal_control_valid if test.internal_control else None
    readings: list[rules.Reading] = []
    refused: dict[str, list[ValidationError]] = {}
    for analyte in test.analytes:
        raw = values.get(analyte.code, "")
        if internal is False and not str(raw).strip():
            continue  # an invalid run is stored with what was seen, which may be nothing
        try:
            readings.append(rules.read_value(analyte, raw))
        except rules.ValueRefused as exc:
            refused[f"value_{analyte.code}"] = [ValidationError(str(exc), code="value")]
    if refused:  # every reading that cannot be recorded, each on its own field
        raise ValidationError(refused)
    invalid = internal is False or any(r.invalid for r in readings)
    operator = actor.user
    with transaction.atomic():
        # Serialize with control runs on the same lot: a failed control recorded a moment ago
        # locks this test out.
        KitLot.objects.select_for_update().filter(pk=kit_lot.pk).first()
        now = clock.now()
        reasons = lockout_for(test, kit_lot, operator, now=now)
        if reasons:
            raise Locked(reasons)
        covering = _covering_runs(test, kit_lot)
        run = PocTestRun.objects.create(
            clinic_id=encounter.clinic_id,
            patient=patient,
            encounter=encounter,
            test=test,
            kit_lot=kit_lot,
            operator_id=actor.signed_in_user_id,
            ordering_provider_id=encounter.provider_id,
            performed_at=now,
            identifiers_confirmed=["name", "birth_date"],
            internal_control_valid=internal,
            values={r.analyte.code: r.text for r in readings},
            status=PocTestRun.Status.INVALID if invalid else PocTestRun.Status.REPORTED,
            created_by_id=actor.signed_in_user_id,
        )
        run.qc_runs.set(covering)
        if kit_lot.first_used_on is None:
            KitLot.objects.filter(pk=kit_lot.pk, first_used_on__isnull=True).update(
                first_used_on=clock.localtime(now).date()
            )
        if not invalid:
            note = _trail(test, kit_lot, person(operator), covering, internal)
            run.report = file_point_of_care(
                actor=actor,
                patient=patient,
                encounter=encounter,
                loinc=test.loinc,
                name=test.kind_info.report_name(test.loinc),
                results=[_result(r, i, now, note) for i, r in enumerate(readings, start=1)],
                ordering_provider=encounter.provider,
                performed_at=now,
            )
            run.save(update_fields=["report"])
        record(
            actor,
            Action.CREATE,
            "Observation",
            patient=patient,
            clinic_id=encounter.clinic_id,
            entity_id=str(run.public_id),
            description=(
                f"point-of-care {test.name} on kit lot {kit_lot.lot_number}: "
                + ("invalid, not reported" if invalid else "reported to the visit's provider")
            ),
        )
    return run
