"""A demo clinic's point-of-care testing: the seven CLIA-waived tests on its menu, kits and
control lots in stock, its testing staff's competencies, and weeks of QC history; but not
today's rapid strep controls, so the first rapid strep of the day locks the MA out until she
runs them (the browser scenario: "alice runs a rapid strep, is locked out until she runs the
day's controls").

seed_poct(clinic, manager=..., staff=[...]) writes, as the clinic's people:
- the menu (services.configure_test, as the manager; directly when the given manager does not
  hold MANAGE_POCT at the clinic, as South has no manager in the demo cast): rapid strep
  (QuickVue), influenza A/B (QuickVue), COVID-19 antigen (BinaxNOW), blood glucose (Assure
  Prism multi), urine hCG (QuickVue+), urinalysis dipstick (Multistix 10 SG) and HbA1c
  (Afinion 2), each with the catalog's LOINC codes, the device's reportable range and the
  catalog's default reference interval and critical limits (glucose, HbA1c). QC policy:
  controls on each new lot and shipment for all; rapid strep also daily by clinic policy,
  glucose daily, HbA1c every 30 days (catalog defaults);
- one kit lot in use per test (services.receive_kit_lot, as the first staff member), received
  3 to 6 weeks ago, expiring 3 to 7 months out; rapid strep also has last season's lot,
  expired ten days ago and taken out of use (written directly: the service refuses to receive
  an expired lot; then services.retire_kit_lot);
- control lots for every level (services.receive_control_lot): the kits' own positive and
  negative swabs, glucose level 1/2 and HbA1c C I/C II with the ranges printed on their
  bottles, urine controls with the pad values of their insert;
- competencies (written directly, since the service only takes assessments of the last 30
  days): the first staff member (alice) first assessed 15 months ago, again at 9 months, and
  annually 3 months ago, current on every test; the others assessed 2 months ago (their first
  year: valid 6 months); valid_until from rules.competency_valid_until, so the same schedule
  the service applies;
- QC history (written directly with passed computed by rules.qc_outcome, since the service
  records only runs of the last two days): new-lot controls the day each lot was received;
  the daily tests' controls every weekday morning since, up to yesterday; HbA1c every 30 days;
  one failed glucose level 1 run six weekdays ago, with its corrective action and a passing
  repeat the same morning. Nothing today.

Deterministic: lot numbers come from random.Random seeded with the clinic's code; dates are
relative to clock.today(). A second call adds nothing (a clinic with a menu is left as is).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.poct import catalog, rules, services
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, QcRun

# The clinic's QC policy for rapid strep: daily, on top of the manufacturer's new lot and new
# shipment (a clinic may be stricter than the insert; CLIA 42 CFR 493.15(e) sets the floor).
STREP_EVERY_DAYS = 1
CONTROL_RANGES = {  # as printed on the control bottles of the lots received
    "glucose": {"low": ("38", "62"), "high": ("285", "385")},
    "hba1c": {"low": ("5.1", "6.1"), "high": ("8.8", "10.8")},
}
URINE_CONTROLS = {  # Level 1 (negative) and Level 2 (positive) acceptable pad values
    "negative": {
        "25428-4": ("negative",),
        "5770-3": ("negative",),
        "2514-8": ("negative",),
        "5811-5": ("1.005", "1.010"),
        "5794-3": ("negative",),
        "5803-2": ("5.0", "5.5", "6.0"),
        "20454-5": ("negative",),
        "20405-7": ("0.2",),
        "5802-4": ("negative",),
        "5799-2": ("negative",),
    },
    "positive": {
        "25428-4": ("2+", "3+"),
        "5770-3": ("1+", "2+"),
        "2514-8": ("small", "moderate"),
        "5811-5": ("1.015", "1.020", "1.025"),
        "5794-3": ("moderate", "large"),
        "5803-2": ("6.0", "6.5", "7.0"),
        "20454-5": ("1+", "2+"),
        "20405-7": ("2", "4"),
        "5802-4": ("positive",),
        "5799-2": ("moderate", "large"),
    },
}
CONTROL_PRODUCTS = {
    "rapid_strep": "QuickVue Strep A control swabs",
    "influenza": "QuickVue Influenza A+B control swabs",
    "covid_antigen": "BinaxNOW COVID-19 Ag control swabs",
    "glucose": "Assure Prism multi control solution",
    "urine_hcg": "QuickVue+ hCG controls",
    "urinalysis": "Liquichek Urinalysis Control",
    "hba1c": "Afinion HbA1c Control",
}
RECEIVED_DAYS_AGO = {
    "rapid_strep": 20,
    "influenza": 34,
    "covid_antigen": 41,
    "glucose": 27,
    "urine_hcg": 45,
    "urinalysis": 23,
    "hba1c": 38,
}
EXPIRES_IN_DAYS = (95, 215)
QC_HOUR = 8  # the morning controls, local time
FAILED_RUN_WEEKDAYS_AGO = 6


def seed_poct(clinic: Clinic, *, manager: Any, staff: Sequence[Any]) -> None:
    """The clinic's test menu, kits, controls, competencies and QC history (see the module
    docstring). `staff[0]` receives the stock and runs most controls; every one of `staff`
    (MAs and providers) is competent on every test."""
    if not staff:
        raise ValueError("seed_poct needs at least one member of the testing staff")
    with transaction.atomic():
        if PocTest.objects.filter(clinic=clinic).exists():
            return
        _seed(clinic, manager, staff)


def _seed(clinic: Clinic, manager: Any, staff: Sequence[Any]) -> None:
    rng = random.Random(f"poct-{clinic.code}")  # noqa: S311 (demo data, not security)
    today = clock.today()
    zone = services.zone()
    boss, first = Actor.for_user(manager), Actor.for_user(staff[0])
    tests = [_configure(boss, clinic, kind.code) for kind in catalog.KINDS]
    for test in tests:
        received = today - dt.timedelta(days=RECEIVED_DAYS_AGO[test.kind])
        controls = _controls(first, test, received, rng)
        lot = services.receive_kit_lot(
            actor=first,
            test=test,
            lot_number=_lot_number(test.kind, rng),
            expires_on=today + dt.timedelta(days=rng.randint(*EXPIRES_IN_DAYS)),
            shipment=f"PO-{rng.randint(40000, 49999)}",
            received_on=received,
            tests_received=25 if test.result_type != catalog.QUANTITATIVE else 50,
        )
        if test.kind == "rapid_strep":
            _expired_lot(first, test, controls, rng, zone)
        _competencies(test, manager, staff, today)
        _history(test, lot, controls, staff, today, zone)


def _configure(actor: Actor, clinic: Clinic, kind: str) -> PocTest:
    changes: dict[str, Any] = {"qc_on_new_lot": True, "qc_on_new_shipment": True}
    if kind == "rapid_strep":
        changes["qc_every_days"] = STREP_EVERY_DAYS
    config = services.default_config(kind, **changes)
    if can(actor, Permission.MANAGE_POCT, clinic):
        return services.configure_test(actor=actor, clinic_id=clinic.pk, config=config)
    info = catalog.kind(kind)
    return PocTest.objects.create(
        clinic=clinic,
        kind=kind,
        name=config.name,
        device=config.device,
        manufacturer=config.manufacturer,
        loinc=config.loinc,
        result_type=info.result_type,
        specimen_type=info.specimen_type,
        reportable_low=config.reportable_low,
        reportable_high=config.reportable_high,
        reference_low=config.reference_low,
        reference_high=config.reference_high,
        critical_low=config.critical_low,
        critical_high=config.critical_high,
        control_levels=list(config.control_levels or ()),
        qc_on_new_lot=True,
        qc_on_new_shipment=True,
        qc_every_days=config.qc_every_days,
        internal_control=bool(config.internal_control),
        sort_order=PocTest.objects.filter(clinic=clinic).count(),
    )


def _lot_number(kind: str, rng: random.Random) -> str:
    """In each maker's style: QuickVue and Multistix alphanumeric, BinaxNOW and Afinion with a
    dash, meter strips numeric."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    if kind in ("rapid_strep", "influenza", "urine_hcg"):
        return f"{rng.randint(1, 9)}{rng.choice(letters)}{rng.randint(10, 99)}{rng.choice(letters)}"
    if kind in ("covid_antigen", "hba1c"):
        return f"{rng.choice(letters)}{rng.randint(100, 999)}-{rng.randint(10, 99)}"
    if kind == "urinalysis":
        return f"{rng.randint(1, 9)}{rng.choice(letters)}{rng.randint(1000, 9999)}"
    return f"{rng.randint(10000000, 99999999)}"


def _expectations(test: PocTest, level: str) -> dict[str, rules.Expectation]:
    if test.kind in CONTROL_RANGES:
        low, high = CONTROL_RANGES[test.kind][level]
        return {
            a.code: rules.Expectation(low=Decimal(low), high=Decimal(high)) for a in test.analytes
        }
    if test.kind == "urinalysis":
        return {c: rules.Expectation(answers=a) for c, a in URINE_CONTROLS[level].items()}
    found = test.kind_info.level(level)
    assert found is not None  # noqa: S101 (the catalog's own levels)
    return {c: rules.Expectation(answers=a) for c, a in found.expected.items()}


def _controls(
    actor: Actor, test: PocTest, received: dt.date, rng: random.Random
) -> dict[str, ControlLot]:
    return {
        level: services.receive_control_lot(
            actor=actor,
            test=test,
            level=level,
            lot_number=f"C{rng.randint(1000, 9999)}{level[:1].upper()}",
            expires_on=clock.today() + dt.timedelta(days=rng.randint(120, 300)),
            expected=_expectations(test, level),
            product=CONTROL_PRODUCTS[test.kind],
            received_on=received,
        )
        for level, _ in test.levels
    }


def _expired_lot(
    actor: Actor, test: PocTest, controls: dict[str, ControlLot], rng: random.Random, zone: Any
) -> None:
    """Last season's strep lot: received five months ago, expired ten days ago, taken out of
    use (its new-lot controls in the history)."""
    today = clock.today()
    old = KitLot.objects.create(
        clinic_id=test.clinic_id,
        test=test,
        lot_number=_lot_number(test.kind, rng),
        expires_on=today - dt.timedelta(days=10),
        shipment=f"PO-{rng.randint(30000, 39999)}",
        received_on=today - dt.timedelta(days=150),
        received_by_id=actor.signed_in_user_id,
        first_used_on=today - dt.timedelta(days=149),
        tests_received=25,
        created_by_id=actor.signed_in_user_id,
    )
    for level, control in controls.items():
        # last season's control lots: received with the kits, expired with them, discarded
        spent = ControlLot.objects.create(
            clinic_id=test.clinic_id,
            test=test,
            level=level,
            lot_number=f"C{rng.randint(1000, 9999)}{level[:1].upper()}",
            expires_on=old.expires_on,
            product=control.product,
            expected=control.expected,
            received_on=old.received_on,
            received_by_id=actor.signed_in_user_id,
            retired_at=_morning(old.expires_on + dt.timedelta(days=1), zone),
            retired_reason="Expired",
            created_by_id=actor.signed_in_user_id,
        )
        _write_run(test, old, spent, actor.user, _morning(old.received_on, zone), "new_lot", level)
    services.retire_kit_lot(actor=actor, lot=old, reason="Expired")


def _competencies(test: PocTest, manager: Any, staff: Sequence[Any], today: dt.date) -> None:
    for i, user in enumerate(staff):
        if i == 0:
            dates = [today - dt.timedelta(days=d) for d in (457, 274, 92)]
        else:
            dates = [today - dt.timedelta(days=61)]
        first = dates[0]
        for assessed_on in dates:
            Competency.objects.create(
                clinic_id=test.clinic_id,
                user=user,
                test=test,
                assessed_by=manager,
                assessed_on=assessed_on,
                valid_until=rules.competency_valid_until(
                    assessed_on, first if assessed_on != first else None
                ),
                methods=["observation", "samples"] if assessed_on == first else ["observation"],
                first_year=rules.add_months(first, rules.FIRST_YEAR) > assessed_on,
                note="Initial training with the package insert" if assessed_on == first else "",
                created_by=manager,
            )


def _morning(day: dt.date, zone: Any, minute: int = 5) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(QC_HOUR, minute), tzinfo=zone)


def _readings(test: PocTest, control: ControlLot, *, fail: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in test.analytes:
        e = control.expectations.get(a.code)
        if e is None:
            continue
        if e.answers:
            wrong = [x for x in a.answers if x not in e.answers and x != catalog.INVALID]
            out[a.code] = wrong[0] if fail else e.answers[0]
        else:
            assert e.low is not None and e.high is not None  # noqa: S101
            value = e.high + 4 if fail else (e.low + e.high) / 2
            out[a.code] = str(value.quantize(Decimal(1) if a.decimals == 0 else Decimal("0.1")))
    return out


def _write_run(
    test: PocTest,
    lot: KitLot,
    control: ControlLot,
    user: Any,
    at: dt.datetime,
    reason: str,
    level: str,
    *,
    fail: bool = False,
) -> QcRun:
    outcome = rules.qc_outcome(
        test.analytes, control.expectations, _readings(test, control, fail=fail)
    )
    return QcRun.objects.create(
        clinic_id=test.clinic_id,
        test=test,
        kit_lot=lot,
        control_lot=control,
        level=level,
        observed=outcome.observed,
        expected=control.expected,
        passed=outcome.passed,
        problems=list(outcome.problems),
        reason=reason,
        performed_by=user,
        performed_at=at,
        created_at=at,
        updated_at=at,
        created_by=user,
    )


def _history(
    test: PocTest,
    lot: KitLot,
    controls: dict[str, ControlLot],
    staff: Sequence[Any],
    today: dt.date,
    zone: Any,
) -> None:
    received = lot.received_on
    levels = list(controls.items())
    for level, control in levels:
        _write_run(test, lot, control, staff[0], _morning(received, zone), "new_lot", level)
    days: list[dt.date] = []
    if test.qc_every_days == 1:
        days = [
            received + dt.timedelta(days=n)
            for n in range(1, (today - received).days)
            if (received + dt.timedelta(days=n)).weekday() < 5
        ]
    elif test.qc_every_days:
        step = test.qc_every_days
        days = [received + dt.timedelta(days=n) for n in range(step, (today - received).days, step)]
    weekdays = [d for d in days if d < today]
    failed_on = (
        weekdays[-FAILED_RUN_WEEKDAYS_AGO] if len(weekdays) >= FAILED_RUN_WEEKDAYS_AGO else None
    )
    for i, day in enumerate(days):
        who = staff[i % len(staff)]
        for level, control in levels:
            if test.kind == "glucose" and day == failed_on and level == "low":
                run = _write_run(
                    test, lot, control, who, _morning(day, zone, 2), "scheduled", level, fail=True
                )  # noqa: E501
                fixed_at = _morning(day, zone, 20)
                QcRun.objects.filter(pk=run.pk).update(
                    corrective_action=(
                        "Control solution bottle open past its 90-day discard date: discarded, "
                        "opened a new bottle of the same lot, repeated level 1 (passed)."
                    ),
                    corrective_by=who,
                    corrective_at=fixed_at,
                )
                _write_run(
                    test, lot, control, who, _morning(day, zone, 25), "troubleshooting", level
                )
                continue
            _write_run(test, lot, control, who, _morning(day, zone), "scheduled", level)
