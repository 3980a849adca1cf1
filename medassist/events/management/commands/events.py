"""medassist events run: deliver the outbox messages that are due (run it every minute from
cron or a systemd timer; safe to overlap)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from medassist.events.services import process_outbox


class Command(BaseCommand):
    help = "Work the outbox: `events run` delivers queued messages that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run"])
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        result = process_outbox(limit=options["limit"])
        self.stdout.write(str(result))
