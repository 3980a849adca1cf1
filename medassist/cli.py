"""The `medassist` command: Django's management commands under one name.

medassist demo [--port N] [--no-serve] [--reset]
                                      set up the demo database and serve it
                                      (--reset erases the database first)
medassist serve [--host H] [--port N] serve the application (127.0.0.1:8000)
medassist token USERNAME              print a bearer token for the API
medassist audit verify [--anchor ID:HASH]
                                      check the audit trail's hash chain (and
                                      that an anchor noted earlier still holds)
medassist migrate | check | ...       any other management command
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
