"""medassist hl7 vxu IMMUNIZATION_ID   print the VXU^V04 that reports this dose (nothing is sent)
medassist hl7 receive FILE [FILE...] take lab results from files, as if they came over MLLP
medassist hl7 listen [--host H] [--port P]   the MLLP listener for lab results

IMMUNIZATION_ID is the dose's FHIR id (Immunization.id, the public id in its page's address).
The message is printed one segment per line; on the wire segments end with a carriage return.

`receive` takes each FILE as one message (or several, when the file holds MLLP blocks or more
than one MSH), stores and files it exactly as the listener does, and prints the ACK of each,
one segment per line with a blank line between; the exit status is 1 when any ACK is not AA.

`listen` answers each message with its ACK once it is stored (Ctrl-C or SIGTERM stops it). It
listens on 127.0.0.1 unless told otherwise: put it behind the VPN or TLS tunnel the lab's
interface engine connects through, never on an open port.
"""

import re
import signal
import threading
import uuid
from pathlib import Path
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.access.actor import Actor
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.hl7.ack import parse_ack
from medassist.hl7.er7 import decode
from medassist.hl7.lab_intake import ResultListener, receive
from medassist.hl7.mllp import START_BLOCK, FrameReader
from medassist.hl7.registry import vxu_for_immunization
from medassist.immunizations.models import Immunization


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
        "lab results from files; `listen` runs the MLLP listener for lab results."
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

    def handle(self, *args: object, **options: object) -> None:
        what = options["what"]
        if what == "vxu":
            self._vxu(str(options["immunization_id"]))
        elif what == "receive":
            self._receive([str(f) for f in cast(list[str], options["files"])])
        elif what == "listen":
            self._listen(str(options["host"]), cast(int, options["port"]))

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
            Actor(user=AnonymousUser(), channel="cli"),
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
