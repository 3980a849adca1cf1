from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Serve medassist over HTTP with Django's own server: one process, no auto-reload, "
        "static files served by WhiteNoise (so no --insecure is needed with DEBUG off). "
        "Right for the demo and a single workstation; a clinic runs a production WSGI server "
        "(e.g. gunicorn config.wsgi) behind TLS instead. A host other than 127.0.0.1 or "
        "localhost must also be listed in MEDASSIST_ALLOWED_HOSTS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="default 8000")
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )

    def handle(self, *args: object, **options: object) -> None:
        host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
        ipv6 = ":" in host
        addrport = f"[{host}]:{port}" if ipv6 else f"{host}:{port}"
        call_command("runserver", addrport, use_reloader=False, use_ipv6=ipv6)
