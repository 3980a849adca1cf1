"""The forms of ordering, collection, custody and the catalog. They check shape only (a date is
a date, a choice is one of the list); whether the thing may be done is the service's question
(labs.services.orders), so the page and any API get the same answer, keyed by the same field
names."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from medassist.labs.draw import Container
from medassist.labs.models import Handling, PerformingLab, Priority, Specimen, SpecimenType
from medassist.labs.services.orders import (
    BLOOD_METHODS,
    MAX_ATTEMPTS_FIELD,
    UNABLE_PROBLEMS,
    URINE_METHODS,
    Collection,
    LabFields,
    LabTestFields,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]
DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"]


class UUIDList(forms.Field):
    """Every value of a repeated field (ticked checkboxes) that is a UUID; anything else is
    refused with the field's message."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[uuid.UUID]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        found: list[uuid.UUID] = []
        for v in values[:100]:
            try:
                found.append(uuid.UUID(str(v)))
            except ValueError:
                raise forms.ValidationError("That choice is not one of the list.") from None
        return list(dict.fromkeys(found))


def _datetime(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=DATETIME_FORMATS,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


def errors_of(form: forms.Form) -> dict[str, list[str]]:
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """A service's refusal, shown on the form's own fields (or above them)."""
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, list(messages))


# -- Ordering ----------------------------------------------------------------------------------


class OrderForm(forms.Form):
    tests = UUIDList(
        label="Tests", error_messages={"required": "Choose at least one test."}, required=False
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Priority.choices, initial=Priority.ROUTINE
    )
    diagnoses = forms.CharField(
        label="Diagnoses (ICD-10-CM)",
        max_length=2000,
        required=False,
        help_text="One a line: the code, then the words if you like, e.g. “E11.9 Type 2 "
        "diabetes mellitus without complications”.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    note = forms.CharField(
        label="Note to the lab and the collector",
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 300}),
    )
    collect_not_before = _datetime(
        "Collect not before",
        "A timed draw (e.g. a trough before the next dose, 2 h after a meal). Leave empty to "
        "collect now.",
    )


class CancelOrderForm(forms.Form):
    reason = forms.CharField(
        label="Why is the test cancelled?",
        max_length=200,
        widget=forms.TextInput(attrs={"maxlength": 200, "list": "cancel-reasons"}),
    )


# -- Collection --------------------------------------------------------------------------------


class CollectForm(forms.Form):
    # Not optional although the form lets them be empty: the service asks for each when the
    # requisition needs it (a method for blood, the fasting hours for a fasting test), and
    # refuses on the field with the reason.
    needed = "confirm_birth_date method urine_method attempts fasting_hours_reported"

    confirm_name = forms.BooleanField(
        label="The patient said their full name and it matches the requisition", required=False
    )
    confirm_birth_date = forms.DateField(
        label="Date of birth, as the patient says it",
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY"}),
    )
    method = forms.ChoiceField(
        label="Blood drawn by",
        required=False,
        choices=[("", "—"), *[(m.value, m.label) for m in BLOOD_METHODS]],
    )
    urine_method = forms.ChoiceField(
        label="Urine collected as",
        required=False,
        choices=[("", "—"), *[(m.value, m.label) for m in URINE_METHODS]],
    )
    body_site = forms.CharField(
        label="Site",
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"list": "body-sites", "maxlength": 60}),
    )
    attempts = forms.IntegerField(
        label="Venipuncture attempts (yours, this draw)",
        min_value=1,
        max_value=MAX_ATTEMPTS_FIELD,
        required=False,
        initial=1,
    )
    problems = forms.MultipleChoiceField(
        label="Problems",
        required=False,
        choices=[(p.value, p.label) for p in Specimen.Problem if p.value not in UNABLE_PROBLEMS],
        widget=forms.CheckboxSelectMultiple,
    )
    fasting_hours_reported = forms.IntegerField(
        label="Hours since the patient last ate", min_value=0, max_value=72, required=False
    )
    collected_at = _datetime("Collected at", "Now, unless you record it afterwards.")
    note = forms.CharField(label="Note", max_length=300, required=False)

    def to_collection(self) -> Collection:
        data = self.cleaned_data
        return Collection(
            confirm_name=bool(data.get("confirm_name")),
            confirm_birth_date=data.get("confirm_birth_date"),
            method=data.get("method") or "",
            urine_method=data.get("urine_method") or "",
            body_site=data.get("body_site") or "",
            attempts=data.get("attempts") or 1,
            problems=list(data.get("problems") or []),
            fasting_hours_reported=data.get("fasting_hours_reported"),
            collected_at=data.get("collected_at"),
            note=data.get("note") or "",
        )


class NotCollectedForm(forms.Form):
    problem = forms.ChoiceField(
        label="What happened",
        choices=[(p.value, p.label) for p in Specimen.Problem if p.value in UNABLE_PROBLEMS],
        initial=Specimen.Problem.UNABLE,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        widget=forms.TextInput(attrs={"maxlength": 300, "list": "unable-reasons"}),
    )
    attempts = forms.IntegerField(
        label="Venipuncture attempts you made",
        min_value=0,
        max_value=MAX_ATTEMPTS_FIELD,
        required=False,
        initial=0,
    )


# -- Custody -----------------------------------------------------------------------------------


class ProcessForm(forms.Form):
    spun_minutes = forms.IntegerField(
        label="Centrifuged for (minutes)", min_value=1, max_value=30, required=False
    )
    aliquoted = forms.BooleanField(label="Aliquoted into a transfer tube", required=False)
    refrigerated = forms.BooleanField(label="Refrigerated (2–8 °C)", required=False)
    frozen = forms.BooleanField(label="Frozen (−20 °C)", required=False)
    at = _datetime("When", "Now, unless you record it afterwards.")
    note = forms.CharField(label="Note", max_length=200, required=False)


class ManifestForm(forms.Form):
    lab = forms.UUIDField(widget=forms.HiddenInput)
    specimens = UUIDList(label="Specimens", required=False)


class HandoffForm(forms.Form):
    courier_name = forms.CharField(label="Courier's name", max_length=120)
    handed_at = _datetime("Handed over at", "Now, unless you record it afterwards.")


class ReceivedForm(forms.Form):
    received_at = _datetime("Received by the lab at", "As the lab, its portal or receipt says.")
    received_by = forms.CharField(label="Who at the lab (optional)", max_length=80, required=False)


# -- The catalog -------------------------------------------------------------------------------


class LabForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    clia_number = forms.CharField(label="CLIA number", max_length=10, required=False)
    application = forms.CharField(
        label="Lab's application (MSH-3 / MSH-5)", max_length=40, initial="LAB"
    )
    facility = forms.CharField(label="Lab's facility id (MSH-4 / MSH-6)", max_length=40)
    clinic_facility = forms.CharField(
        label="Clinic's facility id at the lab (our MSH-4, its MSH-6)", max_length=40
    )
    message_type = forms.ChoiceField(
        label="Order message", choices=PerformingLab.MessageType.choices
    )
    host = forms.CharField(label="MLLP host", max_length=200, required=False)
    port = forms.IntegerField(label="MLLP port", required=False, min_value=1, max_value=65535)
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", min_value=1, max_value=300, initial=30
    )
    enabled = forms.BooleanField(label="Takes orders", required=False, initial=True)
    pickup_hours = forms.IntegerField(
        label="Courier pickup within (hours of collection)", min_value=1, max_value=72, initial=4
    )
    transit_hours = forms.IntegerField(
        label="Received by the lab within (hours of hand-off)",
        min_value=1,
        max_value=168,
        initial=24,
    )

    def to_fields(self) -> LabFields:
        d = self.cleaned_data
        return LabFields(
            name=d["name"],
            facility=d["facility"],
            clinic_facility=d["clinic_facility"],
            clia_number=d.get("clia_number") or "",
            application=d.get("application") or "LAB",
            message_type=d["message_type"],
            host=d.get("host") or "",
            port=d.get("port"),
            timeout_seconds=d["timeout_seconds"],
            enabled=bool(d.get("enabled")),
            pickup_hours=d["pickup_hours"],
            transit_hours=d["transit_hours"],
        )

    @classmethod
    def for_lab(cls, lab: PerformingLab) -> LabForm:
        return cls(
            initial={name: getattr(lab, name) for name in cls.base_fields if hasattr(lab, name)}
        )


class TestForm(forms.Form):
    lab = forms.UUIDField(label="Performing lab")
    loinc = forms.CharField(label="LOINC code", max_length=10)
    name = forms.CharField(label="Name", max_length=120)
    lab_code = forms.CharField(label="The lab's test code", max_length=20)
    specimen_type = forms.ChoiceField(label="Specimen", choices=SpecimenType.choices)
    container = forms.ChoiceField(label="Container", choices=Container.choices)
    volume_ml = forms.DecimalField(
        label="Volume (mL)",
        min_value=Decimal("0.1"),
        max_value=Decimal("50"),
        max_digits=5,
        decimal_places=1,
    )
    fasting_hours = forms.IntegerField(
        label="Fasting required (hours; 0 none)", min_value=0, max_value=24, initial=0
    )
    handling = forms.ChoiceField(label="Handling", choices=Handling.choices)
    spin_within_minutes = forms.IntegerField(
        label="Centrifuge within (minutes of collection)",
        min_value=15,
        max_value=1440,
        required=False,
    )
    instructions = forms.CharField(label="Instructions", max_length=300, required=False)
    active = forms.BooleanField(label="Orderable", required=False, initial=True)
    sort_order = forms.IntegerField(
        label="Place in the list", min_value=0, max_value=1000, initial=0
    )

    def to_fields(self, lab: PerformingLab) -> LabTestFields:
        d = self.cleaned_data
        return LabTestFields(
            lab=lab,
            loinc=d["loinc"],
            name=d["name"],
            lab_code=d["lab_code"],
            specimen_type=d["specimen_type"],
            container=d["container"],
            volume_ml=d["volume_ml"],
            fasting_hours=d["fasting_hours"],
            handling=d["handling"],
            spin_within_minutes=d.get("spin_within_minutes"),
            instructions=d.get("instructions") or "",
            active=bool(d.get("active")),
            sort_order=d["sort_order"],
        )
