"""A lab result's trend as server-side SVG (no JavaScript, no plotting library, nothing
fetched), in the house style of medassist/vitals/plots.py: value on y with round ticks, time on
x with calendar ticks, the latest result's reference range shaded, each result a dot with a
tooltip; results the lab flagged carry a ring (a square when critical) and the lab's flag as
text, never colour alone. The page lists every result in a table beside it.

Pure: a selectors.results.LabTrend in, geometry and markup out. Every piece of text that
reaches the markup goes through django.utils.html.escape.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from medassist.labs.models import ABNORMAL_FLAGS, CRITICAL_FLAGS, Flag
from medassist.vitals.plots import Box, Scale, Tick, nice_range, time_ticks

WIDTH = 760
HEIGHT = 260
_HIGH_FLAGS = {Flag.HIGH, Flag.CRITICAL_HIGH, Flag.ABOVE_RANGE}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    when: dt.datetime
    flag: str
    title: str

    @property
    def flagged(self) -> bool:
        return self.flag in ABNORMAL_FLAGS

    @property
    def critical(self) -> bool:
        return self.flag in CRITICAL_FLAGS


@dataclass(frozen=True)
class Band:
    y_top: float
    y_bottom: float
    low: float | None
    high: float | None
    title: str


@dataclass
class Geometry:
    title: str
    desc: str
    unit: str
    box: Box
    points: list[Point]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    band: Band | None
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def path(self) -> str:
        return "M " + " L ".join(f"{_f(p.x)} {_f(p.y)}" for p in self.points)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _num(value: float, step: float | None = None) -> str:
    if step is not None and step < 1:
        places = min(4, max(1, -math.floor(math.log10(step) + 1e-9)))
        return f"{value:.{places}f}".rstrip("0").rstrip(".")
    return f"{value:g}"


def _steps(lo: float, hi: float, step: float) -> list[float]:
    out, i = [], 0
    while lo + i * step <= hi + step * 1e-6:
        out.append(round(lo + i * step, 10))
        i += 1
    return out


def _when(moment: dt.datetime) -> str:
    t = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{t:%b} {t.day}, {t:%Y %H:%M}"


def geometry(trend: Any) -> Geometry:
    """Where everything goes (pure; see render for the markup)."""
    rows = list(trend.points)
    box = Box(left=56, top=24, right=WIDTH - 20, bottom=222)
    values = [float(r.value) for r in rows]
    limits = [v for v in (trend.band or (None, None)) if v is not None]
    pool = values + limits
    lo, hi = (min(pool), max(pool)) if pool else (0.0, 1.0)
    pad = (hi - lo) * 0.08
    y_lo, y_hi, y_step = nice_range(lo - pad, hi + pad, 5)
    ys = Scale(y_lo, y_hi, box.bottom, box.top)
    y_ticks = [Tick(ys(v), _num(v, y_step)) for v in _steps(y_lo, y_hi, y_step)]

    times = [r.when for r in rows]
    t0, t1 = (min(times), max(times)) if times else (timezone.now(), timezone.now())
    span = max((t1 - t0).total_seconds(), 86400.0)
    middle = t0 + (t1 - t0) / 2
    t0 = middle - dt.timedelta(seconds=span * 0.55)
    t1 = middle + dt.timedelta(seconds=span * 0.55)
    xs = Scale(t0.timestamp(), t1.timestamp(), box.left, box.right)
    x_ticks = time_ticks(t0, t1, xs)

    points = []
    for r in rows:
        title = f"{_when(r.when)}: {r.text}"
        if r.flag:
            title += f" – {r.flag_text}"
        points.append(
            Point(xs(r.when.timestamp()), ys(float(r.value)), float(r.value), r.when, r.flag, title)
        )

    band = None
    if trend.band is not None:
        low, high = trend.band
        top = ys(high) if high is not None else box.top
        bottom = ys(low) if low is not None else box.bottom
        band = Band(
            y_top=max(min(top, box.bottom), box.top),
            y_bottom=max(min(bottom, box.bottom), box.top),
            low=low,
            high=high,
            title=f"Reference range of the latest result: {trend.band_text}",
        )

    unit = trend.unit
    n = len(points)
    desc = f"{n} result{'s' if n != 1 else ''}"
    if rows:
        first, last = rows[0], rows[-1]
        desc += f" from {_when(first.when)} to {_when(last.when)}; latest {last.text}"
        flagged = sum(p.flagged for p in points)
        if flagged:
            desc += f"; {flagged} flagged by the lab"
    if band is not None:
        desc += f"; shaded: the latest result's reference range {trend.band_text}"
    return Geometry(
        title=f"{trend.name} ({unit})" if unit else trend.name,
        desc=desc + ".",
        unit=unit,
        box=box,
        points=points,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        band=band,
    )


def _marker(p: Point) -> list[str]:
    css = (
        "reading series-value"
        + (" abnormal" if p.flagged else "")
        + (" critical" if p.critical else "")
    )
    out = [f'<g class="{css}"><title>{escape(p.title)}</title>']
    if p.flagged:
        if p.critical:
            out.append(
                f'<rect x="{_f(p.x - 8)}" y="{_f(p.y - 8)}" width="16" height="16" '
                'class="flag-ring"/>'
            )
        else:
            out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="7.5" class="flag-ring"/>')
        above = p.flag in _HIGH_FLAGS
        out.append(
            f'<text x="{_f(p.x)}" y="{_f(p.y + (-12 if above else 21))}" text-anchor="middle" '
            f'class="flag-text">{escape(p.flag)}</text>'
        )
    out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="4" class="dot"/></g>')
    return out


def render(g: Geometry, slug: str = "lab-trend") -> SafeString:
    title_id, desc_id = f"{slug}-svg-title", f"{slug}-svg-desc"
    out = [
        f'<svg viewBox="0 0 {g.width} {g.height}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" class="vitals-chart lab-chart">',
        f'<title id="{escape(title_id)}">{escape(g.title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(g.desc)}</desc>',
    ]
    if g.band is not None:
        out.append(
            f'<rect x="{_f(g.box.left)}" y="{_f(g.band.y_top)}" '
            f'width="{_f(g.box.right - g.box.left)}" '
            f'height="{_f(max(g.band.y_bottom - g.band.y_top, 1.0))}" class="ref-band">'
            f"<title>{escape(g.band.title)}</title></rect>"
        )
    b = g.box
    for t in g.y_ticks:
        out.append(
            f'<line x1="{_f(b.left)}" x2="{_f(b.right)}" y1="{_f(t.at)}" y2="{_f(t.at)}" '
            f'class="grid-line"/><text x="{_f(b.left - 6)}" y="{_f(t.at)}" dy="4" '
            f'text-anchor="end" class="tick">{escape(t.label)}</text>'
        )
    for t in g.x_ticks:
        out.append(
            f'<line x1="{_f(t.at)}" x2="{_f(t.at)}" y1="{_f(b.top)}" y2="{_f(b.bottom)}" '
            f'class="grid-line"/><text x="{_f(t.at)}" y="{_f(b.bottom + 16)}" '
            f'text-anchor="middle" class="tick">{escape(t.label)}</text>'
        )
    out.append(
        f'<rect x="{_f(b.left)}" y="{_f(b.top)}" width="{_f(b.right - b.left)}" '
        f'height="{_f(b.bottom - b.top)}" class="plot-frame"/>'
    )
    if g.unit:
        out.append(f'<text x="4" y="{_f(b.top - 10)}" class="axis-title">{escape(g.unit)}</text>')
    if len(g.points) > 1:
        out.append(f'<path d="{g.path}" class="line series-value"/>')
    for p in g.points:
        out += _marker(p)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every text above is escaped)


def trend_svg(trend: Any, slug: str = "lab-trend") -> SafeString:
    """The trend of one LOINC as an accessible SVG (see the module docstring)."""
    return render(geometry(trend), slug)
