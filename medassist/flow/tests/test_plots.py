"""The cycle-time plots: bar lengths in proportion to the minutes, round axis ticks."""

import datetime as dt
from types import SimpleNamespace

import pytest

from medassist.flow import plots
from medassist.flow.cycle import Group, Summary
from medassist.flow.forms import ReportRangeForm


def group(provider_id, day=None, **medians):  # type: ignore[no-untyped-def]
    intervals = {k: Summary(4, v, v * 1.5) for k, v in medians.items()}
    return Group(day, provider_id, 4, intervals)


def report(providers, clinic_days=()):  # type: ignore[no-untyped-def]
    everyone = group(None, waiting=10, to_provider=10, with_provider=10, checkout=10)
    return SimpleNamespace(
        providers=providers,
        everyone=everyone,
        names={1: "Okafor", 2: "Lee"},
        summary=SimpleNamespace(clinic_days=list(clinic_days)),
    )


@pytest.mark.parametrize(("top", "step"), [(1, 0.2), (7, 2), (48, 10), (52, 10), (130, 50)])
def test_ticks_are_round_numbers(top, step):
    assert plots._nice_step(top) == pytest.approx(step)


def test_each_segment_is_as_long_as_its_minutes():
    a = group(1, waiting=12, to_provider=6, with_provider=18, checkout=4, door_to_door=40)
    b = group(2, waiting=24, to_provider=12, with_provider=36, checkout=8, door_to_door=80)
    plot = plots.provider_segments(report([a, b]))
    assert plot is not None
    assert [bar.label for bar in plot.bars] == ["Okafor", "Lee", "Everyone"]
    first, second = plot.bars[0], plot.bars[1]
    for r1, r2 in zip(first.rects, second.rects, strict=True):
        assert r2.width == pytest.approx(2 * r1.width)  # twice the minutes, twice the length
    assert first.rects[0].x == plot.left
    assert first.rects[1].x == pytest.approx(first.rects[0].x + first.rects[0].width)
    assert second.end_x <= plot.width
    assert first.door_to_door == 40


def test_one_provider_needs_no_everyone_bar_and_nothing_timed_draws_nothing():
    only = group(1, waiting=5, door_to_door=5)
    assert [b.label for b in plots.provider_segments(report([only])).bars] == ["Okafor"]  # type: ignore[union-attr]
    assert plots.provider_segments(report([group(1)])) is None


def test_the_trend_needs_two_days_and_puts_longer_days_higher():
    day1, day2 = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
    short, long = group(None, day1, door_to_door=40), group(None, day2, door_to_door=80)
    assert plots.daily_trend(report([], [short])) is None
    trend = plots.daily_trend(report([], [short, long]))
    assert trend is not None
    assert trend.points[1].y < trend.points[0].y  # SVG y grows downwards
    assert trend.points[0].x < trend.points[1].x
    assert trend.path.startswith("M ")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, (dt.date(2026, 11, 10), dt.date(2026, 11, 23))),  # two weeks up to today
        (
            {"start": "2026-11-20", "end": "2026-11-01"},
            (dt.date(2026, 11, 1), dt.date(2026, 11, 20)),
        ),
        (
            {"start": "2020-01-01", "end": "2026-11-23"},
            (dt.date(2026, 8, 24), dt.date(2026, 11, 23)),
        ),
        ({"start": "2026-02-30"}, (dt.date(2026, 11, 10), dt.date(2026, 11, 23))),  # bad: default
    ],
)
def test_the_report_range(data, expected):
    assert ReportRangeForm(data).range(dt.date(2026, 11, 23)) == expected
