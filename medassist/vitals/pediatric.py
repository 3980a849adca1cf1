"""Pediatric vital signs: heart rate and respiratory rate centiles (Fleming 2011), blood
pressure categories (AAP 2017) and the PALS hypotension rule.

Pure clinical logic (no models, no DB); tables are read by column name from the reference
directory (medassist.core.reference) and cached per resolved path.

Age: every function takes ``age_days`` (whole or fractional days since birth). Months and years
are derived with fixed lengths - 30.4375 days per month and 365.25 days per year (12 months =
1 year exactly; the same month length as the WHO anthro package and CDC's growth-chart SAS
program). So "3 months" begins at day 91.3125 (day 91 is the last day below 3 months, day 92
the first at or above), "2 years" at day 730.5 and "18 years" at day 6574.5. A band
``[from, to)`` contains the ages with from <= age < to. Calendar ("completed months from the
birth date") arithmetic is deliberately not used: the callers store age in days.
"""

from __future__ import annotations

import csv
import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings

from medassist.core import reference
from medassist.vitals import growth
from medassist.vitals.interpretation import Flag, Interpretation, Source

DAYS_PER_MONTH = growth.DAYS_PER_MONTH  # 30.4375
DAYS_PER_YEAR = 365.25
_UNIT_DAYS = {"months": DAYS_PER_MONTH, "years": DAYS_PER_YEAR}

FLEMING_SOURCE = Source(
    name="Fleming 2011 pediatric heart rate and respiratory rate centiles",
    version="2011",
    citation=(
        "Fleming S, Thompson M, Stevens R, et al. Normal ranges of heart rate and respiratory "
        "rate in children from birth to 18 years of age: a systematic review of observational "
        "studies. Lancet 2011;377:1011-18"
    ),
)
AAP_SOURCE = Source(
    name="AAP 2017 pediatric blood pressure classification",
    version="AAP 2017",
    citation=(
        "Flynn JT, Kaelber DC, Baker-Smith CM, et al. Clinical practice guideline for screening "
        "and management of high blood pressure in children and adolescents. Pediatrics "
        "2017;140(3):e20171904 (Tables 3, 4, 5)"
    ),
)

_FLEMING_DIR = "pediatric-vitals-fleming2011"
_AAP_DIR = "pediatric-bp-aap2017"


@lru_cache(maxsize=64)
def _resolved(root: str, folder: str, filename: str) -> str:
    """The resolved path of a reference file, cached per REFERENCE_DIR value (`root`); the
    loaders below cache the parsed tables per resolved path."""
    del root  # cache key only; reference.path() reads the same setting
    return str(reference.path("vitals", folder, filename).resolve())


def age_months(age_days: float) -> float:
    return age_days / DAYS_PER_MONTH


def age_years(age_days: float) -> float:
    return age_days / DAYS_PER_YEAR


def completed_years(age_days: float) -> int:
    return math.floor(age_days / DAYS_PER_YEAR)


def _check_age(age_days: float) -> None:
    if age_days < 0:
        raise ValueError("age must not be negative")


# ---------------------------------------------------------------------------------------------
# Heart rate / respiratory rate (Fleming 2011)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CentileBand:
    age_from: Decimal
    age_to: Decimal  # exclusive
    age_unit: str  # "months" | "years"
    start_day: float  # age_from in days (inclusive)
    end_day: float  # age_to in days (exclusive)
    p1: Decimal
    p10: Decimal
    p25: Decimal
    p50: Decimal
    p75: Decimal
    p90: Decimal
    p99: Decimal


@lru_cache(maxsize=16)
def _load_centiles(path: str) -> tuple[CentileBand, ...]:
    bands: list[CentileBand] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            unit = row["age_unit"].strip()
            lo, hi = Decimal(row["age_from"]), Decimal(row["age_to_exclusive"])
            values = {k: Decimal(row[k]) for k in ("p1", "p10", "p25", "p50", "p75", "p90", "p99")}
            bands.append(
                CentileBand(
                    age_from=lo,
                    age_to=hi,
                    age_unit=unit,
                    start_day=float(lo) * _UNIT_DAYS[unit],
                    end_day=float(hi) * _UNIT_DAYS[unit],
                    **values,
                )
            )
    bands.sort(key=lambda b: b.start_day)
    for a, b in zip(bands, bands[1:], strict=False):
        if a.end_day != b.start_day:
            raise ValueError(f"{path}: age bands are not contiguous at {a.age_to} {a.age_unit}")
    return tuple(bands)


def centile_bands(kind: str) -> tuple[CentileBand, ...]:
    """The Fleming 2011 bands for kind "hr" or "rr", youngest first."""
    filename = {"hr": "fleming2011_hr_centiles.csv", "rr": "fleming2011_rr_centiles.csv"}[kind]
    return _load_centiles(_resolved(str(settings.REFERENCE_DIR), _FLEMING_DIR, filename))


def band_for(kind: str, age_days: float) -> CentileBand | None:
    _check_age(age_days)
    bands = centile_bands(kind)
    i = bisect_right([b.start_day for b in bands], age_days) - 1
    if i < 0 or age_days >= bands[i].end_day:
        return None
    return bands[i]


def _band_label(b: CentileBand) -> str:
    return f"{b.age_from}-<{b.age_to} {b.age_unit}"


def _centile_flag(kind: str, age_days: float, value: float) -> Interpretation | None:
    band = band_for(kind, age_days)
    if band is None:
        return None
    v = Decimal(str(value))
    what = "Heart rate" if kind == "hr" else "Respiratory rate"
    # Flags (clinic default policy: pediatric values beyond the 99th centile are critical):
    # < p1 -> LL, p1 to < p10 -> L, p10 to p90 -> N, > p90 to p99 -> H, > p99 -> HH.
    if v < band.p1:
        flag, code, words = Flag.CRITICAL_LOW, "below_p1", "below the 1st centile"
    elif v < band.p10:
        flag, code, words = Flag.LOW, "p1_p10", "between the 1st and 10th centiles"
    elif v <= band.p90:
        flag, code, words = Flag.NORMAL, "p10_p90", "between the 10th and 90th centiles"
    elif v <= band.p99:
        flag, code, words = Flag.HIGH, "p90_p99", "between the 90th and 99th centiles"
    else:
        flag, code, words = Flag.CRITICAL_HIGH, "above_p99", "above the 99th centile"
    return Interpretation(
        flag=flag,
        text=f"{what} {words} for age {_band_label(band)} (Fleming 2011)",
        source=FLEMING_SOURCE,
        low=band.p10,
        high=band.p90,
        unit="/min",
        # Only 7 centiles are published per band; an interpolated percentile would be an
        # invention, so none is reported.
        percentile=None,
        category=code,
    )


def heart_rate(age_days: float, bpm: float) -> Interpretation | None:
    """Heart rate against the Fleming 2011 centiles for the age band; None from 18 years."""
    return _centile_flag("hr", age_days, bpm)


def respiratory_rate(age_days: float, per_min: float) -> Interpretation | None:
    """Respiratory rate against the Fleming 2011 centiles; None from 18 years."""
    return _centile_flag("rr", age_days, per_min)


# ---------------------------------------------------------------------------------------------
# Blood pressure (AAP 2017)
# ---------------------------------------------------------------------------------------------

# Columns of the Flynn 2017 Tables 4/5 (height percentiles).
HEIGHT_COLUMNS: tuple[int, ...] = (5, 10, 25, 50, 75, 90, 95)
CATEGORIES: tuple[str, ...] = ("normal", "elevated", "stage1", "stage2")
_CATEGORY_WORDS = {
    "normal": "Normal blood pressure",
    "elevated": "Elevated blood pressure",
    "stage1": "Stage 1 hypertension",
    "stage2": "Stage 2 hypertension",
}
_CATEGORY_NAMES = {
    "Normal BP": "normal",
    "Elevated BP": "elevated",
    "Stage 1 HTN": "stage1",
    "Stage 2 HTN": "stage2",
}
# Flynn 2017 Tables 4/5 cover ages 1-17 y; Table 3 splits the rules at 13 years.
BP_MIN_YEARS = 1
BP_MAX_YEARS_EXCLUSIVE = 18


@dataclass(frozen=True)
class BPRow:
    """Flynn 2017 Table 4/5 values for one sex, completed year of age and height column."""

    p50: tuple[int, int]  # (SBP, DBP) mmHg
    p90: tuple[int, int]
    p95: tuple[int, int]


@dataclass(frozen=True)
class BPRules:
    """Flynn 2017 Table 3 numbers, read from aap2017_bp_categories.csv."""

    # 1 to < 13 y: absolute caps, (SBP, DBP), applied "whichever is lower" with the percentiles.
    young_elevated_cap: tuple[int, int]  # 120/80
    young_stage1_cap: tuple[int, int]  # 130/80
    young_stage2_cap: tuple[int, int]  # 140/90
    stage2_offset: int  # 95th percentile + 12 mmHg
    # >= 13 y: lower bounds of each category, (SBP, DBP); None = that component never
    # reaches the category (elevated is "120/<80 to 129/<80": SBP only).
    adult_elevated: tuple[int | None, int | None]
    adult_stage1: tuple[int | None, int | None]
    adult_stage2: tuple[int | None, int | None]
    adult_from_years: int  # 13


_PAIR = re.compile(r"(\d+)\s*/\s*(<?)\s*(\d+)")


def _first_pair(rule: str) -> tuple[int, int, bool]:
    m = _PAIR.search(rule)
    if m is None:
        raise ValueError(f"no SBP/DBP pair in AAP rule {rule!r}")
    return int(m.group(1)), int(m.group(3)), m.group(2) == "<"


@lru_cache(maxsize=8)
def _load_rules(path: str) -> BPRules:
    young: dict[str, str] = {}
    adult: dict[str, str] = {}
    adult_from: int | None = None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            group = row["age_group"].strip()
            code = _CATEGORY_NAMES[row["category"].strip()]
            if group.startswith(">="):
                adult[code] = row["rule_sbp_or_dbp"]
                adult_from = int(re.findall(r"\d+", group)[0])
            else:
                young[code] = row["rule_sbp_or_dbp"]
    offset = re.search(r"95th percentile \+ (\d+) mmHg", young["stage2"])
    if offset is None or adult_from is None:
        raise ValueError(f"{path}: cannot read the stage 2 offset / adult age group")

    def cap(code: str) -> tuple[int, int]:
        s, d, _ = _first_pair(young[code])
        return s, d

    def lower(code: str) -> tuple[int | None, int | None]:
        s, d, dbp_below = _first_pair(adult[code])
        return s, (None if dbp_below else d)

    return BPRules(
        young_elevated_cap=cap("elevated"),
        young_stage1_cap=cap("stage1"),
        young_stage2_cap=cap("stage2"),
        stage2_offset=int(offset.group(1)),
        adult_elevated=lower("elevated"),
        adult_stage1=lower("stage1"),
        adult_stage2=lower("stage2"),
        adult_from_years=adult_from,
    )


def bp_rules() -> BPRules:
    return _load_rules(
        _resolved(str(settings.REFERENCE_DIR), _AAP_DIR, "aap2017_bp_categories.csv")
    )


@lru_cache(maxsize=8)
def _load_bp_table(path: str) -> dict[tuple[int, int], BPRow]:
    raw: dict[tuple[int, int, int], tuple[int, int]] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            age, bp_pct = int(row["age_years"]), int(row["bp_percentile"])
            for h in HEIGHT_COLUMNS:
                raw[(age, bp_pct, h)] = (
                    int(row[f"sbp_height_p{h}"]),
                    int(row[f"dbp_height_p{h}"]),
                )
    ages = sorted({k[0] for k in raw})
    return {
        (age, h): BPRow(p50=raw[(age, 50, h)], p90=raw[(age, 90, h)], p95=raw[(age, 95, h)])
        for age in ages
        for h in HEIGHT_COLUMNS
    }


def bp_table(sex: str) -> dict[tuple[int, int], BPRow]:
    """Flynn 2017 Table 4 (boys) / 5 (girls), keyed by (completed years, height column)."""
    filename = {1: "flynn2017_bp_boys.csv", 2: "flynn2017_bp_girls.csv"}[growth.sex_code(sex)]
    return _load_bp_table(_resolved(str(settings.REFERENCE_DIR), _AAP_DIR, filename))


def nearest_height_column(height_percentile: float) -> int:
    """The tabulated height-percentile column closest to the child's height percentile
    (AAP 2017 tables are read at the nearest column; pedbp's flynn2017 lookup takes the column
    minimising |column - percentile|, below the 5th -> 5, above the 95th -> 95). A tie
    (e.g. 7.5, midway between 5 and 10) goes to the higher column, as pedbp's lookup does
    (it takes the last of the equally near rows)."""
    best = HEIGHT_COLUMNS[0]
    for col in HEIGHT_COLUMNS:
        if abs(col - height_percentile) <= abs(best - height_percentile):
            best = col
    return best


def height_percentile(*, age_days: float, sex: str, height_cm: float) -> float | None:
    """CDC 2000 percentile of height: length-for-age before 24 months, stature-for-age from
    24 months (the CDC charts the AAP 2017 tables were built on; Flynn 2017)."""
    months = age_months(age_days)
    chart = "cdc_statage" if months >= growth.CDC_CHILD_CHARTS_FROM_MONTHS else "cdc_lenageinf"
    try:
        L, M, S = growth.lms_at(chart, sex, months)
    except ValueError:
        return None
    return growth.z_to_percentile(growth.lms_z(height_cm, L, M, S))


@dataclass(frozen=True)
class BPThresholds:
    """One child's thresholds (mmHg) for SBP or DBP."""

    p90: int
    p95: int
    p95_plus_12: int
    elevated: int | None  # lowest value classed elevated (None: this component never is)
    stage1: int
    stage2: int


@dataclass(frozen=True)
class PediatricBP:
    """Flat, JSON-friendly fields (stored with the reading); `.sbp`/`.dbp` group them."""

    category: str  # "normal" | "elevated" | "stage1" | "stage2" (the higher of SBP and DBP)
    sbp_category: str
    dbp_category: str
    height_percentile: float  # CDC 2000, as computed
    height_column: int  # the Flynn 2017 column used (5, 10, 25, 50, 75, 90, 95)
    age_years: int  # completed years: the table row
    sbp_p90: int
    sbp_p95: int
    sbp_p95_plus_12: int
    sbp_elevated: int | None  # lowest SBP classed elevated / stage 1 / stage 2 for this child
    sbp_stage1: int
    sbp_stage2: int
    dbp_p90: int
    dbp_p95: int
    dbp_p95_plus_12: int
    dbp_elevated: int | None  # None from 13 y: DBP alone is never "elevated" (120/<80)
    dbp_stage1: int
    dbp_stage2: int
    interpretation: Interpretation

    @property
    def sbp(self) -> BPThresholds:
        return BPThresholds(self.sbp_p90, self.sbp_p95, self.sbp_p95_plus_12,
                            self.sbp_elevated, self.sbp_stage1, self.sbp_stage2)  # fmt: skip

    @property
    def dbp(self) -> BPThresholds:
        return BPThresholds(self.dbp_p90, self.dbp_p95, self.dbp_p95_plus_12,
                            self.dbp_elevated, self.dbp_stage1, self.dbp_stage2)  # fmt: skip


def _classify(value: float, t: BPThresholds) -> str:
    if value >= t.stage2:
        return "stage2"
    if value >= t.stage1:
        return "stage1"
    if t.elevated is not None and value >= t.elevated:
        return "elevated"
    return "normal"


def _young_thresholds(p90: int, p95: int, rules: BPRules, i: int) -> BPThresholds:
    # Flynn 2017 Table 3, 1 to < 13 y: each category starts at the percentile value or at the
    # absolute cap, whichever is lower (i = 0 for SBP, 1 for DBP).
    p95_12 = p95 + rules.stage2_offset
    return BPThresholds(
        p90=p90,
        p95=p95,
        p95_plus_12=p95_12,
        elevated=min(p90, rules.young_elevated_cap[i]),
        stage1=min(p95, rules.young_stage1_cap[i]),
        stage2=min(p95_12, rules.young_stage2_cap[i]),
    )


def _adult_thresholds(p90: int, p95: int, rules: BPRules, i: int) -> BPThresholds:
    # Flynn 2017 Table 3, >= 13 y: the adult-style cut-offs; percentiles shown for reference.
    stage1, stage2 = rules.adult_stage1[i], rules.adult_stage2[i]
    if stage1 is None or stage2 is None:
        raise ValueError("AAP >= 13 y stage 1/2 rules need both SBP and DBP values")
    return BPThresholds(
        p90=p90,
        p95=p95,
        p95_plus_12=p95 + rules.stage2_offset,
        elevated=rules.adult_elevated[i],
        stage1=stage1,
        stage2=stage2,
    )


def _reason(category: str, value: float, t: BPThresholds, adult: bool, rules: BPRules) -> str:
    if category == "normal":
        return "<90th percentile" if not adult else "<120/80 mmHg"
    bound = {"elevated": t.elevated, "stage1": t.stage1, "stage2": t.stage2}[category]
    if adult:
        return f"≥{bound} mmHg"
    pct = {"elevated": t.p90, "stage1": t.p95, "stage2": t.p95_plus_12}[category]
    pct_words = {
        "elevated": "90th percentile",
        "stage1": "95th percentile",
        "stage2": f"95th percentile + {rules.stage2_offset} mmHg",
    }[category]
    if bound is not None and bound < pct:
        return f"≥{bound} mmHg"
    return f"≥{pct_words}"


def blood_pressure(
    *,
    age_days: float,
    sex: str,
    height_cm: float,
    sbp: float,
    dbp: float,
    years: int | None = None,
) -> PediatricBP | None:
    """AAP 2017 blood-pressure category for ages 1 to < 18 years (None outside).

    Row = completed years of age; column = the nearest height-percentile column to the
    child's CDC 2000 height percentile. SBP and DBP are classified separately and the higher
    category applies (Flynn 2017, Table 3 footnote). `years`: completed years by the calendar
    when the caller knows the birth date (else from age_days)."""
    _check_age(age_days)
    growth.sex_code(sex)  # an unknown sex is an error, not "no table"
    years = completed_years(age_days) if years is None else years
    if not BP_MIN_YEARS <= years < BP_MAX_YEARS_EXCLUSIVE:
        return None
    hp = height_percentile(age_days=age_days, sex=sex, height_cm=height_cm)
    if hp is None:
        return None
    column = nearest_height_column(hp)
    row = bp_table(sex).get((years, column))
    if row is None:
        return None
    rules = bp_rules()
    adult = years >= rules.adult_from_years
    make = _adult_thresholds if adult else _young_thresholds
    t_sbp = make(row.p90[0], row.p95[0], rules, 0)
    t_dbp = make(row.p90[1], row.p95[1], rules, 1)
    c_sbp, c_dbp = _classify(sbp, t_sbp), _classify(dbp, t_dbp)
    category = max(c_sbp, c_dbp, key=CATEGORIES.index)
    if category == "normal":
        reason = _reason("normal", sbp, t_sbp, adult, rules)
    elif CATEGORIES.index(c_sbp) >= CATEGORIES.index(c_dbp):
        reason = "systolic " + _reason(category, sbp, t_sbp, adult, rules)
    else:
        reason = "diastolic " + _reason(category, dbp, t_dbp, adult, rules)
    interpretation = Interpretation(
        flag=Flag.NORMAL if category == "normal" else Flag.HIGH,
        text=f"{_CATEGORY_WORDS[category]} ({reason})",
        source=AAP_SOURCE,
        unit="mm[Hg]",
        category=category,
    )
    return PediatricBP(
        category=category,
        sbp_category=c_sbp,
        dbp_category=c_dbp,
        height_percentile=hp,
        height_column=column,
        age_years=years,
        sbp_p90=t_sbp.p90,
        sbp_p95=t_sbp.p95,
        sbp_p95_plus_12=t_sbp.p95_plus_12,
        sbp_elevated=t_sbp.elevated,
        sbp_stage1=t_sbp.stage1,
        sbp_stage2=t_sbp.stage2,
        dbp_p90=t_dbp.p90,
        dbp_p95=t_dbp.p95,
        dbp_p95_plus_12=t_dbp.p95_plus_12,
        dbp_elevated=t_dbp.elevated,
        dbp_stage1=t_dbp.stage1,
        dbp_stage2=t_dbp.stage2,
        interpretation=interpretation,
    )


# ---------------------------------------------------------------------------------------------
# PALS hypotension
# ---------------------------------------------------------------------------------------------

# AHA PALS definition of hypotension by systolic BP (as stated in reference/vitals/SOURCE.md
# section 6; the PALS tables themselves were not saved): term neonate (< 28 days) < 60 mmHg;
# infant 1-12 months < 70 mmHg; 1-10 years < 70 + 2 x age in years; over 10 years < 90 mmHg.
PALS_NEONATE_DAYS = 28


def pals_hypotension_threshold(age_days: float, *, years: int | None = None) -> float:
    """The SBP (mmHg) below which PALS calls the child hypotensive. "Age in years" is
    completed years (1 y = 365.25 days), so the threshold rises 2 mmHg at each birthday and
    reaches 90 mmHg at 10 years, where the "over 10 years" rule takes over unchanged."""
    _check_age(age_days)
    if age_days < PALS_NEONATE_DAYS:
        return 60
    years = completed_years(age_days) if years is None else years
    if years < 1:
        return 70
    if years <= 10:
        return 70 + 2 * years
    return 90


def pals_hypotension(age_days: float, sbp: float, *, years: int | None = None) -> bool:
    return sbp < pals_hypotension_threshold(age_days, years=years)
