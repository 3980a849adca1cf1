"""pediatric.py against its sources: Fleming 2011 centile bands (every band edge and centile
boundary), AAP 2017 / Flynn 2017 Tables 3-5 (every threshold, cap switch, age switch and height
column), and the PALS hypotension rule at each edge."""

import csv
import math
from decimal import Decimal

import pytest

from medassist.core import reference
from medassist.vitals import growth, pediatric
from medassist.vitals.interpretation import Flag


def _rows(*parts: str) -> list[dict[str, str]]:
    with open(reference.path("vitals", *parts), newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


# Age convention (pediatric.py docstring): 30.4375 days per month, 365.25 days per year.
UNIT_DAYS = {"months": 30.4375, "years": 365.25}


def _band_days(row: dict[str, str]) -> tuple[int, int]:
    """First and last whole day of a Fleming band [from, to)."""
    unit = UNIT_DAYS[row["age_unit"]]
    return (
        math.ceil(float(row["age_from"]) * unit),
        math.ceil(float(row["age_to_exclusive"]) * unit) - 1,
    )


def _band(kind: str, age_days: float) -> pediatric.CentileBand:
    """pediatric.band_for, asserting that a band covers the age."""
    band = pediatric.band_for(kind, age_days)
    assert band is not None, (kind, age_days)
    return band


# ============================================================== Fleming 2011 HR and RR

FLEMING = {
    "hr": _rows("pediatric-vitals-fleming2011", "fleming2011_hr_centiles.csv"),
    "rr": _rows("pediatric-vitals-fleming2011", "fleming2011_rr_centiles.csv"),
}
FN = {"hr": pediatric.heart_rate, "rr": pediatric.respiratory_rate}
FLEMING_CASES = [(kind, i, row) for kind, rows in FLEMING.items() for i, row in enumerate(rows)]


def _fleming_id(case) -> str:
    kind, _, row = case
    return f"Fleming2011-{kind}-{row['age_from']}-{row['age_to_exclusive']}{row['age_unit']}"


def test_fleming_has_13_bands_each():
    assert len(FLEMING["hr"]) == len(FLEMING["rr"]) == 13


# Each centile boundary value just below / at / just above, and the flag the rule gives:
# below p1 -> LL, p1..<p10 -> L, p10..p90 -> N, >p90..p99 -> H, above p99 -> HH.
def _boundary_expectations(row: dict[str, str]) -> list[tuple[Decimal, Flag, str]]:
    p1, p10, p90, p99 = (Decimal(row[k]) for k in ("p1", "p10", "p90", "p99"))
    d = Decimal("0.1")
    return [
        (p1 - d, Flag.CRITICAL_LOW, "below_p1"),
        (p1, Flag.LOW, "p1_p10"),
        (p1 + d, Flag.LOW, "p1_p10"),
        (p10 - d, Flag.LOW, "p1_p10"),
        (p10, Flag.NORMAL, "p10_p90"),
        (p10 + d, Flag.NORMAL, "p10_p90"),
        (p90 - d, Flag.NORMAL, "p10_p90"),
        (p90, Flag.NORMAL, "p10_p90"),
        (p90 + d, Flag.HIGH, "p90_p99"),
        (p99 - d, Flag.HIGH, "p90_p99"),
        (p99, Flag.HIGH, "p90_p99"),
        (p99 + d, Flag.CRITICAL_HIGH, "above_p99"),
    ]


@pytest.mark.parametrize("case", FLEMING_CASES, ids=_fleming_id)
def test_fleming_band_edges_and_centile_boundaries(case):
    kind, _, row = case
    first, last = _band_days(row)
    for day in (first, last):
        for value, flag, code in _boundary_expectations(row):
            res = FN[kind](day, float(value))
            assert res is not None, (day, value)
            assert (res.flag, res.category) == (flag, code), (day, value)
            assert res.low == Decimal(row["p10"]) and res.high == Decimal(row["p90"])
            assert res.unit == "/min" and res.percentile is None
            assert res.source == pediatric.FLEMING_SOURCE


@pytest.mark.parametrize("case", FLEMING_CASES, ids=_fleming_id)
def test_fleming_band_selection_at_edges(case):
    kind, i, row = case
    first, last = _band_days(row)
    assert _band(kind, first).age_from == Decimal(row["age_from"])
    assert _band(kind, last).age_from == Decimal(row["age_from"])
    if i > 0:
        previous = FLEMING[kind][i - 1]
        assert _band(kind, first - 1).age_from == Decimal(previous["age_from"])
    after = pediatric.band_for(kind, last + 1)
    if i + 1 < len(FLEMING[kind]):
        assert after is not None
        assert after.age_from == Decimal(FLEMING[kind][i + 1]["age_from"])
    else:
        assert after is None


@pytest.mark.parametrize(
    "day, band_from, unit",
    [
        (0, "0", "months"),
        (91, "0", "months"),  # 3 months = 91.3125 days
        (92, "3", "months"),
        (365, "9", "months"),  # 12 months = 365.25 days
        (366, "12", "months"),
        (730, "18", "months"),  # 24 months = 2 years = 730.5 days
        (731, "2", "years"),
        (6574, "15", "years"),  # 18 years = 6574.5 days
    ],
)
@pytest.mark.parametrize("kind", ["hr", "rr"])
def test_fleming_known_edge_days(kind, day, band_from, unit):
    band = _band(kind, day)
    assert (band.age_from, band.age_unit) == (Decimal(band_from), unit)


@pytest.mark.parametrize("day", [6574.5, 6575, 18 * 365.25 + 1, 30000])
def test_fleming_none_from_18_years(day):
    assert pediatric.heart_rate(day, 80) is None
    assert pediatric.respiratory_rate(day, 16) is None


def test_fleming_fractional_day_just_below_18_years():
    assert pediatric.heart_rate(6574.49, 80) is not None


def test_negative_age_raises():
    with pytest.raises(ValueError):
        pediatric.heart_rate(-1, 120)


# ============================================================== AAP 2017 blood pressure

# Flynn 2017 Table 3 (published values, restated here independently of the CSV parser).
ELEVATED_CAP = (120, 80)
STAGE1_CAP = (130, 80)
STAGE2_CAP = (140, 90)
STAGE2_OFFSET = 12
ADULT_ELEVATED_SBP = 120
ADULT_STAGE1 = (130, 80)
ADULT_STAGE2 = (140, 90)
COLUMNS = (5, 10, 25, 50, 75, 90, 95)
ORDER = ("normal", "elevated", "stage1", "stage2")

FLYNN = {
    "male": _rows("pediatric-bp-aap2017", "flynn2017_bp_boys.csv"),
    "female": _rows("pediatric-bp-aap2017", "flynn2017_bp_girls.csv"),
}


def _flynn(sex: str, age: int, bp_pct: int, column: int) -> tuple[int, int]:
    row = next(
        r for r in FLYNN[sex] if int(r["age_years"]) == age and int(r["bp_percentile"]) == bp_pct
    )
    return int(row[f"sbp_height_p{column}"]), int(row[f"dbp_height_p{column}"])


def _age_days(years: int) -> float:
    """A day well inside the year of age (completed years = `years`)."""
    return math.ceil(years * 365.25) + 100


def _height_at(age_days: float, sex: str, pct: float) -> float:
    months = age_days / 30.4375
    chart = "cdc_statage" if months >= 24 else "cdc_lenageinf"
    L, M, S = growth.lms_at(chart, sex, months)
    return growth.value_at_z(L, M, S, growth.percentile_to_z(pct))


def _expected_lower_bounds(sex: str, age: int, column: int, i: int) -> dict[str, int | None]:
    """Lowest mmHg of each category for SBP (i=0) or DBP (i=1), from Tables 3-5."""
    p90 = _flynn(sex, age, 90, column)[i]
    p95 = _flynn(sex, age, 95, column)[i]
    if age < 13:
        return {
            "elevated": min(p90, ELEVATED_CAP[i]),
            "stage1": min(p95, STAGE1_CAP[i]),
            "stage2": min(p95 + STAGE2_OFFSET, STAGE2_CAP[i]),
        }
    return {
        "elevated": ADULT_ELEVATED_SBP if i == 0 else None,  # "120/<80 to 129/<80"
        "stage1": ADULT_STAGE1[i],
        "stage2": ADULT_STAGE2[i],
    }


def _expected_category(value: float, bounds: dict[str, int | None]) -> str:
    category = "normal"
    for code in ("elevated", "stage1", "stage2"):
        bound = bounds[code]
        if bound is not None and value >= bound:
            category = code
    return category


def _bp(
    *, age_days: float, sex: str, height_cm: float, sbp: float, dbp: float
) -> pediatric.PediatricBP:
    """pediatric.blood_pressure, asserting that the AAP tables cover the age."""
    res = pediatric.blood_pressure(
        age_days=age_days, sex=sex, height_cm=height_cm, sbp=sbp, dbp=dbp
    )
    assert res is not None, (age_days, sex)
    return res


BP_CASES = [
    (sex, age, col) for sex in ("male", "female") for age in range(1, 18) for col in COLUMNS
]


@pytest.mark.parametrize(
    "sex, age, column", BP_CASES, ids=[f"Flynn2017-{s}-{a}y-h{c}" for s, a, c in BP_CASES]
)
def test_aap_every_threshold(sex, age, column):
    age_days = _age_days(age)
    height = _height_at(age_days, sex, column)
    # Low partner values that are "normal" at every age.
    normal_sbp, normal_dbp = _flynn(sex, age, 50, column)
    for i, comp in enumerate(("sbp", "dbp")):
        bounds = _expected_lower_bounds(sex, age, column, i)
        for code, bound in bounds.items():
            if bound is None:
                continue
            for value in (bound - 1, bound, bound + 1):
                sbp, dbp = (value, normal_dbp) if comp == "sbp" else (normal_sbp, value)
                res = pediatric.blood_pressure(
                    age_days=age_days, sex=sex, height_cm=height, sbp=sbp, dbp=dbp
                )
                assert res is not None
                assert res.height_column == column and res.age_years == age
                got = res.sbp_category if comp == "sbp" else res.dbp_category
                assert got == _expected_category(value, bounds), (comp, code, value)
                assert res.category == got
                assert res.interpretation.flag is (Flag.NORMAL if got == "normal" else Flag.HIGH)
                assert res.interpretation.category == got
        assert res is not None
        thresholds = res.sbp if comp == "sbp" else res.dbp
        assert thresholds.p90 == _flynn(sex, age, 90, column)[i]
        assert thresholds.p95 == _flynn(sex, age, 95, column)[i]
        assert thresholds.p95_plus_12 == thresholds.p95 + STAGE2_OFFSET


def _young_rows_where(predicate) -> list[tuple[str, int, int]]:
    return [
        (sex, age, col)
        for sex in ("male", "female")
        for age in range(1, 13)
        for col in COLUMNS
        if predicate(sex, age, col)
    ]


def test_aap_120_cap_switch_for_elevated_sbp():
    # Rows of Tables 4/5 (< 13 y) whose 90th percentile SBP is above 120: there the
    # "120/80 ... whichever is lower" rule switches and 120 starts "elevated".
    rows = _young_rows_where(lambda s, a, c: _flynn(s, a, 90, c)[0] > ELEVATED_CAP[0])
    assert rows, "the published tables contain such rows (12 y, tall children)"
    for sex, age, col in rows:
        age_days = _age_days(age)
        h = _height_at(age_days, sex, col)
        dbp = _flynn(sex, age, 50, col)[1]
        at = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=120, dbp=dbp)
        below = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=119, dbp=dbp)
        assert at.category == "elevated" and below.category == "normal"
        assert at.sbp.elevated == 120 < at.sbp.p90
        assert "120 mmHg" in at.interpretation.text


def test_aap_90_cap_switch_for_stage2_dbp():
    rows = _young_rows_where(lambda s, a, c: _flynn(s, a, 95, c)[1] + STAGE2_OFFSET > STAGE2_CAP[1])
    assert rows
    for sex, age, col in rows:
        age_days = _age_days(age)
        h = _height_at(age_days, sex, col)
        sbp = _flynn(sex, age, 50, col)[0]
        at = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=sbp, dbp=90)
        below = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=sbp, dbp=89)
        assert at.category == "stage2" and below.category == "stage1"
        assert at.dbp.stage2 == 90 < at.dbp.p95_plus_12


def test_aap_percentile_rule_where_cap_does_not_bind():
    # Where p95 + 12 < 140 the percentile decides, not the cap (e.g. a 1-year-old).
    sex, age, col = "male", 1, 50
    p95 = _flynn(sex, age, 95, col)[0]
    age_days = _age_days(age)
    h = _height_at(age_days, sex, col)
    res = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=p95 + 12, dbp=40)
    assert res.category == "stage2" and res.sbp.stage2 == p95 + 12 < STAGE2_CAP[0]
    assert "95th percentile + 12 mmHg" in res.interpretation.text


@pytest.mark.parametrize(
    "p90, p95, i, expected",
    [
        # The 130/80 stage-1 cap and the 80 mmHg DBP caps do not bind anywhere in Tables 4/5
        # (< 13 y), so the "whichever is lower" rule is checked on synthetic percentiles.
        (125, 133, 0, (120, 130, 140)),
        (110, 114, 0, (110, 114, 126)),
        (82, 85, 1, (80, 80, 90)),
        (70, 75, 1, (70, 75, 87)),
    ],
)
def test_aap_whichever_is_lower_rule(p90, p95, i, expected):
    t = pediatric._young_thresholds(p90, p95, pediatric.bp_rules(), i)
    assert (t.elevated, t.stage1, t.stage2) == expected


def test_aap_rules_read_from_table3_file():
    rules = pediatric.bp_rules()
    assert rules.young_elevated_cap == ELEVATED_CAP
    assert rules.young_stage1_cap == STAGE1_CAP
    assert rules.young_stage2_cap == STAGE2_CAP
    assert rules.stage2_offset == STAGE2_OFFSET
    assert rules.adult_elevated == (ADULT_ELEVATED_SBP, None)
    assert rules.adult_stage1 == ADULT_STAGE1 and rules.adult_stage2 == ADULT_STAGE2
    assert rules.adult_from_years == 13


@pytest.mark.parametrize("sex", ["male", "female"])
def test_aap_age_12_to_13_switch(sex):
    last_12 = math.ceil(13 * 365.25) - 1  # 4748: completed years 12
    first_13 = math.ceil(13 * 365.25)  # 4749: completed years 13
    col = 50
    for day, age in ((last_12, 12), (first_13, 13)):
        h = _height_at(day, sex, col)
        dbp = 60
        for sbp in range(100, 146):
            res = _bp(age_days=day, sex=sex, height_cm=h, sbp=sbp, dbp=dbp)
            assert res.age_years == age and res.height_column == col
            bounds = _expected_lower_bounds(sex, age, col, 0)
            assert res.sbp_category == _expected_category(sbp, bounds), (age, sbp)
    # At 13 y the adult-style cut-offs apply regardless of the percentiles.
    res13 = _bp(
        age_days=first_13, sex=sex, height_cm=_height_at(first_13, sex, col), sbp=100, dbp=60
    )
    assert (res13.sbp.elevated, res13.sbp.stage1, res13.sbp.stage2) == (120, 130, 140)
    assert (res13.dbp.elevated, res13.dbp.stage1, res13.dbp.stage2) == (None, 80, 90)
    res12 = _bp(age_days=last_12, sex=sex, height_cm=_height_at(last_12, sex, col), sbp=100, dbp=60)
    assert res12.sbp.elevated == min(_flynn(sex, 12, 90, col)[0], 120)


@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize("age", [5, 15])
def test_aap_sbp_vs_dbp_higher_category_applies(sex, age):
    age_days = _age_days(age)
    h = _height_at(age_days, sex, 50)
    lows = {}
    for i in (0, 1):
        bounds = _expected_lower_bounds(sex, age, 50, i)
        base = _flynn(sex, age, 50, 50)[i]
        lows[i] = {"normal": base, **{k: v for k, v in bounds.items() if v is not None}}
    for s_code, sbp in lows[0].items():
        for d_code, dbp in lows[1].items():
            res = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=sbp, dbp=dbp)
            assert (res.sbp_category, res.dbp_category) == (s_code, d_code)
            assert res.category == max(s_code, d_code, key=ORDER.index)
            if res.category != "normal":
                side = "systolic" if ORDER.index(s_code) >= ORDER.index(d_code) else "diastolic"
                assert res.interpretation.text.startswith(
                    {
                        "elevated": "Elevated blood pressure",
                        "stage1": "Stage 1 hypertension",
                        "stage2": "Stage 2 hypertension",
                    }[res.category]  # fmt: skip
                )
                assert side in res.interpretation.text


@pytest.mark.parametrize(
    "pct, column",
    [
        (1, 5), (5, 5), (7.4, 5), (7.6, 10), (10, 10), (17.4, 10), (17.6, 25), (25, 25),
        (37.4, 25), (37.6, 50), (50, 50), (62.4, 50), (62.6, 75), (75, 75), (82.4, 75),
        (82.6, 90), (90, 90), (92.4, 90), (92.6, 95), (95, 95), (99.5, 95),
    ],
)  # fmt: skip
@pytest.mark.parametrize("sex", ["male", "female"])
def test_aap_height_percentile_column_selection(pct, column, sex):
    age_days = _age_days(7)
    h = _height_at(age_days, sex, pct)
    res = _bp(age_days=age_days, sex=sex, height_cm=h, sbp=90, dbp=50)
    assert res.height_percentile == pytest.approx(pct, abs=1e-6)
    assert res.height_column == column
    expected_p90 = _flynn(sex, 7, 90, column)
    assert (res.sbp.p90, res.dbp.p90) == expected_p90


@pytest.mark.parametrize(
    "pct, column", [(7.5, 10), (17.5, 25), (37.5, 50), (62.5, 75), (82.5, 90), (92.5, 95)]
)
def test_aap_height_column_tie_goes_up(pct, column):
    assert pediatric.nearest_height_column(pct) == column


def test_aap_height_chart_switches_at_24_months():
    # CDC 2000 length-for-age before 24 months (730.5 days), stature-for-age from 24 months.
    for day, chart in ((730, "cdc_lenageinf"), (731, "cdc_statage")):
        months = day / 30.4375
        L, M, S = growth.lms_at(chart, "female", months)
        h = 85.0
        expected = growth.z_to_percentile(growth.lms_z(h, L, M, S))
        got = pediatric.height_percentile(age_days=day, sex="female", height_cm=h)
        assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "day, covered",
    [
        (365, False),  # 0.999 y
        (366, True),  # completed 1 year (365.25 days)
        (math.ceil(18 * 365.25) - 1, True),  # last day of 17 y
        (math.ceil(18 * 365.25), False),  # 18 y
    ],
)
def test_aap_age_range(day, covered):
    h = _height_at(day, "male", 50)
    res = pediatric.blood_pressure(age_days=day, sex="male", height_cm=h, sbp=95, dbp=50)
    assert (res is not None) is covered


# ============================================================== PALS hypotension


# SOURCE.md section 6: SBP < 60 term neonate (< 28 days); < 70 for 1-12 months;
# < 70 + 2 x age in years for 1-10 years; < 90 over 10 years.
def _pals_edges() -> list[tuple[float, int]]:
    edges: list[tuple[float, int]] = [(0, 60), (27, 60), (27.99, 60), (28, 70), (365, 70)]
    for years in range(1, 11):
        first = math.ceil(years * 365.25)
        edges += [(first - 1, 70 + 2 * (years - 1) if years > 1 else 70), (first, 70 + 2 * years)]
    first_11 = math.ceil(11 * 365.25)
    edges += [(first_11 - 1, 90), (first_11, 90), (15 * 365.25, 90), (17 * 365.25, 90)]
    return edges


@pytest.mark.parametrize("day, threshold", _pals_edges())
def test_pals_hypotension_edges(day, threshold):
    assert pediatric.pals_hypotension_threshold(day) == threshold
    assert pediatric.pals_hypotension(day, threshold - 1) is True
    assert pediatric.pals_hypotension(day, threshold - 0.1) is True
    assert pediatric.pals_hypotension(day, threshold) is False
    assert pediatric.pals_hypotension(day, threshold + 1) is False


def test_pals_negative_age_raises():
    with pytest.raises(ValueError):
        pediatric.pals_hypotension(-1, 50)


def test_aap_unknown_sex_raises():
    with pytest.raises(ValueError):
        pediatric.blood_pressure(age_days=3000, sex="x", height_cm=120, sbp=100, dbp=60)
