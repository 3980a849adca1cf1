"""CDC CDSi test cases: load a case file, run each case through a forecaster, compare.

Case files are the JSON conversions of CDC's test case workbooks described in
reference/cdsi/SOURCE.md section 1. Pure: no Django; the forecaster is passed in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tomllib
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medassist.immunizations.cdsi.types import (
    AdministeredDose,
    Patient,
    PatientObservation,
    Result,
)

ForecastFn = Callable[[Patient, dt.date], Result]
"""A forecaster bound to its supporting data: (patient, assessment date) -> Result."""

EXCEPTED_CASES_PATH = Path(__file__).with_name("excepted_cases.toml")

# Test-case spelling (normalised with `norm`) -> supporting-data vaccine group name. The healthy
# workbook writes DTAP, POL, HIB ...; the underlying-conditions one DTaP, IPOL, Hib ...
_SUPPORTING_DATA_GROUPS = (
    "Chikungunya",
    "Cholera",
    "COVID-19",
    "Dengue",
    "DTaP/Tdap/Td",
    "Ebola",
    "HepA",
    "HepB",
    "Hib",
    "HPV",
    "Influenza",
    "Japanese Encephalitis",
    "Meningococcal",
    "Meningococcal B",
    "MMR",
    "Orthopoxvirus",
    "Pneumococcal",
    "Polio",
    "Rabies",
    "Rotavirus",
    "RSV",
    "TBE",
    "Typhoid",
    "Varicella",
    "Yellow Fever",
    "Zoster",
)
_ALIASES = {
    "DTAP": "DTaP/Tdap/Td",
    "POL": "Polio",
    "IPOL": "Polio",
    "PCV": "Pneumococcal",
    "MCV": "Meningococcal",
    "MENB": "Meningococcal B",
    "VAR": "Varicella",
    "ROTA": "Rotavirus",
    "FLU": "Influenza",
    # Other spellings CDC's workbooks and IIS exports use for the same groups.
    "COVID": "COVID-19",
    "HEP A": "HepA",
    "HEP B": "HepB",
    "MENACWY": "Meningococcal",
    "MEN ACWY": "Meningococcal",
    "MEN B": "Meningococcal B",
    "TDAP": "DTaP/Tdap/Td",
    "TD": "DTaP/Tdap/Td",
    "YF": "Yellow Fever",
    "JE": "Japanese Encephalitis",
    "MPOX": "Orthopoxvirus",
}


def norm(label: str) -> str:
    """A label compared as CDC means it: case-folded, whitespace collapsed."""
    return " ".join(label.split()).casefold()


def _loose(label: str) -> str:
    """Also ignores punctuation ("Interval: too Soon" == "Interval too soon")."""
    return " ".join(re.sub(r"[^\w\s]", " ", label).split()).casefold()


VACCINE_GROUPS: dict[str, str] = {norm(name): name for name in _SUPPORTING_DATA_GROUPS} | {
    norm(alias): name for alias, name in _ALIASES.items()
}
"""Normalised test-case (or supporting-data) spelling -> supporting-data vaccine group name."""

# Normalised CDC series-status wording -> the engine's status (logic spec table 3-3).
SERIES_STATUSES: dict[str, str] = {
    norm(s): s
    for s in (
        "Not Complete",
        "Complete",
        "Aged Out",
        "Immune",
        "Contraindicated",
        "Not Recommended",
    )
}

EVALUATION_STATUSES: dict[str, str] = {
    norm(s): s for s in ("Valid", "Not Valid", "Extraneous", "Sub-standard")
}


class CaseFileError(ValueError):
    """A case file (or the excepted list) that cannot be read as documented."""


class UnknownVaccineGroup(ValueError):
    """A test case's vaccine group spelling that VACCINE_GROUPS does not know."""


def _squashed(label: str) -> str:
    return re.sub(r"[^0-9a-z]", "", label.casefold())


_SQUASHED_GROUPS = {_squashed(key): name for key, name in VACCINE_GROUPS.items()}


def supporting_data_group(name: str) -> str:
    """The supporting-data vaccine group name for a test-case spelling (case, spaces and
    punctuation aside: "Hep-B", "HEPB" and "HepB" are one group)."""
    try:
        return VACCINE_GROUPS.get(norm(name)) or _SQUASHED_GROUPS[_squashed(name)]
    except KeyError:
        raise UnknownVaccineGroup(
            f"unknown vaccine group {name!r} (add its spelling to VACCINE_GROUPS in testcases.py)"
        ) from None


def series_status(cdc_wording: str) -> str:
    """The engine's series status for CDC's wording ("Not complete" -> "Not Complete")."""
    return SERIES_STATUSES.get(norm(cdc_wording), " ".join(cdc_wording.split()))


def evaluation_status(cdc_wording: str) -> str:
    """The engine's dose evaluation status for CDC's wording ("not valid" -> "Not Valid")."""
    return EVALUATION_STATUSES.get(norm(cdc_wording), " ".join(cdc_wording.split()))


# --- Cases -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedDose:
    """An administered dose of a case and how CDC expects it to be evaluated."""

    dose_number: int
    date_administered: dt.date
    cvx: str
    mvx: str | None
    vaccine_name: str
    status: str  # engine spelling: "Valid", "Not Valid", "Extraneous"
    reason: str | None  # as CDC wrote it
    series_type: str | None = None  # "standard" / "risk" (underlying conditions)

    position: int = 0  # 1-based place in the case's dose list

    @property
    def dose_id(self) -> str:
        """The dose's id for the engine: its place in the list (the dose number in CDC's files,
        unique even where a file repeats a number)."""
        return str(self.position or self.dose_number)


@dataclass(frozen=True, slots=True)
class CaseObservation:
    code: str  # zero-padded to 3 digits, as in ScheduleSupportingData.xml
    text: str | None
    date: dt.date | None


@dataclass(frozen=True, slots=True)
class ExpectedForecast:
    status: str  # engine spelling, see SERIES_STATUSES
    dose_number: int | None  # None: no dose expected
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    administrative_guidance: str | None = None  # not compared


@dataclass(frozen=True, slots=True)
class CdsiCase:
    file: str  # file key, e.g. "healthy", see file_key()
    id: str
    name: str
    dob: dt.date
    gender: str
    assessment_date: dt.date
    vaccine_group: str  # as written in the case file
    doses: tuple[ExpectedDose, ...]
    observations: tuple[CaseObservation, ...]
    expected: ExpectedForecast
    evaluation_test_type: str | None = None
    forecast_test_type: str | None = None


@dataclass(frozen=True, slots=True)
class CaseFile:
    path: Path
    key: str
    meta: Mapping[str, Any]
    cases: tuple[CdsiCase, ...]
    # Cases that could not be read (id, vaccine group as written, what is wrong): each counts
    # as a failed case; one bad row never stops the run.
    unreadable: tuple[tuple[str, str, str], ...] = ()
    warnings: tuple[str, ...] = ()


def file_key(path: Path) -> str:
    """The name a case file goes by in the excepted list: the file name without its version
    and extension ("healthy-v4.45.json" -> "healthy")."""
    return re.sub(r"-v\d+(\.\d+)*$", "", path.stem)


def _date(value: Any, what: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CaseFileError(f"{what}: not an ISO date: {value!r}") from None


def _required_date(value: Any, what: str) -> dt.date:
    found = _date(value, what)
    if found is None:
        raise CaseFileError(f"{what}: missing")
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _dose_number(value: Any, what: str) -> int | None:
    if value in (None, "", "-"):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise CaseFileError(f"{what}: not a dose number: {value!r}") from None


def _cvx(value: Any) -> str:
    code = str(value).strip()
    return code.zfill(2) if code.isdigit() else code


def _observation_code(value: Any) -> str:
    code = str(value).strip()
    return code.zfill(3) if code.isdigit() else code


def _case(raw: Mapping[str, Any], key: str) -> CdsiCase:
    case_id = str(raw["id"])
    where = f"case {case_id}"
    doses = tuple(
        ExpectedDose(
            dose_number=int(d["dose_number"]),
            date_administered=_required_date(
                d["date_administered"], f"{where} dose {d['dose_number']}"
            ),
            cvx=_cvx(d["cvx"]),
            mvx=_text(d.get("mvx")),
            vaccine_name=_text(d.get("vaccine_name")) or "",
            status=evaluation_status(str(d["expected_evaluation_status"])),
            reason=_text(d.get("expected_evaluation_reason")),
            series_type=(_text(d.get("series_type")) or "").casefold() or None,
            position=position,
        )
        for position, d in enumerate(raw.get("doses") or (), start=1)
    )
    exp = raw["expected"]
    return CdsiCase(
        file=key,
        id=case_id,
        name=_text(raw.get("name")) or "",
        dob=_required_date(raw["patient"]["dob"], f"{where} dob"),
        gender=(_text(raw["patient"].get("gender")) or "").upper(),
        assessment_date=_required_date(raw["assessment_date"], f"{where} assessment date"),
        vaccine_group=_text(raw["vaccine_group"]) or "",
        doses=doses,
        observations=tuple(
            CaseObservation(
                code=_observation_code(o["code"]),
                text=_text(o.get("text")),
                date=_date(o.get("date"), f"{where} observation {o['code']}"),
            )
            for o in raw.get("observations") or ()
        ),
        expected=ExpectedForecast(
            status=series_status(str(exp["series_status"])),
            dose_number=_dose_number(exp.get("forecast_dose_number"), f"{where} forecast #"),
            earliest=_date(exp.get("earliest_date"), f"{where} earliest"),
            recommended=_date(exp.get("recommended_date"), f"{where} recommended"),
            past_due=_date(exp.get("past_due_date"), f"{where} past due"),
            administrative_guidance=_text(exp.get("administrative_guidance")),
        ),
        evaluation_test_type=_text(raw.get("evaluation_test_type")),
        forecast_test_type=_text(raw.get("forecast_test_type")),
    )


def load_case_file(path: Path) -> CaseFile:
    """Read a case file; CaseFileError when it is malformed or its meta.case_count is wrong."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CaseFileError(f"{path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        raise CaseFileError(f"{path}: not a CDSi case file (no 'cases' list)")
    key = file_key(path)
    cases: list[CdsiCase] = []
    unreadable: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(raw["cases"], start=1):
        row_id = str(row.get("id") or f"#{position}") if isinstance(row, dict) else f"#{position}"
        try:
            case = _case(row, key)
        except (CaseFileError, KeyError, TypeError, ValueError, AttributeError) as exc:
            group = str(row.get("vaccine_group", "?")) if isinstance(row, dict) else "?"
            unreadable.append((row_id, group, f"unreadable case: {exc!r}"))
            continue
        if case.id in seen:  # keep both; the second is told apart by its place in the file
            seen[case.id] += 1
            warnings.append(f"case id {case.id} repeats (row {position})")
            case = dataclasses.replace(case, id=f"{case.id}#{seen[case.id]}")
        else:
            seen[case.id] = 1
        cases.append(case)
    meta = raw.get("meta") or {}
    expected_count = meta.get("case_count")
    found = len(cases) + len(unreadable)
    if expected_count is not None and expected_count != found:
        warnings.append(f"meta.case_count is {expected_count}, the file has {found} cases")
    return CaseFile(
        path=path,
        key=key,
        meta=meta,
        cases=tuple(cases),
        unreadable=tuple(unreadable),
        warnings=tuple(warnings),
    )


def unreadable_outcomes(case_file: CaseFile) -> list[CaseOutcome]:
    """A failed outcome for each case of the file that could not be read."""
    outcomes = []
    for case_id, group, error in case_file.unreadable:
        try:
            name = supporting_data_group(group)
        except UnknownVaccineGroup:
            name = group
        outcomes.append(
            CaseOutcome(
                file=case_file.key,
                case_id=case_id,
                group=name,
                doses=(),
                forecast_matches=False,
                mismatches=(error,),
                error=error,
            )
        )
    return outcomes


def to_patient(case: CdsiCase) -> Patient:
    """The engine's input for a case; dose ids are the dose numbers ("1", "2", ...)."""
    return Patient(
        dob=case.dob,
        gender=case.gender if case.gender in {"F", "M"} else "U",
        doses=tuple(
            AdministeredDose(
                id=d.dose_id, date_administered=d.date_administered, cvx=d.cvx, mvx=d.mvx
            )
            for d in case.doses
        ),
        observations=tuple(PatientObservation(code=o.code, date=o.date) for o in case.observations),
    )


# --- Running and comparing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoseCheck:
    dose_id: str
    expected_status: str
    got_status: str | None  # None: dose_status_for_group found no evaluation of the dose
    expected_reason: str | None
    got_reasons: tuple[str, ...] = ()

    @property
    def status_matches(self) -> bool:
        return self.got_status is not None and norm(self.got_status) == norm(self.expected_status)

    @property
    def reason_matches(self) -> bool | None:
        """None when CDC expects no reason; compared loosely (case, spaces, punctuation)."""
        if self.expected_reason is None:
            return None
        want = _loose(self.expected_reason)
        return any(_loose(r) == want for r in self.got_reasons)


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """How one case went. `mismatches` make it fail; `notes` (reason differences) do not."""

    file: str
    case_id: str
    group: str  # supporting-data name; the case's own spelling when unknown
    doses: tuple[DoseCheck, ...]
    forecast_matches: bool
    mismatches: tuple[str, ...]
    notes: tuple[str, ...] = ()
    error: str | None = None  # the exception the engine (or the harness) raised
    excepted: str | None = None  # reason from the excepted list, for failed cases only

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def doses_matched(self) -> int:
        return sum(d.status_matches for d in self.doses)


def _show(value: object) -> str:
    return "none" if value is None else str(value)


def _describe_exception(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _failed(case: CdsiCase, group: str, error: str) -> CaseOutcome:
    return CaseOutcome(
        file=case.file,
        case_id=case.id,
        group=group,
        doses=tuple(DoseCheck(d.dose_id, d.status, None, d.reason) for d in case.doses),
        forecast_matches=False,
        mismatches=(error,),
        error=error,
    )


def run_case(
    case: CdsiCase, forecast: ForecastFn, vaccine_groups: Mapping[str, Sequence[str]]
) -> CaseOutcome:
    """Run one case and compare. Never raises for a problem with this case: an exception from
    the forecaster, or an unknown vaccine group, is this case's failure."""
    try:
        group = supporting_data_group(case.vaccine_group)
    except UnknownVaccineGroup as exc:
        return _failed(case, case.vaccine_group, f"harness: {exc}")
    if group not in vaccine_groups:
        return _failed(case, group, f"harness: vaccine group {group!r} not in the supporting data")
    try:
        result = forecast(to_patient(case), case.assessment_date)
    except Exception as exc:
        return _failed(case, group, f"engine raised {_describe_exception(exc)}")
    return compare(case, group, result)


def compare(case: CdsiCase, group: str, result: Result) -> CaseOutcome:
    """Compare a Result with a case's expectations (group: supporting-data name). A dose's
    status is Result.dose_status_for_group, in the best series of the type the case names for
    that dose (the underlying-conditions cases say whether a dose was expected to count in the
    standard or the risk series); the forecast is Result.groups[group]."""
    mismatches: list[str] = []
    notes: list[str] = []
    checks: list[DoseCheck] = []
    for dose in case.doses:
        ev = result.dose_status_for_group(dose.dose_id, group, dose.series_type)
        check = DoseCheck(
            dose_id=dose.dose_id,
            expected_status=dose.status,
            got_status=None if ev is None else ev.status,
            expected_reason=dose.reason,
            got_reasons=() if ev is None else tuple(ev.reasons),
        )
        checks.append(check)
        if not check.status_matches:
            got_status = "no evaluation" if check.got_status is None else check.got_status
            mismatches.append(f"dose {dose.dose_id}: expected {dose.status}, got {got_status}")
        if check.reason_matches is False:
            got_reasons = "; ".join(check.got_reasons) or "no reason"
            notes.append(f"dose {dose.dose_id} reason: expected {dose.reason}, got {got_reasons}")

    exp = case.expected
    vg = result.groups.get(group)
    forecast_mismatches: list[str] = []
    if vg is None:
        forecast_mismatches.append(f"status: expected {exp.status}, got no forecast for {group}")
    else:
        if norm(vg.status) != norm(exp.status):
            forecast_mismatches.append(f"status: expected {exp.status}, got {vg.status}")
        fields: tuple[tuple[str, object, object], ...] = (
            ("dose number", exp.dose_number, vg.dose_number),
            ("earliest", exp.earliest, vg.earliest),
            ("recommended", exp.recommended, vg.recommended),
            ("past due", exp.past_due, vg.past_due),
        )
        for label, want, got in fields:
            if want != got:
                forecast_mismatches.append(f"{label}: expected {_show(want)}, got {_show(got)}")
    mismatches.extend(forecast_mismatches)
    return CaseOutcome(
        file=case.file,
        case_id=case.id,
        group=group,
        doses=tuple(checks),
        forecast_matches=not forecast_mismatches,
        mismatches=tuple(mismatches),
        notes=tuple(notes),
    )


def run_cases(
    cases: Iterable[CdsiCase],
    forecast: ForecastFn,
    vaccine_groups: Mapping[str, Sequence[str]],
    on_progress: Callable[[int], None] | None = None,
) -> list[CaseOutcome]:
    """run_case for each case in order; on_progress(number done) after each."""
    outcomes = []
    for done, case in enumerate(cases, start=1):
        outcomes.append(run_case(case, forecast, vaccine_groups))
        if on_progress is not None:
            on_progress(done)
    return outcomes


# --- Excepted cases --------------------------------------------------------------------------


def load_excepted(path: Path = EXCEPTED_CASES_PATH) -> dict[tuple[str, str], str]:
    """The excepted list: (file key, case id) -> reason. CaseFileError when malformed."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CaseFileError(f"{path}: {exc}") from None
    entries = raw.get("case", [])
    if not isinstance(entries, list):
        raise CaseFileError(f"{path}: 'case' must be an array of tables ([[case]])")
    excepted: dict[tuple[str, str], str] = {}
    for number, entry in enumerate(entries, start=1):
        values = {k: entry.get(k) if isinstance(entry, dict) else None for k in ("id", "file")}
        reason = entry.get("reason") if isinstance(entry, dict) else None
        if not all(isinstance(v, str) and v.strip() for v in (*values.values(), reason)):
            raise CaseFileError(f"{path}: entry {number} needs id, file and a reason (strings)")
        key = (str(values["file"]).strip(), str(values["id"]).strip())
        if key in excepted:
            raise CaseFileError(f"{path}: case {key[1]} of {key[0]} is listed twice")
        excepted[key] = str(reason).strip()
    return excepted


def mark_excepted(
    outcomes: Iterable[CaseOutcome], excepted: Mapping[tuple[str, str], str]
) -> list[CaseOutcome]:
    """Failed outcomes on the excepted list get its reason; they still count as failed."""
    return [
        dataclasses.replace(o, excepted=excepted[(o.file, o.case_id)])
        if not o.passed and (o.file, o.case_id) in excepted
        else o
        for o in outcomes
    ]


def passing_but_excepted(
    outcomes: Iterable[CaseOutcome], excepted: Mapping[tuple[str, str], str]
) -> list[CaseOutcome]:
    """Passed outcomes still on the excepted list (the entry should be removed)."""
    return [o for o in outcomes if o.passed and (o.file, o.case_id) in excepted]


# --- Totals ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    cases: int = 0
    passed: int = 0
    failed: int = 0
    excepted: int = 0  # failed cases on the excepted list (included in failed)
    doses_matched: int = 0
    doses_total: int = 0
    forecasts_matched: int = 0
    forecasts_total: int = 0

    def add(self, outcome: CaseOutcome) -> None:
        self.cases += 1
        self.passed += outcome.passed
        self.failed += not outcome.passed
        self.excepted += not outcome.passed and outcome.excepted is not None
        self.doses_matched += outcome.doses_matched
        self.doses_total += len(outcome.doses)
        self.forecasts_matched += outcome.forecast_matches
        self.forecasts_total += 1


def tally(outcomes: Iterable[CaseOutcome]) -> tuple[dict[str, Tally], Tally]:
    """Per vaccine group (sorted by name) and overall."""
    groups: dict[str, Tally] = {}
    total = Tally()
    for o in outcomes:
        groups.setdefault(o.group, Tally()).add(o)
        total.add(o)
    return dict(sorted(groups.items(), key=lambda kv: kv[0].casefold())), total


def format_table(outcomes: Iterable[CaseOutcome], total_label: str = "all") -> list[str]:
    """The per-vaccine-group table, columns aligned, ending with a total row."""
    groups, total = tally(outcomes)
    header = ("vaccine group", "cases", "passed", "failed", "doses matched", "forecasts matched")
    rows = [
        (
            name,
            str(t.cases),
            str(t.passed),
            str(t.failed),
            f"{t.doses_matched}/{t.doses_total}",
            f"{t.forecasts_matched}/{t.forecasts_total}",
        )
        for name, t in [*groups.items(), (total_label, total)]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])]
