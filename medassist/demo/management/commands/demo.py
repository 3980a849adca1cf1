from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from medassist.core.testing import DEMO_PASSWORD
from medassist.demo.seed import demo_logins, has_demo_data, load_demo


class Command(BaseCommand):
    help = (
        "Set up the demo: migrate the database, load the demo clinic network (two clinics, "
        "their staff and 240 synthetic patients each, the same on every machine) unless the "
        "database already holds one, print the demo logins, then serve on 127.0.0.1 "
        "(see `medassist serve`). Running it again keeps the data as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="default 8000")
        parser.add_argument(
            "--no-serve", action="store_true", help="set up the database and stop there"
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="erase EVERYTHING in the database (the audit trail too), then load the demo",
        )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write("Migrating the database ...")
        call_command("migrate", interactive=False, verbosity=0)
        if options["reset"]:
            self.stdout.write("Erasing the database (--reset) ...")
            call_command("flush", interactive=False, verbosity=0)
        if has_demo_data():
            self.stdout.write(
                "The database already holds a clinic network: demo data left as it is "
                "(--reset starts over)."
            )
        else:
            self.stdout.write("Loading the demo clinic network ...")
            loaded = load_demo(progress=lambda msg: self.stdout.write(f"  {msg}"))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {loaded.patients} patients and {loaded.encounters} visits "
                    f"(MRN {loaded.first_mrn} to {loaded.last_mrn}); {loaded.appointments} "
                    "appointments booked from today over the next five working days."
                )
            )
        self._print_logins()
        if not options["no_serve"]:
            call_command("serve", port=options["port"])

    def _print_logins(self) -> None:
        logins = demo_logins()
        if not logins:
            return
        rows = [
            (login.username, role, ", ".join(clinics))
            for login in logins
            for role, clinics in login.roles
        ]
        user_w = max(len(r[0]) for r in rows)
        role_w = max(len(r[1]) for r in rows)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (the password of every one is {DEMO_PASSWORD}):")
        for login in logins:
            for i, (role, clinics) in enumerate(login.roles):
                user = login.username if i == 0 else ""
                self.stdout.write(f"  {user:<{user_w}}  {role:<{role_w}}  {', '.join(clinics)}")
            if login.mfa_required:
                self.stdout.write(
                    f"  {'':<{user_w}}  must enroll an authenticator app (TOTP) at first login"
                )
        self.stdout.write("")
