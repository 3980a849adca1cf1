"""Pages for the provider's results inbox, a report (review, release, telling the patient),
critical-result alerts (the banner every reviewing provider's page polls), a patient's results
and trends, and the HL7 interface's error queue. Thin: parse input, call one service or
selector, render."""

import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from medassist.access.permissions import Permission
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.core.forms import GENERAL, errors_by_field, safe_next
from medassist.labs import forms_results as forms
from medassist.labs import plots
from medassist.labs.intake import NotFiled
from medassist.labs.selectors import results as selectors
from medassist.labs.services import results as services


def _form_errors(form: Any) -> dict[str, list[str]]:
    return {(GENERAL if k == NON_FIELD_ERRORS else k): list(v) for k, v in form.errors.items()}


def _report_url(report: Any) -> str:
    return reverse("labs:report", kwargs={"report_id": report.public_id})


# -- The inbox ------------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    box = selectors.inbox(request.actor)  # type: ignore[attr-defined]
    return render(request, "labs/results/inbox.html", {"box": box})


# -- A report -------------------------------------------------------------------------------------


def _report_page(
    request: HttpRequest,
    report: Any,
    *,
    errors: dict[str, list[str]] | None = None,
    data: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    view = selectors.report_view(request.actor, report)  # type: ignore[attr-defined]
    data = data or {}
    return render(
        request,
        "labs/results/report.html",
        {
            "v": view,
            "r": view.report,
            "errors": errors or {},
            "release_message": data.get("message", view.report.patient_message),
            "told_how": data.get("how", ""),
            "told_at": data.get("told_at", f"{clock.localtime(clock.now()):%Y-%m-%dT%H:%M}"),
            "told_choices": forms.ToldForm.base_fields["how"].choices,  # type: ignore[attr-defined]
        },
        status=status,
    )


@login_required
@require_GET
def report(request: HttpRequest, report_id: str) -> HttpResponse:
    found = selectors.get_report(request.actor, report_id)  # type: ignore[attr-defined]
    return _report_page(request, found)


def _act(
    request: HttpRequest, report_id: str, form_class: Any, act: Any, done: str
) -> HttpResponse:
    """Shared by the report's actions: parse, call the service, back to the page (or the page
    again with the error, 422)."""
    found = selectors.get_report(request.actor, report_id)  # type: ignore[attr-defined]
    form = form_class(request.POST)
    if not form.is_valid():
        errors = _form_errors(form)
        return _report_page(request, found, errors=errors, data=request.POST.dict(), status=422)
    try:
        act(found, form.cleaned_data)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect(_report_url(found))
    except ValidationError as exc:
        return _report_page(
            request, found, errors=errors_by_field(exc), data=request.POST.dict(), status=422
        )
    messages.success(request, done)
    return redirect(_report_url(found))


@login_required
@require_POST
def review(request: HttpRequest, report_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _act(
        request,
        report_id,
        forms.ReviewForm,
        lambda r, d: services.review_report(actor=actor, report=r, seen_version=d["version"]),
        "Marked reviewed. Release it with a message when the patient may be told.",
    )


@login_required
@require_POST
def release(request: HttpRequest, report_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _act(
        request,
        report_id,
        forms.ReleaseForm,
        lambda r, d: services.release_report(
            actor=actor, report=r, message=d["message"], seen_version=d["version"]
        ),
        "Released: the medical assistant can now tell the patient.",
    )


@login_required
@require_POST
def told(request: HttpRequest, report_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _act(
        request,
        report_id,
        forms.ToldForm,
        lambda r, d: services.record_patient_told(
            actor=actor,
            report=r,
            how=d["how"],
            told_at=d["told_at"],
            seen_version=d["version"],
        ),
        "Recorded that the patient was told.",
    )


# -- Critical-result alerts -----------------------------------------------------------------------


@login_required
@require_GET
def banner(request: HttpRequest) -> HttpResponse:
    """The critical results waiting for this provider (theirs, those of a provider who does not
    review here, and any at their clinics not acknowledged in time), polled by every page.
    Records the escalation of the alerts that just went overdue. Answers 204 when nothing
    changed since the fingerprint the page holds (no rendering, no audit entry)."""
    actor = request.actor  # type: ignore[attr-defined]
    services.escalate_overdue_alerts(
        sorted(
            set(actor.clinics_with(Permission.REVIEW_LAB_RESULTS))
            | set(actor.clinics_with(Permission.ACKNOWLEDGE_ALERT))
        )
    )
    alerts = selectors.open_alerts(actor)
    fingerprint = hashlib.sha256(
        "|".join(
            f"{a.public_id}:{a.reason}:{a.owner_id}:{a.overdue}"  # type: ignore[attr-defined]
            for a in alerts
        ).encode()
    ).hexdigest()[:16]
    if request.GET.get("fp") == fingerprint:
        return HttpResponse(status=204)
    if alerts:
        record(
            actor,
            Action.READ,
            "Task",
            entity_id=",".join(str(a.public_id) for a in alerts)[:64],
            description=f"critical lab result alerts shown: {len(alerts)}",
        )
    return render(
        request,
        "labs/results/partials/_banner.html",
        {
            "alerts": alerts,
            "fp": fingerprint,
            "next": safe_next(request, reverse("home")),
            "escalate_minutes": int(services.escalate_after().total_seconds() // 60),
        },
    )


@login_required
@require_POST
def acknowledge(request: HttpRequest, alert_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    alert = selectors.get_alert(actor, alert_id)
    back = safe_next(request, _report_url(alert.report))
    form = forms.AcknowledgeForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.acknowledge_result_alert(actor=actor, alert=alert, note=note)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Critical result for {alert.patient.display_name} acknowledged.")
    return redirect(back)


# -- A patient's results and trends ---------------------------------------------------------------


@login_required
@require_GET
def patient_results(request: HttpRequest, patient_id: str) -> HttpResponse:
    found = selectors.patient_results(request.actor, patient_id)  # type: ignore[attr-defined]
    return render(request, "labs/results/patient_results.html", {"p": found})


@login_required
@require_GET
def trends(request: HttpRequest, patient_id: str, loinc: str) -> HttpResponse:
    patient, trend = selectors.trend(request.actor, patient_id, loinc)  # type: ignore[attr-defined]
    svg = plots.trend_svg(trend) if trend.points else ""
    return render(
        request, "labs/results/trends.html", {"patient": patient, "trend": trend, "svg": svg}
    )


# -- The interface's error queue ------------------------------------------------------------------


@login_required
@require_GET
def interface(request: HttpRequest) -> HttpResponse:
    queue = selectors.interface_queue(request.actor)  # type: ignore[attr-defined]
    return render(request, "labs/results/interface.html", {"q": queue})


def _message_page(
    request: HttpRequest,
    message_id: str,
    *,
    problems: list[Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    reason: str = "",
    status: int = 200,
) -> HttpResponse:
    view = selectors.message_view(request.actor, message_id)  # type: ignore[attr-defined]
    return render(
        request,
        "labs/results/message.html",
        {
            "m": view,
            "retry_problems": problems,
            "errors": errors or {},
            "reason": reason,
            "may_retry": services.refiler() is not None,
        },
        status=status,
    )


@login_required
@require_GET
def message(request: HttpRequest, message_id: str) -> HttpResponse:
    return _message_page(request, message_id)


@login_required
@require_POST
def retry(request: HttpRequest, message_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.get_inbound(actor, message_id)
    try:
        reports = services.retry_inbound(actor=actor, message=found)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        return _message_page(request, message_id, errors=errors_by_field(exc), status=422)
    except NotFiled as exc:
        return _message_page(request, message_id, problems=exc.problems, status=422)
    else:
        messages.success(
            request,
            f"Message {found.control_id} filed: {len(reports)} "
            f"report{'s' if len(reports) != 1 else ''}.",
        )
    return redirect(reverse("labs:message", kwargs={"message_id": found.public_id}))


@login_required
@require_POST
def dismiss(request: HttpRequest, message_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.get_inbound(actor, message_id)
    form = forms.DismissForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.dismiss_inbound(actor=actor, message=found, reason=reason)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        errors = errors_by_field(exc) if form.is_valid() else _form_errors(form)
        return _message_page(
            request,
            message_id,
            errors=errors,
            reason=str(request.POST.get("reason", ""))[:300],
            status=422,
        )
    else:
        messages.success(request, f"Message {found.control_id} dismissed.")
    return redirect(reverse("labs:message", kwargs={"message_id": found.public_id}))


urlpatterns = [
    path("inbox/", inbox, name="inbox"),
    path("alerts/banner/", banner, name="banner"),
    path("alerts/<uuid:alert_id>/acknowledge/", acknowledge, name="acknowledge-alert"),
    path("reports/<uuid:report_id>/", report, name="report"),
    path("reports/<uuid:report_id>/review/", review, name="review"),
    path("reports/<uuid:report_id>/release/", release, name="release"),
    path("reports/<uuid:report_id>/told/", told, name="told"),
    path("patients/<uuid:patient_id>/results/", patient_results, name="patient-results"),
    path("patients/<uuid:patient_id>/trends/<str:loinc>/", trends, name="trends"),
    path("interface/", interface, name="interface"),
    path("interface/messages/<uuid:message_id>/", message, name="message"),
    path("interface/messages/<uuid:message_id>/retry/", retry, name="message-retry"),
    path("interface/messages/<uuid:message_id>/dismiss/", dismiss, name="message-dismiss"),
]
