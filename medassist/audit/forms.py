from dataclasses import dataclass

from django import forms

from medassist.audit.models import Action, Outcome
from medassist.audit.selectors import DEFAULT_SORT, SORT_COLUMNS, AuditFilters

DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y"]


class AuditFilterForm(forms.Form):
    """The report's filters, from the query string. Every field is optional."""

    date_from = forms.DateField(
        label="From",
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the first day as YYYY-MM-DD or MM/DD/YYYY."},
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the last day as YYYY-MM-DD or MM/DD/YYYY."},
    )
    user = forms.CharField(label="User", required=False, max_length=150)
    patient = forms.CharField(
        label="Patient", required=False, max_length=40, help_text="MRN or patient id"
    )
    action = forms.ChoiceField(
        required=False,
        choices=[("", "Any action"), *Action.choices],
        error_messages={"invalid_choice": "Choose an action from the list."},
    )
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "Any outcome"), *Outcome.choices],
        error_messages={"invalid_choice": "Choose an outcome from the list."},
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # Names as they appear in the query string: ?from=2026-11-01&to=...
        self.fields["from"] = self.fields.pop("date_from")
        self.fields["to"] = self.fields.pop("date_to")
        self.order_fields(["from", "to", "user", "patient", "action", "outcome", "sort"])

    def clean_sort(self) -> str:
        # Only whitelisted keys reach the query; anything else quietly means the default.
        sort = self.cleaned_data["sort"]
        return sort if sort.lstrip("-") in SORT_COLUMNS else DEFAULT_SORT

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("to", "The last day is before the first day.")
        return cleaned

    def to_filters(self) -> AuditFilters:
        c = self.cleaned_data
        return AuditFilters(
            date_from=c["from"],
            date_to=c["to"],
            username=c["user"].strip(),
            patient=c["patient"].strip(),
            action=c["action"],
            outcome=c["outcome"],
            sort=c["sort"],
        )

    def error_lines(self) -> list[str]:
        """Each problem with the filters, in a sentence naming the filter."""
        return [
            f"{self[name].label}: {message}" if name in self.fields else str(message)
            for name, messages in self.errors.items()
            for message in messages
        ]

    @property
    def current_sort(self) -> str:
        if self.is_valid():
            return self.cleaned_data["sort"]
        sort = self.data.get("sort", "")
        return sort if sort.lstrip("-") in SORT_COLUMNS else DEFAULT_SORT

    def headers(self) -> list["SortHeader"]:
        """The table's column headers; each links to sorting by it (again: the other way)."""
        current = self.current_sort
        out = []
        for key, label in COLUMN_LABELS:
            if current.lstrip("-") == key:
                descending = current.startswith("-")
                out.append(
                    SortHeader(
                        label,
                        toggle=key if descending else "-" + key,
                        aria_sort="descending" if descending else "ascending",
                    )
                )
            else:
                # Time reads newest first; every other column starts A to Z.
                out.append(SortHeader(label, toggle="-" + key if key == "time" else key))
        return out


COLUMN_LABELS = (
    ("time", "When"),
    ("user", "Who"),
    ("clinic", "Clinic"),
    ("patient", "Patient"),
    ("action", "Action"),
    ("entity", "What"),
    ("outcome", "Outcome"),
    ("ip", "From"),
)


@dataclass(frozen=True)
class SortHeader:
    label: str
    toggle: str  # the sort value the header's link asks for
    aria_sort: str = "none"
