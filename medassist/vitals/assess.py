"""One sitting of vital signs, read against the right authority for the patient's age. Pure:
numbers in canonical units in, interpretations out (the service stores them with the values).

Which authority, by age on the day measured:
- Blood pressure: adults (18 y and over) ACC/AHA 2017 (adult.py); 1 to < 18 y AAP 2017 with
  the child's height percentile (pediatric.py); under 1 y no category (the AAP tables start at
  1 year), only the PALS hypotension rule, which also applies to 1-10 y.
- Heart and respiratory rate: under 18 y Fleming 2011 centiles (pediatric.py); adults the
  NEWS2 bands (RCP 2017; adult.py).
- Temperature and SpO2: the NEWS2 bands at every age (the bands are not age-specific).
- NEWS2 aggregate: 16 y and over with every parameter measured (RCP 2017: NEWS2 is not for
  children under 16).
- Growth: WHO 2006 under 2 y, CDC 2000 from 2 to 20 y (growth.py); adults' BMI by the adult
  categories below.
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from medassist.vitals import adult, growth, pediatric
from medassist.vitals.interpretation import Flag, Interpretation, Source

ADULT_YEARS = 18  # the ACC/AHA guideline's adults
NEWS2_MIN_YEARS = 16  # RCP 2017: NEWS2 is for patients aged 16 and over
GROWTH_MAX_YEARS = 20  # CDC 2000 charts end at 20 years
ADULT_DAYS = ADULT_YEARS * 365.25  # for callers with an age in days only


def completed_years(birth: dt.date, day: dt.date) -> int:
    """Age in completed years by the calendar, as guidelines mean it (an 18th birthday makes an
    adult that day; 365.25-day years would wait a day after some birthdays)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# Adult BMI categories (CDC, "Adult BMI Categories", and WHO Technical Report Series 894, 2000).
ADULT_BMI_SOURCE = Source(
    "Adult BMI categories", "CDC / WHO TRS 894 (2000)", "WHO Technical Report Series 894, 2000"
)
_ADULT_BMI = (
    (Decimal("18.5"), "underweight", Flag.LOW, "Underweight (BMI below 18.5)"),
    (Decimal("25"), "healthy", Flag.NORMAL, "Healthy weight (BMI 18.5 to 24.9)"),
    (Decimal("30"), "overweight", Flag.HIGH, "Overweight (BMI 25 to 29.9)"),
    (None, "obesity", Flag.HIGH, "Obesity (BMI 30 or more)"),
)


def adult_bmi(bmi: Decimal) -> Interpretation:
    for upper, code, flag, text in _ADULT_BMI:
        if upper is None or bmi < upper:
            return Interpretation(
                flag=flag,
                text=text,
                source=ADULT_BMI_SOURCE,
                low=Decimal("18.5"),
                high=Decimal("24.9"),
                unit="kg/m2",
                category=code,
            )
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Sitting:
    """What was measured, in canonical units (mmHg, /min, %, °C, cm, kg, kg/m2)."""

    age_days: int
    sex: str  # "male", "female" or "" (no sex-specific chart)
    age_years: int | None = None  # completed years by the calendar (else from age_days)
    systolic: int | None = None  # the sitting's average of its readings
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    temperature_c: Decimal | None = None
    spo2: int | None = None
    on_oxygen: bool = False
    consciousness: str = ""  # ACVPU; "" = not assessed
    height_cm: Decimal | None = None
    recumbent: bool | None = None  # length lying down (True) or height standing (False)
    bp_height_cm: Decimal | None = None  # for a child's BP percentile: a recent height will do
    weight_kg: Decimal | None = None
    head_cm: Decimal | None = None
    bmi: Decimal | None = None


@dataclass
class Assessment:
    by_measure: dict[str, Interpretation] = field(default_factory=dict)
    # Percentile observations of a child: "bmi_percentile", "weight_for_length",
    # "head_percentile", and the chart results behind weight and length.
    growth: dict[str, Any] = field(default_factory=dict)
    news2: Any = None  # adult.News2
    pediatric_bp: Any = None  # pediatric.PediatricBP
    pals_hypotension: bool = False


# ACC/AHA 2017 grades only raised pressure: a low one reads "Normal" there. Low systolic
# pressure is read on the NEWS2 systolic bands instead (RCP 2017: 91-100 scores 2, 90 or less
# scores 3, a red score).
LOW_SYSTOLIC_MAX = 100


def _adult_bp(sbp: int, dbp: int) -> Interpretation:
    if sbp <= LOW_SYSTOLIC_MAX:
        score = adult.parameter_score("systolic_bp", sbp)
        return Interpretation(
            flag=Flag.CRITICAL_LOW if score == 3 else Flag.LOW,
            text=f"Low blood pressure: systolic {sbp} mmHg (NEWS2 score {score})",
            source=adult.NEWS2_SOURCE,
            low=Decimal(111),
            high=Decimal(219),
            unit="mm[Hg]",
            category=f"news2-{score}",
        )
    return adult.blood_pressure_category(sbp, dbp)


def assess(s: Sitting) -> Assessment:
    out = Assessment()
    years = s.age_years if s.age_years is not None else math.floor(s.age_days / 365.25)
    is_adult = years >= ADULT_YEARS
    if s.systolic is not None and s.diastolic is not None:
        if is_adult:
            out.by_measure["bp"] = _adult_bp(s.systolic, s.diastolic)
        elif s.sex and (bp_height := s.bp_height_cm or s.height_cm) is not None:
            bp = pediatric.blood_pressure(
                age_days=s.age_days,
                sex=s.sex,
                height_cm=float(bp_height),
                sbp=s.systolic,
                dbp=s.diastolic,
                years=years,
            )
            if bp is not None:
                out.pediatric_bp = bp
                out.by_measure["bp"] = bp.interpretation
        if not is_adult:
            out.pals_hypotension = pediatric.pals_hypotension(s.age_days, s.systolic, years=years)
    if s.heart_rate is not None:
        hr = None if is_adult else pediatric.heart_rate(s.age_days, s.heart_rate)
        out.by_measure["heart_rate"] = hr or adult.heart_rate(s.heart_rate)
    if s.respiratory_rate is not None:
        rr = None if is_adult else pediatric.respiratory_rate(s.age_days, s.respiratory_rate)
        out.by_measure["respiratory_rate"] = rr or adult.respiratory_rate(s.respiratory_rate)
    if s.temperature_c is not None:
        out.by_measure["temperature"] = adult.temperature(float(s.temperature_c))
    if s.spo2 is not None:
        out.by_measure["spo2"] = adult.spo2(s.spo2, s.on_oxygen)
    if s.bmi is not None and years >= GROWTH_MAX_YEARS:
        out.by_measure["bmi"] = adult_bmi(s.bmi)
    if s.sex and years < GROWTH_MAX_YEARS:
        _growth(s, out)
    resp, spo2, sbp, pulse, temp = (
        s.respiratory_rate,
        s.spo2,
        s.systolic,
        s.heart_rate,
        s.temperature_c,
    )
    if (
        years >= NEWS2_MIN_YEARS
        and s.consciousness
        and resp is not None
        and spo2 is not None
        and sbp is not None
        and pulse is not None
        and temp is not None
    ):
        out.news2 = adult.news2(
            respiration_rate=resp,
            spo2=spo2,
            on_oxygen=s.on_oxygen,
            systolic=sbp,
            pulse=pulse,
            consciousness=s.consciousness,
            temperature_c=temp,
        )
    return out


def _growth(s: Sitting, out: Assessment) -> None:
    """A child's percentiles: each measurement on its own chart, and the derived percentile
    observations (BMI-for-age 2-20 y, weight-for-length under 2 y, head circumference)."""

    def chart(measure: str, value: Decimal | None, **extra: Any) -> Any:
        if value is None:
            return None
        return growth.assess(measure, sex=s.sex, age_days=s.age_days, value=float(value), **extra)

    if (w := chart("weight", s.weight_kg)) is not None:
        out.growth["weight"] = w
        out.by_measure["weight"] = w.interpretation
    if (h := chart("length", s.height_cm, recumbent=s.recumbent)) is not None:
        out.growth["length"] = h
        out.by_measure["height"] = h.interpretation
    if (hc := chart("head", s.head_cm)) is not None:
        out.growth["head_percentile"] = hc
        out.by_measure["head"] = hc.interpretation
    if (b := chart("bmi", s.bmi)) is not None:
        out.growth["bmi_percentile"] = b
        out.by_measure["bmi"] = b.interpretation
    if s.weight_kg is not None and s.height_cm is not None:
        wfl = growth.assess(
            "weight_for_length",
            sex=s.sex,
            age_days=s.age_days,
            value=float(s.weight_kg),
            recumbent=s.recumbent,
            length_cm=float(s.height_cm),
        )
        if wfl is not None:
            out.growth["weight_for_length"] = wfl
