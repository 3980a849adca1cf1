"""Pre-visit planning: what to sort out before tomorrow's patients arrive.

A registry of checks. Each check is `fn(patients, day) -> {patient_id: [item, ...]}`, run once
for all of the day's booked patients, in a fixed number of queries however many are booked
(never one query per patient). Each patient comes with `booked_types`, the codes of the
appointment types booked that day, for checks that depend on the kind of visit.

How later modules plug in (in their AppConfig.ready, so scheduling never imports them):

    from medassist.scheduling.previsit import register_check

    def immunizations_due(patients, day):
        due = forecast_many([p.pk for p in patients], day)   # one query for all
        return {pid: [f"Due: {v}" for v in vaccines] for pid, vaccines in due.items()}

    register_check("immunizations due", immunizations_due)

The same way: "screenings due" (USPSTF A/B recommendations by age and sex), "results pending"
(orders without a final result). A check that fails shows as an item on every patient ("could
not check ...") instead of breaking the page: the list is a worklist, not a gate.
"""

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from medassist.encounters.models import Encounter
from medassist.encounters.stages import Stage
from medassist.history.models import Allergy
from medassist.patients.models import Coverage

log = logging.getLogger(__name__)

Check = Callable[[Sequence[Any], dt.date], dict[int, list[str]]]
_CHECKS: dict[str, Check] = {}

# A returning patient not seen for more than a year needs the full intake again (allergies,
# medications, history reconciled): the CMS "established patient" three-year rule is for
# billing; clinics plan a longer slot or an earlier arrival after a year.
FOLLOW_UP_GAP = dt.timedelta(days=365)


def register_check(name: str, fn: Check) -> None:
    """Add (or replace) a pre-visit check under `name`."""
    _CHECKS[name] = fn


def registered_checks() -> dict[str, Check]:
    return dict(_CHECKS)


def run_checks(patients: Sequence[Any], day: dt.date) -> dict[int, list[str]]:
    items: dict[int, list[str]] = {p.pk: [] for p in patients}
    if not patients:
        return items
    for name, fn in _CHECKS.items():
        try:
            found = fn(patients, day)
        except Exception:  # one broken check must not hide the others
            log.exception("pre-visit check %r failed", name)
            for p in patients:
                items[p.pk].append(f"Could not check {name}")
            continue
        for pid, lines in found.items():
            if pid in items:
                items[pid].extend(lines)
    return items


def no_coverage(patients: Sequence[Any], day: dt.date) -> dict[int, list[str]]:
    """Verify eligibility before the visit, not at the desk."""
    ids = [p.pk for p in patients]
    covered = set(
        Coverage.objects.filter(patient_id__in=ids)
        .exclude(end_date__lt=day)
        .exclude(start_date__gt=day)
        .values_list("patient_id", flat=True)
    )
    return {pid: ["No insurance coverage on file"] for pid in ids if pid not in covered}


def allergies_not_asked(patients: Sequence[Any], day: dt.date) -> dict[int, list[str]]:
    """No allergy row at all, not even "no known allergies": nobody has asked yet."""
    ids = [p.pk for p in patients]
    asked = set(
        Allergy.objects.filter(patient_id__in=ids).values_list("patient_id", flat=True).distinct()
    )
    return {pid: ["Allergies not yet asked"] for pid in ids if pid not in asked}


def follow_up_without_recent_visit(patients: Sequence[Any], day: dt.date) -> dict[int, list[str]]:
    """A follow-up booked for a patient last seen over a year ago (or never)."""
    follow = [p for p in patients if "follow-up" in getattr(p, "booked_types", ())]
    if not follow:
        return {}
    last: dict[int, dt.datetime] = {}
    rows = Encounter.objects.filter(
        patient_id__in=[p.pk for p in follow], stage=Stage.DONE
    ).values_list("patient_id", "period_start")
    for pid, start in rows:
        if pid not in last or start > last[pid]:
            last[pid] = start
    out: dict[int, list[str]] = {}
    for p in follow:
        seen = last.get(p.pk)
        if seen is None:
            out[p.pk] = ["Follow-up, but no earlier visit on file"]
        elif seen.date() < day - FOLLOW_UP_GAP:
            out[p.pk] = [f"Follow-up, last seen {seen:%b %Y}: over a year ago"]
    return out


register_check("insurance", no_coverage)
register_check("allergies", allergies_not_asked)
register_check("follow-up gap", follow_up_without_recent_visit)
