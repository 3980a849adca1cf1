"""Cycle times from stage changes: each interval, bounces, percentiles, grouping."""

import datetime as dt

import pytest

from medassist.flow.cycle import Summary, summarize, visit_intervals

T0 = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 23)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def changes(*pairs):  # type: ignore[no-untyped-def]
    return [(stage, at(m)) for stage, m in pairs]


STRAIGHT = changes(
    ("arrived", 0),
    ("roomed", 12),
    ("ready_for_provider", 20),
    ("with_provider", 31),
    ("ready_for_checkout", 51),
    ("done", 58),
)


def test_a_straight_visit_has_every_interval():
    assert visit_intervals(STRAIGHT) == {
        "waiting": 12,
        "to_provider": 19,
        "with_provider": 20,
        "checkout": 7,
        "door_to_door": 58,
    }


def test_a_visit_still_in_progress_has_only_what_it_completed():
    assert visit_intervals(STRAIGHT[:3]) == {"waiting": 12}
    assert visit_intervals(changes(("arrived", 0))) == {}
    assert visit_intervals([]) == {}


def test_a_provider_sending_the_patient_back_counts_the_bounce_once():
    # roomed 10, provider 20, back to roomed 30 (repeat blood pressure), provider 40 again
    bounced = changes(
        ("arrived", 0),
        ("roomed", 10),
        ("ready_for_provider", 15),
        ("with_provider", 20),
        ("roomed", 30),
        ("ready_for_provider", 35),
        ("with_provider", 40),
        ("ready_for_checkout", 50),
        ("done", 55),
    )
    got = visit_intervals(bounced)
    assert got["to_provider"] == 10  # the first time the provider came in
    assert got["with_provider"] == 10  # from the last entry to the hand-over
    assert got["door_to_door"] == 55


def test_an_undone_check_in_counts_from_the_first_arrival_door_to_door():
    undone = changes(
        ("arrived", 0),
        ("scheduled", 2),
        ("arrived", 5),
        ("roomed", 15),
        ("ready_for_provider", 20),
        ("with_provider", 25),
        ("ready_for_checkout", 40),
        ("done", 45),
    )
    got = visit_intervals(undone)
    assert got["waiting"] == 10  # from the arrival that stood
    assert got["door_to_door"] == 45  # the patient came through the door at 0


@pytest.mark.parametrize(
    ("values", "n", "median", "p90"),
    [
        ([5], 1, 5, 5),
        ([1, 2, 3, 4], 4, 2.5, 4),
        (list(range(1, 11)), 10, 5.5, 9),  # nearest rank: ceil(0.9 * 10) = 9th
        (list(range(1, 21)), 20, 10.5, 18),
        ([30, 10, 20], 3, 20, 30),  # order does not matter
    ],
)
def test_summary_median_and_nearest_rank_90th_percentile(values, n, median, p90):
    assert Summary.of(values) == Summary(n, median, p90)


def test_summary_of_nothing_is_none():
    assert Summary.of([]) is None


def test_summarize_groups_per_provider_per_day_and_everyone():
    rows = []
    for encounter, provider, day, offset in ((1, 7, DAY, 0), (2, 7, DAY, 0), (3, 8, DAY, 10)):
        for stage, when in STRAIGHT:
            rows.append((encounter, provider, day, stage, when + dt.timedelta(minutes=offset)))
    rows.append((4, 8, DAY, "arrived", at(0)))  # not yet roomed: counts nowhere
    got = summarize(rows)
    assert {(g.provider_id, g.visits) for g in got.providers} == {(7, 2), (8, 1)}
    assert got.everyone.visits == 3
    assert got.everyone.intervals["door_to_door"] == Summary(3, 58, 58)
    assert [(g.day, g.provider_id) for g in got.days] == [(DAY, 7), (DAY, 8)]
    assert [(g.day, g.visits) for g in got.clinic_days] == [(DAY, 3)]
