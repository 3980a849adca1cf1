"""Whether a patient test may be run now, and if not, exactly why and how to fix it. Pure: the
caller gathers the facts (services.lockout_for) and this decides.

A patient result cannot be recorded when (each rule names its source):
- the test is not on the clinic's menu;
- there is no kit lot in use, the lot was taken out of use, or it is expired. The expiry day
  itself is usable, the day after is not (a kit's "use by" date, as printed on the box);
  CLIA 42 CFR 493.15(e): waived tests follow the manufacturer's instructions, which forbid
  expired kits;
- the operator has no current competency for the test (42 CFR 493.1235 practice; CDC "Ready?
  Set? Test!" for waived testing; rules.competency_valid_until). valid_until is the last
  valid day;
- the last run of any control level on this kit lot failed, or a failed run has no corrective
  action recorded (42 CFR 493.1282 for nonwaived testing; CDC "Ready? Set? Test!": do not
  report patient results until the problem is corrected and the controls pass; document what
  was done);
- the external controls the test's policy requires have not passed on this lot: on a new lot
  (no passing run on any shipment of the lot number), on a new shipment (none on this
  shipment of the lot), or within the scheduled interval (every N days, counted in the
  clinic's calendar days: "daily" means today in the clinic's time zone, not the last 24 h).
  A missing control level with no unexpired control lot in stock adds a reason saying so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAGES = {
    "kits": "Kits page",
    "qc": "QC page",
    "competencies": "Competencies page",
    "menu": "Test menu",
}


@dataclass(frozen=True)
class Policy:
    test_name: str
    active: bool
    levels: tuple[tuple[str, str], ...]  # the required external control levels (code, label)
    on_new_lot: bool
    on_new_shipment: bool
    every_days: int | None  # scheduled external controls every N clinic days; None: not


@dataclass(frozen=True)
class KitLotFacts:
    key: int
    lot_number: str
    expires_on: dt.date
    shipment: str
    received_on: dt.date
    retired_on: dt.date | None = None


@dataclass(frozen=True)
class QcFacts:
    kit_lot_key: int
    lot_number: str
    level: str
    passed: bool
    performed_at: dt.datetime  # aware
    corrective_action: bool = False
    key: int = 0


@dataclass(frozen=True)
class CompetencyFacts:
    assessed_on: dt.date
    valid_until: dt.date


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # what is wrong, with the lot, the time and the person
    fix: str  # what to do
    page: str  # where it is done: a key of PAGES

    @property
    def page_label(self) -> str:
        return PAGES[self.page]

    @property
    def text(self) -> str:
        return f"{self.message}: {self.fix} ({self.page_label})"

    def __str__(self) -> str:
        return self.text


def words(items: Sequence[str]) -> str:
    """ "positive", "positive and negative", "low, normal and high"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _controls(labels: Sequence[str]) -> str:
    plural = "s" if len(labels) > 1 else ""
    return f"the {words([label.lower() for label in labels])} control{plural}"


def _local(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(zone)


def _when(moment: dt.datetime, today: dt.date, zone: dt.tzinfo) -> str:
    local = _local(moment, zone)
    if local.date() == today:
        return f"at {local:%H:%M}"
    return f"on {local:%Y-%m-%d} at {local:%H:%M}"


def check(
    *,
    policy: Policy,
    lot: KitLotFacts | None,
    qc: Iterable[QcFacts],
    operator: str,
    competencies: Iterable[CompetencyFacts],
    now: dt.datetime,
    zone: dt.tzinfo,
    control_levels_in_stock: Iterable[str] | None = None,
) -> list[Reason]:
    """Every reason a patient test on `lot` by `operator` cannot be recorded at `now`; empty
    when it can. `qc` holds the runs of every shipment of the lot's number (the others are
    ignored); `competencies` the operator's assessments for this test."""
    today = _local(now, zone).date()
    name = policy.test_name
    reasons: list[Reason] = []
    if not policy.active:
        reasons.append(
            Reason(
                "test_inactive",
                f"{name} is not on this clinic's test menu",
                "a manager puts it back on the menu",
                "menu",
            )
        )
    lot_usable = False
    if lot is None:
        reasons.append(
            Reason(
                "no_kit_lot",
                f"No kit lot of {name} is in use",
                "receive a kit lot and open it",
                "kits",
            )
        )
    elif lot.retired_on is not None:
        reasons.append(
            Reason(
                "kit_retired",
                f"Kit lot {lot.lot_number} was taken out of use on {lot.retired_on:%Y-%m-%d}",
                "open a lot that is in use",
                "kits",
            )
        )
    elif today > lot.expires_on:
        reasons.append(
            Reason(
                "kit_expired",
                f"Kit lot {lot.lot_number} expired on {lot.expires_on:%Y-%m-%d}",
                "take it out of use and open an unexpired lot",
                "kits",
            )
        )
    else:
        lot_usable = True

    reasons.extend(competency_reasons(name, operator, list(competencies), today))
    if lot is None or not lot_usable:
        return reasons

    runs = sorted(
        (r for r in qc if r.lot_number == lot.lot_number), key=lambda r: (r.performed_at, r.key)
    )
    here = [r for r in runs if r.kit_lot_key == lot.key]
    labels = dict(policy.levels)
    reasons.extend(_failures(lot, here, labels, today, zone))

    missing: list[Reason] = []
    covered: set[str] = set()

    def need(code: str, levels: list[str], message: str) -> None:
        # A later rule whose levels are all asked for already adds nothing to do.
        if levels and not set(levels) <= covered:
            covered.update(levels)
            fix = f"run {_controls([labels.get(lv, lv) for lv in levels])}"
            missing.append(Reason(code, message, fix, "qc"))

    level_codes = [code for code, _ in policy.levels]
    if policy.on_new_lot:
        passed = {r.level for r in runs if r.passed}
        levels = [lv for lv in level_codes if lv not in passed]
        need(
            "new_lot",
            levels,
            f"Kit lot {lot.lot_number} is a new lot and its external controls have not passed",
        )
    if policy.on_new_shipment:
        passed = {r.level for r in here if r.passed}
        levels = [lv for lv in level_codes if lv not in passed]
        shipment = f"shipment {lot.shipment}, " if lot.shipment else ""
        need(
            "new_shipment",
            levels,
            f"A new shipment of lot {lot.lot_number} ({shipment}received "
            f"{lot.received_on:%Y-%m-%d}) has not had its controls run",
        )
    if policy.every_days:
        days = policy.every_days
        recent = {
            r.level
            for r in here
            if r.passed and 0 <= (today - _local(r.performed_at, zone).date()).days < days
        }
        levels = [lv for lv in level_codes if lv not in recent]
        if days == 1:
            message = (
                f"Today's external controls for {name} have not been run on lot {lot.lot_number}"
            )
        else:
            last = [r for r in here if r.passed and r.level in levels]
            since = (
                f"last passed on {_local(last[-1].performed_at, zone):%Y-%m-%d}"
                if last
                else "none has passed on it"
            )
            message = (
                f"The external controls for {name} are due every {days} days on lot "
                f"{lot.lot_number} ({since})"
            )
        need("qc_due", levels, message)
    reasons.extend(missing)

    if control_levels_in_stock is not None:
        stocked = set(control_levels_in_stock)
        for level in level_codes:
            if level in covered and level not in stocked:
                reasons.append(
                    Reason(
                        "no_control_lot",
                        f"No unexpired {labels.get(level, level).lower()} control lot for "
                        f"{name} is in stock",
                        "receive a control lot",
                        "kits",
                    )
                )
    return reasons


def competency_reasons(
    name: str, operator: str, found: list[CompetencyFacts], today: dt.date
) -> list[Reason]:
    if any(c.assessed_on <= today <= c.valid_until for c in found):
        return []
    fix = "a manager records a competency assessment"
    if not found:
        return [
            Reason(
                "no_competency",
                f"{operator} has no competency assessment for {name}",
                fix,
                "competencies",
            )
        ]
    latest = max(found, key=lambda c: c.valid_until)
    if latest.valid_until < today:
        message = (
            f"{operator} has no current competency for {name} "
            f"(expired {latest.valid_until:%Y-%m-%d})"
        )
    else:  # assessed with a future date: not yet valid
        message = f"{operator}'s competency for {name} starts on {latest.assessed_on:%Y-%m-%d}"
    return [Reason("competency_expired", message, fix, "competencies")]


def _failures(
    lot: KitLotFacts,
    runs: list[QcFacts],
    labels: dict[str, str],
    today: dt.date,
    zone: dt.tzinfo,
) -> list[Reason]:
    reasons: list[Reason] = []
    latest: dict[str, QcFacts] = {}
    for run in runs:
        latest[run.level] = run
    blocked: set[int] = set()  # id() of the runs already named as the level's last failure
    for level, run in latest.items():
        if run.passed:
            continue
        blocked.add(id(run))
        label = labels.get(level, level).lower()
        fix = (
            "run the control again; it must pass before patients are tested"
            if run.corrective_action
            else "record the corrective action and a passing control run"
        )
        reasons.append(
            Reason(
                "qc_failed",
                f"The last {label} control on lot {lot.lot_number} failed "
                f"{_when(run.performed_at, today, zone)}",
                fix,
                "qc",
            )
        )
    for run in runs:
        if run.passed or run.corrective_action or id(run) in blocked:
            continue
        label = labels.get(run.level, run.level).lower()
        reasons.append(
            Reason(
                "corrective_action_missing",
                f"The {label} control on lot {lot.lot_number} failed "
                f"{_when(run.performed_at, today, zone)} and no corrective action was recorded",
                "record the corrective action taken",
                "qc",
            )
        )
    return reasons
