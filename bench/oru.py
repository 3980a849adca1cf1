"""Lab results in: ORU^R01 messages over MLLP to the results listener, each stored, filed and
acknowledged only after its transaction committed.

Run by bench/run.py once per database, in its own process (settings read DATABASE_URL at
import), on its own database, emptied and filled again each run:

1. N open orders (a CBC with differential from one reference lab, each for its own patient,
   its specimen with the courier) and, for each, the ORU^R01 the lab test double writes for it:
   20 OBX with units, reference ranges and flags (medassist.hl7.lab_double), built beforehand;
2. the listener as it runs in production (`medassist hl7 listen`) in its own process on
   127.0.0.1, and --connections client connections sending their share of the messages one
   after the other, each waiting for its ACK (MSA-1 AA, MSA-2 its MSH-10) before the next;
3. messages per second (all of them over the wall time), p50/p95/max from sending a message to
   having its ACK, and what was stored at the end (every message filed once: N reports, 20 N
   results, N inbound messages).

    python bench/oru.py --out FILE [--messages N] [--connections K]
"""

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from medassist.core import clock  # noqa: E402
from medassist.core.testing import make_cast  # noqa: E402
from medassist.hl7.er7 import Provider, Sender  # noqa: E402
from medassist.hl7.lab_double import LabDouble  # noqa: E402
from medassist.hl7.lab_orders import (  # noqa: E402
    LabOrderMessage,
    OrderedTest,
    SpecimenInfo,
    build_lab_order,
)
from medassist.hl7.mllp import FrameReader, frame  # noqa: E402
from medassist.hl7.people import patient_info  # noqa: E402
from medassist.labs.draw import Container  # noqa: E402
from medassist.labs.models import (  # noqa: E402
    InboundMessage,
    LabOrder,
    LabReport,
    LabRequisition,
    LabResult,
    LabTest,
    PerformingLab,
    Specimen,
)
from medassist.patients.models import Patient  # noqa: E402
from medassist.patients.services import fill_search_keys  # noqa: E402

CBC = "57021-8"  # CBC W Auto Differential panel - Blood (loinc.org): 20 results
WARM_UP = 20


def log(msg: str) -> None:
    print(f"  {msg}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def open_orders(cast, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """n CBC orders, each for its own patient and collected, and the ORU^R01 for each."""
    north = cast.north
    lab = PerformingLab.objects.create(
        clinic=north,
        name="Prairie Reference Laboratory",
        application="PRLLIS",
        facility="PRL",
        clinic_facility="NORTHFM",
    )
    test = LabTest.objects.create(
        clinic=north,
        lab=lab,
        loinc=CBC,
        name="CBC with differential",
        lab_code="005009",
        specimen_type="BLD",
        container=Container.LAVENDER,
        volume_ml=Decimal("3"),
    )
    now = clock.now()
    drawn = now - dt.timedelta(hours=6)
    patients = Patient.objects.bulk_create(
        fill_search_keys(
            Patient(
                network_id=north.network_id,
                clinic=north,
                mrn=f"{7_000_000 + i}",
                family=f"Bench{i:05d}",
                given="Pat",
                birth_date=dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                sex="female" if i % 2 else "male",
            )
        )
        for i in range(n)
    )
    requisitions = LabRequisition.objects.bulk_create(
        LabRequisition(
            clinic=north,
            patient=p,
            lab=lab,
            number=f"NORTH-REQ{i:06d}",
            ordered_by=cast.bob,
            ordered_at=now - dt.timedelta(hours=7),
            diagnoses=[{"code": "Z00.00", "display": "General adult examination"}],
        )
        for i, p in enumerate(patients)
    )
    orders = LabOrder.objects.bulk_create(
        LabOrder(
            clinic=north,
            patient=r.patient,
            requisition=r,
            test=test,
            placer_number=f"NORTH-{i:08d}",
            stage=LabOrder.Stage.IN_TRANSIT,
        )
        for i, r in enumerate(requisitions)
    )
    specimens = Specimen.objects.bulk_create(
        Specimen(
            clinic=north,
            patient=o.patient,
            requisition=o.requisition,
            accession=f"NORTH-S{i:07d}",
            container=Container.LAVENDER,
            specimen_type="BLD",
            status=Specimen.Status.IN_TRANSIT,
            collected_at=drawn,
            collected_by=cast.alice,
            method=Specimen.Method.VENIPUNCTURE,
            identifiers_confirmed=["name", "birth_date"],
        )
        for i, o in enumerate(orders)
    )
    Specimen.orders.through.objects.bulk_create(
        Specimen.orders.through(specimen_id=s.pk, laborder_id=o.pk)
        for s, o in zip(specimens, orders, strict=True)
    )
    bob = Provider(id=str(cast.bob.pk), family="Okafor", given="Robert", credential="MD")
    sender = Sender(
        application="MEDASSIST",
        facility="NORTHFM",
        receiving_application="PRLLIS",
        receiving_facility="PRL",
    )
    double = LabDouble(application="PRLLIS")  # writes results; never started, no socket
    messages = []
    for i, (p, r, o, s) in enumerate(zip(patients, requisitions, orders, specimens, strict=True)):
        order = build_lab_order(
            LabOrderMessage(
                message_type="ORM^O01",
                control="NW",
                control_id=f"ORD{i:08d}",
                sent_at=r.ordered_at,
                sender=sender,
                patient=patient_info(p),
                requisition_number=r.number,
                ordered_at=r.ordered_at,
                ordering_provider=bob,
                tests=(
                    OrderedTest(
                        placer_number=o.placer_number,
                        loinc=CBC,
                        name=test.name,
                        specimen_type="BLD",
                        specimens=(
                            SpecimenInfo(
                                accession=s.accession, specimen_type="BLD", collected_at=drawn
                            ),
                        ),
                    ),
                ),
            )
        )
        # Some abnormal and critical values, as a day's results have.
        values = {"718-7": "6.4"} if i % 50 == 0 else ({"6690-2": "12.9"} if i % 7 == 0 else {})
        flags = {"718-7": "LL"} if i % 50 == 0 else {}
        messages.append(double.result_for(order, values=values, flags=flags, reported_at=now))
    return messages


def start_listener(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """`medassist hl7 listen --port 0` in its own process; the port it took."""
    command = [sys.executable, "-m", "medassist.cli", "hl7", "listen", "--port", "0"]
    process = subprocess.Popen(  # noqa: S603 (our own command)
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Listening" not in line:
        process.kill()
        raise RuntimeError(f"the listener did not start: {line!r}")
    return process, int(line.strip().rsplit(":", 1)[1])


class Client(threading.Thread):
    """One connection of the lab's interface engine: a message, its ACK, the next."""

    def __init__(self, port: int, messages: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.messages = port, messages
        self.latencies_ms: list[float] = []
        self.not_accepted: list[str] = []

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as conn:
            reader = FrameReader()
            for message in self.messages:
                control_id = message.split("\r", 1)[0].split("|")[9]
                started = time.perf_counter()
                conn.sendall(frame(message))
                replies: list[str] = []
                while not replies:
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise ConnectionError("the listener closed the connection")
                    replies = reader.feed(chunk)
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                msa = next(s for s in replies[0].split("\r") if s.startswith("MSA")).split("|")
                if msa[1] != "AA" or msa[2] != control_id:
                    self.not_accepted.append(f"{control_id}: {replies[0][:300]!r}")


def send_all(port: int, messages: list[str], connections: int) -> tuple[list[Client], float]:
    clients = [Client(port, messages[i::connections]) for i in range(connections)]
    started = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    return clients, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    cast = make_cast()
    log(f"{args.messages + WARM_UP:,} open CBC orders and their ORU^R01 (20 OBX each)")
    started = time.perf_counter()
    messages = open_orders(cast, args.messages + WARM_UP)
    log(f"built in {time.perf_counter() - started:.1f} s; starting `medassist hl7 listen`")
    connection.close()
    listener, port = start_listener(dict(os.environ))
    try:
        send_all(port, messages[:WARM_UP], 1)
        log(f"sending {args.messages:,} messages over {args.connections} connection(s)")
        clients, seconds = send_all(port, messages[WARM_UP:], args.connections)
    finally:
        listener.terminate()
        listener.wait(timeout=30)
    latencies = [ms for c in clients for ms in c.latencies_ms]
    problems = [p for c in clients for p in c.not_accepted]
    for p in problems[:3]:
        log(f"not accepted: {p}")
    total = args.messages + WARM_UP
    result = {
        "database": connection.vendor,
        "messages": args.messages,
        "connections": args.connections,
        "obx_per_message": 20,
        "seconds": round(seconds, 2),
        "per_second": round(args.messages / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
        "not_accepted": len(problems),
        "stored": {
            "filed": InboundMessage.objects.filter(status=InboundMessage.Status.FILED).count(),
            "inbound": InboundMessage.objects.count(),
            "reports": LabReport.objects.count(),
            "results": LabResult.objects.count(),
            "expected_reports": total,
        },
    }
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
