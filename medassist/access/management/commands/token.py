"""medassist token USERNAME: print a bearer token for the FHIR API.

Only the token goes to standard output, so that a script can capture it:
    export TOKEN=$(medassist token alice --days 30)
"""

from argparse import ArgumentTypeError
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from medassist.access.tokens import issue_token, revoke_tokens


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise ArgumentTypeError(f"a number of days from 1 to 3650, not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = "Print a new bearer token for the FHIR API (shown once; only its hash is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--days", type=_days, metavar="N", help="expire after N days (default: never)"
        )
        parser.add_argument("--name", help="what the token is for (default: cli)")
        parser.add_argument(
            "--revoke",
            action="store_true",
            help="revoke the user's tokens instead (only those called --name, if given)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"No user called {username!r}.") from None
        if options["revoke"]:
            count = revoke_tokens(user=user, name=options["name"])
            self.stdout.write(f"Revoked {count} token(s) of {username}.")
            return
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated; a token would not work.")
        self.stdout.write(
            issue_token(user=user, name=options["name"] or "cli", days=options["days"])
        )
