"""The `medassist` command: Django's management commands under one name.

medassist demo [--port N] [--no-serve]   set up the demo database and serve it
medassist serve [--port N]               serve the application
medassist token USERNAME                 print a bearer token for the API
medassist audit verify                   check the audit trail's hash chain
medassist migrate | check | ...          any other management command
"""

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(__doc__)
        args = args or ["help"]
    execute_from_command_line(["medassist", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
