"""plausibility.py: a table of entries, the level expected and the slip the message names."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest

from medassist.vitals import plausibility, units
from medassist.vitals.units import L_MIN, MMHG, PCT, PER_MIN, SCORE, Quantity

NEWBORN = 3
INFANT_6M = 183
TODDLER_2Y = 2 * 365 + 1
CHILD_8Y = 8 * 365 + 2
TEEN_15Y = 15 * 365 + 4
ADULT = 40 * 365 + 10

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def kg(v):
    return units.weight(kilograms=v)


def lb(v, oz=None):
    return units.weight(pounds=v, ounces=oz)


def cm(v):
    return units.length(centimetres=v)


def inch(v):
    return units.length(inches=v)


def degf(v):
    return units.temperature(v, "°F")


def degc(v):
    return units.temperature(v, "°C")


def n(v, unit):
    return Quantity(D(str(v)), unit)


# (values, age_days, measure, level, code, words in the message)
CASES = [
    # temperature: unit and decimal-point slips
    ({"temperature": degf("986")}, ADULT, "temperature", "refuse", "decimal_slip",
     "Temperature 986 °F is impossible — did you mean 98.6 °F?"),
    ({"temperature": degf("37")}, ADULT, "temperature", "refuse", "looks_like_celsius",
     "looks like °C"),
    ({"temperature": degf("38.5")}, CHILD_8Y, "temperature", "refuse", "looks_like_celsius",
     "(38.5 °C = 101.3 °F)"),
    ({"temperature": degc("98.6")}, ADULT, "temperature", "refuse", "looks_like_fahrenheit",
     "looks like °F (98.6 °F = 37 °C)"),
    ({"temperature": degc("375")}, ADULT, "temperature", "refuse", "decimal_slip",
     "did you mean 37.5 °C?"),
    ({"temperature": degc("3.7")}, ADULT, "temperature", "refuse", "impossible", "re-enter"),
    ({"temperature": degc("34.5")}, ADULT, "temperature", "confirm", "improbable", "confirm"),
    ({"temperature": degc("41.5")}, INFANT_6M, "temperature", "confirm", "improbable",
     "Temperature 41.5 °C is unlikely"),
    ({"temperature": degf("93.5")}, ADULT, "temperature", "confirm", "improbable", "93.5 °F"),
    # weight: age-aware, pounds/kilograms slips
    ({"weight": kg("4")}, ADULT, "weight", "refuse", "impossible",
     "Weight 4 kg is impossible for an adult"),
    ({"weight": kg("26")}, TODDLER_2Y, "weight", "confirm", "looks_like_pounds",
     "looks like pounds (26 lb = 11.8 kg)"),
    ({"weight": kg("40")}, TODDLER_2Y, "weight", "confirm", "looks_like_pounds",
     "Weight 40 kg is unlikely for a child of 2 years — looks like pounds (40 lb = 18.1 kg)"),
    ({"weight": kg("90")}, TODDLER_2Y, "weight", "refuse", "impossible",
     "Weight 90 kg is impossible for a child of 2 years"),
    ({"weight": kg("16")}, INFANT_6M, "weight", "confirm", "looks_like_pounds",
     "an infant of 6 months"),
    ({"weight": kg("7.5")}, NEWBORN, "weight", "confirm", "looks_like_pounds", "7.5 lb"),
    ({"weight": kg("30")}, NEWBORN, "weight", "refuse", "impossible", "a newborn"),
    ({"weight": lb("3", "8")}, ADULT, "weight", "refuse", "impossible", "3.5 lb"),
    ({"weight": lb("25")}, TEEN_15Y, "weight", "confirm", "looks_like_kilograms",
     "looks like kilograms (25 kg = 55.1 lb)"),
    ({"weight": units.weight(grams="3.4")}, NEWBORN, "weight", "refuse", "looks_like_kilograms",
     "3.4 kg"),
    ({"weight": kg("270")}, ADULT, "weight", "confirm", "looks_like_pounds", "270 lb"),
    ({"weight": kg("28")}, ADULT, "weight", "confirm", "improbable", "please confirm"),
    ({"weight": kg("800")}, ADULT, "weight", "refuse", "impossible", "800 kg"),
    ({"weight": kg("0.9")}, NEWBORN, "weight", "confirm", "improbable", "a newborn"),
    # height: inches/centimetres slips
    ({"height": inch("170")}, ADULT, "height", "refuse", "looks_like_centimetres",
     "Height 170 in is impossible for an adult — looks like centimetres"),
    ({"height": cm("65")}, ADULT, "height", "confirm", "looks_like_inches",
     "Height 65 cm is unlikely for an adult — looks like inches (65 in = 165.1 cm)"),
    ({"height": cm("45")}, CHILD_8Y, "height", "refuse", "looks_like_inches", "looks like inches"),
    ({"height": inch("110")}, CHILD_8Y, "height", "refuse", "looks_like_centimetres",
     "centimetres"),
    ({"height": cm("300")}, ADULT, "height", "refuse", "impossible", "300 cm"),
    ({"height": cm("120")}, ADULT, "height", "confirm", "improbable", "please confirm"),
    # head circumference
    ({"head": cm("14")}, NEWBORN, "head", "refuse", "looks_like_inches",
     "Head circumference 14 cm is impossible for a newborn — looks like inches"),
    ({"head": inch("35")}, NEWBORN, "head", "refuse", "looks_like_centimetres", "35 in"),
    ({"head": cm("27")}, NEWBORN, "head", "confirm", "improbable", "unlikely"),
    # blood pressure
    ({"systolic": n(80, MMHG), "diastolic": n(120, MMHG)}, ADULT, "systolic", "refuse",
     "systolic_not_above_diastolic",
     "Systolic 80 mmHg must be higher than diastolic 120 mmHg — were they entered the other"),
    ({"systolic": n(90, MMHG), "diastolic": n(90, MMHG)}, ADULT, "systolic", "refuse",
     "systolic_not_above_diastolic", "higher than diastolic"),
    ({"systolic": n(1200, MMHG)}, ADULT, "systolic", "refuse", "impossible", "1200 mmHg"),
    ({"systolic": n(240, MMHG)}, ADULT, "systolic", "confirm", "improbable", "240 mmHg"),
    ({"systolic": n(65, MMHG)}, CHILD_8Y, "systolic", "confirm", "improbable",
     "a child of 8 years"),  # PALS: < 70 + 2 × 8 = 86
    ({"systolic": n(55, MMHG)}, NEWBORN, "systolic", "confirm", "improbable", "a newborn"),
    ({"diastolic": n(5, MMHG)}, ADULT, "diastolic", "refuse", "impossible", "Diastolic 5 mmHg"),
    # heart and respiratory rate, age-aware
    ({"heart_rate": n(500, PER_MIN)}, ADULT, "heart_rate", "refuse", "impossible", "500 /min"),
    ({"heart_rate": n(200, PER_MIN)}, ADULT, "heart_rate", "confirm", "improbable", "adult"),
    ({"heart_rate": n(60, PER_MIN)}, INFANT_6M, "heart_rate", "confirm", "improbable",
     "an infant of 6 months"),
    ({"respiratory_rate": n(4, PER_MIN)}, ADULT, "respiratory_rate", "confirm", "improbable",
     "Respiratory rate 4 /min"),
    ({"respiratory_rate": n(1, PER_MIN)}, ADULT, "respiratory_rate", "refuse", "impossible",
     "1 /min"),
    ({"respiratory_rate": n(60, PER_MIN)}, CHILD_8Y, "respiratory_rate", "confirm",
     "improbable", "a child of 8 years"),
    # SpO2, pain, oxygen
    ({"spo2": n(101, PCT)}, ADULT, "spo2", "refuse", "impossible", "SpO2 101 % is impossible"),
    ({"spo2": n(986, PCT)}, ADULT, "spo2", "refuse", "decimal_slip", "did you mean 98.6 %?"),
    ({"spo2": n(72, PCT)}, ADULT, "spo2", "confirm", "improbable", "SpO2 72 %"),
    ({"pain": n(11, SCORE)}, ADULT, "pain", "refuse", "pain_scale", "whole number 0 to 10"),
    ({"pain": n("4.5", SCORE)}, ADULT, "pain", "refuse", "pain_scale", "Pain 4.5"),
    ({"pain": n(-1, SCORE)}, ADULT, "pain", "refuse", "pain_scale", "Pain -1"),
    ({"o2_flow": n(20, L_MIN)}, ADULT, "o2_flow", "confirm", "improbable", "Oxygen flow 20 L/min"),
    ({"o2_flow": n(200, L_MIN)}, ADULT, "o2_flow", "refuse", "impossible", "200 L/min"),
    ({"o2_concentration": n(120, PCT)}, ADULT, "o2_concentration", "refuse", "impossible",
     "Oxygen concentration 120 %"),
    ({"o2_concentration": n(15, PCT)}, ADULT, "o2_concentration", "refuse", "impossible", "15 %"),
    # wrong unit for the measure
    ({"weight": cm("70")}, ADULT, "weight", "refuse", "wrong_unit",
     "Weight must be in kg, g, lb, oz, not cm"),
    ({"spo2": n(98, PER_MIN)}, ADULT, "spo2", "refuse", "wrong_unit", "SpO2 must be in %"),
]  # fmt: skip


@pytest.mark.parametrize(("values", "age", "measure", "level", "code", "words"), CASES)
def test_single_entry(values, age, measure, level, code, words):
    findings = plausibility.check(values, age_days=age, now=NOW)
    assert len(findings) == 1, findings
    finding = findings[0]
    assert (finding.measure, finding.level, finding.code) == (measure, level, code)
    assert words in finding.message


# Values that must pass without a question.
QUIET = [
    ({"weight": kg("4")}, NEWBORN),  # fine for a newborn, impossible for an adult
    ({"weight": lb("7", "8")}, NEWBORN),
    ({"weight": units.weight(grams="3450")}, NEWBORN),
    ({"weight": kg("12.5")}, TODDLER_2Y),
    ({"weight": kg("150")}, ADULT),
    ({"weight": lb("330")}, ADULT),
    ({"height": units.length(feet=5, inches=7)}, ADULT),
    ({"height": cm("50")}, NEWBORN),
    ({"height": cm("128")}, CHILD_8Y),
    ({"head": cm("35")}, NEWBORN),
    ({"head": inch("17.5")}, INFANT_6M),
    ({"temperature": degf("98.6")}, ADULT),
    ({"temperature": degc("38.5")}, INFANT_6M),
    ({"temperature": degf("104")}, CHILD_8Y),
    (
        {
            "systolic": n(128, MMHG),
            "diastolic": n(82, MMHG),
            "heart_rate": n(72, PER_MIN),
            "respiratory_rate": n(16, PER_MIN),
            "spo2": n(97, PCT),
            "pain": n(3, SCORE),
        },
        ADULT,
    ),
    ({"systolic": n(190, MMHG), "diastolic": n(125, MMHG)}, ADULT),  # a crisis, not a slip
    ({"heart_rate": n(150, PER_MIN), "respiratory_rate": n(45, PER_MIN)}, INFANT_6M),
    ({"spo2": n(100, PCT), "pain": n(0, SCORE), "o2_flow": n(2, L_MIN)}, ADULT),
    ({"o2_concentration": n(21, PCT)}, ADULT),
]


@pytest.mark.parametrize(("values", "age"), QUIET)
def test_plausible_values_pass(values, age):
    assert plausibility.check(values, age_days=age, now=NOW) == []


def test_refusals_come_first():
    findings = plausibility.check(
        {"spo2": n(72, PCT), "temperature": degf("986")}, age_days=ADULT, now=NOW
    )
    assert [f.level for f in findings] == ["refuse", "confirm"]


def test_a_refused_value_is_not_also_compared_with_the_last_one():
    findings = plausibility.check(
        {"weight": kg("4")},
        age_days=ADULT,
        previous={"weight": (kg("70"), NOW - timedelta(days=2))},
        now=NOW,
    )
    assert [f.code for f in findings] == ["impossible"]


# ---------------------------------------------------------------------------------------------
# Against the last reading: (value, last value, days ago, age, level or None, code, words)

TRENDS = [
    # adults: 20 % within 7 days
    ("weight", kg("85"), kg("70"), 3, ADULT, "confirm", "weight_change", "a 21 % gain"),
    ("weight", kg("83.9"), kg("70"), 3, ADULT, None, "", ""),  # 19.9 %
    ("weight", kg("84"), kg("70"), 7, ADULT, "confirm", "weight_change", "at least the 20 %"),
    ("weight", kg("56"), kg("70"), 6, ADULT, "confirm", "weight_change", "a 20 % loss"),
    ("weight", kg("57"), kg("70"), 6, ADULT, None, "", ""),
    # longer gaps allow more (25 % to 30 days, 30 % to 90 days, 50 % to a year)
    ("weight", kg("85"), kg("70"), 20, ADULT, None, "", ""),
    ("weight", kg("88"), kg("70"), 20, ADULT, "confirm", "weight_change", "25 %"),
    ("weight", kg("90"), kg("70"), 60, ADULT, None, "", ""),
    ("weight", kg("100"), kg("70"), 200, ADULT, None, "", ""),
    ("weight", kg("106"), kg("70"), 200, ADULT, "confirm", "weight_change", "50 %"),
    # ≈ 2.2 × the last weight: pounds typed into the kilograms field
    ("weight", kg("154"), kg("70"), 3, ADULT, "confirm", "looks_like_pounds",
     "looks like pounds (154 lb = 69.9 kg)"),
    ("weight", kg("154"), lb("154"), 30, ADULT, "confirm", "looks_like_pounds", "pounds"),
    ("weight", lb("70"), kg("70"), 3, ADULT, "confirm", "looks_like_kilograms",
     "looks like kilograms"),
    # children: losses at half the adult fraction, gains allowed for growth
    ("weight", kg("3.1"), kg("3.5"), 4, NEWBORN, "confirm", "weight_change", "a 11 % loss"),
    ("weight", kg("3.2"), kg("3.5"), 4, NEWBORN, None, "", ""),  # 8.6 %: physiological
    ("weight", kg("6.5"), kg("3.5"), 90, INFANT_6M, None, "", ""),  # an infant grows
    ("weight", kg("14"), kg("7"), 30, INFANT_6M, "confirm", "weight_change", "a 100 % gain"),
    ("weight", kg("28"), kg("25"), 365, CHILD_8Y, None, "", ""),
    ("weight", kg("22"), kg("25"), 20, CHILD_8Y, None, "", ""),  # 12 % < 12.5 %
    ("weight", kg("21.5"), kg("25"), 20, CHILD_8Y, "confirm", "weight_change", "14 % loss"),
    # height: adult decrease > 3 cm; child decrease beyond measurement error
    ("height", cm("164"), cm("168"), 300, ADULT, "confirm", "height_decrease", "4 cm shorter"),
    ("height", cm("165"), cm("168"), 300, ADULT, None, "", ""),  # exactly 3 cm
    ("height", cm("170"), cm("168"), 300, ADULT, None, "", ""),
    ("height", cm("127.5"), cm("128.6"), 30, CHILD_8Y, "confirm", "height_decrease",
     "1.1 cm shorter"),
    ("height", cm("127.7"), cm("128.6"), 30, CHILD_8Y, None, "", ""),
    # recumbent length before 2 years, standing height after: 0.7 cm more allowed (WHO 2006)
    ("height", cm("86.4"), cm("88"), 20, TODDLER_2Y + 10, None, "", ""),
    ("height", cm("86.2"), cm("88"), 20, TODDLER_2Y + 10, "confirm", "height_decrease", "1.7 cm"),
    # height in the wrong unit against the last one
    ("height", cm("66"), cm("168"), 300, ADULT, "confirm", "looks_like_inches",
     "looks like inches"),
    ("height", inch("66"), inch("26"), 10, TEEN_15Y, "confirm", "looks_like_centimetres",
     "looks like centimetres"),
    # (a length typed in the other unit is usually caught by the age range first)
    ("height", cm("20"), inch("20"), 20, INFANT_6M - 100, "refuse", "looks_like_inches",
     "looks like inches (20 in = 50.8 cm)"),
    ("head", cm("16"), cm("41"), 20, INFANT_6M, "refuse", "looks_like_inches", "inches"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("measure", "value", "last", "days", "age", "level", "code", "words"), TRENDS
)
def test_against_the_last_reading(measure, value, last, days, age, level, code, words):
    findings = plausibility.check(
        {measure: value},
        age_days=age,
        previous={measure: (last, NOW - timedelta(days=days))},
        now=NOW,
    )
    if level is None:
        assert findings == []
        return
    assert len(findings) == 1, findings
    assert (findings[0].measure, findings[0].level, findings[0].code) == (measure, level, code)
    assert words in findings[0].message


@pytest.mark.parametrize(
    ("days", "age", "loss", "gain"),
    [
        (7, ADULT, "0.2", "0.2"),
        (30, ADULT, "0.25", "0.25"),
        (90, ADULT, "0.3", "0.3"),
        (365, ADULT, "0.5", "0.5"),
        (1000, ADULT, "1", "1"),
        (7, INFANT_6M, "0.1", "0.27"),
        (30, CHILD_8Y, "0.125", "0.28"),
    ],
)
def test_weight_change_threshold(days, age, loss, gain):
    assert plausibility.weight_change_threshold(Fraction(days), age) == (
        Fraction(loss),
        Fraction(gain),
    )


def test_previous_readings_of_other_measures_are_ignored():
    findings = plausibility.check(
        {"heart_rate": n(72, PER_MIN)},
        age_days=ADULT,
        previous={"weight": (kg("70"), NOW - timedelta(days=1))},
        now=NOW,
    )
    assert findings == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": {"weight": kg("70")}, "age_days": -1}, "negative"),
        ({"values": {"bmi": n(25, units.KG_M2)}, "age_days": ADULT}, "Unknown measures: bmi"),
        (
            {"values": {"weight": kg("70")}, "age_days": ADULT, "now": datetime(2025, 1, 1)},  # noqa: DTZ001
            "timezone-aware",
        ),
        (
            {
                "values": {"weight": kg("70")},
                "age_days": ADULT,
                "now": NOW,
                "previous": {"weight": (kg("70"), datetime(2025, 1, 1))},  # noqa: DTZ001
            },
            "timezone-aware",
        ),
    ],
)
def test_bad_calls_raise(kwargs, message):
    values = kwargs.pop("values")
    with pytest.raises(ValueError, match=message):
        plausibility.check(values, **kwargs)


@pytest.mark.parametrize(
    ("age", "low_kg", "high_kg"),
    [
        (NEWBORN, "1.5", 6),  # 4 kg fine for a newborn
        (ADULT, 30, 250),
    ],
)
def test_weight_limits_are_age_aware(age, low_kg, high_kg):
    limits = plausibility.weight_limits(age)
    assert limits.confirm_low is not None and limits.confirm_high is not None
    assert limits.confirm_low <= Fraction(low_kg) and limits.confirm_high >= high_kg
    assert plausibility.weight_limits(ADULT).refuse_low == 10
