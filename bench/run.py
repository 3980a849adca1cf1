"""`make bench`: patient search and chart opening with 100,000 patients, on SQLite and, when a
PostgreSQL server answers at 127.0.0.1:5432 (user postgres), on PostgreSQL too.

Each database is measured by bench/search_and_chart.py in its own process (the settings read
DATABASE_URL at import). Everything lives under var/bench/ (its own secret key, SQLite file and
results.json); the demo database var/medassist.sqlite3 is never touched. The bench population is
built on the first run (a few minutes) and reused after; --fresh builds it again.

    python bench/run.py [--patients N] [--requests N] [--only sqlite|postgresql]
                        [--fresh] [--drop] [--profile] [--strict]
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
GOALS_MS = {"search": 50.0, "chart": 100.0}  # p95, from the product's performance budget


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 (no server, no driver, no access: all mean "skip")
        return False


def postgres_database(*, drop: bool, create: bool) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]
        ).fetchone()
        if exists and drop:
            conn.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(PG_DATABASE))
            )
            exists = None
        if not exists and create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))


def run_one(name: str, url: str, args: argparse.Namespace) -> dict:
    out = VAR / f"result-{name}.json"
    out.unlink(missing_ok=True)
    env = os.environ | {
        "DATABASE_URL": url,
        "MEDASSIST_VAR_DIR": str(VAR),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDASSIST_DEBUG": "0",
    }
    command = [
        sys.executable,
        str(ROOT / "bench" / "search_and_chart.py"),
        "--patients", str(args.patients),
        "--requests", str(args.requests),
        "--out", str(out),
    ] + (["--profile"] if args.profile else [])  # fmt: skip
    print(f"\n== {name} ({url})", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 (our own script)
    result = json.loads(out.read_text())
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=280, help="per measure (at least 200)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--fresh", action="store_true", help="build the population again")
    parser.add_argument("--drop", action="store_true", help="drop the PostgreSQL database after")
    parser.add_argument("--profile", action="store_true", help="profile even when goals are met")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
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

    results = {name: run_one(name, url, args) for name, url in targets.items()}
    if args.drop and "postgresql" in targets:
        postgres_database(drop=True, create=False)

    print_table(results)
    for name, r in results.items():
        if "profile" in r:
            print_profile(name, r["profile"])
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "goals_p95_ms": GOALS_MS,
        "results": results,
    }  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"Figures written to {RESULTS.relative_to(ROOT)}")
    missed = any(
        r["search"]["p95_ms"] >= GOALS_MS["search"]
        or r["chart"]["p95_ms"] >= GOALS_MS["chart"]
        or len(set(r["queries_per_chart"].values())) != 1
        for r in results.values()
    )
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
