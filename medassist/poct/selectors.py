"""Reads for the point-of-care pages, scoped to the actor's clinics: another clinic's test, lot,
run or visit looks exactly like a missing one (404, the attempt recorded). Reads of a patient's
visit are audited. Each page runs a fixed number of queries however many tests, lots and runs
it shows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Prefetch, Q, QuerySet
from django.http import Http404

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.selectors import get_visit
from medassist.encounters.stages import ON_SITE
from medassist.poct import lockout, services
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, PocTestRun, QcRun
from medassist.scheduling.selectors import day_bounds

QC_LOG_MAX_DAYS = 400
RECENT_RUNS = 20
RETIRED_SHOWN_DAYS = 365

_M = TypeVar("_M", bound=Model)


def _scoped(actor: Actor, *perms: Permission) -> list[int]:
    if not actor.user.is_authenticated:
        return []
    return sorted({c for p in perms for c in actor.clinics_with(p)})


def _denied(actor: Actor, entity: str, public_id: object, what: str) -> Http404:
    return out_of_reach(actor, entity, public_id, message=f"No such {what}")


def clinics_with(actor: Actor, *perms: Permission) -> list[Clinic]:
    return list(Clinic.objects.filter(pk__in=_scoped(actor, *perms)).order_by("name"))


def _get(
    actor: Actor,
    rows: QuerySet[_M],
    public_id: uuid.UUID | str,
    perms: Iterable[Permission],
    entity: str,
    what: str,
) -> _M:
    """The row of `rows` with that public id at one of the actor's clinics where they hold one
    of `perms`; otherwise the 404 of a missing `what`, the attempt recorded as `entity`."""
    found = rows.filter(public_id=public_id, clinic_id__in=_scoped(actor, *perms)).first()
    if found is None:
        raise _denied(actor, entity, public_id, what)
    return found


def get_test(actor: Actor, public_id: uuid.UUID | str, *perms: Permission) -> PocTest:
    """A test of one of the actor's clinics where they hold one of `perms` (any POCT
    permission when none is named); 404 otherwise."""
    rows = PocTest.objects.select_related("clinic")
    return _get(actor, rows, public_id, perms or services.POCT_PERMISSIONS, "Basic", "test")


def get_kit_lot(actor: Actor, public_id: uuid.UUID | str) -> KitLot:
    rows = KitLot.objects.select_related("test", "clinic")
    return _get(actor, rows, public_id, services.STOCK_PERMISSIONS, "Device", "kit lot")


def get_control_lot(actor: Actor, public_id: uuid.UUID | str) -> ControlLot:
    rows = ControlLot.objects.select_related("test", "clinic")
    return _get(actor, rows, public_id, services.STOCK_PERMISSIONS, "Device", "control lot")


def get_qc_run(actor: Actor, public_id: uuid.UUID | str) -> QcRun:
    rows = QcRun.objects.select_related("test", "kit_lot", "control_lot")
    return _get(actor, rows, public_id, services.STOCK_PERMISSIONS, "Observation", "control run")


def fix_pages(actor: Actor, test: PocTest) -> set[str]:
    """The lockout pages (lockout.PAGES) the actor may open to fix a reason for this test: the
    links shown; the pages still decide for themselves."""
    pages = set()
    qc = can(actor, Permission.RUN_QC, test)
    manage = can(actor, Permission.MANAGE_POCT, test)
    if qc:
        pages.add("qc")
    if qc or manage:
        pages.add("kits")
    if manage:
        pages |= {"competencies", "menu"}
    return pages


# -- Status of each test ---------------------------------------------------------------------------


@dataclass
class LotStatus:
    lot: KitLot
    reasons: list[lockout.Reason]

    @property
    def ready(self) -> bool:
        return not self.reasons


@dataclass
class TestStatus:
    """A test's status today for one operator: each kit lot in use with its lockout reasons,
    and the reasons that do not depend on a lot (no lot, competency, off the menu)."""

    test: PocTest
    lots: list[LotStatus]
    general: list[lockout.Reason] = field(default_factory=list)

    @property
    def ready_lots(self) -> list[LotStatus]:
        return [s for s in self.lots if s.ready]

    @property
    def ready(self) -> bool:
        return bool(self.ready_lots)

    @property
    def reasons(self) -> list[lockout.Reason]:
        """Every reason, the general ones first, each once."""
        seen: dict[str, lockout.Reason] = {r.text: r for r in self.general}
        for status in self.lots:
            for r in status.reasons:
                seen.setdefault(r.text, r)
        return list(seen.values())


_OPERATOR = frozenset({"no_competency", "competency_expired"})
_LOT_FREE = frozenset({"test_inactive"}) | _OPERATOR


def statuses(
    tests: list[PocTest], operator: Any, *, now: dt.datetime | None = None
) -> list[TestStatus]:
    """The status of each test for `operator` (four queries for any number of tests)."""
    now = now or clock.now()
    today = clock.localtime(now).date()
    ids = [t.pk for t in tests]
    lots_by_test: dict[int, list[KitLot]] = defaultdict(list)
    lots = list(
        KitLot.objects.filter(test_id__in=ids, retired_at__isnull=True).order_by(
            "expires_on", "received_on", "id"
        )
    )
    for lot in lots:
        lots_by_test[lot.test_id].append(lot)
    numbers = {lot.lot_number for lot in lots}
    runs_by_test: dict[int, list[lockout.QcFacts]] = defaultdict(list)
    for run in (
        QcRun.objects.filter(test_id__in=ids, kit_lot__lot_number__in=numbers)
        .select_related("kit_lot")
        .order_by("performed_at", "id")
    ):
        runs_by_test[run.test_id].append(run.facts())
    skills: dict[int, list[lockout.CompetencyFacts]] = defaultdict(list)
    for c in Competency.objects.filter(test_id__in=ids, user_id=operator.pk):
        skills[c.test_id].append(c.facts())
    stocked: dict[int, set[str]] = defaultdict(set)
    for test_id, level in ControlLot.objects.filter(
        test_id__in=ids, retired_at__isnull=True, expires_on__gte=today
    ).values_list("test_id", "level"):
        stocked[test_id].add(level)
    name = services.person(operator)
    zone = services.zone()
    out = []
    for test in tests:
        policy = test.policy()

        def check(
            lot: KitLot | None, test: PocTest = test, policy: lockout.Policy = policy
        ) -> list[lockout.Reason]:  # noqa: E501
            return lockout.check(
                policy=policy,
                lot=lot.facts() if lot is not None else None,
                qc=runs_by_test[test.pk],
                operator=name,
                competencies=skills[test.pk],
                now=now,
                zone=zone,
                control_levels_in_stock=stocked[test.pk],
            )

        in_use = lots_by_test[test.pk]
        if not in_use:
            out.append(TestStatus(test, [], check(None)))
            continue
        lot_statuses = []
        general: dict[str, lockout.Reason] = {}
        for lot in in_use:
            found = check(lot)
            for r in found:
                if r.code in _LOT_FREE:
                    general.setdefault(r.text, r)
            lot_statuses.append(LotStatus(lot, [r for r in found if r.code not in _LOT_FREE]))
        # A person who may not test, or a test off the menu, locks every lot.
        if general:
            for status in lot_statuses:
                status.reasons = [*general.values(), *status.reasons]
        out.append(TestStatus(test, lot_statuses, list(general.values())))
    return out


def _without_operator(status: TestStatus) -> TestStatus:
    keep = [r for r in status.general if r.code not in _OPERATOR]
    lots = [
        LotStatus(s.lot, [r for r in s.reasons if r.code not in _OPERATOR]) for s in status.lots
    ]
    return TestStatus(status.test, lots, keep)


def menu_tests(clinic: Clinic, *, active_only: bool = True) -> list[PocTest]:
    found = PocTest.objects.filter(clinic=clinic).select_related("clinic")
    if active_only:
        found = found.filter(active=True)
    return list(found.order_by("sort_order", "name"))


@dataclass
class Home:
    clinic: Clinic
    clinics: list[Clinic]
    tests: list[TestStatus]
    visits: list[Encounter]
    may_run: bool
    may_qc: bool
    may_manage: bool


def home(actor: Actor, clinic: Clinic, clinics: list[Clinic]) -> Home:
    """The menu with each test's status today for the actor, and the patients in the
    building today (to run a test for their visit)."""
    may_run = can(actor, Permission.RUN_POCT, clinic)
    visits: list[Encounter] = []
    if may_run:
        start, end = day_bounds(clock.today())
        visits = list(
            Encounter.objects.filter(
                clinic=clinic, stage__in=ON_SITE, period_start__gte=start, period_start__lt=end
            )
            .select_related("patient", "provider", "room")
            .order_by("period_start", "id")
        )
        record(  # the list shows patients' names, as the flow board does
            actor,
            Action.READ,
            "Encounter",
            clinic_id=clinic.pk,
            entity_id=f"poct-{clock.today():%Y-%m-%d}",
            description=f"point-of-care: {len(visits)} visits of today listed",
        )
    found = statuses(menu_tests(clinic), actor.user)
    if not may_run:
        # Someone who does not test (the manager) sees each test's status, not their own.
        found = [_without_operator(s) for s in found]
    return Home(
        clinic=clinic,
        clinics=clinics,
        tests=found,
        visits=visits,
        may_run=may_run,
        may_qc=can(actor, Permission.RUN_QC, clinic),
        may_manage=can(actor, Permission.MANAGE_POCT, clinic),
    )


# -- A visit's tests -----------------------------------------------------------------------------


def visit_for_testing(actor: Actor, public_id: uuid.UUID | str) -> Encounter:
    """The visit, when the actor runs tests at its clinic; 404 otherwise (the read recorded)."""
    return get_visit(actor, public_id, Permission.RUN_POCT)


@dataclass
class VisitTests:
    visit: Encounter
    tests: list[TestStatus]
    runs: list[PocTestRun]


def visit_tests(actor: Actor, visit: Encounter) -> VisitTests:
    runs = list(
        PocTestRun.objects.filter(encounter=visit)
        .select_related("test", "kit_lot", "operator", "ordering_provider")
        .order_by("-performed_at", "-id")
    )
    return VisitTests(
        visit=visit,
        tests=statuses(menu_tests(visit.clinic), actor.user),
        runs=runs,
    )


@dataclass
class RunPage:
    visit: Encounter
    test: PocTest
    status: TestStatus
    runs: list[PocTestRun]  # this test's runs at this visit

    @property
    def locked(self) -> bool:
        return not self.status.ready


def run_page(actor: Actor, visit: Encounter, test_id: uuid.UUID | str) -> RunPage:
    """The page to run one test at a visit: 404 for a test of another clinic."""
    test = (
        PocTest.objects.filter(public_id=test_id, clinic_id=visit.clinic_id)
        .select_related("clinic")
        .first()
    )
    if test is None or not can(actor, Permission.RUN_POCT, test):
        raise _denied(actor, "Basic", test_id, "test")
    runs = list(
        PocTestRun.objects.filter(encounter=visit, test=test)
        .select_related("kit_lot", "operator", "ordering_provider")
        .order_by("-performed_at", "-id")
    )
    return RunPage(visit=visit, test=test, status=statuses([test], actor.user)[0], runs=runs)


# -- QC --------------------------------------------------------------------------------------------


@dataclass
class QcPage:
    test: PocTest
    status: TestStatus
    controls: dict[str, list[ControlLot]]  # level -> usable control lots, newest first
    open_failures: list[QcRun]  # failed runs with no corrective action
    recent: list[QcRun]
    today: dt.date

    @property
    def levels(self) -> list[tuple[str, str, list[ControlLot]]]:
        return [(code, label, self.controls.get(code, [])) for code, label in self.test.levels]


def qc_page(actor: Actor, test: PocTest) -> QcPage:
    if not can(actor, Permission.RUN_QC, test):
        raise PermissionDenied("Your role does not run QC at this clinic.")
    today = clock.today()
    controls: dict[str, list[ControlLot]] = defaultdict(list)
    for c in ControlLot.objects.filter(
        test=test, retired_at__isnull=True, expires_on__gte=today
    ).order_by("-received_on", "-id"):
        controls[c.level].append(c)
    runs = (
        QcRun.objects.filter(test=test)
        .select_related("test", "kit_lot", "control_lot", "performed_by", "corrective_by")
        .order_by("-performed_at", "-id")
    )
    open_failures = list(
        runs.filter(passed=False, corrective_action="", kit_lot__retired_at__isnull=True)
    )
    return QcPage(
        test=test,
        status=statuses([test], actor.user)[0],
        controls=dict(controls),
        open_failures=open_failures,
        recent=list(runs[:RECENT_RUNS]),
        today=today,
    )


@dataclass
class QcLog:
    test: PocTest
    start: dt.date
    end: dt.date
    runs: list[QcRun]
    kit_lots: list[KitLot]
    control_lots: list[ControlLot]
    printed_at: dt.datetime
    printed_by: str

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if not r.passed)


def qc_log(
    actor: Actor, test: PocTest, start: dt.date, end: dt.date, *, printing: bool = False
) -> QcLog:  # noqa: E501
    """Every control run of the test in [start, end] (the clinic's days), with lots, levels,
    expected and observed readings, pass/fail, who ran it and the corrective actions: the
    record a CLIA inspector asks for. Recorded in the audit trail (a print when printed)."""
    if not (can(actor, Permission.RUN_QC, test) or can(actor, Permission.MANAGE_POCT, test)):
        raise PermissionDenied("Your role does not read this clinic's QC log.")
    if end < start:
        start, end = end, start
    if (end - start).days > QC_LOG_MAX_DAYS:
        start = end - dt.timedelta(days=QC_LOG_MAX_DAYS)
    lower, _ = day_bounds(start)
    _, upper = day_bounds(end)
    runs = list(
        QcRun.objects.filter(test=test, performed_at__gte=lower, performed_at__lt=upper)
        .select_related("test", "kit_lot", "control_lot", "performed_by", "corrective_by")
        .order_by("performed_at", "id")
    )
    kit_ids = {r.kit_lot_id for r in runs}
    control_ids = {r.control_lot_id for r in runs}
    kit_lots = list(
        KitLot.objects.filter(Q(pk__in=kit_ids) | Q(test=test, received_on__range=(start, end)))
        .select_related("received_by", "retired_by")
        .order_by("received_on", "id")
    )
    control_lots = list(
        ControlLot.objects.filter(
            Q(pk__in=control_ids) | Q(test=test, received_on__range=(start, end))
        )
        .select_related("test")
        .order_by("level", "received_on", "id")
    )
    record(
        actor,
        Action.PRINT if printing else Action.READ,
        "Observation",
        clinic_id=test.clinic_id,
        entity_id=f"qc-log-{test.public_id}"[:64],
        description=f"QC log of {test.name}, {start:%Y-%m-%d} to {end:%Y-%m-%d}: {len(runs)} runs",
    )
    return QcLog(
        test=test,
        start=start,
        end=end,
        runs=runs,
        kit_lots=kit_lots,
        control_lots=control_lots,
        printed_at=clock.localtime(clock.now()),
        printed_by=services.person(actor.user),
    )


# -- Kits and controls -----------------------------------------------------------------------------


@dataclass
class KitsPage:
    clinic: Clinic
    clinics: list[Clinic]
    tests: list[Any]  # PocTest with in_use, retired (kit lots) and controls prefetched
    today: dt.date
    may_manage: bool


def kits_page(actor: Actor, clinic: Clinic, clinics: list[Clinic]) -> KitsPage:
    if not (can(actor, Permission.MANAGE_POCT, clinic) or can(actor, Permission.RUN_QC, clinic)):
        raise PermissionDenied("Your role does not manage point-of-care kits.")
    since = clock.now() - dt.timedelta(days=RETIRED_SHOWN_DAYS)
    tests = list(
        PocTest.objects.filter(clinic=clinic)
        .order_by("-active", "sort_order", "name")
        .prefetch_related(
            Prefetch(
                "kit_lots",
                queryset=KitLot.objects.filter(retired_at__isnull=True).order_by(
                    "expires_on", "id"
                ),
                to_attr="in_use",
            ),
            Prefetch(
                "kit_lots",
                queryset=KitLot.objects.filter(retired_at__gte=since).order_by("-retired_at"),
                to_attr="retired",
            ),
            Prefetch(
                "control_lots",
                queryset=ControlLot.objects.filter(retired_at__isnull=True).order_by(
                    "level", "expires_on", "id"
                ),
                to_attr="controls",
            ),
        )
    )
    return KitsPage(
        clinic=clinic,
        clinics=clinics,
        tests=tests,
        today=clock.today(),
        may_manage=can(actor, Permission.MANAGE_POCT, clinic),
    )


# -- Competencies ----------------------------------------------------------------------------------


@dataclass
class SkillCell:
    test: PocTest
    latest: Competency | None
    today: dt.date

    @property
    def current(self) -> bool:
        return (
            self.latest is not None
            and self.latest.assessed_on <= self.today <= self.latest.valid_until
        )  # noqa: E501

    @property
    def due_soon(self) -> bool:
        return (
            self.current
            and self.latest is not None
            and (self.latest.valid_until - self.today).days <= 30
        )  # noqa: E501


@dataclass
class SkillRow:
    user: object
    cells: list[SkillCell]


@dataclass
class CompetencyPage:
    clinic: Clinic
    clinics: list[Clinic]
    tests: list[PocTest]
    rows: list[SkillRow]
    today: dt.date


def competency_page(actor: Actor, clinic: Clinic, clinics: list[Clinic]) -> CompetencyPage:
    if not can(actor, Permission.MANAGE_POCT, clinic):
        raise PermissionDenied("Only the clinic manager records competency assessments.")
    tests = menu_tests(clinic)
    people = services.testers(clinic.pk)
    latest: dict[tuple[int, int], Competency] = {}
    for c in Competency.objects.filter(clinic=clinic).order_by("valid_until", "id"):
        latest[(c.user_id, c.test_id)] = c
    today = clock.today()
    rows = [
        SkillRow(
            user=u,
            cells=[SkillCell(t, latest.get((u.pk, t.pk)), today) for t in tests],  # type: ignore[attr-defined]
        )
        for u in people
    ]
    return CompetencyPage(clinic=clinic, clinics=clinics, tests=tests, rows=rows, today=today)


def testers_of(clinic: Clinic) -> list:
    return services.testers(clinic.pk)


def tests_of(clinic: Clinic, ids: Iterable[str]) -> QuerySet[PocTest]:
    return PocTest.objects.filter(clinic=clinic, public_id__in=list(ids))
