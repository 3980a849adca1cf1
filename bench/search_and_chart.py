"""Patient search and chart opening at clinic-network scale, on the database DATABASE_URL names.

Run by bench/run.py, once per database, in its own process (the settings read DATABASE_URL at
import). Builds the bench population the first time (100,000 patients in two clinics; 1% of them
with 200 visits and 50 conditions), reuses it after, then drives the real views through Django's
test Client, logged in as alice (medical assistant, North), and writes the figures as JSON.

    DATABASE_URL=... MEDASSIST_VAR_DIR=var/bench python bench/search_and_chart.py --out r.json
"""

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from faker.providers.person.en_US import Provider as EnglishNames  # noqa: E402
from faker.providers.person.es_MX import Provider as SpanishNames  # noqa: E402

import config.wsgi  # noqa: E402, F401 (the server's start-up, gc.freeze() included)
from medassist.core.testing import make_cast  # noqa: E402
from medassist.demo.generator import NAME_LISTS  # noqa: E402
from medassist.encounters.models import Encounter  # noqa: E402
from medassist.history.models import Allergy, Condition, Medication  # noqa: E402
from medassist.patients.models import Coverage, Patient, PatientContact  # noqa: E402
from medassist.patients.services import fill_search_keys, index_spellings  # noqa: E402

SEED = 100_000
CHUNK = 5_000  # patients per transaction
HEAVY_EVERY = 100  # 1% of patients have a long history
HEAVY_ENCOUNTERS = 200
HEAVY_CONDITIONS = 50
GOALS_MS = {"search": 50.0, "chart": 100.0}  # p95


def log(msg: str) -> None:
    print(f"  [{connection.vendor}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Building the population


class Names:
    """Name pools with realistic frequencies: the US Census surname and first-name frequencies
    Faker ships (en_US), mixed with Spanish and other names, so that many patients share a last
    name (about 1 in 50 is a Smith; 1,600 last names for 100,000 patients)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        family = dict(EnglishNames.last_names)  # name -> share
        spanish = sorted(set(SpanishNames.last_names))
        for name in spanish:
            family[name] = family.get(name, 0) + 0.12 / len(spanish)
        others = sorted({n for lists in NAME_LISTS.values() for n in lists["family"]})
        for name in others:
            masculine = name.split("/")[0]
            family[masculine] = family.get(masculine, 0) + 0.05 / len(others)
        self.family = list(family)
        self.family_cum = _cumulative(family.values())
        self.female = list(EnglishNames.first_names_female)
        self.female_cum = _cumulative(EnglishNames.first_names_female.values())
        self.male = list(EnglishNames.first_names_male)
        self.male_cum = _cumulative(EnglishNames.first_names_male.values())

    def pick(self, sex: str) -> tuple[str, str]:
        rng = self.rng
        family = rng.choices(self.family, cum_weights=self.family_cum)[0]
        if sex == "female":
            given = rng.choices(self.female, cum_weights=self.female_cum)[0]
        else:
            given = rng.choices(self.male, cum_weights=self.male_cum)[0]
        return family, given


def _cumulative(weights) -> list[float]:  # type: ignore[no-untyped-def]
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


REASONS = (
    "Blood pressure follow-up", "Diabetes follow-up, A1c", "Annual physical", "Cough x1 week",
    "Sore throat", "Medication refill", "Well-child visit", "Low back pain", "Knee pain",
)  # fmt: skip
PROBLEMS = (
    ("Essential (primary) hypertension", "I10"),
    ("Type 2 diabetes mellitus without complications", "E11.9"),
    ("Hyperlipidemia, unspecified", "E78.5"),
    ("Mild intermittent asthma, uncomplicated", "J45.20"),
    ("Gastro-esophageal reflux disease without esophagitis", "K21.9"),
    ("Depression, unspecified", "F32.A"),
    ("Hypothyroidism, unspecified", "E03.9"),
    ("Obesity, unspecified", "E66.9"),
)
MEDS = (
    ("Lisinopril 10 mg tablet", "29046"),
    ("Metformin 500 mg tablet", "6809"),
    ("Atorvastatin 20 mg tablet", "83367"),
    ("Albuterol HFA 90 mcg/actuation inhaler", "435"),
    ("Omeprazole 20 mg capsule", "7646"),
)


class Rows:
    """Rows for one table, written in one go: COPY on PostgreSQL, executemany on SQLite.

    The population is 1.3 million rows: through model instances and bulk_create they take
    several minutes per database, written as plain rows about a minute. Values are given
    as the database stores them (see `Values`), and every NOT NULL column must be given."""

    def __init__(self, model: type, columns: tuple[str, ...]):
        fields = [model._meta.get_field(c) for c in columns]
        required = {f.name for f in model._meta.concrete_fields if not f.null and not f.primary_key}
        missing = required - set(columns)
        assert not missing, f"{model.__name__}: give {sorted(missing)}"
        self.table = connection.ops.quote_name(model._meta.db_table)
        self.columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        self.rows: list[tuple] = []

    def write(self) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # psycopg's own cursor
                with raw.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * self.columns.count(",") + ["%s"])
                cursor.executemany(
                    f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})",  # noqa: S608
                    self.rows,
                )
        self.rows = []


class Values:
    """Python values in the form each database stores (Django's own conversions, done once)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pg = connection.vendor == "postgresql"

    def uuid(self) -> object:
        value = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        return value if self.pg else value.hex

    def day(self, value: dt.date) -> object:
        return value if self.pg else value.isoformat()

    def when(self, value: dt.datetime) -> object:
        return value if self.pg else str(value.astimezone(dt.UTC).replace(tzinfo=None))


PATIENT_COLUMNS = (
    "id", "public_id", "created_at", "updated_at", "network", "clinic", "mrn", "active", "family",
    "given", "middle", "suffix", "preferred_name", "birth_date", "sex", "birth_sex",
    "gender_identity", "race", "ethnicity", "preferred_language", "interpreter_needed", "phone",
    "phone_digits", "email", "address_line", "address_line2", "city", "state", "postal_code",
    "photo", "family_key", "given_key",
)  # fmt: skip


PUBLIC = ("public_id", "created_at", "updated_at", "patient")
COLUMNS = {
    Encounter: (*PUBLIC, "clinic", "provider", "medical_assistant", "stage", "stage_since",
                "version", "kind", "visit_type", "reason", "period_start", "period_end"),
    Condition: (*PUBLIC, "category", "description", "icd10", "snomed", "relative", "active"),
    Medication: (*PUBLIC, "name", "rxnorm", "dose", "route", "frequency", "active"),
    Allergy: (*PUBLIC, "substance", "code_system", "code", "category", "reaction", "severity",
              "criticality", "verification", "active"),
    Coverage: (*PUBLIC, "order", "payer_name", "payer_id", "plan_name", "member_id",
               "group_number", "subscriber_name", "subscriber_relationship"),
    PatientContact: ("patient", "name", "relationship", "phone", "is_emergency"),
}  # fmt: skip


def build(total: int) -> None:
    """The bench population as plain rows, one transaction per CHUNK patients."""
    rng = random.Random(SEED)
    names = Names(rng)
    v = Values(rng)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # bench only
    cast = make_cast()
    clinics = (cast.north, cast.south)
    staff = {
        cast.north.pk: (cast.bob.pk, cast.alice.pk),
        cast.south.pk: (cast.frank.pk, cast.carol.pk),
    }
    now = dt.datetime(2026, 1, 15, 15, tzinfo=dt.UTC)  # fixed: the same population every time
    stamp = v.when(now)
    base = cast.network.next_mrn
    spellings: set[str] = set()
    tables = {model: Rows(model, columns) for model, columns in COLUMNS.items()}
    encounters, conditions, medications = tables[Encounter], tables[Condition], tables[Medication]
    allergies, coverages, contacts = tables[Allergy], tables[Coverage], tables[PatientContact]
    started = time.perf_counter()
    patient_rows = Rows(Patient, PATIENT_COLUMNS)
    next_id = (Patient.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    for first in range(0, total, CHUNK):
        patients = []
        for i in range(first, min(first + CHUNK, total)):
            sex = "female" if rng.random() < 0.51 else "male"
            family, given = names.pick(sex)
            patient = SimpleNamespace(
                pk=next_id + i,
                clinic_id=clinics[i % 2].pk,
                mrn=str(base + i),
                family=family,
                given=given,
                phone=f"217-555-{rng.randrange(10_000):04d}",
            )
            fill_search_keys(patient)  # the search keys exactly as the application derives them
            birth = now.date() - dt.timedelta(days=rng.randrange(0, 100 * 365))
            patient_rows.rows.append(
                (patient.pk, v.uuid(), stamp, stamp, cast.network.pk, patient.clinic_id,
                 patient.mrn, True, family, given, "", "", "", v.day(birth), sex, "", "", "[]",
                 "", "en", False, patient.phone, patient.phone_digits, "",
                 f"{rng.randrange(100, 5000)} Main St", "", "Springfield", "IL", "62704", "",
                 patient.family_key, patient.given_key)
            )  # fmt: skip
            patients.append(patient)
            spellings.update((patient.family_key, patient.given_key))
        with transaction.atomic():
            patient_rows.write()
            for patient in patients:
                i = int(patient.mrn) - base
                pid = patient.pk
                # 1%: one patient in each clinic per 2 * HEAVY_EVERY (clinics alternate)
                heavy = i % (2 * HEAVY_EVERY) in (0, HEAVY_EVERY + 1)
                provider, ma = staff[patient.clinic_id]
                visits = HEAVY_ENCOUNTERS if heavy else rng.choice((0, 1, 1, 2, 2, 3, 4, 6))
                for k in range(visits):
                    start = now - dt.timedelta(
                        days=k * 5 + rng.randrange(5), hours=rng.randrange(8)
                    )
                    end = v.when(start + dt.timedelta(minutes=20))
                    encounters.rows.append(
                        (v.uuid(), stamp, stamp, pid, patient.clinic_id, provider, ma, "done",
                         end, 1, "AMB", "Follow-up", rng.choice(REASONS), v.when(start), end)
                    )  # fmt: skip
                for k in range(HEAVY_CONDITIONS if heavy else rng.choice((0, 0, 1, 2, 3))):
                    description, icd10 = PROBLEMS[k % len(PROBLEMS)]
                    if k >= len(PROBLEMS):
                        description = f"{description} (entry {k + 1})"
                    conditions.rows.append(
                        (v.uuid(), stamp, stamp, pid, "problem-list-item", description, icd10,
                         "", "", True)
                    )  # fmt: skip
                for name, rxnorm in rng.sample(MEDS, rng.choice((0, 0, 1, 2, 3))):
                    medications.rows.append(
                        (v.uuid(), stamp, stamp, pid, name, rxnorm, "1 tablet", "oral",
                         "once daily", True)
                    )  # fmt: skip
                if rng.random() < 0.3:
                    allergies.rows.append(
                        (v.uuid(), stamp, stamp, pid, "Penicillin", "", "", "medication",
                         "hives", "mild", "low", "confirmed", True)
                    )  # fmt: skip
                coverages.rows.append(
                    (v.uuid(), stamp, stamp, pid, 1, "Health Alliance", "", "HMO",
                     f"HA{patient.mrn}", "", "", "self")
                )  # fmt: skip
                contacts.rows.append((pid, "Pat Doe", "spouse", "217-555-0199", True))
            for table in tables.values():
                table.write()
        done = min(first + CHUNK, total)
        rate = done / (time.perf_counter() - started)
        log(f"built {done:,}/{total:,} patients ({rate:,.0f}/s)")
    index_spellings(sorted(spellings))
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [Patient]):
            cursor.execute(statement)  # ids were given: the next one the database hands out
    with connection.cursor() as cursor:  # planner statistics, as autovacuum / a DBA would keep
        cursor.execute("ANALYZE")
    log(f"built in {time.perf_counter() - started:.0f} s")


def population_ready(total: int) -> bool:
    if not get_user_model().objects.filter(username="alice").exists():
        return False
    return Patient.objects.count() == total


# ---------------------------------------------------------------------------------------------
# Measuring


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms), 2),
    }


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # two letters swapped


def search_queries(sample: list[Patient], rng: random.Random) -> list[tuple[str, str]]:
    queries = []
    for p in sample:
        queries += [
            ("partial last name", p.family[: rng.choice((3, 4, 5))].lower()),
            ("first last", f"{p.given} {p.family}"),
            ("last, first", f"{p.family}, {p.given}"),
            ("typo", typo(p.family, rng) if len(p.family) >= 5 else f"{p.given} {p.family}x"),
            ("date of birth", f"{p.birth_date:%m/%d/%Y}"),
            ("MRN", p.mrn),
            ("phone", p.phone if rng.random() < 0.5 else p.phone_digits),
        ]
    rng.shuffle(queries)
    return queries


def timed_get(
    client: Client, url: str, params: dict | None = None, headers: dict | None = None
) -> float:
    start = time.perf_counter()
    response = client.get(url, params or {}, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, params, response.status_code)
    return elapsed


def profile(client: Client, calls: list[tuple[str, dict]]) -> dict:
    """Where a request's time goes: in the database (each statement timed) or in Python
    (cProfile, restricted to the application's own functions, the SQL and the templates)."""
    total_ms, sql_ms, statements = 0.0, 0.0, []
    for url, params in calls:
        with CaptureQueriesContext(connection) as ctx:
            total_ms += timed_get(client, url, params)
        for q in ctx.captured_queries:
            ms = float(q["time"]) * 1000
            sql_ms += ms
            statements.append((ms, q["sql"]))
    profiler = cProfile.Profile()
    profiler.enable()
    for url, params in calls:
        client.get(url, params)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"medassist/|backends/utils.py.*execute|template/base.py.*\(render\)", 25)
    slowest: dict[str, float] = {}
    for ms, sql in statements:
        shape = sql[:400]
        slowest[shape] = max(ms, slowest.get(shape, 0.0))
    n = len(calls)
    return {
        "requests": n,
        "mean_ms": round(total_ms / n, 1),
        "mean_sql_ms": round(sql_ms / n, 1),
        "statements_per_request": round(len(statements) / n, 1),
        "slowest_sql": [
            {"ms": round(ms, 1), "sql": sql}
            for sql, ms in sorted(slowest.items(), key=lambda kv: -kv[1])[:4]
        ],
        "cprofile": out.getvalue(),
    }


def explain_search(query: str) -> str:
    """The database's plan for the search's main query (as the selector builds it)."""
    from medassist.access.actor import Actor
    from medassist.patients import selectors
    from medassist.patients.search import parse_query

    actor = Actor.for_user(get_user_model().objects.get(username="alice"))
    parsed = parse_query(query)
    qs = selectors.visible_patients(actor).filter(active=True)
    fuzzy = selectors._fuzzy_spellings(parsed.names)
    for token in parsed.names:
        qs = qs.filter(selectors._name_condition(token, fuzzy.get(token, set())))
    qs = qs.order_by("family_key", "given_key", "id")[: selectors.SEARCH_CANDIDATES]
    return qs.explain()


def measure(requests: int, want_profile: bool) -> dict:
    rng = random.Random(SEED + 1)
    alice = get_user_model().objects.get(username="alice")
    client = Client()
    client.force_login(alice)
    north = list(
        Patient.objects.filter(clinic__code="north").order_by("id").values_list("id", flat=True)
    )
    sample_ids = rng.sample(north, max(1, requests // 7 + 1))
    sample = list(Patient.objects.filter(id__in=sample_ids).order_by("id"))
    queries = search_queries(sample, rng)[: max(requests, 200)]

    for _kind, q in queries[:20]:  # warm up caches, connections and the template loader
        client.get("/patients/search/", {"q": q})

    search_ms: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for kind, q in queries:
        ms = timed_get(client, "/patients/search/", {"q": q})
        search_ms.append(ms)
        by_kind.setdefault(kind, []).append(ms)
    # What the search box itself sends while the MA types: an HTMX request, answered with the
    # results partial only.
    partial_ms = [
        timed_get(client, "/patients/search/", {"q": q}, {"HX-Request": "true"}) for _, q in queries
    ]
    log(f"search: {len(search_ms)} page and {len(partial_ms)} HTMX requests")

    base = int(Patient.objects.order_by("id").values_list("mrn", flat=True)[0])  # the first MRN
    heavy = list(
        Patient.objects.filter(
            clinic__code="north", mrn__in=[str(base + k * HEAVY_EVERY * 2) for k in range(40)]
        ).values_list("public_id", flat=True)
    )
    chart_ids = [p.public_id for p in sample]
    chart_plan = [
        rng.choice(heavy) if heavy and rng.random() < 0.1 else rng.choice(chart_ids)
        for _ in range(max(requests, 200))
    ]
    for pid in chart_plan[:10]:
        client.get(f"/patients/{pid}/")
    chart_ms = [timed_get(client, f"/patients/{pid}/") for pid in chart_plan]
    log(f"chart: {len(chart_ms)} requests")

    one = (
        Patient.objects.filter(clinic__code="north", encounters__isnull=False)
        .annotate(n=Count("encounters"))
        .filter(n=1)
        .first()
    )
    many = Patient.objects.filter(public_id=heavy[0]).first() if heavy else None
    queries_per_chart = {}
    for label, patient in (("1 visit", one), (f"{HEAVY_ENCOUNTERS} visits", many)):
        assert patient is not None, label
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"/patients/{patient.public_id}/")
        queries_per_chart[label] = len(ctx.captured_queries)

    result = {
        "search": summary(search_ms) | {"by_kind": {k: summary(v) for k, v in by_kind.items()}},
        "search_htmx": summary(partial_ms),
        "chart": summary(chart_ms),
        "queries_per_chart": queries_per_chart,
    }
    slow_kind = max(by_kind, key=lambda k: percentile(by_kind[k], 95))
    missed = (
        result["search"]["p95_ms"] > GOALS_MS["search"]
        or result["chart"]["p95_ms"] > GOALS_MS["chart"]
    )
    if want_profile or missed:
        slow_queries = [q for k, q in queries if k == slow_kind][:15]
        result["profile"] = {
            "search_kind": slow_kind,
            "search": profile(client, [("/patients/search/", {"q": q}) for q in slow_queries]),
            "search_plan": explain_search(slow_queries[0]),
            "chart": profile(client, [(f"/patients/{pid}/", {}) for pid in chart_plan[:15]]),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=280)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    log(f"migrating {settings.DATABASES['default']['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    build_s = None
    if population_ready(args.patients):
        log(f"reusing the {args.patients:,} patients already built")
    else:
        if get_user_model().objects.exists() or Patient.objects.exists():
            log("the database holds another population: erasing it")
            call_command("flush", interactive=False, verbosity=0)
        started = time.perf_counter()
        build(args.patients)
        build_s = round(time.perf_counter() - started, 1)
    result = {
        "database": connection.vendor,
        "patients": Patient.objects.count(),
        "encounters": Encounter.objects.count(),
        "build_seconds": build_s,
    } | measure(args.requests, args.profile)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
