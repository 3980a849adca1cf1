from django import forms

from medassist.patients.models import (
    LANGUAGES,
    AdministrativeSex,
    BirthSex,
    Ethnicity,
    GenderIdentity,
    Race,
)
from medassist.patients.services import Demographics


class DemographicsForm(forms.Form):
    given = forms.CharField(label="First name", max_length=100)
    middle = forms.CharField(label="Middle name", max_length=100, required=False)
    family = forms.CharField(label="Last name", max_length=100)
    suffix = forms.CharField(max_length=20, required=False)
    preferred_name = forms.CharField(label="Preferred name", max_length=100, required=False)
    birth_date = forms.DateField(
        label="Date of birth",
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sex = forms.ChoiceField(label="Sex (administrative)", choices=AdministrativeSex.choices)
    birth_sex = forms.ChoiceField(
        label="Sex assigned at birth", required=False, choices=[("", "—")] + BirthSex.choices
    )
    gender_identity = forms.ChoiceField(
        required=False, choices=[("", "—")] + GenderIdentity.choices
    )
    race = forms.MultipleChoiceField(
        required=False, choices=Race.choices, widget=forms.CheckboxSelectMultiple
    )
    ethnicity = forms.ChoiceField(required=False, choices=[("", "—")] + Ethnicity.choices)
    preferred_language = forms.ChoiceField(
        choices=[(code, LANGUAGES[code]) for code in sorted(LANGUAGES, key=LANGUAGES.__getitem__)]
    )
    interpreter_needed = forms.BooleanField(required=False)
    phone = forms.RegexField(
        regex=r"^[\d\s()+.\-]{7,20}$",
        required=False,
        max_length=30,
        error_messages={"invalid": "Enter a phone number, e.g. 555-201-3344."},
    )
    email = forms.EmailField(required=False)
    address_line = forms.CharField(label="Address", max_length=200, required=False)
    address_line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        required=False,
        max_length=2,
        error_messages={"invalid": "Use the two-letter state code."},
    )
    postal_code = forms.RegexField(
        regex=r"^\d{5}(-\d{4})?$",
        required=False,
        max_length=10,
        label="ZIP code",
        error_messages={"invalid": "Enter a 5-digit ZIP code."},
    )

    def clean_state(self) -> str:
        return self.cleaned_data["state"].upper()

    def to_command(self) -> Demographics:
        return Demographics(**self.cleaned_data)

    @classmethod
    def initial_from(cls, patient) -> dict:  # type: ignore[no-untyped-def]
        return {name: getattr(patient, name) for name in cls.base_fields}


class EmergencyAccessForm(forms.Form):
    mrn = forms.CharField(label="MRN", max_length=20)
    birth_date = forms.DateField(
        label="Date of birth",
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need this chart now. Reviewed by compliance.",
    )
