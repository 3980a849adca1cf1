"""Forms of the results pages. They check shape only (a number is a number, a choice is one of
the list); whether the action is allowed, and what is required for it (a message to release, a
read-back to acknowledge, a reason to dismiss), is the service's question
(labs.services.results), so the page and any API get the same answer."""

from django import forms

from medassist.labs.models import LabReport

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]


class _Versioned(forms.Form):
    # The version of the report the user was looking at: a corrected result that arrives
    # meanwhile must be seen before it is acted on.
    version = forms.IntegerField(required=False, min_value=1, max_value=100_000)


class ReviewForm(_Versioned):
    pass


class ReleaseForm(_Versioned):
    message = forms.CharField(
        label="Message for the patient",
        required=False,
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="The medical assistant reads this to the patient. Required to release.",
    )


class ToldForm(_Versioned):
    how = forms.ChoiceField(
        label="How", choices=LabReport.ToldHow.choices, widget=forms.RadioSelect
    )
    told_at = forms.DateTimeField(
        label="When",
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="Read-back",
        required=False,
        max_length=300,
        strip=True,
        help_text="The value as you understood it, and what you will do. Required.",
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=300,
        strip=True,
        help_text="Why this message is taken out of the queue without filing. Required.",
    )


FORMS = (ReviewForm, ReleaseForm, ToldForm, AcknowledgeForm, DismissForm)
