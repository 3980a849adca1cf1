"""The lockout, rule by rule: each row is a situation and the exact reasons it gives (or none).
Pure: no database. The clinic is in Chicago; "today" is Friday 2026-11-20, 09:30 local."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from medassist.poct.lockout import CompetencyFacts, KitLotFacts, Policy, QcFacts, check, words

CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=CHICAGO)
TODAY = NOW.date()
STREP = Policy(
    test_name="Rapid strep",
    active=True,
    levels=(("positive", "Positive"), ("negative", "Negative")),
    on_new_lot=True,
    on_new_shipment=True,
    every_days=1,
)
LOT = KitLotFacts(
    key=1,
    lot_number="4B21X",
    expires_on=dt.date(2026, 11, 30),
    shipment="S-1182",
    received_on=dt.date(2026, 11, 2),
)
CURRENT = [CompetencyFacts(assessed_on=dt.date(2026, 6, 1), valid_until=dt.date(2026, 12, 1))]


def at(day: dt.date, hh: int = 8, mm: int = 5, zone=CHICAGO) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=zone)


def qc(level, when, passed=True, *, lot=LOT, key=0, corrective=False):  # type: ignore[no-untyped-def]
    return QcFacts(
        kit_lot_key=lot.key,
        lot_number=lot.lot_number,
        level=level,
        passed=passed,
        performed_at=when,
        corrective_action=corrective,
        key=key,
    )


def both(when, *, lot=LOT):  # type: ignore[no-untyped-def]
    return [qc("positive", when, lot=lot), qc("negative", when, lot=lot)]


def reasons(  # type: ignore[no-untyped-def]
    *,
    policy=STREP,
    lot=LOT,
    runs=(),
    competencies=CURRENT,
    now=NOW,
    stock=("positive", "negative"),
):
    return check(
        policy=policy,
        lot=lot,
        qc=list(runs),
        operator="Alice Moreno",
        competencies=competencies,
        now=now,
        zone=CHICAGO,
        control_levels_in_stock=stock,
    )


def codes(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.code for r in found]


def texts(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.text for r in found]


YESTERDAY = TODAY - dt.timedelta(days=1)
LAST_WEEK = TODAY - dt.timedelta(days=7)


def test_ready_when_todays_controls_passed_on_the_lot_and_the_operator_is_competent():
    assert reasons(runs=both(at(TODAY))) == []


@pytest.mark.parametrize(
    ("expires_on", "locked"),
    [
        (TODAY + dt.timedelta(days=1), False),
        (TODAY, False),  # the expiry day itself is still usable
        (TODAY - dt.timedelta(days=1), True),  # the day after is not
    ],
)
def test_kit_expiry_boundary(expires_on, locked):
    lot = KitLotFacts(1, "4B21X", expires_on, "S-1182", dt.date(2026, 11, 2))
    found = reasons(lot=lot, runs=both(at(TODAY)))
    assert codes(found) == (["kit_expired"] if locked else [])


def test_an_expired_kit_says_exactly_what_and_how_to_fix_and_asks_for_no_controls_on_it():
    lot = KitLotFacts(1, "4B21X", dt.date(2026, 11, 19), "S-1182", dt.date(2026, 11, 2))
    assert texts(reasons(lot=lot)) == [
        "Kit lot 4B21X expired on 2026-11-19: take it out of use and open an unexpired lot "
        "(Kits page)"
    ]


def test_no_kit_lot_in_use_and_a_lot_taken_out_of_use():
    assert texts(reasons(lot=None)) == [
        "No kit lot of Rapid strep is in use: receive a kit lot and open it (Kits page)"
    ]
    retired = KitLotFacts(1, "4B21X", LOT.expires_on, "S-1", LOT.received_on, TODAY)
    assert texts(reasons(lot=retired, runs=both(at(TODAY)))) == [
        "Kit lot 4B21X was taken out of use on 2026-11-20: open a lot that is in use (Kits page)"
    ]


def test_todays_controls_missing_names_the_test_the_lot_and_both_levels():
    assert texts(reasons(runs=both(at(LAST_WEEK)))) == [
        "Today's external controls for Rapid strep have not been run on lot 4B21X: run the "
        "positive and negative controls (QC page)"
    ]


def test_only_the_missing_level_is_asked_for():
    runs = [*both(at(YESTERDAY)), qc("positive", at(TODAY))]
    assert texts(reasons(runs=runs)) == [
        "Today's external controls for Rapid strep have not been run on lot 4B21X: run the "
        "negative control (QC page)"
    ]


@pytest.mark.parametrize(
    ("when", "ready"),
    [
        (at(TODAY, 0, 1), True),  # just after local midnight today
        (at(YESTERDAY, 23, 59), False),  # late yesterday evening, local
        # 03:00 UTC on the 20th is 21:00 on the 19th in Chicago: yesterday, though the UTC
        # date is today's
        (dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC), False),
        # 14:00 UTC on the 20th is 08:00 today in Chicago
        (dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC), True),
    ],
)
def test_daily_controls_count_by_the_clinics_calendar_day(when, ready):
    found = reasons(runs=both(when))
    assert codes(found) == ([] if ready else ["qc_due"])


def test_the_clinics_day_decides_now_as_well():
    # 05:00 UTC on the 21st is still the 20th (23:00) in Chicago: today's controls count.
    late = dt.datetime(2026, 11, 21, 5, 0, tzinfo=dt.UTC)
    assert reasons(runs=both(at(TODAY)), now=late) == []


@pytest.mark.parametrize(
    ("days", "last_run", "due"),
    [
        (7, TODAY - dt.timedelta(days=6), False),  # within the week
        (7, TODAY - dt.timedelta(days=7), True),  # a week ago today: due again
        (30, TODAY - dt.timedelta(days=29), False),
        (30, TODAY - dt.timedelta(days=30), True),
    ],
)
def test_controls_every_n_days(days, last_run, due):
    policy = Policy("Glucose", True, (("low", "Level 1 (low)"),), False, False, days)
    found = reasons(policy=policy, runs=[qc("low", at(last_run))], stock=("low",))
    assert codes(found) == (["qc_due"] if due else [])


def test_a_weekly_schedule_says_when_the_controls_last_passed():
    policy = Policy("Glucose", True, (("low", "Low"), ("high", "High")), False, False, 7)
    runs = [qc("low", at(dt.date(2026, 11, 10))), qc("high", at(dt.date(2026, 11, 10)))]
    assert texts(reasons(policy=policy, runs=runs, stock=("low", "high"))) == [
        "The external controls for Glucose are due every 7 days on lot 4B21X (last passed on "
        "2026-11-10): run the low and high controls (QC page)"
    ]


def test_a_new_lot_needs_its_controls_before_the_first_patient():
    policy = Policy("Rapid strep", True, STREP.levels, True, False, None)
    assert texts(reasons(policy=policy)) == [
        "Kit lot 4B21X is a new lot and its external controls have not passed: run the positive "
        "and negative controls (QC page)"
    ]
    assert reasons(policy=policy, runs=both(at(LAST_WEEK))) == []  # no schedule: once is enough


def test_a_new_shipment_of_a_lot_already_checked_needs_its_own_controls():
    policy = Policy("Rapid strep", True, STREP.levels, True, True, None)
    first = KitLotFacts(1, "4B21X", LOT.expires_on, "S-1100", dt.date(2026, 10, 1))
    second = KitLotFacts(2, "4B21X", LOT.expires_on, "S-1182", dt.date(2026, 11, 2))
    runs = both(at(dt.date(2026, 10, 1)), lot=first)
    assert texts(reasons(policy=policy, lot=second, runs=runs)) == [
        "A new shipment of lot 4B21X (shipment S-1182, received 2026-11-02) has not had its "
        "controls run: run the positive and negative controls (QC page)"
    ]
    # Where the policy does not ask for controls on each shipment, the lot's first ones cover it.
    lot_only = Policy("Rapid strep", True, STREP.levels, True, False, None)
    assert reasons(policy=lot_only, lot=second, runs=runs) == []


def test_a_brand_new_lot_is_asked_for_once_not_for_each_rule():
    # New lot, new shipment and today's controls all want the same two runs: one reason.
    assert codes(reasons()) == ["new_lot"]


def test_runs_on_another_lot_number_do_not_count():
    other = KitLotFacts(9, "7C03Q", LOT.expires_on, "S-9", LOT.received_on)
    assert codes(reasons(runs=both(at(TODAY), lot=other))) == ["new_lot"]


def test_a_failed_control_locks_the_lot_until_the_corrective_action_and_a_passing_run():
    failed = qc("negative", at(TODAY, 8, 12), passed=False, key=3)
    runs = [*both(at(YESTERDAY)), qc("positive", at(TODAY, 8, 10), key=2), failed]
    assert texts(reasons(runs=runs)) == [
        "The last negative control on lot 4B21X failed at 08:12: record the corrective action "
        "and a passing control run (QC page)",
        "Today's external controls for Rapid strep have not been run on lot 4B21X: run the "
        "negative control (QC page)",
    ]
    corrected = qc("negative", at(TODAY, 8, 12), passed=False, key=3, corrective=True)
    assert texts(reasons(runs=[*runs[:3], corrected]))[0] == (
        "The last negative control on lot 4B21X failed at 08:12: run the control again; it must "
        "pass before patients are tested (QC page)"
    )
    passing = qc("negative", at(TODAY, 8, 40), key=4)
    assert reasons(runs=[*runs[:3], corrected, passing]) == []


def test_failed_then_passed_without_a_corrective_action_still_locks():
    runs = [
        qc("positive", at(TODAY, 8, 10), key=1),
        qc("negative", at(TODAY, 8, 12), passed=False, key=2),
        qc("negative", at(TODAY, 8, 30), key=3),
    ]
    assert texts(reasons(runs=runs)) == [
        "The negative control on lot 4B21X failed at 08:12 and no corrective action was "
        "recorded: record the corrective action taken (QC page)"
    ]


def test_an_earlier_days_failure_is_dated():
    runs = [
        *both(at(TODAY)),
        qc("positive", at(YESTERDAY, 16, 45), passed=False, key=7),
    ]
    runs.sort(key=lambda r: r.performed_at)
    assert texts(reasons(runs=runs)) == [
        "The positive control on lot 4B21X failed on 2026-11-19 at 16:45 and no corrective "
        "action was recorded: record the corrective action taken (QC page)"
    ]


def test_a_failure_on_another_shipment_of_the_lot_does_not_lock_this_one():
    other = KitLotFacts(2, "4B21X", LOT.expires_on, "S-1", LOT.received_on)
    runs = [*both(at(TODAY)), qc("negative", at(TODAY, 9, 0), passed=False, lot=other)]
    assert reasons(runs=runs) == []


@pytest.mark.parametrize(
    ("valid_until", "locked"),
    [
        (TODAY, False),  # valid through its last day
        (TODAY - dt.timedelta(days=1), True),
    ],
)
def test_competency_valid_until_boundary(valid_until, locked):
    skills = [CompetencyFacts(dt.date(2026, 5, 20), valid_until)]
    found = reasons(runs=both(at(TODAY)), competencies=skills)
    assert codes(found) == (["competency_expired"] if locked else [])


def test_competency_messages():
    expired = [CompetencyFacts(dt.date(2026, 4, 1), dt.date(2026, 10, 1))]
    assert texts(reasons(runs=both(at(TODAY)), competencies=expired)) == [
        "Alice Moreno has no current competency for Rapid strep (expired 2026-10-01): a manager "
        "records a competency assessment (Competencies page)"
    ]
    assert texts(reasons(runs=both(at(TODAY)), competencies=[])) == [
        "Alice Moreno has no competency assessment for Rapid strep: a manager records a "
        "competency assessment (Competencies page)"
    ]
    # an older expired one and a current one: current wins
    both_skills = [*expired, *CURRENT]
    assert reasons(runs=both(at(TODAY)), competencies=both_skills) == []


def test_competency_is_checked_even_when_the_kit_is_expired():
    lot = KitLotFacts(1, "4B21X", dt.date(2026, 11, 1), "S-1182", dt.date(2026, 10, 2))
    assert codes(reasons(lot=lot, competencies=[])) == ["kit_expired", "no_competency"]


def test_a_test_off_the_menu_is_locked():
    off = Policy("Rapid strep", False, STREP.levels, True, True, 1)
    assert codes(reasons(policy=off, runs=both(at(TODAY)))) == ["test_inactive"]


def test_missing_controls_with_no_control_lot_in_stock_say_so():
    found = reasons(runs=both(at(YESTERDAY)), stock=("positive",))
    assert texts(found)[-1] == (
        "No unexpired negative control lot for Rapid strep is in stock: receive a control lot "
        "(Kits page)"
    )
    assert codes(found) == ["qc_due", "no_control_lot"]
    # When today's controls are done, the stock of controls is no reason to lock.
    assert reasons(runs=both(at(TODAY)), stock=()) == []


def test_no_external_controls_required_by_policy():
    none = Policy("Urinalysis", True, (("negative", "Negative"),), False, False, None)
    assert reasons(policy=none) == []


@pytest.mark.parametrize(
    ("items", "text"),
    [([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c")],
)
def test_words(items, text):
    assert words(items) == text
