"""The immunization forms. They check shape only (a date is a date, a choice is one of the
list); whether a dose may be given is the service's question (services.administer), so the page
and any API get the same answer, keyed by the same field names."""

from decimal import Decimal
from typing import Any

from django import forms

from medassist.immunizations import codes, forecasting
from medassist.immunizations.models import (
    Eligibility,
    Funding,
    Immunization,
    Reaction,
    Route,
    Site,
)
from medassist.immunizations.services import SCREENING_QUESTIONS, DoseRequest

DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]
YES_NO = [("yes", "Yes"), ("no", "No")]
SOURCES_FROM_RECORDS = [
    (value, label) for value, label in Immunization.Source.choices if value != "00"
]
# Ages in standing orders are stored in days. A month is 365.25 / 12 days and a year 365.25,
# rounded down: close enough for who an order covers; whether a dose counts is the forecast's
# (CDSi ages in calendar months and years) and administer() checks that separately.
AGE_UNITS = [("days", "days"), ("weeks", "weeks"), ("months", "months"), ("years", "years")]
_DAYS_PER = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}


def age_in_days(value: int | None, unit: str) -> int | None:
    if value is None:
        return None
    return int(value * _DAYS_PER.get(unit, 1.0))


class TextList(forms.Field):
    """Every value of a repeated field (ticked checkboxes), as stripped strings."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        cleaned = [str(v).strip()[:60] for v in values[:20] if str(v).strip()]
        if any("\x00" in v for v in cleaned):
            raise forms.ValidationError("Null characters are not allowed.")
        return cleaned


def _date(label: str, required: bool = False) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _datetime(label: str, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


# -- Giving a dose -----------------------------------------------------------------------------


class ScanForm(forms.Form):
    scanned = forms.CharField(
        label="Scan the vial or carton, or type the lot number", max_length=512
    )


class DoseForm(forms.Form):
    lot = forms.UUIDField(error_messages={"required": "Scan the vial or carton first."})
    site = forms.ChoiceField(
        label="Site", choices=Site.choices, error_messages={"required": "Choose the site."}
    )
    route = forms.ChoiceField(
        label="Route", choices=Route.choices, error_messages={"required": "Choose the route."}
    )
    eligibility = forms.ChoiceField(
        label="VFC eligibility", choices=[("", "—"), *Eligibility.choices], required=False
    )
    standing_order = forms.UUIDField(label="Standing order", required=False)
    order = forms.UUIDField(label="Provider's order", required=False)
    vis = TextList(label="VIS given", required=False)
    consent = forms.BooleanField(label="Consent given", required=False)
    confirm_birth_date = forms.DateField(
        label="Patient's date of birth", required=False, input_formats=DATE_FORMATS
    )
    given_at = _datetime("Time given", required=False)
    dose_volume_ml = forms.DecimalField(
        label="Dose (mL)",
        required=False,
        min_value=Decimal("0.05"),
        max_value=Decimal("5"),
        max_digits=4,
        decimal_places=2,
    )

    def screening(self) -> dict[str, bool]:
        """The answered questions only: an unanswered one is refused by the service."""
        data = self.cleaned_data
        return {
            key: data[f"screening_{key}"] == "yes"
            for key, _ in SCREENING_QUESTIONS
            if data.get(f"screening_{key}")
        }

    def to_request(self, lot: Any, standing_order: Any, order: Any) -> DoseRequest:
        data = self.cleaned_data
        return DoseRequest(
            lot=lot,
            site=data["site"],
            route=data["route"],
            confirm_birth_date=data["confirm_birth_date"],
            eligibility=data["eligibility"],
            screening=self.screening(),
            vis_given=data["vis"],
            consent=Immunization.Consent.GIVEN if data["consent"] else "",
            dose_volume_ml=data["dose_volume_ml"],
            standing_order=standing_order,
            order=order,
            given_at=data["given_at"],
        )


for _key, _text in SCREENING_QUESTIONS:
    DoseForm.base_fields[f"screening_{_key}"] = forms.ChoiceField(
        label=_text, choices=YES_NO, required=False, widget=forms.RadioSelect
    )


# -- The record ------------------------------------------------------------------------------


def vaccine_choices(active_only: bool = False) -> list[tuple[str, str]]:
    """CVX codes for a chooser, by name. Records from elsewhere may name vaccines no longer
    made, so the history form offers every code; a refusal is of a vaccine offered today."""
    vaccines = codes.catalog().vaccines()
    chosen = [v for v in vaccines if not active_only or v.status == "Active"]
    return [
        (v.cvx, f"{v.short_name} (CVX {v.cvx})" + ("" if v.status == "Active" else f", {v.status}"))
        for v in sorted(chosen, key=lambda v: (v.short_name.casefold(), v.cvx))
    ]


class HistoricalDoseForm(forms.Form):
    cvx = forms.ChoiceField(label="Vaccine", choices=())
    occurred_on = _date("Date given", required=True)
    source = forms.ChoiceField(label="Where the record comes from", choices=SOURCES_FROM_RECORDS)
    source_detail = forms.CharField(label="Source detail", max_length=200, required=False)
    lot_number = forms.CharField(
        label="Lot number (if on the record)", max_length=20, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cvx"].choices = [("", "—"), *vaccine_choices()]  # type: ignore[attr-defined]


class RefusalForm(forms.Form):
    cvx = forms.ChoiceField(label="Vaccine refused", choices=())
    reason = forms.CharField(label="Reason given", max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cvx"].choices = [("", "—"), *vaccine_choices(active_only=True)]  # type: ignore[attr-defined]


def group_choices() -> list[tuple[str, str]]:
    groups = sorted(forecasting.supporting_data().vaccine_groups, key=str.casefold)
    return [(g, g) for g in groups]


class OrderForm(forms.Form):
    vaccine_group = forms.ChoiceField(label="Vaccine", choices=())
    off_schedule = forms.BooleanField(
        label="Off schedule: give it although the forecast does not call for it", required=False
    )
    reason = forms.CharField(label="Reason", max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vaccine_group"].choices = [("", "—"), *group_choices()]  # type: ignore[attr-defined]


class RetractForm(forms.Form):
    reason = forms.CharField(label="What is wrong with this record?", max_length=300)
    restock = forms.BooleanField(
        label="The vaccine was not used: put the dose back in the lot's count",
        required=False,
    )
    version = forms.IntegerField(min_value=1, max_value=2_000_000_000)


class CorrectDoseForm(forms.Form):
    """A detail of a dose record put right (services.amend): where and how a dose given here
    went in, or the date and lot of a dose from another record. What the vaccine was is not
    corrected here: a wrong vaccine is marked entered in error and recorded again."""

    site = forms.ChoiceField(label="Site", choices=[("", "—"), *Site.choices], required=False)
    route = forms.ChoiceField(label="Route", choices=[("", "—"), *Route.choices], required=False)
    dose_volume_ml = forms.DecimalField(
        label="Dose (mL)",
        required=False,
        max_digits=4,
        decimal_places=2,
        widget=forms.TextInput(attrs={"size": 5, "inputmode": "decimal"}),
    )
    occurred_on = _date("Date given", required=True)
    lot_number = forms.CharField(label="Lot number", max_length=20, required=False)
    reason = forms.CharField(label="What is corrected, and why", max_length=300)
    version = forms.IntegerField(min_value=1, max_value=2_000_000_000, widget=forms.HiddenInput)

    GIVEN_HERE = ("site", "route", "dose_volume_ml")
    FROM_RECORDS = ("occurred_on", "lot_number")

    def __init__(self, *args: Any, dose: Immunization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dose = dose
        for name in self.GIVEN_HERE if dose.historical else self.FROM_RECORDS:
            del self.fields[name]
        # A detail the record has may be changed, not erased (amend() keeps it when empty).
        for name in self.GIVEN_HERE:
            if name in self.fields and getattr(dose, name) not in (None, ""):
                self.fields[name].required = True

    @classmethod
    def for_dose(cls, dose: Immunization) -> "CorrectDoseForm":
        volume = dose.dose_volume_ml
        initial = {
            "site": dose.site,
            "route": dose.route,
            "dose_volume_ml": f"{volume.normalize():f}" if volume is not None else "",
            "occurred_on": dose.occurred_on,
            "lot_number": dose.lot_number,
            "version": dose.version,
        }
        return cls(dose=dose, initial=initial)

    def to_kwargs(self) -> dict[str, Any]:
        """services.amend's keywords: None for a detail this form does not correct."""
        data = self.cleaned_data
        if self.dose.historical:
            return {
                "occurred_on": data["occurred_on"],
                "lot_number": data["lot_number"],
                "reason": data["reason"],
            }
        return {
            "site": data["site"] or None,
            "route": data["route"] or None,
            "dose_volume_ml": data["dose_volume_ml"],
            "reason": data["reason"],
        }


class ReactionForm(forms.Form):
    symptoms = forms.CharField(label="Symptoms", max_length=300)
    onset_at = _datetime("Onset")
    treatment = forms.CharField(label="Treatment given", max_length=300, required=False)
    outcome = forms.ChoiceField(label="Outcome", choices=[("", "—"), *Reaction.Outcome.choices])
    serious = forms.BooleanField(label="Serious", required=False)
    notes = forms.CharField(
        label="Notes", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


# -- The fridge ------------------------------------------------------------------------------


class ReceiveLotForm(forms.Form):
    scanned = forms.CharField(label="Scan the carton", max_length=512, required=False)
    ndc = forms.CharField(label="NDC", max_length=20, required=False)
    lot_number = forms.CharField(label="Lot number", max_length=20, required=False)
    expires_on = _date("Expires")
    funding = forms.ChoiceField(label="Funding", choices=[("", "—"), *Funding.choices])
    doses = forms.IntegerField(label="Doses received", min_value=1, max_value=10_000)
    storage_unit = forms.CharField(label="Fridge or freezer", max_length=60)


class AdjustStockForm(forms.Form):
    counted = forms.IntegerField(label="Doses counted", min_value=0, max_value=100_000)
    reason = forms.CharField(label="Why", max_length=300)
    version = forms.IntegerField(min_value=1, max_value=2_000_000_000)


class RetireLotForm(forms.Form):
    reason = forms.CharField(label="Why it is taken out of use", max_length=300)


class StandingOrderForm(forms.Form):
    vaccine_group = forms.ChoiceField(label="Vaccine group", choices=())
    title = forms.CharField(label="Title", max_length=120)
    min_age = forms.IntegerField(label="From age", min_value=0, max_value=1200, initial=0)
    min_age_unit = forms.ChoiceField(label="unit", choices=AGE_UNITS, initial="months")
    max_age = forms.IntegerField(label="Through age", min_value=0, max_value=1200, required=False)
    max_age_unit = forms.ChoiceField(label="unit", choices=AGE_UNITS, initial="years")
    conditions = forms.CharField(label="Who it covers, in words", max_length=300, required=False)
    protocol = forms.CharField(label="Protocol", max_length=20_000, widget=forms.Textarea)
    effective_from = _date("Effective from")
    effective_to = _date("Effective to")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vaccine_group"].choices = [("", "—"), *group_choices()]  # type: ignore[attr-defined]

    def to_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "vaccine_group": data["vaccine_group"],
            "title": data["title"],
            "protocol": data["protocol"],
            "min_age_days": age_in_days(data["min_age"], data["min_age_unit"]) or 0,
            "max_age_days": age_in_days(data["max_age"], data["max_age_unit"]),
            "conditions": data["conditions"],
            "effective_from": data["effective_from"],
            "effective_to": data["effective_to"],
        }


class EndStandingOrderForm(forms.Form):
    last_day = _date("Last day")


def errors_of(form: forms.Form) -> dict[str, list[str]]:
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """A service's refusal, shown on the form's own fields (or above them)."""
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, list(messages))


class ClinicSettingsForm(forms.Form):
    observation_minutes = forms.IntegerField(min_value=0, max_value=120)
    assistants_may_administer = forms.BooleanField(required=False)


class IndicationForm(forms.Form):
    code = forms.CharField(max_length=4)
    observed_on = forms.DateField(required=False, input_formats=["%Y-%m-%d", "%m/%d/%Y"])
