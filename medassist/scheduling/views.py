"""The schedule pages. Thin: parse input, call one service or selector, render."""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.services import StaleVisit
from medassist.patients.selectors import get_patient, search_patients
from medassist.scheduling import selectors, services
from medassist.scheduling.forms import (
    BlockForm,
    BookingForm,
    CancelForm,
    OfferForm,
    ReminderPreferenceForm,
    RescheduleForm,
    VersionForm,
    WaitlistForm,
)
from medassist.scheduling.models import AppointmentType


def _clinic(request, perm: Permission = Permission.VIEW_SCHEDULE) -> Clinic:  # type: ignore[no-untyped-def]
    """The clinic the page is about: ?clinic=<code> among those the actor holds `perm` at,
    else the first of them."""
    clinics = list(selectors.schedule_clinics(request.actor, perm))
    if not clinics:
        raise PermissionDenied("Your role does not include this part of the schedule.")
    code = request.GET.get("clinic") or request.POST.get("clinic")
    return next((c for c in clinics if c.code == code), clinics[0])


def _day(request) -> dt.date:  # type: ignore[no-untyped-def]
    try:
        return dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return clock.today()


def _errors(form, exc: ValidationError) -> None:  # type: ignore[no-untyped-def]
    for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else []:
        form.add_error(field if field in form.fields else None, errors)
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)


def _nav(day: dt.date) -> dict[str, Any]:
    return {
        "day": day,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "today": clock.today(),
    }


@login_required
@require_GET
def day(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request)
    the_day = _day(request)
    schedule = selectors.day_schedule(request.actor, clinic, the_day)
    context = {
        "schedule": schedule,
        "grid": selectors.day_grid(schedule),
        "clinics": selectors.schedule_clinics(request.actor),
        "clinic": clinic,
        **_nav(the_day),
    }
    template = "scheduling/partials/_day.html" if request.htmx else "scheduling/day.html"
    return render(request, template, context)


@login_required
@require_GET
def type_colors(request):  # type: ignore[no-untyped-def]
    """The appointment types' colors as a style sheet (the CSP forbids style attributes)."""
    clinics = selectors.schedule_clinics(request.actor)
    rules = []
    for clinic in clinics:
        for t in selectors.appointment_types_for(request.actor, clinic):
            rules.append(f".appt-type-{t.pk} {{ --type-color: {t.color}; }}")
    response = HttpResponse("\n".join(rules), content_type="text/css")
    response["Cache-Control"] = "private, max-age=300"
    return response


def _booking_choices(request, clinic: Clinic) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "types": selectors.appointment_types_for(request.actor, clinic),
        "providers": selectors.schedule_providers(clinic),
    }


@login_required
@require_http_methods(["GET", "POST"])
def book(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request, Permission.BOOK_APPOINTMENT)
    choices = _booking_choices(request, clinic)
    data = request.POST if request.method == "POST" else None
    initial = {
        k: request.GET[k]
        for k in ("patient", "appointment_type", "provider", "date", "time")
        if k in request.GET
    }
    form = BookingForm(data, initial=initial, **choices)
    patient = None
    if request.method == "POST" and request.POST.get("action") == "waitlist":
        return _add_to_waitlist(request, clinic, choices)
    if form.is_valid():
        patient = get_patient(
            request.actor, form.cleaned_data["patient"], Permission.BOOK_APPOINTMENT
        )
        try:
            appointment = services.book_appointment(
                actor=request.actor,
                patient=patient,
                provider=form.cleaned_data["provider"],
                appointment_type=form.cleaned_data["appointment_type"],
                start=form.start(),
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                allow_double_booking=form.cleaned_data["allow_double_booking"],
            )
        except (ValidationError, PermissionDenied) as exc:
            _errors(form, exc if isinstance(exc, ValidationError) else ValidationError(str(exc)))
        else:
            messages.success(request, "Appointment booked.")
            return redirect("scheduling:appointment", appointment_id=appointment.public_id)
    elif initial.get("patient"):
        try:
            patient = get_patient(request.actor, initial["patient"], Permission.BOOK_APPOINTMENT)
        except (Http404, ValidationError):  # a junk or foreign id in the link: ask again
            patient = None
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/book.html",
        {"form": form, "clinic": clinic, "patient": patient, **choices},
        status=status,
    )


def _add_to_waitlist(request, clinic: Clinic, choices: dict[str, Any]):  # type: ignore[no-untyped-def]
    form = WaitlistForm(request.POST, **choices)
    if form.is_valid():
        patient = get_patient(
            request.actor, form.cleaned_data["patient"], Permission.BOOK_APPOINTMENT
        )
        try:
            services.add_to_waitlist(
                actor=request.actor,
                patient=patient,
                appointment_type=form.cleaned_data["appointment_type"],
                provider=form.cleaned_data["provider"],
                latest=form.cleaned_data["latest"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"{patient.given} {patient.family} is on the waitlist.")
            return redirect(reverse("scheduling:waitlist") + f"?clinic={clinic.code}")
    booking = BookingForm(request.POST, **choices)
    booking.is_valid()
    for error in form.errors.values():
        booking.add_error(None, error)
    return render(
        request,
        "scheduling/book.html",
        {"form": booking, "clinic": clinic, "patient": None, **choices},
        status=400,
    )


@login_required
@require_GET
def patient_choices(request):  # type: ignore[no-untyped-def]
    """The booking form's patient search (the patients app's search), as radio buttons."""
    if not can(request.actor, Permission.BOOK_APPOINTMENT):
        raise PermissionDenied
    result = search_patients(request.actor, request.GET.get("q", ""), limit=10)
    return render(request, "scheduling/partials/_patient_choices.html", {"result": result})


@login_required
@require_GET
def suggestions(request):  # type: ignore[no-untyped-def]
    """First open slots for the type (and provider) chosen in the booking form."""
    clinic = _clinic(request, Permission.BOOK_APPOINTMENT)
    choices = _booking_choices(request, clinic)
    chosen_type = next(
        (t for t in choices["types"] if t.code == request.GET.get("appointment_type")), None
    )
    provider = next(
        (p for p in choices["providers"] if p.get_username() == request.GET.get("provider")), None
    )
    found = (
        selectors.first_open_slots(request.actor, clinic, chosen_type, provider=provider)
        if isinstance(chosen_type, AppointmentType)
        else []
    )
    return render(
        request,
        "scheduling/partials/_suggestions.html",
        {
            "slots": found,
            "chosen_type": chosen_type,
            "clinic": clinic,
            "patient": request.GET.get("patient", ""),
        },
    )


def _detail_context(request, appointment) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    providers = selectors.schedule_providers(appointment.clinic)
    version = {"version": appointment.encounter.version}
    return {
        "appointment": appointment,
        "deliveries": selectors.reminder_deliveries(appointment),
        "cancel_form": CancelForm(initial=version),
        "reschedule_form": RescheduleForm(initial=version, providers=providers),
        "no_show_form": VersionForm(initial=version),
        "preference_form": ReminderPreferenceForm(),
        "opted_out": selectors.reminder_opt_outs(appointment.patient),
        "may_change": can(request.actor, Permission.BOOK_APPOINTMENT, appointment)
        and appointment.encounter.stage == "scheduled",
        "started": appointment.start <= clock.now(),
    }


@login_required
@require_GET
def appointment(request, appointment_id):  # type: ignore[no-untyped-def]
    appt = selectors.get_appointment(request.actor, appointment_id)
    return render(request, "scheduling/appointment.html", _detail_context(request, appt))


def _refused(request, appt, form_name: str, form, exc: Exception, status: int):  # type: ignore[no-untyped-def]
    context = _detail_context(request, appt)
    if isinstance(exc, ValidationError):
        _errors(form, exc)
    else:
        form.add_error(None, str(exc))
    context[form_name] = form
    return render(request, "scheduling/appointment.html", context, status=status)


def _change(request, appt, form_name: str, form, change, done: str):  # type: ignore[no-untyped-def]
    """Validate `form`, run `change()` (a service call returning the appointment to show next)
    and say `done`; a refusal shows the appointment page again with the reason on `form`
    (409 when the visit changed meanwhile, 400 otherwise)."""
    if not form.is_valid():
        return _refused(request, appt, form_name, form, ValidationError([]), 400)
    try:
        shown = change()
    except StaleVisit as exc:
        return _refused(request, appt, form_name, form, exc, 409)
    except (ValidationError, PermissionDenied) as exc:
        return _refused(request, appt, form_name, form, exc, 400)
    messages.success(request, done)
    return redirect("scheduling:appointment", appointment_id=shown.public_id)


@login_required
@require_POST
def cancel(request, appointment_id):  # type: ignore[no-untyped-def]
    appt = selectors.get_appointment(request.actor, appointment_id, Permission.BOOK_APPOINTMENT)
    form = CancelForm(request.POST)
    return _change(
        request,
        appt,
        "cancel_form",
        form,
        lambda: services.cancel_appointment(
            actor=request.actor,
            appointment=appt,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        ),
        "Appointment cancelled. The waitlist shows who could take the time.",
    )


@login_required
@require_POST
def reschedule(request, appointment_id):  # type: ignore[no-untyped-def]
    appt = selectors.get_appointment(request.actor, appointment_id, Permission.BOOK_APPOINTMENT)
    form = RescheduleForm(request.POST, providers=selectors.schedule_providers(appt.clinic))
    return _change(
        request,
        appt,
        "reschedule_form",
        form,
        lambda: services.reschedule_appointment(
            actor=request.actor,
            appointment=appt,
            start=form.start(),
            provider=form.cleaned_data["provider"],
            expected_version=form.cleaned_data["version"],
        ),
        "Appointment rescheduled.",
    )


@login_required
@require_POST
def no_show(request, appointment_id):  # type: ignore[no-untyped-def]
    appt = selectors.get_appointment(request.actor, appointment_id, Permission.BOOK_APPOINTMENT)
    form = VersionForm(request.POST)
    return _change(
        request,
        appt,
        "no_show_form",
        form,
        lambda: services.mark_no_show(
            actor=request.actor, appointment=appt, expected_version=form.cleaned_data["version"]
        ),
        "Marked as a no-show.",
    )


@login_required
@require_POST
def reminder_preference(request, appointment_id):  # type: ignore[no-untyped-def]
    """The patient's choice about reminders on one channel, set from the appointment page."""
    appt = selectors.get_appointment(request.actor, appointment_id, Permission.BOOK_APPOINTMENT)
    form = ReminderPreferenceForm(request.POST)
    if not form.is_valid():
        return _refused(request, appt, "preference_form", form, ValidationError([]), 400)
    services.set_reminder_preference(
        actor=request.actor,
        patient=appt.patient,
        channel=form.cleaned_data["channel"],
        opted_out=form.cleaned_data["opted_out"],
    )
    messages.success(request, "Reminder preference saved.")
    return redirect("scheduling:appointment", appointment_id=appt.public_id)


@login_required
@require_GET
def waitlist(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request)
    entries = selectors.open_waitlist(request.actor, clinic)
    return render(
        request,
        "scheduling/waitlist.html",
        {
            "clinic": clinic,
            "entries": entries,
            "openings": selectors.waitlist_openings(request.actor, clinic, entries),
            "clinics": selectors.schedule_clinics(request.actor),
        },
    )


@login_required
@require_POST
def waitlist_book(request, entry_id):  # type: ignore[no-untyped-def]
    entry = selectors.get_waitlist_entry(request.actor, entry_id)
    form = OfferForm(request.POST, providers=selectors.schedule_providers(entry.clinic))
    back = reverse("scheduling:waitlist") + f"?clinic={entry.clinic.code}"
    if not form.is_valid():
        messages.error(request, "Choose an opening to offer.")
        return redirect(back)
    try:
        appt = services.book_from_waitlist(
            actor=request.actor,
            entry=entry,
            provider=form.cleaned_data["provider"],
            start=form.cleaned_data["start"],
        )
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect(back)
    messages.success(request, "Booked from the waitlist.")
    return redirect("scheduling:appointment", appointment_id=appt.public_id)


@login_required
@require_POST
def waitlist_remove(request, entry_id):  # type: ignore[no-untyped-def]
    entry = selectors.get_waitlist_entry(request.actor, entry_id)
    services.remove_from_waitlist(actor=request.actor, entry=entry)
    messages.success(request, "Removed from the waitlist.")
    return redirect(reverse("scheduling:waitlist") + f"?clinic={entry.clinic.code}")


@login_required
@require_GET
def previsit(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request)
    the_day = _day(request) if "day" in request.GET else clock.today() + dt.timedelta(days=1)
    rows = selectors.previsit_list(request.actor, clinic, the_day)
    return render(
        request,
        "scheduling/previsit.html",
        {
            "clinic": clinic,
            "rows": rows,
            "clinics": selectors.schedule_clinics(request.actor),
            **_nav(the_day),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def blocks(request):  # type: ignore[no-untyped-def]
    clinic = _clinic(request, Permission.MANAGE_SCHEDULE)
    providers = selectors.schedule_providers(clinic)
    form = BlockForm(request.POST or None, providers=providers)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            start, end = form.span()
            try:
                services.block_time(
                    actor=request.actor,
                    clinic=clinic,
                    start=start,
                    end=end,
                    reason=form.cleaned_data["reason"],
                    provider=form.cleaned_data["provider"],
                )
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, "Time blocked.")
                return redirect(reverse("scheduling:blocks") + f"?clinic={clinic.code}")
    return render(
        request,
        "scheduling/blocks.html",
        {
            "clinic": clinic,
            "form": form,
            "blocks": selectors.blocks_for(request.actor, clinic, clock.today()),
            "clinics": selectors.schedule_clinics(request.actor, Permission.MANAGE_SCHEDULE),
        },
        status=status,
    )


@login_required
@require_POST
def unblock(request, block_id):  # type: ignore[no-untyped-def]
    block = selectors.get_block(request.actor, block_id)
    code = block.clinic.code
    services.unblock_time(actor=request.actor, block=block)
    messages.success(request, "Blocked time removed.")
    return redirect(reverse("scheduling:blocks") + f"?clinic={code}")
