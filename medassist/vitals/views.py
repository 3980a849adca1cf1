"""Pages of vital signs: the alert banner every provider's page polls, acknowledging an alert,
the alerts page with time to acknowledge, a patient's trends and growth charts, and the
clinic's critical-value policy. (Recording is a step of the rooming worklist: rooming/views.py.)
Thin: parse input, call one service or selector, render."""

import datetime as dt
import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.core.forms import safe_next
from medassist.vitals import forms, plots, selectors, services
from medassist.vitals.policy import Policy


def _open_alerts(request):  # type: ignore[no-untyped-def]
    actor = request.actor
    services.escalate_due(actor.clinics_with(Permission.ACKNOWLEDGE_ALERT))
    return list(selectors.alerts_for(actor)[:20])


@login_required
@require_GET
def banner(request):  # type: ignore[no-untyped-def]
    """The alerts waiting for this user, polled by every page. Answers 204 when nothing changed
    since the fingerprint the page holds, so polling costs two queries and no audit entry."""
    alerts = _open_alerts(request)
    fingerprint = hashlib.sha256(
        "|".join(f"{a.public_id}:{a.escalated_at}" for a in alerts).encode()
    ).hexdigest()[:16]
    if request.GET.get("fp") == fingerprint:
        return HttpResponse(status=204)
    if alerts:
        record(
            request.actor,
            Action.READ,
            "Task",
            entity_id=",".join(str(a.public_id) for a in alerts)[:200],
            description=f"critical-value alerts shown: {len(alerts)}",
        )
    return render(
        request,
        "vitals/partials/_banner.html",
        {"alerts": alerts, "fp": fingerprint, "next": safe_next(request, reverse("home"))},
    )


@login_required
@require_POST
def acknowledge(request, alert_id):  # type: ignore[no-untyped-def]
    alert = selectors.get_alert(request.actor, alert_id)
    form = forms.AcknowledgeForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.acknowledge_alert(actor=request.actor, alert=alert, note=note)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect(safe_next(request, reverse("vitals:alerts")))
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Alert for {alert.patient.display_name} acknowledged.")
    return redirect(safe_next(request, reverse("vitals:alerts")))


@login_required
@require_POST
def retract(request, sign_id):  # type: ignore[no-untyped-def]
    """Mark one value as entered in error, with the reason; back to where the user was."""
    sign = selectors.get_sign(request.actor, sign_id)
    fallback = (
        reverse("rooming:worklist", kwargs={"visit_id": sign.encounter.public_id}) + "#step-vitals"
        if sign.encounter is not None
        else reverse("vitals:trends", kwargs={"patient_id": sign.patient.public_id})
    )
    form = forms.RetractForm(request.POST)
    try:
        services.retract_sign(
            actor=request.actor,
            sign=sign,
            reason=form.cleaned_data["reason"] if form.is_valid() else "",
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{sign.get_measure_display()} marked as entered in error.")
    return redirect(safe_next(request, fallback))


@login_required
@require_GET
def alerts(request):  # type: ignore[no-untyped-def]
    actor = request.actor
    open_alerts = _open_alerts(request)
    if open_alerts:
        record(
            actor,
            Action.READ,
            "Task",
            entity_id=",".join(str(a.public_id) for a in open_alerts)[:200],
            description=f"critical-value alerts shown: {len(open_alerts)}",
        )
    reports = []
    since = clock.now() - dt.timedelta(days=30)
    for clinic in Clinic.objects.filter(pk__in=actor.clinics_with(Permission.VIEW_CLINIC_REPORTS)):
        reports.append((clinic, selectors.acknowledgment_report(actor, clinic, since)))
    return render(request, "vitals/alerts.html", {"alerts": open_alerts, "reports": reports})


@login_required
@require_GET
def trends(request, patient_id):  # type: ignore[no-untyped-def]
    patient, trends = selectors.patient_trends(request.actor, patient_id)
    charts = [(t, plots.trend_svg(t)) for t in trends]
    growth = plots.growth_charts(patient, trends) if selectors.is_child(patient) else []
    return render(
        request, "vitals/trends.html", {"patient": patient, "charts": charts, "growth": growth}
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy(request):  # type: ignore[no-untyped-def]
    actor = request.actor
    clinics = list(
        Clinic.objects.filter(pk__in=actor.clinics_with(Permission.MANAGE_VITALS_POLICY))
    )
    if not clinics:
        raise PermissionDenied("Only the clinic manager sets the critical-value policy.")
    clinic = next((c for c in clinics if c.code == request.GET.get("clinic")), clinics[0])
    current = services.clinic_policy(clinic.pk)
    if request.method == "POST":
        form = forms.PolicyForm(request.POST)
        if form.is_valid():
            services.save_policy(actor=actor, clinic=clinic, values=form.cleaned_data)
            messages.success(request, f"Critical-value policy of {clinic.name} saved.")
            return redirect(reverse("vitals:policy") + f"?clinic={clinic.code}")
    else:
        form = forms.PolicyForm(initial=vars(current))
    return render(
        request,
        "vitals/policy.html",
        {"form": form, "clinic": clinic, "clinics": clinics, "defaults": Policy()},
        status=422 if request.method == "POST" else 200,
    )
