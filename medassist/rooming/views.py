from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from medassist.encounters.models import Encounter
from medassist.encounters.services import StaleVisit
from medassist.history.selectors import allergy_of
from medassist.rooming import forms, screening, selectors, services
from medassist.rooming.models import Step
from medassist.vitals import forms as vitals_forms
from medassist.vitals.units import UnitError


@login_required
@require_GET
def worklist(request, visit_id):  # type: ignore[no-untyped-def]
    w = selectors.load_worklist(request.actor, visit_id)
    return render(request, "rooming/worklist.html", {"w": w})


@login_required
@require_GET
def summary(request, visit_id):  # type: ignore[no-untyped-def]
    s = selectors.load_summary(request.actor, visit_id)
    return render(request, "rooming/summary.html", {"s": s})


class _Invalid(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)


def _valid(form: Any) -> Any:
    if not form.is_valid():
        raise _Invalid(
            [
                f"{form.fields[f].label or f.capitalize() if f in form.fields else ''}: {m}".lstrip(
                    ": "
                )
                for f, errors in form.errors.items()
                for m in errors
            ]
        )
    return form


def _allergy(request: Any, visit: Encounter) -> Any:
    form = _valid(forms.AllergyIdForm(request.POST))
    allergy = allergy_of(visit.patient, form.cleaned_data["allergy"])
    if allergy is None:
        raise _Invalid(["That allergy is not on this patient's list; reload the page."])
    return allergy


# One handler per command: each parses its input and calls one service. Returns the step whose
# partial is shown again.
def _agenda(request: Any, visit: Encounter) -> str:
    form = _valid(forms.AgendaForm(request.POST))
    services.record_agenda(
        actor=request.actor,
        encounter=visit,
        reason=form.cleaned_data["reason"],
        expected_version=form.cleaned_data["version"],
    )
    return Step.AGENDA


def _allergy_save(request: Any, visit: Encounter) -> str:
    form = _valid(forms.AllergyForm(request.POST))
    actor = request.actor
    if form.cleaned_data["allergy"]:
        allergy = allergy_of(visit.patient, form.cleaned_data["allergy"])
        if allergy is None:
            raise _Invalid(["That allergy is not on this patient's list; reload the page."])
        services.update_allergy(actor=actor, encounter=visit, allergy=allergy, data=form.to_data())
    else:
        services.add_allergy(actor=actor, encounter=visit, data=form.to_data())
    return Step.ALLERGIES


def _allergy_inactivate(request: Any, visit: Encounter) -> str:
    services.inactivate_allergy(
        actor=request.actor,
        encounter=visit,
        allergy=_allergy(request, visit),
    )
    return Step.ALLERGIES


def _nka(request: Any, visit: Encounter) -> str:
    services.record_no_known_allergies(actor=request.actor, encounter=visit)
    return Step.ALLERGIES


def _allergies_reviewed(request: Any, visit: Encounter) -> str:
    services.confirm_allergies(actor=request.actor, encounter=visit)
    return Step.ALLERGIES


def _medications(request: Any, visit: Encounter) -> str:
    services.reconcile_medications(
        actor=request.actor, encounter=visit, answers=forms.medication_answers(request.POST)
    )
    return Step.MEDICATIONS


def _medication_new(request: Any, visit: Encounter) -> str:
    form = _valid(forms.NewMedicationForm(request.POST))
    services.report_new_medication(actor=request.actor, encounter=visit, data=form.to_data())
    return Step.MEDICATIONS


def _history(request: Any, visit: Encounter) -> str:
    form = _valid(forms.ConditionForm(request.POST))
    services.add_history(actor=request.actor, encounter=visit, **form.cleaned_data)
    return Step.HISTORIES


def _social(request: Any, visit: Encounter) -> str:
    form = _valid(forms.SocialForm(request.POST))
    services.record_social_history(actor=request.actor, encounter=visit, data=form.to_data())
    return Step.HISTORIES


def _screening(request: Any, visit: Encounter) -> str:
    code = str(request.POST.get("instrument", ""))
    if code not in screening.INSTRUMENTS:
        raise _Invalid(["Unknown screening instrument."])
    services.record_screening(
        actor=request.actor,
        encounter=visit,
        instrument=code,
        answers=forms.screening_answers(request.POST, code),
    )
    return Step.SCREENINGS


def _decline(request: Any, visit: Encounter) -> str:
    services.decline_screenings(actor=request.actor, encounter=visit)
    return Step.SCREENINGS


def _vitals_skipped(request: Any, visit: Encounter) -> str:
    services.skip_vitals(actor=request.actor, encounter=visit)
    return Step.VITALS


class _Confirm(Exception):
    """Some values must be confirmed before anything is saved."""

    def __init__(self, findings: list[Any], would_alert: list[str]) -> None:
        self.findings = findings
        self.would_alert = would_alert


def _record_vitals(request: Any, visit: Encounter, form: Any) -> str:
    _valid(form)
    try:
        entry = form.entry()
    except UnitError as exc:
        raise _Invalid([str(exc)]) from exc
    outcome = services.record_vitals(
        actor=request.actor,
        encounter=visit,
        entry=entry,
        confirmed=request.POST.getlist("confirm"),
    )
    if outcome.to_confirm:
        raise _Confirm(outcome.to_confirm, outcome.would_alert)
    return Step.VITALS


def _vitals(request: Any, visit: Encounter) -> str:
    return _record_vitals(request, visit, vitals_forms.VitalsForm(request.POST))


def _vitals_repeat(request: Any, visit: Encounter) -> str:
    return _record_vitals(request, visit, vitals_forms.BloodPressureRepeatForm(request.POST))


HANDLERS: dict[str, tuple[str, Callable[[Any, Encounter], str]]] = {
    "agenda": (Step.AGENDA, _agenda),
    "allergy": (Step.ALLERGIES, _allergy_save),
    "allergy-inactivate": (Step.ALLERGIES, _allergy_inactivate),
    "no-known-allergies": (Step.ALLERGIES, _nka),
    "allergies-reviewed": (Step.ALLERGIES, _allergies_reviewed),
    "medications": (Step.MEDICATIONS, _medications),
    "medication-new": (Step.MEDICATIONS, _medication_new),
    "history": (Step.HISTORIES, _history),
    "social": (Step.HISTORIES, _social),
    "screening": (Step.SCREENINGS, _screening),
    "screenings-declined": (Step.SCREENINGS, _decline),
    "vitals": (Step.VITALS, _vitals),
    "vitals-repeat": (Step.VITALS, _vitals_repeat),
    "vitals-skipped": (Step.VITALS, _vitals_skipped),
}


def _render_step(
    request: Any,
    visit: Encounter,
    step: str,
    status: int = 200,
    errors: list[str] | None = None,
    to_confirm: list[Any] | None = None,
    would_alert: list[str] | None = None,
) -> HttpResponse:
    visit.refresh_from_db()
    w = selectors.build_worklist(visit, step if request.htmx else None)
    context = {
        "w": w,
        "error_step": step if errors else "",
        "errors": errors or [],
        "posted": request.POST if errors or to_confirm else {},
        "to_confirm": to_confirm or [],
        "would_alert": would_alert or [],
    }
    if request.htmx:
        return render(
            request, "rooming/partials/_step_swap.html", {**context, "step": step}, status=status
        )
    return render(request, "rooming/worklist.html", context, status=status)


@login_required
@require_POST
def save_step(request, visit_id, action):  # type: ignore[no-untyped-def]
    visit = selectors.get_visit_for_rooming(request.actor, visit_id)
    if action not in HANDLERS:
        raise Http404("No such rooming step")
    step, handler = HANDLERS[action]
    try:
        step = handler(request, visit)
    except _Invalid as exc:
        return _render_step(request, visit, step, 422, exc.errors)
    except _Confirm as exc:
        return _render_step(
            request, visit, step, 200, to_confirm=exc.findings, would_alert=exc.would_alert
        )
    except StaleVisit as exc:
        return _render_step(request, visit, step, 409, [str(exc)])
    except PermissionDenied as exc:
        return _render_step(request, visit, step, 403, [str(exc) or "Not allowed."])
    except ValidationError as exc:
        return _render_step(request, visit, step, 422, _messages(exc))
    if not request.htmx:
        return redirect(
            reverse("rooming:worklist", kwargs={"visit_id": visit.public_id}) + f"#step-{step}"
        )
    return _render_step(request, visit, step)


@login_required
@require_POST
def finish(request, visit_id):  # type: ignore[no-untyped-def]
    visit = selectors.get_visit_for_rooming(request.actor, visit_id)
    form = forms.VersionForm(request.POST)
    errors: list[str] = []
    status = 422
    if not form.is_valid():
        errors = ["Reload the page and try again."]
    else:
        try:
            services.finish_rooming(
                actor=request.actor, encounter=visit, expected_version=form.cleaned_data["version"]
            )
        except StaleVisit as exc:
            errors, status = [str(exc)], 409
        except (ValidationError, PermissionDenied) as exc:
            errors = _messages(exc) if isinstance(exc, ValidationError) else [str(exc)]
            status = 403 if isinstance(exc, PermissionDenied) else 422
    if errors:
        visit.refresh_from_db()
        context = {"w": selectors.build_worklist(visit), "finish_errors": errors}
        template = "rooming/partials/_finish.html" if request.htmx else "rooming/worklist.html"
        return render(request, template, context, status=status)
    messages.success(request, f"{visit.patient.display_name} is ready for the provider.")
    url = reverse("rooming:summary", kwargs={"visit_id": visit.public_id})
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
