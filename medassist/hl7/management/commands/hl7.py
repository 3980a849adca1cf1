"""medassist hl7 vxu IMMUNIZATION_ID   print the VXU^V04 that reports this dose (nothing is sent)
medassist hl7 receive FILE [FILE...] take lab results from files, as if they came over MLLP
medassist hl7 listen [--host H] [--port P]   the MLLP listener for lab results
medassist hl7 queue [--attach]       the lab messages waiting in the error queue, every clinic's

IMMUNIZATION_ID is the dose's FHIR id (Immunization.id, the public id in its page's address).
The message is printed one segment per line; on the wire segments end with a carriage return.

`receive` takes each FILE as one message (or several, when the file holds MLLP blocks or more
than one MSH), stores and files it exactly as the listener does, and prints the ACK of each,
one segment per line with a blank line between; the exit status is 1 when any ACK is not AA.

`listen` answers each message with its ACK once it is stored (Ctrl-C or SIGTERM stops it). It
listens on 127.0.0.1 unless told otherwise: put it behind the VPN or TLS tunnel the lab's
interface engine connects through, never on an open port.

`queue` lists every lab message not filed and waiting for a person (AE "error", AR
"rejected"), oldest first, those of no clinic included (a sender whose MSH-4 / MSH-6 match no
lab: no clinic manager's page shows them): when it came, its MSH-10, sender and status, and
each problem with its place and HL7 code. No patient names: problems about the patient's name,
birth date or address say where they are, not what they say. With `--attach` it first gives
each message of no clinic to the lab its MSH-4 / MSH-6 now name (after the manager set the
ids on the lab's page); that clinic's interface queue then shows it, and its Retry files it.
"""

import re
import signal
import threading
import uuid
from pathlib import Path
from typing import cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.access.actor import Actor
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.hl7.ack import parse_ack
from medassist.hl7.er7 import decode
from medassist.hl7.lab_intake import ResultListener, attach_unassigned, receive
from medassist.hl7.mllp import START_BLOCK, FrameReader
from medassist.hl7.registry import vxu_for_immunization
from medassist.immunizations.models import Immunization
from medassist.labs.models import InboundMessage

_CLI = "system:cli"
# PID fields that describe the patient beyond the MRN (PID-3): name, mother's maiden name, birth
# date, sex, race, address, phones. A problem there is listed by its place alone.
_ABOUT_THE_PATIENT = re.compile(r"^PID(\[\d+\])?-(5|6|7|8|10|11|13|14)\b")


def messages_in(data: bytes) -> list[str]:
    """The messages of a file: its MLLP blocks, or each run of segments from one MSH to the
    next (a file of several messages one after the other), or the whole text."""
    if START_BLOCK in data:
        return FrameReader().feed(data)
    text = decode(data).lstrip("\ufeff")
    parts = re.split(r"(?:\r\n|\r|\n)(?=MSH\|)", text.strip())
    return [p for p in parts if p.strip()]


class Command(BaseCommand):
    help = (
        "HL7 v2 messages: `vxu ID` prints the VXU for an immunization; `receive FILE...` takes "
        "lab results from files; `listen` runs the MLLP listener for lab results; `queue` lists "
        "the lab messages waiting in the error queue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        vxu = sub.add_parser("vxu", help="print the VXU^V04 (Z22) for an immunization")
        vxu.add_argument("immunization_id", help="the Immunization's FHIR id")
        take = sub.add_parser("receive", help="take ORU^R01 lab results from files")
        take.add_argument("files", nargs="+", metavar="FILE")
        listen = sub.add_parser("listen", help="the MLLP listener for ORU^R01 lab results")
        listen.add_argument("--host", default="127.0.0.1")
        listen.add_argument("--port", type=int, default=2575)
        queue = sub.add_parser(
            "queue", help="list the lab messages waiting in the error queue (every clinic's)"
        )
        queue.add_argument(
            "--attach",
            action="store_true",
            help="first give messages of no clinic to the lab their MSH-4 / MSH-6 now name",
        )

    def handle(self, *args: object, **options: object) -> None:
        what = options["what"]
        if what == "vxu":
            self._vxu(str(options["immunization_id"]))
        elif what == "receive":
            self._receive([str(f) for f in cast(list[str], options["files"])])
        elif what == "listen":
            self._listen(str(options["host"]), cast(int, options["port"]))
        elif what == "queue":
            self._queue(attach=bool(options["attach"]))

    def _vxu(self, ident: str) -> None:
        try:
            uuid.UUID(ident)
        except ValueError as error:
            raise CommandError(f"{ident!r} is not an Immunization id (a UUID).") from error
        try:
            message = vxu_for_immunization(ident)
        except Immunization.DoesNotExist as error:
            raise CommandError(f"No immunization with id {ident}.") from error
        except ValueError as error:
            raise CommandError(f"The record cannot be sent as a VXU: {error}") from error
        dose = Immunization.objects.select_related("patient").get(public_id=ident)
        record(
            Actor.system("cli"),
            Action.PRINT,
            "Immunization",
            patient=dose.patient,
            clinic_id=dose.clinic_id,
            entity_id=ident,
            description="VXU printed by `medassist hl7 vxu` on the server",
            username="system:cli",
        )
        self.stdout.write(message.replace("\r", "\n").rstrip("\n"))

    def _receive(self, files: list[str]) -> None:
        total = not_accepted = 0
        unreadable: list[str] = []
        for name in files:
            try:
                data = Path(name).read_bytes()
            except OSError as error:
                self.stderr.write(f"{name}: cannot read it ({error.strerror or error}).")
                unreadable.append(name)
                continue
            found = messages_in(data) or [""]
            for n, message in enumerate(found, start=1):
                ack = receive(message, channel="file")
                code = parse_ack(ack).code
                total += 1
                if code != "AA":
                    not_accepted += 1
                where = f"{name}" + (f" (message {n} of {len(found)})" if len(found) > 1 else "")
                self.stderr.write(f"{where}: {code}")
                if total > 1:
                    self.stdout.write("")
                self.stdout.write(ack.replace("\r", "\n").rstrip("\n"))
        if unreadable or not_accepted:
            parts = []
            if not_accepted:
                parts.append(f"{not_accepted} of {total} messages not accepted (AE/AR)")
            if unreadable:
                parts.append(f"{len(unreadable)} file(s) unreadable: {', '.join(unreadable)}")
            raise CommandError("; ".join(parts) + ".")

    def _listen(self, host: str, port: int) -> None:
        stop = threading.Event()
        try:
            server = ResultListener(host=host, port=port)
            server.start()
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        previous = None
        if threading.current_thread() is threading.main_thread():  # signals go to it alone
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(f"Listening for lab results (MLLP) on {server.host}:{server.port}")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            server.stop()
            self.stdout.write("Stopped.")

    def _queue(self, *, attach: bool) -> None:
        actor = Actor.system("cli")
        if attach:
            for row in attach_unassigned(actor, username=_CLI):
                self.stdout.write(
                    f"Attached MSH-10 {row.control_id or '(none)'} from {row.sender} to "
                    f"{row.lab.name if row.lab else '?'}."
                )
        waiting = list(
            InboundMessage.objects.filter(
                status__in=(InboundMessage.Status.ERROR, InboundMessage.Status.REJECTED)
            )
            .select_related("clinic", "lab", "duplicate_of")
            .order_by("received_at", "id")
        )
        no_clinic = sum(1 for m in waiting if m.clinic_id is None)
        record(
            actor,
            Action.READ,
            "MessageHeader",
            entity_id="lab-interface",
            description=(
                f"lab interface queue listed by `medassist hl7 queue`: {len(waiting)} message(s) "
                f"waiting, {no_clinic} of no clinic"
            ),
            username=_CLI,
        )
        if not waiting:
            self.stdout.write("No lab message is waiting.")
            return
        for n, row in enumerate(waiting):
            if n:
                self.stdout.write("")
            self.stdout.write(_describe(row))
            for problem in row.errors or []:
                self.stdout.write(f"  {_problem(problem)}")
        self.stdout.write("")
        self.stdout.write(
            f"{len(waiting)} message(s) waiting"
            + (f", {no_clinic} of no clinic (an unknown sender)" if no_clinic else "")
            + "."
        )


def _describe(row: InboundMessage) -> str:
    received = clock.localtime(row.received_at)
    where = row.clinic.code if row.clinic else "no clinic"
    parts = [
        f"{received:%Y-%m-%d %H:%M %Z}",
        f"MSH-10 {row.control_id or '(none)'}",
        f"from {row.sender or '(no sender)'}",
        row.message_type or "(no type)",
        f"{row.ack_code or '--'} {row.status}",
        where if row.lab is None else f"{where}, {row.lab.name}",
        f"id {row.public_id}",
    ]
    if row.repeats:
        parts.append(f"received {row.repeats + 1} times")
    if row.duplicate_of is not None:
        first = clock.localtime(row.duplicate_of.received_at)
        parts.append(f"MSH-10 first used {first:%Y-%m-%d %H:%M}")
    return "  ".join(parts)


def _problem(problem: dict[str, str]) -> str:
    location = str(problem.get("location") or "")
    code = str(problem.get("code") or "")
    text = str(problem.get("text") or "")
    if _ABOUT_THE_PATIENT.match(location):
        text = "(what it says about the patient is shown on the clinic's interface page)"
    head = " ".join(p for p in (location, f"[{code}]" if code else "") if p)
    return f"{head}: {text}" if head else text
