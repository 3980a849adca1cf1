"""Pages for ordering, collection, labels, custody, the pending-specimens board and the catalog.
Thin: parse input, call one service or selector, render. Every write is a service's; every read
a selector's, scoped to the actor's clinics (404 outside them) and audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.core import clock
from medassist.core.forms import GENERAL, errors_by_field
from medassist.encounters.models import Encounter
from medassist.labs import forms_orders as forms
from medassist.labs import labels
from medassist.labs.models import LabRequisition, Manifest, Specimen
from medassist.labs.selectors import orders as selectors
from medassist.labs.services import orders as services
from medassist.patients.models import Patient

BODY_SITES = (
    "Left antecubital (median cubital vein)",
    "Right antecubital (median cubital vein)",
    "Left cephalic vein",
    "Right cephalic vein",
    "Left hand (dorsal vein)",
    "Right hand (dorsal vein)",
    "Left ring finger",
    "Right ring finger",
    "Left middle finger",
    "Right middle finger",
)


def _code(exc: ValidationError) -> str:
    found = getattr(exc, "error_dict", {}).get(GENERAL, [])
    return str(found[0].code) if found else ""


def _form_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    form: Form,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    if errors and form.is_bound:
        forms.add_errors(form, errors)
    return render(request, template, {**context, "form": form}, status=status)


def _attempt(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    form: Form,
    save: Callable[[dict[str, Any]], HttpResponse],
) -> HttpResponse:
    """POST of a one-form page: validate, call `save` (a service call returning the response)
    and show the service's refusals on their fields, keeping what was typed."""
    if not form.is_valid():
        return _form_page(request, template, context, form, status=422)
    try:
        return save(form.cleaned_data)
    except ValidationError as exc:
        return _form_page(request, template, context, form, errors_by_field(exc), 422)
    except PermissionDenied as exc:
        return _form_page(request, template, context, form, {GENERAL: [str(exc)]}, 403)


def _orders_url(patient: Patient) -> str:
    return reverse("labs:patient-orders", kwargs={"patient_id": patient.public_id})


def _collect_url(requisition: LabRequisition) -> str:
    return reverse("labs:collect", kwargs={"requisition_id": requisition.public_id})


def _specimen_url(specimen: Specimen) -> str:
    return reverse("labs:specimen", kwargs={"specimen_id": specimen.public_id})


def _manifest_url(manifest: Manifest) -> str:
    return reverse("labs:manifest", kwargs={"manifest_id": manifest.public_id})


# -- Ordering ----------------------------------------------------------------------------------


def _order_page(
    request: HttpRequest, patient: Patient, visit: Encounter | None, *, todays: bool = False
) -> HttpResponse:
    """The order page, from a visit or from the chart (`todays`: the visit is the patient's
    open visit of today, found for them, None when there is none)."""
    actor = request.actor  # type: ignore[attr-defined]
    groups = selectors.order_catalog(patient.clinic_id)
    context: dict[str, Any] = {
        "patient": patient,
        "visit": visit,
        "todays": todays,
        "groups": groups,
        "open_orders": selectors.open_orders(patient),
        "chosen": [],
    }
    template = "labs/orders/order.html"
    if request.method == "GET":
        return _form_page(request, template, context, forms.OrderForm())
    form = forms.OrderForm(request.POST)
    context["chosen"] = [str(v) for v in request.POST.getlist("tests")][:100]

    def save(data: dict[str, Any]) -> HttpResponse:
        tests = selectors.catalog_tests(patient.clinic_id, data["tests"])
        if len(tests) != len(data["tests"]):
            raise ValidationError({"tests": "A chosen test is not in this clinic's catalog."})
        placed = services.place_order(
            actor=actor,
            patient=patient,
            encounter=visit,
            tests=tests,
            diagnoses=services.parse_diagnoses(data.get("diagnoses") or ""),
            priority=data["priority"],
            note=data.get("note") or "",
            collect_not_before=data.get("collect_not_before"),
        )
        names = ", ".join(o.test.name for r in placed for o in r.orders.select_related("test"))
        messages.success(
            request,
            f"Ordered: {names} ({len(placed)} requisition{'s' if len(placed) > 1 else ''}). "
            "The order is sent to the lab; the specimens are on the collection worklist.",
        )
        return redirect(_orders_url(patient) + f"#req-{placed[0].public_id}")

    return _attempt(request, template, context, form, save)


@login_required
@require_http_methods(["GET", "POST"])
def order_for_visit(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    visit = selectors.visit_for_ordering(request.actor, encounter_id)  # type: ignore[attr-defined]
    return _order_page(request, visit.patient, visit)


@login_required
@require_http_methods(["GET", "POST"])
def order_for_patient(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Ordering from the chart: the order belongs to the patient's open visit of today at the
    clinic, when they have exactly one; else to no visit."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = selectors.patient_for_ordering(actor, patient_id)
    return _order_page(request, patient, selectors.todays_visit(actor, patient), todays=True)


@login_required
@require_GET
def patient_orders(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    p = selectors.patient_orders(request.actor, patient_id)  # type: ignore[attr-defined]
    return render(request, "labs/orders/patient_orders.html", {"p": p})


@login_required
@require_http_methods(["GET", "POST"])
def cancel_order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    order = selectors.order_for_cancelling(actor, order_id)
    template = "labs/orders/cancel.html"
    context = {"order": order, "patient": order.patient}
    if request.method == "GET":
        return _form_page(request, template, context, forms.CancelOrderForm())

    def save(data: dict[str, Any]) -> HttpResponse:
        done = services.cancel_order(actor=actor, order=order, reason=data["reason"])
        messages.success(
            request, f"Cancelled: {done.test.name} ({done.placer_number}). The lab is told."
        )
        return redirect(_orders_url(order.patient) + f"#req-{order.requisition.public_id}")

    return _attempt(request, template, context, forms.CancelOrderForm(request.POST), save)


# -- Collection --------------------------------------------------------------------------------


@login_required
@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    w = selectors.worklist(request.actor, request.GET.get("clinic"))  # type: ignore[attr-defined]
    template = (
        "labs/orders/partials/_worklist.html"
        if request.htmx  # type: ignore[attr-defined]
        else "labs/orders/worklist.html"
    )
    return render(request, template, {"w": w})


def _collect_context(requisition: LabRequisition, **extra: Any) -> dict[str, Any]:
    return {
        "requisition": requisition,
        "patient": requisition.patient,
        "plan": selectors.collection_plan(requisition),
        "body_sites": BODY_SITES,
        "now": clock.localtime(clock.now()),
        **extra,
    }


def _collect_form(plan: selectors.CollectionPlan) -> forms.CollectForm:
    return forms.CollectForm(
        initial={
            "attempts": 1,
            "method": Specimen.Method.VENIPUNCTURE if plan.blood else "",
            "urine_method": Specimen.Method.CLEAN_CATCH if plan.clean_catch_only else "",
            "collected_at": clock.localtime(clock.now()).replace(second=0, microsecond=0),
        }
    )


@login_required
@require_http_methods(["GET", "POST"])
def collect(request: HttpRequest, requisition_id: uuid.UUID) -> HttpResponse:
    """The collection page: identity, tubes in the order of draw, the draw's record; then the
    labels. An "unable to collect" form sits below it."""
    actor = request.actor  # type: ignore[attr-defined]
    requisition = selectors.requisition_for_collecting(actor, requisition_id)
    template = "labs/orders/collect.html"
    unable = forms.NotCollectedForm()
    if request.method == "GET":
        context = _collect_context(requisition, unable=unable)
        return _form_page(request, template, context, _collect_form(context["plan"]))
    form = forms.CollectForm(request.POST)

    def save(data: dict[str, Any]) -> HttpResponse:
        try:
            done = services.collect_specimens(
                actor=actor, requisition=requisition, collection=form.to_collection()
            )
        except ValidationError as exc:
            if _code(exc) != "already_collected":
                raise
            # A double submit (or a colleague was quicker): nothing is collected twice; the
            # labels are where the first submission left them.
            messages.info(request, " ".join(exc.messages))
            return redirect(_collect_url(requisition) + "#labels")
        messages.success(
            request,
            f"Collected: {len(done.specimens)} specimen{'s' if len(done.specimens) > 1 else ''} "
            f"({', '.join(s.accession for s in done.specimens)}). Print the labels and label "
            "each tube before the patient leaves the chair.",
        )
        for warning in done.warnings:
            messages.warning(request, warning)
        return redirect(_collect_url(requisition) + "#labels")

    return _attempt(request, template, _collect_context(requisition, unable=unable), form, save)


@login_required
@require_POST
def not_collected(request: HttpRequest, requisition_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    requisition = selectors.requisition_for_collecting(actor, requisition_id)
    unable = forms.NotCollectedForm(request.POST)
    errors: dict[str, list[str]] = {}
    status = 422
    if not unable.is_valid():
        errors = forms.errors_of(unable)
    else:
        try:
            services.record_not_collected(
                actor=actor,
                requisition=requisition,
                reason=unable.cleaned_data["reason"],
                problem=unable.cleaned_data["problem"],
                attempts=unable.cleaned_data.get("attempts") or 0,
            )
        except ValidationError as exc:
            errors = errors_by_field(exc)
            forms.add_errors(unable, errors)
        except PermissionDenied as exc:
            errors, status = {GENERAL: [str(exc)]}, 403
            forms.add_errors(unable, errors)
        else:
            messages.warning(
                request,
                "Recorded as not collected. Tell the provider; the tests wait on the "
                "patient's orders for another try or the provider's decision.",
            )
            return redirect(_orders_url(requisition.patient) + f"#req-{requisition.public_id}")
    context = _collect_context(requisition, unable=unable, unable_open=True)
    form = _collect_form(context["plan"])
    return _form_page(request, "labs/orders/collect.html", context, form, status=status)


def _print(request: HttpRequest, requisition_id: uuid.UUID) -> list[labels.Label] | HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    requisition = selectors.requisition_for_collecting(actor, requisition_id)
    try:
        specimens = services.print_labels(actor=actor, requisition=requisition)
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in errors_by_field(exc).values() for m in ms))
        return redirect(_collect_url(requisition))
    return labels.labels_for(specimens)


@login_required
@require_POST
def labels_pdf(request: HttpRequest, requisition_id: uuid.UUID) -> HttpResponse:
    """The labels as a PDF of 2 x 1 in pages. A POST: printing is recorded (custody)."""
    found = _print(request, requisition_id)
    if isinstance(found, HttpResponse):
        return found
    response = HttpResponse(labels.labels_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="labels-{found[0].accession}.pdf"'
    return response


@login_required
@require_POST
def labels_zpl(request: HttpRequest, requisition_id: uuid.UUID) -> HttpResponse:
    """The labels as ZPL II, for a thermal label printer."""
    found = _print(request, requisition_id)
    if isinstance(found, HttpResponse):
        return found
    response = HttpResponse(labels.labels_zpl(found), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="labels-{found[0].accession}.zpl"'
    return response


# -- Custody -----------------------------------------------------------------------------------


@login_required
@require_GET
def specimen(request: HttpRequest, specimen_id: uuid.UUID) -> HttpResponse:
    s = selectors.specimen_page(request.actor, specimen_id)  # type: ignore[attr-defined]
    return render(request, "labs/orders/specimen.html", {"s": s})


@login_required
@require_http_methods(["GET", "POST"])
def process(request: HttpRequest, specimen_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.specimen_for(
        actor, specimen_id, Permission.COLLECT_SPECIMEN, "Your role does not process specimens."
    )
    template = "labs/orders/process.html"
    context = {"s": selectors.specimen_trail(actor, found)}
    if request.method == "GET":
        return _form_page(request, template, context, forms.ProcessForm())

    def save(data: dict[str, Any]) -> HttpResponse:
        done = services.process_specimen(actor=actor, specimen=found, **data)
        messages.success(request, f"Recorded: {found.accession} processed.")
        for warning in done.warnings:
            messages.warning(request, warning)
        return redirect(_specimen_url(found))

    return _attempt(request, template, context, forms.ProcessForm(request.POST), save)


@login_required
@require_http_methods(["GET", "POST"])
def received(request: HttpRequest, specimen_id: uuid.UUID) -> HttpResponse:
    """The lab's receipt, entered by hand for a lab without an interface."""
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.specimen_for_receipt(actor, specimen_id)
    template = "labs/orders/received.html"
    context = {"s": selectors.specimen_trail(actor, found)}
    if request.method == "GET":
        return _form_page(request, template, context, forms.ReceivedForm())

    def save(data: dict[str, Any]) -> HttpResponse:
        services.record_received(actor=actor, specimen=found, **data)
        messages.success(request, f"Recorded: {found.accession} received by the lab.")
        return redirect(_specimen_url(found))

    return _attempt(request, template, context, forms.ReceivedForm(request.POST), save)


@login_required
@require_http_methods(["GET", "POST"])
def new_manifest(request: HttpRequest) -> HttpResponse:
    """Pack specimens for one lab: choose the lab, tick the specimens, make the manifest."""
    actor = request.actor  # type: ignore[attr-defined]
    clinic, clinics = selectors.pick_clinic(
        actor,
        Permission.COLLECT_SPECIMEN,
        request.POST.get("clinic") or request.GET.get("clinic"),
        "Your role does not pack specimens.",
    )
    labs_here = selectors.labs_of(clinic.pk)
    lab = selectors.lab_for_packing(
        actor, request.POST.get("lab") or request.GET.get("lab"), clinic
    ) or (labs_here[0] if len(labs_here) == 1 else None)
    template = "labs/orders/manifest_new.html"

    def context(chosen: list[str] | None = None) -> dict[str, Any]:
        return {
            "clinic": clinic,
            "clinics": clinics,
            "labs": labs_here,
            "lab": lab,
            "candidates": selectors.manifest_candidates(actor, lab) if lab else [],
            "chosen": chosen or [],
        }

    if request.method == "GET":
        form = forms.ManifestForm(initial={"lab": lab.public_id if lab else ""})
        return _form_page(request, template, context(), form)
    form = forms.ManifestForm(request.POST)
    chosen = [str(v) for v in request.POST.getlist("specimens")][:100]
    if lab is None:
        return _form_page(
            request, template, context(chosen), form, {GENERAL: ["Choose the lab first."]}, 422
        )

    def save(data: dict[str, Any]) -> HttpResponse:
        specimens = selectors.candidate_specimens(lab, data["specimens"])
        if len(specimens) != len(data["specimens"]):
            raise ValidationError({"specimens": "A chosen specimen is not one of this clinic's."})
        manifest = services.create_manifest(actor=actor, lab=lab, specimens=specimens)
        messages.success(
            request,
            f"Manifest {manifest.number}: {len(specimens)} specimen"
            f"{'s' if len(specimens) > 1 else ''} packed for {lab.name}. Print it for the bag, "
            "then hand the bag to the courier.",
        )
        return redirect(_manifest_url(manifest))

    return _attempt(request, template, context(chosen), form, save)


@login_required
@require_GET
def manifest(request: HttpRequest, manifest_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.get_manifest(actor, manifest_id)
    context = {"m": selectors.manifest_page(found)}
    return _form_page(request, "labs/orders/manifest.html", context, forms.HandoffForm())


@login_required
@require_GET
def manifest_pdf(request: HttpRequest, manifest_id: uuid.UUID) -> HttpResponse:
    page = selectors.manifest_for_print(request.actor, manifest_id)  # type: ignore[attr-defined]
    response = HttpResponse(labels.manifest_pdf(page), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="manifest-{page.manifest.number}.pdf"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def handoff(request: HttpRequest, manifest_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    found = selectors.get_manifest(actor, manifest_id, Permission.COLLECT_SPECIMEN)
    template = "labs/orders/manifest.html"
    context = {"m": selectors.manifest_page(found)}
    if request.method == "GET":
        return _form_page(request, template, context, forms.HandoffForm())

    def save(data: dict[str, Any]) -> HttpResponse:
        services.hand_to_courier(actor=actor, manifest=found, **data)
        messages.success(request, f"Manifest {found.number} handed to {data['courier_name']}.")
        return redirect(_manifest_url(found))

    return _attempt(request, template, context, forms.HandoffForm(request.POST), save)


@login_required
@require_GET
def pending(request: HttpRequest) -> HttpResponse:
    """Every specimen not yet received by the lab, with its age and whether it is overdue
    (refreshes itself every minute)."""
    b = selectors.pending_board(request.actor, request.GET.get("clinic"))  # type: ignore[attr-defined]
    template = (
        "labs/orders/partials/_pending.html"
        if request.htmx  # type: ignore[attr-defined]
        else "labs/orders/pending.html"
    )
    return render(request, template, {"b": b})


# -- The catalog -------------------------------------------------------------------------------


@login_required
@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    c = selectors.catalog(request.actor, request.GET.get("clinic"))  # type: ignore[attr-defined]
    return render(request, "labs/orders/catalog.html", {"c": c})


def _catalog_clinic(request: HttpRequest) -> Any:
    clinic, _ = selectors.pick_clinic(
        request.actor,  # type: ignore[attr-defined]
        Permission.MANAGE_LAB_CATALOG,
        request.POST.get("clinic") or request.GET.get("clinic"),
        "Only the clinic manager keeps the lab catalog.",
    )
    return clinic


def _catalog_url(clinic: Any) -> str:
    return reverse("labs:catalog") + f"?clinic={clinic.code}"


def _lab_page(request: HttpRequest, clinic: Any, lab: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    template = "labs/orders/lab_form.html"
    context = {"clinic": clinic, "lab": lab}
    if request.method == "GET":
        form = forms.LabForm.for_lab(lab) if lab else forms.LabForm()
        return _form_page(request, template, context, form)

    def save(data: dict[str, Any]) -> HttpResponse:
        form_fields = form.to_fields()
        saved = services.save_lab(actor=actor, clinic_id=clinic.pk, fields=form_fields, lab=lab)
        messages.success(request, f"Saved: {saved.name}.")
        return redirect(_catalog_url(clinic) + f"#lab-{saved.public_id}")

    form = forms.LabForm(request.POST)
    return _attempt(request, template, context, form, save)


@login_required
@require_http_methods(["GET", "POST"])
def lab_new(request: HttpRequest) -> HttpResponse:
    return _lab_page(request, _catalog_clinic(request), None)


@login_required
@require_http_methods(["GET", "POST"])
def lab_edit(request: HttpRequest, lab_id: uuid.UUID) -> HttpResponse:
    lab = selectors.get_lab(request.actor, lab_id)  # type: ignore[attr-defined]
    return _lab_page(request, lab.clinic, lab)


def _test_page(request: HttpRequest, clinic: Any, test: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    template = "labs/orders/test_form.html"
    context = {"clinic": clinic, "test": test, "labs": selectors.labs_of(clinic.pk)}
    if request.method == "GET":
        initial: dict[str, Any] = {}
        if test is not None:
            initial = {
                name: getattr(test, name) for name in forms.TestForm.base_fields if name != "lab"
            }
            initial["lab"] = test.lab.public_id
        elif request.GET.get("lab"):
            initial["lab"] = request.GET.get("lab")
        return _form_page(request, template, context, forms.TestForm(initial=initial))
    form = forms.TestForm(request.POST)

    def save(data: dict[str, Any]) -> HttpResponse:
        lab = selectors.clinic_lab(clinic.pk, data["lab"])
        if lab is None:
            raise ValidationError({"lab": "Choose one of this clinic's labs."})
        saved = services.save_test(
            actor=actor, clinic_id=clinic.pk, fields=form.to_fields(lab), test=test
        )
        messages.success(request, f"Saved: {saved.name} (LOINC {saved.loinc}).")
        return redirect(_catalog_url(clinic) + f"#test-{saved.public_id}")

    return _attempt(request, template, context, form, save)


@login_required
@require_http_methods(["GET", "POST"])
def test_new(request: HttpRequest) -> HttpResponse:
    return _test_page(request, _catalog_clinic(request), None)


@login_required
@require_http_methods(["GET", "POST"])
def test_edit(request: HttpRequest, test_id: uuid.UUID) -> HttpResponse:
    test = selectors.get_test(request.actor, test_id)  # type: ignore[attr-defined]
    return _test_page(request, test.clinic, test)


# -- The lab interface: order messages -----------------------------------------------------------


@login_required
@require_POST
def resend_order_message(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    message = selectors.order_message_for_resend(actor, message_id)
    try:
        sent = services.resend_order_message(actor=actor, message=message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Message {sent.control_id} ({sent.control}) is queued to be sent to the lab again.",
        )
    return redirect(reverse("labs:interface"))


urlpatterns = [
    path("visits/<uuid:encounter_id>/order/", order_for_visit, name="order-visit"),
    path("patients/<uuid:patient_id>/order/", order_for_patient, name="order-patient"),
    path("patients/<uuid:patient_id>/orders/", patient_orders, name="patient-orders"),
    path("orders/<uuid:order_id>/cancel/", cancel_order, name="cancel-order"),
    path("collect/", worklist, name="worklist"),
    path("requisitions/<uuid:requisition_id>/collect/", collect, name="collect"),
    path("requisitions/<uuid:requisition_id>/not-collected/", not_collected, name="not-collected"),
    path("requisitions/<uuid:requisition_id>/labels.pdf", labels_pdf, name="labels-pdf"),
    path("requisitions/<uuid:requisition_id>/labels.zpl", labels_zpl, name="labels-zpl"),
    path("specimens/<uuid:specimen_id>/", specimen, name="specimen"),
    path("specimens/<uuid:specimen_id>/process/", process, name="process"),
    path("specimens/<uuid:specimen_id>/received/", received, name="received"),
    path("manifests/new/", new_manifest, name="new-manifest"),
    path("manifests/<uuid:manifest_id>/", manifest, name="manifest"),
    path("manifests/<uuid:manifest_id>/manifest.pdf", manifest_pdf, name="manifest-pdf"),
    path("manifests/<uuid:manifest_id>/handoff/", handoff, name="handoff"),
    path("pending/", pending, name="pending"),
    path("catalog/", catalog, name="catalog"),
    path("catalog/labs/new/", lab_new, name="lab-new"),
    path("catalog/labs/<uuid:lab_id>/", lab_edit, name="lab-edit"),
    path("catalog/tests/new/", test_new, name="test-new"),
    path("catalog/tests/<uuid:test_id>/", test_edit, name="test-edit"),
    path(
        "interface/orders/<uuid:message_id>/resend/",
        resend_order_message,
        name="order-message-resend",
    ),
]
