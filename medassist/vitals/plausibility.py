"""Plausibility of entered vital signs: refuse the impossible naming the likely slip, ask to
confirm the improbable. Pure: no models, no database, no reference files.

Two bounds per measure and age: outside the *refuse* bounds the value cannot be saved (it is
beyond anything recorded or beyond a chosen engineering bound, as each comment says); outside
the *confirm* bounds the assistant is asked to confirm. When the value is outside the confirm
bounds but would be ordinary in the other unit (or with a decimal point), the message names
that slip: "Temperature 986 °F is impossible — did you mean 98.6 °F?".

Ages: newborn < 28 days, infant < 1 year, child < 18 years, adult from 18 years (18 × 365.25
days). Weight, length/height and head circumference bounds follow the child's age through an
envelope of the CDC 2000 growth charts (P3 lowest of both sexes, P97 highest of both sexes,
read from the reference files once and written below, rounded to 0.1), widened by chosen
factors — the confirm band is deliberately wide: it is there to catch slips, not to grade
growth (growth.py does that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Literal

from medassist.vitals import units
from medassist.vitals.units import (
    CEL,
    CM,
    DEGF,
    IN,
    KG,
    L_MIN,
    LB,
    MMHG,
    OZ,
    PCT,
    PER_MIN,
    SCORE,
    G,
    Quantity,
)

Level = Literal["refuse", "confirm"]


@dataclass(frozen=True)
class Finding:
    measure: str
    level: Level
    message: str
    code: str


LABELS: dict[str, str] = {
    "systolic": "Systolic",
    "diastolic": "Diastolic",
    "heart_rate": "Heart rate",
    "respiratory_rate": "Respiratory rate",
    "temperature": "Temperature",
    "spo2": "SpO2",
    "height": "Height",
    "weight": "Weight",
    "head": "Head circumference",
    "pain": "Pain",
    "o2_flow": "Oxygen flow",
    "o2_concentration": "Oxygen concentration",
}

UNITS: dict[str, tuple[str, ...]] = {
    "systolic": (MMHG,),
    "diastolic": (MMHG,),
    "heart_rate": (PER_MIN,),
    "respiratory_rate": (PER_MIN,),
    "temperature": (CEL, DEGF),
    "spo2": (PCT,),
    "height": (CM, IN),
    "weight": (KG, G, LB, OZ),
    "head": (CM, IN),
    "pain": (SCORE,),
    "o2_flow": (L_MIN,),
    "o2_concentration": (PCT,),
}

DAYS_PER_YEAR = Fraction(36525, 100)
NEWBORN_DAYS = 28  # neonatal period, WHO definition (first 28 days)
INFANT_DAYS = 365
ADULT_DAYS = 6575  # 18 years × 365.25 days, rounded up: adult from the 18th birthday
RECUMBENT_UNTIL_DAYS = 731  # WHO 2006: recumbent length before 731 days, standing height after


@dataclass(frozen=True)
class Limits:
    """In the measure's canonical unit (kg, cm, °C, or the entered unit)."""

    refuse_low: Fraction | None
    confirm_low: Fraction | None
    confirm_high: Fraction | None
    refuse_high: Fraction | None

    def level(self, value: Fraction) -> Level | None:
        if (self.refuse_low is not None and value < self.refuse_low) or (
            self.refuse_high is not None and value > self.refuse_high
        ):
            return "refuse"
        if (self.confirm_low is not None and value < self.confirm_low) or (
            self.confirm_high is not None and value > self.confirm_high
        ):
            return "confirm"
        return None

    def probable(self, value: Fraction) -> bool:
        return self.level(value) is None


def _f(text: str | int) -> Fraction:
    return Fraction(text)


def _lim(
    a: str | int | None, b: str | int | None, c: str | int | None, d: str | int | None
) -> Limits:
    return Limits(*(None if v is None else _f(v) for v in (a, b, c, d)))


# ---------------------------------------------------------------------------------------------
# Growth envelopes: (age in months, lowest P3 of boys/girls, highest P97 of boys/girls), from
# CDC 2000 (vitals/cdc-growth-charts-2000: wtageinf/wtage, lenageinf/statage, hcageinf), at the
# nearest tabulated half-month, rounded to 0.1. Linear interpolation between rows.
_WEIGHT_ENVELOPE = (
    (0, "2.4", "4.4"), (1, "2.8", "5.0"), (3, "4.0", "7.1"), (6, "5.5", "9.5"),
    (9, "6.7", "11.3"), (12, "7.7", "12.6"), (18, "9.0", "14.3"), (24, "10.0", "15.6"),
    (36, "11.3", "17.8"), (48, "12.7", "21.0"), (60, "14.2", "24.6"), (72, "15.9", "28.6"),
    (96, "19.4", "38.1"), (120, "23.8", "50.8"), (144, "29.2", "65.3"), (168, "36.4", "77.3"),
    (192, "41.7", "88.5"), (216, "44.2", "97.0"), (240, "45.0", "100.8"),
)  # fmt: skip
_HEIGHT_ENVELOPE = (
    (0, "44.9", "54.9"), (1, "47.5", "57.6"), (3, "53.6", "64.7"), (6, "59.5", "71.5"),
    (9, "64.0", "76.6"), (12, "67.7", "80.8"), (18, "73.7", "87.7"), (24, "78.4", "93.0"),
    (36, "86.4", "102.3"), (48, "92.6", "109.9"), (60, "98.8", "117.2"), (72, "105.2", "124.6"),
    (96, "116.9", "138.9"), (120, "125.6", "151.1"), (144, "135.2", "164.6"),
    (168, "147.9", "178.3"), (192, "150.4", "186.9"), (216, "150.9", "189.4"),
    (240, "151.1", "190.2"),
)  # fmt: skip
_HEAD_ENVELOPE = (
    (0, "31.5", "38.9"), (1, "33.3", "40.1"), (3, "37.0", "43.3"), (6, "39.8", "45.9"),
    (9, "41.4", "47.5"), (12, "42.6", "48.7"), (18, "43.9", "50.2"), (24, "44.7", "51.2"),
    (36, "45.6", "52.6"),
)  # fmt: skip


def _envelope(table: tuple[tuple[int, str, str], ...], age_days: int) -> tuple[Fraction, Fraction]:
    months = Fraction(age_days) * 12 / DAYS_PER_YEAR
    rows = [(Fraction(m), _f(lo), _f(hi)) for m, lo, hi in table]
    if months >= rows[-1][0]:
        return rows[-1][1], rows[-1][2]
    for (m0, lo0, hi0), (m1, lo1, hi1) in zip(rows, rows[1:], strict=False):
        if m0 <= months <= m1:
            t = (months - m0) / (m1 - m0)
            return lo0 + (lo1 - lo0) * t, hi0 + (hi1 - hi0) * t
    return rows[0][1], rows[0][2]


def weight_limits(age_days: int) -> Limits:
    """kg. Adults: refuse below 10 kg (chosen: adults with primordial dwarfism weigh from about
    10 kg; the historical Guinness minimum, 2.1 kg for Lucia Zárate in 1889, is not a clinic
    case) and above 700 kg (Guinness heaviest recorded person, Jon Brower Minnoch, ~635 kg);
    confirm outside 30–250 kg (chosen; 250 kg is above the 500 lb capacity of a standard clinic
    scale). Children: confirm outside 0.6 × P3 … 1.5 × P97 for age (chosen envelope on CDC
    2000); refuse below 0.2 kg in the first year (below the lightest reported surviving
    newborns, about 0.21–0.25 kg) or below min(0.25 × P3, 10 kg) later, and above 5 × P97
    (chosen; still above the heaviest reported children, e.g. ~190 kg at 10 years)."""
    if age_days >= ADULT_DAYS:
        return _lim(10, 30, 250, 700)
    p3, p97 = _envelope(_WEIGHT_ENVELOPE, age_days)
    refuse_low = _f("0.2") if age_days < INFANT_DAYS else min(p3 / 4, _f(10))
    return Limits(refuse_low, p3 * _f("0.6"), p97 * _f("1.5"), p97 * 5)


def height_limits(age_days: int) -> Limits:
    """cm. Refuse below min(0.5 × P3 for age, 50 cm) — the shortest adult on record, Chandra
    Bahadur Dangi, measured 54.6 cm (Guinness 2012) — and above min(1.5 × P97, 275 cm): the
    tallest person on record, Robert Wadlow, measured 272 cm (Guinness). Confirm outside
    0.85 × P3 … 1.15 × P97 for age (chosen envelope on CDC 2000; from 20 years the 20-year
    values, i.e. about 128–219 cm)."""
    p3, p97 = _envelope(_HEIGHT_ENVELOPE, age_days)
    return Limits(
        min(p3 / 2, _f(50)), p3 * _f("0.85"), p97 * _f("1.15"), min(p97 * _f("1.5"), _f(275))
    )


def head_limits(age_days: int) -> Limits:
    """cm. To 36 months: confirm outside 0.9 × P3 … 1.1 × P97 of CDC 2000 head circumference,
    refuse outside 0.6 × P3 … 1.4 × P97 (chosen envelope). Older: confirm outside 41–64 cm,
    refuse outside 30–75 cm (chosen; CDC charts stop at 36 months)."""
    if age_days * 12 > 36 * DAYS_PER_YEAR:
        return _lim(30, 41, 64, 75)
    p3, p97 = _envelope(_HEAD_ENVELOPE, age_days)
    return Limits(p3 * _f("0.6"), p3 * _f("0.9"), p97 * _f("1.1"), p97 * _f("1.4"))


# Temperature, °C, any age. Refuse below 13 °C: the lowest core temperature survived in
# accidental hypothermia is 13.7 °C (Gilbert M et al. Lancet 2000;355:375-6); refuse above
# 47 °C: the highest survived is 46.5 °C (Guinness, Willie Jones, 1980). Confirm below 35.0 °C
# (the conventional definition of hypothermia) and above 41.0 °C (hyperpyrexia, clinical
# convention).
TEMPERATURE_LIMITS = _lim(13, 35, 41, 47)

# SpO2 %: above 100 and below 0 are impossible by definition. Confirm below 80 % (chosen:
# ISO 80601-2-61 oximeters state accuracy over 70–100 %; a clinic reading under 80 % is far more
# often a poor signal than a true value).
SPO2_LIMITS = _lim(0, 80, None, 100)

# Oxygen flow L/min: refuse above 80 (chosen engineering bound: high-flow nasal cannula devices
# deliver up to 60–80 L/min); confirm above 15 (standard wall/cylinder flowmeters go to 15 L/min;
# chosen).
O2_FLOW_LIMITS = _lim(0, None, 15, 80)

# Oxygen concentration %: FiO2 cannot exceed 100 %, and is recorded as 21 % for room air
# (clinical convention); below 21 % is not oxygen therapy.
O2_CONCENTRATION_LIMITS = _lim(21, None, None, 100)


def _age_years(age_days: int) -> Fraction:
    return Fraction(age_days) / DAYS_PER_YEAR


def heart_rate_limits(age_days: int) -> Limits:
    """/min. Refuse below 10 or above 350 (chosen engineering bounds: infant SVT runs to about
    300/min; the faster rates in the literature are case reports of pre-excited atrial
    fibrillation). Confirm bounds are chosen margins outside the Fleming 2011 1st–99th centiles
    for the age group (Lancet 2011;377:1011-18: under 1 y 93–181, 1–6 y 65–156, 6–12 y
    52–123, 12–18 y 43–108); adults outside 35–180 (chosen)."""
    years = _age_years(age_days)
    if years < 1:
        return _lim(10, 80, 220, 350)
    if years < 6:
        return _lim(10, 55, 190, 350)
    if years < 12:
        return _lim(10, 45, 170, 350)
    if years < 18:
        return _lim(10, 35, 160, 350)
    return _lim(10, 35, 180, 350)


def respiratory_rate_limits(age_days: int) -> Limits:
    """/min. Refuse below 2 or above 120 (chosen engineering bounds; apnoea is not a rate).
    Confirm bounds: chosen margins outside the Fleming 2011 1st–99th centiles (under 1 y 22–66,
    1–6 y 17–53, 6–12 y 14–27, 12–18 y 11–23); adults outside 6–40 (chosen; NEWS2 already
    scores ≤ 8 and ≥ 25 as red)."""
    years = _age_years(age_days)
    if years < 1:
        return _lim(2, 15, 90, 120)
    if years < 6:
        return _lim(2, 12, 70, 120)
    if years < 12:
        return _lim(2, 10, 50, 120)
    if years < 18:
        return _lim(2, 8, 45, 120)
    return _lim(2, 6, 40, 120)


def systolic_limits(age_days: int) -> Limits:
    """mmHg. Refuse below 30 or above 300 (chosen engineering bounds: oscillometric cuffs
    measure within roughly 40–280 mmHg; the 300+ mmHg readings published were intra-arterial
    during maximal weight lifting, not clinic readings). Confirm below the PALS hypotension
    threshold for age (AHA PALS: < 60 term neonate, < 70 for 1–12 months, < 70 + 2 × age in
    years for 1–10 years); from 10 years below 80 (chosen, under PALS' 90 so healthy low-normal
    readings are not queried). Confirm above 140 under 1 year, 180 to 13 years, 230 from 13
    (chosen)."""
    years = _age_years(age_days)
    if age_days < NEWBORN_DAYS:
        low = _f(60)
    elif years < 1:
        low = _f(70)
    elif years < 10:
        low = 70 + 2 * Fraction(int(years))
    else:
        low = _f(80)
    high = _f(140) if years < 1 else _f(180) if years < 13 else _f(230)
    return Limits(_f(30), low, high, _f(300))


def diastolic_limits(age_days: int) -> Limits:
    """mmHg. Refuse below 10 or above 200 (chosen engineering bounds). Confirm below 20 under
    1 year, 30 to 13 years, 40 from 13; above 90 under 1 year, 120 to 13 years, 140 from 13
    (chosen)."""
    years = _age_years(age_days)
    if years < 1:
        return _lim(10, 20, 90, 200)
    if years < 13:
        return _lim(10, 30, 120, 200)
    return _lim(10, 40, 140, 200)


# ---------------------------------------------------------------------------------------------
# Rules against the previous reading

# Weight change that asks for confirmation, as a fraction of the last weight, by the time since
# it. 20 % within 7 days is the brief's rule; the longer-gap steps are chosen (weight can drift
# further over months; beyond a year only a doubling or halving is queried).
WEIGHT_CHANGE_STEPS: tuple[tuple[int | None, Fraction], ...] = (
    (7, Fraction(20, 100)),
    (30, Fraction(25, 100)),
    (90, Fraction(30, 100)),
    (365, Fraction(50, 100)),
    (None, Fraction(1)),
)
# Children: a loss queries at half the adult fraction (chosen; a newborn's physiological loss
# is up to about 10 % of birth weight, beyond which AAP advises evaluation), and a gain is
# allowed expected growth on top (chosen upper envelopes: 1 % of the last weight per day in
# the first year — term infants double birth weight in about 4–6 months — and 0.1 % per day
# later, above the fastest pubertal weight gain).
INFANT_GAIN_PER_DAY = Fraction(1, 100)
CHILD_GAIN_PER_DAY = Fraction(1, 1000)
# Ratio that names a unit slip (the value in the other unit, 2.20462 lb per kg / 2.54 cm per in),
# within ±5 % (chosen).
SLIP_TOLERANCE = Fraction(5, 100)
# Height: an adult decrease of more than 3 cm asks for confirmation (the brief's rule; vertebral
# fracture screening uses a similar 3–4 cm historical loss). A child's decrease beyond 1.0 cm
# (chosen measurement error: clinic stadiometer/length-board technical error is some millimetres)
# plus 0.7 cm when a recumbent length before 731 days is followed by a standing height (WHO 2006:
# standing height is on average 0.7 cm less than recumbent length).
ADULT_HEIGHT_LOSS_CM = Fraction(3)
CHILD_HEIGHT_ERROR_CM = Fraction(1)
LENGTH_TO_HEIGHT_CM = Fraction(7, 10)


def weight_change_threshold(gap_days: Fraction, age_days: int) -> tuple[Fraction, Fraction]:
    """(loss, gain) fractions of the last weight beyond which a new weight asks to confirm."""
    base = WEIGHT_CHANGE_STEPS[-1][1]
    for limit, fraction in WEIGHT_CHANGE_STEPS:
        if limit is None or gap_days <= limit:
            base = fraction
            break
    if age_days >= ADULT_DAYS:
        return base, base
    per_day = INFANT_GAIN_PER_DAY if age_days < INFANT_DAYS else CHILD_GAIN_PER_DAY
    return base / 2, base + per_day * gap_days


# ---------------------------------------------------------------------------------------------
# Checking


def _age_words(age_days: int) -> str:
    if age_days < NEWBORN_DAYS:
        return "a newborn"
    if age_days < INFANT_DAYS:
        months = int(Fraction(age_days) * 12 / DAYS_PER_YEAR)
        if months < 2:
            return f"an infant of {age_days // 7} weeks"
        return f"an infant of {months} month{'s' if months != 1 else ''}"
    if age_days < ADULT_DAYS:
        years = int(_age_years(age_days))
        return f"a child of {years} year{'s' if years != 1 else ''}"
    return "an adult"


def _shown(value: Fraction, unit: str, places: int = 1) -> str:
    number = units.rounded(value, places).normalize()
    return f"{number:f} {units.display_unit(unit)}".strip()


def _finding(
    measure: str, q: Quantity, level: Level, code: str, why: str, slip: str | None
) -> Finding:
    label = LABELS[measure]
    head = f"{label} {q} is {'impossible' if level == 'refuse' else 'unlikely'}{why}"
    if slip:
        return Finding(measure, level, f"{head} — {slip}", code)
    tail = "please re-enter" if level == "refuse" else "please confirm"
    return Finding(measure, level, f"{head} — {tail}", code)


Slip = tuple[str, str]  # (code, words)


def _temperature_slip(q: Quantity) -> Slip | None:
    other_unit = CEL if q.unit == DEGF else DEGF
    as_other = Quantity(q.value, other_unit)
    if TEMPERATURE_LIMITS.probable(units.to_celsius(as_other)):
        code = "looks_like_celsius" if other_unit == CEL else "looks_like_fahrenheit"
        same = _shown(units.convert(as_other, q.unit), q.unit)
        return code, f"looks like {units.display_unit(other_unit)} ({as_other} = {same})"
    for scale in (10, 100):
        shifted = Quantity(units.rounded(Fraction(q.value) / scale, 2).normalize(), q.unit)
        if TEMPERATURE_LIMITS.probable(units.to_celsius(shifted)):
            return "decimal_slip", f"did you mean {shifted}?"
    return None


def _mass_slip(q: Quantity, limits: Limits) -> Slip | None:
    if q.unit == G and limits.probable(Fraction(q.value)):
        return "looks_like_kilograms", f"looks like kilograms ({q.value:f} kg)"
    if q.unit in (KG, G):
        as_lb = Quantity(q.value, LB)
        if limits.probable(units.to_kg(as_lb)):
            return "looks_like_pounds", f"looks like pounds ({as_lb} = {_kg(as_lb)})"
        return None
    as_kg = Quantity(q.value, KG)
    if limits.probable(Fraction(q.value)):
        return "looks_like_kilograms", f"looks like kilograms ({as_kg} = {_lb(as_kg)})"
    return None


def _kg(q: Quantity) -> str:
    return _shown(units.to_kg(q), KG)


def _lb(q: Quantity) -> str:
    return _shown(units.convert(q, LB), LB)


def _length_slip(q: Quantity, limits: Limits) -> Slip | None:
    if q.unit == IN:
        if limits.probable(Fraction(q.value)):
            return "looks_like_centimetres", f"looks like centimetres ({q.value:f} cm)"
        return None
    as_in = Quantity(q.value, IN)
    if limits.probable(units.to_cm(as_in)):
        cm = _shown(units.to_cm(as_in), CM)
        return "looks_like_inches", f"looks like inches ({as_in} = {cm})"
    return None


def _range_check(
    measure: str,
    q: Quantity,
    limits: Limits,
    canonical: Fraction,
    why: str,
    slip_of: Callable[[], Slip | None] | None = None,
) -> Finding | None:
    level = limits.level(canonical)
    if level is None:
        return None
    slip = slip_of() if slip_of else None
    if slip:
        return _finding(measure, q, level, slip[0], why, slip[1])
    return _finding(
        measure, q, level, "impossible" if level == "refuse" else "improbable", why, None
    )


def _check_one(measure: str, q: Quantity, age_days: int) -> Finding | None:
    label = LABELS[measure]
    if q.unit not in UNITS[measure]:
        allowed = ", ".join(units.display_unit(u) or u for u in UNITS[measure])
        return Finding(
            measure,
            "refuse",
            f"{label} must be in {allowed}, not {units.display_unit(q.unit) or q.unit}",
            "wrong_unit",
        )
    value = Fraction(q.value)
    who = f" for {_age_words(age_days)}"
    if measure == "weight":
        limits = weight_limits(age_days)
        return _range_check(measure, q, limits, units.to_kg(q), who, lambda: _mass_slip(q, limits))
    if measure in ("height", "head"):
        limits = height_limits(age_days) if measure == "height" else head_limits(age_days)
        return _range_check(
            measure, q, limits, units.to_cm(q), who, lambda: _length_slip(q, limits)
        )
    if measure == "temperature":
        return _range_check(
            measure,
            q,
            TEMPERATURE_LIMITS,
            units.to_celsius(q),
            "",
            lambda: _temperature_slip(q),
        )
    if measure == "spo2":
        return _range_check(
            measure,
            q,
            SPO2_LIMITS,
            value,
            "",
            lambda: (
                ("decimal_slip", f"did you mean {q.value / 10:f} %?")
                if q.value > 100 and SPO2_LIMITS.probable(value / 10)
                else None
            ),
        )
    if measure == "pain":
        if value.denominator != 1 or not 0 <= value <= 10:
            return Finding(
                measure,
                "refuse",
                f"Pain {q.value:f} is impossible — the pain score is a whole number 0 to 10",
                "pain_scale",
            )
        return None
    if measure == "o2_flow":
        return _range_check(measure, q, O2_FLOW_LIMITS, value, "")
    if measure == "o2_concentration":
        return _range_check(measure, q, O2_CONCENTRATION_LIMITS, value, "")
    limits_of: dict[str, Callable[[int], Limits]] = {
        "systolic": systolic_limits,
        "diastolic": diastolic_limits,
        "heart_rate": heart_rate_limits,
        "respiratory_rate": respiratory_rate_limits,
    }
    return _range_check(measure, q, limits_of[measure](age_days), value, who)


def _near(ratio: Fraction, target: Fraction) -> bool:
    return abs(ratio / target - 1) <= SLIP_TOLERANCE


def _gap_days(then: datetime, now: datetime) -> Fraction:
    seconds = (now - then).total_seconds()
    return max(Fraction(0), Fraction(seconds) / 86400)


def _when(then: datetime, gap: Fraction) -> str:
    days = int(gap)
    ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    return f"{then.date().isoformat()}, {ago}"


def _check_weight_trend(
    q: Quantity, last: Quantity, then: datetime, now: datetime, age_days: int
) -> Finding | None:
    current, before = units.to_kg(q), units.to_kg(last)
    if before <= 0:
        return None
    gap = _gap_days(then, now)
    ratio = current / before
    loss, gain = weight_change_threshold(gap, age_days)
    change = ratio - 1
    if -loss < change < gain:
        return None
    since = f" against the last weight {last} ({_when(then, gap)})"
    if q.unit in (KG, G) and _near(ratio, 1 / units.LB_IN_KG):
        as_lb = Quantity(q.value, LB)
        slip = f"looks like pounds ({as_lb} = {_kg(as_lb)})"
        return _finding("weight", q, "confirm", "looks_like_pounds", since, slip)
    if q.unit in (LB, OZ) and _near(ratio, units.LB_IN_KG):
        slip = f"looks like kilograms ({q.value:f} kg)"
        return _finding("weight", q, "confirm", "looks_like_kilograms", since, slip)
    pct = units.rounded(abs(change) * 100, 0)
    direction = "gain" if change > 0 else "loss"
    limit = units.rounded((gain if change > 0 else loss) * 100, 0)
    words = f"a {pct} % {direction}, at least the {limit} % that asks for a check"
    return _finding("weight", q, "confirm", "weight_change", since, f"{words}; please confirm")


def _check_length_trend(
    measure: str, q: Quantity, last: Quantity, then: datetime, now: datetime, age_days: int
) -> Finding | None:
    current, before = units.to_cm(q), units.to_cm(last)
    if before <= 0:
        return None
    gap = _gap_days(then, now)
    since = f" against the last {LABELS[measure].lower()} {last} ({_when(then, gap)})"
    ratio = current / before
    if q.unit == CM and _near(ratio, 1 / units.IN_IN_CM):
        as_cm = _shown(units.to_cm(Quantity(q.value, IN)), CM)
        slip = f"looks like inches ({q.value:f} in = {as_cm})"
        return _finding(measure, q, "confirm", "looks_like_inches", since, slip)
    if q.unit == IN and _near(ratio, units.IN_IN_CM):
        slip = f"looks like centimetres ({q.value:f} cm)"
        return _finding(measure, q, "confirm", "looks_like_centimetres", since, slip)
    if measure != "height":
        return None
    drop = before - current
    if age_days >= ADULT_DAYS:
        allowed = ADULT_HEIGHT_LOSS_CM
    else:
        allowed = CHILD_HEIGHT_ERROR_CM
        age_then = Fraction(age_days) - gap
        if age_then < RECUMBENT_UNTIL_DAYS <= age_days:
            allowed += LENGTH_TO_HEIGHT_CM
    if drop <= allowed:
        return None
    words = (
        f"{_shown(drop, CM)} shorter, more than the {_shown(allowed, CM)} that asks for a "
        "check; please confirm"
    )
    return _finding(measure, q, "confirm", "height_decrease", since, words)


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


def check(
    values: Mapping[str, Quantity],
    *,
    age_days: int,
    previous: Mapping[str, tuple[Quantity, datetime]] | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """Findings for one set of entered vital signs: refusals first, then confirmations, each in
    the order of `values`. A refused value is not compared with the previous reading."""
    if age_days < 0:
        raise ValueError("age_days cannot be negative")
    unknown = sorted(set(values) - set(LABELS))
    if unknown:
        raise ValueError(f"Unknown measures: {', '.join(unknown)}")
    moment = _aware(now, "now") if now is not None else datetime.now(UTC)
    findings: list[Finding] = []
    refused: set[str] = set()
    for measure, q in values.items():
        finding = _check_one(measure, q, age_days)
        if finding:
            findings.append(finding)
            if finding.level == "refuse":
                refused.add(measure)
    sbp, dbp = values.get("systolic"), values.get("diastolic")
    if (
        sbp is not None
        and dbp is not None
        and not {"systolic", "diastolic"} & refused
        and sbp.value <= dbp.value
    ):
        findings.append(
            Finding(
                "systolic",
                "refuse",
                f"Systolic {sbp} must be higher than diastolic {dbp} — were they entered the "
                "other way round?",
                "systolic_not_above_diastolic",
            )
        )
    for measure, (last, then) in (previous or {}).items():
        entered = values.get(measure)
        if entered is None or measure in refused or any(f.measure == measure for f in findings):
            continue
        _aware(then, f"The time of the previous {LABELS.get(measure, measure)}")
        if last.unit not in UNITS.get(measure, ()):
            continue
        if measure == "weight":
            trend = _check_weight_trend(entered, last, then, moment, age_days)
        elif measure in ("height", "head"):
            trend = _check_length_trend(measure, entered, last, then, moment, age_days)
        else:
            trend = None
        if trend:
            findings.append(trend)
    return sorted(findings, key=lambda f: f.level != "refuse")
