"""Pages of immunizations: a patient's record and forecast; giving vaccines (scan the vial, check,
give, observe); doses from other records, refusals, the provider's orders, corrections,
reactions and the VAERS report draft; the fridge, standing orders and the registry's answers.
Thin: parse input, call one service or selector, render. Every write is a service's; every read
a selector's, scoped to the actor's clinics (404 outside them) and audited."""

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.core.forms import GENERAL, errors_by_field, safe_next
from medassist.immunizations import forms, selectors, services
from medassist.immunizations.models import Funding, Immunization, StandingOrder, VaccineLot
from medassist.immunizations.services import DoseRefused
from medassist.patients.models import Patient

# Where each refusal's field is on the dose form (the error summary links to it).
_ANCHORS = {"standing_order": "f-order", "patient": "dose-errors", GENERAL: "dose-errors"}
_DOSE_FIELDS = (
    "patient",
    GENERAL,
    "lot",
    "site",
    "route",
    "dose_volume_ml",
    "eligibility",
    "order",
    "standing_order",
    "vis",
    "screening",
    "consent",
    "confirm_birth_date",
    "given_at",
)


def _form_errors(form: Any) -> dict[str, list[str]]:
    found = forms.errors_of(form)
    if NON_FIELD_ERRORS in found:
        found[GENERAL] = found.pop(NON_FIELD_ERRORS)
    if any(name.startswith("screening_") for name in found):
        found.setdefault("screening", []).extend(
            m for name in list(found) if name.startswith("screening_") for m in found.pop(name)
        )
    return found


def _summary(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(anchor, message) of each error, in the order of the form."""
    names = [n for n in _DOSE_FIELDS if n in errors] + [n for n in errors if n not in _DOSE_FIELDS]
    return [(_ANCHORS.get(n, f"f-{n}"), m) for n in names for m in errors[n]]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _record_url(patient: Patient) -> str:
    return reverse("immunizations:patient", kwargs={"patient_id": patient.public_id})


# -- The patient's record ----------------------------------------------------------------------


@login_required
@require_GET
def patient(request: HttpRequest, patient_id: str) -> HttpResponse:
    r = selectors.patient_record(request.actor, patient_id)  # type: ignore[attr-defined]
    return render(
        request, "immunizations/patient.html", {"r": r, "now": clock.now(), "condition_errors": {}}
    )


@login_required
@require_GET
def chart_summary(request: HttpRequest, patient_id: str) -> HttpResponse:
    """The chart's immunization card, loaded after the chart (HTMX)."""
    s = selectors.chart_summary(request.actor, patient_id)  # type: ignore[attr-defined]
    return render(request, "immunizations/partials/_chart_summary.html", {"s": s})


@login_required
@require_POST
def add_indication(request: HttpRequest, patient_id: str) -> HttpResponse:
    """Record a condition the forecast uses (a CDSi observation)."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.get_patient(actor, patient_id)
    form = forms.IndicationForm(request.POST)
    errors: dict[str, list[str]] = {}
    if not form.is_valid():
        errors = _form_errors(form)
    else:
        try:
            added = services.record_indication(actor=actor, patient=patient, **form.cleaned_data)
        except ValidationError as exc:
            errors = errors_by_field(exc)
        else:
            messages.success(request, f"Recorded: {added.title}. The forecast now counts it.")
            return redirect(_record_url(patient) + "#conditions")
    r = selectors.patient_record(actor, patient_id)
    context = {"r": r, "now": clock.now(), "condition_errors": errors}
    return render(request, "immunizations/patient.html", context, status=422)


@login_required
@require_POST
def end_indication(request: HttpRequest, indication_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    indication = selectors.get_indication(actor, indication_id)
    try:
        services.end_indication(actor=actor, indication=indication)
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in errors_by_field(exc).values() for m in ms))
    else:
        messages.success(request, f"Ended: {indication.title}.")
    return redirect(_record_url(indication.patient) + "#conditions")


# -- Giving vaccines ------------------------------------------------------------------------------


def _give_context(
    request: HttpRequest,
    patient: Patient,
    *,
    scan: selectors.Scan | None = None,
    draft: selectors.DoseDraft | None = None,
    errors: dict[str, list[str]] | None = None,
    just_given: Immunization | None = None,
    with_record: bool = True,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "patient": patient,
        "scan": scan,
        "draft": draft,
        "errors": errors or {},
        "error_list": _summary(errors or {}),
        "just_given": just_given,
        "now": clock.now(),
    }
    if with_record:
        context["r"] = selectors.give_plan(request.actor, patient)  # type: ignore[attr-defined]
    return context


@login_required
@require_http_methods(["GET", "POST"])
def give(request: HttpRequest, patient_id: str) -> HttpResponse:
    """The administration page; a POST gives the dose on the form."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.patient_for_giving(actor, patient_id)
    if request.method == "GET":
        return render(request, "immunizations/give.html", _give_context(request, patient))
    form = forms.DoseForm(request.POST)
    valid = form.is_valid()
    refs = selectors.dose_references(
        patient,
        lot=form.cleaned_data.get("lot") or _uuid(request.POST.get("lot")),
        standing_order=form.cleaned_data.get("standing_order"),
        order=form.cleaned_data.get("order"),
    )
    errors = {} if valid else _form_errors(form)
    status = 422
    if valid and refs.lot is None:
        errors = {"lot": ["This lot is not in this clinic's stock. Scan the vial again."]}
    elif valid and form.cleaned_data["standing_order"] and refs.standing_order is None:
        errors = {"order": ["That standing order is not one of this clinic's."]}
    elif valid and form.cleaned_data["order"] and refs.order is None:
        errors = {"order": ["That provider's order is not this patient's."]}
    elif valid:
        try:
            dose = services.administer(
                actor=actor,
                patient=patient,
                encounter=selectors.current_visit(patient),
                request=form.to_request(refs.lot, refs.standing_order, refs.order),
            )
        except DoseRefused as exc:
            errors = errors_by_field(exc)
        except PermissionDenied as exc:
            errors, status = {GENERAL: [str(exc)]}, 403
        else:
            return _given(request, patient, dose)
    if refs.lot is None:
        scan = selectors.Scan("", error=" ".join(errors.pop("lot", [])) or "Scan the vial again.")
        context = _give_context(request, patient, scan=scan, errors=errors, with_record=False)
    else:
        draft = selectors.dose_draft(
            actor,
            patient,
            selectors.lots_like(refs.lot),
            request.POST,
            vis_given=request.POST.getlist("vis"),
        )
        context = _give_context(request, patient, draft=draft, errors=errors, with_record=False)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "immunizations/partials/_give_form.html", context, status=status)
    context["r"] = selectors.give_plan(actor, patient)
    return render(request, "immunizations/give.html", context, status=status)


def _given(request: HttpRequest, patient: Patient, dose: Immunization) -> HttpResponse:
    until = clock.localtime(dose.observation.ends_at)
    text = (
        f"Given: {dose.vaccine_name} lot {dose.lot_number}, {dose.get_site_display()}. "
        f"Observe until {until:%H:%M}."
    )
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, text)
        return redirect(_record_url(patient) + f"#dose-{dose.public_id}")
    response = render(
        request,
        "immunizations/partials/_give_work.html",
        _give_context(request, patient, just_given=dose),
    )
    # The dose form swaps itself on a refusal; a dose given refreshes the whole work area
    # (due list, given today, an empty scan field for the next vaccine).
    response["HX-Retarget"] = "#give-work"
    response["HX-Reswap"] = "outerHTML"
    return response


@login_required
@require_POST
def scan(request: HttpRequest, patient_id: str) -> HttpResponse:
    """A scanned GS1 code or a typed lot number: the dose form for that lot, or why not."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.patient_for_giving(actor, patient_id)
    form = forms.ScanForm(request.POST)
    if form.is_valid():
        found = selectors.find_lots(patient, form.cleaned_data["scanned"])
    else:
        found = selectors.Scan("", error=" ".join(forms.errors_of(form).get("scanned", [])))
    draft = (
        selectors.dose_draft(actor, patient, found.lots, warnings=found.warnings)
        if found.lots
        else None
    )
    status = 200 if draft else 422
    context = _give_context(request, patient, scan=found, draft=draft, with_record=False)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "immunizations/partials/_give_form.html", context, status=status)
    context["r"] = selectors.give_plan(actor, patient)
    return render(request, "immunizations/give.html", context, status=status)


# -- The record: history, refusals, orders, corrections -------------------------------------


def _form_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    form: Any,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    if errors and form.is_bound:
        forms.add_errors(form, errors)
    return render(request, template, {**context, "form": form}, status=status)


def _patient_form(
    request: HttpRequest,
    patient: Patient,
    template: str,
    form_class: type[Form],
    save: Callable[[dict[str, Any]], str],
    *,
    initial: dict[str, Any] | None = None,
) -> HttpResponse:
    """A patient's one-form page: GET shows it; POST validates, calls `save` (a service call
    returning where to go next) and shows the service's refusals on their fields, keeping
    what was typed."""
    context = {"patient": patient}
    if request.method == "GET":
        return _form_page(request, template, context, form_class(initial=initial))
    form = form_class(request.POST)
    if not form.is_valid():
        return _form_page(request, template, context, form, status=422)
    try:
        where = save(form.cleaned_data)
    except ValidationError as exc:
        return _form_page(request, template, context, form, errors_by_field(exc), 422)
    except PermissionDenied as exc:
        return _form_page(request, template, context, form, {GENERAL: [str(exc)]}, 403)
    return redirect(where)


@login_required
@require_http_methods(["GET", "POST"])
def add_history(request: HttpRequest, patient_id: str) -> HttpResponse:
    """A dose given elsewhere, typed from a card, another provider's record or the registry."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.get_patient(actor, patient_id)

    def save(data: dict[str, Any]) -> str:
        dose = services.record_historical(actor=actor, patient=patient, **data)
        messages.success(
            request, f"Added from the record: {dose.vaccine_name} on {dose.occurred_on:%m/%d/%Y}."
        )
        return _record_url(patient) + f"#dose-{dose.public_id}"

    return _patient_form(
        request, patient, "immunizations/history_form.html", forms.HistoricalDoseForm, save
    )


@login_required
@require_http_methods(["GET", "POST"])
def refusal(request: HttpRequest, patient_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.get_patient(actor, patient_id)

    def save(data: dict[str, Any]) -> str:
        dose = services.record_refusal(
            actor=actor, patient=patient, encounter=selectors.current_visit(patient), **data
        )
        messages.success(request, f"Refusal of {dose.vaccine_name} recorded.")
        return _record_url(patient) + "#refusals"

    return _patient_form(
        request, patient, "immunizations/refusal_form.html", forms.RefusalForm, save
    )


@login_required
@require_http_methods(["GET", "POST"])
def order(request: HttpRequest, patient_id: str) -> HttpResponse:
    """The provider's order for one dose: plain, or off schedule with the reason."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.patient_for_ordering(actor, patient_id)

    def save(data: dict[str, Any]) -> str:
        placed = services.order_dose(
            actor=actor, patient=patient, encounter=selectors.current_visit(patient), **data
        )
        off = " (off schedule)" if placed.off_schedule else ""
        messages.success(request, f"Ordered: {placed.vaccine_group}{off}.")
        return _record_url(patient) + "#orders"

    return _patient_form(
        request,
        patient,
        "immunizations/order_form.html",
        forms.OrderForm,
        save,
        initial={"vaccine_group": request.GET.get("group", "")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def retract(request: HttpRequest, dose_id: str) -> HttpResponse:
    """Mark a dose record entered in error, with the reason (confirmed on its own page)."""
    actor = request.actor  # type: ignore[attr-defined]
    dose = selectors.get_dose(actor, dose_id)
    template = "immunizations/retract.html"
    context = {"dose": dose, "patient": dose.patient}
    if request.method == "GET":
        form = forms.RetractForm(initial={"version": dose.version})
        return _form_page(request, template, context, form)
    form = forms.RetractForm(request.POST)
    if not form.is_valid():
        return _form_page(request, template, context, form, status=422)
    if form.cleaned_data["version"] != dose.version:
        changed = {GENERAL: ["This record was changed meanwhile; check it and try again."]}
        return _form_page(request, template, context, form, changed, 409)
    try:
        services.retract(
            actor=actor,
            immunization=dose,
            reason=form.cleaned_data["reason"],
            restock=form.cleaned_data["restock"],
        )
    except ValidationError as exc:
        return _form_page(request, template, context, form, errors_by_field(exc), 422)
    except PermissionDenied as exc:
        return _form_page(request, template, context, form, {GENERAL: [str(exc)]}, 403)
    messages.success(
        request, f"{dose.vaccine_name} on {dose.occurred_on:%m/%d/%Y} marked as entered in error."
    )
    return redirect(_record_url(dose.patient) + f"#dose-{dose.public_id}")


@login_required
@require_http_methods(["GET", "POST"])
def correct(request: HttpRequest, dose_id: str) -> HttpResponse:
    """Correct a detail of a dose record (site, route, volume of a dose given here; the date
    and lot of one from another record), with the reason; the registry is sent the update."""
    actor = request.actor  # type: ignore[attr-defined]
    dose = selectors.dose_for_correcting(actor, dose_id)
    template = "immunizations/correct.html"
    context = {"dose": dose, "patient": dose.patient}
    if request.method == "GET":
        return _form_page(request, template, context, forms.CorrectDoseForm.for_dose(dose))
    form = forms.CorrectDoseForm(request.POST, dose=dose)
    if not form.is_valid():
        return _form_page(request, template, context, form, status=422)
    if form.cleaned_data["version"] != dose.version:
        changed = {GENERAL: ["This record was changed meanwhile; check it and try again."]}
        return _form_page(request, template, context, form, changed, 409)
    try:
        services.amend(actor=actor, immunization=dose, **form.to_kwargs())
    except ValidationError as exc:
        return _form_page(request, template, context, form, errors_by_field(exc), 422)
    except PermissionDenied as exc:
        return _form_page(request, template, context, form, {GENERAL: [str(exc)]}, 403)
    messages.success(request, f"{dose.vaccine_name} on {dose.occurred_on:%m/%d/%Y} corrected.")
    return redirect(_record_url(dose.patient) + f"#dose-{dose.public_id}")


# -- After the dose ---------------------------------------------------------------------------


@login_required
@require_POST
def release(request: HttpRequest, dose_id: str) -> HttpResponse:
    """End the observation after a dose (the patient may leave)."""
    actor = request.actor  # type: ignore[attr-defined]
    period = selectors.get_observation(actor, dose_id)
    try:
        services.release_observation(actor=actor, period=period)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Observation after {period.immunization.vaccine_name} ended.")
    return redirect(safe_next(request, _record_url(period.immunization.patient) + "#observation"))


@login_required
@require_http_methods(["GET", "POST"])
def reaction(request: HttpRequest, dose_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    dose = selectors.get_dose(actor, dose_id)
    template = "immunizations/reaction_form.html"
    context = {"dose": dose, "patient": dose.patient, "now": clock.now()}
    if request.method == "GET":
        form = forms.ReactionForm(initial={"onset_at": clock.localtime(clock.now())})
        return _form_page(request, template, context, form)
    form = forms.ReactionForm(request.POST)
    if not form.is_valid():
        return _form_page(request, template, context, form, status=422)
    try:
        found = services.record_reaction(actor=actor, immunization=dose, **form.cleaned_data)
    except ValidationError as exc:
        return _form_page(request, template, context, form, errors_by_field(exc), 422)
    except PermissionDenied as exc:
        return _form_page(request, template, context, form, {GENERAL: [str(exc)]}, 403)
    messages.success(
        request,
        "Reaction recorded. Tell the provider; a VAERS report draft is on the record.",
    )
    return redirect(_record_url(dose.patient) + f"#reaction-{found.public_id}")


@login_required
@require_GET
def vaers(request: HttpRequest, reaction_id: str) -> HttpResponse:
    """A printable page of what we know for the VAERS 2.0 online form (not a submission)."""
    v = selectors.vaers_draft(request.actor, reaction_id)  # type: ignore[attr-defined]
    return render(request, "immunizations/vaers.html", {"v": v})


# -- The fridge ---------------------------------------------------------------------------------


def _clinic(request: HttpRequest, perm: Permission, message: str) -> tuple[Clinic, list[Clinic]]:
    clinics = selectors.clinics_with(request.actor, perm)  # type: ignore[attr-defined]
    if not clinics:
        raise PermissionDenied(message)
    code = request.POST.get("clinic") or request.GET.get("clinic")
    return next((c for c in clinics if c.code == code), clinics[0]), clinics


def _stock_page(
    request: HttpRequest,
    clinic: Clinic,
    clinics: list[Clinic],
    *,
    errors: dict[str, list[str]] | None = None,
    errors_for: str = "",
    errors_lot: VaccineLot | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    context = {
        "clinic": clinic,
        "clinics": clinics,
        "units": selectors.stock(actor, clinic),
        "retired": selectors.retired_lots(actor, clinic),
        "errors": errors or {},
        "errors_for": errors_for,
        "errors_lot": errors_lot.public_id if errors_lot else None,
        "posted": request.POST,
        "funding": Funding.choices,
        "today": clock.today(),
    }
    return render(request, "immunizations/stock.html", context, status=status)


_NO_STOCK = "Your role does not keep vaccine stock."


@login_required
@require_GET
def stock(request: HttpRequest) -> HttpResponse:
    clinic, clinics = _clinic(request, Permission.MANAGE_VACCINE_STOCK, _NO_STOCK)
    return _stock_page(request, clinic, clinics)


@login_required
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    """A delivery into the fridge: the carton's 2D barcode, or NDC, lot and expiry typed."""
    clinic, clinics = _clinic(request, Permission.MANAGE_VACCINE_STOCK, _NO_STOCK)
    form = forms.ReceiveLotForm(request.POST)
    if not form.is_valid():
        return _stock_page(
            request, clinic, clinics, errors=_form_errors(form), errors_for="receive", status=422
        )
    try:
        lot = services.receive_lot(
            actor=request.actor,  # type: ignore[attr-defined]
            clinic_id=clinic.pk,
            **form.cleaned_data,
        )
    except ValidationError as exc:
        return _stock_page(
            request, clinic, clinics, errors=errors_by_field(exc), errors_for="receive", status=422
        )
    messages.success(
        request,
        f"Received: {lot.product_name} lot {lot.lot_number}; {lot.doses_on_hand} doses on hand.",
    )
    return redirect(reverse("immunizations:stock") + f"?clinic={clinic.code}#lot-{lot.public_id}")


@login_required
@require_POST
def adjust(request: HttpRequest, lot_id: str) -> HttpResponse:
    """Set a lot's count to what is in the fridge, with the reason."""
    actor = request.actor  # type: ignore[attr-defined]
    lot = selectors.get_lot(actor, lot_id)
    clinic, clinics = _clinic(request, Permission.MANAGE_VACCINE_STOCK, _NO_STOCK)
    clinic = next((c for c in clinics if c.pk == lot.clinic_id), clinic)
    form = forms.AdjustStockForm(request.POST)
    errors: dict[str, list[str]] = {}
    status = 422
    if not form.is_valid():
        errors = _form_errors(form)
    elif form.cleaned_data["version"] != lot.version:
        errors = {GENERAL: ["The lot changed meanwhile (a dose was given); count again."]}
        status = 409
    else:
        try:
            services.adjust_stock(
                actor=actor,
                lot=lot,
                counted=form.cleaned_data["counted"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            errors = errors_by_field(exc)
        else:
            messages.success(request, f"Lot {lot.lot_number}: {lot.doses_on_hand} doses on hand.")
            where = f"?clinic={clinic.code}#lot-{lot.public_id}"
            return redirect(reverse("immunizations:stock") + where)
    named = {
        name: [f"Lot {lot.lot_number}, {_COUNT_FIELDS.get(name, 'count')}: {m}" for m in found]
        for name, found in errors.items()
    }
    return _stock_page(request, clinic, clinics, errors=named, errors_for="count", status=status)


_COUNT_FIELDS = {"counted": "doses counted", "reason": "why", GENERAL: "count"}


@login_required
@require_POST
def retire(request: HttpRequest, lot_id: str) -> HttpResponse:
    """Take a lot out of use (expired, recalled, a temperature excursion, wasted), with the
    reason: no dose can be given from it again; it is listed apart with the doses left."""
    actor = request.actor  # type: ignore[attr-defined]
    lot = selectors.get_lot(actor, lot_id)
    clinic, clinics = _clinic(request, Permission.MANAGE_VACCINE_STOCK, _NO_STOCK)
    clinic = next((c for c in clinics if c.pk == lot.clinic_id), clinic)
    form = forms.RetireLotForm(request.POST)
    errors: dict[str, list[str]] = {}
    status = 422
    if not form.is_valid():
        errors = _form_errors(form)
    else:
        try:
            services.retire_lot(actor=actor, lot=lot, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            errors = errors_by_field(exc)
        except PermissionDenied as exc:
            errors, status = {GENERAL: [str(exc)]}, 403
        else:
            messages.success(
                request,
                f"Lot {lot.lot_number} of {lot.product_name} taken out of use; "
                f"{lot.doses_on_hand} dose{'s' if lot.doses_on_hand != 1 else ''} left in it.",
            )
            where = f"?clinic={clinic.code}#retired-{lot.public_id}"
            return redirect(reverse("immunizations:stock") + where)
    named = {
        name: [f"Lot {lot.lot_number}, taking it out of use: {m}" for m in found]
        for name, found in errors.items()
    }
    return _stock_page(
        request,
        clinic,
        clinics,
        errors=named,
        errors_for="retire",
        errors_lot=lot,
        status=status,
    )


# -- Standing orders ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def standing_orders(request: HttpRequest) -> HttpResponse:
    """The clinic's standing orders; a provider signs a new one here."""
    actor = request.actor  # type: ignore[attr-defined]
    clinic, clinics = _clinic(
        request, Permission.VIEW_IMMUNIZATIONS, "Your role does not include standing orders."
    )
    form = forms.StandingOrderForm(request.POST or None)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            errors, status = _form_errors(form), 422
        else:
            try:
                signed = services.save_standing_order(
                    actor=actor, clinic_id=clinic.pk, **form.to_kwargs()
                )
            except ValidationError as exc:
                errors, status = errors_by_field(exc), 422
            except PermissionDenied as exc:
                errors, status = {GENERAL: [str(exc)]}, 403
            else:
                messages.success(request, f"Standing order signed: {signed.title}.")
                return redirect(reverse("immunizations:standing-orders") + f"?clinic={clinic.code}")
    return _orders_page(request, clinic, clinics, errors=errors, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def clinic_settings(request: HttpRequest) -> HttpResponse:
    """The clinic manager's immunization rules: observation time and MAs' scope."""
    actor = request.actor  # type: ignore[attr-defined]
    clinic, clinics = _clinic(
        request,
        Permission.MANAGE_IMMUNIZATION_SETTINGS,
        "Only the clinic manager sets the clinic's immunization rules.",
    )
    current = services.clinic_settings(clinic.pk)
    form = forms.ClinicSettingsForm(
        request.POST or None,
        initial={
            "observation_minutes": current.observation_minutes,
            "assistants_may_administer": current.assistants_may_administer,
        },
    )
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            errors, status = _form_errors(form), 422
        else:
            try:
                services.save_clinic_settings(actor=actor, clinic_id=clinic.pk, **form.cleaned_data)
            except ValidationError as exc:
                errors, status = errors_by_field(exc), 422
            else:
                messages.success(request, "The clinic's immunization rules are saved.")
                return redirect(reverse("immunizations:settings") + f"?clinic={clinic.code}")
    context = {
        "clinic": clinic,
        "clinics": clinics,
        "form": form,
        "current": current,
        "errors": errors,
        "error_list": _summary(errors),
    }
    return render(request, "immunizations/settings.html", context, status=status)


def _orders_page(
    request: HttpRequest,
    clinic: Clinic,
    clinics: list[Clinic],
    *,
    errors: dict[str, list[str]] | None = None,
    ending: StandingOrder | None = None,
    end_errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    context = {
        "clinic": clinic,
        "clinics": clinics,
        "orders": selectors.standing_orders(actor, clinic),
        "groups": selectors.vaccine_groups(),
        "units": forms.AGE_UNITS,
        "errors": errors or {},
        "posted": request.POST if ending is None else {},
        "ending": ending.public_id if ending else None,
        "end_errors": end_errors or {},
        "end_posted": request.POST if ending is not None else {},
        "today": clock.today(),
    }
    return render(request, "immunizations/standing_orders.html", context, status=status)


@login_required
@require_POST
def end_standing_order(request: HttpRequest, order_id: str) -> HttpResponse:
    """A provider ends a standing order, today or from a given last day."""
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.get_standing_order(actor, order_id)
    clinic, clinics = _clinic(
        request, Permission.VIEW_IMMUNIZATIONS, "Your role does not include standing orders."
    )
    clinic = next((c for c in clinics if c.pk == found.clinic_id), clinic)
    form = forms.EndStandingOrderForm(request.POST)
    errors: dict[str, list[str]] = {}
    status = 422
    if not form.is_valid():
        errors = _form_errors(form)
    elif not found.active:
        errors = {GENERAL: ["This standing order has already ended."]}
    else:
        try:
            ended = services.end_standing_order(
                actor=actor, order=found, last_day=form.cleaned_data["last_day"]
            )
        except ValidationError as exc:
            errors = errors_by_field(exc)
            if "effective_to" in errors:
                errors.setdefault("last_day", []).extend(errors.pop("effective_to"))
        except PermissionDenied as exc:
            errors, status = {GENERAL: [str(exc)]}, 403
        else:
            last = ended.effective_to or clock.today()
            messages.success(
                request, f"Standing order ended: {ended.title}, last day {last:%m/%d/%Y}."
            )
            where = f"?clinic={clinic.code}#order-{ended.public_id}"
            return redirect(reverse("immunizations:standing-orders") + where)
    return _orders_page(request, clinic, clinics, ending=found, end_errors=errors, status=status)


# -- The registry ------------------------------------------------------------------------------


_NOT_MANAGER = "Only the clinic manager reviews the registry's answers."


@login_required
@require_GET
def registry(request: HttpRequest) -> HttpResponse:
    clinic, clinics = _clinic(request, Permission.REVIEW_REGISTRY, _NOT_MANAGER)
    rows = selectors.registry_submissions(request.actor, clinic)  # type: ignore[attr-defined]
    return render(
        request,
        "immunizations/registry.html",
        {"clinic": clinic, "clinics": clinics, "rows": rows, "problems": selectors.REVIEWABLE},
    )


@login_required
@require_POST
def mark_reviewed(request: HttpRequest, submission_id: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    submission = selectors.get_submission(actor, submission_id)
    back = reverse("immunizations:registry") + f"?clinic={submission.clinic.code}"
    services.mark_reviewed(actor=actor, submission=submission)
    messages.success(request, f"Registry answer {submission.control_id} marked reviewed.")
    return redirect(back)
