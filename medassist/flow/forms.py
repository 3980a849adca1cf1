"""Input of the clinic-day commands, apart from what the pages display."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from medassist.flow.models import CheckIn, Checkout, ConsentSignature
from medassist.flow.services import CheckInData, FollowUp
from medassist.flow.timing import Targets


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class RoomForm(VersionForm):
    room = forms.CharField(max_length=40, error_messages={"required": "Choose a ready room."})


class CheckInForm(VersionForm):
    stated_birth_date = forms.DateField(
        label="Date of birth, as the patient says it",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "off"}),
        error_messages={"invalid": "Enter the date of birth as a date (month, day, year)."},
    )
    name_confirmed = forms.BooleanField(
        label="The patient stated their full name and it matches the chart", required=False
    )
    photo_id = forms.BooleanField(label="Photo ID seen and matches", required=False)
    demographics_confirmed = forms.BooleanField(
        label="Address, phone and emergency contact confirmed with the patient", required=False
    )
    coverage = forms.CharField(required=False)
    copay_amount = forms.DecimalField(
        label="Copay collected ($)",
        min_value=Decimal("0"),
        max_value=Decimal("10000"),
        decimal_places=2,
        initial=Decimal("0"),
        error_messages={"invalid": "Enter the amount in dollars, e.g. 25 or 25.00."},
    )
    payment = forms.ChoiceField(
        label="Copay", choices=CheckIn.Payment.choices, initial=CheckIn.Payment.NONE_DUE
    )
    note = forms.CharField(label="Note for the team", required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for form in ConsentSignature.Form:
            self.fields[f"consent_{form.value}"] = forms.ChoiceField(
                label=form.label,
                choices=[
                    ("on_file", "On file"),
                    ("signed", "Signed today"),
                    ("declined", "Declined to sign"),
                ],
                required=False,
                widget=forms.RadioSelect,
            )

    def to_data(self) -> CheckInData:
        c = self.cleaned_data
        return CheckInData(
            stated_birth_date=c["stated_birth_date"],
            name_confirmed=c["name_confirmed"],
            photo_id=c["photo_id"],
            demographics_confirmed=c["demographics_confirmed"],
            coverage_id=c["coverage"],
            consents={f.value: c.get(f"consent_{f.value}") or "" for f in ConsentSignature.Form},
            copay_amount=c["copay_amount"],
            payment=c["payment"],
            note=c["note"],
        )


# How far ahead the follow-up is wanted: the choices a provider writes on the routing slip.
FOLLOW_UP_IN = [
    ("7", "1 week"),
    ("14", "2 weeks"),
    ("28", "4 weeks"),
    ("42", "6 weeks"),
    ("91", "3 months"),
    ("182", "6 months"),
    ("365", "1 year"),
]


class FollowUpSearchForm(forms.Form):
    """Which follow-up to look for: type, provider, and from when."""

    appointment_type = forms.ChoiceField(label="Type of visit")
    provider = forms.ChoiceField(label="With")
    follow_up_in = forms.ChoiceField(label="In about", choices=FOLLOW_UP_IN, initial="14")

    def __init__(self, *args: Any, types: list, providers: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = {t.code: t for t in types}
        self.providers = {p.get_username(): p for p in providers}
        self.fields["appointment_type"].choices = [(t.code, t.name) for t in types]  # type: ignore[attr-defined]
        self.fields["provider"].choices = [  # type: ignore[attr-defined]
            (p.get_username(), p.get_full_name() or p.get_username()) for p in providers
        ]

    def after(self, today: dt.date) -> dt.datetime:
        days = int(self.cleaned_data["follow_up_in"])
        # Look from a few days before the wanted date, so "2 weeks" offers the Friday before too.
        day = today + dt.timedelta(days=max(1, days - min(3, days // 7)))
        return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


class CheckoutForm(FollowUpSearchForm, VersionForm):
    plan = forms.ChoiceField(
        label="Follow-up", choices=Checkout.Plan.choices, widget=forms.RadioSelect
    )
    slot = forms.CharField(required=False, help_text="start time ISO|provider username")
    note = forms.CharField(label="Note", required=False, max_length=300)

    def clean(self) -> dict[str, Any]:
        c = super().clean() or {}
        if c.get("plan") == Checkout.Plan.BOOKED and not c.get("slot"):
            self.add_error("slot", "Choose one of the open times for the follow-up.")
        return c

    def follow_up(self) -> FollowUp | None:
        c = self.cleaned_data
        if c["plan"] != Checkout.Plan.BOOKED:
            return None
        start_text, _, username = c["slot"].partition("|")
        try:
            start = dt.datetime.fromisoformat(start_text)
        except ValueError:
            start = None
        provider = self.providers.get(username)
        kind = self.types.get(c["appointment_type"])
        if start is None or start.tzinfo is None or provider is None or kind is None:
            self.add_error("slot", "That time is not one of those offered; look again.")
            return None
        return FollowUp(appointment_type=kind, provider=provider, start=start)


class TargetsForm(forms.Form):
    arrived = forms.IntegerField(label="Waiting room", min_value=1, max_value=600)
    roomed = forms.IntegerField(label="Rooming", min_value=1, max_value=600)
    ready_for_provider = forms.IntegerField(
        label="Waiting for the provider", min_value=1, max_value=600
    )
    with_provider = forms.IntegerField(label="With the provider", min_value=1, max_value=600)
    ready_for_checkout = forms.IntegerField(
        label="Waiting for checkout", min_value=1, max_value=600
    )
    total = forms.IntegerField(label="Door to door", min_value=1, max_value=1440)

    def to_targets(self) -> Targets:
        return Targets(**self.cleaned_data)


class RoomStatusForm(VersionForm):
    status = forms.ChoiceField(
        choices=[("dirty", "Dirty"), ("cleaning", "Being cleaned"), ("ready", "Ready")]
    )


class ReportRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def range(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The days asked for: by default the two weeks up to today; at most 92 days."""
        c = self.cleaned_data if self.is_valid() else {}
        end = c.get("end") or today
        start = c.get("start") or end - dt.timedelta(days=13)
        if start > end:
            start, end = end, start
        return max(start, end - dt.timedelta(days=91)), end
