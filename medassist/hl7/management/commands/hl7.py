"""medassist hl7 vxu IMMUNIZATION_ID   print the VXU^V04 that reports this dose (nothing is sent)

IMMUNIZATION_ID is the dose's FHIR id (Immunization.id, the public id in its page's address).
The message is printed one segment per line; on the wire segments end with a carriage return.
"""

import uuid

from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.access.actor import Actor
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.hl7.registry import vxu_for_immunization
from medassist.immunizations.models import Immunization


class Command(BaseCommand):
    help = "HL7 v2 messages: `vxu ID` prints the VXU for an immunization."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        vxu = sub.add_parser("vxu", help="print the VXU^V04 (Z22) for an immunization")
        vxu.add_argument("immunization_id", help="the Immunization's FHIR id")

    def handle(self, *args: object, **options: object) -> None:
        if options["what"] == "vxu":
            ident = str(options["immunization_id"])
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
