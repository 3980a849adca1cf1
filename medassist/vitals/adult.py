"""Adult interpretations driven by the authorities' tables in the reference directory:

- ACC/AHA 2017 blood-pressure categories (Whelton PK et al. Hypertension 2018;71:e13-e115),
  read from vitals/adult-bp-acc-aha2017/acc_aha_2017_bp_categories.csv;
- NEWS2 (Royal College of Physicians 2017), read from vitals/news2/news2_parameter_scores.csv
  and news2_clinical_response.csv.

No cut-off is written in this module: every number comes from those files (SOURCE.md §4, §5).

Values between a table's steps: the NEWS2 chart's bands are whole numbers (temperature: one
decimal), and the chart says nothing about finer readings. A value is rounded ROUND_HALF_UP to
the number of decimals the parameter's bands use (read from the file), so a temperature of
35.05 °C is read as 35.1 (score 1) and 35.04 as 35.0 (score 3); a pulse of 90.5 is read as 91.
Floats are read through their shortest repr (str(35.05) == "35.05").
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from medassist.core import reference
from medassist.vitals.interpretation import Flag, Interpretation, Source
from medassist.vitals.units import CEL, MMHG, PCT, PER_MIN

ACC_AHA_2017 = Source(
    name="ACC/AHA 2017 blood pressure categories",
    version="2017",
    citation="Whelton PK et al. Hypertension 2018;71:e13-e115",
)
NEWS2_SOURCE = Source(
    name="National Early Warning Score 2 (NEWS2)",
    version="RCP 2017",
    citation=(
        "Royal College of Physicians. National Early Warning Score (NEWS) 2: standardising the "
        "assessment of acute-illness severity in the NHS. London: RCP, 2017"
    ),
)

BP_FILE = ("vitals", "adult-bp-acc-aha2017", "acc_aha_2017_bp_categories.csv")
NEWS2_SCORES_FILE = ("vitals", "news2", "news2_parameter_scores.csv")
NEWS2_RESPONSE_FILE = ("vitals", "news2", "news2_clinical_response.csv")

Reading = Decimal | int | float


def _number(value: Reading, what: str) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"{what}: {value!r} is not a number")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return number


def _bound(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text) if text else None


def _within(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


# ---------------------------------------------------------------------------------------------
# ACC/AHA 2017


@dataclass(frozen=True)
class BpCategory:
    code: str  # normal, elevated, stage1, stage2, crisis
    name: str  # the file's wording
    sbp_min: Decimal | None
    sbp_max: Decimal | None
    logic: str  # "and" | "or" | "and/or"
    dbp_min: Decimal | None
    dbp_max: Decimal | None
    notes: str

    def matches(self, sbp: Decimal, dbp: Decimal) -> bool:
        s = _within(sbp, self.sbp_min, self.sbp_max)
        d = _within(dbp, self.dbp_min, self.dbp_max)
        return s and d if self.logic == "and" else s or d


_BP_CODES = (
    ("Normal", "normal"),
    ("Elevated", "elevated"),
    ("Stage 1", "stage1"),
    ("Stage 2", "stage2"),
    ("Hypertensive crisis", "crisis"),
)
# Flag per category (the brief's mapping: anything above normal is High, crisis is critical).
_BP_FLAGS = {
    "normal": Flag.NORMAL,
    "elevated": Flag.HIGH,
    "stage1": Flag.HIGH,
    "stage2": Flag.HIGH,
    "crisis": Flag.CRITICAL_HIGH,
}


def _bp_code(name: str) -> str:
    for prefix, code in _BP_CODES:
        if name.startswith(prefix):
            return code
    raise ValueError(f"Unknown ACC/AHA category in {BP_FILE[-1]}: {name!r}")


@cache
def _bp_table(path: Path) -> tuple[BpCategory, ...]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = tuple(
            BpCategory(
                code=_bp_code(row["category"]),
                name=row["category"].strip(),
                sbp_min=_bound(row["sbp_min"]),
                sbp_max=_bound(row["sbp_max"]),
                logic=row["logic"].strip(),
                dbp_min=_bound(row["dbp_min"]),
                dbp_max=_bound(row["dbp_max"]),
                notes=row["notes"].strip(),
            )
            for row in csv.DictReader(f)
        )
    if [r.code for r in rows] != [code for _, code in _BP_CODES]:
        raise ValueError(f"{path}: expected the categories in ascending order of severity")
    if any(r.logic not in ("and", "or", "and/or") for r in rows):
        raise ValueError(f"{path}: unknown logic column value")
    return rows


def bp_categories() -> tuple[BpCategory, ...]:
    """The ACC/AHA 2017 table as read from the reference directory, lowest category first."""
    return _bp_table(reference.path(*BP_FILE))


def blood_pressure_category(sbp: int, dbp: int) -> Interpretation:
    """ACC/AHA 2017 category of one adult reading. The file's rows are in ascending severity;
    a reading belongs to the highest row it matches (each row's own and/or logic), which is the
    guideline's rule that when SBP and DBP fall in different categories the higher applies."""
    s, d = _number(sbp, "Systolic"), _number(dbp, "Diastolic")
    if s <= 0 or d <= 0:
        raise ValueError("Blood pressure values must be above zero")
    table = bp_categories()
    matched = [row for row in table if row.matches(s, d)]
    if not matched:  # the table covers every pair; an edited file that does not must fail loudly
        raise ValueError(f"{sbp}/{dbp} mmHg matches no row of {BP_FILE[-1]}")
    row = matched[-1]
    return Interpretation(
        flag=_BP_FLAGS[row.code],
        text=row.name,
        source=ACC_AHA_2017,
        unit=MMHG,
        category=row.code,
    )


# ---------------------------------------------------------------------------------------------
# NEWS2


@dataclass(frozen=True)
class Band:
    parameter: str
    low: Decimal | None  # inclusive; None = unbounded
    high: Decimal | None
    score: int
    unit: str
    condition: str

    def contains(self, value: Decimal) -> bool:
        return _within(value, self.low, self.high)


@dataclass(frozen=True)
class Response:
    trigger: str
    clinical_risk: str
    response: str
    monitoring: str
    low: int | None  # aggregate range the row applies to; None/None for the single-red row
    high: int | None
    single_red: bool


@dataclass(frozen=True)
class News2:
    total: int
    scores: dict[str, int] = field(hash=False)
    any_red: bool
    clinical_risk: str
    response: str
    monitoring: str
    spo2_scale: int


@cache
def _score_table(path: Path) -> tuple[Band, ...]:
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(
            Band(
                parameter=row["parameter"].strip(),
                low=_bound(row["min_inclusive"]),
                high=_bound(row["max_inclusive"]),
                score=int(row["score"]),
                unit=row["unit"].strip(),
                condition=row["condition"].strip(),
            )
            for row in csv.DictReader(f)
        )


_AGGREGATE = re.compile(r"aggregate (\d+)(?:-(\d+)| or more)?$")


@cache
def _response_table(path: Path) -> tuple[Response, ...]:
    rows: list[Response] = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            trigger = row["trigger"].strip()
            m = _AGGREGATE.match(trigger)
            low: int | None
            high: int | None
            if m:
                low = int(m.group(1))
                if m.group(2):
                    high = int(m.group(2))
                elif trigger.endswith("or more"):
                    high = None
                else:
                    high = low
                single_red = False
            elif "3 in any single parameter" in trigger:
                low = high = None
                single_red = True
            else:
                raise ValueError(f"{path}: unknown trigger {trigger!r}")
            rows.append(
                Response(
                    trigger=trigger,
                    clinical_risk=row["clinical_risk"].strip(),
                    response=row["response"].strip(),
                    monitoring=row["minimum_monitoring_frequency"].strip(),
                    low=low,
                    high=high,
                    single_red=single_red,
                )
            )
    return tuple(rows)


def news2_bands() -> tuple[Band, ...]:
    """Every row of news2_parameter_scores.csv, in file order."""
    return _score_table(reference.path(*NEWS2_SCORES_FILE))


def news2_responses() -> tuple[Response, ...]:
    """news2_clinical_response.csv, in file order — which is ascending urgency (RCP Table 2)."""
    return _response_table(reference.path(*NEWS2_RESPONSE_FILE))


def _places(bands: list[Band]) -> int:
    """Decimals the parameter's band edges are written with (temperature 1, the rest 0)."""
    places = 0
    for band in bands:
        for edge in (band.low, band.high):
            if edge is not None:
                exponent = edge.as_tuple().exponent
                if isinstance(exponent, int):
                    places = max(places, -exponent)
    return places


def _applies(band: Band, on_oxygen: bool) -> bool:
    if band.condition == "on air":
        return not on_oxygen
    if band.condition == "on oxygen":
        return on_oxygen
    return band.condition == ""


def _parameter_bands(parameter: str, on_oxygen: bool) -> list[Band]:
    bands = [b for b in news2_bands() if b.parameter == parameter and _applies(b, on_oxygen)]
    if not bands:
        raise ValueError(f"No NEWS2 bands for {parameter!r}")
    return bands


def _band_for(parameter: str, value: Reading, on_oxygen: bool = False) -> tuple[Band, Decimal]:
    bands = _parameter_bands(parameter, on_oxygen)
    number = _number(value, parameter)
    step = Decimal(1).scaleb(-_places(bands))
    number = number.quantize(step, rounding=ROUND_HALF_UP)
    hits = [b for b in bands if b.contains(number)]
    if len(hits) != 1:
        raise ValueError(f"NEWS2 {parameter}: {value} falls in {len(hits)} bands")
    return hits[0], number


def parameter_score(parameter: str, value: Reading, *, on_oxygen: bool = False) -> int:
    """The NEWS2 score of one numeric parameter as the CSV names it (respiration_rate,
    spo2_scale1, spo2_scale2, systolic_bp, pulse, temperature)."""
    return _band_for(parameter, value, on_oxygen)[0].score


def _condition_score(parameter: str, pick: str) -> int:
    rows = [b for b in news2_bands() if b.parameter == parameter]
    for band in rows:
        if band.condition.lower().startswith(pick.lower()):
            return band.score
    raise ValueError(f"No NEWS2 {parameter} row for {pick!r}")


def _consciousness_score(level: str) -> int:
    rows = [b for b in news2_bands() if b.parameter == "consciousness"]
    code = level.strip().upper()
    if len(code) != 1:
        raise ValueError(f"Consciousness must be A, C, V, P or U (ACVPU), not {level!r}")
    for band in rows:
        if band.condition[:1].upper() == code and band.condition.lower().startswith("alert"):
            return band.score
        letters = re.search(r"\(([A-Z]+)\)", band.condition)
        if letters and code in letters.group(1):
            return band.score
    raise ValueError(f"Consciousness must be A, C, V, P or U (ACVPU), not {level!r}")


def news2(
    *,
    respiration_rate: Reading,
    spo2: Reading,
    on_oxygen: bool,
    systolic: Reading,
    pulse: Reading,
    consciousness: str,
    temperature_c: Reading,
    spo2_scale: int = 1,
) -> News2:
    """NEWS2 aggregate score and clinical response (RCP 2017, Chart 1 and Tables 1–2).

    spo2_scale 2 is only for confirmed hypercapnic respiratory failure with a prescribed
    88–92 % target; on scale 2 the file's "on air"/"on oxygen" rows apply (≥93 % scores 0 on air,
    1/2/3 on oxygen). Response: the highest row of news2_clinical_response.csv that applies —
    the aggregate's row, or the "score of 3 in any single parameter" row when a parameter
    scores 3 and the aggregate's row is less urgent (aggregate 7+ high, 5–6 medium, a single 3
    low-medium, 1–4 low, 0 low)."""
    if spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale must be 1 or 2, not {spo2_scale!r}")
    scores = {
        "respiration_rate": parameter_score("respiration_rate", respiration_rate),
        "spo2": parameter_score(f"spo2_scale{spo2_scale}", spo2, on_oxygen=on_oxygen),
        "air_or_oxygen": _condition_score("air_or_oxygen", "oxygen" if on_oxygen else "air"),
        "systolic_bp": parameter_score("systolic_bp", systolic),
        "pulse": parameter_score("pulse", pulse),
        "consciousness": _consciousness_score(consciousness),
        "temperature": parameter_score("temperature", temperature_c),
    }
    total = sum(scores.values())
    any_red = any(score == 3 for score in scores.values())
    row = response_for(total, any_red)
    return News2(
        total=total,
        scores=scores,
        any_red=any_red,
        clinical_risk=row.clinical_risk,
        response=row.response,
        monitoring=row.monitoring,
        spo2_scale=spo2_scale,
    )


def response_for(total: int, any_red: bool) -> Response:
    """The clinical-response row for an aggregate score (and whether any parameter scored 3)."""
    applicable = [
        r
        for r in news2_responses()
        if (r.single_red and any_red)
        or (
            not r.single_red
            and r.low is not None
            and total >= r.low
            and (r.high is None or total <= r.high)
        )
    ]
    if not applicable:
        raise ValueError(f"No NEWS2 response row for aggregate {total}")
    return applicable[-1]  # file order is ascending urgency


# ---------------------------------------------------------------------------------------------
# Single-parameter flowsheet interpretations (NEWS2 zero band = reference range)


def _zero_range(bands: list[Band]) -> tuple[Decimal | None, Decimal | None]:
    """The span of the score-0 bands (contiguous in every NEWS2 parameter)."""
    zero = [b for b in bands if b.score == 0]
    lows = [b.low for b in zero]
    highs = [b.high for b in zero]
    low = None if any(v is None for v in lows) else min(v for v in lows if v is not None)
    high = None if any(v is None for v in highs) else max(v for v in highs if v is not None)
    return low, high


def _interpret(
    parameter: str, value: Reading, unit: str, what: str, on_oxygen: bool
) -> Interpretation:
    band, number = _band_for(parameter, value, on_oxygen)
    low, high = _zero_range(_parameter_bands(parameter, on_oxygen))
    below = low is not None and number < low
    if band.score == 0:
        flag = Flag.NORMAL
    elif band.score == 3:
        flag = Flag.CRITICAL_LOW if below else Flag.CRITICAL_HIGH
    else:
        flag = Flag.LOW if below else Flag.HIGH
    text = f"{what}: {flag.display} (NEWS2 score {band.score})"
    return Interpretation(
        flag=flag,
        text=text,
        source=NEWS2_SOURCE,
        low=low,
        high=high,
        unit=unit,
        category=f"news2-{band.score}",
    )


def heart_rate(bpm: Reading) -> Interpretation:
    return _interpret("pulse", bpm, PER_MIN, "Heart rate", False)


def respiratory_rate(n: Reading) -> Interpretation:
    return _interpret("respiration_rate", n, PER_MIN, "Respiratory rate", False)


def temperature(celsius: Reading) -> Interpretation:
    return _interpret("temperature", celsius, CEL, "Temperature", False)


def spo2(pct: Reading, on_oxygen: bool, *, scale: int = 1) -> Interpretation:
    """SpO2 on NEWS2 scale 1 (default) or 2. On scale 1 the oxygen itself is scored separately
    (air_or_oxygen), so on_oxygen changes only scale 2's reading."""
    if scale not in (1, 2):
        raise ValueError(f"scale must be 1 or 2, not {scale!r}")
    return _interpret(f"spo2_scale{scale}", pct, PCT, "SpO2", on_oxygen)
