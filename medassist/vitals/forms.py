"""The vitals form: each value in whichever unit the MA measured it, parsed into a VitalsEntry.
Shape errors (not a number, two units for one value) are form errors; whether a value is
plausible is the service's question (vitals/plausibility.py), so the API gets the same answer."""

from decimal import Decimal
from typing import Any

from django import forms

from medassist.vitals import units
from medassist.vitals.models import VitalSet
from medassist.vitals.services import BloodPressure, VitalsEntry

POSITIONS = [("", "—"), ("sitting", "Sitting"), ("standing", "Standing"), ("lying", "Lying")]
ARMS = [("", "—"), ("left", "Left arm"), ("right", "Right arm")]
CUFFS = [
    ("", "—"),
    ("infant", "Infant"),
    ("child", "Child"),
    ("small_adult", "Small adult"),
    ("adult", "Adult"),
    ("large_adult", "Large adult"),
    ("thigh", "Thigh"),
]
PULSE_SITES = [
    ("", "—"),
    ("radial", "Radial"),
    ("apical", "Apical"),
    ("brachial", "Brachial"),
    ("monitor", "Monitor"),
]
RHYTHMS = [("", "—"), ("regular", "Regular"), ("irregular", "Irregular")]
ROUTES = [
    ("", "—"),
    ("oral", "Oral"),
    ("tympanic", "Tympanic"),
    ("temporal", "Temporal artery"),
    ("axillary", "Axillary"),
    ("rectal", "Rectal"),
]
TEMP_UNITS = [(units.DEGF, "°F"), (units.CEL, "°C")]
HEAD_UNITS = [(units.CM, "cm"), (units.IN, "in")]


def _int(label: str, lo: int = 0, hi: int = 999) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=lo, max_value=hi)


def _dec(label: str, places: int = 2) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, min_value=Decimal(0), max_digits=8, decimal_places=places
    )


class VitalsForm(forms.Form):
    systolic = _int("Systolic", hi=400)
    diastolic = _int("Diastolic", hi=300)
    bp_position = forms.ChoiceField(label="Position", choices=POSITIONS, required=False)
    bp_arm = forms.ChoiceField(label="Arm", choices=ARMS, required=False)
    bp_cuff = forms.ChoiceField(label="Cuff size", choices=CUFFS, required=False)
    heart_rate = _int("Heart rate", hi=400)
    heart_site = forms.ChoiceField(label="Site", choices=PULSE_SITES, required=False)
    rhythm = forms.ChoiceField(label="Rhythm", choices=RHYTHMS, required=False)
    respiratory_rate = _int("Respiratory rate", hi=200)
    temperature = _dec("Temperature", 1)
    temperature_unit = forms.ChoiceField(
        label="Temperature unit", choices=TEMP_UNITS, required=False, initial=units.DEGF
    )
    temperature_route = forms.ChoiceField(label="Route", choices=ROUTES, required=False)
    spo2 = _int("SpO2", hi=999)
    on_oxygen = forms.TypedChoiceField(
        label="Breathing",
        choices=[("0", "Room air"), ("1", "Supplemental oxygen")],
        coerce=lambda v: v == "1",
        required=False,
    )
    o2_flow = _dec("O2 flow (L/min)", 1)
    o2_concentration = _int("O2 concentration (%)", hi=100)
    height_ft = _int("Height (ft)", hi=9)
    height_in = _dec("Height (in)", 2)
    height_cm = _dec("Height (cm)", 1)
    height_position = forms.ChoiceField(
        label="Measured",
        choices=[("", "—"), ("standing", "Standing height"), ("lying", "Lying length")],
        required=False,
    )
    weight_lb = _dec("Weight (lb)", 2)
    weight_oz = _dec("Weight (oz)", 1)
    weight_kg = _dec("Weight (kg)", 3)
    head = _dec("Head circumference", 1)
    head_unit = forms.ChoiceField(
        label="Head unit", choices=HEAD_UNITS, required=False, initial=units.CM
    )
    consciousness = forms.ChoiceField(
        label="Level of consciousness (ACVPU)",
        choices=[("", "—"), *VitalSet.Consciousness.choices],
        required=False,
        initial="A",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sbp, dbp = data.get("systolic"), data.get("diastolic")
        if (sbp is None) != (dbp is None):
            self.add_error(
                "systolic" if sbp is None else "diastolic",
                "Enter both numbers of the blood pressure.",
            )
        o2_given = data.get("o2_flow") is not None or data.get("o2_concentration") is not None
        if o2_given and not data.get("on_oxygen"):
            self.add_error("on_oxygen", "Oxygen flow was given: choose supplemental oxygen.")
        if data.get("weight_kg") is not None and (
            data.get("weight_lb") is not None or data.get("weight_oz") is not None
        ):
            self.add_error("weight_kg", "Enter the weight once: in lb and oz, or in kg.")
        if data.get("height_cm") is not None and (
            data.get("height_ft") is not None or data.get("height_in") is not None
        ):
            self.add_error("height_cm", "Enter the height once: in ft and in, or in cm.")
        return data

    def entry(self) -> VitalsEntry:
        """The parsed entry (call after is_valid()). Raises units.UnitError with a message."""
        d = self.cleaned_data
        bp = None
        if d.get("systolic") is not None and d.get("diastolic") is not None:
            bp = BloodPressure(
                d["systolic"],
                d["diastolic"],
                d.get("bp_position", ""),
                d.get("bp_arm", ""),
                d.get("bp_cuff", ""),
            )
        weight = None
        if d.get("weight_kg") is not None:
            weight = units.weight(kilograms=d["weight_kg"])
        elif d.get("weight_lb") is not None or d.get("weight_oz") is not None:
            weight = units.weight(pounds=d.get("weight_lb"), ounces=d.get("weight_oz"))
        height = None
        if d.get("height_cm") is not None:
            height = units.length(centimetres=d["height_cm"])
        elif d.get("height_ft") is not None or d.get("height_in") is not None:
            height = units.length(feet=d.get("height_ft"), inches=d.get("height_in"))
        temperature = None
        if d.get("temperature") is not None:
            temperature = units.temperature(
                d["temperature"], d.get("temperature_unit") or units.DEGF
            )
        head = None
        if d.get("head") is not None:
            unit = d.get("head_unit") or units.CM
            head = (
                units.length(centimetres=d["head"])
                if unit == units.CM
                else units.length(inches=d["head"])
            )
        position = d.get("height_position")
        return VitalsEntry(
            blood_pressure=bp,
            heart_rate=d.get("heart_rate"),
            heart_site=d.get("heart_site", ""),
            rhythm=d.get("rhythm", ""),
            respiratory_rate=d.get("respiratory_rate"),
            temperature=temperature,
            temperature_route=d.get("temperature_route", ""),
            spo2=d.get("spo2"),
            on_oxygen=bool(d.get("on_oxygen")),
            o2_flow=d.get("o2_flow"),
            o2_concentration=d.get("o2_concentration"),
            height=height,
            recumbent=None if not position else position == "lying",
            weight=weight,
            head=head,
            consciousness=d.get("consciousness", ""),
        )


class BloodPressureRepeatForm(forms.Form):
    """The repeat reading after the rest (the first one was raised)."""

    systolic = forms.IntegerField(label="Systolic", min_value=0, max_value=400)
    diastolic = forms.IntegerField(label="Diastolic", min_value=0, max_value=300)
    bp_position = forms.ChoiceField(label="Position", choices=POSITIONS, required=False)
    bp_arm = forms.ChoiceField(label="Arm", choices=ARMS, required=False)
    bp_cuff = forms.ChoiceField(label="Cuff size", choices=CUFFS, required=False)

    def entry(self) -> VitalsEntry:
        d = self.cleaned_data
        return VitalsEntry(
            blood_pressure=BloodPressure(
                d["systolic"],
                d["diastolic"],
                d.get("bp_position", ""),
                d.get("bp_arm", ""),
                d.get("bp_cuff", ""),
            )
        )


class RetractForm(forms.Form):
    reason = forms.CharField(label="Why is it wrong?", max_length=300)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label="Note (what you will do)", max_length=300, required=False)


class PolicyForm(forms.Form):
    news2_total = forms.IntegerField(label="NEWS2 aggregate at or above", min_value=1, max_value=20)
    news2_single_red = forms.BooleanField(
        label="Any single NEWS2 parameter scoring 3", required=False
    )
    systolic = forms.IntegerField(label="Systolic at or above (mmHg)", min_value=120, max_value=300)
    diastolic = forms.IntegerField(
        label="Diastolic at or above (mmHg)", min_value=80, max_value=200
    )
    spo2_below = forms.IntegerField(label="SpO2 below (%)", min_value=50, max_value=100)
    temperature = forms.DecimalField(
        label="Temperature at or above (°C)",
        min_value=Decimal("37.5"),
        max_value=Decimal("43"),
        decimal_places=1,
    )
    pediatric_centiles = forms.BooleanField(
        label="Children's heart and respiratory rate beyond the 1st/99th centile", required=False
    )
    escalate_after = forms.IntegerField(
        label="Escalate to the manager after (minutes)", min_value=1, max_value=240
    )
    bp_repeat_after = forms.IntegerField(
        label="Repeat a raised blood pressure after (minutes)", min_value=1, max_value=60
    )
