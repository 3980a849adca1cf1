"""growth.py against its sources: the CDC LMS percentile oracle (every row), the WHO anthro
package's own test cases, the SOURCE.md row counts, and the chart-choice rules."""

import csv
import math
from pathlib import Path

import pytest

from medassist.core import reference
from medassist.vitals import growth
from medassist.vitals.interpretation import Flag


def _rows(*parts: str) -> list[dict[str, str]]:
    with open(reference.path("vitals", *parts), newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


CDC_ORACLE = _rows("validation", "cdc_lms_percentile_oracle.csv")
WHO_CASES = _rows("validation", "who_anthro_test_cases.csv")
CHART_BY_FILE = {c.filename: c.id for c in growth.CHARTS.values()}


def _oracle_id(row: dict[str, str]) -> str:
    return (
        f"{row['cdc_file']}-sex{row['sex_1male_2female']}-{row['x_variable']}{row['x_value']}"
        f"-P{row['expected_percentile']}"
    )


def _assessed(
    measure: str,
    *,
    sex: str,
    age_days: float,
    value: float,
    recumbent: bool | None = None,
    length_cm: float | None = None,
) -> growth.GrowthResult:
    """growth.assess, asserting that a chart covers the measurement."""
    res = growth.assess(
        measure, sex=sex, age_days=age_days, value=value, recumbent=recumbent, length_cm=length_cm
    )
    assert res is not None, (measure, sex, age_days, value)
    return res


# ------------------------------------------------------------------ CDC oracle, row by row


def test_cdc_oracle_is_complete():
    # SOURCE.md section 7: 156 rows drawn from the 8 CDC files.
    assert len(CDC_ORACLE) == 156
    files = {r["cdc_file"] for r in CDC_ORACLE}
    assert len(files) == 8 and files <= set(CHART_BY_FILE)


@pytest.mark.parametrize("row", CDC_ORACLE, ids=_oracle_id)
def test_cdc_oracle_from_row_lms(row):
    z = growth.lms_z(
        float(row["measured_value"]), float(row["L"]), float(row["M"]), float(row["S"])
    )
    assert growth.z_to_percentile(z) == pytest.approx(float(row["expected_percentile"]), abs=1e-5)


@pytest.mark.parametrize("row", CDC_ORACLE, ids=_oracle_id)
def test_cdc_oracle_through_chart_lookup(row):
    chart = CHART_BY_FILE[row["cdc_file"]]
    lms = growth.lms_at(chart, int(row["sex_1male_2female"]), float(row["x_value"]))
    assert lms == pytest.approx((float(row["L"]), float(row["M"]), float(row["S"])))
    z = growth.lms_z(float(row["measured_value"]), *lms)
    assert growth.z_to_percentile(z) == pytest.approx(float(row["expected_percentile"]), abs=1e-5)


# ------------------------------------------------------------------ WHO anthro test cases

_WHO_MEASURE = {"weight_for_age": "weight", "length_for_age": "length"}


@pytest.mark.parametrize("row", WHO_CASES, ids=lambda r: f"{r['indicator']}-{r['age_days']}d")
def test_who_anthro_cases(row):
    assert len(WHO_CASES) == 3
    measure = _WHO_MEASURE[row["indicator"]]
    recumbent = True if "recumbent" in row["measure"] else None
    result = growth.assess_who(
        measure,
        sex={"1": "male", "2": "female"}[row["sex_1male_2female"]],
        age_days=int(row["age_days"]),
        value=float(row["value"]),
        recumbent=recumbent,
    )
    assert result is not None
    assert result.z == pytest.approx(float(row["expected_z"]), abs=0.01)
    assert result.implausible is bool(int(row["expected_flag"]))
    assert result.source == growth.WHO_SOURCE


def test_who_case_under_two_years_goes_through_the_chooser():
    row = next(r for r in WHO_CASES if int(r["age_days"]) < 731)
    result = growth.assess(
        "length", sex="male", age_days=int(row["age_days"]), value=float(row["value"])
    )
    assert result is not None and result.chart == "who_lhfa"
    assert result.z == pytest.approx(float(row["expected_z"]), abs=0.01)


# ------------------------------------------------------------------ loader


# SOURCE.md sections 1 and 2: data rows per file (excluding header rows).
SOURCE_MD_ROWS = {
    "wtageinf.csv": 76,
    "lenageinf.csv": 74,
    "wtleninf.csv": 120,
    "hcageinf.csv": 76,
    "wtage.csv": 436,
    "statage.csv": 436,
    "bmiagerev.csv": 438,
    "wtstat.csv": 92,
    "weianthro.csv": 3654,
    "lenanthro.csv": 3654,
    "hcanthro.csv": 3654,
    "bmianthro.csv": 3654,
    "wflanthro.csv": 1302,
    "wfhanthro.csv": 1102,
}


@pytest.mark.parametrize("chart", sorted(growth.CHARTS))
def test_loader_reads_every_data_row(chart):
    c = growth.CHARTS[chart]
    n = sum(len(growth._series(c, sex).x) for sex in (1, 2))
    assert n == SOURCE_MD_ROWS[c.filename]


def _independent_m(chart: growth.Chart, sex: int) -> list[tuple[float, float]]:
    """Read x and M straight from the file (skipping repeated header rows) for comparison."""
    out = []
    for row in _rows(chart.folder, chart.filename):
        norm = {k.strip().lower(): v for k, v in row.items() if k}
        if norm["sex"].strip() != str(sex):
            continue
        out.append((float(norm[chart.index_column]), float(norm["m"])))
    return sorted(out)


@pytest.mark.parametrize("chart", sorted(growth.CHARTS))
@pytest.mark.parametrize("sex", ["male", "female"])
def test_curve_p50_equals_m(chart, sex):
    c = growth.CHARTS[chart]
    expected = _independent_m(c, growth.sex_code(sex))
    [(p, points)] = growth.curves(chart, sex, percentiles=(50,))
    assert p == 50
    scale = growth.DAYS_PER_MONTH if c.x_kind == "age_days" else 1.0
    assert len(points) == len(expected)
    for (x, value), (ex, em) in zip(points, expected, strict=True):
        assert x * scale == pytest.approx(ex)
        assert value == pytest.approx(em, rel=1e-12)


def test_curves_units_and_range():
    [(_, who)] = growth.curves("who_wfa", "female", percentiles=(50,), x_from=0, x_to=24)
    assert who[0][0] == 0 and who[-1][0] <= 24
    assert len(who) == 731  # days 0..730 = 24 months (730.5 d) and below
    curves = growth.curves("cdc_statage", "male")
    assert [p for p, _ in curves] == list(growth.DEFAULT_PERCENTILES)
    for (_, lower), (_, upper) in zip(curves, curves[1:], strict=False):
        assert all(a[1] < b[1] for a, b in zip(lower, upper, strict=True))
    # Tabulated P3/P97 columns of the CDC file are reproduced by the curves.
    row = next(r for r in _rows("cdc-growth-charts-2000", "statage.csv") if r["Sex"] == "1")
    p3 = dict(growth.curves("cdc_statage", "male", percentiles=(3, 97))[0][1])
    assert p3[float(row["Agemos"])] == pytest.approx(float(row["P3"]), abs=1e-6)


# ------------------------------------------------------------------ LMS arithmetic


@pytest.mark.parametrize("L", [-2.3, -1.0, -0.2, 1e-12, 0.0, 0.3, 1.0, 2.35])
@pytest.mark.parametrize("z", [-4.0, -3.0, -1.5, 0.0, 0.7, 2.0, 3.5])
def test_value_at_z_and_lms_z_round_trip(L, z):
    M, S = 17.3, 0.08
    x = growth.value_at_z(L, M, S, z)
    assert growth.lms_z(x, L, M, S) == pytest.approx(z, abs=1e-9)


def test_lms_log_form_is_the_limit_of_the_power_form():
    assert growth.lms_z(20.0, 0.0, 17.0, 0.1) == pytest.approx(
        growth.lms_z(20.0, 1e-7, 17.0, 0.1), abs=1e-6
    )


def test_z_to_percentile():
    assert growth.z_to_percentile(0.0) == 50.0
    assert growth.z_to_percentile(1.959963984540054) == pytest.approx(97.5, abs=1e-12)
    assert growth.z_to_percentile(-1.959963984540054) == pytest.approx(2.5, abs=1e-12)


def test_who_restricted_lms_beyond_three_sd():
    L, M, S = growth.lms_at("who_wfa", "male", 400)
    sd2, sd3 = (growth.value_at_z(L, M, S, z) for z in (2, 3))
    # WHO 2006 Methods ch. 7: beyond +3 SD each further SD is the 2-3 SD distance.
    assert growth.who_restricted_z(sd3 + (sd3 - sd2), L, M, S) == pytest.approx(4.0)
    assert growth.who_restricted_z(sd3, L, M, S) == pytest.approx(3.0)
    sdm2, sdm3 = (growth.value_at_z(L, M, S, z) for z in (-2, -3))
    assert growth.who_restricted_z(sdm3 - (sdm2 - sdm3), L, M, S) == pytest.approx(-4.0)
    for z in (-5.0, -3.5, -1.0, 0.0, 2.9, 4.2):
        x = growth.who_restricted_value_at_z(L, M, S, z)
        assert growth.who_restricted_z(x, L, M, S) == pytest.approx(z)


def test_restricted_lms_applies_to_weight_not_length():
    age = 400
    L, M, S = growth.lms_at("who_lhfa", "male", age)
    tall = growth.value_at_z(L, M, S, 4.0)
    assert _assessed("length", sex="male", age_days=age, value=tall).z == pytest.approx(4.0)
    L, M, S = growth.lms_at("who_wfa", "male", age)
    heavy = growth.value_at_z(L, M, S, 4.0)
    res = _assessed("weight", sex="male", age_days=age, value=heavy)
    assert res.z == pytest.approx(growth.who_restricted_z(heavy, L, M, S))
    assert res.z != pytest.approx(4.0, abs=1e-3)


# ------------------------------------------------------------------ lookups


def test_who_age_is_rounded_half_up_to_the_day():
    assert growth.lms_at("who_wfa", "female", 100.5) == growth.lms_at("who_wfa", "female", 101)
    assert growth.lms_at("who_wfa", "female", 100.49) == growth.lms_at("who_wfa", "female", 100)


def test_interpolation_between_rows():
    s = growth._series(growth.CHARTS["cdc_wtage"], 1)
    x0, x1 = s.x[10], s.x[11]
    mid = growth.lms_at("cdc_wtage", "male", (x0 + x1) / 2)
    assert mid == pytest.approx(((s.L[10] + s.L[11]) / 2, (s.M[10] + s.M[11]) / 2,
                                 (s.S[10] + s.S[11]) / 2))  # fmt: skip
    w0 = growth.lms_at("who_wfl", "female", 60.0)
    w1 = growth.lms_at("who_wfl", "female", 60.1)
    w = growth.lms_at("who_wfl", "female", 60.03)
    assert w[1] == pytest.approx(w0[1] + 0.3 * (w1[1] - w0[1]))


@pytest.mark.parametrize(
    "chart, x",
    [
        ("cdc_wtage", 23.99),
        ("cdc_statage", 240.01),
        ("cdc_bmiagerev", 240.51),
        ("cdc_hcageinf", 36.01),
        ("cdc_wtleninf", 44.9),
        ("cdc_wtstat", 121.6),
        ("who_wfl", 44.99),
        ("who_wfl", 110.01),
        ("who_wfh", 64.9),
        ("who_wfa", 1827),
        ("who_wfa", -1),
    ],
)
def test_lms_at_refuses_outside_the_table(chart, x):
    with pytest.raises(ValueError):
        growth.lms_at(chart, "male", x)


# ------------------------------------------------------------------ chooser


@pytest.mark.parametrize(
    "measure, who, cdc",
    [
        ("weight", "who_wfa", "cdc_wtage"),
        ("length", "who_lhfa", "cdc_statage"),
        ("head", "who_hcfa", "cdc_hcageinf"),
        ("bmi", "who_bfa", "cdc_bmiagerev"),
        ("weight_for_length", "who_wfl", "cdc_wtstat"),
    ],
)
def test_chooser_who_before_731_days_cdc_after(measure, who, cdc):
    assert growth.chart_for(measure, 0) == who
    assert growth.chart_for(measure, 730) == who
    assert growth.chart_for(measure, 730.4) == who
    assert growth.chart_for(measure, 731) == cdc


@pytest.mark.parametrize(
    "measure, value, length_cm",
    [("weight", 12.0, None), ("length", 86.0, None), ("head", 48.0, None), ("bmi", 16.5, None),
     ("weight_for_length", 12.0, 86.0)],
)  # fmt: skip
def test_assess_switches_authority_at_731_days(measure, value, length_cm):
    before = growth.assess(measure, sex="female", age_days=730, value=value, length_cm=length_cm)
    after = growth.assess(measure, sex="female", age_days=731, value=value, length_cm=length_cm)
    assert before is not None and before.source.name.startswith("WHO")
    assert after is not None and after.source == growth.CDC_SOURCE


@pytest.mark.parametrize(
    "measure, age_days, value, length_cm",
    [
        ("head", 37 * growth.DAYS_PER_MONTH, 50.0, None),  # CDC head circumference ends at 36 mo
        ("weight", 240 * growth.DAYS_PER_MONTH, 60.0, None),  # CDC SAS: agemos >= 240 excluded
        ("bmi", 7305, 21.0, None),
        ("length", 9000, 170.0, None),
        ("weight_for_length", 300, 3.0, 44.9),  # WHO weight-for-length 45-110 cm
        ("weight_for_length", 300, 20.0, 110.1),
        ("weight_for_length", 1000, 9.0, 76.9),  # CDC weight-for-stature 77-121.5 cm
        ("weight_for_length", 1000, 30.0, 121.6),
    ],
)
def test_outside_every_table_is_none(measure, age_days, value, length_cm):
    assert (
        growth.assess(measure, sex="male", age_days=age_days, value=value, length_cm=length_cm)
        is None
    )


def test_who_direct_only_under_60_months():
    # anthro: z-scores only while age in months < 60, i.e. age_days < 60 * 30.4375 = 1826.25.
    assert growth.assess_who("weight", sex="male", age_days=1826, value=18) is not None
    assert growth.assess_who("weight", sex="male", age_days=1826.25, value=18) is None


def test_invalid_inputs_raise():
    with pytest.raises(ValueError):
        growth.assess("weight", sex="male", age_days=-1, value=3)
    with pytest.raises(ValueError):
        growth.assess("weight", sex="male", age_days=10, value=0)
    with pytest.raises(ValueError):
        growth.assess("weight", sex="other", age_days=10, value=3)
    with pytest.raises(ValueError):
        growth.assess("height", sex="male", age_days=10, value=3)
    with pytest.raises(ValueError):
        growth.assess("weight_for_length", sex="male", age_days=10, value=3)


# ------------------------------------------------------------------ WHO length/height rules


def test_standing_height_under_two_years_adds_07_cm():
    standing = _assessed("length", sex="male", age_days=400, value=75.0, recumbent=False)
    lying = _assessed("length", sex="male", age_days=400, value=75.7, recumbent=True)
    assert standing.z == pytest.approx(lying.z) and standing.value == pytest.approx(75.7)


def test_standing_height_before_nine_months_is_not_converted():
    # anthro: a standing height before 9 months is implausible; position treated as unknown.
    standing = _assessed("length", sex="male", age_days=200, value=66.0, recumbent=False)
    assert standing.value == 66.0


def test_recumbent_length_from_731_days_subtracts_07_cm():
    lying = _assessed("length", sex="female", age_days=900, value=88.0, recumbent=True)
    standing = _assessed("length", sex="female", age_days=900, value=87.3, recumbent=False)
    assert lying.chart == standing.chart == "cdc_statage"
    assert lying.z == pytest.approx(standing.z)


def test_weight_for_length_uses_the_converted_length():
    a = _assessed("weight_for_length", sex="male", age_days=500, value=10.0,
                  length_cm=79.3, recumbent=False)  # fmt: skip
    b = _assessed("weight_for_length", sex="male", age_days=500, value=10.0, length_cm=80.0)
    assert a.z == pytest.approx(b.z) and a.x == pytest.approx(80.0)


# ------------------------------------------------------------------ interpretation


def _at_percentile(chart: str, sex: str, x: float, p: float) -> float:
    L, M, S = growth.lms_at(chart, sex, x)
    return growth.chart_value_at_z(chart, L, M, S, growth.percentile_to_z(p))


@pytest.mark.parametrize(
    "p, code, flag",
    [
        (4.9, "underweight", Flag.LOW),
        (5.1, "healthy_weight", Flag.NORMAL),
        (84.9, "healthy_weight", Flag.NORMAL),
        (85.1, "overweight", Flag.HIGH),
        (94.9, "overweight", Flag.HIGH),
        (95.1, "obesity", Flag.HIGH),
    ],
)
def test_cdc_bmi_weight_categories(p, code, flag):
    age = 10 * 365.25
    bmi = _at_percentile("cdc_bmiagerev", "female", age / growth.DAYS_PER_MONTH, p)
    res = _assessed("bmi", sex="female", age_days=age, value=bmi)
    assert res.chart == "cdc_bmiagerev"
    assert res.percentile == pytest.approx(p)
    assert res.interpretation.category == code and res.interpretation.flag is flag
    assert res.interpretation.unit == "kg/m2"


@pytest.mark.parametrize(
    "p, code, flag",
    [(2.9, "below_p3", Flag.LOW), (3.1, "p3_p97", Flag.NORMAL), (96.9, "p3_p97", Flag.NORMAL),
     (97.1, "above_p97", Flag.HIGH)],
)  # fmt: skip
@pytest.mark.parametrize("age_days", [100, 2000])
def test_p3_p97_flags(p, code, flag, age_days):
    chart = growth.chart_for("weight", age_days)
    assert chart is not None
    x = age_days if chart.startswith("who") else age_days / growth.DAYS_PER_MONTH
    res = _assessed("weight", sex="male", age_days=age_days,
                    value=_at_percentile(chart, "male", x, p))  # fmt: skip
    assert res.interpretation.category == code and res.interpretation.flag is flag
    low, high = res.interpretation.low, res.interpretation.high
    assert low is not None and high is not None and low < high


def test_cdc_biologically_implausible_value_flag():
    age = 6 * 365.25
    L, M, S = growth.lms_at("cdc_wtage", "male", age / growth.DAYS_PER_MONTH)
    half_sd = (growth.value_at_z(L, M, S, 2) - M) / 2
    # cdc-source-code.sas: weight-for-age BIV when the modified z > 8.
    assert not _assessed("weight", sex="male", age_days=age, value=M + 7.9 * half_sd).implausible
    assert _assessed("weight", sex="male", age_days=age, value=M + 8.1 * half_sd).implausible


# ------------------------------------------------------------------ cache follows settings


def test_cache_follows_reference_dir(settings, tmp_path: Path):
    src = reference.path("vitals", "cdc-growth-charts-2000", "wtage.csv")
    before = growth.lms_at("cdc_wtage", "male", 100.5)
    dest = tmp_path / "vitals" / "cdc-growth-charts-2000"
    dest.mkdir(parents=True)
    text = src.read_text().replace("\r\n", "\n")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("1,100.5,")]
    (dest / "wtage.csv").write_text("\n".join(lines) + "\n")
    settings.REFERENCE_DIR = tmp_path
    after = growth.lms_at("cdc_wtage", "male", 100.5)  # now interpolated between 99.5 and 101.5
    assert after != before
    assert after[1] == pytest.approx(before[1], rel=1e-3)
    assert math.isfinite(after[0])
