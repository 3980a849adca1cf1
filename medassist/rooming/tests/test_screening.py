"""Screening rules and scores, row by row against their sources (named in rooming/screening.py)."""

import pytest

from medassist.rooming import screening as sc


@pytest.mark.parametrize(
    ("age", "visit_type", "expected"),
    [
        (7, "Well child", (sc.AHC_HRSN,)),
        (8, "Sick visit", (sc.PAIN,)),
        (11, "Well child", (sc.PAIN, sc.AHC_HRSN)),
        (12, "Well child", (sc.PHQ2, sc.PAIN, sc.AHC_HRSN)),
        (12, "Sick visit", (sc.PAIN,)),
        (40, "Annual physical", (sc.PHQ2, sc.PAIN, sc.AHC_HRSN)),
        (40, "New patient", (sc.PHQ2, sc.PAIN, sc.AHC_HRSN)),
        (40, "Follow-up", (sc.PAIN,)),
        (40, "Telehealth follow-up", (sc.PAIN,)),
        (64, "Sick visit", (sc.PAIN,)),
        (65, "Sick visit", (sc.STEADI, sc.PAIN)),
        (65, "Medicare wellness", (sc.PHQ2, sc.STEADI, sc.PAIN, sc.AHC_HRSN)),
        (90, "Follow-up", (sc.STEADI, sc.PAIN)),
        (3, "", ()),
    ],
)
def test_which_screenings_apply_depends_on_age_and_visit_type(age, visit_type, expected):
    assert sc.applicable_screenings(age, visit_type) == expected


def _phq2(a, b):  # type: ignore[no-untyped-def]
    return {"44250-9": str(a), "44255-8": str(b)}


@pytest.mark.parametrize(
    ("a", "b", "total", "positive"),
    [
        (0, 0, 0, False),
        (1, 1, 2, False),
        (0, 2, 2, False),
        (2, 1, 3, True),  # Kroenke 2003 cut-point: 3
        (3, 0, 3, True),
        (3, 3, 6, True),
    ],
)
def test_phq2_is_positive_from_a_total_of_three(a, b, total, positive):
    result = sc.score_phq2(_phq2(a, b))
    assert (result.total, result.positive) == (total, positive)
    assert sc.needs_phq9(result) is positive


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "Minimal or no depression"),
        (4, "Minimal or no depression"),
        (5, "Mild depression"),
        (9, "Mild depression"),
        (10, "Moderate depression"),
        (14, "Moderate depression"),
        (15, "Moderately severe depression"),
        (19, "Moderately severe depression"),
        (20, "Severe depression"),
        (27, "Severe depression"),
    ],
)
def test_phq9_severity_bands_follow_kroenke_2001(total, band):
    assert sc.phq9_severity(total) == band


def _phq9(values):  # type: ignore[no-untyped-def]
    return {item.key: str(v) for item, v in zip(sc.INSTRUMENTS[sc.PHQ9].items, values, strict=True)}


@pytest.mark.parametrize(
    ("values", "total", "positive", "urgent"),
    [
        ([0] * 9, 0, False, False),
        ([1, 1, 1, 1, 1, 1, 1, 1, 0], 8, False, False),
        ([2, 1, 1, 1, 1, 1, 1, 2, 0], 10, True, False),
        ([3, 3, 3, 3, 3, 3, 3, 3, 0], 24, True, False),
        ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, True, True),  # item 9 alone: see the provider now
        ([3] * 9, 27, True, True),
    ],
)
def test_phq9_totals_and_item_nine_flags_for_immediate_attention(values, total, positive, urgent):
    result = sc.score_phq9(_phq9(values))
    assert (result.total, result.positive, result.urgent) == (total, positive, urgent)
    if urgent:
        assert "provider now" in result.interpretation


@pytest.mark.parametrize(
    ("fallen", "unsteady", "worry", "positive"),
    [
        ("no", "no", "no", False),
        ("yes", "no", "no", True),
        ("no", "yes", "no", True),
        ("no", "no", "yes", True),
        ("yes", "yes", "yes", True),
    ],
)
def test_steadi_any_yes_to_the_three_key_questions_is_at_risk(fallen, unsteady, worry, positive):
    result = sc.score_steadi({"fallen": fallen, "unsteady": unsteady, "worry": worry})
    assert result.positive is positive


@pytest.mark.parametrize(
    ("score", "band", "positive"),
    [
        (0, "No pain", False),
        (1, "Mild pain", False),
        (3, "Mild pain", False),
        (4, "Moderate pain", True),
        (6, "Moderate pain", True),
        (7, "Severe pain", True),
        (10, "Severe pain", True),
    ],
)
def test_pain_nrs_bands(score, band, positive):
    result = sc.score_pain({sc.PAIN: str(score)})
    assert (result.interpretation, result.positive) == (band, positive)


NO_NEEDS = {
    "71802-3": "steady",
    "96778-6": ["none"],
    "88122-7": "never",
    "88123-5": "never",
    "93030-5": "no",
    "96779-4": "no",
    "95618-5": "1",
    "95617-7": "1",
    "95616-9": "1",
    "95615-1": "1",
}


@pytest.mark.parametrize(
    ("changes", "domains"),
    [
        ({}, ()),
        ({"71802-3": "worried"}, ("housing",)),
        ({"71802-3": "none"}, ("housing",)),
        ({"96778-6": ["mold", "pests"]}, ("housing",)),
        ({"88122-7": "sometimes"}, ("food",)),
        ({"88123-5": "often"}, ("food",)),
        ({"93030-5": "yes"}, ("transportation",)),
        ({"96779-4": "shut_off"}, ("utilities",)),
        ({"96779-4": "yes"}, ("utilities",)),
        # safety: the four items total more than 10 (CMS AHC HRSN 2017)
        ({"95618-5": "3", "95617-7": "3", "95616-9": "2", "95615-1": "2"}, ()),
        ({"95618-5": "3", "95617-7": "3", "95616-9": "3", "95615-1": "2"}, ("safety",)),
        (
            {
                "71802-3": "none",
                "88122-7": "often",
                "93030-5": "yes",
                "96779-4": "yes",
                "95618-5": "5",
                "95617-7": "5",
                "95616-9": "5",
                "95615-1": "5",
            },
            ("housing", "food", "transportation", "utilities", "safety"),
        ),
    ],
)
def test_ahc_hrsn_positive_domains(changes, domains):
    result = sc.score_hrsn({**NO_NEEDS, **changes})
    assert result.positive_domains == domains
    assert result.positive is bool(domains)


@pytest.mark.parametrize(
    ("answers", "sex", "total", "positive"),
    [
        (("0", "0", "0"), "female", 0, False),
        (("1", "1", "0"), "female", 2, False),
        (("2", "1", "0"), "female", 3, True),
        (("2", "1", "0"), "male", 3, False),
        (("2", "1", "1"), "male", 4, True),
        (("2", "1", "0"), "unknown", 3, True),
    ],
)
def test_audit_c_cut_points_differ_for_men_and_women(answers, sex, total, positive):
    items = {item.key: a for item, a in zip(sc.AUDIT_C_ITEMS, answers, strict=True)}
    result = sc.score_audit_c(items, sex)
    assert (result.total, result.positive) == (total, positive)


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"44250-9": "1"},
        {"44250-9": "4", "44255-8": "0"},
        {"44250-9": "x", "44255-8": "0"},
        {"44250-9": ["1"], "44255-8": "0"},
    ],
)
def test_incomplete_or_unknown_answers_are_refused(raw):
    with pytest.raises(sc.InvalidAnswers):
        sc.score(sc.PHQ2, raw)


def test_none_of_the_above_cannot_be_combined_with_a_housing_problem():
    with pytest.raises(sc.InvalidAnswers, match="None of the above"):
        sc.score(sc.AHC_HRSN, {**NO_NEEDS, "96778-6": ["none", "mold"]})


def test_every_instrument_has_a_scorer_and_unique_item_keys():
    for code, instrument in sc.INSTRUMENTS.items():
        assert code in sc.SCORERS
        keys = [item.key for item in instrument.items]
        assert len(keys) == len(set(keys))
