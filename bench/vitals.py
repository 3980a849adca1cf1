"""Vital signs: recording a full set from the rooming form (form post to the rendered result),
and Observation POSTs through the FHIR API.

Run by bench/run.py once per database, in its own process (settings read DATABASE_URL at
import), on its own database, built afresh each run (it takes seconds):

1. as alice, POSTs a full set of vitals (BP, heart rate, respiratory rate, temperature, SpO2,
   height, weight: BMI and, for children, percentiles are worked out) to the rooming step
   through Django's test Client, HTMX-style, and times each post until the re-rendered step is
   back: p50/p95/max over --requests posts, half for adults and half for children, each on its
   own roomed visit; counts the SQL statements of one post;
2. POSTs --observations US Core vital-sign Observations (a mix of the 8 single-value profiles
   and blood pressure panels) to /fhir/R4/Observation with a bearer token, one request each,
   and reports observations per second (each goes through the same plausibility,
   interpretation and alert rules as the form).

    python bench/vitals.py --out FILE [--requests N] [--observations N]
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

import config.wsgi  # noqa: E402, F401 (the server's start-up, gc.freeze() included)
from medassist.access.tokens import issue_token  # noqa: E402
from medassist.core import clock  # noqa: E402
from medassist.core.testing import make_cast  # noqa: E402
from medassist.rooming.tests.factories import roomed_visit  # noqa: E402
from medassist.vitals.models import VitalSign  # noqa: E402

GOAL_FORM_P95_MS = 100.0
HTMX = {"HX-Request": "true"}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def log(msg: str) -> None:
    print(f"  {msg}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(max(ms), 1),
    }


def reset() -> None:
    call_command("flush", interactive=False, verbosity=0)


ADULT = {
    "systolic": "128",
    "diastolic": "82",
    "bp_position": "sitting",
    "bp_arm": "left",
    "bp_cuff": "adult",
    "heart_rate": "76",
    "rhythm": "regular",
    "respiratory_rate": "16",
    "temperature": "98.4",
    "temperature_unit": "[degF]",
    "temperature_route": "oral",
    "spo2": "97",
    "on_oxygen": "0",
    "height_ft": "5",
    "height_in": "7",
    "weight_lb": "162",
    "weight_oz": "4",
    "consciousness": "A",
}
CHILD = {
    "systolic": "96",
    "diastolic": "58",
    "heart_rate": "104",
    "respiratory_rate": "24",
    "temperature": "37.2",
    "temperature_unit": "Cel",
    "spo2": "98",
    "on_oxygen": "0",
    "height_cm": "96.5",
    "height_position": "standing",
    "weight_kg": "14.6",
}


def form_posts(cast, requests: int) -> dict:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(cast.alice)
    today = clock.today()
    child_born = today.replace(year=today.year - 3) - dt.timedelta(days=40)
    visits = [
        roomed_visit(
            cast,
            family=f"Bench{i}",
            birth_date=dt.date(1971, 2, 3) if i % 2 == 0 else child_born,
        )
        for i in range(requests + 10)
    ]
    ms: list[float] = []
    for i, visit in enumerate(visits):
        url = reverse("rooming:save", kwargs={"visit_id": visit.public_id, "action": "vitals"})
        data = ADULT if i % 2 == 0 else CHILD
        started = time.perf_counter()
        response = client.post(url, data, headers=HTMX)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or b"Critical" in response.content:
            raise SystemExit(f"form post answered {response.status_code}")
        if i >= 10:  # the first few warm the caches (reference tables, templates)
            ms.append(elapsed)
    extra = roomed_visit(cast, family="Counted")
    url = reverse("rooming:save", kwargs={"visit_id": extra.public_id, "action": "vitals"})
    with CaptureQueriesContext(connection) as ctx:
        client.post(url, ADULT, headers=HTMX)
    return {"form": summary(ms), "queries_per_form_post": len(ctx)}


def observation(patient_id: str, i: int) -> dict:
    when = (clock.now() - dt.timedelta(minutes=10_000 - i % 10_000)).isoformat()
    base = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
    }
    kind = i % 9
    if kind == 0:
        return base | {
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "valueQuantity": {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
                }
                for code, v in (("8480-6", 118 + i % 20), ("8462-4", 74 + i % 10))
            ],
        }
    code, value, unit = (
        ("8867-4", 60 + i % 30, "/min"),
        ("9279-1", 14 + i % 5, "/min"),
        ("8310-5", 36.6 + (i % 8) / 10, "Cel"),
        ("59408-5", 95 + i % 4, "%"),
        ("8302-2", 170.0, "cm"),
        ("29463-7", 72.0 + (i % 10) / 10, "kg"),
        ("39156-5", 24.9, "kg/m2"),
        ("8310-5", 98.1 + (i % 6) / 10, "[degF]"),
    )[kind - 1]
    return base | {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": round(value, 1), "unit": unit, "system": UCUM, "code": unit},
    }


def fhir_posts(cast, n: int) -> dict:  # type: ignore[no-untyped-def]
    token = issue_token(user=cast.alice, name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    from medassist.patients.tests.factories import make_patient

    patients = [
        str(make_patient(cast.north, family=f"Api{i}", birth_date=dt.date(1960, 1, 1)).public_id)
        for i in range(50)
    ]
    before = VitalSign.objects.count()
    failures = 0
    started = time.perf_counter()
    for i in range(n):
        body = json.dumps(observation(patients[i % len(patients)], i))
        response = client.post("/fhir/R4/Observation", body, content_type="application/fhir+json")
        if response.status_code != 201:
            failures += 1
            if failures <= 3:
                log(f"POST {i} answered {response.status_code}: {response.content[:300]!r}")
        if (i + 1) % 2000 == 0:
            log(f"{i + 1:,} of {n:,} observations posted")
    seconds = time.perf_counter() - started
    stored = VitalSign.objects.count() - before
    return {
        "observations": n,
        "failures": failures,
        "stored_rows": stored,
        "seconds": round(seconds, 1),
        "per_second": round(n / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--observations", type=int, default=10_000)
    args = parser.parse_args()
    call_command("migrate", interactive=False, verbosity=0)
    reset()
    cast = make_cast()
    log(f"recording {args.requests} full sets of vitals from the rooming form")
    result = {"database": connection.vendor} | form_posts(cast, args.requests)
    log(f"posting {args.observations:,} Observations through the FHIR API")
    result["fhir"] = fhir_posts(cast, args.observations)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
