"""Growth-chart z-scores and percentiles: CDC 2000 (LMS) and WHO Child Growth Standards 2006.

Pure clinical logic (no models, no DB). The LMS tables are read, by column name, from the
reference directory (``medassist.core.reference.path("vitals", ...)``) and cached per resolved
file path, so a test that points settings.REFERENCE_DIR elsewhere gets its own tables.

Which chart (``assess``/``chart_for``):
  * age < 731 days: WHO 2006 standards, computed as the WHO ``anthro`` R package does
    (WorldHealthOrganization/anthro, R/z-score*.R): age rounded to the whole day (half up),
    length interpolated on the 0.1 cm grid, recumbent/standing 0.7 cm conversion, "restricted
    application of the LMS method" beyond +-3 SD for weight-based indicators, per-indicator
    implausibility flags. CDC recommends the WHO standards under 2 years (MMWR 2010;59(RR-9)).
  * age >= 731 days: CDC 2000 charts, computed as CDC's SAS program for the 2000 growth charts
    (cdc-source-code.sas): age in months = days / 30.4375, linear interpolation of L, M, S
    between the tabulated half-month mid-points (or 0.5 cm lengths), 2-20 y charts from 24
    months, no result at >= 240 months, modified-z "biologically implausible value" flags.
  * Outside every table: None.

Units of the chart index ``x`` (``lms_at``): WHO age charts -> age in days; CDC age charts ->
age in months; length/height charts (both) -> cm. ``curves`` always returns age charts in
months (WHO days / 30.4375) and length charts in cm.
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from statistics import NormalDist

from django.conf import settings

from medassist.core import reference
from medassist.vitals.interpretation import Flag, Interpretation, Source

# WHO anthro (R/utils.R, ANTHRO_DAYS_OF_MONTH) and CDC's SAS program both use 30.4375 d/month.
DAYS_PER_MONTH = 30.4375
# WHO anthro: "below 24 months (i.e. below 731 days)" - recumbent length below, height from.
WHO_LENGTH_HEIGHT_SWITCH_DAYS = 731
# WHO anthro adjust_lenhei(): recumbent length is on average 0.7 cm longer than standing height.
LENGTH_HEIGHT_DIFF_CM = 0.7
# WHO anthro anthro_zscores(): a standing height taken before 9 months is implausible and the
# position is then treated as unknown (no 0.7 cm conversion).
WHO_MIN_STANDING_MONTHS = 9.0
# WHO anthro anthro_zscore_adjusted(): z-scores only for age in months < 60.
WHO_MAX_AGE_MONTHS = 60.0
# CDC SAS program: 2-20 y charts at agemos >= 24; children with agemos >= 240 are excluded.
CDC_CHILD_CHARTS_FROM_MONTHS = 24.0
CDC_MAX_AGE_MONTHS = 240.0

MEASURES = ("weight", "length", "head", "bmi", "weight_for_length")
DEFAULT_PERCENTILES: tuple[float, ...] = (3, 5, 10, 25, 50, 75, 90, 95, 97)

WHO_SOURCE = Source(
    name="WHO Child Growth Standards",
    version="WHO 2006 (anthro LMS tables)",
    citation=(
        "WHO Multicentre Growth Reference Study Group. WHO Child Growth Standards: "
        "length/height-for-age, weight-for-age, weight-for-length, weight-for-height and "
        "body mass index-for-age: methods and development. Geneva: WHO; 2006"
    ),
)
WHO_HC_SOURCE = Source(
    name="WHO Child Growth Standards",
    version="WHO 2007 (anthro LMS tables)",
    citation=(
        "WHO Multicentre Growth Reference Study Group. WHO Child Growth Standards: head "
        "circumference-for-age, arm circumference-for-age, triceps skinfold-for-age and "
        "subscapular skinfold-for-age: methods and development. Geneva: WHO; 2007"
    ),
)
CDC_SOURCE = Source(
    name="CDC 2000 growth charts",
    version="CDC 2000 LMS (May 2000)",
    citation=(
        "Kuczmarski RJ, Ogden CL, Guo SS, et al. 2000 CDC Growth Charts for the United States: "
        "methods and development. Vital Health Stat 11. 2002;(246):1-190"
    ),
)

_WHO_DIR = "who-growth-standards-2006"
_CDC_DIR = "cdc-growth-charts-2000"


@dataclass(frozen=True)
class Chart:
    id: str
    authority: str  # "WHO" | "CDC"
    measure: str  # one of MEASURES
    title: str
    folder: str
    filename: str
    index_column: str  # read by name (lower-cased)
    x_kind: str  # "age_days" | "age_months" | "length_cm"
    unit: str  # UCUM unit of the measured value
    source: Source
    # WHO anthro: compute_zscore_adjusted() (restricted LMS beyond +-3 SD) for weight-based
    # indicators only; length and head circumference use the plain LMS z.
    restricted: bool
    # Implausible when the (WHO: z rounded to 2 dp; CDC: modified z) is < lo or > hi.
    implausible_below: float
    implausible_above: float

    @property
    def is_age_chart(self) -> bool:
        return self.x_kind != "length_cm"


# fmt: off
def _who(
    cid: str, measure: str, title: str, filename: str, index: str, x_kind: str, unit: str,
    restricted: bool, lo: float, hi: float, source: Source = WHO_SOURCE,
) -> Chart:
    return Chart(
        cid, "WHO", measure, title, _WHO_DIR, filename, index, x_kind, unit, source,
        restricted, lo, hi,
    )


def _cdc(
    cid: str, measure: str, title: str, filename: str, index: str, x_kind: str, unit: str,
    lo: float, hi: float,
) -> Chart:
    return Chart(
        cid, "CDC", measure, title, _CDC_DIR, filename, index, x_kind, unit, CDC_SOURCE,
        False, lo, hi,
    )
# fmt: on


# Implausibility limits. WHO: anthro R/z-score.R documentation and the flag_threshold defaults
# of R/z-score-*.R: length/height-for-age |z| > 6; weight-for-age z < -6 or z > 5;
# weight-for-length/height |z| > 5; BMI-for-age |z| > 5; head circumference-for-age |z| > 5.
# CDC: cdc-source-code.sas (BIV cut points revised Dec 2015) on the *modified* z-score:
# weight-for-age -5/+8, length & stature-for-age -5/+4, head circumference -5/+5,
# BMI-for-age -4/+8, weight-for-length and weight-for-stature -4/+8.
# fmt: off
CHARTS: dict[str, Chart] = {
    c.id: c
    for c in (
        _who("who_wfa", "weight", "Weight-for-age", "weianthro.csv", "age", "age_days", "kg",
             True, -6, 5),
        _who("who_lhfa", "length", "Length/height-for-age", "lenanthro.csv", "age",
             "age_days", "cm", False, -6, 6),
        _who("who_hcfa", "head", "Head circumference-for-age", "hcanthro.csv", "age",
             "age_days", "cm", False, -5, 5, WHO_HC_SOURCE),
        _who("who_bfa", "bmi", "BMI-for-age", "bmianthro.csv", "age", "age_days", "kg/m2",
             True, -5, 5),
        _who("who_wfl", "weight_for_length", "Weight-for-length", "wflanthro.csv", "length",
             "length_cm", "kg", True, -5, 5),
        _who("who_wfh", "weight_for_length", "Weight-for-height", "wfhanthro.csv", "height",
             "length_cm", "kg", True, -5, 5),
        _cdc("cdc_wtageinf", "weight", "Weight-for-age, birth-36 months", "wtageinf.csv",
             "agemos", "age_months", "kg", -5, 8),
        _cdc("cdc_lenageinf", "length", "Length-for-age, birth-36 months", "lenageinf.csv",
             "agemos", "age_months", "cm", -5, 4),
        _cdc("cdc_wtleninf", "weight_for_length", "Weight-for-length, birth-36 months",
             "wtleninf.csv", "length", "length_cm", "kg", -4, 8),
        _cdc("cdc_hcageinf", "head", "Head circumference-for-age, birth-36 months",
             "hcageinf.csv", "agemos", "age_months", "cm", -5, 5),
        _cdc("cdc_wtage", "weight", "Weight-for-age, 2-20 years", "wtage.csv", "agemos",
             "age_months", "kg", -5, 8),
        _cdc("cdc_statage", "length", "Stature-for-age, 2-20 years", "statage.csv", "agemos",
             "age_months", "cm", -5, 4),
        _cdc("cdc_bmiagerev", "bmi", "BMI-for-age, 2-20 years", "bmiagerev.csv", "agemos",
             "age_months", "kg/m2", -4, 8),
        _cdc("cdc_wtstat", "weight_for_length", "Weight-for-stature", "wtstat.csv", "height",
             "length_cm", "kg", -4, 8),
    )
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# LMS arithmetic (Cole TJ, Green PJ. Stat Med 1992;11:1305-19)
# ---------------------------------------------------------------------------------------------

# The Box-Cox limit L -> 0 is the log form. CDC's SAS program switches at |L| < 0.01, which is an
# approximation; the exact power form is used down to this machine-noise threshold instead.
_L_ZERO = 1e-9


def lms_z(x: float, L: float, M: float, S: float) -> float:
    """The LMS z-score of measurement x: ((x/M)**L - 1) / (L*S), or ln(x/M)/S when L = 0."""
    if x <= 0 or M <= 0 or S <= 0:
        raise ValueError("LMS z-score needs x, M and S > 0")
    if abs(L) < _L_ZERO:
        return math.log(x / M) / S
    return ((x / M) ** L - 1.0) / (L * S)


def value_at_z(L: float, M: float, S: float, z: float) -> float:
    """The measurement at z: M * (1 + L*S*z)**(1/L), or M * exp(S*z) when L = 0."""
    if abs(L) < _L_ZERO:
        return M * math.exp(S * z)
    base = 1.0 + L * S * z
    if base <= 0:
        raise ValueError(f"z = {z} lies outside the LMS distribution (1 + L*S*z <= 0)")
    return M * base ** (1.0 / L)


def z_to_percentile(z: float) -> float:
    """Standard normal CDF as a percentile in [0, 100] (erfc keeps precision in the tails)."""
    return 50.0 * math.erfc(-z / math.sqrt(2.0))


def percentile_to_z(percentile: float) -> float:
    if not 0.0 < percentile < 100.0:
        raise ValueError("percentile must be strictly between 0 and 100")
    return NormalDist().inv_cdf(percentile / 100.0)


def who_restricted_z(x: float, L: float, M: float, S: float) -> float:
    """WHO "restricted application of the LMS method" (WHO 2006 Methods, ch. 7; anthro
    compute_zscore_adjusted): beyond +-3 SD the distance between the 2 SD and 3 SD values is
    used as a fixed SD so the long right tail of weight does not compress extreme z-scores."""
    z = lms_z(x, L, M, S)
    if z > 3:
        sd3 = value_at_z(L, M, S, 3)
        return 3.0 + (x - sd3) / (sd3 - value_at_z(L, M, S, 2))
    if z < -3:
        sd3 = value_at_z(L, M, S, -3)
        return -3.0 + (x - sd3) / (value_at_z(L, M, S, -2) - sd3)
    return z


def who_restricted_value_at_z(L: float, M: float, S: float, z: float) -> float:
    """Inverse of who_restricted_z (used to draw WHO weight-based curves beyond +-3 SD)."""
    if z > 3:
        sd3 = value_at_z(L, M, S, 3)
        return sd3 + (z - 3.0) * (sd3 - value_at_z(L, M, S, 2))
    if z < -3:
        sd3 = value_at_z(L, M, S, -3)
        return sd3 + (z + 3.0) * (value_at_z(L, M, S, -2) - sd3)
    return value_at_z(L, M, S, z)


def cdc_modified_z(x: float, L: float, M: float, S: float) -> float:
    """CDC's modified z-score used only to flag biologically implausible values
    (cdc-source-code.sas, macro _zscore): (x - M) divided by half the distance from M to the
    value at z = +2 (above M) or z = -2 (below M)."""
    if x < M:
        return (x - M) / ((M - value_at_z(L, M, S, -2)) / 2.0)
    return (x - M) / ((value_at_z(L, M, S, 2) - M) / 2.0)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    x: tuple[float, ...]
    L: tuple[float, ...]
    M: tuple[float, ...]
    S: tuple[float, ...]


@lru_cache(maxsize=64)
def _load_lms(path: str, index_column: str) -> dict[int, _Series]:
    """Read one LMS file by column name. Handles the CDC traps (SOURCE.md): CRLF line endings,
    a repeated header row before the female block, extra Pub/Diff columns, and any row whose
    Sex is not 1/2. Keyed on the resolved path so a changed REFERENCE_DIR reloads."""
    rows: dict[int, list[tuple[float, float, float, float]]] = {1: [], 2: []}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader)]
        col = {name: header.index(name) for name in ("sex", index_column, "l", "m", "s")}
        for raw in reader:
            if not raw or not "".join(raw).strip():
                continue
            sex_text = raw[col["sex"]].strip()
            if sex_text not in ("1", "2"):  # the repeated "Sex,Agemos,..." header rows
                continue
            rows[int(sex_text)].append(
                (
                    float(raw[col[index_column]]),
                    float(raw[col["l"]]),
                    float(raw[col["m"]]),
                    float(raw[col["s"]]),
                )
            )
    out: dict[int, _Series] = {}
    for sex, items in rows.items():
        if not items:
            raise ValueError(f"{path}: no rows for sex {sex}")
        items.sort()
        xs = tuple(r[0] for r in items)
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError(f"{path}: duplicate index values for sex {sex}")
        out[sex] = _Series(
            xs, tuple(r[1] for r in items), tuple(r[2] for r in items), tuple(r[3] for r in items)
        )
    return out


@lru_cache(maxsize=256)
def _chart_table(root: str, folder: str, filename: str, index_column: str) -> dict[int, _Series]:
    # Path resolution is cached per REFERENCE_DIR value (it dominated the cost of assess());
    # the tables themselves are cached per resolved file path in _load_lms.
    del root  # part of the cache key only; reference.path() reads the same setting
    path = reference.path("vitals", folder, filename).resolve()
    return _load_lms(str(path), index_column)


def _series(chart: Chart, sex: int) -> _Series:
    root = str(settings.REFERENCE_DIR)
    return _chart_table(root, chart.folder, chart.filename, chart.index_column)[sex]


def _chart(chart: str | Chart) -> Chart:
    if isinstance(chart, Chart):
        return chart
    try:
        return CHARTS[chart]
    except KeyError:
        raise ValueError(f"unknown growth chart {chart!r}") from None


def sex_code(sex: str | int) -> int:
    """ "male" -> 1, "female" -> 2 (the tables' coding); 1 and 2 pass through."""
    if sex in (1, 2):
        return int(sex)
    if isinstance(sex, str):
        code = {"male": 1, "m": 1, "1": 1, "female": 2, "f": 2, "2": 2}.get(sex.strip().lower())
        if code is not None:
            return code
    raise ValueError(f"sex must be 'male' or 'female', not {sex!r}")


def round_half_up(x: float) -> int:
    """WHO anthro round_up(): fractions >= .5 round up (not banker's rounding)."""
    floor = math.floor(x)
    return int(floor + 1 if x - floor >= 0.5 else floor)


def lms_at(chart: str | Chart, sex: str | int, x: float) -> tuple[float, float, float]:
    """(L, M, S) of `chart` at index `x` in the chart's own units (see module docstring).

    WHO age charts: x is age in days, rounded half up to the whole day (anthro). All other
    charts: linear interpolation of L, M and S between the neighbouring rows (CDC SAS program;
    WHO anthro for length on its 0.1 cm grid). Raises ValueError outside the table - a chart
    is never extrapolated."""
    c = _chart(chart)
    s = _series(c, sex_code(sex))
    if c.x_kind == "age_days":
        if x < 0:
            raise ValueError("age must not be negative")
        x = float(round_half_up(x))
    if not s.x[0] <= x <= s.x[-1]:
        raise ValueError(f"{x} is outside {c.id} ({s.x[0]}-{s.x[-1]})")
    i = bisect_left(s.x, x)
    if s.x[i] == x:
        return s.L[i], s.M[i], s.S[i]
    x0, x1 = s.x[i - 1], s.x[i]
    t = (x - x0) / (x1 - x0)
    return (
        s.L[i - 1] + t * (s.L[i] - s.L[i - 1]),
        s.M[i - 1] + t * (s.M[i] - s.M[i - 1]),
        s.S[i - 1] + t * (s.S[i] - s.S[i - 1]),
    )


def chart_value_at_z(chart: str | Chart, L: float, M: float, S: float, z: float) -> float:
    c = _chart(chart)
    return who_restricted_value_at_z(L, M, S, z) if c.restricted else value_at_z(L, M, S, z)


def chart_z(chart: str | Chart, x: float, L: float, M: float, S: float) -> float:
    c = _chart(chart)
    return who_restricted_z(x, L, M, S) if c.restricted else lms_z(x, L, M, S)


def curves(
    chart: str,
    sex: str | int,
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES,
    x_from: float | None = None,
    x_to: float | None = None,
) -> list[tuple[float, list[tuple[float, float]]]]:
    """Percentile curves for drawing: [(percentile, [(x, value), ...]), ...] at every table
    row with x_from <= x <= x_to. x is age in MONTHS for age charts (WHO rows, which are in
    days, are converted with 30.4375 d/month) and cm for length/height charts; x_from/x_to use
    the same units. Values are in the chart's unit (kg, cm, kg/m2)."""
    c = _chart(chart)
    s = _series(c, sex_code(sex))
    scale = 1.0 / DAYS_PER_MONTH if c.x_kind == "age_days" else 1.0
    idx = [
        i
        for i, x in enumerate(s.x)
        if (x_from is None or x * scale >= x_from) and (x_to is None or x * scale <= x_to)
    ]
    out: list[tuple[float, list[tuple[float, float]]]] = []
    for p in percentiles:
        z = percentile_to_z(p)
        out.append(
            (p, [(s.x[i] * scale, chart_value_at_z(c, s.L[i], s.M[i], s.S[i], z)) for i in idx])
        )
    return out


# ---------------------------------------------------------------------------------------------
# Assessment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthResult:
    chart: str  # a CHARTS key, e.g. "who_wfa", "cdc_bmiagerev"
    source: Source
    z: float
    percentile: float  # 0-100
    implausible: bool  # WHO flag / CDC biologically implausible value: re-measure
    interpretation: Interpretation
    value: float  # the value compared (after any 0.7 cm length/height conversion)
    x: float  # where it was read, in the chart's own units (days, months or cm)


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")


def chart_for(measure: str, age_days: float) -> str | None:
    """The chart id `assess` reads for this measure and age (None: no chart covers the age).
    The value may still fall outside that chart (e.g. a length outside 45-110 cm)."""
    _check_measure(measure)
    if age_days < 0:
        raise ValueError("age must not be negative")
    if age_days < WHO_LENGTH_HEIGHT_SWITCH_DAYS:
        return _who_chart_id(measure, round_half_up(age_days))
    return _cdc_chart_id(measure, age_days / DAYS_PER_MONTH)


def _who_chart_id(measure: str, day: int) -> str:
    if measure == "weight_for_length":
        return "who_wfl" if day < WHO_LENGTH_HEIGHT_SWITCH_DAYS else "who_wfh"
    return {"weight": "who_wfa", "length": "who_lhfa", "head": "who_hcfa", "bmi": "who_bfa"}[
        measure
    ]


def _cdc_chart_id(measure: str, months: float) -> str | None:
    if months >= CDC_MAX_AGE_MONTHS:
        return None
    child = months >= CDC_CHILD_CHARTS_FROM_MONTHS
    if measure == "head":
        return "cdc_hcageinf"  # birth-36 months only; later ages fall outside the table
    if measure == "bmi":
        return "cdc_bmiagerev" if child else None  # CDC SAS: no BMI-for-age before 24 months
    infant, older = {
        "weight": ("cdc_wtageinf", "cdc_wtage"),
        "length": ("cdc_lenageinf", "cdc_statage"),
        "weight_for_length": ("cdc_wtleninf", "cdc_wtstat"),
    }[measure]
    return older if child else infant


def _lenhei(length: float, *, recumbent: bool | None, day: int, months: float | None) -> float:
    """WHO anthro adjust_lenhei(): standing height before 731 days + 0.7 cm (to length);
    recumbent length from 731 days - 0.7 cm (to height). A standing height before 9 months is
    treated as position unknown (anthro, c9mo_flag), i.e. not converted."""
    if recumbent is False and months is not None and months < WHO_MIN_STANDING_MONTHS:
        recumbent = None
    if recumbent is False and day < WHO_LENGTH_HEIGHT_SWITCH_DAYS:
        return length + LENGTH_HEIGHT_DIFF_CM
    if recumbent is True and day >= WHO_LENGTH_HEIGHT_SWITCH_DAYS:
        return length - LENGTH_HEIGHT_DIFF_CM
    return length


def assess(
    measure: str,
    *,
    sex: str,
    age_days: float,
    value: float,
    recumbent: bool | None = None,
    length_cm: float | None = None,
) -> GrowthResult | None:
    """Assess one measurement on the chart the clinic uses: WHO under 731 days, CDC after.

    measure: "weight" (kg), "length" (length or height, cm; `recumbent` True = lying,
    False = standing, None = the position expected for the age), "head" (cm), "bmi" (kg/m2,
    computed by the caller; under 2 y from recumbent length), "weight_for_length" (value = kg,
    `length_cm` = the length/height and `recumbent` its position).
    Returns None when no table covers the age (or the length); raises ValueError on a negative
    age, a non-positive value or an unknown measure/sex."""
    _check_measure(measure)
    if age_days < 0:
        raise ValueError("age must not be negative")
    chooser = assess_who if age_days < WHO_LENGTH_HEIGHT_SWITCH_DAYS else assess_cdc
    return chooser(
        measure, sex=sex, age_days=age_days, value=value, recumbent=recumbent, length_cm=length_cm
    )


def assess_who(
    measure: str,
    *,
    sex: str,
    age_days: float,
    value: float,
    recumbent: bool | None = None,
    length_cm: float | None = None,
) -> GrowthResult | None:
    """WHO 2006 standards as the WHO anthro package computes them, for 0 to < 60 months."""
    _check_measure(measure)
    _check_inputs(age_days, value, measure, length_cm)
    months = age_days / DAYS_PER_MONTH
    if months >= WHO_MAX_AGE_MONTHS:
        return None
    day = round_half_up(age_days)
    chart = CHARTS[_who_chart_id(measure, day)]
    if measure == "length":
        value = _lenhei(value, recumbent=recumbent, day=day, months=months)
        return _evaluate(chart, sex, float(day), value)
    if measure == "weight_for_length":
        lenhei = _lenhei(_req(length_cm), recumbent=recumbent, day=day, months=months)
        return _evaluate(chart, sex, lenhei, value)
    return _evaluate(chart, sex, float(day), value)


def assess_cdc(
    measure: str,
    *,
    sex: str,
    age_days: float,
    value: float,
    recumbent: bool | None = None,
    length_cm: float | None = None,
) -> GrowthResult | None:
    """CDC 2000 charts as CDC's SAS program reads them: infant charts before 24 months,
    2-20 y charts from 24 months, nothing at >= 240 months. CDC gives no length/height
    conversion; when the caller states that the position does not match the chart (recumbent
    from 731 days, standing before) the WHO anthro 0.7 cm conversion is applied."""
    _check_measure(measure)
    _check_inputs(age_days, value, measure, length_cm)
    months = age_days / DAYS_PER_MONTH
    cid = _cdc_chart_id(measure, months)
    if cid is None:
        return None
    chart = CHARTS[cid]
    day = round_half_up(age_days)
    if measure == "length":
        value = _lenhei(value, recumbent=recumbent, day=day, months=None)
    if measure == "weight_for_length":
        lenhei = _lenhei(_req(length_cm), recumbent=recumbent, day=day, months=None)
        return _evaluate(chart, sex, lenhei, value)
    return _evaluate(chart, sex, months, value)


def _req(length_cm: float | None) -> float:
    if length_cm is None:
        raise ValueError("weight_for_length needs length_cm")
    return length_cm


def _check_inputs(age_days: float, value: float, measure: str, length_cm: float | None) -> None:
    if age_days < 0:
        raise ValueError("age must not be negative")
    if not value > 0:
        raise ValueError("the measured value must be > 0")
    if measure == "weight_for_length" and (length_cm is None or not length_cm > 0):
        raise ValueError("weight_for_length needs a positive length_cm")


def _evaluate(chart: Chart, sex: str | int, x: float, value: float) -> GrowthResult | None:
    code = sex_code(sex)  # an unknown sex is an error, not "outside the table"
    try:
        L, M, S = lms_at(chart, code, x)
    except ValueError:
        return None  # outside the table
    z = chart_z(chart, value, L, M, S)
    # WHO: anthro flags the z-score rounded to 2 decimals (apply_zscore_and_growthstandards);
    # CDC: the SAS program flags the modified z-score.
    flag_z = round(z, 2) if chart.authority == "WHO" else cdc_modified_z(value, L, M, S)
    implausible = flag_z < chart.implausible_below or flag_z > chart.implausible_above
    percentile = z_to_percentile(z)
    return GrowthResult(
        chart=chart.id,
        source=chart.source,
        z=z,
        percentile=percentile,
        implausible=implausible,
        interpretation=_interpret(chart, L, M, S, z, percentile, implausible),
        value=value,
        x=x,
    )


# CDC weight categories for BMI-for-age, 2-20 y (CDC, "Defining Child BMI Categories";
# Barlow SE, Pediatrics 2007;120 Suppl 4:S164-92): underweight < 5th, healthy weight 5th to
# < 85th, overweight 85th to < 95th, obesity >= 95th percentile. CDC's 2022 extended BMI-for-age
# charts (for percentiles above the 95th) are not in the reference set (SOURCE.md section 1).
_BMI_CATEGORIES: tuple[tuple[float, str, Flag, str], ...] = (
    (5.0, "underweight", Flag.LOW, "Underweight (BMI-for-age < 5th percentile)"),
    (85.0, "healthy_weight", Flag.NORMAL, "Healthy weight (BMI-for-age 5th to < 85th percentile)"),
    (95.0, "overweight", Flag.HIGH, "Overweight (BMI-for-age 85th to < 95th percentile)"),
    (math.inf, "obesity", Flag.HIGH, "Obesity (BMI-for-age >= 95th percentile)"),
)
# Other indicators: the outermost lines of the clinical charts - the 3rd and 97th percentile
# curves of the CDC 2000 charts (Kuczmarski 2002, "set 2" charts) and of the WHO 2006 percentile
# charts (3rd, 15th, 50th, 85th, 97th). Below the 3rd -> L, above the 97th -> H.
LOW_PERCENTILE = 3.0
HIGH_PERCENTILE = 97.0


def _dec(v: float) -> Decimal:
    return Decimal(f"{v:.2f}")


def _interpret(
    chart: Chart, L: float, M: float, S: float, z: float, percentile: float, implausible: bool
) -> Interpretation:
    where = f"{chart.title} P{percentile:.1f}, z {z:+.2f} ({chart.authority})"
    if chart.id == "cdc_bmiagerev":
        _, code, flag, words = next(c for c in _BMI_CATEGORIES if percentile < c[0])
        low = chart_value_at_z(chart, L, M, S, percentile_to_z(5.0))
        high = chart_value_at_z(chart, L, M, S, percentile_to_z(85.0))
    else:
        if percentile < LOW_PERCENTILE:
            code, flag, words = "below_p3", Flag.LOW, "Below the 3rd percentile"
        elif percentile > HIGH_PERCENTILE:
            code, flag, words = "above_p97", Flag.HIGH, "Above the 97th percentile"
        else:
            code, flag, words = "p3_p97", Flag.NORMAL, "Between the 3rd and 97th percentiles"
        low = chart_value_at_z(chart, L, M, S, percentile_to_z(LOW_PERCENTILE))
        high = chart_value_at_z(chart, L, M, S, percentile_to_z(HIGH_PERCENTILE))
    text = f"{words}: {where}"
    if implausible:
        text += " - biologically implausible, please re-measure"
    return Interpretation(
        flag=flag,
        text=text,
        source=chart.source,
        low=_dec(low),
        high=_dec(high),
        unit=chart.unit,
        percentile=percentile,
        z=z,
        category=code,
    )
