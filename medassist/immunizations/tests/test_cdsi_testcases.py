"""The CDSi test-case harness (cdsi/testcases.py) and `medassist cdsi-check`, with fake engines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from medassist.immunizations.cdsi import testcases as tc
from medassist.immunizations.cdsi.types import (
    AntigenForecast,
    DoseEvaluation,
    Patient,
    Result,
    VaccineGroupForecast,
)

CDSI = Path(settings.REFERENCE_DIR) / "cdsi"
CASE_DIR = CDSI / "testcases"
HEALTHY = CASE_DIR / "healthy-v4.45.json"
CONDITIONS = CASE_DIR / "underlying-conditions-v4.6.json"
SCHEDULE = CDSI / "supporting-data-4.64" / "XML" / "ScheduleSupportingData.xml"
D = dt.date.fromisoformat

command_module = importlib.import_module("medassist.immunizations.management.commands.cdsi-check")


def supporting_data_groups() -> dict[str, tuple[str, ...]]:
    root = ET.parse(SCHEDULE).getroot()  # noqa: S314 - CDC's file from the reference folder
    return {
        str(m.findtext("name")): tuple(str(a.text) for a in m.findall("antigen"))
        for m in root.iter("vaccineGroupMap")
    }


GROUPS = supporting_data_groups()


def perfect_result(case: tc.CdsiCase) -> Result:
    """What a forecaster that agrees with CDC returns for a case: each dose evaluated for each
    antigen of the group in that antigen's series, the group forecast built on those series."""
    group = tc.supporting_data_group(case.vaccine_group)
    exp = case.expected
    series = {antigen: f"{antigen} standard series" for antigen in GROUPS[group]}
    return Result(
        assessment_date=case.assessment_date,
        evaluations=tuple(
            DoseEvaluation(
                d.dose_id, antigen, d.status, (d.reason,) if d.reason else (), series[antigen]
            )
            for d in case.doses
            for antigen in GROUPS[group]
        ),
        groups={
            group: VaccineGroupForecast(
                vaccine_group=group,
                status=exp.status,
                dose_number=exp.dose_number,
                earliest=exp.earliest,
                recommended=exp.recommended,
                past_due=exp.past_due,
                latest=None,
                antigens=tuple(
                    AntigenForecast(
                        antigen,
                        series[antigen],
                        exp.status,
                        exp.dose_number,
                        exp.earliest,
                        exp.recommended,
                        exp.past_due,
                        None,
                    )
                    for antigen in GROUPS[group]
                ),
            )
        },
    )


def returning(result: Result) -> tc.ForecastFn:
    return lambda patient, assessment_date: result


def make_case(**changes: Any) -> tc.CdsiCase:
    """A DTaP case: dose 1 valid, dose 2 too young, dose 2 due again."""
    case = tc.CdsiCase(
        file="healthy",
        id="T-1",
        name="DTaP #2 too young",
        dob=D("2025-09-06"),
        gender="F",
        assessment_date=D("2025-11-10"),
        vaccine_group="DTAP",
        doses=(
            tc.ExpectedDose(1, D("2025-10-15"), "107", None, "DTaP", "Valid", None),
            tc.ExpectedDose(2, D("2025-11-10"), "107", None, "DTaP", "Not Valid", "Age: Too Young"),
        ),
        observations=(),
        expected=tc.ExpectedForecast(
            status="Not Complete",
            dose_number=2,
            earliest=D("2025-12-08"),
            recommended=D("2026-01-06"),
            past_due=D("2026-03-05"),
        ),
    )
    return dataclasses.replace(case, **changes)


def with_forecast(result: Result, group: str = "DTaP/Tdap/Td", **changes: Any) -> Result:
    groups = dict(result.groups)
    groups[group] = dataclasses.replace(groups[group], **changes)
    return dataclasses.replace(result, groups=groups)


def with_evaluation(result: Result, dose_id: str, antigen: str, **changes: Any) -> Result:
    evaluations = tuple(
        dataclasses.replace(e, **changes) if (e.dose_id, e.antigen) == (dose_id, antigen) else e
        for e in result.evaluations
    )
    return dataclasses.replace(result, evaluations=evaluations)


def with_dose_status(result: Result, dose_id: str, status: str) -> Result:
    """The dose gets this status for every antigen it was evaluated for."""
    evaluations = tuple(
        dataclasses.replace(e, status=status, reasons=()) if e.dose_id == dose_id else e
        for e in result.evaluations
    )
    return dataclasses.replace(result, evaluations=evaluations)


# --- Loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [HEALTHY, CONDITIONS], ids=["healthy", "conditions"])
def test_real_files_load_every_case(path: Path) -> None:
    meta = json.loads(path.read_text())["meta"]
    loaded = tc.load_case_file(path)
    assert len(loaded.cases) == meta["case_count"] > 0
    assert all(c.file == loaded.key for c in loaded.cases)


def test_file_keys_are_the_names_the_excepted_list_uses() -> None:
    assert tc.file_key(HEALTHY) == "healthy"
    assert tc.file_key(CONDITIONS) == "underlying-conditions"


def test_a_healthy_case_is_read_with_engine_spellings() -> None:
    case = next(c for c in tc.load_case_file(HEALTHY).cases if c.id == "2013-0002")
    assert case.vaccine_group == "DTAP"
    assert case.expected == tc.ExpectedForecast(
        status="Not Complete",  # CDC wrote "Not complete"
        dose_number=2,
        earliest=D("2025-12-08"),
        recommended=D("2026-01-06"),
        past_due=D("2026-03-05"),
    )
    assert [(d.dose_number, d.cvx, d.status, d.reason) for d in case.doses] == [
        (1, "107", "Valid", None),
        (2, "107", "Not Valid", "Age: Too Young"),
    ]


def test_no_dose_expected_is_none_everywhere() -> None:
    cases = tc.load_case_file(HEALTHY).cases
    complete = [c for c in cases if c.expected.status == "Complete"]
    assert complete
    for c in complete:
        assert c.expected.dose_number is None
        assert c.expected.earliest is c.expected.recommended is c.expected.past_due is None


def test_statuses_in_both_files_map_to_engine_statuses() -> None:
    cases = [*tc.load_case_file(HEALTHY).cases, *tc.load_case_file(CONDITIONS).cases]
    assert {c.expected.status for c in cases} <= set(tc.SERIES_STATUSES.values())
    assert {d.status for c in cases for d in c.doses} == {"Valid", "Not Valid", "Extraneous"}
    assert tc.series_status("Aged out") == "Aged Out"
    assert tc.series_status(" not  complete ") == "Not Complete"
    assert tc.series_status("not recommended") == "Not Recommended"


def test_a_conditions_case_keeps_observations_and_series_type() -> None:
    case = next(c for c in tc.load_case_file(CONDITIONS).cases if c.id == "2016-UC-0158")
    assert case.observations == (tc.CaseObservation("042", "Smoke cigarettes", None),)
    assert [d.series_type for d in case.doses] == ["risk"]
    assert case.expected.past_due is None


def test_a_wrong_case_count_is_a_warning_not_a_stop(tmp_path: Path) -> None:
    raw = json.loads(HEALTHY.read_text())
    raw["cases"] = raw["cases"][:3]
    path = tmp_path / "healthy-v4.45.json"
    path.write_text(json.dumps(raw))
    loaded = tc.load_case_file(path)
    assert len(loaded.cases) == 3
    assert any("case_count" in w for w in loaded.warnings)


def test_an_unreadable_case_fails_alone_and_the_rest_run(tmp_path: Path) -> None:
    raw = json.loads(HEALTHY.read_text())
    raw["cases"] = raw["cases"][:3]
    raw["cases"][0]["assessment_date"] = "11/10/2025"
    raw["cases"][2] = dict(raw["cases"][1])  # the same case twice
    raw["meta"]["case_count"] = 3
    path = tmp_path / "x.json"
    path.write_text(json.dumps(raw))
    loaded = tc.load_case_file(path)
    assert [c.id for c in loaded.cases] == [raw["cases"][1]["id"], raw["cases"][1]["id"] + "#2"]
    [(case_id, group, error)] = loaded.unreadable
    assert case_id == "2013-0002" and group == "DTAP" and "not an ISO date" in error
    [outcome] = tc.unreadable_outcomes(loaded)
    assert not outcome.passed and outcome.group == "DTaP/Tdap/Td"


def test_repeated_dose_numbers_keep_their_own_ids(tmp_path: Path) -> None:
    raw = json.loads(HEALTHY.read_text())
    case = raw["cases"][0]
    case["doses"][1]["dose_number"] = 1
    raw["cases"], raw["meta"]["case_count"] = [case], 1
    path = tmp_path / "x.json"
    path.write_text(json.dumps(raw))
    [loaded] = tc.load_case_file(path).cases
    assert [d.dose_id for d in loaded.doses] == ["1", "2"]


def test_every_group_in_both_files_maps_to_a_supporting_data_group() -> None:
    for path in (HEALTHY, CONDITIONS):
        for case in tc.load_case_file(path).cases:
            assert tc.supporting_data_group(case.vaccine_group) in GROUPS, case.id


def test_the_table_names_only_supporting_data_groups_and_all_of_them() -> None:
    assert set(tc.VACCINE_GROUPS.values()) == set(GROUPS)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("DTAP", "DTaP/Tdap/Td"),
        ("DTaP", "DTaP/Tdap/Td"),
        ("POL", "Polio"),
        ("IPOL", "Polio"),
        ("HIB", "Hib"),
        ("PCV", "Pneumococcal"),
        ("MCV", "Meningococcal"),
        ("MENB", "Meningococcal B"),
        ("Meningococcal B", "Meningococcal B"),
        ("VAR", "Varicella"),
        ("ROTA", "Rotavirus"),
        ("Rota", "Rotavirus"),
        ("FLU", "Influenza"),
        ("ZOSTER", "Zoster"),
        ("Japanese  encephalitis", "Japanese Encephalitis"),
    ],
)
def test_spellings(written: str, name: str) -> None:
    assert tc.supporting_data_group(written) == name


def test_an_unknown_group_is_named_in_the_error() -> None:
    with pytest.raises(tc.UnknownVaccineGroup, match="'Smallpox'"):
        tc.supporting_data_group("Smallpox")


# --- Conversion --------------------------------------------------------------------------------


def test_a_case_becomes_a_patient() -> None:
    case = make_case(
        observations=(tc.CaseObservation("7", "Pregnant", D("2025-10-01")),), gender="f"
    )
    case = dataclasses.replace(case, gender="")
    patient = tc.to_patient(case)
    assert patient.dob == D("2025-09-06")
    assert patient.gender == "U"
    assert [(d.id, d.date_administered, d.cvx, d.mvx) for d in patient.doses] == [
        ("1", D("2025-10-15"), "107", None),
        ("2", D("2025-11-10"), "107", None),
    ]
    assert [(o.code, o.date) for o in patient.observations] == [("7", D("2025-10-01"))]


def test_a_real_conditions_case_becomes_a_patient() -> None:
    case = next(c for c in tc.load_case_file(CONDITIONS).cases if c.id == "2016-UC-0158")
    patient = tc.to_patient(case)
    assert patient.gender == "F"
    assert [(d.id, d.cvx, d.mvx) for d in patient.doses] == [("1", "33", "MSD")]
    assert [(o.code, o.date) for o in patient.observations] == [("042", None)]


def test_codes_are_padded_as_in_the_supporting_data(tmp_path: Path) -> None:
    raw = json.loads(CONDITIONS.read_text())
    raw["cases"] = raw["cases"][:1]
    raw["cases"][0]["observations"][0]["code"] = 42
    raw["cases"][0]["doses"][0]["cvx"] = "8"
    raw["meta"]["case_count"] = 1
    path = tmp_path / "underlying-conditions-v4.6.json"
    path.write_text(json.dumps(raw))
    patient = tc.to_patient(tc.load_case_file(path).cases[0])
    assert patient.observations[0].code == "042"
    assert patient.doses[0].cvx == "08"


# --- Comparing ---------------------------------------------------------------------------------


def test_a_perfect_forecaster_passes_every_real_case() -> None:
    for path in (HEALTHY, CONDITIONS):
        for case in tc.load_case_file(path).cases:
            outcome = tc.run_case(case, returning(perfect_result(case)), GROUPS)
            assert outcome.passed, (case.id, outcome.mismatches)
            assert outcome.forecast_matches
            assert outcome.doses_matched == len(case.doses)
            assert outcome.notes == ()


def test_the_forecaster_gets_the_patient_and_assessment_date() -> None:
    case = make_case()
    seen: list[tuple[Patient, dt.date]] = []

    def forecast(patient: Patient, assessment_date: dt.date) -> Result:
        seen.append((patient, assessment_date))
        return perfect_result(case)

    tc.run_case(case, forecast, GROUPS)
    assert seen == [(tc.to_patient(case), D("2025-11-10"))]


def test_engine_labels_are_compared_case_insensitively() -> None:
    case = make_case()
    result = with_forecast(perfect_result(case), status="not complete")
    assert tc.run_case(case, returning(result), GROUPS).passed


def mismatches_of(result: Result, case: tc.CdsiCase | None = None) -> tuple[str, ...]:
    outcome = tc.run_case(case or make_case(), returning(result), GROUPS)
    assert not outcome.passed
    return outcome.mismatches


def test_a_wrong_dose_status_fails_in_words() -> None:
    result = with_dose_status(perfect_result(make_case()), "2", "Valid")
    outcome = tc.run_case(make_case(), returning(result), GROUPS)
    assert outcome.mismatches == ("dose 2: expected Not Valid, got Valid",)
    assert outcome.forecast_matches
    assert outcome.doses_matched == 1


def test_a_dose_not_valid_for_one_antigen_of_the_group_is_not_valid() -> None:
    result = with_evaluation(perfect_result(make_case()), "1", "Pertussis", status="Not Valid")
    assert mismatches_of(result) == ("dose 1: expected Valid, got Not Valid",)


def test_a_dose_without_evaluation_fails() -> None:
    result = perfect_result(make_case())
    result = dataclasses.replace(
        result, evaluations=tuple(e for e in result.evaluations if e.dose_id != "1")
    )
    assert mismatches_of(result) == ("dose 1: expected Valid, got no evaluation",)


def test_an_extraneous_dose_must_be_extraneous() -> None:
    case = make_case()
    doses = (case.doses[0], dataclasses.replace(case.doses[1], status="Extraneous", reason=None))
    case = dataclasses.replace(case, doses=doses)
    result = with_dose_status(perfect_result(case), "2", "Valid")
    assert mismatches_of(result, case) == ("dose 2: expected Extraneous, got Valid",)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"status": "Complete"}, "status: expected Not Complete, got Complete"),
        ({"dose_number": 3}, "dose number: expected 2, got 3"),
        ({"dose_number": None}, "dose number: expected 2, got none"),
        ({"earliest": D("2025-12-09")}, "earliest: expected 2025-12-08, got 2025-12-09"),
        ({"recommended": D("2026-01-05")}, "recommended: expected 2026-01-06, got 2026-01-05"),
        ({"past_due": D("2026-03-04")}, "past due: expected 2026-03-05, got 2026-03-04"),
        ({"past_due": None}, "past due: expected 2026-03-05, got none"),
    ],
)
def test_each_forecast_mismatch_fails_in_words(changes: dict[str, Any], words: str) -> None:
    result = with_forecast(perfect_result(make_case()), **changes)
    outcome = tc.run_case(make_case(), returning(result), GROUPS)
    assert outcome.mismatches == (words,)
    assert not outcome.forecast_matches
    assert outcome.doses_matched == 2


def test_a_missing_past_due_date_must_be_missing() -> None:
    case = make_case(expected=dataclasses.replace(make_case().expected, past_due=None))
    result = perfect_result(case)
    assert tc.run_case(case, returning(result), GROUPS).passed
    late = with_forecast(result, past_due=D("2026-03-05"))
    assert mismatches_of(late, case) == ("past due: expected none, got 2026-03-05",)


def test_no_dose_expected_means_no_dose_forecast() -> None:
    expected = tc.ExpectedForecast("Complete", None, None, None, None)
    case = make_case(expected=expected)
    result = with_forecast(perfect_result(case), dose_number=3, earliest=D("2026-01-01"))
    assert mismatches_of(result, case) == (
        "dose number: expected none, got 3",
        "earliest: expected none, got 2026-01-01",
    )


def test_several_mismatches_are_all_listed() -> None:
    result = with_dose_status(perfect_result(make_case()), "2", "Extraneous")
    result = with_forecast(result, status="Complete", earliest=D("2025-12-09"))
    assert mismatches_of(result) == (
        "dose 2: expected Not Valid, got Extraneous",
        "status: expected Not Complete, got Complete",
        "earliest: expected 2025-12-08, got 2025-12-09",
    )


def test_no_forecast_for_the_group_fails() -> None:
    result = dataclasses.replace(perfect_result(make_case()), groups={})
    assert mismatches_of(result) == (
        "status: expected Not Complete, got no forecast for DTaP/Tdap/Td",
    )


def test_a_reason_mismatch_is_reported_but_does_not_fail() -> None:
    result = perfect_result(make_case())
    for antigen in ("Diphtheria", "Tetanus", "Pertussis"):
        result = with_evaluation(result, "2", antigen, reasons=("Interval: Too Soon",))
    outcome = tc.run_case(make_case(), returning(result), GROUPS)
    assert outcome.passed
    assert outcome.notes == ("dose 2 reason: expected Age: Too Young, got Interval: Too Soon",)
    assert [d.reason_matches for d in outcome.doses] == [None, False]


def test_reasons_are_compared_without_case_spacing_or_punctuation() -> None:
    check = tc.DoseCheck(
        "2", "Not Valid", "Not Valid", "Interval: too Soon", ("Interval too soon",)
    )
    assert check.reason_matches is True
    assert tc.DoseCheck("1", "Valid", "Valid", None, ("Grace",)).reason_matches is None


def test_an_engine_exception_is_the_case_failure() -> None:
    def broken(patient: Patient, assessment_date: dt.date) -> Result:
        raise KeyError("Pertussis")

    outcome = tc.run_case(make_case(), broken, GROUPS)
    assert not outcome.passed
    assert outcome.error is not None
    assert outcome.error.startswith(
        "engine raised KeyError: 'Pertussis' (at test_cdsi_testcases.py:"
    )
    assert outcome.mismatches == (outcome.error,)
    assert outcome.doses_matched == 0 and len(outcome.doses) == 2
    assert not outcome.forecast_matches


def test_one_broken_case_does_not_stop_the_others() -> None:
    good, bad = make_case(id="good"), make_case(id="bad")

    def forecast(patient: Patient, assessment_date: dt.date) -> Result:
        if seen:
            raise ZeroDivisionError("division by zero")
        seen.append(patient)
        return perfect_result(good)

    seen: list[Patient] = []
    progress: list[int] = []
    outcomes = tc.run_cases([good, bad], forecast, GROUPS, progress.append)
    assert [(o.case_id, o.passed) for o in outcomes] == [("good", True), ("bad", False)]
    assert progress == [1, 2]


def test_an_unknown_group_is_the_case_failure_not_a_crash() -> None:
    outcome = tc.run_case(
        make_case(vaccine_group="Smallpox"), returning(Result(D("2025-01-01"), ())), GROUPS
    )
    assert not outcome.passed
    assert outcome.group == "Smallpox"
    assert "unknown vaccine group 'Smallpox'" in outcome.mismatches[0]


def test_a_group_missing_from_the_supporting_data_is_the_case_failure() -> None:
    groups = {k: v for k, v in GROUPS.items() if k != "DTaP/Tdap/Td"}
    outcome = tc.run_case(make_case(), returning(perfect_result(make_case())), groups)
    assert outcome.mismatches == (
        "harness: vaccine group 'DTaP/Tdap/Td' not in the supporting data",
    )


# --- Excepted cases ----------------------------------------------------------------------------


def test_the_excepted_list_in_the_repository_is_short_and_explained() -> None:
    """Every excepted case is a real development case, with a reason that names what in the
    supporting data or the specification it contradicts; the list stays short."""
    text = tc.EXCEPTED_CASES_PATH.read_text()
    assert "contradict the supporting data" in text
    assert "STILL counts as failed" in text
    excepted = tc.load_excepted()
    assert len(excepted) <= 25
    ids = {
        (tc.file_key(path), case.id)
        for path in (HEALTHY, CONDITIONS)
        for case in tc.load_case_file(path).cases
    }
    for key, reason in excepted.items():
        assert key in ids, key
        assert len(reason) >= 40, key


def write_excepted(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "excepted_cases.toml"
    path.write_text(text)
    return path


def test_excepted_entries_are_read(tmp_path: Path) -> None:
    path = write_excepted(
        tmp_path,
        '[[case]]\nid = "T-1"\nfile = "healthy"\nreason = "Pertussis dose 2 age: 6 weeks"\n'
        '[[case]]\nid = "2016-UC-0158"\nfile = "underlying-conditions"\nreason = "x"\n',
    )
    assert tc.load_excepted(path) == {
        ("healthy", "T-1"): "Pertussis dose 2 age: 6 weeks",
        ("underlying-conditions", "2016-UC-0158"): "x",
    }


@pytest.mark.parametrize(
    "text",
    [
        '[[case]]\nid = "T-1"\nfile = "healthy"\n',  # no reason
        '[[case]]\nid = "T-1"\nfile = "healthy"\nreason = "  "\n',
        '[[case]]\nid = 1\nfile = "healthy"\nreason = "r"\n',
        '[[case]]\nid = "T-1"\nfile = "healthy"\nreason = "r"\n' * 2,  # listed twice
        "case = 3\n",
        "[[case]\n",  # not TOML
    ],
)
def test_a_malformed_excepted_list_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(tc.CaseFileError):
        tc.load_excepted(write_excepted(tmp_path, text))


def test_excepted_failures_are_marked_and_still_count_as_failed() -> None:
    wrong = with_forecast(perfect_result(make_case()), earliest=D("2025-12-09"))
    failing = tc.run_case(make_case(id="A"), returning(wrong), GROUPS)
    failing_too = tc.run_case(make_case(id="B"), returning(wrong), GROUPS)
    passing = tc.run_case(make_case(id="C"), returning(perfect_result(make_case())), GROUPS)
    excepted = {("healthy", "A"): "CDC's date is off by one", ("healthy", "C"): "old"}
    marked = tc.mark_excepted([failing, failing_too, passing], excepted)
    assert [o.excepted for o in marked] == ["CDC's date is off by one", None, None]
    assert [o.passed for o in marked] == [False, False, True]
    assert tc.passing_but_excepted(marked, excepted) == [marked[2]]
    _, total = tc.tally(marked)
    assert (total.cases, total.passed, total.failed, total.excepted) == (3, 1, 2, 1)


def test_an_excepted_entry_of_another_file_does_not_match() -> None:
    wrong = with_forecast(perfect_result(make_case()), earliest=D("2025-12-09"))
    failing = tc.run_case(make_case(id="A"), returning(wrong), GROUPS)
    marked = tc.mark_excepted([failing], {("underlying-conditions", "A"): "r"})
    assert marked[0].excepted is None


# --- Table -------------------------------------------------------------------------------------


def test_the_table_counts_per_group_and_aligns() -> None:
    wrong = with_dose_status(perfect_result(make_case()), "2", "Valid")
    polio = make_case(id="P", vaccine_group="POL")
    outcomes = [
        tc.run_case(make_case(id="A"), returning(perfect_result(make_case())), GROUPS),
        tc.run_case(make_case(id="B"), returning(wrong), GROUPS),
        tc.run_case(polio, returning(perfect_result(polio)), GROUPS),
    ]
    lines = tc.format_table(outcomes)
    assert len({len(line) for line in lines}) == 1
    cells = [line.split() for line in lines]
    assert cells[0] == ["vaccine", "group", "cases", "passed", "failed", "doses", "matched"] + [
        "forecasts",
        "matched",
    ]
    assert cells[2] == ["DTaP/Tdap/Td", "2", "1", "1", "3/4", "2/2"]
    assert cells[3] == ["Polio", "1", "1", "0", "2/2", "1/1"]
    assert cells[5] == ["all", "3", "2", "1", "5/6", "3/3"]


# --- The command -------------------------------------------------------------------------------


def raw_case(
    case_id: str, group: str = "DTAP", status: str = "Not complete", dob: str = "2025-09-06"
) -> dict[str, Any]:
    return {
        "id": case_id,
        "name": f"case {case_id}",
        "patient": {"dob": dob, "gender": "F"},
        "assessment_date": "2025-11-10",
        "vaccine_group": group,
        "doses": [
            {
                "dose_number": 1,
                "date_administered": "2025-10-15",
                "vaccine_name": "DTaP",
                "cvx": "107",
                "mvx": None,
                "expected_evaluation_status": "Valid",
                "expected_evaluation_reason": None,
            },
            {
                "dose_number": 2,
                "date_administered": "2025-11-10",
                "vaccine_name": "DTaP",
                "cvx": "107",
                "mvx": None,
                "expected_evaluation_status": "Not Valid",
                "expected_evaluation_reason": "Age: Too Young",
            },
        ],
        "expected": {
            "series_status": status,
            "forecast_dose_number": "2",
            "earliest_date": "2025-12-08",
            "recommended_date": "2026-01-06",
            "past_due_date": "2026-03-05",
        },
    }


def write_cases(tmp_path: Path, name: str, cases: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"meta": {"case_count": len(cases)}, "cases": cases}))
    return path


class FakeEngine:
    """load/forecast as the engine has them; answers from a table of cases keyed by patient."""

    def __init__(self, cases: list[tc.CdsiCase], tweak: Callable[[tc.CdsiCase], Result | None]):
        self.by_patient: dict[tuple[Patient, dt.date], list[tc.CdsiCase]] = {}
        for case in cases:
            self.by_patient.setdefault((tc.to_patient(case), case.assessment_date), []).append(case)
        self.tweak = tweak
        self.loads: list[Path] = []

    def load(self, xml_dir: Path) -> SimpleNamespace:
        self.loads.append(xml_dir)
        return SimpleNamespace(vaccine_groups=GROUPS)

    def forecast(self, data: SimpleNamespace, patient: Patient, assessment_date: dt.date) -> Result:
        assert data.vaccine_groups is GROUPS
        evaluations: list[DoseEvaluation] = []
        groups: dict[str, VaccineGroupForecast] = {}
        for case in self.by_patient[(patient, assessment_date)]:
            result = self.tweak(case) or perfect_result(case)
            evaluations.extend(result.evaluations)
            groups.update(result.groups)
        return Result(assessment_date, tuple(evaluations), groups)


def use_engine(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> None:
    monkeypatch.setattr(command_module, "load_engine", lambda: (engine.load, engine.forecast))


def run(*args: str, stderr: io.StringIO | None = None) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("cdsi-check", *args, stdout=out, stderr=stderr or io.StringIO())
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


@pytest.fixture
def small_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four cases: A passes, B gets dose 2 and earliest wrong, C raises, P (Polio) passes."""
    path = write_cases(
        tmp_path,
        "healthy-v4.45.json",
        [
            raw_case("A", dob="2025-09-06"),
            raw_case("B", dob="2025-09-07"),
            raw_case("C", status="Not Complete", dob="2025-09-08"),
            raw_case("P", "POL", dob="2025-09-09"),
        ],
    )
    cases = list(tc.load_case_file(path).cases)

    def tweak(case: tc.CdsiCase) -> Result | None:
        if case.id == "B":
            result = with_dose_status(perfect_result(case), "2", "Valid")
            return with_forecast(result, earliest=D("2025-12-09"))
        if case.id == "C":
            raise RuntimeError("no series for Pertussis")
        return None

    use_engine(monkeypatch, FakeEngine(cases, tweak))
    monkeypatch.setattr(tc, "EXCEPTED_CASES_PATH", write_excepted(tmp_path, ""))
    return path


def test_command_reports_a_table_and_the_failures(small_file: Path) -> None:
    output, code = run(str(small_file))
    lines = output.splitlines()
    assert code == 1
    assert lines[-1] == "2 passed, 2 failed"
    assert lines[0] == "healthy-v4.45.json (4 cases)"
    table = lines[1:7]
    assert len({len(line) for line in table}) == 1
    assert table[2].split() == ["DTaP/Tdap/Td", "3", "1", "2", "3/6", "1/3"]
    assert table[3].split() == ["Polio", "1", "1", "0", "2/2", "1/1"]
    assert table[5].split() == ["all", "4", "2", "2", "5/8", "2/4"]
    assert "overall" not in output  # one file: no second table
    assert "  healthy B (DTaP/Tdap/Td): dose 2: expected Not Valid, got Valid (+1 more)" in lines
    assert any(
        line.startswith("  healthy C (DTaP/Tdap/Td): engine raised RuntimeError: no series")
        for line in lines
    )
    assert "--verbose" in output
    assert "Of the 2 failed, 0 excepted" in output


def test_command_verbose_lists_every_mismatch(small_file: Path) -> None:
    output, code = run(str(small_file), "--verbose")
    lines = output.splitlines()
    assert code == 1
    start = lines.index("healthy B (DTaP/Tdap/Td) case B")
    assert lines[start + 1 : start + 3] == [
        "    dose 2: expected Not Valid, got Valid",
        "    earliest: expected 2025-12-08, got 2025-12-09",
    ]
    assert lines[-1] == "2 passed, 2 failed"


def test_command_marks_excepted_failures_but_counts_them(
    small_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = '[[case]]\nid = "B"\nfile = "healthy"\nreason = "CDC typo"\n'
    listed += '[[case]]\nid = "A"\nfile = "healthy"\nreason = "fixed since"\n'
    monkeypatch.setattr(tc, "EXCEPTED_CASES_PATH", write_excepted(tmp_path, listed))
    output, code = run(str(small_file))
    assert code == 1
    assert (
        "  healthy B (DTaP/Tdap/Td): dose 2: expected Not Valid, got Valid (+1 more) [excepted]"
        in output
    )
    assert "Of the 2 failed, 1 excepted" in output
    assert "Excepted but now passing (remove from excepted_cases.toml): healthy A" in output
    assert output.splitlines()[-1] == "2 passed, 2 failed"
    verbose, _ = run(str(small_file), "--verbose")
    assert "healthy B (DTaP/Tdap/Td) case B  [excepted: CDC typo]" in verbose


def test_command_filters_by_group_and_case(small_file: Path) -> None:
    output, code = run(str(small_file), "--group", "polio")
    assert (code, output.splitlines()[-1]) == (0, "1 passed, 0 failed")


def test_command_filters_by_case_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_cases(tmp_path, "healthy-v4.45.json", [raw_case("A"), raw_case("B", "HIB")])
    cases = list(tc.load_case_file(path).cases)
    engine = FakeEngine(cases, lambda case: None)
    use_engine(monkeypatch, engine)
    output, code = run(str(path), "--case", "B")
    assert (code, output.splitlines()[-1]) == (0, "1 passed, 0 failed")
    assert "Hib" in output and "DTaP" not in output
    output, _ = run(str(path), "--case", "A", "--case", "B", "--group", "DTAP")
    assert output.splitlines()[-1] == "1 passed, 0 failed"
    with pytest.raises(CommandError, match="no such case in the files: Z"):
        run(str(path), "--case", "Z")
    with pytest.raises(CommandError, match="unknown vaccine group 'Smallpox'"):
        run(str(path), "--group", "Smallpox")
    with pytest.raises(CommandError, match="no cases match"):
        run(str(path), "--group", "HepB")


def test_command_runs_both_real_files_with_a_perfect_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [*tc.load_case_file(HEALTHY).cases, *tc.load_case_file(CONDITIONS).cases]
    engine = FakeEngine(cases, lambda case: None)
    use_engine(monkeypatch, engine)
    stderr = io.StringIO()
    output, code = run(str(HEALTHY), str(CONDITIONS), stderr=stderr)
    lines = output.splitlines()
    assert code == 0
    assert lines[-1] == f"{len(cases)} passed, 0 failed"
    assert f"overall ({len(cases)} cases)" in lines
    assert engine.loads == [command_module.supporting_data_dir()]  # loaded once
    assert "250/1010 cases" in stderr.getvalue()  # not a terminal: plain lines
    assert "\r" not in stderr.getvalue()
    assert "/1010 cases" not in output


def test_command_counts_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = list(tc.load_case_file(HEALTHY).cases)
    use_engine(monkeypatch, FakeEngine(cases, lambda case: None))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stderr = Terminal()
    output, code = run(str(HEALTHY), stderr=stderr)
    assert code == 0
    assert f"\r{len(cases)}/{len(cases)} cases" in stderr.getvalue()
    assert "\r" not in output


def test_command_without_progress_for_few_cases(small_file: Path) -> None:
    stderr = io.StringIO()
    run(str(small_file), stderr=stderr)
    assert stderr.getvalue() == ""


def test_command_refuses_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "nonsense.json"
    path.write_text("[]")
    with pytest.raises(CommandError, match="not a CDSi case file"):
        run(str(path))


def test_command_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        call_command("cdsi-check", "--help")
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("FILE.json", "--group NAME", "--case ID", "--verbose"):
        assert option in help_text
