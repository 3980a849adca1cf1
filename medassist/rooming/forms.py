"""Input for the rooming worklist's steps, one form per command."""

from typing import Any

from django import forms

from medassist.history.models import Allergy, SmokingStatus
from medassist.history.services import HISTORY_CATEGORIES, AllergyData, MedicationData
from medassist.rooming import screening
from medassist.rooming.models import MedicationReview
from medassist.rooming.services import MedicationAnswer, SocialAnswers


def _blank(choices: Any) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)


class AgendaForm(VersionForm):
    reason = forms.CharField(
        label="Chief complaint, in the patient's words",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "accesskey": "c"}),
    )


class AllergyForm(forms.Form):
    allergy = forms.UUIDField(required=False, widget=forms.HiddenInput)
    substance = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=_blank(Allergy.Category.choices), required=False)
    reaction = forms.CharField(max_length=200, required=False)
    severity = forms.ChoiceField(choices=_blank(Allergy.Severity.choices), required=False)
    criticality = forms.ChoiceField(choices=_blank(Allergy.Criticality.choices), required=False)
    verification = forms.ChoiceField(
        choices=Allergy.Verification.choices[:2], initial=Allergy.Verification.UNCONFIRMED
    )

    def to_data(self) -> AllergyData:
        d = self.cleaned_data
        return AllergyData(
            substance=d["substance"],
            category=d["category"],
            reaction=d["reaction"],
            severity=d["severity"],
            criticality=d["criticality"],
            verification=d["verification"],
        )


class AllergyIdForm(forms.Form):
    allergy = forms.UUIDField()


class NewMedicationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Medication")
    dose = forms.CharField(max_length=60, required=False)
    route = forms.CharField(max_length=40, required=False)
    frequency = forms.CharField(max_length=60, required=False)

    def to_data(self) -> MedicationData:
        return MedicationData(**self.cleaned_data)


def medication_answers(post: Any) -> list[MedicationAnswer]:
    """Answers posted as answer-<medication public id> with dose-<id> and frequency-<id>; the
    service checks the ids against the patient's list."""
    keys = [name.removeprefix("answer-") for name in post if name.startswith("answer-")]
    return [
        MedicationAnswer(
            medication_id=key[:40],
            answer=str(post.get(f"answer-{key}", ""))[:20],
            actual_dose=str(post.get(f"dose-{key}", ""))[:60],
            actual_frequency=str(post.get(f"frequency-{key}", ""))[:60],
        )
        for key in keys
    ]


MEDICATION_ANSWERS = [
    (a.value, a.label) for a in MedicationReview.Answer if a != MedicationReview.Answer.NEW
]


class ConditionForm(forms.Form):
    category = forms.ChoiceField(choices=[(c.value, c.label) for c in HISTORY_CATEGORIES])
    description = forms.CharField(max_length=200)
    relative = forms.CharField(max_length=40, required=False)


class SocialForm(forms.Form):
    smoking = forms.ChoiceField(
        label="Tobacco smoking status", choices=_blank(SmokingStatus.Value.choices)
    )
    alcohol = forms.CharField(max_length=200, required=False, label="Alcohol use")
    substance = forms.CharField(max_length=200, required=False, label="Other substance use")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in screening.AUDIT_C_ITEMS:
            self.fields[f"audit-{item.key}"] = forms.ChoiceField(
                label=item.text, choices=_blank(item.options), required=False
            )

    def to_data(self) -> SocialAnswers:
        d = self.cleaned_data
        return SocialAnswers(
            smoking=d["smoking"],
            alcohol=d["alcohol"],
            substance=d["substance"],
            audit_c={item.key: d[f"audit-{item.key}"] for item in screening.AUDIT_C_ITEMS},
        )


def screening_answers(post: Any, code: str) -> dict[str, Any]:
    """The posted answers of one instrument, keyed by item (a list for multiple choice)."""
    instrument = screening.INSTRUMENTS[code]
    return {
        item.key: (post.getlist(item.key) if item.multiple else post.get(item.key, ""))
        for item in instrument.items
    }
