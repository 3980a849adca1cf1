"""Time in stage and door to door against the clinic's targets, row by row."""

import datetime as dt

import pytest

from medassist.flow.timing import DEFAULT_TARGETS, Targets, minutes_between, visit_time

T0 = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, 0),
        (0, 0.99, 0),  # a wall clock shows whole minutes passed
        (0, 1, 1),
        (0, 59.5, 59),
        (5, 0, 0),  # a clock a little ahead never shows a negative time
    ],
)
def test_minutes_between(start, end, expected):
    assert minutes_between(at(start), at(end)) == expected


# stage, stage since, arrived, ended, now -> in stage, total, stage over, total over
ROWS = [
    ("scheduled", 0, None, None, 30, None, None, False, False),  # not here: no clock runs
    ("arrived", 0, 0, None, 15, 15, 15, False, False),  # at the target is not over it
    ("arrived", 0, 0, None, 16, 16, 16, True, False),
    ("roomed", 20, 0, None, 36, 16, 36, True, False),
    ("ready_for_provider", 30, 0, None, 40, 10, 40, False, False),
    ("ready_for_provider", 30, 0, None, 41, 11, 41, True, False),
    ("with_provider", 40, 0, None, 91, 51, 91, True, True),
    ("with_provider", 80, 0, None, 91, 11, 91, False, True),  # long visit, fine stage
    ("ready_for_checkout", 85, 0, None, 90, 5, 90, False, False),
    ("done", 100, 0, 100, 300, None, 100, False, False),  # history: never over
    ("no_show", 10, None, None, 300, None, None, False, False),
    ("cancelled", 10, None, None, 300, None, None, False, False),
]


@pytest.mark.parametrize(
    ("stage", "since", "arrived", "ended", "now", "in_stage", "total", "s_over", "t_over"), ROWS
)
def test_visit_time_against_the_default_targets(
    stage, since, arrived, ended, now, in_stage, total, s_over, t_over
):
    got = visit_time(
        stage=stage,
        stage_since=at(since),
        arrived_at=None if arrived is None else at(arrived),
        ended_at=None if ended is None else at(ended),
        now=at(now),
        targets=DEFAULT_TARGETS,
    )
    assert (got.in_stage, got.total, got.stage_over, got.total_over) == (
        in_stage,
        total,
        s_over,
        t_over,
    )
    assert got.over == (s_over or t_over)


def test_a_clinic_sets_its_own_targets():
    strict = Targets(arrived=5)
    got = visit_time(
        stage="arrived",
        stage_since=at(0),
        arrived_at=at(0),
        ended_at=None,
        now=at(6),
        targets=strict,
    )
    assert got.stage_over and got.stage_target == 5
    assert Targets.of(None) is DEFAULT_TARGETS
    assert DEFAULT_TARGETS.for_stage("done") is None
    assert DEFAULT_TARGETS.for_stage("total") is None  # total is not a stage
