"""Time on the flow board: minutes in the current stage, minutes since arrival, and whether a
visit is past the clinic's target. Pure functions over plain values.

There is no national standard for these targets; they are clinic policy. The defaults are a
starting point a clinic manager changes on the targets page: a quarter of an hour in the waiting
room and in rooming, ten minutes waiting for the provider or for checkout, half an hour with the
provider, an hour and a half door to door.
"""

import datetime as dt
from dataclasses import dataclass, fields

from medassist.encounters.stages import ON_SITE, Stage


@dataclass(frozen=True)
class Targets:
    arrived: int = 15
    roomed: int = 15
    ready_for_provider: int = 10
    with_provider: int = 30
    ready_for_checkout: int = 10
    total: int = 90

    def for_stage(self, stage: str) -> int | None:
        """The target for time in `stage`, or None for stages that have none."""
        return getattr(self, str(stage), None) if str(stage) in _STAGE_FIELDS else None

    @classmethod
    def of(cls, row: object | None) -> "Targets":
        """The targets stored for a clinic (a FlowTargets row), or the defaults."""
        if row is None:
            return DEFAULT_TARGETS
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


DEFAULT_TARGETS = Targets()
_STAGE_FIELDS = {f.name for f in fields(Targets)} - {"total"}


def minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole minutes from start to end, as a clock on the wall counts them (never negative:
    a workstation clock a little ahead of the server's must not show -1)."""
    return max(0, int((end - start).total_seconds() // 60))


@dataclass(frozen=True)
class VisitTime:
    in_stage: int | None  # minutes in the current stage, while the patient is here
    total: int | None  # minutes since arrival (door to door once done); None before arrival
    stage_over: bool
    total_over: bool
    stage_target: int | None = None

    @property
    def over(self) -> bool:
        return self.stage_over or self.total_over


def visit_time(
    *,
    stage: str,
    stage_since: dt.datetime,
    arrived_at: dt.datetime | None,
    ended_at: dt.datetime | None,
    now: dt.datetime,
    targets: Targets,
) -> VisitTime:
    """How long a visit has been where it is and in the building, against the targets. Only a
    patient who is here (arrived .. ready for checkout) can be over a target: a scheduled
    visit has not started and a finished one is history."""
    here = Stage(stage) in ON_SITE
    in_stage = minutes_between(stage_since, now) if here else None
    if arrived_at is None:
        total = None
    elif here:
        total = minutes_between(arrived_at, now)
    elif stage == Stage.DONE and ended_at is not None:
        total = minutes_between(arrived_at, ended_at)
    else:
        total = None
    target = targets.for_stage(stage)
    return VisitTime(
        in_stage=in_stage,
        total=total,
        stage_over=here and target is not None and in_stage is not None and in_stage > target,
        total_over=here and total is not None and total > targets.total,
        stage_target=target,
    )
