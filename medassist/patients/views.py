import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.selectors import clinics_where
from medassist.patients import selectors, services
from medassist.patients.forms import DemographicsForm, EmergencyAccessForm


def _form_errors_from(form, exc: ValidationError) -> None:  # type: ignore[no-untyped-def]
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def search(request):  # type: ignore[no-untyped-def]
    result = selectors.search_patients(request.actor, request.GET.get("q", ""))
    template = "patients/partials/_results.html" if request.htmx else "patients/search.html"
    return render(request, template, {"result": result})


@login_required
def chart(request, patient_id):  # type: ignore[no-untyped-def]
    return render(
        request, "patients/chart.html", {"chart": selectors.open_chart(request.actor, patient_id)}
    )


@login_required
def photo(request, patient_id):  # type: ignore[no-untyped-def]
    patient = selectors.get_patient(request.actor, patient_id, audit_as="Patient.photo")
    if not patient.photo:
        raise Http404("No photo on file")
    return FileResponse(patient.photo.open("rb"), content_type="image/jpeg")


@login_required
def print_face_sheet(request, patient_id):  # type: ignore[no-untyped-def]
    patient = selectors.get_patient(
        request.actor,
        patient_id,
        Permission.PRINT_CHART,
        audit_as="Patient.facesheet",
        action=Action.PRINT,
    )
    return render(
        request, "patients/print.html", {"patient": patient, "coverages": patient.coverages.all()}
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, patient_id):  # type: ignore[no-untyped-def]
    patient = selectors.get_patient(request.actor, patient_id, Permission.EDIT_PATIENT)
    form = DemographicsForm(request.POST or None, initial=DemographicsForm.initial_from(patient))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_demographics(
                actor=request.actor, patient=patient, data=form.to_command()
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, "Demographics saved.")
            return redirect("patients:chart", patient_id=patient.public_id)
    return render(request, "patients/edit.html", {"form": form, "patient": patient})


@login_required
@require_http_methods(["GET", "POST"])
def register(request):  # type: ignore[no-untyped-def]
    clinics = clinics_where(request.actor, Permission.REGISTER_PATIENT)
    if not clinics:
        raise PermissionDenied("Your role may not register patients.")
    form = DemographicsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.register_patient(
                actor=request.actor, clinic=clinics[0], data=form.to_command()
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, f"Registered with MRN {patient.mrn}.")
            return redirect("patients:chart", patient_id=patient.public_id)
    return render(request, "patients/edit.html", {"form": form, "clinic": clinics[0]})


@login_required
@require_http_methods(["GET", "POST"])
def emergency_access(request):  # type: ignore[no-untyped-def]
    if not can(request.actor, Permission.EMERGENCY_ACCESS):
        raise PermissionDenied("Your role may not use emergency access.")
    form = EmergencyAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.grant_emergency_access(actor=request.actor, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.warning(request, "Emergency access granted and reported to compliance.")
            return redirect("patients:chart", patient_id=grant.patient.public_id)
    return render(request, "patients/emergency_access.html", {"form": form})


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = ("mrn", "family", "given", "birth_date", "sex", "phone", "clinic")


@login_required
def export(request):  # type: ignore[no-untyped-def]
    """The clinic's patient list as CSV (streamed; audited as an export)."""
    if not clinics_where(request.actor, Permission.PRINT_CHART):
        raise PermissionDenied("Your role may not export patient lists.")
    rows = selectors.patients_for_export(request.actor).values_list(
        "mrn", "family", "given", "birth_date", "sex", "phone", "clinic__name"
    )
    record(request.actor, Action.EXPORT, "Patient.list", description="patient list CSV")
    writer = csv.writer(_Echo())
    stream = (writer.writerow(r) for r in [EXPORT_COLUMNS, *rows.iterator(chunk_size=2000)])
    response = StreamingHttpResponse(stream, content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="patients.csv"'
    return response
