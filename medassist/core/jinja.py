"""The Jinja2 environment, for the few templates that render hundreds of rows per request (the
flow board). Django's own template language stays the project's default; Jinja2 compiles a
template to Python and renders a 900-row board several times faster."""

from typing import Any

from jinja2 import Environment, StrictUndefined


def environment(**options: Any) -> Environment:
    # StrictUndefined: a misspelt name is an error in the tests, never a silent blank cell.
    options["undefined"] = StrictUndefined
    return Environment(**options)  # noqa: S701 (autoescape is on: Django's backend sets it)
