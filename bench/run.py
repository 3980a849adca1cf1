"""`make bench`: patient search and chart opening with 100,000 patients, and a clinic day (the
flow board of 900 visits; a locust load scenario at 4 and 40 requests/s, bench/clinic_day.py),
and vital signs (the rooming form's full set, and 10,000 FHIR Observation POSTs, bench/vitals.py),
and lab results in (2,000 ORU^R01 over MLLP to the results listener, bench/oru.py) on SQLite
and, when PostgreSQL answers at 127.0.0.1:5432 (user postgres), on PostgreSQL too.

Each database is measured by bench/search_and_chart.py in its own process (the settings read
DATABASE_URL at import). Everything lives under var/bench/ (its own secret key, SQLite file and
results.json); the demo database var/medassist.sqlite3 is never touched. The bench population is
built on the first run (a few minutes) and reused after; --fresh builds it again.

    python bench/run.py [--patients N] [--requests N] [--only sqlite|postgresql]
                        [--fresh] [--drop] [--profile] [--strict]
                        [--load-seconds S] [--no-load] [--skip-search] [--skip-day]
                        [--observations N] [--forecast-patients N] [--skip-forecast]
                        [--oru-messages N] [--oru-connections K] [--skip-oru]

The CDSi forecaster (bench/forecast.py) needs no database: it is measured once.
"""

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
SQLITE = VAR / "bench.sqlite3"
RESULTS = VAR / "results.json"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "medassist_bench"
DAY_SQLITE = VAR / "clinic_day.sqlite3"
DAY_PG_DATABASE = "medassist_bench_day"
VITALS_SQLITE = VAR / "vitals.sqlite3"
VITALS_PG_DATABASE = "medassist_bench_vitals"
ORU_SQLITE = VAR / "oru.sqlite3"
ORU_PG_DATABASE = "medassist_bench_oru"
GOALS_MS = {  # p95
    "search": 50.0,
    "chart": 100.0,
    "board": 150.0,
    "vitals_form": 100.0,
    "forecast": 20.0,
}


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 (no server, no driver, no access: all mean "skip")
        return False


def postgres_database(*, drop: bool, create: bool, name: str = PG_DATABASE) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists and create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _measure(script: str, label: str, out: Path, url: str, options: list[str]) -> dict:
    """Run one bench script on one database in its own process (the settings read
    DATABASE_URL at import) and return the figures it wrote to `out`."""
    out.unlink(missing_ok=True)
    env = os.environ | {
        "DATABASE_URL": url,
        "MEDASSIST_VAR_DIR": str(VAR),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDASSIST_DEBUG": "0",
    }
    command = [sys.executable, str(ROOT / "bench" / script), "--out", str(out), *options]
    print(f"\n== {label} ({url})", flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 (our own script)
    return json.loads(out.read_text())


def own_databases(targets: dict[str, str], sqlite_file: Path, pg_name: str) -> dict[str, str]:
    """A bench part's own database on each of the databases being measured (PostgreSQL's
    created when missing)."""
    urls = {"sqlite": f"sqlite:///{sqlite_file}"} if "sqlite" in targets else {}
    if "postgresql" in targets:
        postgres_database(drop=False, create=True, name=pg_name)
        urls["postgresql"] = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
    return urls


def run_one(name: str, url: str, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    options = ["--patients", str(args.patients), "--requests", str(args.requests)]
    result = _measure(
        "search_and_chart.py",
        name,
        VAR / f"result-{name}.json",
        url,
        options + (["--profile"] if args.profile else []),
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def run_clinic_day(name: str, url: str, args: argparse.Namespace) -> dict:
    options = ["--requests", str(args.requests), "--load-seconds", str(args.load_seconds)]
    return _measure(
        "clinic_day.py",
        f"clinic day, {name}",
        VAR / f"clinic-day-{name}.json",
        url,
        options + (["--no-load"] if args.no_load else []),
    )


def run_vitals(name: str, url: str, args: argparse.Namespace) -> dict:
    options = ["--requests", str(args.requests), "--observations", str(args.observations)]
    return _measure("vitals.py", f"vital signs, {name}", VAR / f"vitals-{name}.json", url, options)


def run_oru(name: str, url: str, args: argparse.Namespace) -> dict:
    options = ["--messages", str(args.oru_messages), "--connections", str(args.oru_connections)]
    return _measure("oru.py", f"lab results in, {name}", VAR / f"oru-{name}.json", url, options)


def print_oru(results: dict[str, dict]) -> None:
    print("\nLab results in: ORU^R01 of 20 OBX over MLLP to `hl7 listen`, each ACK after commit")
    header = (
        f"{'database':<11} {'messages':>8} {'conn':>4} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max ms':>8}  stored"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        s = r["stored"]
        whole = s["filed"] == s["inbound"] == s["reports"] == s["expected_reports"]
        print(
            f"{name:<11} {r['messages']:>8,} {r['connections']:>4} {r['per_second']:>7.1f} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f}  "
            f"{s['reports']:,} reports, {s['results']:,} results "
            f"({'each message filed once' if whole else 'MISMATCH'}; "
            f"{r['not_accepted']} not AA)"
        )
    print()


def print_vitals(results: dict[str, dict]) -> None:
    print("\nVital signs: a full set from the rooming form (post to rendered step), as alice")
    header = (
        f"{'database':<11} {'measure':<34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        f = r["form"]
        print(
            f"{name:<11} {'vitals form post':<34} {f['n']:>6} {f['p50_ms']:>8.1f} "
            f"{f['p95_ms']:>8.1f} {f['max_ms']:>8.1f}  p95 < {GOALS_MS['vitals_form']:.0f} ms: "
            f"{verdict(f['p95_ms'], GOALS_MS['vitals_form'])}"
        )
        print(f"{'':<11} {'queries per form post':<34} {r['queries_per_form_post']:>6}")
        a = r["fhir"]
        print(
            f"{'':<11} {'FHIR Observation POSTs':<34} {a['observations']:>6}  "
            f"{a['per_second']:.1f} per second ({a['seconds']} s, {a['failures']} failed, "
            f"{a['stored_rows']:,} rows stored)"
        )
    print()


def print_clinic_day(results: dict[str, dict]) -> None:
    print("\nThe flow board of a 40-provider clinic day (900 visits), as alice, in process")
    header = (
        f"{'database':<11} {'measure':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        b, p, u = r["board"], r["board_poll"], r["board_poll_unchanged"]
        print(
            f"{name:<11} {'flow board (page)':<34} {b['n']:>5} {b['p50_ms']:>8.1f} "
            f"{b['p95_ms']:>8.1f} {b['max_ms']:>8.1f}  p95 < {GOALS_MS['board']:.0f} ms: "
            f"{verdict(b['p95_ms'], GOALS_MS['board'])}"
        )
        for label, m in (("5 s poll, something moved", p), ("5 s poll, nothing moved", u)):
            print(
                f"{'':<11} {label:<34} {m['n']:>5} {m['p50_ms']:>8.1f} "
                f"{m['p95_ms']:>8.1f} {m['max_ms']:>8.1f}"
            )
        if u["answered_204"] < u["n"]:
            print(f"{'':<11} {'':<34} ({u['n'] - u['answered_204']} of {u['n']} polls "
                  "brought the board of a new minute)")  # fmt: skip
        q = r["queries_per_board"]
        equal = "equal: ok" if len(set(q.values())) == 1 else "NOT EQUAL"
        detail = ", ".join(f"{k}: {v}" for k, v in q.items())
        print(f"{'':<11} {'queries per board':<34} {detail}  ({equal})")
        print(f"{'':<11} {'queries per poll, nothing moved':<34} {r['queries_per_poll_unchanged']}")
    for name, r in results.items():
        for rate, load in r.get("load", {}).items():
            print(f"\nClinic-day load on {name} through gunicorn + locust, {rate} offered")
            print(
                f"  {'page':<24} {'requests':>8} {'fail':>5} {'req/s':>6} "
                f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            )
            for page, v in load["pages"].items():
                print(
                    f"  {page:<24} {v['requests']:>8} {v['failures']:>5} {v['rps']:>6.1f} "
                    f"{v['p50_ms']:>7.0f} {v['p95_ms']:>7.0f} {v['p99_ms']:>7.0f}"
                )
            served = load["pages"].get("Aggregated", {}).get("rps", 0.0)
            if served < 0.9 * load["offered_rps"]:
                print(f"  served {served:.1f} of the {load['offered_rps']} requests/s offered: "
                      "the server is saturated")  # fmt: skip
            print("  before the window, every user at once:")
            for page, v in load["sign_in"].items():
                print(
                    f"  {'  sign-in: ' + page:<24} {v['requests']:>8} {v['failures']:>5} "
                    f"{'':>6} {v['p50_ms']:>7.0f} {v['p95_ms']:>7.0f} {v['p99_ms']:>7.0f}"
                )
    print()


def verdict(value: float, goal: float) -> str:
    return "ok" if value < goal else "MISSED"


def print_table(results: dict[str, dict]) -> None:
    print("\nPatient search and chart open, as alice (medical assistant, North clinic)")
    header = (
        f"{'database':<11} {'measure':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        s, c = r["search"], r["chart"]
        print(
            f"{name:<11} {'search (all queries)':<34} {s['n']:>5} {s['p50_ms']:>8.1f} "
            f"{s['p95_ms']:>8.1f} {s['max_ms']:>8.1f}  p95 < {GOALS_MS['search']:.0f} ms: "
            f"{verdict(s['p95_ms'], GOALS_MS['search'])}"
        )
        for kind, k in sorted(s["by_kind"].items()):
            print(
                f"{'':<11} {'  ' + kind:<34} {k['n']:>5} {k['p50_ms']:>8.1f} "
                f"{k['p95_ms']:>8.1f} {k['max_ms']:>8.1f}"
            )
        h = r["search_htmx"]
        print(
            f"{'':<11} {'search as typed (HTMX partial)':<34} {h['n']:>5} {h['p50_ms']:>8.1f} "
            f"{h['p95_ms']:>8.1f} {h['max_ms']:>8.1f}"
        )
        print(
            f"{'':<11} {'chart open':<34} {c['n']:>5} {c['p50_ms']:>8.1f} {c['p95_ms']:>8.1f} "
            f"{c['max_ms']:>8.1f}  p95 < {GOALS_MS['chart']:.0f} ms: "
            f"{verdict(c['p95_ms'], GOALS_MS['chart'])}"
        )
        q = r["queries_per_chart"]
        equal = "equal: ok" if len(set(q.values())) == 1 else "NOT EQUAL"
        detail = ", ".join(f"{k}: {v}" for k, v in q.items())
        print(f"{'':<11} {'queries per chart page':<34} {detail}  ({equal})")
        print(
            f"{'':<11} {r['patients']:,} patients, {r['encounters']:,} visits; "
            + (f"built in {r['build_seconds']} s; " if r["build_seconds"] else "reused; ")
            + f"{r['seconds']} s in all"
        )
    print()


def print_profile(name: str, p: dict) -> None:
    for what in ("search", "chart"):
        prof = p[what]
        title = f"search ({p['search_kind']} queries)" if what == "search" else "chart open"
        print(
            f"== {name}, {title}: {prof['mean_ms']} ms a request, of which "
            f"{prof['mean_sql_ms']} ms in {prof['statements_per_request']} SQL statements"
        )
        if name == "sqlite":
            print("   (SQLite hands rows over as they are read: statement times leave that out)")
        for s in prof["slowest_sql"]:
            print(f"   {s['ms']:7.1f} ms  {s['sql'][:300]}")
    print(f"== {name}, the search query's plan:\n{p['search_plan']}")
    print(f"   (cProfile of both, application functions only: {RESULTS.relative_to(ROOT)})\n")


def run_forecast(args: argparse.Namespace) -> dict:
    """The CDSi forecaster: one 20-dose patient, then a batch for throughput (no database)."""
    out = VAR / "forecast.json"
    out.unlink(missing_ok=True)
    print("\n== CDSi forecaster (no database)", flush=True)
    command = [
        sys.executable,
        str(ROOT / "bench" / "forecast.py"),
        "--patients",
        str(args.forecast_patients),
        "--out",
        str(out),
    ]
    subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 (our own script)
    return json.loads(out.read_text()) if out.exists() else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=280, help="per measure (at least 200)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--fresh", action="store_true", help="build the population again")
    parser.add_argument("--drop", action="store_true", help="drop the PostgreSQL database after")
    parser.add_argument("--profile", action="store_true", help="profile even when goals are met")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--load-seconds", type=int, default=30, help="per rate of the load run")
    parser.add_argument("--no-load", action="store_true", help="skip the locust load scenario")
    parser.add_argument("--skip-search", action="store_true", help="only the clinic day")
    parser.add_argument("--skip-day", action="store_true", help="skip the clinic day")
    parser.add_argument("--observations", type=int, default=10_000, help="FHIR POSTs")
    parser.add_argument("--forecast-patients", type=int, default=100_000, help="CDSi batch")
    parser.add_argument("--skip-forecast", action="store_true", help="skip the CDSi forecaster")
    parser.add_argument("--oru-messages", type=int, default=2_000, help="ORU^R01 messages")
    parser.add_argument("--oru-connections", type=int, default=4, help="MLLP client connections")
    parser.add_argument("--skip-oru", action="store_true", help="skip the lab results intake")
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)

    targets: dict[str, str] = {}
    if args.only in (None, "sqlite"):
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE}{suffix}").unlink(missing_ok=True)
        targets["sqlite"] = f"sqlite:///{SQLITE}"
    if args.only in (None, "postgresql"):
        if postgres_reachable():
            postgres_database(drop=args.fresh, create=True)
            targets["postgresql"] = f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"
        else:
            print("PostgreSQL does not answer at 127.0.0.1:5432: measuring SQLite only.")

    results = (
        {}
        if args.skip_search
        else {name: run_one(name, url, args) for name, url in targets.items()}
    )
    day = (
        {}
        if args.skip_day
        else {
            name: run_clinic_day(name, url, args)
            for name, url in own_databases(targets, DAY_SQLITE, DAY_PG_DATABASE).items()
        }
    )
    vitals = {
        name: run_vitals(name, url, args)
        for name, url in own_databases(targets, VITALS_SQLITE, VITALS_PG_DATABASE).items()
    }
    oru = (
        {}
        if args.skip_oru
        else {
            name: run_oru(name, url, args)
            for name, url in own_databases(targets, ORU_SQLITE, ORU_PG_DATABASE).items()
        }
    )
    forecast = {} if args.skip_forecast else run_forecast(args)
    if args.drop and "postgresql" in targets:
        postgres_database(drop=True, create=False)
        postgres_database(drop=True, create=False, name=DAY_PG_DATABASE)
        postgres_database(drop=True, create=False, name=VITALS_PG_DATABASE)
        postgres_database(drop=True, create=False, name=ORU_PG_DATABASE)

    if results:
        print_table(results)
    if day:
        print_clinic_day(day)
    print_vitals(vitals)
    if oru:
        print_oru(oru)
    for name, r in results.items():
        if "profile" in r:
            print_profile(name, r["profile"])
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "goals_p95_ms": GOALS_MS,
        "results": results,
        "clinic_day": day,
        "vitals": vitals,
        "forecast": forecast,
        "oru": oru,
    }  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"Figures written to {RESULTS.relative_to(ROOT)}")
    missed = (
        any(
            r["search"]["p95_ms"] >= GOALS_MS["search"]
            or r["chart"]["p95_ms"] >= GOALS_MS["chart"]
            or len(set(r["queries_per_chart"].values())) != 1
            for r in results.values()
        )
        or any(
            r["board"]["p95_ms"] >= GOALS_MS["board"]
            or len(set(r["queries_per_board"].values())) != 1
            for r in day.values()
        )
        or any(r["form"]["p95_ms"] >= GOALS_MS["vitals_form"] for r in vitals.values())
        or (bool(forecast) and forecast["one_patient"]["p95_ms"] >= GOALS_MS["forecast"])
    )
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
