"""The rules a point-of-care reading must pass, as pure functions over plain values:

- read_value(): what the MA typed for one analyte, as the Observation will hold it. A number
  outside the manufacturer's reportable (measuring) range is refused as a value: the device
  cannot measure there, so the manufacturer's instructions are to report HI or LO, recorded
  as a comparator result (">600") at the range's limit, and to confirm in the lab.
  (CLIA 42 CFR 493.15(e): waived tests follow the manufacturer's instructions.)
- qc_outcome(): whether an external control run passed, computed from the control lot's
  expected reading or range (printed on its package insert or bottle) and what was observed.
  Never typed: the MA records what the device showed.
- competency_valid_until(): until when a competency assessment lets a person test. The CLIA
  rule for nonwaived testing (42 CFR 493.1235, with 493.1413(b)(8) and 493.1451(b)(8)):
  semiannually during the person's first year of testing, annually after. CLIA does not
  require it for waived tests; CDC's "Ready? Set? Test!" (2012, updated 2022) and CMS's
  competency assessment brief recommend the same: training and an assessment before testing
  patients, then periodic assessment. This clinic applies the nonwaived schedule.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from medassist.poct.catalog import INVALID, Analyte

FIRST_YEAR_MONTHS = 6  # 42 CFR 493.1451(b)(8): semiannually during the first year
FIRST_YEAR = 12  # months
AFTER_FIRST_YEAR_MONTHS = 12  # annually thereafter

_HI = {"hi", "high"}
_LO = {"lo", "low"}
# LabResult.value_number: 14 digits, 4 after the point.
_MAX = Decimal("9999999999")


class ValueRefused(ValueError):
    """A reading that cannot be recorded as typed; the message says why and what to record."""


@dataclass(frozen=True)
class Reading:
    analyte: Analyte
    text: str  # the answer ("positive", "1+", "1.015") or the number as shown ("104", ">600")
    number: Decimal | None = None
    comparator: str = ""  # "<" or ">" for a result off the reportable range

    @property
    def invalid(self) -> bool:
        return self.text == INVALID


def _number(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) > _MAX:
        return None
    return value


def fmt(value: Decimal | None, decimals: int) -> str:
    if value is None:
        return ""
    return f"{value:.{decimals}f}"


def range_text(analyte: Analyte) -> str:
    low, high = fmt(analyte.low, analyte.decimals), fmt(analyte.high, analyte.decimals)
    return f"{low}–{high} {analyte.unit}".strip()


def normal_answer(analyte: Analyte, raw: str) -> str | None:
    """The answer as the catalog spells it ("Positive" -> "positive"), or None."""
    text = " ".join(str(raw).split()).lower()
    return next((a for a in analyte.answers if a.lower() == text), None)


def read_value(analyte: Analyte, raw: str) -> Reading:
    """One analyte's reading, or ValueRefused with the exact reason and what to record."""
    text = " ".join(str(raw).split())
    if not text:
        raise ValueRefused(f"Record the {analyte.short} reading.")
    if not analyte.quantitative:
        answer = normal_answer(analyte, text)
        if answer is None:
            shown = ", ".join(analyte.answers)
            raise ValueRefused(f"{analyte.short}: record one of {shown} (what the device shows).")
        number = _number(answer) if analyte.numeric_answers else None
        return Reading(analyte, answer, number)
    if analyte.low is None or analyte.high is None:
        raise ValueRefused(
            f"{analyte.short} has no reportable range configured: a manager sets the "
            f"manufacturer's range on the test menu first."
        )
    word = analyte.device_word
    limits = f"the {word}'s reportable range {range_text(analyte)}"
    low, high = fmt(analyte.low, analyte.decimals), fmt(analyte.high, analyte.decimals)
    lowered = text.lower()
    if lowered in _HI:
        return Reading(analyte, f">{high}", analyte.high, ">")
    if lowered in _LO:
        return Reading(analyte, f"<{low}", analyte.low, "<")
    comparator = ""
    if text[:1] in "<>":
        comparator, text = text[:1], text[1:].strip()
        if text.startswith("="):
            raise ValueRefused(
                f"{analyte.short}: a reading off {limits} is recorded as >{high} or <{low}."
            )
    number = _number(text)
    if number is None:
        raise ValueRefused(
            f"{analyte.short}: type the number the {word} shows, in {analyte.unit} "
            f"(or HI / LO when it shows those)."
        )
    if comparator == ">":
        if number != analyte.high:
            raise ValueRefused(
                f"{analyte.short}: a reading above {limits} is recorded as >{high} "
                f"(the range's upper limit), not >{text}."
            )
        return Reading(analyte, f">{high}", analyte.high, ">")
    if comparator == "<":
        if number != analyte.low:
            raise ValueRefused(
                f"{analyte.short}: a reading below {limits} is recorded as <{low} "
                f"(the range's lower limit), not <{text}."
            )
        return Reading(analyte, f"<{low}", analyte.low, "<")
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > analyte.decimals:
        shown = "whole numbers" if analyte.decimals == 0 else f"{analyte.decimals} decimal place"
        raise ValueRefused(
            f"{analyte.short}: the {word} shows {shown}; type the reading exactly as shown."
        )
    shown = f"{number} {analyte.unit}".strip()
    if number > analyte.high:
        raise ValueRefused(
            f"{analyte.short} {shown} is above {limits}: report as HI per the manufacturer and "
            f"{analyte.out_of_range or 'confirm it in the lab'}. Record it as >{high}."
        )
    if number < analyte.low:
        raise ValueRefused(
            f"{analyte.short} {shown} is below {limits}: report as LO per the manufacturer and "
            f"{analyte.out_of_range or 'confirm it in the lab'}. Record it as <{low}."
        )
    return Reading(analyte, fmt(number, analyte.decimals), number)


def flag_of(reading: Reading) -> str:
    """The result's flag in the provider's inbox (HL7 v2 table 0078), shown to the provider
    (and raising their critical-result alert when critical), never as the MA's call.

    Quantitative, against the test's reference interval (inclusive) and critical limits, as
    the clinic set them (PocTest; defaults and their sources in catalog.py):
    - below critical_low: LL; above critical_high: HH (critical: the provider is alerted);
    - else below reference_low: L; above reference_high: H; else no flag.
    - Off the reportable range (the device shows LO / HI, recorded "<20" / ">600"): the
      reading is below (above) every limit the device can measure. Since the critical limits
      lie within the reportable range (services.configure_test), LO is LL and HI is HH when
      the test has that critical limit; without one, "<" / ">" (off scale, abnormal).
    Qualitative: a reading other than the normal ones (a positive antigen or hCG, a dipstick
    pad off its normal blocks) is A; the normal ones carry no flag."""
    analyte = reading.analyte
    if reading.comparator == "<":
        return "LL" if analyte.critical_low is not None else "<"
    if reading.comparator == ">":
        return "HH" if analyte.critical_high is not None else ">"
    if analyte.quantitative:
        number = reading.number
        if number is None:
            return ""
        if analyte.critical_low is not None and number < analyte.critical_low:
            return "LL"
        if analyte.critical_high is not None and number > analyte.critical_high:
            return "HH"
        if analyte.reference_low is not None and number < analyte.reference_low:
            return "L"
        if analyte.reference_high is not None and number > analyte.reference_high:
            return "H"
        return ""
    if analyte.normal and reading.text not in analyte.normal:
        return "A"
    return ""


# -- External controls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What a control lot must read for one analyte: one of the answers, or within low-high."""

    answers: tuple[str, ...] = ()
    low: Decimal | None = None
    high: Decimal | None = None

    def as_json(self) -> dict:
        if self.answers:
            return {"answers": list(self.answers)}
        return {"low": str(self.low), "high": str(self.high)}

    @classmethod
    def from_json(cls, data: Mapping) -> Expectation:
        if data.get("answers"):
            return cls(answers=tuple(str(a) for a in data["answers"]))
        return cls(low=Decimal(str(data["low"])), high=Decimal(str(data["high"])))

    def text(self, unit: str = "") -> str:
        if self.answers:
            return " or ".join(a.capitalize() for a in self.answers)
        return f"{self.low}–{self.high} {unit}".strip()


def check_expectation(analyte: Analyte, expectation: Expectation) -> str | None:
    """Why an expected value typed for a control lot cannot be right, or None."""
    if analyte.quantitative:
        if expectation.low is None or expectation.high is None:
            return f"{analyte.short}: type the control's range (low and high) from its bottle."
        if expectation.low > expectation.high:
            return f"{analyte.short}: the range's low end is above its high end."
        if (
            analyte.low is not None
            and analyte.high is not None
            and (expectation.low < analyte.low or expectation.high > analyte.high)
        ):
            return (
                f"{analyte.short}: the control's range {expectation.text(analyte.unit)} is outside "
                f"the {analyte.device_word}'s reportable range {range_text(analyte)}."
            )
        return None
    if not expectation.answers:
        return f"{analyte.short}: choose the reading(s) the control must give."
    unknown = [a for a in expectation.answers if a not in analyte.answers or a == INVALID]
    if unknown:
        return f"{analyte.short}: {unknown[0]} is not a reading a control may be expected to give."
    return None


@dataclass(frozen=True)
class QcOutcome:
    passed: bool
    observed: dict[str, str]  # analyte code -> the reading as recorded
    problems: tuple[str, ...]  # why it failed, one line per analyte


def qc_outcome(
    analytes: Sequence[Analyte],
    expected: Mapping[str, Expectation],
    observed: Mapping[str, str],
) -> QcOutcome:
    """Compare a control run with the control lot's expected readings. Raises ValueRefused
    when a reading is missing or is not a reading at all; a reading that is simply wrong
    (Negative for the positive control, a number outside the bottle's range, HI, invalid) is
    a failed run."""
    recorded: dict[str, str] = {}
    problems: list[str] = []
    for analyte in analytes:
        if analyte.code not in expected:
            continue
        want = expected[analyte.code]
        raw = " ".join(str(observed.get(analyte.code, "")).split())
        if not raw:
            raise ValueRefused(f"Record the {analyte.short} reading of the control.")
        if not analyte.quantitative:
            answer = normal_answer(analyte, raw)
            if answer is None:
                shown = ", ".join(analyte.answers)
                raise ValueRefused(
                    f"{analyte.short}: record one of {shown} (what the device shows)."
                )
            recorded[analyte.code] = answer
            if answer == INVALID:
                problems.append(f"{analyte.short}: invalid (the control line did not appear)")
            elif answer not in want.answers:
                problems.append(
                    f"{analyte.short}: expected {want.text()}, observed {answer.capitalize()}"
                )
            continue
        lowered = raw.lower()
        if lowered in _HI or lowered in _LO or raw[:1] in "<>":
            recorded[analyte.code] = raw.upper() if lowered in _HI | _LO else raw
            problems.append(
                f"{analyte.short}: expected {want.text(analyte.unit)}, observed {raw} (off the "
                f"{analyte.device_word}'s range)"
            )
            continue
        number = _number(raw)
        if number is None:
            raise ValueRefused(
                f"{analyte.short}: type the number the {analyte.device_word} shows for the control."
            )
        recorded[analyte.code] = str(number)
        if want.low is None or want.high is None or not want.low <= number <= want.high:
            problems.append(
                f"{analyte.short}: expected {want.text(analyte.unit)}, observed {number} "
                f"{analyte.unit}".rstrip()
            )
    if not recorded:
        raise ValueRefused("This control lot has no expected readings for this test's analytes.")
    return QcOutcome(passed=not problems, observed=recorded, problems=tuple(problems))


# -- Competency ----------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def competency_valid_until(assessed_on: dt.date, first_assessed_on: dt.date | None) -> dt.date:
    """The last day an assessment lets the person test: six months on during their first year
    of testing this test (counted from their first assessment for it), twelve after."""
    first = assessed_on
    if first_assessed_on is not None and first_assessed_on <= assessed_on:
        first = first_assessed_on
    in_first_year = assessed_on < add_months(first, FIRST_YEAR)
    months = FIRST_YEAR_MONTHS if in_first_year else AFTER_FIRST_YEAR_MONTHS
    return add_months(assessed_on, months)
