"""Units for vital signs: store exactly what was measured, in UCUM units; show both systems.

A measurement is kept as the medical assistant entered it (a Decimal and its UCUM unit: pounds
stay pounds, centimetres stay centimetres). Conversions are exact rational arithmetic
(fractions.Fraction) from the defining constants, so converting and converting back loses
nothing; rounding happens only for display.

Defining constants (exact by definition):
- 1 [lb_av] = 0.45359237 kg (International yard and pound agreement, 1959; NIST HB 44 App. C).
- 1 [oz_av] = 1/16 [lb_av].
- 1 [in_i] = 2.54 cm (same 1959 agreement).
- t(°F) = t(°C) × 9/5 + 32.

Rounding (`rounded`) is ROUND_HALF_UP — ties go away from zero, the way people round by hand
and the way NEWS2 temperature bands are read in adult.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# UCUM codes (https://ucum.org/ucum): what is stored.
KG = "kg"
G = "g"
LB = "[lb_av]"
OZ = "[oz_av]"
CM = "cm"
M = "m"
IN = "[in_i]"
CEL = "Cel"
DEGF = "[degF]"
MMHG = "mm[Hg]"
PER_MIN = "/min"
PCT = "%"
L_MIN = "L/min"
KG_M2 = "kg/m2"
SCORE = "{score}"  # UCUM annotation for a unitless score (pain 0-10)

# What a person reads.
DISPLAY: dict[str, str] = {
    KG: "kg",
    G: "g",
    LB: "lb",
    OZ: "oz",
    CM: "cm",
    M: "m",
    IN: "in",
    CEL: "°C",
    DEGF: "°F",
    MMHG: "mmHg",
    PER_MIN: "/min",
    PCT: "%",
    L_MIN: "L/min",
    KG_M2: "kg/m²",
    SCORE: "",
}

LB_IN_KG = Fraction(45359237, 100_000_000)  # exact, 1959 agreement
IN_IN_CM = Fraction(254, 100)  # exact, 1959 agreement

# Linear units per dimension, as the size of one unit in the dimension's base unit.
_MASS: dict[str, Fraction] = {
    KG: Fraction(1),
    G: Fraction(1, 1000),
    LB: LB_IN_KG,
    OZ: LB_IN_KG / 16,
}
_LENGTH: dict[str, Fraction] = {CM: Fraction(1), M: Fraction(100), IN: IN_IN_CM}
_TEMPERATURE = (CEL, DEGF)

Number = Decimal | int | str


class UnitError(ValueError):
    """A value or unit that cannot be stored; the message says what is wrong, for the user."""


@dataclass(frozen=True)
class Quantity:
    """What was measured: the value as entered and its UCUM unit."""

    value: Decimal
    unit: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise UnitError(f"{self.value!r} is not a finite decimal value")
        if self.unit not in DISPLAY:
            raise UnitError(f"Unknown unit {self.unit!r}")

    def __str__(self) -> str:
        return f"{self.value:f} {display_unit(self.unit)}".strip()


def display_unit(unit: str) -> str:
    return DISPLAY.get(unit, unit)


# ---------------------------------------------------------------------------------------------
# Entry parsing


def _decimal(raw: Number | None, what: str) -> Decimal | None:
    """The typed value as a Decimal, or None when the field was left empty."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
        # A float carries binary noise (0.1 is not 1/10); what was measured must be kept exactly.
        raise UnitError(f"{what}: enter the number as typed (text or Decimal), not {raw!r}")
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UnitError(f"{what}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise UnitError(f"{what}: {raw!r} is not a number")
    if value < 0:
        raise UnitError(f"{what} cannot be negative ({value})")
    return value


def _exact_decimal(fr: Fraction) -> Decimal:
    """A fraction with a terminating decimal expansion, as that Decimal (no rounding)."""
    for places in range(40):
        scaled = fr * 10**places
        if scaled.denominator == 1:
            return Decimal(scaled.numerator).scaleb(-places) if places else Decimal(fr.numerator)
    raise UnitError(f"{fr} has no exact decimal form")


def weight(
    pounds: Number | None = None,
    ounces: Number | None = None,
    kilograms: Number | None = None,
    grams: Number | None = None,
) -> Quantity:
    """A weight as entered: pounds and/or ounces (stored as [lb_av], value lb + oz/16, exact in
    decimal because 1/16 = 0.0625), or kilograms, or grams. Exactly one system."""
    lb = _decimal(pounds, "Pounds")
    oz = _decimal(ounces, "Ounces")
    kg = _decimal(kilograms, "Kilograms")
    g = _decimal(grams, "Grams")
    given = [
        name
        for name, v in (
            ("pounds and ounces", lb is not None or oz is not None),
            ("kilograms", kg is not None),
            ("grams", g is not None),
        )
        if v
    ]
    if not given:
        raise UnitError("Enter a weight")
    if len(given) > 1:
        raise UnitError(f"Enter the weight in one system only, not {' and '.join(given)}")
    if kg is not None:
        return _positive(Quantity(kg, KG), "Weight")
    if g is not None:
        return _positive(Quantity(g, G), "Weight")
    if lb is not None and oz is not None and oz >= 16:
        raise UnitError(f"Ounces must be less than 16 when pounds are given ({oz} oz)")
    if lb is not None and lb != lb.to_integral_value() and oz is not None:
        raise UnitError("Enter whole pounds when ounces are given")
    total = _exact_decimal(Fraction(lb or 0) + Fraction(oz or 0) / 16)
    return _positive(Quantity(total, LB), "Weight")


def length(
    feet: Number | None = None,
    inches: Number | None = None,
    centimetres: Number | None = None,
) -> Quantity:
    """A height, length or head circumference as entered: feet and/or inches (stored as total
    [in_i]) or centimetres."""
    ft = _decimal(feet, "Feet")
    inch = _decimal(inches, "Inches")
    cm = _decimal(centimetres, "Centimetres")
    imperial = ft is not None or inch is not None
    if not imperial and cm is None:
        raise UnitError("Enter a length")
    if imperial and cm is not None:
        raise UnitError("Enter the length in one system only, not feet/inches and centimetres")
    if cm is not None:
        return _positive(Quantity(cm, CM), "Length")
    if ft is not None and ft != ft.to_integral_value():
        raise UnitError(f"Enter whole feet ({ft} ft); put the rest in inches")
    if ft is not None and inch is not None and inch >= 12:
        raise UnitError(f"Inches must be less than 12 when feet are given ({inch} in)")
    total = (ft or Decimal(0)) * 12 + (inch or Decimal(0))
    return _positive(Quantity(total, IN), "Length")


_TEMPERATURE_ALIASES = {
    CEL: CEL,
    "°C": CEL,
    "C": CEL,
    "degC": CEL,
    DEGF: DEGF,
    "°F": DEGF,
    "F": DEGF,
    "degF": DEGF,
}


def temperature(value: Number, unit: str) -> Quantity:
    """A body temperature as entered, in Cel or [degF] (also accepts °C/°F/C/F)."""
    code = _TEMPERATURE_ALIASES.get(unit.strip())
    if code is None:
        raise UnitError(f"Temperature unit must be °C or °F, not {unit!r}")
    # Temperatures can in principle be negative; _decimal refuses that, so parse here.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise UnitError(f"Temperature: enter the number as typed (text or Decimal), not {value!r}")
    text = value.strip() if isinstance(value, str) else value
    if text == "":
        raise UnitError("Enter a temperature")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise UnitError(f"Temperature: {value!r} is not a number") from None
    if not number.is_finite():
        raise UnitError(f"Temperature: {value!r} is not a number")
    return Quantity(number, code)


def _positive(q: Quantity, what: str) -> Quantity:
    if q.value <= 0:
        raise UnitError(f"{what} must be more than zero")
    return q


# ---------------------------------------------------------------------------------------------
# Exact conversion


def _dimension(unit: str) -> str:
    if unit in _MASS:
        return "mass"
    if unit in _LENGTH:
        return "length"
    if unit in _TEMPERATURE:
        return "temperature"
    if unit in DISPLAY:
        return unit  # dimensionless-in-practice units convert only to themselves
    raise UnitError(f"Unknown unit {unit!r}")


def convert(q: Quantity, unit: str) -> Fraction:
    """q expressed in `unit`, exactly."""
    return convert_value(Fraction(q.value), q.unit, unit)


def convert_value(value: Fraction, from_unit: str, to_unit: str) -> Fraction:
    """An exact value in `from_unit` expressed in `to_unit`, exactly (no rounding anywhere)."""
    src, dst = _dimension(from_unit), _dimension(to_unit)
    if src != dst:
        raise UnitError(f"Cannot convert {display_unit(from_unit)} to {display_unit(to_unit)}")
    if from_unit == to_unit:
        return value
    if src == "mass":
        return value * _MASS[from_unit] / _MASS[to_unit]
    if src == "length":
        return value * _LENGTH[from_unit] / _LENGTH[to_unit]
    # temperature
    if from_unit == DEGF:
        return (value - 32) * Fraction(5, 9)
    return value * Fraction(9, 5) + 32


def to_kg(q: Quantity) -> Fraction:
    return convert(q, KG)


def to_cm(q: Quantity) -> Fraction:
    return convert(q, CM)


def to_celsius(q: Quantity) -> Fraction:
    return convert(q, CEL)


def to_fahrenheit(q: Quantity) -> Fraction:
    return convert(q, DEGF)


def rounded(fr: Fraction | Decimal | int, places: int) -> Decimal:
    """fr rounded to `places` decimal places, ROUND_HALF_UP (ties away from zero), computed
    exactly from the fraction (no binary floating point, no Decimal context precision)."""
    if places < 0:
        raise ValueError("places must be >= 0")
    value = Fraction(fr)
    scale = 10**places
    scaled = abs(value) * scale
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    if value < 0:
        whole = -whole
    return Decimal(whole).scaleb(-places) if places else Decimal(whole)


def places_of(value: Decimal) -> int:
    """Decimal places the value was entered with ("70.30" → 2, "70" → 0)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise UnitError(f"{value} is not finite")
    return max(0, -exponent)


def places_needed(from_unit: str, from_places: int, to_unit: str) -> int:
    """The fewest decimal places in `to_unit` that still identify a value entered in `from_unit`
    to `from_places`: a step of 10^-p in to_unit must be strictly smaller than a step of
    10^-from_places in from_unit (then the display error, at most half a step, maps back to less
    than half an original step, and rounding back recovers the original exactly)."""
    one = convert_value(Fraction(1), to_unit, from_unit)
    zero = convert_value(Fraction(0), to_unit, from_unit)
    step_in_from = abs(one - zero)  # the size of one to_unit, in from_unit
    original_step = Fraction(1, 10**from_places)
    p = 0
    while step_in_from / 10**p >= original_step:
        p += 1
    return p


# ---------------------------------------------------------------------------------------------
# Display

# Fewest places shown for a converted value (a chosen readability floor; places_needed may ask
# for more so the converted figure still identifies the measured one).
_MIN_PLACES = {KG: 1, G: 0, OZ: 1, CM: 1, IN: 1, CEL: 1, DEGF: 1}
# Heights/lengths shorter than this are shown in inches only (infant length, head
# circumference), longer ones as feet and inches — a display convention, not a clinical rule.
_FEET_FROM_INCHES = 48


def _plain(value: Decimal) -> str:
    """A Decimal without exponent notation or needless trailing zeros."""
    return format(value.normalize(), "f")


def _lb_oz(total_oz: Decimal, oz_places: int, *, measured: bool) -> str:
    lb, oz = divmod(total_oz, 16)
    oz_text = _plain(oz) if measured else f"{oz:.{oz_places}f}"
    if measured and oz == 0:
        return f"{int(lb)} lb"
    return f"{int(lb)} lb {oz_text} oz"


def _ft_in(total_in: Decimal, in_places: int, *, measured: bool) -> str:
    text = (lambda v: _plain(v)) if measured else (lambda v: f"{v:.{in_places}f}")
    if total_in < _FEET_FROM_INCHES:
        return f"{text(total_in)} in"
    ft, inch = divmod(total_in, 12)
    return f"{int(ft)} ft {text(inch)} in"


def _measured_places(q: Quantity) -> tuple[str, int]:
    """The unit and places that describe the measurement's own resolution (for pounds the
    resolution is in ounces: 155.05 lb is 155 lb 0.8 oz, entered to 0.1 oz)."""
    if q.unit == LB:
        return OZ, places_of((q.value * 16).normalize())
    return q.unit, places_of(q.value)


def _format(value: Fraction, unit: str, places: int) -> str:
    shown = rounded(value, places)
    return f"{shown:.{places}f} {display_unit(unit)}"


def show_both(q: Quantity) -> str:
    """The measured value as entered, then the other system in brackets:
    "70.3 kg (154 lb 15.8 oz)", "5 ft 7 in (170.2 cm)", "38.5 °C (101.3 °F)".

    The converted figure gets at least a readable number of places (_MIN_PLACES) and as many
    more as places_needed says, so it always identifies the measured value exactly."""
    dim = _dimension(q.unit)
    if dim == "mass":
        res_unit, res_places = _measured_places(q)
        if q.unit == LB:
            measured = _lb_oz(q.value * 16, 0, measured=True)
        else:
            measured = f"{q.value:f} {display_unit(q.unit)}"
        if q.unit in (LB, OZ):
            target = KG
            places = max(_MIN_PLACES[target], places_needed(res_unit, res_places, target))
            return f"{measured} ({_format(convert(q, target), target, places)})"
        places = max(_MIN_PLACES[OZ], places_needed(res_unit, res_places, OZ))
        total_oz = rounded(convert(q, OZ), places)
        return f"{measured} ({_lb_oz(total_oz, places, measured=False)})"
    if dim == "length":
        res_places = places_of(q.value)
        if q.unit == IN:
            measured = _ft_in(q.value, 0, measured=True)
            places = max(_MIN_PLACES[CM], places_needed(IN, res_places, CM))
            return f"{measured} ({_format(convert(q, CM), CM, places)})"
        measured = f"{q.value:f} {display_unit(q.unit)}"
        places = max(_MIN_PLACES[IN], places_needed(q.unit, res_places, IN))
        total_in = rounded(convert(q, IN), places)
        return f"{measured} ({_ft_in(total_in, places, measured=False)})"
    if dim == "temperature":
        other = DEGF if q.unit == CEL else CEL
        places = max(_MIN_PLACES[other], places_needed(q.unit, places_of(q.value), other))
        return f"{q.value:f} {display_unit(q.unit)} ({_format(convert(q, other), other, places)})"
    return str(q)


# ---------------------------------------------------------------------------------------------
# Derived: body-mass index


def bmi(weight_q: Quantity, height_q: Quantity) -> Decimal:
    """Body-mass index in kg/m², one decimal (ROUND_HALF_UP), never typed: computed from the
    stored weight and height. CDC, "About Body Mass Index (BMI)" / "Calculating BMI":
    weight (kg) / [height (m)]²; the CDC's pounds formula (lb / in² × 703) is the same formula
    with a rounded factor (703.0696…), so this converts exactly to kg and m instead."""
    kg = to_kg(weight_q)
    metres = convert(height_q, M)
    if kg <= 0 or metres <= 0:
        raise UnitError("BMI needs a weight and a height above zero")
    return rounded(kg / (metres * metres), 1)
