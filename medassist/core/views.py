from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import render


def healthz(request):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return JsonResponse(
        {
            "status": "ok",
            "database": {"vendor": connection.vendor},
            "migrations": {"applied": not pending, "pending": len(pending)},
        }
    )


@login_required
def home(request):  # type: ignore[no-untyped-def]
    """The start page: the search box, and the actions the user's roles allow (`may`, from
    medassist.access.context_processors)."""
    return render(request, "core/home.html")
