"""Loading the demo network into the database: the shared cast (clinics and staff), then the
generated patients with everything they bring, in bulk.

Demo data is written directly, not through the services: it describes years of a clinic's past
in one go, with no actor to check or audit, and at a speed the services are not built for.
The vital signs are the exception (vitals.py): recorded through the vitals service, so that
their interpretations and alerts are the app's own; and so are the vaccines (immunizations.py):
stock, standing orders and past doses through the immunization services; and today's lab
orders, collections and results (lab_day.py), through the labs services."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic, Membership, Network
from medassist.core import clock
from medassist.core.testing import DEMO_PASSWORD, STAFF, make_cast
from medassist.demo.flow import write_flow
from medassist.demo.generator import PATIENTS_PER_CLINIC, SEED, PatientSpec, generate
from medassist.demo.immunizations import seat_four_month_old, write_immunizations
from medassist.demo.lab_day import write_labs
from medassist.demo.schedule import write_schedule
from medassist.demo.vitals import write_vitals
from medassist.encounters.models import Encounter
from medassist.history.models import Allergy, Condition, Medication
from medassist.patients.models import Coverage, Patient, PatientContact
from medassist.patients.services import fill_search_keys, index_spellings

BATCH = 1000


@dataclass(frozen=True)
class Loaded:
    patients: int
    encounters: int
    first_mrn: int
    last_mrn: int
    appointments: int = 0


def has_demo_data() -> bool:
    """Whether the database already holds a clinic network (the demo's, or anyone's): loading
    is then skipped rather than mixed into it."""
    return Clinic.objects.exists() or Network.objects.exists()


def _values(spec: object, skip: tuple[str, ...] = ()) -> dict:
    return {
        f.name: getattr(spec, f.name)
        for f in fields(spec)  # type: ignore[arg-type]
        if not isinstance(getattr(spec, f.name), list) or f.name == "race"
        if f.name not in skip
    }


def load_demo(
    *,
    today: dt.date | None = None,
    per_clinic: int = PATIENTS_PER_CLINIC,
    seed: int = SEED,
    password: str = DEMO_PASSWORD,
    progress: Callable[[str], None] | None = None,
) -> Loaded:
    """Create the demo network in an empty database (one transaction)."""
    say = progress or (lambda _msg: None)
    today = today or clock.today()
    with transaction.atomic():
        say("staff and clinics")
        cast = make_cast(password)
        clinics = {"north": cast.north, "south": cast.south}
        users = {name: getattr(cast, name) for name, *_ in STAFF}
        say(f"generating {per_clinic} patients per clinic")
        specs = generate(today=today, seed=seed, per_clinic=per_clinic)
        seat_four_month_old(specs, today)  # into a room on today's North board (immunizations.py)

        base = cast.network.next_mrn
        patients = []
        for spec in specs:
            clinic = clinics[spec.clinic]
            patient = Patient(
                network=cast.network,
                clinic=clinic,
                mrn=str(base + spec.mrn_offset),
                created_by=users[_registrar(clinic)],
                updated_at=spec.created_at,
                **_values(spec, skip=("clinic", "ordinal", "mrn_offset")),
            )
            patients.append(fill_search_keys(patient))
        say(f"writing {len(patients)} patients")
        Patient.objects.bulk_create(patients, batch_size=BATCH)
        _write_children(specs, patients, users)
        index_spellings(sorted({n for p in patients for n in (p.family_key, p.given_key)}))
        say("rooms, provider schedules and appointments")
        tz = timezone.get_default_timezone()
        written = write_schedule(today=today, tz=tz, clinics=clinics, users=users, seed=seed)
        say("check-ins, rooms' cleaning log and past visits' cycle times")
        write_flow(today=today, tz=tz, clinics=clinics, users=users)
        say("vital signs of the visits that reached the room (through the vitals service)")
        write_vitals(today=today, tz=tz, clinics=clinics, users=users, progress=say)
        say("vaccine stock, standing orders and past doses (through the immunization services)")
        write_immunizations(today=today, clinics=clinics, users=users, progress=say)
        write_labs(today=today, clinics=clinics, users=users, progress=say)
        last = base + len(specs) - 1
        Network.objects.filter(pk=cast.network.pk).update(next_mrn=last + 1)
    return Loaded(
        patients=len(patients),
        encounters=sum(len(s.encounters) for s in specs) + written.encounters,
        first_mrn=base,
        last_mrn=last,
        appointments=written.appointments,
    )


def _registrar(clinic: Clinic) -> str:
    return {"north": "alice", "south": "carol"}[clinic.code]


def _write_children(specs: list[PatientSpec], patients: list[Patient], users: dict) -> None:
    rows: dict[type[Model], list[Model]] = {}
    for spec, patient in zip(specs, patients, strict=True):
        # As the registrar entered it on the day the patient was registered.
        entered = {
            "patient": patient,
            "created_by": patient.created_by,
            "created_at": spec.created_at,
            "updated_at": spec.created_at,
        }
        for model, items in (
            (Coverage, spec.coverages),
            (Medication, spec.medications),
            (Condition, spec.conditions),
        ):
            rows.setdefault(model, []).extend(model(**entered | _values(x)) for x in items)
        rows.setdefault(PatientContact, []).extend(
            PatientContact(patient=patient, **_values(x)) for x in spec.contacts
        )
        rows.setdefault(Allergy, []).extend(
            Allergy(**entered | {"updated_at": x.created_at} | _values(x)) for x in spec.allergies
        )
        rows.setdefault(Encounter, []).extend(
            Encounter(
                **entered
                | {"created_at": x.period_start, "updated_at": x.period_end or x.period_start}
                | {"stage_since": x.period_end or x.period_start}
                | _values(x, skip=("provider", "medical_assistant")),
                clinic_id=patient.clinic_id,
                provider=users[x.provider],
                medical_assistant=users.get(x.medical_assistant),
            )
            for x in spec.encounters
        )
    for table, objs in rows.items():
        table._default_manager.bulk_create(objs, batch_size=BATCH)


@dataclass(frozen=True)
class Login:
    username: str
    name: str
    roles: list[tuple[str, list[str]]]  # (role with title, clinic names)
    mfa_required: bool


def demo_logins() -> list[Login]:
    """The demo accounts as the database holds them, in the cast's order."""
    User = get_user_model()
    logins = []
    for username, *_ in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        roles: dict[str, list[str]] = {}
        for m in (
            Membership.objects.filter(user=user, active=True)
            .select_related("clinic")
            .order_by("clinic__code", "role")
        ):
            role = m.get_role_display() + (f" ({m.title})" if m.title else "")
            roles.setdefault(role, []).append(m.clinic.name)
        logins.append(
            Login(
                username,
                user.get_full_name(),
                list(roles.items()),
                Actor.for_user(user).mfa_required,
            )
        )
    return logins
