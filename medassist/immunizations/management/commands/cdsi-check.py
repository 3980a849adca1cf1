"""medassist cdsi-check FILE.json [FILE.json ...]: run CDC's CDSi test cases through the
forecaster (medassist.immunizations.cdsi.engine) with the supporting data under
REFERENCE_DIR/cdsi/supporting-data-4.64/XML, and report per vaccine group. The last line is
`N passed, M failed`; the exit status is 1 when any case failed."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.immunizations.cdsi import testcases as tc
from medassist.immunizations.cdsi.types import Patient, Result

FIRST_FAILURES_SHOWN = 20
PROGRESS_ABOVE = 200  # cases; fewer run quickly enough without a counter
PROGRESS_LINE_EVERY = 250  # cases, when stderr is not a terminal


def supporting_data_dir() -> Path:
    return Path(settings.REFERENCE_DIR) / "cdsi" / "supporting-data-4.64" / "XML"


def load_engine() -> tuple[Callable[[Path], Any], Callable[[Any, Patient, dt.date], Result]]:
    """The engine's load and forecast (imported when the command runs; tests replace this)."""
    name = "medassist.immunizations.cdsi.engine"
    try:
        engine = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise CommandError(f"the forecast engine ({name}) is not installed yet") from None
    return engine.load, engine.forecast


class Command(BaseCommand):
    help = (
        "Run CDC CDSi test case files (JSON) through the immunization forecaster and report "
        "passed/failed per vaccine group. Exit status 1 when any case failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE.json")
        parser.add_argument(
            "--group",
            action="append",
            metavar="NAME",
            help="only cases of this vaccine group (supporting-data name or a test-case "
            "spelling such as DTAP, POL, PCV); repeatable",
        )
        parser.add_argument(
            "--case", action="append", metavar="ID", help="only this case id; repeatable"
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="print every mismatch of every failed case, and reason differences",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files = [self._load(path) for path in options["files"]]
        selected = self._select(files, options["group"] or [], options["case"] or [])
        try:
            excepted = tc.load_excepted(tc.EXCEPTED_CASES_PATH)
        except tc.CaseFileError as exc:
            raise CommandError(str(exc)) from None
        xml_dir = supporting_data_dir()
        if not xml_dir.is_dir():
            raise CommandError(f"supporting data not found: {xml_dir}")

        load, engine_forecast = load_engine()
        data = load(xml_dir)

        def forecast(patient: Patient, assessment_date: dt.date) -> Result:
            return engine_forecast(data, patient, assessment_date)

        total = sum(len(cases) for _, cases in selected)
        progress = self._progress(total)
        done = 0

        def tick(_: int) -> None:
            nonlocal done
            done += 1
            progress(done)

        for f, _ in selected:
            for warning in f.warnings:
                self.stderr.write(f"{f.path.name}: {warning}")
        outcomes_by_file = [
            (
                f,
                tc.mark_excepted(
                    tc.run_cases(cases, forecast, data.vaccine_groups, tick)
                    + ([] if options["case"] or options["group"] else tc.unreadable_outcomes(f)),
                    excepted,
                ),
            )
            for f, cases in selected
        ]
        progress(None)

        self._report(outcomes_by_file, excepted, verbose=options["verbose"])
        failed = sum(not o.passed for _, outcomes in outcomes_by_file for o in outcomes)
        if failed:
            raise SystemExit(1)

    def _load(self, path: Path) -> tc.CaseFile:
        try:
            return tc.load_case_file(path)
        except tc.CaseFileError as exc:
            raise CommandError(str(exc)) from None

    def _select(
        self, files: list[tc.CaseFile], groups: list[str], case_ids: list[str]
    ) -> list[tuple[tc.CaseFile, list[tc.CdsiCase]]]:
        wanted_groups = set()
        for name in groups:
            try:
                wanted_groups.add(tc.supporting_data_group(name))
            except tc.UnknownVaccineGroup:
                known = ", ".join(sorted(set(tc.VACCINE_GROUPS.values()), key=str.casefold))
                raise CommandError(f"unknown vaccine group {name!r}; known: {known}") from None
        wanted_ids = {i.strip() for i in case_ids}
        found_ids = {c.id for f in files for c in f.cases}
        if missing := sorted(wanted_ids - found_ids):
            raise CommandError(f"no such case in the files: {', '.join(missing)}")

        def wanted(case: tc.CdsiCase) -> bool:
            if wanted_ids and case.id not in wanted_ids:
                return False
            if not wanted_groups:
                return True
            try:
                return tc.supporting_data_group(case.vaccine_group) in wanted_groups
            except tc.UnknownVaccineGroup:
                return False

        selected = [(f, [c for c in f.cases if wanted(c)]) for f in files]
        if not any(cases for _, cases in selected):
            raise CommandError("no cases match --group/--case")
        return selected

    def _progress(self, total: int) -> Callable[[int | None], None]:
        """A counter on stderr for long runs: one line rewritten with \\r on a terminal, a
        line every PROGRESS_LINE_EVERY cases otherwise. Called with None at the end."""
        tty = self.stderr.isatty()

        def show(done: int | None) -> None:
            if total <= PROGRESS_ABOVE:
                return
            if done is None:
                if tty:
                    self.stderr.write("\r" + " " * 40 + "\r", ending="")
                    self.stderr.flush()
                return
            if tty:
                self.stderr.write(f"\r{done}/{total} cases", ending="")
                self.stderr.flush()
            elif done % PROGRESS_LINE_EVERY == 0 and done != total:
                self.stderr.write(f"{done}/{total} cases")

        return show

    def _report(
        self,
        outcomes_by_file: list[tuple[tc.CaseFile, list[tc.CaseOutcome]]],
        excepted: dict[tuple[str, str], str],
        *,
        verbose: bool,
    ) -> None:
        out = self.stdout.write
        everything = [o for _, outcomes in outcomes_by_file for o in outcomes]
        names = {(f.key, c.id): c.name for f, _ in outcomes_by_file for c in f.cases}
        for case_file, outcomes in outcomes_by_file:
            if not outcomes:
                continue
            out(f"{case_file.path.name} ({len(outcomes)} cases)")
            for row in tc.format_table(outcomes):
                out(row)
            out("")
        if sum(bool(outcomes) for _, outcomes in outcomes_by_file) > 1:
            out(f"overall ({len(everything)} cases)")
            for row in tc.format_table(everything):
                out(row)
            out("")

        failures = [o for o in everything if not o.passed]
        if failures and verbose:
            out("Failed cases:")
            for o in failures:
                mark = f"  [excepted: {o.excepted}]" if o.excepted else ""
                out(f"{o.file} {o.case_id} ({o.group}) {names[(o.file, o.case_id)]}{mark}")
                for text in o.mismatches:
                    out(f"    {text}")
                for text in o.notes:
                    out(f"    (reason only) {text}")
            out("")
        elif failures:
            shown = failures[:FIRST_FAILURES_SHOWN]
            heading = (
                "Failed cases"
                if len(shown) == len(failures)
                else (f"Failed cases (first {len(shown)} of {len(failures)})")
            )
            out(f"{heading}, first mismatch each; --verbose shows every mismatch:")
            for o in shown:
                more = f" (+{len(o.mismatches) - 1} more)" if len(o.mismatches) > 1 else ""
                mark = " [excepted]" if o.excepted else ""
                out(f"  {o.file} {o.case_id} ({o.group}): {o.mismatches[0]}{more}{mark}")
            out("")

        reason_only = [o for o in everything if o.passed and o.notes]
        reason_count = sum(len(o.notes) for o in everything)
        if verbose and reason_only:
            out("Reason differences in passing cases (reported only, not failures):")
            for o in reason_only:
                for text in o.notes:
                    out(f"  {o.file} {o.case_id} ({o.group}): {text}")
            out("")
        elif reason_count and not verbose:
            out(
                f"{reason_count} dose evaluation reason(s) differ from CDC's "
                "(reported only, not failures; --verbose lists them)."
            )

        stale = tc.passing_but_excepted(everything, excepted)
        if stale:
            ids = ", ".join(f"{o.file} {o.case_id}" for o in stale)
            out(f"Excepted but now passing (remove from {tc.EXCEPTED_CASES_PATH.name}): {ids}")
        if failures:
            n_excepted = sum(o.excepted is not None for o in failures)
            out(
                f"Of the {len(failures)} failed, {n_excepted} excepted "
                f"(listed in {tc.EXCEPTED_CASES_PATH.name}; still counted as failed)."
            )
        out(f"{len(everything) - len(failures)} passed, {len(failures)} failed")
