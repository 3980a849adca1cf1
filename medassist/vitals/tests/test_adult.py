"""adult.py: ACC/AHA 2017 categories and NEWS2, row by row.

Two kinds of table: edges derived from the reference CSVs (every band's min and max and one step
outside), and hand-typed expectations transcribed from the published charts, so that an edit of
a CSV that no longer matches the guideline fails here too."""

import csv
import shutil
from decimal import Decimal as D
from typing import Any

import pytest

from medassist.core import reference
from medassist.vitals import adult
from medassist.vitals.interpretation import Flag

# ---------------------------------------------------------------------------------------------
# ACC/AHA 2017


@pytest.mark.parametrize(
    ("sbp", "dbp", "code", "flag"),
    [
        (119, 79, "normal", Flag.NORMAL),
        (90, 60, "normal", Flag.NORMAL),
        (120, 79, "elevated", Flag.HIGH),
        (129, 79, "elevated", Flag.HIGH),
        (130, 79, "stage1", Flag.HIGH),
        (139, 79, "stage1", Flag.HIGH),
        (140, 79, "stage2", Flag.HIGH),
        (119, 80, "stage1", Flag.HIGH),
        (119, 89, "stage1", Flag.HIGH),
        (119, 90, "stage2", Flag.HIGH),
        (180, 79, "stage2", Flag.HIGH),
        (181, 79, "crisis", Flag.CRITICAL_HIGH),
        (119, 120, "stage2", Flag.HIGH),
        (119, 121, "crisis", Flag.CRITICAL_HIGH),
        (180, 120, "stage2", Flag.HIGH),
        (181, 121, "crisis", Flag.CRITICAL_HIGH),
        # mixed categories: the higher applies
        (125, 85, "stage1", Flag.HIGH),  # elevated SBP, stage-1 DBP
        (125, 95, "stage2", Flag.HIGH),  # elevated SBP, stage-2 DBP
        (135, 95, "stage2", Flag.HIGH),
        (150, 70, "stage2", Flag.HIGH),
        (110, 85, "stage1", Flag.HIGH),
        (135, 70, "stage1", Flag.HIGH),
        (129, 80, "stage1", Flag.HIGH),
        (185, 85, "crisis", Flag.CRITICAL_HIGH),
        (150, 125, "crisis", Flag.CRITICAL_HIGH),
    ],
)
def test_acc_aha_category(sbp, dbp, code, flag):
    result = adult.blood_pressure_category(sbp, dbp)
    assert (result.category, result.flag) == (code, flag)
    assert result.source.citation == "Whelton PK et al. Hypertension 2018;71:e13-e115"
    assert result.unit == "mm[Hg]"


def test_acc_aha_texts_come_from_the_file():
    assert adult.blood_pressure_category(135, 70).text == "Stage 1 hypertension"
    assert adult.blood_pressure_category(200, 70).text == "Hypertensive crisis (severe)"


def test_acc_aha_cut_offs_are_read_from_the_csv(settings, tmp_path):
    """Move the stage-2 SBP edge in a copy of the file: the category follows the file."""
    src = reference.path(*adult.BP_FILE)
    folder = tmp_path / "vitals" / "adult-bp-acc-aha2017"
    folder.mkdir(parents=True)
    text = src.read_text(encoding="utf-8")
    text = text.replace("Stage 1 hypertension,130,139", "Stage 1 hypertension,130,149")
    text = text.replace("Stage 2 hypertension,140,", "Stage 2 hypertension,150,")
    (folder / src.name).write_text(text, encoding="utf-8")
    settings.REFERENCE_DIR = tmp_path
    assert adult.blood_pressure_category(145, 70).category == "stage1"


def test_acc_aha_rejects_non_positive_values():
    with pytest.raises(ValueError, match="above zero"):
        adult.blood_pressure_category(0, 80)


# ---------------------------------------------------------------------------------------------
# NEWS2: every band edge, derived from the CSV

# A reading that scores 0 on every parameter.
BASELINE: dict[str, Any] = {
    "respiration_rate": 16,
    "spo2": 98,
    "on_oxygen": False,
    "systolic": 120,
    "pulse": 70,
    "consciousness": "A",
    "temperature_c": D("37.0"),
}
# CSV parameter → (news2() keyword, key of News2.scores)
PARAMS = {
    "respiration_rate": ("respiration_rate", "respiration_rate"),
    "spo2_scale1": ("spo2", "spo2"),
    "spo2_scale2": ("spo2", "spo2"),
    "systolic_bp": ("systolic", "systolic_bp"),
    "pulse": ("pulse", "pulse"),
    "temperature": ("temperature_c", "temperature"),
}


def _csv_rows():
    with reference.path(*adult.NEWS2_SCORES_FILE).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _applies(row, on_oxygen):
    return row["condition"] in ("", "on oxygen" if on_oxygen else "on air")


def _score_from_rows(parameter, on_oxygen, value):
    """An independent scan of the CSV: the scores of the rows containing `value`."""
    hits = []
    for row in _csv_rows():
        if row["parameter"] != parameter or not _applies(row, on_oxygen):
            continue
        low = D(row["min_inclusive"]) if row["min_inclusive"] else None
        high = D(row["max_inclusive"]) if row["max_inclusive"] else None
        if (low is None or value >= low) and (high is None or value <= high):
            hits.append(int(row["score"]))
    return hits


def _edge_cases():
    cases = []
    for row in _csv_rows():
        parameter = row["parameter"]
        if parameter not in PARAMS:
            continue
        step = D("0.1") if parameter == "temperature" else D(1)
        oxygen_states = (
            [row["condition"] == "on oxygen"]
            if row["condition"]
            else ([False, True] if parameter == "spo2_scale2" else [False])
        )
        for on_oxygen in oxygen_states:
            for edge, outside in (("min_inclusive", -step), ("max_inclusive", step)):
                if not row[edge]:
                    continue
                value = D(row[edge])
                for probe in (value, value + outside):
                    expected = _score_from_rows(parameter, on_oxygen, probe)
                    assert len(expected) == 1, f"{parameter} {probe}: bands overlap or gap"
                    where = "edge" if probe == value else "outside"
                    cases.append(
                        pytest.param(
                            parameter,
                            on_oxygen,
                            probe,
                            expected[0],
                            id=f"{parameter}-{'O2' if on_oxygen else 'air'}-{probe}-{where}",
                        )
                    )
    return cases


EDGE_CASES = _edge_cases()


def test_every_numeric_band_has_its_edges_tested():
    # 33 numeric rows (37 less 2 air/oxygen, 2 consciousness); bounded edges only.
    assert len(EDGE_CASES) >= 2 * 40


@pytest.mark.parametrize(("parameter", "on_oxygen", "value", "score"), EDGE_CASES)
def test_news2_band_edges_from_the_csv(parameter, on_oxygen, value, score):
    keyword, key = PARAMS[parameter]
    scale = 2 if parameter == "spo2_scale2" else 1
    reading = {**BASELINE, keyword: value, "on_oxygen": on_oxygen}
    result = adult.news2(**reading, spo2_scale=scale)
    assert result.scores[key] == score
    assert adult.parameter_score(parameter, value, on_oxygen=on_oxygen) == score


# Hand-typed from RCP 2017 Chart 1 (independent of the CSV).
PUBLISHED_EDGES = [
    ("respiration_rate", False, 8, 3),
    ("respiration_rate", False, 9, 1),
    ("respiration_rate", False, 11, 1),
    ("respiration_rate", False, 12, 0),
    ("respiration_rate", False, 20, 0),
    ("respiration_rate", False, 21, 2),
    ("respiration_rate", False, 24, 2),
    ("respiration_rate", False, 25, 3),
    ("spo2_scale1", False, 91, 3),
    ("spo2_scale1", False, 92, 2),
    ("spo2_scale1", False, 93, 2),
    ("spo2_scale1", False, 94, 1),
    ("spo2_scale1", False, 95, 1),
    ("spo2_scale1", False, 96, 0),
    ("spo2_scale1", True, 96, 0),  # oxygen is scored separately on scale 1
    ("spo2_scale2", False, 83, 3),
    ("spo2_scale2", False, 84, 2),
    ("spo2_scale2", False, 85, 2),
    ("spo2_scale2", False, 86, 1),
    ("spo2_scale2", False, 87, 1),
    ("spo2_scale2", False, 88, 0),
    ("spo2_scale2", False, 92, 0),
    ("spo2_scale2", False, 93, 0),
    ("spo2_scale2", False, 100, 0),
    ("spo2_scale2", True, 83, 3),
    ("spo2_scale2", True, 88, 0),
    ("spo2_scale2", True, 92, 0),
    ("spo2_scale2", True, 93, 1),
    ("spo2_scale2", True, 94, 1),
    ("spo2_scale2", True, 95, 2),
    ("spo2_scale2", True, 96, 2),
    ("spo2_scale2", True, 97, 3),
    ("spo2_scale2", True, 100, 3),
    ("systolic_bp", False, 90, 3),
    ("systolic_bp", False, 91, 2),
    ("systolic_bp", False, 100, 2),
    ("systolic_bp", False, 101, 1),
    ("systolic_bp", False, 110, 1),
    ("systolic_bp", False, 111, 0),
    ("systolic_bp", False, 219, 0),
    ("systolic_bp", False, 220, 3),
    ("pulse", False, 40, 3),
    ("pulse", False, 41, 1),
    ("pulse", False, 50, 1),
    ("pulse", False, 51, 0),
    ("pulse", False, 90, 0),
    ("pulse", False, 91, 1),
    ("pulse", False, 110, 1),
    ("pulse", False, 111, 2),
    ("pulse", False, 130, 2),
    ("pulse", False, 131, 3),
    ("temperature", False, D("35.0"), 3),
    ("temperature", False, D("35.1"), 1),
    ("temperature", False, D("36.0"), 1),
    ("temperature", False, D("36.1"), 0),
    ("temperature", False, D("38.0"), 0),
    ("temperature", False, D("38.1"), 1),
    ("temperature", False, D("39.0"), 1),
    ("temperature", False, D("39.1"), 2),
]


@pytest.mark.parametrize(("parameter", "on_oxygen", "value", "score"), PUBLISHED_EDGES)
def test_news2_matches_the_published_chart(parameter, on_oxygen, value, score):
    assert adult.parameter_score(parameter, value, on_oxygen=on_oxygen) == score


@pytest.mark.parametrize(
    ("parameter", "value", "score"),
    [
        # Readings finer than the chart: rounded half-up to the bands' decimals (module doc).
        ("temperature", D("35.05"), 1),  # read as 35.1
        ("temperature", D("35.04"), 3),  # read as 35.0
        ("temperature", 35.05, 1),  # a float is read through its repr, "35.05"
        ("temperature", D("36.05"), 0),  # read as 36.1
        ("temperature", D("38.04"), 0),
        ("temperature", D("38.05"), 1),
        ("temperature", 37, 0),
        ("pulse", D("90.5"), 1),  # read as 91
        ("pulse", D("90.4"), 0),
        ("respiration_rate", D("8.5"), 1),  # read as 9
        ("systolic_bp", D("110.5"), 0),  # read as 111
    ],
)
def test_news2_rounds_between_bands(parameter, value, score):
    assert adult.parameter_score(parameter, value) == score


@pytest.mark.parametrize(
    ("on_oxygen", "spo2", "scale", "spo2_score", "oxygen_score"),
    [
        (False, 95, 2, 0, 0),  # scale 2: 93+ on air scores 0
        (True, 95, 2, 2, 2),  # scale 2: 95-96 on oxygen scores 2, plus 2 for the oxygen
        (True, 90, 2, 0, 2),  # in the 88-92 target on oxygen
        (False, 90, 1, 3, 0),  # the same saturation on scale 1
        (True, 97, 1, 0, 2),
        (True, 97, 2, 3, 2),
    ],
)
def test_news2_scale_2_on_air_and_oxygen(on_oxygen, spo2, scale, spo2_score, oxygen_score):
    result = adult.news2(**{**BASELINE, "spo2": spo2, "on_oxygen": on_oxygen}, spo2_scale=scale)
    assert result.scores["spo2"] == spo2_score
    assert result.scores["air_or_oxygen"] == oxygen_score
    assert result.spo2_scale == scale


@pytest.mark.parametrize(
    ("level", "score"), [("A", 0), ("a", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)]
)
def test_news2_consciousness(level, score):
    assert adult.news2(**{**BASELINE, "consciousness": level}).scores["consciousness"] == score


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consciousness": "X"}, "ACVPU"),
        ({"consciousness": "CV"}, "ACVPU"),
        ({"consciousness": ""}, "ACVPU"),
        ({"spo2_scale": 3}, "spo2_scale"),
        ({"pulse": D("NaN")}, "finite"),
    ],
)
def test_news2_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        adult.news2(**{**BASELINE, **change})


# ---------------------------------------------------------------------------------------------
# NEWS2: aggregate and clinical response

LOW_0 = ("Low", "12 hourly")
LOW_1_4 = ("Low", "4-6 hourly")
LOW_MEDIUM = ("Low-medium", "1 hourly")
MEDIUM = ("Medium", "1 hourly")
HIGH = ("High", "continuous")


@pytest.mark.parametrize(
    ("change", "total", "any_red", "risk"),
    [
        ({}, 0, False, LOW_0),
        ({"temperature_c": D("35.5")}, 1, False, LOW_1_4),
        ({"respiration_rate": 21, "systolic": 95}, 4, False, LOW_1_4),
        ({"respiration_rate": 21, "systolic": 95, "pulse": 95}, 5, False, MEDIUM),
        (
            {"respiration_rate": 21, "systolic": 95, "pulse": 95, "temperature_c": D("38.5")},
            6,
            False,
            MEDIUM,
        ),
        (
            {"respiration_rate": 21, "systolic": 95, "pulse": 115, "temperature_c": D("38.5")},
            7,
            False,
            HIGH,
        ),
        # the single-red rule
        ({"respiration_rate": 25}, 3, True, LOW_MEDIUM),
        ({"consciousness": "V", "temperature_c": D("35.5")}, 4, True, LOW_MEDIUM),
        ({"pulse": 131, "on_oxygen": True}, 5, True, MEDIUM),  # aggregate 5 outranks one red
        ({"pulse": 131, "systolic": 90, "temperature_c": D("39.5")}, 8, True, HIGH),
        ({"systolic": 220}, 3, True, LOW_MEDIUM),  # red for high SBP too
    ],
)
def test_news2_aggregate_and_response(change, total, any_red, risk):
    result = adult.news2(**{**BASELINE, **change})
    assert result.total == total
    assert result.any_red is any_red
    assert (result.clinical_risk, result.monitoring) == risk
    assert sum(result.scores.values()) == total
    assert set(result.scores) == {
        "respiration_rate",
        "spo2",
        "air_or_oxygen",
        "systolic_bp",
        "pulse",
        "consciousness",
        "temperature",
    }


def _rcp_rule(total, any_red):
    """RCP 2017 Table 2, written independently of the CSV."""
    if total >= 7:
        return "High"
    if total >= 5:
        return "Medium"
    if any_red:
        return "Low-medium"
    return "Low"


@pytest.mark.parametrize("any_red", [False, True])
@pytest.mark.parametrize("total", range(0, 21))
def test_response_row_for_every_total(total, any_red):
    if any_red and total < 3:
        pytest.skip("a single 3 means an aggregate of at least 3")
    row = adult.response_for(total, any_red)
    assert row.clinical_risk == _rcp_rule(total, any_red)


def test_response_texts_come_from_the_csv():
    result = adult.news2(**{**BASELINE, "respiration_rate": 25})
    assert result.response == "Registered nurse to inform medical team; urgent ward-based response"
    high = adult.response_for(9, False)
    assert high.response.startswith("Emergency response")


def test_news2_bands_are_read_from_the_csv(settings, tmp_path):
    folder = tmp_path / "vitals" / "news2"
    folder.mkdir(parents=True)
    for name in (adult.NEWS2_SCORES_FILE[-1], adult.NEWS2_RESPONSE_FILE[-1]):
        shutil.copy(reference.path("vitals", "news2", name), folder / name)
    scores = folder / adult.NEWS2_SCORES_FILE[-1]
    text = scores.read_text(encoding="utf-8").replace("pulse,51,90,0", "pulse,51,95,0")
    text = text.replace("pulse,91,110,1", "pulse,96,110,1")
    scores.write_text(text, encoding="utf-8")
    settings.REFERENCE_DIR = tmp_path
    assert adult.parameter_score("pulse", 93) == 0


# ---------------------------------------------------------------------------------------------
# Single-parameter flowsheet interpretations


@pytest.mark.parametrize(
    ("call", "flag", "low", "high", "unit"),
    [
        (lambda: adult.heart_rate(70), Flag.NORMAL, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(51), Flag.NORMAL, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(50), Flag.LOW, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(40), Flag.CRITICAL_LOW, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(91), Flag.HIGH, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(130), Flag.HIGH, D(51), D(90), "/min"),
        (lambda: adult.heart_rate(131), Flag.CRITICAL_HIGH, D(51), D(90), "/min"),
        (lambda: adult.respiratory_rate(16), Flag.NORMAL, D(12), D(20), "/min"),
        (lambda: adult.respiratory_rate(11), Flag.LOW, D(12), D(20), "/min"),
        (lambda: adult.respiratory_rate(8), Flag.CRITICAL_LOW, D(12), D(20), "/min"),
        (lambda: adult.respiratory_rate(21), Flag.HIGH, D(12), D(20), "/min"),
        (lambda: adult.respiratory_rate(25), Flag.CRITICAL_HIGH, D(12), D(20), "/min"),
        (lambda: adult.temperature(D("37.0")), Flag.NORMAL, D("36.1"), D("38.0"), "Cel"),
        (lambda: adult.temperature(D("36.0")), Flag.LOW, D("36.1"), D("38.0"), "Cel"),
        (lambda: adult.temperature(35.0), Flag.CRITICAL_LOW, D("36.1"), D("38.0"), "Cel"),
        (lambda: adult.temperature(D("38.1")), Flag.HIGH, D("36.1"), D("38.0"), "Cel"),
        (lambda: adult.temperature(D("40.0")), Flag.HIGH, D("36.1"), D("38.0"), "Cel"),  # 2
        (lambda: adult.spo2(97, False), Flag.NORMAL, D(96), None, "%"),
        (lambda: adult.spo2(95, True), Flag.LOW, D(96), None, "%"),
        (lambda: adult.spo2(91, False), Flag.CRITICAL_LOW, D(96), None, "%"),
        (lambda: adult.spo2(95, False, scale=2), Flag.NORMAL, D(88), None, "%"),
        (lambda: adult.spo2(90, True, scale=2), Flag.NORMAL, D(88), D(92), "%"),
        (lambda: adult.spo2(94, True, scale=2), Flag.HIGH, D(88), D(92), "%"),
        (lambda: adult.spo2(97, True, scale=2), Flag.CRITICAL_HIGH, D(88), D(92), "%"),
        (lambda: adult.spo2(86, True, scale=2), Flag.LOW, D(88), D(92), "%"),
        (lambda: adult.spo2(83, False, scale=2), Flag.CRITICAL_LOW, D(88), None, "%"),
    ],
)
def test_single_parameter_interpretation(call, flag, low, high, unit):
    result = call()
    assert result.flag == flag
    assert (result.low, result.high, result.unit) == (low, high, unit)
    assert result.source.version == "RCP 2017"


def test_single_parameter_text_names_the_score():
    assert adult.heart_rate(115).text == "Heart rate: High (NEWS2 score 2)"
    assert adult.heart_rate(115).category == "news2-2"
