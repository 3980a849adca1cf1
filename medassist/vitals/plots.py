"""Vital-sign trend charts and children's growth charts, drawn as server-side SVG (no
JavaScript, no plotting library, nothing fetched). Pure: trends in, geometry and markup out.

- trend_geometry / trend_svg: one measure over time - value on y with round ticks, the latest
  reading's reference range shaded (its source on hover), each reading a circle with a tooltip;
  readings flagged L/H/LL/HH get an outline ring and their flag as text (never colour alone);
  blood pressure draws systolic and diastolic as two labelled series.
- growth_charts: for a child, the percentile curves (3rd-97th, 50th emphasised, labelled at the
  right edge) of each growth chart the clinic uses at the child's current age (WHO 2006 under
  2 years, CDC 2000 from 2 to 20), with the child's own measurements on them.

Every piece of text that reaches the markup goes through django.utils.html.escape.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from medassist.vitals import growth, units
from medassist.vitals.assess import ADULT_YEARS, completed_years
from medassist.vitals.models import Measure

WIDTH = 760
ABNORMAL = ("L", "H", "LL", "HH")
FLAG_WORDS = {"L": "low", "H": "high", "LL": "critically low", "HH": "critically high"}
UNIT_LABELS = {
    units.KG: "kg",
    units.CM: "cm",
    units.CEL: "°C",
    units.MMHG: "mmHg",
    units.PER_MIN: "/min",
    units.PCT: "%",
    units.KG_M2: "kg/m²",
    "kg/m2": "kg/m²",
}


# Scales and ticks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """A linear map from data values [lo, hi] to pixels [px_lo, px_hi] (px_hi < px_lo for y)."""

    lo: float
    hi: float
    px_lo: float
    px_hi: float

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return (self.px_lo + self.px_hi) / 2
        return self.px_lo + (value - self.lo) * (self.px_hi - self.px_lo) / (self.hi - self.lo)


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass(frozen=True)
class Box:
    """The plot area inside the SVG."""

    left: float
    top: float
    right: float
    bottom: float

    def contains(self, x: float, y: float) -> bool:
        return (
            self.left - 1e-6 <= x <= self.right + 1e-6
            and self.top - 1e-6 <= y <= self.bottom + 1e-6
        )


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2, 2.5, 5 x 10^n) giving about `ticks` intervals over `span`."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw - 1e-12)


def nice_range(lo: float, hi: float, ticks: int = 5) -> tuple[float, float, float]:
    """(lo', hi', step): lo..hi widened to whole steps; a single value gets some room."""
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-9:
        pad = max(abs(lo) * 0.05, 1.0)
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, ticks)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def _pick(span: float, options: Sequence[float], most: int) -> float:
    """The smallest of `options` giving at most `most` intervals over `span`."""
    return float(next((o for o in options if span / o <= most), options[-1]))


def _steps(lo: float, hi: float, step: float) -> list[float]:
    out, i = [], 0
    while lo + i * step <= hi + step * 1e-6:
        out.append(round(lo + i * step, 10))
        i += 1
    return out


def _num(value: float, step: float | None = None) -> str:
    if step is not None and step < 1:
        places = min(3, max(1, -math.floor(math.log10(step) + 1e-9)))
        return f"{value:.{places}f}".rstrip("0").rstrip(".")
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"


def _f(value: float) -> str:
    return f"{value:.1f}"


# Time axis ----------------------------------------------------------------------------------

# (unit, count, about how many days one step is)
_TIME_STEPS: tuple[tuple[str, int, float], ...] = (
    ("minute", 10, 10 / 1440),
    ("minute", 15, 15 / 1440),
    ("minute", 30, 30 / 1440),
    ("hour", 1, 1 / 24),
    ("hour", 3, 3 / 24),
    ("hour", 6, 6 / 24),
    ("day", 1, 1),
    ("day", 2, 2),
    ("week", 1, 7),
    ("week", 2, 14),
    ("month", 1, 30.4),
    ("month", 2, 61),
    ("month", 3, 91),
    ("month", 6, 182),
    ("year", 1, 365.25),
    ("year", 2, 730.5),
    ("year", 5, 1826),
    ("year", 10, 3652),
    ("year", 25, 9131),
)


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), tz)


def time_ticks(start: dt.datetime, end: dt.datetime, scale: Scale, most: int = 7) -> list[Tick]:
    """Calendar ticks (local time) between start and end, about `most` of them at most."""
    tz = timezone.get_current_timezone()
    span_days = max((end - start).total_seconds() / 86400, 1e-6)
    unit, count, _ = next((s for s in _TIME_STEPS if span_days / s[2] <= most - 1), _TIME_STEPS[-1])
    local = timezone.localtime(start, tz)
    stamps: list[dt.datetime] = []
    if unit in ("minute", "hour"):
        seconds = count * (60 if unit == "minute" else 3600)
        midnight = _local_midnight(local.date(), tz)
        n = math.ceil((start - midnight).total_seconds() / seconds)
        t = midnight + dt.timedelta(seconds=n * seconds)
        while t <= end:
            stamps.append(t)
            t += dt.timedelta(seconds=seconds)
    elif unit in ("day", "week"):
        day = local.date()
        if unit == "week":
            day -= dt.timedelta(days=day.weekday())
        step = count * (7 if unit == "week" else 1)
        while (t := _local_midnight(day, tz)) <= end:
            if t >= start:
                stamps.append(t)
            day += dt.timedelta(days=step)
    else:
        months = count * (12 if unit == "year" else 1)
        index = local.year * 12 + local.month - 1
        index -= index % months
        while (t := _local_midnight(dt.date(index // 12, index % 12 + 1, 1), tz)) <= end:
            if t >= start:
                stamps.append(t)
            index += months
    ticks: list[Tick] = []
    for t in stamps:
        lt = timezone.localtime(t, tz)
        if unit in ("minute", "hour"):
            label = f"{lt:%H:%M}"
            if not ticks or (lt.hour == 0 and lt.minute == 0):
                label = f"{lt:%b} {lt.day} {label}"
        elif unit in ("day", "week"):
            label = f"{lt:%b} {lt.day}"
        elif unit == "month":
            label = f"{lt:%b %Y}" if lt.month == 1 or len(ticks) == 0 else f"{lt:%b}"
        else:
            label = f"{lt:%Y}"
        ticks.append(Tick(scale(t.timestamp()), label))
    return ticks


# Vital-sign trends --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    series: str  # "value" | "systolic" | "diastolic"
    value: float
    when: dt.datetime
    flag: str  # "" or N when normal; L, H, LL, HH abnormal
    title: str

    @property
    def abnormal(self) -> bool:
        return self.flag in ABNORMAL

    @property
    def critical(self) -> bool:
        return self.flag in ("LL", "HH")


@dataclass
class Series:
    key: str
    label: str
    points: list[TrendPoint]

    @property
    def path(self) -> str:
        return "M " + " L ".join(f"{_f(p.x)} {_f(p.y)}" for p in self.points)


@dataclass
class BandGeometry:
    y_top: float
    y_bottom: float
    low: float
    high: float
    title: str


@dataclass
class TrendGeometry:
    measure: str
    label: str
    unit: str  # as displayed: "kg", "mmHg", "°C"
    box: Box
    series: list[Series]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    band: BandGeometry | None
    aria_label: str
    width: int = WIDTH
    height: int = 260

    @property
    def points(self) -> list[TrendPoint]:
        return [p for s in self.series for p in s.points]


def display_unit(trend: Any) -> str:
    """The unit shown on the axis: the canonical unit when the trend has one, else the unit
    the readings were taken in ("mm[Hg]" -> "mmHg")."""
    if trend.unit:
        return UNIT_LABELS.get(trend.unit, trend.unit)
    if trend.measure == Measure.BLOOD_PRESSURE:
        return "mmHg"
    raw = trend.rows[-1].sign.unit if trend.rows else ""
    return UNIT_LABELS.get(raw, raw)


def _when(moment: dt.datetime) -> str:
    t = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{t:%b} {t.day}, {t:%Y %H:%M}"


def _point_title(row: Any, moment: dt.datetime) -> str:
    parts = [f"{_when(moment)}: {row.text}"]
    if row.flag in ABNORMAL:
        parts.append(f"{FLAG_WORDS[row.flag]} ({row.flag})")
    if row.interpretation:
        parts.append(row.interpretation)
    return " – ".join(parts)


def trend_geometry(trend: Any) -> TrendGeometry:
    """Where everything of one trend goes (pure; see trend_svg for the markup)."""
    is_bp = trend.measure == Measure.BLOOD_PRESSURE
    unit = display_unit(trend)
    box = Box(left=56, top=24, right=WIDTH - (78 if is_bp else 20), bottom=222)
    rows = list(trend.rows)
    points = list(trend.points)
    values = [v for _, v, _ in points] + [v2 for _, _, v2 in points if is_bp and v2 is not None]
    if trend.band is not None:
        values += list(trend.band)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.06
    y_lo, y_hi, y_step = nice_range(lo - pad, hi + pad, 5)
    ys = Scale(y_lo, y_hi, box.bottom, box.top)
    y_ticks = [Tick(ys(v), _num(v, y_step)) for v in _steps(y_lo, y_hi, y_step)]

    times = [t for t, _, _ in points]
    if times:
        t0, t1 = min(times), max(times)
    else:
        t0 = t1 = timezone.now()
    span = max((t1 - t0).total_seconds(), 3600.0)
    middle = t0 + (t1 - t0) / 2
    t0 = middle - dt.timedelta(seconds=span * 0.53)
    t1 = middle + dt.timedelta(seconds=span * 0.53)
    xs = Scale(t0.timestamp(), t1.timestamp(), box.left, box.right)
    x_ticks = time_ticks(t0, t1, xs)

    first: list[TrendPoint] = []
    second: list[TrendPoint] = []
    for (moment, value, value2), row in zip(points, rows, strict=False):
        title = _point_title(row, moment)
        x = xs(moment.timestamp())
        key = "systolic" if is_bp else "value"
        first.append(TrendPoint(x, ys(value), key, value, moment, row.flag, title))
        if is_bp and value2 is not None:
            second.append(TrendPoint(x, ys(value2), "diastolic", value2, moment, row.flag, title))
    series = (
        [Series("systolic", "Systolic", first), Series("diastolic", "Diastolic", second)]
        if is_bp
        else [Series("value", trend.label, first)]
    )
    series = [s for s in series if s.points]

    band = None
    if trend.band is not None:
        low, high = sorted(trend.band)
        last = rows[-1] if rows else None
        source = (last.source if last else "") or "source not recorded"
        rng = (last.range_text if last else "") or f"{_num(low)}–{_num(high)} {unit}"
        band = BandGeometry(
            y_top=ys(high),
            y_bottom=ys(low),
            low=low,
            high=high,
            title=f"Reference range of the latest reading: {rng}. Source: {source}",
        )

    count = len(rows)
    aria = f"{trend.label}, {count} reading{'s' if count != 1 else ''}"
    if rows:
        aria += f", latest {rows[-1].text}"
        flagged = sum(r.flag in ABNORMAL for r in rows)
        if flagged:
            aria += f", {flagged} flagged outside the reference range"
    if band is not None:
        aria += f"; shaded reference range {_num(band.low)}–{_num(band.high)} {unit}"
    return TrendGeometry(
        measure=trend.measure,
        label=trend.label,
        unit=unit,
        box=box,
        series=series,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        band=band,
        aria_label=aria,
    )


def _frame(
    width: int,
    height: int,
    box: Box,
    x_ticks: Iterable[Tick],
    y_ticks: Iterable[Tick],
    y_title: str,
    x_title: str = "",
) -> list[str]:
    out = []
    for t in y_ticks:
        out.append(
            f'<line x1="{_f(box.left)}" x2="{_f(box.right)}" y1="{_f(t.at)}" y2="{_f(t.at)}" '
            f'class="grid-line"/><text x="{_f(box.left - 6)}" y="{_f(t.at)}" dy="4" '
            f'text-anchor="end" class="tick">{escape(t.label)}</text>'
        )
    for t in x_ticks:
        out.append(
            f'<line x1="{_f(t.at)}" x2="{_f(t.at)}" y1="{_f(box.top)}" y2="{_f(box.bottom)}" '
            f'class="grid-line"/><text x="{_f(t.at)}" y="{_f(box.bottom + 16)}" '
            f'text-anchor="middle" class="tick">{escape(t.label)}</text>'
        )
    out.append(
        f'<rect x="{_f(box.left)}" y="{_f(box.top)}" width="{_f(box.right - box.left)}" '
        f'height="{_f(box.bottom - box.top)}" class="plot-frame"/>'
    )
    if y_title:
        out.append(
            f'<text x="4" y="{_f(box.top - 10)}" class="axis-title">{escape(y_title)}</text>'
        )
    if x_title:
        out.append(
            f'<text x="{_f((box.left + box.right) / 2)}" y="{height - 4}" text-anchor="middle" '
            f'class="axis-title">{escape(x_title)}</text>'
        )
    return out


def _marker(p: TrendPoint, css: str) -> list[str]:
    out = [
        f'<g class="reading {css}{" abnormal" if p.abnormal else ""}'
        f'{" critical" if p.critical else ""}"><title>{escape(p.title)}</title>'
    ]
    if p.abnormal:
        # Not colour alone: a ring (a square for critical values) and the flag as text.
        if p.critical:
            out.append(
                f'<rect x="{_f(p.x - 8)}" y="{_f(p.y - 8)}" width="16" height="16" '
                'class="flag-ring"/>'
            )
        else:
            out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="7.5" class="flag-ring"/>')
        above = p.flag in ("H", "HH")
        out.append(
            f'<text x="{_f(p.x)}" y="{_f(p.y + (-12 if above else 21))}" text-anchor="middle" '
            f'class="flag-text">{escape(p.flag)}</text>'
        )
    out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="4" class="dot"/></g>')
    return out


def render_trend(g: TrendGeometry) -> SafeString:
    out = [
        f'<svg viewBox="0 0 {g.width} {g.height}" role="img" aria-label="{escape(g.aria_label)}" '
        f'class="vitals-chart trend-{escape(g.measure)}">'
    ]
    if g.band is not None:
        out.append(
            f'<rect x="{_f(g.box.left)}" y="{_f(g.band.y_top)}" '
            f'width="{_f(g.box.right - g.box.left)}" '
            f'height="{_f(max(g.band.y_bottom - g.band.y_top, 1.0))}" class="ref-band">'
            f"<title>{escape(g.band.title)}</title></rect>"
        )
    out += _frame(g.width, g.height, g.box, g.x_ticks, g.y_ticks, g.unit)
    for s in g.series:
        if len(s.points) > 1:
            out.append(f'<path d="{s.path}" class="line series-{escape(s.key)}"/>')
    for s in g.series:
        for p in s.points:
            out += _marker(p, f"series-{s.key}")
        if g.measure == Measure.BLOOD_PRESSURE and s.points:
            last = s.points[-1]
            out.append(
                f'<text x="{_f(g.box.right + 6)}" y="{_f(last.y)}" dy="4" '
                f'class="series-label">{escape(s.label)}</text>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every text above is escaped)


def trend_svg(trend: Any) -> SafeString:
    """The trend of one measure as an accessible SVG (see the module docstring)."""
    return render_trend(trend_geometry(trend))


# Growth charts ------------------------------------------------------------------------------

GROWTH_MEASURES: tuple[tuple[str, str], ...] = (
    ("weight", Measure.WEIGHT),
    ("length", Measure.HEIGHT),
    ("head", Measure.HEAD),
    ("bmi", Measure.BMI),
    ("weight_for_length", ""),  # pairs Measure.WEIGHT and Measure.HEIGHT of one day
)
GROWTH_WIDTH = 760
GROWTH_HEIGHT = 400
MAX_CURVE_POINTS = 160


@dataclass(frozen=True)
class GrowthPoint:
    x: float
    y: float
    x_value: float  # age in months, or length in cm
    value: float  # in the chart's unit
    when: dt.date
    age: str  # "7 mo"
    text: str  # as measured ("7.9 kg (17 lb 7 oz)"), with the length for weight-for-length
    percentile: float | None
    flag: str
    title: str
    abnormal: bool = False


@dataclass
class GrowthCurve:
    percentile: float
    label: str  # "P50"
    data: list[tuple[float, float]]  # (x, value) in chart units
    path: str
    label_y: float
    emphasised: bool


@dataclass
class GrowthChart:
    chart: str  # growth.CHARTS key, e.g. "who_wfa"
    measure: str  # growth measure, e.g. "weight"
    title: str  # "WHO 2006 weight-for-age, girls 0–2 y"
    source: str  # full citation
    x_title: str
    unit: str
    box: Box
    x_scale: Scale
    y_scale: Scale
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    curves: list[GrowthCurve]
    points: list[GrowthPoint]
    outside: int = 0  # measurements outside this chart's age or length range (not drawn)
    width: int = GROWTH_WIDTH
    height: int = GROWTH_HEIGHT
    svg: SafeString = field(default_factory=lambda: mark_safe(""))

    @property
    def slug(self) -> str:
        return self.chart.replace("_", "-")


@dataclass(frozen=True)
class _Reading:
    when: dt.date
    value: float
    text: str
    percentile: float | None
    flag: str
    length: float | None = None  # weight-for-length: the length of the same day


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def _readings(trend: Any) -> list[_Reading]:
    out = []
    for (moment, value, _), row in zip(trend.points, trend.rows, strict=False):
        percentile = getattr(row.sign, "percentile", None)
        out.append(_Reading(_local_date(moment), value, row.text, percentile, row.flag))
    return out


def _weight_for_length(weights: Any, heights: Any) -> list[_Reading]:
    """Each day with both a weight and a length: the day's last of each."""
    by_day_h = {r.when: r for r in _readings(heights)}
    by_day_w = {r.when: r for r in _readings(weights)}
    return [
        _Reading(
            day,
            w.value,
            f"{w.text} at {by_day_h[day].text}",
            None,
            "",
            length=by_day_h[day].value,
        )
        for day, w in sorted(by_day_w.items())
        if day in by_day_h
    ]


def _chart_title(chart: growth.Chart, sex: str, x_range: tuple[float, float]) -> str:
    found = re.search(r"(WHO|CDC) (\d{4})", chart.source.version)
    authority = f"{found.group(1)} {found.group(2)}" if found else chart.authority
    name = chart.title.split(", ")[0]
    if not name[:2].isupper():  # "Weight-for-age" reads "weight-for-age"; "BMI-for-age" stays
        name = name[0].lower() + name[1:]
    who = {"female": "girls", "male": "boys"}.get(sex, sex)
    if chart.x_kind == "length_cm":
        span = f"{_num(x_range[0])}–{_num(x_range[1])} cm"
    elif chart.authority == "WHO":
        span = "0–2 y"
    elif chart.title.endswith("2-20 years"):
        span = "2–20 y"
    else:
        span = "0–36 mo"
    return f"{authority} {name}, {who} {span}"


def _thin(rows: Sequence[tuple[float, float]], most: int) -> list[tuple[float, float]]:
    if len(rows) <= most:
        return list(rows)
    step = math.ceil(len(rows) / most)
    kept = list(rows[::step])
    if kept[-1] != rows[-1]:
        kept.append(rows[-1])
    return kept


def _spread(wanted: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Label positions near `wanted` (pixels, any order) at least `gap` apart within lo..hi."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    pos = [wanted[i] for i in order]
    for k in range(1, len(pos)):
        pos[k] = max(pos[k], pos[k - 1] + gap)
    if pos and pos[-1] > hi:
        pos[-1] = hi
        for k in range(len(pos) - 2, -1, -1):
            pos[k] = min(pos[k], pos[k + 1] - gap)
    placed = [0.0] * len(wanted)
    for k, i in enumerate(order):
        placed[i] = max(pos[k], lo)
    return placed


def _age_text(days: int) -> str:
    months = days / growth.DAYS_PER_MONTH
    if months < 24:
        return f"{months:.1f} mo"
    return f"{int(months // 12)} y {int(months % 12)} mo"


def growth_chart(
    chart_id: str,
    sex: str,
    birth_date: dt.date,
    readings: Sequence[_Reading],
    percentiles: tuple[float, ...] = growth.DEFAULT_PERCENTILES,
) -> GrowthChart | None:
    """One growth chart with the child's readings on it (None: no reading falls on the chart)."""
    chart = growth.CHARTS[chart_id]
    by_length = chart.x_kind == "length_cm"
    full = growth.curves(chart_id, sex, (50.0,))[0][1]
    domain = (full[0][0], full[-1][0])

    placed: list[tuple[_Reading, float, int]] = []
    outside = 0
    for r in readings:
        days = (r.when - birth_date).days
        x = r.length if by_length else days / growth.DAYS_PER_MONTH
        if x is None or not domain[0] <= x <= domain[1] or r.value <= 0:
            outside += 1
            continue
        placed.append((r, x, days))
    if not placed:
        return None

    xs_data = [x for _, x, _ in placed]
    lo, hi = min(xs_data), max(xs_data)
    if by_length:
        least, unit_step = 10.0, 5.0
    elif chart.authority == "CDC" and domain[0] >= 24:
        least, unit_step = 24.0, 12.0
    else:
        least, unit_step = 6.0, 1.0
    span = max(hi - lo, least)
    middle = (lo + hi) / 2
    x_from = max(domain[0], math.floor((middle - span * 0.55) / unit_step) * unit_step)
    x_to = min(domain[1], math.ceil((middle + span * 0.55) / unit_step) * unit_step)
    if x_to - x_from < least:  # pinned against an end of the table
        if x_from == domain[0]:
            x_to = min(domain[1], x_from + least)
        else:
            x_from = max(domain[0], x_to - least)

    raw = growth.curves(chart_id, sex, percentiles, x_from=x_from, x_to=x_to)
    values = [v for _, rows in raw for _, v in rows] + [r.value for r, _, _ in placed]
    y_lo, y_hi, y_step = nice_range(min(values), max(values), 6)
    box = Box(left=56, top=24, right=GROWTH_WIDTH - 52, bottom=GROWTH_HEIGHT - 46)
    x_scale = Scale(x_from, x_to, box.left, box.right)
    y_scale = Scale(y_lo, y_hi, box.bottom, box.top)

    if by_length:
        lying = "length" in chart.title.lower()
        x_title = "Length (cm)" if lying else "Height (cm)"
        step = nice_step(x_to - x_from, 8)
        x_ticks = [
            Tick(x_scale(v), _num(v)) for v in _steps(math.ceil(x_from / step) * step, x_to, step)
        ]
    elif x_to - x_from > 48:
        x_title = "Age (years)"
        step = 12.0 * _pick((x_to - x_from) / 12, (1, 2, 5, 10), 9)
        start = math.ceil(x_from / step) * step
        x_ticks = [Tick(x_scale(v), _num(v / 12)) for v in _steps(start, x_to, step)]
    else:
        x_title = "Age (months)"
        step = _pick(x_to - x_from, (1, 2, 3, 6, 12), 9)
        start = math.ceil(x_from / step) * step
        x_ticks = [Tick(x_scale(v), _num(v)) for v in _steps(start, x_to, step)]
    y_ticks = [Tick(y_scale(v), _num(v, y_step)) for v in _steps(y_lo, y_hi, y_step)]

    curves: list[GrowthCurve] = []
    for p, rows in raw:
        if not rows:
            continue
        data = _thin(rows, MAX_CURVE_POINTS)
        path = "M " + " L ".join(f"{_f(x_scale(x))} {_f(y_scale(v))}" for x, v in data)
        curves.append(
            GrowthCurve(p, f"P{_num(p)}", data, path, y_scale(data[-1][1]), emphasised=p == 50)
        )
    for c, y in zip(
        curves, _spread([c.label_y for c in curves], 11.0, box.top, box.bottom), strict=True
    ):
        c.label_y = y

    unit = UNIT_LABELS.get(chart.unit, chart.unit)
    points = []
    for r, x, days in sorted(placed, key=lambda item: item[1]):
        age = _age_text(days)
        pct = f", P{r.percentile:.0f} at the time" if r.percentile is not None else ""
        flag = f", {FLAG_WORDS[r.flag]}" if r.flag in ABNORMAL else ""
        where = f"{_num(round(x, 1))} cm" if by_length else age
        title = f"{r.when:%b} {r.when.day}, {r.when:%Y} (age {age}): {r.text}{pct}{flag}"
        if by_length:
            title += f" [{where}]"
        points.append(
            GrowthPoint(
                x_scale(x),
                y_scale(r.value),
                x,
                r.value,
                r.when,
                age,
                r.text,
                r.percentile,
                r.flag,
                title,
                abnormal=r.flag in ABNORMAL,
            )
        )

    g = GrowthChart(
        chart=chart_id,
        measure=chart.measure,
        title=_chart_title(chart, sex, domain),
        source=str(chart.source),
        x_title=x_title,
        unit=unit,
        box=box,
        x_scale=x_scale,
        y_scale=y_scale,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        curves=curves,
        points=points,
        outside=outside,
    )
    g.svg = render_growth(g)
    return g


def render_growth(g: GrowthChart) -> SafeString:
    n = len(g.points)
    latest = max(g.points, key=lambda p: p.when)
    aria = (
        f"{g.title}: percentile curves 3rd to 97th with {n} measurement{'s' if n != 1 else ''}; "
        f"latest {latest.text} at {latest.age}"
    )
    if latest.percentile is not None:
        aria += f" (percentile {latest.percentile:.0f})"
    out = [
        f'<svg viewBox="0 0 {g.width} {g.height}" role="img" aria-label="{escape(aria)}" '
        f'class="vitals-chart growth-chart">'
    ]
    out += _frame(g.width, g.height, g.box, g.x_ticks, g.y_ticks, g.unit, g.x_title)
    for c in g.curves:
        css = "centile p50" if c.emphasised else "centile"
        out.append(
            f'<path d="{c.path}" class="{css}">'
            f"<title>{escape(c.label)} ({escape(g.title)})</title></path>"
        )
        out.append(
            f'<text x="{_f(g.box.right + 4)}" y="{_f(c.label_y)}" dy="4" '
            f'class="centile-label{" p50" if c.emphasised else ""}">{escape(c.label)}</text>'
        )
    if len(g.points) > 1:
        path = "M " + " L ".join(f"{_f(p.x)} {_f(p.y)}" for p in g.points)
        out.append(f'<path d="{path}" class="line growth-line"/>')
    for p in g.points:
        out += _marker(
            TrendPoint(p.x, p.y, "value", p.value, _midday(p.when), p.flag, p.title), "growth-point"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every text above is escaped)


def _midday(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12))


def growth_charts(
    patient: Any, trends: Iterable[Any], *, today: dt.date | None = None
) -> list[GrowthChart]:
    """The growth charts of a child (none for an adult, or when the sex of the tables is not
    known): weight-, length/height-, head circumference- and BMI-for-age, and weight-for-length
    under 2 years, each on the chart that applies at the child's current age, for each
    measure the child has readings of."""
    from medassist.core import clock
    from medassist.vitals.services import sex_for_charts

    today = today or clock.today()
    age_days = (today - patient.birth_date).days
    if age_days < 0 or completed_years(patient.birth_date, today) >= ADULT_YEARS:
        return []
    sex = sex_for_charts(patient)
    if sex not in ("male", "female"):
        return []
    by_measure = {t.measure: t for t in trends}
    out: list[GrowthChart] = []
    for measure, source in GROWTH_MEASURES:
        chart_id = growth.chart_for(measure, age_days)
        if chart_id is None:
            continue
        if measure == "weight_for_length":
            if age_days >= growth.WHO_LENGTH_HEIGHT_SWITCH_DAYS:
                continue
            if Measure.WEIGHT not in by_measure or Measure.HEIGHT not in by_measure:
                continue
            readings = _weight_for_length(by_measure[Measure.WEIGHT], by_measure[Measure.HEIGHT])
        elif source in by_measure:
            readings = _readings(by_measure[source])
        else:
            continue
        chart = growth_chart(chart_id, sex, patient.birth_date, readings)
        if chart is not None:
            out.append(chart)
    return out
