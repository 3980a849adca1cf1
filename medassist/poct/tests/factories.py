"""Point-of-care tests, kits, controls, competencies and QC runs for tests (catalog devices).

north_<thing>(cast) -> str: the public id of a North object an insider could act on, one per
id-route kind, for the repo-wide outsider and fuzz tests (tests/test_outsiders.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from medassist.access.actor import Actor
from medassist.core import clock
from medassist.poct import catalog, services
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, QcRun
from medassist.poct.rules import Expectation, add_months

# Control ranges as printed on typical bottles (glucose level 1/2, HbA1c C I/C II).
RANGES = {
    "glucose": {"low": (Decimal("36"), Decimal("60")), "high": (Decimal("270"), Decimal("370"))},
    "hba1c": {"low": (Decimal("5.0"), Decimal("6.2")), "high": (Decimal("8.9"), Decimal("11.1"))},
}
# Urinalysis level 2 (positive) acceptable blocks (a Liquichek-style insert); level 1 reads
# negative or normal on every pad.
URINE_POSITIVE = {
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
}
URINE_NEGATIVE = {
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
}


def make_test(clinic: Any, kind: str = "rapid_strep", **changes: Any) -> PocTest:
    """A test on the clinic's menu with the catalog's defaults (written directly: South has no
    manager in the cast, and most tests need a test, not the menu service)."""
    config = services.default_config(kind)
    info = catalog.kind(kind)
    fields: dict[str, Any] = {
        "clinic": clinic,
        "kind": kind,
        "name": config.name,
        "device": config.device,
        "manufacturer": config.manufacturer,
        "loinc": config.loinc,
        "result_type": info.result_type,
        "specimen_type": info.specimen_type,
        "reportable_low": config.reportable_low,
        "reportable_high": config.reportable_high,
        "reference_low": config.reference_low,
        "reference_high": config.reference_high,
        "critical_low": config.critical_low,
        "critical_high": config.critical_high,
        "control_levels": list(config.control_levels or ()),
        "qc_on_new_lot": True,
        "qc_on_new_shipment": True,
        "qc_every_days": config.qc_every_days,
        "internal_control": bool(config.internal_control),
    }
    fields.update(changes)
    return PocTest.objects.create(**fields)


def make_kit_lot(
    test: PocTest,
    by: Any,
    *,
    lot: str = "4B21X",
    shipment: str = "S-1182",
    expires: dt.date | None = None,
    received_on: dt.date | None = None,
) -> KitLot:
    today = clock.today()
    return KitLot.objects.create(
        clinic_id=test.clinic_id,
        test=test,
        lot_number=lot,
        shipment=shipment,
        expires_on=expires or today + dt.timedelta(days=120),
        received_on=received_on or today - dt.timedelta(days=3),
        received_by=by,
    )


def expected_for(test: PocTest, level: str) -> dict[str, Expectation]:
    if test.kind in RANGES:
        low, high = RANGES[test.kind][level]
        return {a.code: Expectation(low=low, high=high) for a in test.analytes}
    if test.kind == "urinalysis":
        table = URINE_POSITIVE if level == "positive" else URINE_NEGATIVE
        return {code: Expectation(answers=answers) for code, answers in table.items()}
    found = test.kind_info.level(level)
    assert found is not None, level  # noqa: S101
    return {code: Expectation(answers=answers) for code, answers in found.expected.items()}


def make_control_lots(
    test: PocTest,
    by: Any,
    *,
    expires: dt.date | None = None,
    prefix: str = "QC",
    received_on: dt.date | None = None,
) -> dict[str, ControlLot]:
    today = clock.today()
    return {
        code: ControlLot.objects.create(
            clinic_id=test.clinic_id,
            test=test,
            level=code,
            lot_number=f"{prefix}{i + 1}{code[:3].upper()}",
            expires_on=expires or today + dt.timedelta(days=200),
            expected={k: v.as_json() for k, v in expected_for(test, code).items()},
            received_on=received_on or today - dt.timedelta(days=10),
            received_by=by,
        )
        for i, (code, _) in enumerate(test.levels)
    }


def make_competency(
    user: Any,
    test: PocTest,
    by: Any,
    *,
    assessed_on: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> Competency:
    assessed_on = assessed_on or clock.today() - dt.timedelta(days=30)
    return Competency.objects.create(
        clinic_id=test.clinic_id,
        user=user,
        test=test,
        assessed_by=by,
        assessed_on=assessed_on,
        valid_until=valid_until or add_months(assessed_on, 6),
        methods=["observation"],
    )


def passing_readings(test: PocTest, control: ControlLot) -> dict[str, str]:
    """What a passing run of this control shows: the first expected answer, or the middle of
    the bottle's range."""
    out = {}
    for code, e in control.expectations.items():
        if e.answers:
            out[code] = e.answers[0]
        else:
            assert e.low is not None and e.high is not None  # noqa: S101
            analyte = next(a for a in test.analytes if a.code == code)
            mid = (e.low + e.high) / 2
            out[code] = str(mid.quantize(Decimal(1) if analyte.decimals == 0 else Decimal("0.1")))
    return out


def failing_readings(test: PocTest, control: ControlLot) -> dict[str, str]:
    out = {}
    for code, e in control.expectations.items():
        analyte = next(a for a in test.analytes if a.code == code)
        if e.answers:
            out[code] = next(a for a in analyte.answers if a not in e.answers and a != "invalid")
        else:
            assert e.high is not None  # noqa: S101
            out[code] = str(e.high + 1)
    return out


def run_controls(
    kit_lot: KitLot,
    user: Any,
    controls: dict[str, ControlLot],
    *,
    at: dt.datetime | None = None,
    fail: tuple[str, ...] = (),
    reason: str = "scheduled",
) -> list[QcRun]:
    """External controls through the service (passed/failed computed), as `user`."""
    test = kit_lot.test
    entries = [
        services.ControlEntry(
            control_lot=c,
            observed=failing_readings(test, c) if code in fail else passing_readings(test, c),
        )
        for code, c in controls.items()
    ]
    return services.record_controls(
        actor=Actor.for_user(user), kit_lot=kit_lot, entries=entries, reason=reason, performed_at=at
    )


def fail_negative(kit_lot: KitLot, user: Any, controls: dict[str, ControlLot]) -> QcRun:
    """A failed run of the negative control (it read positive)."""
    return run_controls(kit_lot, user, {"negative": controls["negative"]}, fail=("negative",))[0]


def ready_test(
    cast: Any, kind: str = "rapid_strep", **changes: Any
) -> tuple[PocTest, KitLot, dict[str, ControlLot]]:  # noqa: E501
    """A North test Alice may run now: a lot in use, control lots, Alice (and Bob) competent,
    today's controls passed (run by Alice)."""
    test = make_test(cast.north, kind, **changes)
    lot = make_kit_lot(test, cast.alice)
    controls = make_control_lots(test, cast.dana)
    make_competency(cast.alice, test, cast.dana)
    make_competency(cast.bob, test, cast.dana)
    run_controls(lot, cast.alice, controls, reason="new_lot")
    return test, lot, controls


# -- North objects for the repo-wide id-route tests -----------------------------------------------


def north_visit(cast: Any) -> str:
    """A North visit of today with the patient roomed; rapid strep is ready for Alice."""
    from medassist.rooming.tests.factories import roomed_visit

    ready_test(cast)
    return str(roomed_visit(cast, family="Northerner").public_id)


def north_test(cast: Any) -> str:
    """North's rapid strep with a lot, controls and today's QC (its QC page, log, controls
    and menu entry would act for an insider)."""
    test, _, _ = ready_test(cast)
    return str(test.public_id)


def north_kit_lot(cast: Any) -> str:
    _, lot, _ = ready_test(cast)
    return str(lot.public_id)


def north_control_lot(cast: Any) -> str:
    _, _, controls = ready_test(cast)
    return str(controls["negative"].public_id)


def north_failed_qc_run(cast: Any) -> str:
    """A failed negative control on North's strep lot with no corrective action yet."""
    _, lot, controls = ready_test(cast)
    return str(fail_negative(lot, cast.alice, controls).public_id)
