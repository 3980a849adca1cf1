"""The CLIA-waived tests a clinic may put on its menu, with what each one reports. Pure data.

Codes are LOINC (https://loinc.org, the code's own page, e.g. https://loinc.org/78012-2/);
answers to the qualitative tests are SNOMED CT qualifier values, as US Core lab Observations
and CDC's ELR guidance code them (10828004 Positive, 260385009 Negative). A clinic's test
takes its analytes from here, so every clinic's rapid strep is the same LOINC code whatever
kit it buys; what the clinic sets is the device, the manufacturer's reportable range and the
QC policy (services.configure_test).

Control levels are the external controls the manufacturer supplies or names for each kind
(package inserts: a positive and a negative swab for the lateral-flow antigen kits, influenza
A and B positives apart; two levels for the meters; a negative and a positive urine control
for the dipstick). The default QC frequencies are a starting point only: CLIA 42 CFR 493.15(e)
requires a waived test to be run "following the manufacturer's instructions", so the manager
sets the policy from the package insert and the clinic's own rules (services.configure_test).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

QUALITATIVE = "qualitative"
QUANTITATIVE = "quantitative"
PANEL = "panel"

# SNOMED CT qualifier values for the kit's reading (https://browser.ihtsdotools.org).
POSITIVE = "positive"
NEGATIVE = "negative"
INVALID = "invalid"
SNOMED = {POSITIVE: "10828004", NEGATIVE: "260385009"}


@dataclass(frozen=True)
class Analyte:
    """One result the test reports (one Observation)."""

    code: str  # LOINC
    name: str  # LOINC long common name
    short: str  # what the MA sees on the form
    kind: str  # QUALITATIVE or QUANTITATIVE
    answers: tuple[str, ...] = ()  # qualitative: the readings the device can show
    numeric_answers: bool = False  # an ordinal pad read as a number (urine pH, SG)
    unit: str = ""  # UCUM
    low: Decimal | None = None  # the manufacturer's reportable (measuring) range
    high: Decimal | None = None
    decimals: int = 0
    normal: tuple[str, ...] = ()  # readings that are not flagged (the reference answers)
    reference_text: str = ""  # OBX-7 as sent to the provider's inbox
    # Quantitative analytes: the reference interval (inclusive: a reading inside it is not
    # flagged) and the critical limits (a reading below critical_low or above critical_high
    # is critical and alerts the provider). The catalog's are defaults; each clinic sets its
    # own on the test's page (PocTest fields, services.configure_test).
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    out_of_range: str = ""  # what the manufacturer says to do with a reading off the range
    device_word: str = "meter"  # "the meter's reportable range", "the analyzer's"

    @property
    def quantitative(self) -> bool:
        return self.kind == QUANTITATIVE

    def with_range(self, low: Decimal | None, high: Decimal | None) -> Analyte:
        return replace(self, low=low, high=high)

    def with_limits(
        self,
        reference_low: Decimal | None,
        reference_high: Decimal | None,
        critical_low: Decimal | None,
        critical_high: Decimal | None,
    ) -> Analyte:
        """The clinic's reference interval and critical limits; the reference text sent with
        the result is the interval as HL7 v2 OBX-7 writes a numeric range ("70-140")."""
        text = ""
        if reference_low is not None and reference_high is not None:
            text = f"{reference_low:.{self.decimals}f}-{reference_high:.{self.decimals}f}"
        elif reference_high is not None:
            text = f"<={reference_high:.{self.decimals}f}"
        elif reference_low is not None:
            text = f">={reference_low:.{self.decimals}f}"
        return replace(
            self,
            reference_low=reference_low,
            reference_high=reference_high,
            critical_low=critical_low,
            critical_high=critical_high,
            reference_text=text,
        )


@dataclass(frozen=True)
class Level:
    code: str
    label: str
    # The reading a control of this level must give, by analyte (qualitative analytes only;
    # a quantitative control's range is printed on its own bottle and typed per lot).
    expected: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    result_type: str
    report_codes: tuple[tuple[str, str, str], ...]  # (LOINC, when to use it, long name)
    specimen_type: str  # labs.models.SpecimenType (HL7 table 0487)
    analytes: tuple[Analyte, ...]
    levels: tuple[Level, ...]
    internal_control: bool  # the device shows a procedural control the MA reads every test
    device: str
    manufacturer: str
    qc_every_days: int | None

    @property
    def loinc(self) -> str:
        return self.report_codes[0][0]

    def report_name(self, loinc: str) -> str:
        return next((name for code, _, name in self.report_codes if code == loinc), self.name)

    def level(self, code: str) -> Level | None:
        return next((lv for lv in self.levels if lv.code == code), None)


_QUAL = (POSITIVE, NEGATIVE, INVALID)


def _antigen(code: str, name: str, short: str) -> Analyte:
    return Analyte(
        code=code,
        name=name,
        short=short,
        kind=QUALITATIVE,
        answers=_QUAL,
        normal=(NEGATIVE,),
        reference_text="Negative",
    )


def _pos_neg(*codes: str) -> tuple[Level, ...]:
    return (
        Level(POSITIVE, "Positive", dict.fromkeys(codes, (POSITIVE,))),
        Level(NEGATIVE, "Negative", dict.fromkeys(codes, (NEGATIVE,))),
    )


# Urine dipstick pads (https://loinc.org/24357-6/ panel members), with the colour blocks a
# Multistix-style strip shows. pH and specific gravity are read off a scale of numbers.
def _pad(
    code: str,
    name: str,
    short: str,
    answers: tuple[str, ...],
    normal: tuple[str, ...],
    *,
    numeric: bool = False,
    unit: str = "",
    reference: str = "",
) -> Analyte:  # noqa: E501
    return Analyte(
        code=code,
        name=name,
        short=short,
        kind=QUALITATIVE,
        answers=answers,
        numeric_answers=numeric,
        unit=unit,
        normal=normal,
        reference_text=reference or "/".join(normal).capitalize(),
    )


_NEG = "negative"
_BLOCKS = (_NEG, "trace", "small", "moderate", "large")
URINE_PADS: tuple[Analyte, ...] = (
    _pad("25428-4", "Glucose [Presence] in Urine by Test strip", "Glucose", (_NEG, "trace", "1+", "2+", "3+", "4+"), (_NEG,)),  # noqa: E501
    _pad("5770-3", "Bilirubin.total [Presence] in Urine by Test strip", "Bilirubin", (_NEG, "1+", "2+", "3+"), (_NEG,)),  # noqa: E501
    _pad("2514-8", "Ketones [Presence] in Urine by Test strip", "Ketones", _BLOCKS, (_NEG,)),
    _pad("5811-5", "Specific gravity of Urine by Test strip", "Specific gravity", ("1.000", "1.005", "1.010", "1.015", "1.020", "1.025", "1.030"), ("1.005", "1.010", "1.015", "1.020", "1.025", "1.030"), numeric=True, reference="1.005-1.030"),  # noqa: E501
    _pad("5794-3", "Hemoglobin [Presence] in Urine by Test strip", "Blood", _BLOCKS, (_NEG,)),
    _pad("5803-2", "pH of Urine by Test strip", "pH", ("5.0", "5.5", "6.0", "6.5", "7.0", "7.5", "8.0", "8.5"), ("5.0", "5.5", "6.0", "6.5", "7.0", "7.5", "8.0"), numeric=True, unit="[pH]", reference="5.0-8.0"),  # noqa: E501
    _pad("20454-5", "Protein [Presence] in Urine by Test strip", "Protein", (_NEG, "trace", "1+", "2+", "3+", "4+"), (_NEG,)),  # noqa: E501
    _pad("20405-7", "Urobilinogen [Mass/volume] in Urine by Test strip", "Urobilinogen", ("0.2", "1", "2", "4", "8"), ("0.2", "1"), numeric=True, unit="mg/dL", reference="0.2-1 mg/dL"),  # noqa: E501
    _pad("5802-4", "Nitrite [Presence] in Urine by Test strip", "Nitrite", (_NEG, POSITIVE), (_NEG,)),  # noqa: E501
    _pad("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip", "Leukocytes", _BLOCKS, (_NEG,)),  # noqa: E501
)  # fmt: skip

KINDS: tuple[Kind, ...] = (
    Kind(
        code="rapid_strep",
        name="Rapid strep",
        result_type=QUALITATIVE,
        report_codes=(
            (
                "78012-2",
                "rapid immunoassay",
                "Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay",
            ),
        ),
        specimen_type="THRT",
        analytes=(
            _antigen(
                "78012-2",
                "Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay",
                "Group A strep antigen",
            ),
        ),
        levels=_pos_neg("78012-2"),
        internal_control=True,
        device="QuickVue Dipstick Strep A",
        manufacturer="Quidel",
        qc_every_days=None,
    ),
    Kind(
        code="influenza",
        name="Influenza A/B",
        result_type=QUALITATIVE,
        report_codes=(
            (
                "80381-7",
                "rapid immunoassay panel",
                "Influenza virus A and B Ag panel - Upper respiratory specimen by Rapid "
                "immunoassay",
            ),
        ),
        specimen_type="NOS",
        analytes=(
            _antigen(
                "80382-5",
                "Influenza virus A Ag [Presence] in Upper respiratory specimen by Rapid "
                "immunoassay",
                "Influenza A antigen",
            ),
            _antigen(
                "80383-3",
                "Influenza virus B Ag [Presence] in Upper respiratory specimen by Rapid "
                "immunoassay",
                "Influenza B antigen",
            ),
        ),
        levels=(
            Level(
                "flu_a", "Influenza A positive", {"80382-5": (POSITIVE,), "80383-3": (NEGATIVE,)}
            ),  # noqa: E501
            Level(
                "flu_b", "Influenza B positive", {"80382-5": (NEGATIVE,), "80383-3": (POSITIVE,)}
            ),  # noqa: E501
            Level(NEGATIVE, "Negative", {"80382-5": (NEGATIVE,), "80383-3": (NEGATIVE,)}),
        ),  # fmt: skip
        internal_control=True,
        device="QuickVue Influenza A+B",
        manufacturer="Quidel",
        qc_every_days=None,
    ),
    Kind(
        code="covid_antigen",
        name="COVID-19 antigen",
        result_type=QUALITATIVE,
        report_codes=(
            (
                "94558-4",
                "rapid immunoassay",
                "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay",
            ),
        ),
        specimen_type="NOS",
        analytes=(
            _antigen(
                "94558-4",
                "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay",
                "SARS-CoV-2 antigen",
            ),
        ),
        levels=_pos_neg("94558-4"),
        internal_control=True,
        device="BinaxNOW COVID-19 Ag Card",
        manufacturer="Abbott",
        qc_every_days=None,
    ),
    Kind(
        code="glucose",
        name="Blood glucose (meter)",
        result_type=QUANTITATIVE,
        report_codes=(
            (
                "41653-7",
                "glucometer, capillary blood",
                "Glucose [Mass/volume] in Capillary blood by Glucometer",
            ),
        ),
        specimen_type="BLDC",
        analytes=(
            Analyte(
                code="41653-7",
                name="Glucose [Mass/volume] in Capillary blood by Glucometer",
                short="Glucose",
                kind=QUANTITATIVE,
                unit="mg/dL",
                # Assure Prism multi (Trividia Health, cleared for multi-patient use)
                # measuring range 20-600 mg/dL; set per meter from its insert.
                low=Decimal("20"),
                high=Decimal("600"),
                # Defaults for a random (non-fasting) capillary glucose; the clinic sets its
                # own (its critical-value policy) on the test's page.
                # Reference 70-140 mg/dL (inclusive): below 70 is hypoglycaemia (level 1, ADA
                # Standards of Care in Diabetes 2025, section 6, classification of
                # hypoglycaemia); 140 mg/dL is ADA's 2-hour glucose threshold (section 2: 140-199
                # is prediabetes) and the random-glucose upper limit many labs print. A clinic
                # testing fasting patients would set 70-99 (ADA: a fasting glucose < 100 is
                # normal).
                reference_text="70-140",
                reference_low=Decimal("70"),
                reference_high=Decimal("140"),
                # Critical below 54 mg/dL: level 2 (clinically significant) hypoglycaemia, ADA
                # Standards of Care 2025, section 6. Critical above 400 mg/dL: within
                # the 400-500 mg/dL band labs commonly use as the critical high (e.g. UC Irvine
                # Pathology's critical values for point-of-care meters, 2020: < 55 or > 399
                # mg/dL from 1 year of age, https://pathology.uci.edu/services/
                # test-announcements/update-to-glucose-critical-value-2020-07-22.html). The
                # critical limits lie within the meter's range (configure_test), so its LO and
                # HI are beyond them: critical too (rules.flag_of).
                critical_low=Decimal("54"),
                critical_high=Decimal("400"),
                out_of_range="send a venous glucose to the lab",
            ),
        ),
        levels=(Level("low", "Level 1 (low)"), Level("high", "Level 2 (high)")),
        internal_control=False,
        device="Assure Prism multi",
        manufacturer="Trividia Health",
        qc_every_days=1,
    ),
    Kind(
        code="urine_hcg",
        name="Urine pregnancy (hCG)",
        result_type=QUALITATIVE,
        report_codes=(
            (
                "2106-3",
                "qualitative, urine",
                "Choriogonadotropin (pregnancy test) [Presence] in Urine",
            ),
        ),
        specimen_type="UR",
        analytes=(
            _antigen(
                "2106-3",
                "Choriogonadotropin (pregnancy test) [Presence] in Urine",
                "Urine hCG",
            ),
        ),
        levels=_pos_neg("2106-3"),
        internal_control=True,
        device="QuickVue+ One-Step hCG Combo",
        manufacturer="Quidel",
        qc_every_days=None,
    ),
    Kind(
        code="urinalysis",
        name="Urinalysis dipstick",
        result_type=PANEL,
        report_codes=(
            ("24357-6", "read by eye", "Urinalysis macro (dipstick) panel - Urine"),
            (
                "50556-0",
                "read by an analyzer",
                "Urinalysis dipstick panel - Urine by Automated test strip",
            ),
        ),
        specimen_type="UR",
        analytes=URINE_PADS,
        levels=(Level(NEGATIVE, "Level 1 (negative)"), Level(POSITIVE, "Level 2 (positive)")),
        internal_control=False,
        device="Multistix 10 SG",
        manufacturer="Siemens Healthineers",
        qc_every_days=None,
    ),
    Kind(
        code="hba1c",
        name="Hemoglobin A1c",
        result_type=QUANTITATIVE,
        report_codes=(
            ("4548-4", "analyzer, capillary blood", "Hemoglobin A1c/Hemoglobin.total in Blood"),
        ),
        specimen_type="BLDC",
        analytes=(
            Analyte(
                code="4548-4",
                name="Hemoglobin A1c/Hemoglobin.total in Blood",
                short="HbA1c",
                kind=QUANTITATIVE,
                unit="%",
                # Afinion 2 HbA1c (Abbott) measuring range 4.0-15.0 %.
                low=Decimal("4.0"),
                high=Decimal("15.0"),
                decimals=1,
                # ADA Standards of Care in Diabetes 2025, section 2: below 5.7 %
                # is normal (5.7-6.4 % prediabetes), so 4.0-5.6 %; the low end is the one
                # labs commonly print (and the analyzer's range). No critical limit: an HbA1c
                # is not a value to act on within the hour.
                reference_text="4.0-5.6",
                reference_low=Decimal("4.0"),
                reference_high=Decimal("5.6"),
                out_of_range="send a venous HbA1c to the lab",
                device_word="analyzer",
            ),
        ),
        levels=(Level("low", "Control C I (low)"), Level("high", "Control C II (high)")),
        internal_control=False,
        device="Afinion 2",
        manufacturer="Abbott",
        qc_every_days=30,
    ),
)

BY_CODE = {k.code: k for k in KINDS}
CHOICES = [(k.code, k.name) for k in KINDS]


def kind(code: str) -> Kind:
    return BY_CODE[code]
