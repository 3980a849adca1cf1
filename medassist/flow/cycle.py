"""Cycle times of the clinic day, from the timestamped stage changes of each visit. Pure.

The intervals are the segments of the office visit cycle time (IHI, Idealized Design of
Clinical Office Practices: the time from the patient's arrival to departure): waiting room
(arrival to roomed), rooming and wait for the provider (roomed to provider), time with the
provider (provider to ready for checkout), checkout, and door to door (arrival to done).

A visit may move back (a provider sends the patient back to the MA for a repeat blood pressure,
a check-in is undone): an interval runs from the last entry into its first stage before the
first entry into its last stage, so a bounce is counted once, in the segment where it
happened. Door to door runs from the first arrival, when the patient came through the door.
"""

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medassist.encounters.stages import Stage

S = Stage


@dataclass(frozen=True)
class Interval:
    key: str
    label: str
    start: Stage
    end: Stage
    from_first_start: bool = False


INTERVALS: tuple[Interval, ...] = (
    Interval("waiting", "Arrival to roomed", S.ARRIVED, S.ROOMED),
    Interval("to_provider", "Roomed to provider", S.ROOMED, S.WITH_PROVIDER),
    Interval("with_provider", "With the provider", S.WITH_PROVIDER, S.READY_FOR_CHECKOUT),
    Interval("checkout", "Checkout", S.READY_FOR_CHECKOUT, S.DONE),
    Interval("door_to_door", "Door to door", S.ARRIVED, S.DONE, from_first_start=True),
)
# The segments that add up to door to door, in order (for the stacked plot).
SEGMENTS = tuple(i for i in INTERVALS if i.key != "door_to_door")


def visit_intervals(changes: Sequence[tuple[str, dt.datetime]]) -> dict[str, float]:
    """Minutes of each interval the visit completed, from its (to_stage, at) changes in time
    order. An interval the visit has not (yet) completed is absent."""
    found: dict[str, float] = {}
    for interval in INTERVALS:
        end_at = next((at for stage, at in changes if stage == interval.end), None)
        if end_at is None:
            continue
        starts = [at for stage, at in changes if stage == interval.start and at <= end_at]
        if not starts:
            continue
        start_at = starts[0] if interval.from_first_start else starts[-1]
        found[interval.key] = (end_at - start_at).total_seconds() / 60
    return found


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary | None":
        if not values:
            return None
        ordered = sorted(values)
        # 90th percentile by the nearest-rank method: a value some visit really had.
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return cls(len(ordered), statistics.median(ordered), p90)


@dataclass(frozen=True)
class Group:
    """The cycle times of one provider on one day (or of everyone: provider_id None)."""

    day: dt.date | None
    provider_id: int | None
    visits: int
    intervals: dict[str, Summary]


@dataclass(frozen=True)
class CycleSummary:
    days: list[Group]  # per provider and day
    providers: list[Group]  # per provider, the whole range
    clinic_days: list[Group]  # everyone, per day
    everyone: Group


def summarize(rows: Iterable[tuple[int, int, dt.date, str, dt.datetime]]) -> CycleSummary:
    """From (encounter id, provider id, day, to_stage, at) rows: the cycle times per provider
    and day, per provider, per day for everyone, and for everyone over the range."""
    changes: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    owner: dict[int, tuple[int, dt.date]] = {}
    for encounter_id, provider_id, day, stage, at in rows:
        changes[encounter_id].append((stage, at))
        owner[encounter_id] = (provider_id, day)
    per_visit = {e: visit_intervals(sorted(c, key=lambda x: x[1])) for e, c in changes.items()}
    by_day: dict[tuple[int, dt.date], list[dict[str, float]]] = defaultdict(list)
    by_provider: dict[int, list[dict[str, float]]] = defaultdict(list)
    by_clinic_day: dict[dt.date, list[dict[str, float]]] = defaultdict(list)
    for e, measured in per_visit.items():
        if not measured:
            continue
        provider_id, day = owner[e]
        by_day[(provider_id, day)].append(measured)
        by_provider[provider_id].append(measured)
        by_clinic_day[day].append(measured)

    def group(day: dt.date | None, pid: int | None, visits: list[dict[str, float]]) -> Group:
        intervals = {}
        for interval in INTERVALS:
            summary = Summary.of([v[interval.key] for v in visits if interval.key in v])
            if summary is not None:
                intervals[interval.key] = summary
        return Group(day, pid, len(visits), intervals)

    return CycleSummary(
        days=[group(d, p, v) for (p, d), v in sorted(by_day.items(), key=lambda kv: kv[0][1])],
        providers=[group(None, p, v) for p, v in by_provider.items()],
        clinic_days=[group(d, None, v) for d, v in sorted(by_clinic_day.items())],
        everyone=group(None, None, [v for vs in by_provider.values() for v in vs]),
    )
