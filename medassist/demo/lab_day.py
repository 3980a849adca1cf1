"""The demo's labs and point-of-care tests.

- Both clinics get the reference lab's catalog (demo/labs.py) and the CLIA-waived test menu
  with kits, controls, competencies and past QC (demo/poct.py). Today's rapid strep controls
  at North have not been run, so the first strep test of the day is locked out until they are.
- Today's North adults get open orders (demo/labs.py seed_orders): some waiting to be drawn,
  some drawn and with the courier, waiting for results.
- Two more North adults were drawn first thing this morning and their results came back
  through the same filing as a lab's ORU^R01 (labs.services.results.file_results): one with a
  critical potassium (an alert Dr Okafor must acknowledge), one with a high LDL. They wait in
  his inbox.
- The patients with orders today also have two years of released results (HbA1c every three
  months, a yearly lipid panel), written directly like the rest of the demo's past, so the
  trend plots have a history to show.

Values are plausible adult values with the reference intervals common US reference labs print
(HbA1c 4.0-5.6 %, ADA Standards of Care 2025 table 2.1: 5.7-6.4 prediabetes; lipids per
NCEP ATP III; potassium 3.5-5.1 mmol/L with a critical limit above 6.0)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo import labs as demo_labs
from medassist.demo.poct import seed_poct
from medassist.encounters.models import Encounter
from medassist.labs.intake import IncomingReport, IncomingResult, IncomingResults
from medassist.labs.models import LabOrder, LabReport, LabRequisition, LabResult, LabTest
from medassist.labs.services import orders as order_services
from medassist.labs.services import results as result_services
from medassist.patients.models import Patient

ADULT_YEARS = 18

# (LOINC, name as the lab prints it, unit, low, high) of the components the demo reports.
_A1C = ("4548-4", "Hemoglobin A1c", "%", "4.0", "5.6")
_LIPIDS = (
    ("2093-3", "Cholesterol, total", "mg/dL", None, "200"),
    ("2571-8", "Triglycerides", "mg/dL", None, "150"),
    ("2085-9", "HDL cholesterol", "mg/dL", "40", None),
    ("13457-7", "LDL cholesterol, calculated", "mg/dL",
     None, "100"),
)  # fmt: skip
_BMP = (
    ("2951-2", "Sodium", "mmol/L", "136", "145"),
    ("2823-3", "Potassium", "mmol/L", "3.5", "5.1"),
    ("2075-0", "Chloride", "mmol/L", "98", "107"),
    ("2028-9", "Carbon dioxide, total", "mmol/L", "22", "29"),
    ("3094-0", "Urea nitrogen (BUN)", "mg/dL", "7", "20"),
    ("2160-0", "Creatinine", "mg/dL", "0.6", "1.3"),
    ("2345-7", "Glucose", "mg/dL", "70", "99"),
    ("17861-6", "Calcium", "mg/dL", "8.6", "10.3"),
)
POTASSIUM_CRITICAL_HIGH = Decimal("6.0")


def write_labs(
    *,
    today: dt.date,
    clinics: dict[str, Clinic],
    users: dict,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> None:
    say = progress or (lambda _msg: None)
    north, south = clinics["north"], clinics["south"]
    say("lab catalogs and point-of-care test menus with kits, controls and QC history")
    demo_labs.seed_catalog(south)
    seed_poct(north, manager=users["dana"], staff=[users["alice"], users["bob"]])
    seed_poct(south, manager=users["frank"], staff=[users["carol"], users["frank"]])
    visits = _todays_adult_visits(north, today)
    say(f"open lab orders for {min(len(visits), len(demo_labs._PLANS))} of today's North patients")
    demo_labs.seed_orders(north, visits, users["bob"], users["alice"])
    extra = _adults_without_visits_today(north, today, exclude={v.patient_id for v in visits})
    rng = random.Random(seed)
    say("this morning's results in Dr Okafor's inbox (one critical)")
    _results_this_morning(north, extra[:2], users, today, rng)
    say("two years of released HbA1c and lipid results for the trend plots")
    patients = [v.patient for v in visits[: len(demo_labs._PLANS)]] + extra[:2]
    _history(north, patients, users["bob"], today, rng)


def _local_day(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _adult(patient: Patient, today: dt.date) -> bool:
    born = patient.birth_date
    return (today.year - born.year - ((today.month, today.day) < (born.month, born.day))) >= 18


def _todays_adult_visits(clinic: Clinic, today: dt.date) -> list[Encounter]:
    """Today's visits at the clinic, those in the building first (they are drawn first)."""
    start, end = _local_day(today)
    visits = (
        Encounter.objects.filter(clinic=clinic, period_start__gte=start, period_start__lt=end)
        .exclude(stage__in=("cancelled", "no_show", "done"))
        .select_related("patient", "provider")
        .order_by("period_start", "id")
    )
    in_building = ("roomed", "ready_for_provider", "with_provider", "arrived")
    adults = [v for v in visits if _adult(v.patient, today)]
    return sorted(adults, key=lambda v: (v.stage not in in_building, v.period_start, v.pk))


def _adults_without_visits_today(clinic: Clinic, today: dt.date, exclude: set[int]) -> list:
    start, end = _local_day(today)
    booked = Encounter.objects.filter(
        clinic=clinic, period_start__gte=start, period_start__lt=end
    ).values("patient_id")
    born_before = today.replace(year=today.year - 40)
    return list(
        Patient.objects.filter(clinic=clinic, active=True, birth_date__lte=born_before)
        .exclude(Q(pk__in=booked) | Q(pk__in=exclude))
        .order_by("mrn")[:2]
    )


def _results_this_morning(
    clinic: Clinic, patients: list[Patient], users: dict, today: dt.date, rng: random.Random
) -> None:
    """Ordered, drawn and resulted this morning, through the services and the results filing."""
    if len(patients) < 2:
        return
    lab = demo_labs.seed_catalog(clinic)
    tests = {t.lab_code: t for t in LabTest.objects.filter(clinic=clinic, lab=lab)}
    doctor, assistant = Actor.for_user(users["bob"]), Actor.for_user(users["alice"])
    plans = (
        (patients[0], "BMP", "N18.3 Chronic kidney disease, stage 3", {"2823-3": "6.4"}),
        (patients[1], "LIPID", "E78.5 Hyperlipidemia, unspecified", {"13457-7": "168"}),
    )
    # Resulted 20 minutes before the demo was loaded, drawn three hours before that: never in
    # the future of whoever opens the demo.
    issued = clock.now() - dt.timedelta(minutes=20)
    drawn = issued - dt.timedelta(hours=3)
    for patient, code, reason, overrides in plans:
        (requisition,) = order_services.place_order(
            actor=doctor,
            patient=patient,
            tests=[tests[code]],
            diagnoses=order_services.parse_diagnoses(reason),
        )
        requisition.ordered_at = drawn - dt.timedelta(minutes=10)
        LabRequisition.objects.filter(pk=requisition.pk).update(ordered_at=requisition.ordered_at)
        order_services.collect_specimens(
            actor=assistant,
            requisition=requisition,
            collection=order_services.Collection(
                confirm_name=True,
                confirm_birth_date=patient.birth_date,
                method="VENIP",
                urine_method="CLEAN",
                body_site="Right antecubital (median cubital vein)",
                fasting_hours_reported=12,
                collected_at=drawn,
            ),
        )
        order = requisition.orders.get()
        components = _BMP if code == "BMP" else _LIPIDS
        values = {loinc: overrides.get(loinc) or _typical(loinc, rng) for loinc, *_ in components}
        result_services.file_results(
            lab=lab,
            message=IncomingResults(
                control_id=f"DEMO-{order.placer_number}",
                patient_mrn=patient.mrn,
                patient_family=patient.family,
                patient_given=patient.given,
                patient_birth_date=patient.birth_date,
                reports=(
                    IncomingReport(
                        placer_number=order.placer_number,
                        filler_number=f"RRL{order.pk:07d}",
                        loinc=order.test.loinc,
                        name=order.test.name,
                        status=LabReport.Status.FINAL,
                        collected_at=drawn,
                        received_at=drawn + dt.timedelta(hours=1),
                        issued_at=issued,
                        results=tuple(
                            _incoming(i, comp, values[comp[0]], drawn)
                            for i, comp in enumerate(components, start=1)
                        ),
                    ),
                ),
            ),
        )


def _typical(loinc: str, rng: random.Random) -> str:
    centre = {
        "2951-2": (140, 2),
        "2823-3": (4.3, 0.3),
        "2075-0": (102, 2),
        "2028-9": (25, 1.5),
        "3094-0": (15, 3),
        "2160-0": (1.0, 0.15),
        "2345-7": (92, 6),
        "17861-6": (9.4, 0.3),
        "2093-3": (205, 15),
        "2571-8": (140, 25),
        "2085-9": (48, 6),
        "13457-7": (120, 15),
    }[loinc]
    value = rng.gauss(*centre)
    return f"{value:.1f}" if centre[0] < 20 else f"{round(value)}"


def _flag(value: Decimal, low: str | None, high: str | None, loinc: str) -> str:
    if loinc == "2823-3" and value > POTASSIUM_CRITICAL_HIGH:
        return "HH"
    if high is not None and value > Decimal(high):
        return "H"
    if low is not None and value < Decimal(low):
        return "L"
    return "N"


def _range_text(low: str | None, high: str | None) -> str:
    if low and high:
        return f"{low}-{high}"
    return f"<{high}" if high else f">{low}"


def _incoming(sequence: int, component: tuple, value: str, at: dt.datetime) -> IncomingResult:
    loinc, name, unit, low, high = component
    number = Decimal(value)
    return IncomingResult(
        sequence=sequence,
        loinc=loinc,
        name=name,
        value_type="NM",
        value_number=number,
        unit=unit,
        reference_text=_range_text(low, high),
        flag=_flag(number, low, high, loinc),
        observed_at=at,
    )


def _history(
    clinic: Clinic, patients: list[Patient], provider, today: dt.date, rng: random.Random
) -> None:  # type: ignore[no-untyped-def]
    """Past orders with released results, written directly (the demo's past, not today's work):
    HbA1c every 3 months for 2 years and a lipid panel each year, each reviewed and released by
    the provider with a few words for the patient."""
    lab = demo_labs.seed_catalog(clinic)
    tests = {t.lab_code: t for t in LabTest.objects.filter(clinic=clinic, lab=lab)}
    tz = timezone.get_default_timezone()
    serial = 0
    for patient in patients:
        a1c = rng.uniform(6.0, 8.4)
        drift = rng.choice((-0.15, -0.08, 0.05, 0.1))
        for months_ago in range(24, 0, -3):
            day = today - dt.timedelta(days=months_ago * 30 + rng.randint(0, 6))
            at = dt.datetime.combine(day, dt.time(8, 15), tzinfo=tz)
            a1c = max(5.2, min(10.5, a1c + drift + rng.gauss(0, 0.15)))
            serial += 1
            words = (
                "Your A1c is in the range we are working toward; keep taking your medicine."
                if a1c < 7
                else "Your A1c is above our goal of 7; let's talk about it at your visit."
            )
            value = [(_A1C, Decimal(f"{a1c:.1f}"))]
            _past_report(clinic, patient, provider, lab, tests["A1C"], at, serial, value, words)
            if months_ago % 12 == 0:
                serial += 1
                values = [(c, Decimal(_typical(c[0], rng))) for c in _LIPIDS]
                _past_report(
                    clinic, patient, provider, lab, tests["LIPID"], at, serial, values,
                    "Your cholesterol results are about the same as last year.",
                )  # fmt: skip


def _past_report(
    clinic: Clinic,
    patient: Patient,
    provider,  # type: ignore[no-untyped-def]
    lab,
    test: LabTest,
    at: dt.datetime,
    serial: int,
    values: list[tuple[tuple, Decimal]],
    message: str,
) -> None:
    requisition = LabRequisition.objects.create(
        clinic=clinic,
        patient=patient,
        lab=lab,
        number=f"{clinic.code.upper()}-HREQ{serial:06d}",
        ordered_by=provider,
        ordered_at=at - dt.timedelta(days=2),
        created_at=at - dt.timedelta(days=2),
    )
    order = LabOrder.objects.create(
        clinic=clinic,
        patient=patient,
        requisition=requisition,
        test=test,
        placer_number=f"{clinic.code.upper()}-H{serial:07d}",
        filler_number=f"RRLH{serial:07d}",
        status=LabOrder.Status.COMPLETED,
        stage=LabOrder.Stage.RESULTED,
        created_at=at - dt.timedelta(days=2),
    )
    flags = [_flag(v, c[3], c[4], c[0]) for c, v in values]
    issued = at + dt.timedelta(hours=6)
    report = LabReport.objects.create(
        clinic=clinic,
        patient=patient,
        order=order,
        loinc=test.loinc,
        name=test.name,
        status=LabReport.Status.FINAL,
        performer=lab.name,
        filler_number=order.filler_number,
        collected_at=at,
        issued_at=issued,
        ordering_provider=provider,
        abnormal=any(f != "N" for f in flags),
        reviewed_at=issued + dt.timedelta(hours=20),
        reviewed_by=provider,
        released_at=issued + dt.timedelta(hours=20),
        released_by=provider,
        patient_message=message,
        created_at=issued,
    )
    LabResult.objects.bulk_create(
        LabResult(
            report=report,
            patient=patient,
            sequence=i,
            loinc=component[0],
            name=component[1],
            value_type="NM",
            value_number=value,
            unit=component[2],
            reference_low=Decimal(component[3]) if component[3] else None,
            reference_high=Decimal(component[4]) if component[4] else None,
            reference_text=_range_text(component[3], component[4]),
            flag=flag,
            observed_at=at,
        )
        for i, ((component, value), flag) in enumerate(zip(values, flags, strict=True), start=1)
    )
