"""Readings, control runs and competency intervals, row by row. Pure: no database."""

import datetime as dt
from decimal import Decimal

import pytest

from medassist.poct import catalog
from medassist.poct.rules import (
    Expectation,
    ValueRefused,
    add_months,
    check_expectation,
    competency_valid_until,
    flag_of,
    qc_outcome,
    read_value,
)

GLUCOSE = catalog.kind("glucose").analytes[0]
A1C = catalog.kind("hba1c").analytes[0]
STREP = catalog.kind("rapid_strep").analytes[0]
FLU_A, FLU_B = catalog.kind("influenza").analytes
COVID = catalog.kind("covid_antigen").analytes[0]
HCG = catalog.kind("urine_hcg").analytes[0]
PH = next(a for a in catalog.URINE_PADS if a.code == "5803-2")
PROTEIN = next(a for a in catalog.URINE_PADS if a.code == "20454-5")


@pytest.mark.parametrize(
    ("analyte", "typed", "text", "number", "comparator"),
    [
        (GLUCOSE, "104", "104", Decimal("104"), ""),
        (GLUCOSE, " 20 ", "20", Decimal("20"), ""),  # the range's ends are measurable
        (GLUCOSE, "600", "600", Decimal("600"), ""),
        (GLUCOSE, "HI", ">600", Decimal("600"), ">"),
        (GLUCOSE, "hi", ">600", Decimal("600"), ">"),
        (GLUCOSE, ">600", ">600", Decimal("600"), ">"),
        (GLUCOSE, "LO", "<20", Decimal("20"), "<"),
        (GLUCOSE, "< 20", "<20", Decimal("20"), "<"),
        (A1C, "6.4", "6.4", Decimal("6.4"), ""),
        (A1C, "7", "7.0", Decimal("7"), ""),
        (A1C, "HI", ">15.0", Decimal("15.0"), ">"),
        (STREP, "Positive", "positive", None, ""),
        (STREP, "negative", "negative", None, ""),
        (STREP, "INVALID", "invalid", None, ""),
        (PH, "6.5", "6.5", Decimal("6.5"), ""),
        (PROTEIN, "Trace", "trace", None, ""),
    ],
)
def test_readings_as_recorded(analyte, typed, text, number, comparator):
    reading = read_value(analyte, typed)
    assert (reading.text, reading.number, reading.comparator) == (text, number, comparator)


def test_a_glucose_above_the_meters_range_is_refused_with_what_to_do():
    with pytest.raises(ValueRefused) as refused:
        read_value(GLUCOSE, "650")
    assert str(refused.value) == (
        "Glucose 650 mg/dL is above the meter's reportable range 20–600 mg/dL: report as HI per "
        "the manufacturer and send a venous glucose to the lab. Record it as >600."
    )


def test_a_glucose_below_the_meters_range_is_refused():
    with pytest.raises(ValueRefused) as refused:
        read_value(GLUCOSE, "19")
    assert "below the meter's reportable range 20–600 mg/dL: report as LO" in str(refused.value)
    assert str(refused.value).endswith("Record it as <20.")


def test_an_a1c_above_the_analyzers_range_is_refused():
    with pytest.raises(ValueRefused) as refused:
        read_value(A1C, "15.1")
    assert str(refused.value) == (
        "HbA1c 15.1 % is above the analyzer's reportable range 4.0–15.0 %: report as HI per the "
        "manufacturer and send a venous HbA1c to the lab. Record it as >15.0."
    )


@pytest.mark.parametrize(
    ("analyte", "typed", "says"),
    [
        (GLUCOSE, "", "Record the Glucose reading."),
        (GLUCOSE, "abc", "type the number the meter shows"),
        (GLUCOSE, "NaN", "type the number the meter shows"),
        (GLUCOSE, "1e309", "type the number the meter shows"),
        (GLUCOSE, ">550", "recorded as >600 (the range's upper limit), not >550"),
        (GLUCOSE, "<25", "recorded as <20 (the range's lower limit), not <25"),
        (GLUCOSE, ">=600", "recorded as >600 or <20"),
        (GLUCOSE, "104.5", "the meter shows whole numbers"),
        (A1C, "6.45", "the analyzer shows 1 decimal place"),
        (STREP, "maybe", "record one of positive, negative, invalid"),
        (PH, "6.3", "record one of 5.0, 5.5"),
    ],
)
def test_readings_refused(analyte, typed, says):
    with pytest.raises(ValueRefused) as refused:
        read_value(analyte, typed)
    assert says in str(refused.value)


def test_a_test_with_no_range_configured_refuses_numbers():
    with pytest.raises(ValueRefused, match="no reportable range configured"):
        read_value(GLUCOSE.with_range(None, None), "100")


def test_a_meter_with_another_range_uses_its_own():
    other = GLUCOSE.with_range(Decimal("10"), Decimal("600"))
    assert read_value(other, "12").number == Decimal("12")
    assert read_value(other, "LO").text == "<10"


# The catalog's defaults (the clinic may set its own): glucose reference 70-140 mg/dL,
# critical below 54 (ADA level 2 hypoglycaemia) or above 400; HbA1c reference 4.0-5.6 %, no
# critical limits. Every boundary, row by row: the limits themselves are inside their band.
@pytest.mark.parametrize(
    ("analyte", "typed", "flag"),
    [
        (GLUCOSE, "LO", "LL"),  # below the meter's 20: below the critical low by definition
        (GLUCOSE, "<20", "LL"),
        (GLUCOSE, "20", "LL"),
        (GLUCOSE, "25", "LL"),
        (GLUCOSE, "53", "LL"),
        (GLUCOSE, "54", "L"),  # ADA level 2 is < 54: 54 itself is low, not critical
        (GLUCOSE, "69", "L"),
        (GLUCOSE, "70", ""),
        (GLUCOSE, "104", ""),
        (GLUCOSE, "140", ""),
        (GLUCOSE, "141", "H"),
        (GLUCOSE, "400", "H"),
        (GLUCOSE, "401", "HH"),
        (GLUCOSE, "550", "HH"),
        (GLUCOSE, "600", "HH"),
        (GLUCOSE, "HI", "HH"),  # above the meter's 600: above the critical high
        (GLUCOSE, ">600", "HH"),
        (A1C, "LO", "<"),  # no critical limit: off scale, abnormal, not critical
        (A1C, "4.0", ""),
        (A1C, "5.6", ""),
        (A1C, "5.7", "H"),
        (A1C, "14.9", "H"),
        (A1C, "HI", ">"),
        (STREP, "negative", ""),
        (STREP, "positive", "A"),
        (FLU_A, "positive", "A"),
        (COVID, "positive", "A"),
        (HCG, "positive", "A"),
        (HCG, "negative", ""),
        (PROTEIN, "trace", "A"),
        (PROTEIN, "negative", ""),
        (PH, "8.5", "A"),
        (PH, "6.0", ""),
    ],
)
def test_flags_for_the_providers_inbox(analyte, typed, flag):
    assert flag_of(read_value(analyte, typed)) == flag


def test_the_catalog_defaults_are_those_the_flags_are_tested_against():
    assert (GLUCOSE.reference_low, GLUCOSE.reference_high) == (Decimal("70"), Decimal("140"))
    assert (GLUCOSE.critical_low, GLUCOSE.critical_high) == (Decimal("54"), Decimal("400"))
    assert (A1C.reference_low, A1C.reference_high) == (Decimal("4.0"), Decimal("5.6"))
    assert (A1C.critical_low, A1C.critical_high) == (None, None)
    assert (GLUCOSE.reference_text, A1C.reference_text) == ("70-140", "4.0-5.6")


# A clinic's own limits: fasting reference 70-99, critical below 50 only.
FASTING = GLUCOSE.with_limits(Decimal("70"), Decimal("99"), Decimal("50"), None)


@pytest.mark.parametrize(
    ("typed", "flag"),
    [
        ("LO", "LL"),
        ("49", "LL"),
        ("50", "L"),
        ("99", ""),
        ("100", "H"),
        ("599", "H"),  # no critical high: high, never critical
        ("HI", ">"),
    ],
)
def test_flags_follow_the_clinics_own_limits(typed, flag):
    assert flag_of(read_value(FASTING, typed)) == flag


def test_the_reference_text_is_the_clinics_interval_in_obx7_form():
    assert FASTING.reference_text == "70-99"
    assert A1C.with_limits(Decimal("4"), Decimal("5.6"), None, None).reference_text == "4.0-5.6"
    assert GLUCOSE.with_limits(None, None, None, None).reference_text == ""
    unlimited = GLUCOSE.with_limits(None, None, None, None)
    assert (
        flag_of(read_value(unlimited, "25")) == "" and flag_of(read_value(unlimited, "LO")) == "<"
    )


# -- Control runs ----------------------------------------------------------------------------


POSITIVE = {STREP.code: Expectation(answers=("positive",))}
LEVEL_1 = {GLUCOSE.code: Expectation(low=Decimal("36"), high=Decimal("60"))}


@pytest.mark.parametrize(
    ("expected", "observed", "passed", "problems"),
    [
        (POSITIVE, {STREP.code: "Positive"}, True, ()),
        (POSITIVE, {STREP.code: "negative"}, False, ("Group A strep antigen: expected Positive, observed Negative",)),  # noqa: E501
        (POSITIVE, {STREP.code: "invalid"}, False, ("Group A strep antigen: invalid (the control line did not appear)",)),  # noqa: E501
        (LEVEL_1, {GLUCOSE.code: "36"}, True, ()),
        (LEVEL_1, {GLUCOSE.code: "60"}, True, ()),
        (LEVEL_1, {GLUCOSE.code: "61"}, False, ("Glucose: expected 36–60 mg/dL, observed 61 mg/dL",)),  # noqa: E501
        (LEVEL_1, {GLUCOSE.code: "35"}, False, ("Glucose: expected 36–60 mg/dL, observed 35 mg/dL",)),  # noqa: E501
        (LEVEL_1, {GLUCOSE.code: "HI"}, False, ("Glucose: expected 36–60 mg/dL, observed HI (off the meter's range)",)),  # noqa: E501
    ],
)  # fmt: skip
def test_a_control_run_passes_or_fails_by_the_lots_expectations(
    expected, observed, passed, problems
):
    outcome = qc_outcome([STREP, GLUCOSE], expected, observed)
    assert (outcome.passed, outcome.problems) == (passed, problems)


def test_the_influenza_a_positive_control_must_read_b_negative():
    expected = {
        FLU_A.code: Expectation(answers=("positive",)),
        FLU_B.code: Expectation(answers=("negative",)),
    }
    ok = qc_outcome([FLU_A, FLU_B], expected, {FLU_A.code: "positive", FLU_B.code: "negative"})
    bad = qc_outcome([FLU_A, FLU_B], expected, {FLU_A.code: "positive", FLU_B.code: "positive"})
    assert ok.passed and not bad.passed
    assert bad.problems == ("Influenza B antigen: expected Negative, observed Positive",)


def test_a_dipstick_control_accepts_any_listed_block():
    expected = {PROTEIN.code: Expectation(answers=("trace", "1+"))}
    assert qc_outcome([PROTEIN], expected, {PROTEIN.code: "1+"}).passed
    assert not qc_outcome([PROTEIN], expected, {PROTEIN.code: "negative"}).passed


@pytest.mark.parametrize(
    ("observed", "says"),
    [
        ({}, "Record the Group A strep antigen reading of the control."),
        ({STREP.code: "pink"}, "record one of positive, negative, invalid"),
    ],
)
def test_a_control_run_with_no_reading_is_refused_not_failed(observed, says):
    with pytest.raises(ValueRefused, match=says):
        qc_outcome([STREP], POSITIVE, observed)


def test_a_control_number_that_is_not_a_number_is_refused():
    with pytest.raises(ValueRefused, match="type the number the meter shows for the control"):
        qc_outcome([GLUCOSE], LEVEL_1, {GLUCOSE.code: "high-ish"})


@pytest.mark.parametrize(
    ("analyte", "expectation", "problem"),
    [
        (GLUCOSE, Expectation(low=Decimal("36"), high=Decimal("60")), None),
        (GLUCOSE, Expectation(low=Decimal("60"), high=Decimal("36")), "low end is above"),
        (GLUCOSE, Expectation(low=Decimal("300"), high=Decimal("700")), "outside the meter's"),
        (GLUCOSE, Expectation(answers=("positive",)), "type the control's range"),
        (STREP, Expectation(answers=("positive",)), None),
        (STREP, Expectation(answers=("invalid",)), "not a reading a control may be expected"),
        (STREP, Expectation(), "choose the reading"),
    ],
)
def test_expected_values_for_a_control_lot(analyte, expectation, problem):
    found = check_expectation(analyte, expectation)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_expectations_round_trip_through_json():
    for e in (
        Expectation(answers=("trace", "1+")),
        Expectation(low=Decimal("5.0"), high=Decimal("6.1")),
    ):  # noqa: E501
        assert Expectation.from_json(e.as_json()) == e


# -- Competency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assessed_on", "first", "valid_until"),
    [
        # the initial assessment: six months
        (dt.date(2026, 1, 15), None, dt.date(2026, 7, 15)),
        # the second, within the first year: six months again (semiannual in year one)
        (dt.date(2026, 7, 10), dt.date(2026, 1, 15), dt.date(2027, 1, 10)),
        # a year after the first: annual from now on
        (dt.date(2027, 1, 15), dt.date(2026, 1, 15), dt.date(2028, 1, 15)),
        (dt.date(2027, 1, 14), dt.date(2026, 1, 15), dt.date(2027, 7, 14)),
        # month ends are clamped
        (dt.date(2026, 8, 31), None, dt.date(2027, 2, 28)),
        # a "first" after this one is ignored
        (dt.date(2026, 1, 15), dt.date(2026, 3, 1), dt.date(2026, 7, 15)),
    ],
)
def test_competency_semiannual_in_the_first_year_then_annual(assessed_on, first, valid_until):
    assert competency_valid_until(assessed_on, first) == valid_until


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 11, 30), 2, dt.date(2027, 1, 30)),
        (dt.date(2026, 12, 15), 12, dt.date(2027, 12, 15)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_the_catalog_has_the_seven_tests_with_their_loinc_codes():
    assert {k.code: k.loinc for k in catalog.KINDS} == {
        "rapid_strep": "78012-2",
        "influenza": "80381-7",
        "covid_antigen": "94558-4",
        "glucose": "41653-7",
        "urine_hcg": "2106-3",
        "urinalysis": "24357-6",
        "hba1c": "4548-4",
    }
    assert [a.code for a in catalog.kind("influenza").analytes] == ["80382-5", "80383-3"]
    assert len(catalog.URINE_PADS) == 10
    for kind in catalog.KINDS:
        for level in kind.levels:
            assert set(level.expected) <= {a.code for a in kind.analytes}
