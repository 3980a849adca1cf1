import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from medassist.audit import selectors
from medassist.audit.forms import AuditFilterForm
from medassist.core import clock


@login_required
@require_GET
def report(request):  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.GET)
    report = selectors.audit_report(
        request.actor,
        form.to_filters() if form.is_valid() else None,
        page_number=request.GET.get("page", 1),
    )
    context = {"form": form, "report": report, "headers": form.headers()}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "audit/partials/_table.html", context)
    return render(request, "audit/report.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection), and
# users type some of these columns (reason, user name): such cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


@login_required
@require_GET
def export(request):  # type: ignore[no-untyped-def]
    """The filtered trail as CSV: every matching entry, streamed; the export is audited."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        problems = " ".join(form.error_lines())
        return HttpResponse(
            f"Filters not valid. {problems}\n", status=400, content_type="text/plain"
        )
    rows = selectors.export_audit_events(request.actor, form.to_filters())
    writer = csv.writer(_Echo())
    header = writer.writerow(selectors.EXPORT_COLUMNS)
    stream = (writer.writerow([_cell(v) for v in row]) for row in rows)
    response = StreamingHttpResponse(_prepend(header, stream), content_type="text/csv")
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


def _prepend(first, rest):  # type: ignore[no-untyped-def]
    yield first
    yield from rest
