"""medassist audit <subcommand>: looking after the audit trail from the command line."""

from argparse import ArgumentTypeError, RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from medassist.audit.services import Anchor, ChainBreak, verify_chain

VERIFY_HELP = """\
Walk the whole audit trail in order and check its hash chain (SHA-256): each entry's hash
covers its content and the hash of the entry before it. A changed entry, a removed entry in the
middle, or a reordering is reported as the first broken entry, and the command exits non-zero.

Limit: the chain alone cannot show that the *latest* entries were removed (nothing follows them
to notice), nor a chain recomputed end to end by someone who can write the table. For that, keep
the "anchor" this command prints (entry id and hash) somewhere outside the database, and pass it
next time with --anchor: the check then also fails when that entry is gone or differs.
"""


def _anchor(text: str) -> Anchor:
    try:
        return Anchor.parse(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError(f"a positive whole number, not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = "Look after the audit trail. Subcommands: verify."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify}")
        verify = sub.add_parser(
            "verify",
            help="check the audit trail's hash chain",
            description=VERIFY_HELP,
            formatter_class=RawDescriptionHelpFormatter,
        )
        verify.add_argument(
            "--anchor",
            type=_anchor,
            help="ID:HASH printed by an earlier run; fail if that entry is gone or changed",
        )
        verify.add_argument(
            "--progress-every",
            type=_positive,
            default=100_000,
            metavar="N",
            help="report progress on stderr every N entries (default 100000)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self.verify(anchor=options["anchor"], progress_every=options["progress_every"])

    def verify(self, *, anchor: Anchor | None, progress_every: int) -> None:
        def progress(checked: int) -> None:
            self.stderr.write(f"… {_entries(checked)} checked")

        check = verify_chain(anchor=anchor, on_progress=progress, progress_every=progress_every)
        if check.broken is not None:
            self.stdout.write(f"{_entries(check.checked)} checked before the break.")
            raise CommandError(f"audit trail broken at {describe(check.broken)}")
        self.stdout.write(f"{_entries(check.checked)} checked: audit trail intact.")
        if anchor is not None:
            self.stdout.write(f"Anchor entry #{anchor.event_id} found unchanged.")
        if check.head is not None:
            self.stdout.write(f"Anchor for next time (keep it outside the database): {check.head}")


def _entries(n: int) -> str:
    return f"{n:,} {'entry' if n == 1 else 'entries'}"


def describe(brk: ChainBreak) -> str:
    event = brk.event
    if event is None:
        return f"the end of the trail: {brk.problem}"
    when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S %Z")
    who = event.username or "(no user)"
    return (
        f"entry #{event.pk} ({when}, user {who}, action {event.action}, "
        f"{event.entity_type}): {brk.problem}"
    )
