"""The point-of-care forms. They check shape only (a date is a date, a choice one of the list);
whether a test may be run, a control passes or a reading can be recorded is the service's
question, so the page and any API get the same answer, keyed by the same field names. Forms
built per test (the analytes and control levels differ) name their fields by LOINC code:
value_<code>, expected_<code>, observed_<level>_<code>."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from medassist.poct import catalog
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, QcRun
from medassist.poct.rules import Expectation
from medassist.poct.services import ControlEntry, TestConfig

DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"]
YES_NO = [("yes", "Yes"), ("no", "No")]
LIMITS = ("reference_low", "reference_high", "critical_low", "critical_high")


def _date(label: str, required: bool = True, **kw: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        **kw,
    )


class _Clean(forms.Form):
    """No NUL characters in any text (PostgreSQL refuses them)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, value in data.items():
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, "Null characters are not allowed.")
        return data


def errors_of(form: forms.Form) -> dict[str, list[str]]:
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """A service's refusal, shown on the form's own fields (or above them)."""
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, list(messages))


# -- The test menu ---------------------------------------------------------------------------------


class AddTestForm(_Clean):
    kind = forms.ChoiceField(label="Test", choices=catalog.CHOICES)
    device = forms.CharField(
        label="Kit, strip or analyzer",
        max_length=120,
        required=False,
        help_text="as on its box; empty: the catalog's example device",
    )
    manufacturer = forms.CharField(max_length=120, required=False)

    def to_config(self) -> TestConfig:
        from medassist.poct.services import default_config

        data = self.cleaned_data
        info = catalog.kind(data["kind"])
        return default_config(
            info.code,
            device=data["device"] or info.device,
            manufacturer=data["manufacturer"] or info.manufacturer,
        )


def _limit(label: str, help_text: str = "") -> forms.DecimalField:
    """An optional end of a test's range or limit (the service checks it against the device)."""
    return forms.DecimalField(
        label=label, required=False, max_digits=8, decimal_places=2, help_text=help_text
    )


class EditTestForm(_Clean):
    name = forms.CharField(max_length=80)
    device = forms.CharField(label="Kit, strip or analyzer", max_length=120)
    manufacturer = forms.CharField(max_length=120)
    loinc = forms.ChoiceField(label="Report code (LOINC)")
    reportable_low = _limit(
        "Reportable range: low", "the manufacturer's measuring range, from the package insert"
    )
    reportable_high = _limit("Reportable range: high")
    reference_low = _limit(
        "Reference interval: low",
        "the clinic's normal range; a result inside it (ends included) is not flagged",
    )
    reference_high = _limit("Reference interval: high")
    critical_low = _limit(
        "Critical below",
        "the clinic's critical-value policy: a lower result (or LO) alerts the provider "
        "at once; empty: none",
    )
    critical_high = _limit(
        "Critical above", "a higher result (or HI) alerts the provider at once; empty: none"
    )
    control_levels = forms.MultipleChoiceField(
        label="External control levels", widget=forms.CheckboxSelectMultiple
    )
    qc_on_new_lot = forms.BooleanField(label="Controls on each new lot", required=False)
    qc_on_new_shipment = forms.BooleanField(label="Controls on each new shipment", required=False)
    qc_every_days = forms.IntegerField(
        label="Controls every N days",
        required=False,
        min_value=1,
        max_value=366,
        help_text="1: every day of testing; empty: only on new lots and shipments",
    )
    internal_control = forms.BooleanField(
        label="Internal control read on every test", required=False
    )
    active = forms.BooleanField(label="On the menu", required=False)

    def __init__(self, *args: Any, test: PocTest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        info = test.kind_info
        self.test = test
        loinc = self.fields["loinc"]
        assert isinstance(loinc, forms.ChoiceField)  # noqa: S101 (typing)
        loinc.choices = [(code, f"{code}: {use}") for code, use, _ in info.report_codes]
        levels = self.fields["control_levels"]
        assert isinstance(levels, forms.MultipleChoiceField)  # noqa: S101
        levels.choices = [(lv.code, lv.label) for lv in info.levels]
        if info.result_type != catalog.QUANTITATIVE:
            for name in ("reportable_low", "reportable_high", *LIMITS):
                del self.fields[name]
        else:
            unit = info.analytes[0].unit
            for name in ("reportable_low", "reportable_high", *LIMITS):
                self.fields[name].label = f"{self.fields[name].label} ({unit})"
        if not self.is_bound:
            self.initial = {
                "name": test.name,
                "device": test.device,
                "manufacturer": test.manufacturer,
                "loinc": test.loinc,
                "reportable_low": test.reportable_low,
                "reportable_high": test.reportable_high,
                **{name: getattr(test, name) for name in LIMITS},
                "control_levels": list(test.control_levels),
                "qc_on_new_lot": test.qc_on_new_lot,
                "qc_on_new_shipment": test.qc_on_new_shipment,
                "qc_every_days": test.qc_every_days,
                "internal_control": test.internal_control,
                "active": test.active,
            }

    def to_config(self) -> TestConfig:
        d = self.cleaned_data
        return TestConfig(
            kind=self.test.kind,
            device=d["device"],
            manufacturer=d["manufacturer"],
            name=d["name"],
            loinc=d["loinc"],
            reportable_low=d.get("reportable_low"),
            reportable_high=d.get("reportable_high"),
            reference_low=d.get("reference_low"),
            reference_high=d.get("reference_high"),
            critical_low=d.get("critical_low"),
            critical_high=d.get("critical_high"),
            control_levels=tuple(d["control_levels"]),
            qc_on_new_lot=d["qc_on_new_lot"],
            qc_on_new_shipment=d["qc_on_new_shipment"],
            qc_every_days=d["qc_every_days"],
            internal_control=d["internal_control"],
            active=d["active"],
        )


# -- Kits and controls -----------------------------------------------------------------------------


class KitLotForm(_Clean):
    test = forms.UUIDField(widget=forms.HiddenInput)
    lot_number = forms.CharField(max_length=40)
    expires_on = _date("Expires")
    shipment = forms.CharField(label="Shipment (packing slip or order number)", max_length=40)
    received_on = _date("Received", required=False)
    tests_received = forms.IntegerField(
        label="Tests received", required=False, min_value=1, max_value=100_000
    )


class RetireForm(_Clean):
    reason = forms.CharField(max_length=200)


class ControlLotForm(_Clean):
    level = forms.ChoiceField()
    lot_number = forms.CharField(max_length=40)
    expires_on = _date("Expires")
    product = forms.CharField(
        label="Control (product)", max_length=120, required=False, help_text="e.g. the kit's swab"
    )
    received_on = _date("Received", required=False)

    def __init__(self, *args: Any, test: PocTest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test = test
        info = test.kind_info
        level = self.fields["level"]
        assert isinstance(level, forms.ChoiceField)  # noqa: S101
        level.choices = [(lv.code, lv.label) for lv in info.levels]
        for analyte in test.analytes:
            if analyte.quantitative:
                self.fields[f"expected_{analyte.code}_low"] = forms.DecimalField(
                    label=f"{analyte.short}: low ({analyte.unit})",
                    required=False,
                    max_digits=10,
                    decimal_places=2,
                )
                self.fields[f"expected_{analyte.code}_high"] = forms.DecimalField(
                    label=f"{analyte.short}: high ({analyte.unit})",
                    required=False,
                    max_digits=10,
                    decimal_places=2,
                )
            else:
                self.fields[f"expected_{analyte.code}"] = forms.MultipleChoiceField(
                    label=f"{analyte.short}: must read",
                    required=False,
                    choices=[(a, a.capitalize()) for a in analyte.answers if a != catalog.INVALID],
                    widget=forms.CheckboxSelectMultiple,
                )

    def expectations(self) -> dict[str, Expectation]:
        """What was typed, or the catalog's expected reading for the level where none was."""
        d = self.cleaned_data
        default = self.test.kind_info.level(d.get("level", ""))
        found: dict[str, Expectation] = {}
        for analyte in self.test.analytes:
            if analyte.quantitative:
                low: Decimal | None = d.get(f"expected_{analyte.code}_low")
                high: Decimal | None = d.get(f"expected_{analyte.code}_high")
                if low is not None or high is not None:
                    found[analyte.code] = Expectation(low=low, high=high)
                continue
            answers = tuple(d.get(f"expected_{analyte.code}") or ())
            if not answers and default is not None:
                answers = default.expected.get(analyte.code, ())
            if answers:
                found[analyte.code] = Expectation(answers=answers)
        return found


# -- QC runs ---------------------------------------------------------------------------------------


class QcForm(_Clean):
    kit_lot = forms.ChoiceField(label="Kit lot")
    reason = forms.ChoiceField(choices=QcRun.Reason.choices)

    def __init__(
        self,
        *args: Any,
        test: PocTest,
        kit_lots: list[KitLot],
        controls: dict[str, list[ControlLot]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.test = test
        self.kit_lots = {str(lot.public_id): lot for lot in kit_lots}
        self.controls = {str(c.public_id): c for found in controls.values() for c in found}
        kit = self.fields["kit_lot"]
        assert isinstance(kit, forms.ChoiceField)  # noqa: S101
        kit.choices = [
            (
                str(lot.public_id),
                f"{lot.lot_number} (shipment {lot.shipment}, exp {lot.expires_on:%m/%d/%Y})",
            )  # noqa: E501
            for lot in kit_lots
        ]
        self.level_fields: list[tuple[str, str, str, list[str]]] = []
        for code, label in test.levels:
            lots = controls.get(code, [])
            control_name = f"control_{code}"
            self.fields[control_name] = forms.ChoiceField(
                label=f"{label} control lot",
                required=False,
                choices=[("", "—")]
                + [
                    (str(c.public_id), f"{c.lot_number} (exp {c.expires_on:%m/%d/%Y})")
                    for c in lots
                ],
            )
            if lots:
                self.initial.setdefault(control_name, str(lots[0].public_id))
            names = []
            for analyte in test.analytes:
                name = f"observed_{code}_{analyte.code}"
                names.append(name)
                if analyte.quantitative:
                    self.fields[name] = forms.CharField(
                        label=f"{label}: {analyte.short} ({analyte.unit})",
                        required=False,
                        max_length=20,
                        widget=forms.TextInput(
                            attrs={"inputmode": "decimal", "autocomplete": "off"}
                        ),
                    )
                else:
                    self.fields[name] = forms.ChoiceField(
                        label=f"{label}: {analyte.short}",
                        required=False,
                        choices=[("", "—")] + [(a, a.capitalize()) for a in analyte.answers],
                    )
            self.level_fields.append((code, label, control_name, names))

    def groups(self) -> list[tuple[str, forms.BoundField, list[forms.BoundField]]]:
        """Each level's fields, for the page: (label, control lot, readings)."""
        return [
            (label, self[control_name], [self[n] for n in names])
            for _, label, control_name, names in self.level_fields
        ]

    def entries(self) -> tuple[KitLot | None, list[ControlEntry], dict[str, str]]:
        """The kit lot, one entry per level with a reading, and errors by field."""
        d = self.cleaned_data
        lot = self.kit_lots.get(d.get("kit_lot", ""))
        errors: dict[str, str] = {}
        found: list[ControlEntry] = []
        for code, label, control_name, names in self.level_fields:
            observed = {n.rsplit("_", 1)[1]: str(d.get(n) or "").strip() for n in names if d.get(n)}
            if not observed:
                continue
            control = self.controls.get(d.get(control_name) or "")
            if control is None or control.level != code:
                errors[control_name] = f"Choose the {label.lower()} control lot used."
                continue
            found.append(ControlEntry(control_lot=control, observed=observed))
        if not found and not errors:
            errors["__all__"] = "Record the reading of at least one control level."
        return lot, found, errors


class CorrectiveActionForm(_Clean):
    action = forms.CharField(
        label="Corrective action",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="what was checked and done: storage, expiry, technique, a new control, the "
        "manufacturer's technical support",
    )


# -- Competency ------------------------------------------------------------------------------------


class CompetencyForm(_Clean):
    user = forms.ChoiceField(label="Person")
    tests = forms.MultipleChoiceField(label="Tests", widget=forms.CheckboxSelectMultiple)
    assessed_on = _date("Assessed on")
    methods = forms.MultipleChoiceField(
        label="How", choices=Competency.Method.choices, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, people: list, tests: list[PocTest], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {u.username: u for u in people}
        self.tests_by_id = {str(t.public_id): t for t in tests}
        user = self.fields["user"]
        assert isinstance(user, forms.ChoiceField)  # noqa: S101
        user.choices = [("", "—")] + [(u.username, u.get_full_name() or u.username) for u in people]
        chosen = self.fields["tests"]
        assert isinstance(chosen, forms.MultipleChoiceField)  # noqa: S101
        chosen.choices = [(str(t.public_id), t.name) for t in tests]


# -- A patient test --------------------------------------------------------------------------------


class RunForm(_Clean):
    kit_lot = forms.ChoiceField(label="Kit lot")
    confirm_birth_date = _date(
        "Patient's date of birth (ask the patient)",
        help_text="the second identifier: the patient states it, you type it",
    )
    internal_control_valid = forms.ChoiceField(
        label="Internal control line appeared", choices=YES_NO, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, test: PocTest, kit_lots: list[KitLot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test = test
        self.kit_lots = {str(lot.public_id): lot for lot in kit_lots}
        kit = self.fields["kit_lot"]
        assert isinstance(kit, forms.ChoiceField)  # noqa: S101
        kit.choices = [
            (str(lot.public_id), f"{lot.lot_number} (exp {lot.expires_on:%m/%d/%Y})")
            for lot in kit_lots
        ]
        if kit_lots:
            self.initial.setdefault("kit_lot", str(kit_lots[0].public_id))
        if test.internal_control:
            self.fields[
                "internal_control_valid"
            ].label = f"{test.device}: internal control appeared"
        else:
            del self.fields["internal_control_valid"]
        self.value_names: list[str] = []
        for analyte in test.analytes:
            name = f"value_{analyte.code}"
            self.value_names.append(name)
            if analyte.quantitative:
                self.fields[name] = forms.CharField(
                    label=f"{analyte.short} ({analyte.unit})",
                    max_length=20,
                    required=False,
                    help_text="the number shown, or HI / LO",
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
                )
            elif len(test.analytes) == 1:
                self.fields[name] = forms.ChoiceField(
                    label=f"{analyte.short}: what the kit shows",
                    required=False,
                    choices=[(a, a.capitalize()) for a in analyte.answers],
                    widget=forms.RadioSelect,
                )
            else:
                self.fields[name] = forms.ChoiceField(
                    label=analyte.short + (f" ({analyte.unit})" if analyte.unit else ""),
                    required=False,
                    choices=[("", "—")] + [(a, a.capitalize()) for a in analyte.answers],
                )

    def values(self) -> dict[str, str]:
        d = self.cleaned_data
        return {n.removeprefix("value_"): str(d.get(n) or "") for n in self.value_names}

    def internal(self) -> bool | None:
        answer = self.cleaned_data.get("internal_control_valid")
        return None if not answer else answer == "yes"


class QcLogForm(forms.Form):
    start = _date("From", required=False)
    end = _date("To", required=False)
