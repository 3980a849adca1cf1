"""A clinic day under load: the flow board of a 40-provider clinic (about 900 visits today), and a
clinic-day traffic scenario driven by locust against a real server.

Run by bench/run.py once per database, in its own process (settings read DATABASE_URL at
import). Builds its own population (a North clinic with 40 providers, 12 medical assistants,
40 rooms and 900 visits today spread over every stage; a South clinic with 30) unless it is
already built for today, then:

1. renders /flow/board/ as alice through Django's test Client (in process: no network, no
   server), p50/p95/max over --requests renders; the same for the 5-second poll when
   something moved (the board as a partial) and when nothing did (204, with the fingerprint
   the browser sends); counts the SQL statements of the 900-visit board and of the 30-visit
   board (they must be equal) and of a 204 poll;
2. starts gunicorn on 127.0.0.1 and runs locust headless (bench/locustfile.py: medical
   assistants polling the board, opening it, the schedule, searching and opening charts) at 4
   and at 40 requests per second, and reports p50/p95/p99 per page from locust's statistics
   for a window of --load-seconds that starts once every user has signed in.

    python bench/clinic_day.py --out FILE [--requests N] [--load-seconds S] [--no-load]
"""

import argparse
import csv
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import config.wsgi  # noqa: E402, F401 (the server's start-up, gc.freeze() included)
from medassist.access.roles import Role  # noqa: E402
from medassist.clinics.models import Clinic, Membership, Room  # noqa: E402
from medassist.core import clock  # noqa: E402
from medassist.core.testing import DEMO_PASSWORD, make_cast  # noqa: E402
from medassist.encounters.models import Encounter, StageChange  # noqa: E402
from medassist.patients.models import Patient  # noqa: E402
from medassist.patients.services import fill_search_keys, index_spellings  # noqa: E402
from medassist.scheduling.models import Appointment, AppointmentType  # noqa: E402

GOAL_BOARD_P95_MS = 150.0
PROVIDERS = 40
NORTH_VISITS = 900
SOUTH_VISITS = 30
BOARD = "/flow/board/"
RATES = (4, 40)  # requests per second of the load scenario
SIGN_IN = "sign-in: "  # locustfile.py's names of the requests before the measured window
SIGN_IN_ALLOWANCE_S = 240  # at most, for every simulated user to sign in before the window


def log(msg: str) -> None:
    print(f"  [{connection.vendor}] {msg}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# The stage each visit of a provider's day has reached, by its place in the day: the morning is
# done, the visits around now are in every stage, the afternoon is still scheduled.
STAGE_PLAN = (
    ["done"] * 9
    + ["no_show", "ready_for_checkout", "with_provider", "ready_for_provider", "roomed"]
    + ["arrived", "arrived", "cancelled"]
)
PATH = ["scheduled", "arrived", "roomed", "ready_for_provider", "with_provider",
        "ready_for_checkout", "done"]  # fmt: skip


def _changes(stage: str) -> list[tuple[str, str]]:
    if stage in ("no_show", "cancelled"):
        return [("scheduled", stage)]
    if stage == "scheduled":
        return []
    steps = PATH[: PATH.index(stage) + 1]
    return list(zip(steps, steps[1:], strict=False))


def family_name(i: int) -> str:
    """Dayvisitaaa, Dayvisitaab, ...: letters only, as names are searched (digits in a name
    would be read as an MRN or a phone number)."""
    return "Dayvisit" + "".join(chr(ord("a") + i // 26**k % 26) for k in (2, 1, 0))


def built_for_today() -> bool:
    today = clock.today()
    return (
        Encounter.objects.filter(clinic__code="north", period_start__date=today).count()
        == NORTH_VISITS
        and Patient.objects.filter(family=family_name(0)).exists()
    )


def build() -> None:
    if get_user_model().objects.exists():
        log("erasing yesterday's population")
        call_command("flush", interactive=False, verbosity=0)
    cast = make_cast(DEMO_PASSWORD)
    User = get_user_model()
    providers = [cast.bob]
    for i in range(2, PROVIDERS + 1):
        user = User.objects.create_user(f"prov{i:02d}", password=DEMO_PASSWORD,
                                        first_name="Provider", last_name=f"{i:02d}")  # fmt: skip
        Membership.objects.create(user=user, clinic=cast.north, role=Role.PROVIDER, title="MD")
        providers.append(user)
    assistants = [cast.alice]
    for i in range(2, 13):
        user = User.objects.create_user(f"ma{i:02d}", password=DEMO_PASSWORD,
                                        first_name="Assistant", last_name=f"{i:02d}")  # fmt: skip
        Membership.objects.create(
            user=user, clinic=cast.north, role=Role.MEDICAL_ASSISTANT, title="CCMA"
        )
        assistants.append(user)
    for clinic, n in ((cast.north, PROVIDERS), (cast.south, 4)):
        Room.objects.bulk_create(
            Room(clinic=clinic, name=f"Exam {k + 1}", sort_order=k) for k in range(n)
        )
    _day(cast.north, providers, assistants, NORTH_VISITS, cast)
    _day(cast.south, [cast.frank], [cast.carol], SOUTH_VISITS, cast)


def _day(clinic: Clinic, providers: list, assistants: list, visits: int, cast) -> None:  # type: ignore[no-untyped-def]
    kind = AppointmentType.objects.create(
        clinic=clinic, code="follow-up", name="Follow-up", minutes=20, color="#3b82f6"
    )
    rooms = list(Room.objects.filter(clinic=clinic))
    patients = [
        fill_search_keys(
            Patient(
                network=cast.network,
                clinic=clinic,
                mrn=str(clinic.pk * 10_000_000 + i),
                family=family_name(i),
                given="Pat",
                birth_date=dt.date(1960 + i % 60, 1 + i % 12, 1 + i % 28),
                sex="female" if i % 2 else "male",
            )
        )
        for i in range(visits)
    ]
    Patient.objects.bulk_create(patients)
    index_spellings({n for p in patients for n in (p.family_key, p.given_key)})
    patients = list(Patient.objects.filter(clinic=clinic).order_by("id"))
    day_start = clock.localtime(clock.now()).replace(hour=8, minute=0, second=0, microsecond=0)
    encounters, plans = [], []
    for n, patient in enumerate(patients):
        provider = providers[n % len(providers)]
        slot = n // len(providers)
        start = day_start + dt.timedelta(minutes=20 * slot)
        stage = STAGE_PLAN[slot] if slot < len(STAGE_PLAN) else "scheduled"
        in_room = stage in ("roomed", "ready_for_provider", "with_provider")
        encounters.append(
            Encounter(
                patient=patient,
                clinic=clinic,
                provider=provider,
                medical_assistant=None if stage == "scheduled" else assistants[n % len(assistants)],
                room=rooms[n % len(rooms)] if in_room else None,
                stage=stage,
                stage_since=start + dt.timedelta(minutes=5 * len(_changes(stage))),
                visit_type="Follow-up",
                reason="follow-up",
                period_start=start,
            )
        )
        plans.append((start, stage))
    Encounter.objects.bulk_create(encounters, batch_size=500)
    encounters = list(Encounter.objects.filter(clinic=clinic).order_by("id"))
    Appointment.objects.bulk_create(
        [
            Appointment(
                clinic=clinic,
                patient_id=e.patient_id,
                provider_id=e.provider_id,
                appointment_type=kind,
                encounter=e,
                start=start,
                end=start + dt.timedelta(minutes=20),
            )  # fmt: skip
            for e, (start, _) in zip(encounters, plans, strict=True)
        ],
        batch_size=500,
    )
    StageChange.objects.bulk_create(
        [
            StageChange(
                encounter=e,
                from_stage=a,
                to_stage=b,
                at=start + dt.timedelta(minutes=5 * k - 5),
                by=cast.alice,
            )  # fmt: skip
            for e, (start, stage) in zip(encounters, plans, strict=True)
            for k, (a, b) in enumerate(_changes(stage))
        ],
        batch_size=1000,
    )
    log(f"{clinic.name}: {len(encounters)} visits today")


FINGERPRINT = re.compile(r'id="board-fp" name="fp" value="([0-9a-f]+)"')
POLL = {"HX-Request": "true", "X-Medassist-Poll": "1"}


def timed(requests: int, get) -> tuple[dict, list]:  # type: ignore[no-untyped-def]
    """p50/p95/max of `requests` calls of get() (after a warm-up), and their responses."""
    for _ in range(5):
        get()
    ms, responses = [], []
    for _ in range(requests):
        started = time.perf_counter()
        responses.append(get())
        ms.append((time.perf_counter() - started) * 1000)
    summary = {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(max(ms), 1),
    }
    return summary, responses


def fingerprint_of(response) -> str:  # type: ignore[no-untyped-def]
    found = FINGERPRINT.search(response.content.decode())
    if found is None:
        raise SystemExit(f"{BOARD} has no fingerprint (id=board-fp) to poll with")
    return found.group(1)


def queries(client: Client, **kwargs: object) -> int:
    """SQL statements of one request, right after the same request: the session's activity
    stamp (written at most every 30 s) is then fresh and not counted."""
    client.get(BOARD, **kwargs)  # type: ignore[arg-type]
    with CaptureQueriesContext(connection) as ctx:
        client.get(BOARD, **kwargs)  # type: ignore[arg-type]
    return len(ctx.captured_queries)


def board_renders(requests: int) -> dict:
    alice = Client()
    alice.force_login(get_user_model().objects.get(username="alice"))
    carol = Client()
    carol.force_login(get_user_model().objects.get(username="carol"))
    first = alice.get(BOARD)
    if first.status_code != 200:
        raise SystemExit(f"{BOARD} answered {first.status_code}: is the flow board there?")
    board, _ = timed(requests, lambda: alice.get(BOARD))

    # The 5-second poll as the browser sends it: the fingerprint of what is on screen. Nothing
    # moves during the run, so it answers 204 but when the minute turns (the board shows
    # minutes), and then the poll brings the new board and its fingerprint, as in the browser.
    fp = {"fp": fingerprint_of(alice.get(BOARD))}

    def poll():  # type: ignore[no-untyped-def]
        response = alice.get(BOARD, fp, headers=POLL)
        if response.status_code == 200:
            fp["fp"] = fingerprint_of(response)
        return response

    unchanged, answers = timed(requests, poll)
    unchanged["answered_204"] = sum(r.status_code == 204 for r in answers)
    # The poll after something moved: the whole board as a partial.
    changed, _ = timed(requests, lambda: alice.get(BOARD, {"fp": "stale"}, headers=POLL))
    counts = {f"{NORTH_VISITS} visits": queries(alice), f"{SOUTH_VISITS} visits": queries(carol)}
    return {
        "board": board,
        "board_poll": changed,
        "board_poll_unchanged": unchanged,
        "queries_per_board": counts,
        "queries_per_poll_unchanged": queries(
            alice, data={"fp": fingerprint_of(alice.get(BOARD))}, headers=POLL
        ),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(port: int, server: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Until the workers answer /healthz (the port opens before they have loaded the app)."""
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310 (our own server)
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within a minute")


# gunicorn as a small clinic would run it on this machine: one worker process per core, a few
# threads each (a thread waits while the database works).
GUNICORN = ["--workers", "2", "--threads", "4", "--log-level", "warning"]


def load_scenario(seconds: int) -> dict:
    """gunicorn + locust at each rate: per-page p50/p95/p99 of the measured window."""
    port = free_port()
    env = os.environ | {"MEDASSIST_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen(  # noqa: S603 (our own server)
        [sys.executable, "-m", "gunicorn", "config.wsgi:application",
         "--bind", f"127.0.0.1:{port}", *GUNICORN],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_until_serving(port, server)
        results = {}
        out_dir = Path(os.environ.get("MEDASSIST_VAR_DIR", ROOT / "var" / "bench"))
        for rate in RATES:
            prefix = out_dir / f"locust-{connection.vendor}-{rate}rps"
            Path(f"{prefix}_stats.csv").unlink(missing_ok=True)
            users = rate  # each simulated user makes one request a second (constant_throughput)
            log(f"load: {rate} requests/s for {seconds} s, once {users} users have signed in")
            started = time.perf_counter()
            command = [
                sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
                "--headless", "-u", str(users), "-r", str(users),
                "-t", f"{seconds + SIGN_IN_ALLOWANCE_S}s", "--host", f"http://127.0.0.1:{port}",
                "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
            ]  # fmt: skip
            with open(f"{prefix}.log", "w") as output:
                # locust exits 1 when a request failed: the figures say which, so go on.
                subprocess.run(  # noqa: S603 (our own scenario)
                    command,
                    cwd=ROOT,
                    env=env | {"BENCH_LOAD_SECONDS": str(seconds)},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            stats = Path(f"{prefix}_stats.csv")
            if not stats.exists():
                raise SystemExit(f"locust wrote no statistics; see {prefix}.log")
            results[f"{rate} rps"] = read_locust_stats(stats) | {"offered_rps": rate}
            log(f"load: {rate} requests/s done in {time.perf_counter() - started:.0f} s")
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def read_locust_stats(path: Path) -> dict:
    """Per page of the measured window, and the sign-in before it (names "sign-in: ...")."""
    pages: dict[str, dict] = {}
    before: dict[str, dict] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            into = before if name.startswith(SIGN_IN) else pages
            into[name.removeprefix(SIGN_IN)] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"] or 0),
                "p95_ms": float(row["95%"] or 0),
                "p99_ms": float(row["99%"] or 0),
            }
    return {"pages": pages, "sign_in": before}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--load-seconds", type=int, default=30)
    parser.add_argument("--no-load", action="store_true")
    args = parser.parse_args()
    call_command("migrate", interactive=False, verbosity=0)
    build_s = None
    if built_for_today():
        log("reusing today's clinic day")
    else:
        started = time.perf_counter()
        build()
        build_s = round(time.perf_counter() - started, 1)
    result = {"database": connection.vendor, "build_seconds": build_s} | board_renders(
        args.requests
    )
    if not args.no_load:
        connection.close()
        result["load"] = load_scenario(args.load_seconds)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
