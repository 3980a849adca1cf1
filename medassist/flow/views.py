"""The clinic day's pages: the flow board, check-in, rooming a patient into a room, the
provider's take and hand-over, checkout with the after-visit summary, rooms, cycle times and
the clinic's targets. Thin: parse input, call one service or selector, render."""

import datetime as dt
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.clinics.models import Clinic
from medassist.clinics.services import StaleRoom, set_room_status
from medassist.core import clock
from medassist.encounters.selectors import get_visit
from medassist.encounters.services import StaleVisit
from medassist.flow import forms, plots, selectors, services, summary
from medassist.flow.models import ConsentSignature
from medassist.scheduling.selectors import (
    appointment_types_for,
    first_open_slots,
    schedule_providers,
)


def _clinic(request, perm: Permission = Permission.VIEW_FLOW_BOARD) -> Clinic:  # type: ignore[no-untyped-def]
    """The clinic the page is about: ?clinic=<code> among the actor's clinics with `perm`."""
    clinics = [c for c in selectors.board_clinics(request.actor) if can(request.actor, perm, c)]
    if not clinics:
        raise PermissionDenied("Your role does not include this part of the clinic day.")
    code = request.GET.get("clinic") or request.POST.get("clinic")
    return next((c for c in clinics if c.code == code), clinics[0])


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)


def _back(request, clinic: Clinic | None = None) -> str:  # type: ignore[no-untyped-def]
    """Where to go after an action: the page it came from (same site only), else the board."""
    target = request.POST.get("next", "")
    # A path on this site only: anything else (another host, "0", "javascript:") is ignored,
    # and redirect() is never handed something it could read as a view name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return reverse("flow:board") + (f"?clinic={clinic.code}" if clinic else "")


# --- the board ---


@login_required
@require_GET
def board(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request)
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = clock.today()
    provider = request.GET.get("provider", "")
    assistant = request.GET.get("ma", "")
    show_finished = request.GET.get("finished", "1") != "0"
    filters = (provider, assistant, show_finished)
    fingerprint = selectors.board_fingerprint(clinic, day, *filters)
    polling = request.htmx and "HTTP_X_MEDASSIST_POLL" in request.META
    if polling and request.GET.get("fp") == fingerprint:
        return HttpResponse(status=204)  # nothing changed: htmx keeps what is on screen
    b = selectors.flow_board(
        request.actor,
        clinic,
        day,
        provider=provider,
        assistant=assistant,
        show_finished=show_finished,
    )
    b.fingerprint = fingerprint
    here = request.get_full_path()
    context = {
        "b": b,
        "clinics": selectors.board_clinics(request.actor),
        "poll_seconds": settings.FLOW_BOARD_POLL_SECONDS,
        "here": here,
        "rows_html": _board_rows(request, b, here),
    }
    template = "flow/partials/_board.html" if request.htmx else "flow/board.html"
    return render(request, template, context)


def _board_rows(request, b, here: str) -> SafeString:  # type: ignore[no-untyped-def]
    """The board's rows, rendered by Jinja2 (medassist/core/jinja.py): a 900-visit day is
    several times faster than in Django's template language, which the rest of the page uses."""
    csrf_field = format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )
    context = {"b": b, "here": here, "here_quoted": quote(here, safe="/"), "csrf_field": csrf_field}
    return mark_safe(render_to_string("flow/board_rows.html", context, using="jinja2"))  # noqa: S308 (Jinja2 escaped it)


def _version(request) -> int | None:  # type: ignore[no-untyped-def]
    form = forms.VersionForm(request.POST)
    return form.cleaned_data["version"] if form.is_valid() else None


def _act(request, visit, action, done: str):  # type: ignore[no-untyped-def]
    """Run a board action; say what happened (or why not) and go back where the user was."""
    try:
        action()
    except StaleVisit as exc:
        messages.error(request, str(exc))
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"{visit.patient.display_name}: {text}")
    else:
        messages.success(request, done)
        return True
    return False


@login_required
@require_POST
def room(request, visit_id):  # type: ignore[no-untyped-def]
    visit = get_visit(request.actor, visit_id, Permission.ROOM_PATIENT)
    form = forms.RoomForm(request.POST)
    chosen = selectors.room_for_rooming(visit, form.data.get("room", ""))
    if not form.is_valid() or chosen is None:
        messages.error(request, f"{visit.patient.display_name}: choose a ready room first.")
        return redirect(_back(request, visit.clinic))

    def go() -> None:
        services.room_patient(
            actor=request.actor,
            encounter=visit,
            room=chosen,
            expected_version=form.cleaned_data["version"],
        )

    if _act(request, visit, go, f"{visit.patient.display_name} roomed in {chosen.name}."):
        return redirect("rooming:worklist", visit_id=visit.public_id)
    return redirect(_back(request, visit.clinic))


def _provider_move(request, visit_id, service, done, then: str = ""):  # type: ignore[no-untyped-def]
    """A provider's button on the board: run `service` on the visit at the version the board
    showed; on success say `done(visit)` and go to `then` (else back to the board)."""
    visit = get_visit(request.actor, visit_id, Permission.SEE_PATIENT)
    version = _version(request) or 0
    message = done(visit)

    def go() -> None:
        service(actor=request.actor, encounter=visit, expected_version=version)

    if _act(request, visit, go, message) and then:
        return redirect(then, visit_id=visit.public_id)
    return redirect(_back(request, visit.clinic))


@login_required
@require_POST
def take(request, visit_id):  # type: ignore[no-untyped-def]
    """The provider goes in: with provider, and the summary of what rooming found."""
    return _provider_move(
        request,
        visit_id,
        services.start_provider_visit,
        lambda v: f"You are with {v.patient.display_name}.",
        then="rooming:summary",
    )


@login_required
@require_POST
def to_checkout(request, visit_id):  # type: ignore[no-untyped-def]
    """The provider is done: the patient goes to checkout and the room needs cleaning."""
    return _provider_move(
        request,
        visit_id,
        services.hand_to_checkout,
        lambda v: (
            f"{v.patient.display_name} is ready for checkout; "
            f"{v.room.name if v.room else 'the room'} needs cleaning."
        ),
    )


# --- check-in ---


def _check_in_context(request, visit, form) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    patient = visit.patient
    latest = services.latest_signatures(patient)
    today = clock.today()
    consents = [
        {
            "form": f,
            "field": form[f"consent_{f.value}"],
            "signed_on": latest.get(f.value),
            "current": services.consent_current(f.value, latest.get(f.value), today),
        }
        for f in ConsentSignature.Form
    ]
    return {
        "visit": visit,
        "patient": patient,
        "appointment": getattr(visit, "appointment", None),
        "coverages": list(patient.coverages.all()),
        "contacts": list(patient.contacts.all()),
        "form": form,
        "consents": consents,
        "allergy": summary.allergy_banner(patient),
        "next": request.GET.get("next") or request.POST.get("next", ""),
    }


@login_required
@require_http_methods(["GET", "POST"])
def check_in(request, visit_id):  # type: ignore[no-untyped-def]
    visit = get_visit(request.actor, visit_id, Permission.CHECK_IN, audit_as="Encounter.checkIn")
    if request.method == "GET":
        latest = services.latest_signatures(visit.patient)
        today = clock.today()
        initial = {
            "version": visit.version,
            **{
                f"consent_{f.value}": "on_file"
                for f in ConsentSignature.Form
                if services.consent_current(f.value, latest.get(f.value), today)
            },
        }
        form = forms.CheckInForm(initial=initial)
        return render(request, "flow/check_in.html", _check_in_context(request, visit, form))
    form = forms.CheckInForm(request.POST)
    status = 422
    if form.is_valid():
        status = _submit(
            form,
            lambda: services.check_in(
                actor=request.actor,
                encounter=visit,
                expected_version=form.cleaned_data["version"],
                data=form.to_data(),
            ),
        )
        if not status:
            messages.success(
                request,
                f"{visit.patient.display_name} checked in at {clock.localtime(clock.now()):%H:%M}.",
            )
            return redirect(_back(request, visit.clinic))
    visit.refresh_from_db()
    return render(
        request, "flow/check_in.html", _check_in_context(request, visit, form), status=status
    )


def _submit(form, call) -> int:  # type: ignore[no-untyped-def]
    """Run a form's service call. 0 when it worked; else the status to answer with (409 a
    stale version, 403 not allowed, 422 invalid), with the reason put on the form."""
    try:
        call()
    except StaleVisit as exc:
        form.add_error(None, str(exc))
        return 409
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return 403
    except ValidationError as exc:
        _add_errors(form, exc)
        return 422
    return 0


def _add_errors(form, exc: ValidationError) -> None:  # type: ignore[no-untyped-def]
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- checkout ---


def _checkout_form(request, visit, data=None) -> forms.CheckoutForm:  # type: ignore[no-untyped-def]
    types = appointment_types_for(request.actor, visit.clinic)
    providers = schedule_providers(visit.clinic)
    follow_type = next((t for t in types if t.code == "follow-up"), types[0] if types else None)
    initial = {
        "version": visit.version,
        "provider": visit.provider.get_username(),
        "appointment_type": follow_type.code if follow_type else "",
        "follow_up_in": "14",
        "plan": "booked",
    }
    return forms.CheckoutForm(data, initial=initial, types=types, providers=providers)


def _open_slots(request, visit, form) -> list:  # type: ignore[no-untyped-def]
    """The first open times for the follow-up the form asks for."""
    search = forms.FollowUpSearchForm(
        form.data or None,
        initial=form.initial,
        types=list(form.types.values()),
        providers=list(form.providers.values()),
    )
    if not search.is_bound:
        search = forms.FollowUpSearchForm(
            {k: form.initial.get(k, "") for k in ("appointment_type", "provider", "follow_up_in")},
            types=list(form.types.values()),
            providers=list(form.providers.values()),
        )
    if not search.is_valid():
        return []
    return first_open_slots(
        request.actor,
        visit.clinic,
        search.types[search.cleaned_data["appointment_type"]],
        provider=search.providers[search.cleaned_data["provider"]],
        after=search.after(clock.today()),
        limit=6,
    )


def _checkout_context(request, visit, form) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    chosen = form.data.get("slot", "") if form.is_bound else ""
    return {
        "visit": visit,
        "patient": visit.patient,
        "form": form,
        "slots": _open_slots(request, visit, form) if visit.stage == "ready_for_checkout" else [],
        "chosen_slot": chosen,
        "allergy": summary.allergy_banner(visit.patient),
        "checkout": getattr(visit, "checkout", None) if visit.stage == "done" else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request, visit_id):  # type: ignore[no-untyped-def]
    visit = get_visit(request.actor, visit_id, Permission.CHECK_OUT, audit_as="Encounter.checkout")
    if request.method == "GET" or "find" in request.GET or request.POST.get("action") == "find":
        form = _checkout_form(request, visit, request.POST or None)
        template = "flow/partials/_slots.html" if request.htmx else "flow/checkout.html"
        return render(request, template, _checkout_context(request, visit, form))
    form = _checkout_form(request, visit, request.POST)
    status = 422
    follow_up = form.follow_up() if form.is_valid() else None  # may add an error to the form
    if form.is_valid():
        status = _submit(
            form,
            lambda: services.check_out(
                actor=request.actor,
                encounter=visit,
                expected_version=form.cleaned_data["version"],
                plan=form.cleaned_data["plan"],
                follow_up=follow_up,
                note=form.cleaned_data["note"],
            ),
        )
        if not status:
            messages.success(request, f"{visit.patient.display_name} is checked out.")
            return redirect("flow:checkout", visit_id=visit.public_id)
    visit.refresh_from_db()
    return render(
        request, "flow/checkout.html", _checkout_context(request, visit, form), status=status
    )


@login_required
@require_GET
def after_visit_summary(request, visit_id):  # type: ignore[no-untyped-def]
    """The after-visit summary as a PDF for the patient (audited as a print)."""
    visit = get_visit(
        request.actor, visit_id, Permission.PRINT_CHART, audit_as="Encounter.afterVisitSummary"
    )
    pdf = summary.after_visit_summary_pdf(request.actor, visit)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"after-visit-summary-{visit.patient.mrn}-{clock.localtime(visit.period_start):%Y%m%d}"
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# --- rooms ---


@login_required
@require_GET
def rooms(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request)
    context = {
        "clinic": clinic,
        "clinics": selectors.board_clinics(request.actor),
        "rooms": selectors.rooms_in_use(request.actor, clinic),
        "log": selectors.room_log(request.actor, clinic, clock.today()),
        "may_clean": can(request.actor, Permission.CLEAN_ROOM, clinic),
    }
    return render(request, "flow/rooms.html", context)


@login_required
@require_POST
def room_status(request, room_id):  # type: ignore[no-untyped-def]
    the_room = selectors.get_room(request.actor, room_id)
    form = forms.RoomStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{the_room.name}: choose dirty, being cleaned or ready.")
        return redirect(_back(request, the_room.clinic))
    try:
        set_room_status(
            actor=request.actor,
            room=the_room,
            to=form.cleaned_data["status"],
            expected_version=form.cleaned_data["version"],
        )
    except StaleRoom as exc:
        messages.error(request, str(exc))
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
    else:
        messages.success(request, f"{the_room.name} is {the_room.get_status_display().lower()}.")
    return redirect(_back(request, the_room.clinic))


# --- reports and settings ---


@login_required
@require_GET
def cycle_times(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request, Permission.VIEW_CLINIC_REPORTS)
    form = forms.ReportRangeForm(request.GET or None)
    first, last = form.range(clock.today())
    report = selectors.cycle_report(request.actor, clinic, first, last)
    context = {
        "report": report,
        "form": form,
        "clinic": clinic,
        "clinics": [
            c
            for c in selectors.board_clinics(request.actor)
            if can(request.actor, Permission.VIEW_CLINIC_REPORTS, c)
        ],
        "plot": plots.provider_segments(report),
        "trend": plots.daily_trend(report),
    }
    return render(request, "flow/cycle_times.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def targets(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request, Permission.MANAGE_SCHEDULE)
    current = selectors.clinic_targets(clinic)
    form = forms.TargetsForm(request.POST or None, initial=current.__dict__)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_targets(actor=request.actor, clinic=clinic, targets=form.to_targets())
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _messages(exc) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, f"Flow board targets of {clinic.name} saved.")
            return redirect(reverse("flow:board") + f"?clinic={clinic.code}")
    status = 422 if form.is_bound and form.errors else 200
    return render(request, "flow/targets.html", {"form": form, "clinic": clinic}, status=status)
