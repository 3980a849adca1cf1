"""units.py: entry parsing, exact conversion, rounding, display in both systems, BMI."""

import re
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medassist.vitals import units
from medassist.vitals.units import (
    CEL,
    CM,
    DEGF,
    IN,
    KG,
    LB,
    OZ,
    G,
    Quantity,
    UnitError,
)

# ---------------------------------------------------------------------------------------------
# Parsing: what is stored


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"pounds": "155", "ounces": "0.8"}, Quantity(D("155.05"), LB)),
        ({"pounds": 7, "ounces": 8}, Quantity(D("7.5"), LB)),
        ({"pounds": "155.5"}, Quantity(D("155.5"), LB)),
        ({"ounces": "4"}, Quantity(D("0.25"), LB)),
        ({"pounds": "7", "ounces": "0.1"}, Quantity(D("7.00625"), LB)),
        ({"kilograms": "70.30"}, Quantity(D("70.30"), KG)),
        ({"grams": "3450"}, Quantity(D("3450"), G)),
        ({"kilograms": D("3.4")}, Quantity(D("3.4"), KG)),
        ({"kilograms": " 70.3 ", "pounds": ""}, Quantity(D("70.3"), KG)),
    ],
)
def test_weight_is_stored_as_entered(kwargs, expected):
    q = units.weight(**kwargs)
    assert q == expected
    assert str(q.value) == str(expected.value)  # the entered precision is kept ("70.30")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"feet": 5, "inches": 7}, Quantity(D("67"), IN)),
        ({"feet": "5", "inches": "7.5"}, Quantity(D("67.5"), IN)),
        ({"feet": 6}, Quantity(D("72"), IN)),
        ({"inches": "20.5"}, Quantity(D("20.5"), IN)),
        ({"centimetres": "170.2"}, Quantity(D("170.2"), CM)),
    ],
)
def test_length_is_stored_as_entered(kwargs, expected):
    assert units.length(**kwargs) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("98.6", "°F", Quantity(D("98.6"), DEGF)),
        ("98.6", DEGF, Quantity(D("98.6"), DEGF)),
        ("37.0", "C", Quantity(D("37.0"), CEL)),
        (D("37"), CEL, Quantity(D("37"), CEL)),
        ("-1.5", "°C", Quantity(D("-1.5"), CEL)),
    ],
)
def test_temperature_is_stored_as_entered(value, unit, expected):
    assert units.temperature(value, unit) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: units.weight(), "Enter a weight"),
        (lambda: units.weight(pounds=150, kilograms=68), "one system only"),
        (lambda: units.weight(kilograms=68, grams=68000), "one system only"),
        (lambda: units.weight(kilograms="-1"), "cannot be negative"),
        (lambda: units.weight(kilograms="0"), "more than zero"),
        (lambda: units.weight(kilograms="seventy"), "not a number"),
        (lambda: units.weight(kilograms="NaN"), "not a number"),
        # Floats are deliberately outside the signature: the test checks they are refused.
        (lambda: units.weight(kilograms=70.3), "not 70.3"),  # type: ignore[arg-type]
        (lambda: units.weight(kilograms=True), "not True"),
        (lambda: units.weight(pounds=7, ounces=16), "less than 16"),
        (lambda: units.weight(pounds="7.5", ounces=2), "whole pounds"),
        (lambda: units.length(), "Enter a length"),
        (lambda: units.length(feet=5, centimetres=170), "one system only"),
        (lambda: units.length(feet=5, inches=12), "less than 12"),
        (lambda: units.length(feet="5.5"), "whole feet"),
        (lambda: units.length(inches="-3"), "cannot be negative"),
        (lambda: units.temperature("98.6", "K"), "°C or °F"),
        (lambda: units.temperature("", "°F"), "Enter a temperature"),
        (lambda: units.temperature("hot", "°F"), "not a number"),
        # A float is deliberately outside the signature: the test checks it is refused.
        (lambda: units.temperature(98.6, "°F"), "not 98.6"),  # type: ignore[arg-type]
        (lambda: Quantity(D("1"), "stone"), "Unknown unit"),
        (lambda: units.convert(Quantity(D("70"), KG), CM), "Cannot convert kg to cm"),
    ],
)
def test_bad_input_raises_unit_error_with_a_clear_message(call, message):
    with pytest.raises(UnitError, match=re.escape(message)):
        call()


def test_unit_error_is_a_value_error():
    assert issubclass(UnitError, ValueError)


# ---------------------------------------------------------------------------------------------
# Exact conversion and rounding


@pytest.mark.parametrize(
    ("q", "unit", "expected"),
    [
        (Quantity(D("1"), LB), KG, Fraction("0.45359237")),
        (Quantity(D("16"), OZ), LB, Fraction(1)),
        (Quantity(D("1"), IN), CM, Fraction("2.54")),
        (Quantity(D("12"), IN), CM, Fraction("30.48")),
        (Quantity(D("98.6"), DEGF), CEL, Fraction(37)),
        (Quantity(D("-40"), CEL), DEGF, Fraction(-40)),
        (Quantity(D("100"), CEL), DEGF, Fraction(212)),
        (Quantity(D("3450"), G), KG, Fraction("3.45")),
        (Quantity(D("170"), CM), "m", Fraction("1.7")),
    ],
)
def test_convert_is_exact(q, unit, expected):
    assert units.convert(q, unit) == expected


def test_named_conversions():
    assert units.to_kg(Quantity(D("155.05"), LB)) == Fraction("155.05") * Fraction("0.45359237")
    assert units.to_cm(Quantity(D("67"), IN)) == Fraction("170.18")
    assert units.to_celsius(Quantity(D("101.3"), DEGF)) == Fraction("38.5")
    assert units.to_celsius(Quantity(D("101"), DEGF)) == Fraction(115, 3)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(5, 2), 0, "3"),  # half up
        (Fraction(-5, 2), 0, "-3"),  # ties away from zero, as Decimal ROUND_HALF_UP
        (Fraction(1, 8), 2, "0.13"),
        (Fraction(1, 3), 2, "0.33"),
        (Fraction(2, 3), 1, "0.7"),
        (Fraction("35.05"), 1, "35.1"),
        (Fraction("35.0499999"), 1, "35.0"),
        (Fraction(0), 2, "0.00"),
        (D("70.25"), 1, "70.3"),
    ],
)
def test_rounded_is_half_up(value, places, expected):
    assert str(units.rounded(value, places)) == expected


# Units that convert into each other, for the property tests.
PAIRS = [
    (KG, LB),
    (LB, KG),
    (G, OZ),
    (OZ, G),
    (KG, OZ),
    (CM, IN),
    (IN, CM),
    (CEL, DEGF),
    (DEGF, CEL),
]


def decimals(places: int, low: int, high: int) -> st.SearchStrategy[D]:
    """Decimals with exactly `places` places between low and high."""
    scale = 10**places
    return st.integers(low * scale, high * scale).map(lambda n: D(n).scaleb(-places))


@pytest.mark.parametrize(("src", "dst"), PAIRS)
@settings(max_examples=300, deadline=None)
@given(value=decimals(3, 0, 1000))
def test_round_trip_through_fractions_loses_nothing(src, dst, value):
    there = units.convert(Quantity(value, src), dst)
    back = units.convert_value(there, dst, src)
    assert back == Fraction(value)


# (measured unit, measured places, display unit, fewest display places that round-trip).
# The right-hand number is what places_needed() returns and show_both() uses; one place fewer
# loses the original for some value (shown by test_one_place_fewer_does_not_round_trip).
ROUND_TRIP_PRECISION = [
    (LB, 1, KG, 2),  # lb to 0.1  ↔ kg to 0.01 (kg to 0.1 is not enough)
    (KG, 1, LB, 1),  # kg to 0.1  ↔ lb to 0.1
    (KG, 2, LB, 2),  # kg to 0.01 ↔ lb to 0.01 (lb to 0.1 is not enough)
    (KG, 1, OZ, 0),  # kg to 0.1  ↔ whole ounces
    (KG, 2, OZ, 1),  # kg to 0.01 ↔ oz to 0.1 (1 oz = 28 g is not enough)
    (KG, 3, OZ, 2),  # grams      ↔ oz to 0.01
    (OZ, 0, KG, 2),  # whole oz   ↔ kg to 0.01
    (OZ, 1, KG, 3),  # oz to 0.1  ↔ grams
    (G, 0, OZ, 2),  # whole grams ↔ oz to 0.01 (0.1 oz = 2.8 g is not enough)
    (CM, 0, IN, 1),  # whole cm   ↔ in to 0.1
    (CM, 1, IN, 2),  # cm to 0.1  ↔ in to 0.01 (0.1 in = 0.254 cm is not enough)
    (IN, 0, CM, 0),  # whole in   ↔ whole cm
    (IN, 1, CM, 1),  # in to 0.1  ↔ cm to 0.1
    (CEL, 1, DEGF, 1),  # °C to 0.1 ↔ °F to 0.1
    (DEGF, 1, CEL, 2),  # °F to 0.1 ↔ °C to 0.01 (°C to 0.1 loses e.g. 98.7 °F)
    (DEGF, 0, CEL, 1),  # whole °F  ↔ °C to 0.1
]


def _round_trips(value: D, src: str, src_places: int, dst: str, dst_places: int) -> bool:
    shown = units.rounded(units.convert(Quantity(value, src), dst), dst_places)
    back = units.convert(Quantity(shown, dst), src)
    return units.rounded(back, src_places) == value


@pytest.mark.parametrize(("src", "src_places", "dst", "dst_places"), ROUND_TRIP_PRECISION)
def test_places_needed(src, src_places, dst, dst_places):
    assert units.places_needed(src, src_places, dst) == dst_places


@pytest.mark.parametrize(("src", "src_places", "dst", "dst_places"), ROUND_TRIP_PRECISION)
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_display_precision_round_trips(src, src_places, dst, dst_places, data):
    low, high = (-50, 120) if src in (CEL, DEGF) else (0, 5000)
    value = data.draw(decimals(src_places, low, high))
    assert _round_trips(value, src, src_places, dst, dst_places)


@pytest.mark.parametrize(("src", "src_places", "dst", "dst_places"), ROUND_TRIP_PRECISION)
def test_one_place_fewer_does_not_round_trip(src, src_places, dst, dst_places):
    if dst_places == 0:
        pytest.skip("already whole units")
    scale = 10**src_places
    failures = [
        D(n).scaleb(-src_places)
        for n in range(90 * scale, 110 * scale)
        if not _round_trips(D(n).scaleb(-src_places), src, src_places, dst, dst_places - 1)
    ]
    assert failures, f"{src} to {src_places} would round-trip with {dst} at {dst_places - 1}"


def test_the_fahrenheit_example_that_one_decimal_celsius_loses():
    assert not _round_trips(D("98.7"), DEGF, 1, CEL, 1)  # 37.06 → 37.1 → 98.78 → 98.8
    assert _round_trips(D("98.7"), DEGF, 1, CEL, 2)


# ---------------------------------------------------------------------------------------------
# Display


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (units.weight(kilograms="70.3"), "70.3 kg (154 lb 15.8 oz)"),
        (units.weight(pounds="155", ounces="0.8"), "155 lb 0.8 oz (70.329 kg)"),
        (units.weight(pounds="155.5"), "155 lb 8 oz (70.53 kg)"),
        (units.weight(pounds="155"), "155 lb (70.31 kg)"),
        (units.weight(pounds=7, ounces=8), "7 lb 8 oz (3.40 kg)"),
        (units.weight(kilograms="3.45"), "3.45 kg (7 lb 9.7 oz)"),
        (units.weight(grams="3450"), "3450 g (7 lb 9.70 oz)"),
        (units.weight(kilograms="70.30"), "70.30 kg (154 lb 15.8 oz)"),
        (units.length(feet=5, inches=7), "5 ft 7 in (170.2 cm)"),
        (units.length(feet=6), "6 ft 0 in (182.9 cm)"),
        (units.length(centimetres="170"), "170 cm (5 ft 6.9 in)"),
        (units.length(centimetres="170.2"), "170.2 cm (5 ft 7.01 in)"),
        (units.length(inches="20.5"), "20.5 in (52.1 cm)"),
        (units.length(centimetres="35"), "35 cm (13.8 in)"),
        (units.temperature("38.5", "°C"), "38.5 °C (101.3 °F)"),
        (units.temperature("37", "°C"), "37 °C (98.6 °F)"),
        (units.temperature("98.6", "°F"), "98.6 °F (37.00 °C)"),
        (units.temperature("101", "°F"), "101 °F (38.3 °C)"),
        (Quantity(D("120"), units.MMHG), "120 mmHg"),
        (Quantity(D("98"), units.PCT), "98 %"),
        (Quantity(D("7"), units.SCORE), "7"),
    ],
)
def test_show_both(q, expected):
    assert units.show_both(q) == expected


def _parse_converted(text: str) -> Quantity:
    """The bracketed converted figure of show_both, as a Quantity."""
    inner = re.search(r"\((.*)\)$", text)
    assert inner
    part = inner.group(1)
    if m := re.fullmatch(r"(\d+) lb ([\d.]+) oz", part):
        return Quantity(D(m.group(1)) * 16 + D(m.group(2)), OZ)
    if m := re.fullmatch(r"(\d+) ft ([\d.]+) in", part):
        return Quantity(D(m.group(1)) * 12 + D(m.group(2)), IN)
    number, unit = part.split(" ")
    code = {"kg": KG, "cm": CM, "in": IN, "°C": CEL, "°F": DEGF}[unit]
    return Quantity(D(number), code)


MEASURED = [
    (lambda v: units.weight(kilograms=v), 1, 1, 300),
    (lambda v: units.weight(kilograms=v), 2, 1, 300),
    (lambda v: units.weight(grams=v), 0, 300, 9000),
    (lambda v: units.weight(pounds=v), 1, 1, 600),
    (lambda v: units.length(centimetres=v), 1, 20, 250),
    (lambda v: units.length(inches=v), 1, 8, 100),
    (lambda v: units.temperature(v, "°C"), 1, 30, 45),
    (lambda v: units.temperature(v, "°F"), 1, 86, 113),
]


@pytest.mark.parametrize(("make", "places", "low", "high"), MEASURED)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_show_both_identifies_the_measured_value(make, places, low, high, data):
    """Reading the converted figure back recovers what was measured, at its precision."""
    value = data.draw(decimals(places, low, high).filter(lambda v: v > 0))
    q = make(value)
    back = units.convert(_parse_converted(units.show_both(q)), q.unit)
    resolution = places
    if q.unit == LB:  # pounds are shown as lb + oz: compare in ounces
        back, resolution = back * 16, units.places_of((q.value * 16).normalize())
        assert units.rounded(back, resolution) == (q.value * 16)
    else:
        assert units.rounded(back, resolution) == q.value


# ---------------------------------------------------------------------------------------------
# BMI


@pytest.mark.parametrize(
    ("weight_q", "height_q", "expected"),
    [
        # CDC "Calculating BMI" worked examples (adult BMI calculator page).
        (units.weight(kilograms=68), units.length(centimetres=165), D("25.0")),
        (units.weight(pounds=150), units.length(feet=5, inches=5), D("25.0")),
        (units.weight(kilograms="70.3"), units.length(feet=5, inches=7), D("24.3")),
        (units.weight(grams="3450"), units.length(centimetres="50"), D("13.8")),
        (units.weight(kilograms=100), units.length(centimetres=200), D("25.0")),
    ],
)
def test_bmi(weight_q, height_q, expected):
    assert units.bmi(weight_q, height_q) == expected


def test_bmi_refuses_a_length_for_weight():
    with pytest.raises(UnitError):
        units.bmi(units.length(centimetres=170), units.length(centimetres=170))
