"""The shared cast of tests and demo: two clinics of one network and their staff.

alice  medical assistant, North      bob    provider, North
dana   clinic manager, North         erin   compliance auditor (North and South)
carol  medical assistant, South      frank  provider, South
gwen   front desk, North
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import connection

from medassist.access.roles import Role
from medassist.clinics.models import Clinic, Membership, Network

DEMO_PASSWORD = "medassist-demo"  # noqa: S105 (demo and tests only; printed by `make demo`)

STAFF = (
    # username, first, last, title, [(clinic code, role)]
    ("alice", "Alice", "Moreno", "CCMA", [("north", Role.MEDICAL_ASSISTANT)]),
    ("bob", "Robert", "Okafor", "MD", [("north", Role.PROVIDER)]),
    ("dana", "Dana", "Whitfield", "", [("north", Role.CLINIC_MANAGER)]),
    (
        "erin",
        "Erin",
        "Castillo",
        "CHC",
        [("north", Role.COMPLIANCE_AUDITOR), ("south", Role.COMPLIANCE_AUDITOR)],
    ),
    ("carol", "Carol", "Nguyen", "CMA", [("south", Role.MEDICAL_ASSISTANT)]),
    ("frank", "Franklin", "Adeyemi", "NP", [("south", Role.PROVIDER)]),
    ("gwen", "Gwen", "Halvorsen", "", [("north", Role.FRONT_DESK)]),
)


@dataclass
class Cast:
    network: Network
    north: Clinic
    south: Clinic
    alice: AbstractUser
    bob: AbstractUser
    dana: AbstractUser
    erin: AbstractUser
    carol: AbstractUser
    frank: AbstractUser
    gwen: AbstractUser


def make_cast(password: str = DEMO_PASSWORD) -> Cast:
    network = Network.objects.create(name="Prairie Health")
    north = Clinic.objects.create(
        network=network,
        name="North Family Medicine",
        code="north",
        phone="217-555-0100",
        address_line="1200 N Main St",
        city="Springfield",
        state="IL",
        postal_code="62702",
    )
    south = Clinic.objects.create(
        network=network,
        name="South Pediatrics & Family",
        code="south",
        phone="217-555-0200",
        address_line="88 S Grand Ave",
        city="Springfield",
        state="IL",
        postal_code="62704",
    )
    clinics = {"north": north, "south": south}
    User = get_user_model()
    users = {}
    for username, first, last, title, roles in STAFF:
        user = User.objects.create_user(
            username, f"{username}@example.org", password, first_name=first, last_name=last
        )
        for code, role in roles:
            Membership.objects.create(user=user, clinic=clinics[code], role=role, title=title)
        users[username] = user
    return Cast(network=network, north=north, south=south, **users)


def race(*jobs: Callable[[], object]) -> list[BaseException | None]:
    """Run the jobs at once, each on its own connection; return what each raised (or None)."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[BaseException | None] = [None] * len(jobs)

    def run(i, job):  # type: ignore[no-untyped-def]
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as exc:  # noqa: BLE001 (reported to the test)
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes
