"""medassist vitals escalate: mark every critical-value alert left unacknowledged past its
clinic's time as escalated to the clinic manager. Pages that show alerts do this as they poll;
run it every minute from cron or a systemd timer so escalation happens even when nobody has
medassist open (safe to overlap)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from medassist.clinics.models import Clinic
from medassist.vitals.services import escalate_due


class Command(BaseCommand):
    help = "Critical-value alerts: `vitals escalate` escalates the overdue ones to the manager."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["escalate"])

    def handle(self, *args: Any, **options: Any) -> None:
        count = escalate_due(Clinic.objects.values_list("pk", flat=True))
        self.stdout.write(f"{count} alert{'s' if count != 1 else ''} escalated")
