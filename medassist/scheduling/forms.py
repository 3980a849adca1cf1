"""Input of the schedule pages. Providers are named by username in forms (integer keys never
leave the server); dates and times are entered in the clinic's time zone."""

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from medassist.scheduling.models import AppointmentType, ReminderPreference
from medassist.scheduling.selectors import clinic_tz

DATE = forms.DateInput(attrs={"type": "date"})
TIME = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


def _provider_field(providers: list[Any], required: bool = True, empty: str = "") -> forms.Field:
    return ProviderChoiceField(
        queryset=get_user_model().objects.filter(pk__in=[p.pk for p in providers]),
        to_field_name="username",
        required=required,
        empty_label=(empty or "Any provider") if not required else "Choose…",
    )


def _type_field(types: list[AppointmentType]) -> forms.Field:
    return forms.ModelChoiceField(
        queryset=AppointmentType.objects.filter(pk__in=[t.pk for t in types]),
        to_field_name="code",
        label="Type of visit",
        empty_label="Choose…",
    )


class _StartMixin:
    cleaned_data: dict[str, Any]

    def start(self) -> dt.datetime:
        day, at = self.cleaned_data["date"], self.cleaned_data["time"]
        return dt.datetime.combine(day, at, tzinfo=clinic_tz())


class BookingForm(_StartMixin, forms.Form):
    q = forms.CharField(
        label="Find the patient", required=False, help_text="name, date of birth, MRN or phone"
    )
    patient = forms.UUIDField(label="Patient", error_messages={"required": "Choose the patient."})
    appointment_type = forms.Field()  # replaced in __init__
    provider = forms.Field()  # replaced in __init__
    date = forms.DateField(widget=DATE)
    time = forms.TimeField(widget=TIME, input_formats=["%H:%M", "%H:%M:%S"])
    reason = forms.CharField(max_length=300, required=False, label="Reason for visit")
    note = forms.CharField(max_length=300, required=False, label="Note for the front desk")
    allow_double_booking = forms.BooleanField(
        required=False, label="Double-book (beyond the slot's capacity)"
    )

    def __init__(
        self, *args: Any, types: list[AppointmentType], providers: list[Any], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["appointment_type"] = _type_field(types)
        self.fields["provider"] = _provider_field(providers)
        self.order_fields(["q", "patient", "appointment_type", "provider", "date", "time"])


class WaitlistForm(forms.Form):
    """The booking form's "put on the waitlist" button: patient, type, provider (optional)."""

    patient = forms.UUIDField(error_messages={"required": "Choose the patient."})
    appointment_type = forms.Field()  # replaced in __init__
    provider = forms.Field(required=False)
    latest = forms.DateField(required=False, widget=DATE, label="Latest date")
    note = forms.CharField(max_length=300, required=False)

    def __init__(
        self, *args: Any, types: list[AppointmentType], providers: list[Any], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["appointment_type"] = _type_field(types)
        self.fields["provider"] = _provider_field(providers, required=False)


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class CancelForm(VersionForm):
    reason = forms.CharField(
        max_length=200, label="Why is it cancelled?", error_messages={"required": "Say why."}
    )


class RescheduleForm(_StartMixin, VersionForm):
    date = forms.DateField(widget=DATE, label="New date")
    time = forms.TimeField(widget=TIME, input_formats=["%H:%M", "%H:%M:%S"], label="New time")
    provider = forms.Field(required=False)

    def __init__(self, *args: Any, providers: list[Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["provider"] = _provider_field(providers, required=False, empty="Same provider")


class OfferForm(forms.Form):
    """Book a waitlist entry into an opening."""

    provider = forms.Field()
    start = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M"])

    def __init__(self, *args: Any, providers: list[Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["provider"] = _provider_field(providers)

    def clean_start(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["start"]
        return value.replace(tzinfo=None).replace(tzinfo=clinic_tz())


class BlockForm(forms.Form):
    provider = forms.Field(required=False)
    date = forms.DateField(widget=DATE)
    start_time = forms.TimeField(widget=TIME, input_formats=["%H:%M", "%H:%M:%S"], label="From")
    end_time = forms.TimeField(widget=TIME, input_formats=["%H:%M", "%H:%M:%S"], label="To")
    reason = forms.CharField(max_length=200)

    def __init__(self, *args: Any, providers: list[Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["provider"] = _provider_field(
            providers, required=False, empty="The whole clinic"
        )
        self.order_fields(["provider", "date", "start_time", "end_time", "reason"])

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        tz, day = clinic_tz(), self.cleaned_data["date"]
        return (
            dt.datetime.combine(day, self.cleaned_data["start_time"], tzinfo=tz),
            dt.datetime.combine(day, self.cleaned_data["end_time"], tzinfo=tz),
        )


class ReminderPreferenceForm(forms.Form):
    channel = forms.ChoiceField(choices=ReminderPreference.Channel.choices)
    opted_out = forms.TypedChoiceField(
        choices=[("1", "No reminders"), ("0", "Send reminders")],
        coerce=lambda v: v == "1",
        label="Reminders",
    )
