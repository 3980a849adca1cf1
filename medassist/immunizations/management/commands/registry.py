"""medassist registry show                      the clinics' immunization registry connections
medassist registry set CLINIC --host H --port P --facility ID [--receiving-application A]
                       [--receiving-facility F] [--timeout S] [--test]
medassist registry off CLINIC                   stop reporting (queued messages stay queued)

CLINIC is the clinic's code (e.g. north). --facility is the clinic's id at the registry (MSH-4);
--test sends processing id T (MSH-11) for the registry's test environment.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.clinics.models import Clinic
from medassist.immunizations.models import RegistryConnection


class Command(BaseCommand):
    help = "The immunization registry (IIS) each clinic reports to over HL7 v2 MLLP."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        sub.add_parser("show")
        setter = sub.add_parser("set")
        setter.add_argument("clinic")
        setter.add_argument("--host", required=True)
        setter.add_argument("--port", type=int, required=True)
        setter.add_argument("--facility", required=True, help="MSH-4 sending facility id")
        setter.add_argument("--receiving-application", default="IIS")
        setter.add_argument("--receiving-facility", default="IIS")
        setter.add_argument("--timeout", type=int, default=10, help="seconds to wait for the ACK")
        setter.add_argument("--test", action="store_true", help="processing id T")
        off = sub.add_parser("off")
        off.add_argument("clinic")

    def _clinic(self, code: str) -> Clinic:
        clinic = Clinic.objects.filter(code=code).first()
        if clinic is None:
            known = ", ".join(Clinic.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"No clinic with code {code!r} (clinics: {known}).")
        return clinic

    def handle(self, *args: object, **options: object) -> None:
        what = options["what"]
        if what == "show":
            rows = RegistryConnection.objects.select_related("clinic").order_by("clinic__code")
            if not rows:
                self.stdout.write("No clinic reports to a registry.")
            for row in rows:
                state = "on" if row.active else "off"
                self.stdout.write(
                    f"{row.clinic.code}: {row.host}:{row.port} as {row.sending_facility} "
                    f"to {row.receiving_application}/{row.receiving_facility} "
                    f"(processing {row.processing_id}, timeout {row.timeout_seconds} s, {state})"
                )
            return
        clinic = self._clinic(str(options["clinic"]))
        if what == "off":
            updated = RegistryConnection.objects.filter(clinic=clinic).update(active=False)
            self.stdout.write(f"{clinic.code}: reporting off" if updated else "Nothing to stop.")
            return
        port = int(str(options["port"]))
        timeout = int(str(options["timeout"]))
        if not 1 <= port <= 65535:
            raise CommandError("The port must be 1 to 65535.")
        if not 1 <= timeout <= 120:
            raise CommandError("The timeout must be 1 to 120 seconds.")
        RegistryConnection.objects.update_or_create(
            clinic=clinic,
            defaults={
                "host": str(options["host"]),
                "port": port,
                "sending_facility": str(options["facility"]),
                "receiving_application": str(options["receiving_application"]),
                "receiving_facility": str(options["receiving_facility"]),
                "timeout_seconds": timeout,
                "processing_id": "T" if options["test"] else "P",
                "active": True,
            },
        )
        self.stdout.write(f"{clinic.code}: reporting to {options['host']}:{port}")
