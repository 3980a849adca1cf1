"""The CDSi forecaster's speed: all vaccine groups for one patient with 20 doses (goal p95 under
20 ms), and a batch of patients (default 100,000) with realistic histories, for throughput.

The engine is pure (no database), so this measures the engine alone. The histories follow the
CDC child schedule with doses late or missed at random, and adults with Td boosters, flu,
zoster and pneumococcal doses; the random seed is fixed so every run forecasts the same
patients.

    python bench/forecast.py [--patients N] [--repeats N] [--workers N] [--out FILE]
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medassist.immunizations.cdsi import engine  # noqa: E402
from medassist.immunizations.cdsi.types import AdministeredDose, Patient  # noqa: E402

XML = ROOT.parent / "shared" / "reference" / "cdsi" / "supporting-data-4.64" / "XML"
ASSESSED = dt.date(2026, 12, 1)

# (CVX, age in days) of the CDC child schedule, single-antigen products.
CHILD = (
    ("08", 0), ("08", 61), ("08", 183),
    ("20", 61), ("20", 122), ("20", 183), ("20", 456), ("20", 1461),
    ("49", 61), ("49", 122), ("49", 365),
    ("133", 61), ("133", 122), ("133", 183), ("133", 365),
    ("10", 61), ("10", 122), ("10", 183), ("10", 1461),
    ("116", 61), ("116", 122), ("116", 183),
    ("03", 365), ("03", 1461), ("21", 365), ("21", 1461),
    ("83", 365), ("83", 548),
    ("115", 4018), ("165", 4018), ("165", 4200), ("136", 4018), ("136", 5844),
)  # fmt: skip
ADULT = (("09", 0), ("115", 3650), ("141", 0), ("187", 0), ("187", 61), ("216", 0))


def twenty_dose_patient() -> Patient:
    """A five-year-old with 20 doses of the schedule, all on time."""
    born = ASSESSED - dt.timedelta(days=5 * 365 + 30)
    doses = [
        AdministeredDose(str(i), born + dt.timedelta(days=age), cvx)
        for i, (cvx, age) in enumerate(CHILD[:20])
    ]
    return Patient(born, "F", tuple(doses))


def random_patient(rng: random.Random) -> Patient:
    if rng.random() < 0.7:
        age_days = rng.randint(0, 18 * 365)
        born = ASSESSED - dt.timedelta(days=age_days)
        doses = []
        for cvx, age in CHILD:
            if age > age_days or rng.random() < 0.08:  # not yet due, or missed
                continue
            late = rng.choice((0, 0, 0, 3, 10, 40, 200))
            day = born + dt.timedelta(days=min(age + late, age_days))
            doses.append(AdministeredDose(str(len(doses)), day, cvx))
    else:
        age_years = rng.randint(19, 90)
        born = ASSESSED - dt.timedelta(days=age_years * 365 + rng.randint(0, 364))
        doses = []
        for cvx, offset in ADULT:
            if rng.random() < 0.5:
                continue
            day = ASSESSED - dt.timedelta(days=rng.randint(30, 3000) + offset)
            if day > born:
                doses.append(AdministeredDose(str(len(doses)), day, cvx))
    return Patient(born, rng.choice("FM"), tuple(doses))


def _batch(args: tuple[int, int]) -> tuple[int, int]:
    seed, count = args
    data = engine.load(XML)
    rng = random.Random(seed)
    doses = 0
    for _ in range(count):
        patient = random_patient(rng)
        doses += len(patient.doses)
        engine.forecast(data, patient, ASSESSED)
    return count, doses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    started = time.perf_counter()
    data = engine.load(XML)
    load_s = time.perf_counter() - started
    patient = twenty_dose_patient()
    result = engine.forecast(data, patient, ASSESSED)
    timings = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        engine.forecast(data, patient, ASSESSED)
        timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"supporting data {data.version} loaded in {load_s * 1000:.0f} ms")
    print(
        f"one patient, {len(patient.doses)} doses, {len(result.groups)} vaccine groups: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal p95 < 20 ms) over {args.repeats} runs"
    )

    chunks = max(args.workers * 8, 1)
    base, extra = divmod(args.patients, chunks)
    per = [base + (1 if i < extra else 0) for i in range(chunks)]
    t = time.perf_counter()
    done = doses = 0
    tty = sys.stderr.isatty()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for count, n in pool.map(_batch, [(i, c) for i, c in enumerate(per) if c]):
            done += count
            doses += n
            progress = f"  batch: {done:,} of {args.patients:,} patients"
            print(f"\r{progress}" if tty else progress, end="" if tty else "\n", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    seconds = time.perf_counter() - t
    rate = done / seconds
    print(
        f"batch: {done:,} patients ({doses:,} doses) in {seconds:.1f} s on {args.workers} "
        f"processes: {rate:,.0f} patients/s"
    )
    figures = {
        "one_patient": {"doses": len(patient.doses), "p50_ms": round(p50, 2),
                        "p95_ms": round(p95, 2), "runs": args.repeats},
        "batch": {"patients": done, "doses": doses, "seconds": round(seconds, 1),
                  "workers": args.workers, "patients_per_second": round(rate)},
        "supporting_data": data.version,
    }  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    return 0 if p95 < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
