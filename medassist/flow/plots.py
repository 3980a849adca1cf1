"""Plots of the cycle-time report, as SVG geometry for the template to draw (no JavaScript, no
plotting library, nothing fetched). Pure: report in, shapes out.

- provider_segments: one stacked bar per provider, the median minutes of each segment of the
  visit (waiting room, roomed to provider, with the provider, checkout), so a manager sees at a
  glance where each provider's patients wait.
- daily_trend: the clinic's median door-to-door time per day, with the 90th percentile.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from medassist.flow.cycle import SEGMENTS

WIDTH = 760
LABEL_W = 190
ROW_H = 30
BAR_H = 18
TOP = 28


@dataclass(frozen=True)
class Rect:
    key: str
    label: str
    x: float
    width: float
    minutes: float


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    text_y: float
    rects: list[Rect]
    door_to_door: float | None
    visits: int
    end_x: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class SegmentPlot:
    bars: list[Bar]
    ticks: list[Tick]
    height: float
    width: int = WIDTH
    left: int = LABEL_W
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def axis_y(self) -> float:
        return self.height - 22


def _nice_step(top: float, ticks: int = 6) -> float:
    """A round tick step (1, 2, 5 x 10^n minutes) giving about `ticks` ticks up to `top`."""
    raw = max(top, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _ticks(top: float, x0: float, scale: float) -> list[Tick]:
    step = _nice_step(top)
    count = int(top // step) + 1
    return [Tick(x0 + i * step * scale, f"{i * step:g}") for i in range(count)]


def provider_segments(report: Any) -> SegmentPlot | None:
    """Stacked bars of median segment minutes, one per provider and one for everyone."""
    groups = [(report.names.get(g.provider_id, "?"), g) for g in report.providers]
    if report.everyone.visits and len(groups) > 1:
        groups.append(("Everyone", report.everyone))
    groups = [(n, g) for n, g in groups if any(s.key in g.intervals for s in SEGMENTS)]
    if not groups:
        return None
    totals = [
        sum(g.intervals[s.key].median for s in SEGMENTS if s.key in g.intervals) for _, g in groups
    ]
    longest = max(max(totals), 1.0)  # a day of zero-minute stages still draws an axis
    top = _nice_step(longest) * math.ceil(longest / _nice_step(longest))
    scale = (WIDTH - LABEL_W - 70) / top
    bars = []
    for i, (name, g) in enumerate(groups):
        x = float(LABEL_W)
        rects = []
        for s in SEGMENTS:
            summary = g.intervals.get(s.key)
            if summary is None:
                continue
            w = summary.median * scale
            rects.append(Rect(s.key, s.label, x, w, summary.median))
            x += w
        y = TOP + i * ROW_H
        d2d = g.intervals.get("door_to_door")
        bars.append(Bar(name, y, y + BAR_H - 4, rects, d2d.median if d2d else None, g.visits, x))
    height = TOP + len(bars) * ROW_H + 30
    return SegmentPlot(
        bars=bars,
        ticks=_ticks(top, LABEL_W, scale),
        height=height,
        legend=[(s.key, s.label) for s in SEGMENTS],
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    median: float
    p90: float
    y90: float
    visits: int


@dataclass
class TrendPlot:
    points: list[Point]
    ticks: list[Tick]  # on the y axis: x is the y position
    path: str
    path90: str
    width: int = WIDTH
    height: int = 240
    left: int = 50
    bottom: int = 200


def daily_trend(report: Any) -> TrendPlot | None:
    """Median and 90th percentile door-to-door minutes per day (needs two days or more)."""
    days = [g for g in report.summary.clinic_days if "door_to_door" in g.intervals]
    if len(days) < 2:
        return None
    top_value = max(max(g.intervals["door_to_door"].p90 for g in days), 1.0)
    step = _nice_step(top_value, 4)
    top = step * math.ceil(top_value / step)
    left, bottom, plot_h = 50, 200, 170
    plot_w = WIDTH - left - 20
    scale = plot_h / top
    points = []
    for i, g in enumerate(days):
        s = g.intervals["door_to_door"]
        x = left + (plot_w * i / (len(days) - 1))
        points.append(
            Point(
                x,
                bottom - s.median * scale,
                f"{g.day:%b %d}",
                s.median,
                s.p90,
                bottom - s.p90 * scale,
                g.visits,
            )
        )
    ticks = [Tick(bottom - v * scale, f"{v:g}") for v in _range(0, top, step)]
    path = "M " + " L ".join(f"{p.x:.1f} {p.y:.1f}" for p in points)
    path90 = "M " + " L ".join(f"{p.x:.1f} {p.y90:.1f}" for p in points)
    return TrendPlot(points, ticks, path, path90, left=left, bottom=bottom)


def _range(start: float, stop: float, step: float) -> list[float]:
    values, v = [], start
    while v <= stop + 1e-9:
        values.append(v)
        v += step
    return values
