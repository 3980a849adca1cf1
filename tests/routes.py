"""The application's routes, found by walking the URL configuration."""

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

ID_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]*(?:id|pk|uuid)[^>]*)>")


def walk(patterns, prefix: str = "") -> Iterator[str]:  # type: ignore[no-untyped-def]
    for p in patterns:
        route = prefix + str(p.pattern).lstrip("^").rstrip("$")
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def all_routes() -> list[str]:
    return sorted(set(walk(get_resolver().url_patterns)))


def id_routes() -> list[str]:
    return [r for r in all_routes() if ID_PARAM.search(r)]


def fill(route: str, object_id: str) -> str:
    return "/" + ID_PARAM.sub(object_id, route)
