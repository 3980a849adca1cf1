"""Which values are critical, so that the visit's provider is told at once: a clinic's policy,
defaulting to published thresholds. Pure: the service passes what was measured and how it was
interpreted, and gets back the rules that fired, each with the words the provider reads.

Defaults and their sources:
- NEWS2 aggregate 7 or more: "high clinical risk, emergency response" (Royal College of
  Physicians, National Early Warning Score 2, 2017, chart 3; news2_clinical_response.csv).
- A score of 3 in any single NEWS2 parameter ("red score"): urgent response (RCP 2017, ibid.).
- Blood pressure 180/120 or higher: ACC/AHA 2017 severe hypertension ("hypertensive crisis" is
  > 180 and/or > 120, Whelton PK et al. Hypertension 2018;71:e13-e115 §11.2). The escalation
  default is "at or above" 180/120, one mmHg more cautious than the category's edge, as most
  clinic protocols write it; the category shown stays ACC/AHA's own.
- SpO2 below 90%: severe hypoxaemia (WHO, Clinical management of COVID-19: living guideline,
  2023: SpO2 < 90% on room air is a sign of severe disease; BTS Guideline for oxygen use in
  adults 2017: target 94-98%).
- Temperature 40.0 °C or higher: a clinic-protocol default (no single authority fixes it;
  the clinic sets its own).
- Fever of 38.0 °C or more in an infant under 61 days: AAP 2021 clinical practice guideline,
  Evaluation and Management of Well-Appearing Febrile Infants 8 to 60 Days Old (Pantell RH et
  al. Pediatrics 2021;148:e2021052228); younger infants are outside that guideline and more
  urgent still, so the rule covers them too.
- Children: heart or respiratory rate below the 1st or above the 99th centile for age (Fleming
  S et al. Lancet 2011;377:1011-18), and hypotension by the PALS rule (SBP < 70 + 2 x age).
- An unacknowledged alert escalates to the clinic manager after 10 minutes, and an adult's
  raised blood pressure is measured again after 5 minutes' rest (ACC/AHA 2017 §4.1 asks for
  at least 5 minutes seated before measuring and an average of 2 or more readings); both are
  medassist defaults that the clinic sets.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from medassist.vitals.interpretation import Interpretation

FLEMING = "Fleming 2011"
INFANT_FEVER_DAYS = 61  # AAP 2021: febrile infants 8 to 60 days old
INFANT_FEVER_C = Decimal("38.0")  # AAP 2021: temperature >= 38.0 °C


@dataclass(frozen=True)
class Policy:
    news2_total: int = 7
    news2_single_red: bool = True
    systolic: int = 180
    diastolic: int = 120
    spo2_below: int = 90
    temperature: Decimal = Decimal("40.0")
    pediatric_centiles: bool = True
    escalate_after: int = 10  # minutes
    bp_repeat_after: int = 5  # minutes

    @classmethod
    def of(cls, row: Any) -> "Policy":
        """The clinic's policy row (vitals.models.VitalsPolicy), or the defaults for None."""
        if row is None:
            return cls()
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


DEFAULTS = Policy()


@dataclass(frozen=True)
class Trigger:
    code: str  # which rule: "bp_crisis", "news2_high", ...
    measure: str  # the measurement the alert is about (its focus)
    reason: str  # what the provider reads


@dataclass(frozen=True)
class Measured:
    """The set as the policy sees it: numbers in canonical units, and how each was read."""

    age_days: int
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None
    temperature_c: Decimal | None = None
    pals_hypotension: bool = False
    news2_total: int | None = None
    news2_red: tuple[str, ...] = ()  # NEWS2 parameters that scored 3
    interpretations: Mapping[str, Interpretation] | None = None
    # Measurements read on a NEWS2 band that scored 3 (red), for patients of NEWS2 age, when
    # the set is not complete enough for an aggregate: a single red value still alerts.
    red_readings: tuple[str, ...] = ()


# Which measurement a NEWS2 parameter is (the alert's focus).
_NEWS2_MEASURE = {
    "respiration_rate": "respiratory_rate",
    "spo2_scale1": "spo2",
    "spo2_scale2": "spo2",
    "systolic_bp": "bp",
    "pulse": "heart_rate",
    "temperature": "temperature",
    "consciousness": "bp",  # no measurement of its own: the alert points at the set's BP
    "air_or_oxygen": "spo2",
}


def critical_triggers(policy: Policy, m: Measured) -> list[Trigger]:
    """The rules of `policy` that the measurements meet, most specific first. Empty: nothing
    needs the provider now."""
    fired: list[Trigger] = []
    if (
        m.systolic is not None
        and m.diastolic is not None
        and (m.systolic >= policy.systolic or m.diastolic >= policy.diastolic)
    ):
        fired.append(
            Trigger(
                "bp_crisis",
                "bp",
                f"Blood pressure {m.systolic}/{m.diastolic} mmHg: at or above "
                f"{policy.systolic}/{policy.diastolic} (severe hypertension)",
            )
        )
    if m.pals_hypotension and m.systolic is not None:
        fired.append(
            Trigger("pals_hypotension", "bp", f"Systolic {m.systolic} mmHg: hypotension for age")
        )
    if m.spo2 is not None and m.spo2 < policy.spo2_below:
        fired.append(Trigger("spo2_low", "spo2", f"SpO2 {m.spo2}%: below {policy.spo2_below}%"))
    if m.temperature_c is not None:
        if m.temperature_c >= policy.temperature:
            fired.append(
                Trigger(
                    "temperature_high",
                    "temperature",
                    f"Temperature {m.temperature_c} °C: at or above {policy.temperature} °C",
                )
            )
        elif m.age_days < INFANT_FEVER_DAYS and m.temperature_c >= INFANT_FEVER_C:
            fired.append(
                Trigger(
                    "infant_fever",
                    "temperature",
                    f"Temperature {m.temperature_c} °C in an infant {m.age_days} days old "
                    "(fever under 61 days: AAP 2021)",
                )
            )
    if policy.pediatric_centiles and m.interpretations:
        for measure in ("heart_rate", "respiratory_rate"):
            reading = m.interpretations.get(measure)
            if reading and reading.flag.is_critical and FLEMING in reading.source.name:
                fired.append(
                    Trigger(
                        f"{measure}_centile",
                        measure,
                        f"{_LABEL[measure]} {getattr(m, measure)}/min: "
                        + reading.text.removeprefix(_LABEL[measure]).lstrip(" :"),
                    )
                )
    if m.news2_total is not None:
        if m.news2_total >= policy.news2_total:
            fired.append(
                Trigger(
                    "news2_high",
                    _worst_news2_measure(m),
                    f"NEWS2 {m.news2_total}: at or above {policy.news2_total} (high clinical risk)",
                )
            )
        elif policy.news2_single_red and m.news2_red:
            names = ", ".join(p.replace("_", " ") for p in m.news2_red)
            fired.append(
                Trigger(
                    "news2_red",
                    _NEWS2_MEASURE.get(m.news2_red[0], "bp"),
                    f"NEWS2 {m.news2_total} with a red score (3) in: {names}",
                )
            )
    elif policy.news2_single_red and m.red_readings and m.interpretations:
        covered = {t.measure for t in fired}
        for measure in m.red_readings:
            reading = m.interpretations[measure]
            if measure not in covered:
                fired.append(Trigger("news2_red", measure, f"{reading.text}: a red score"))
    return fired


_LABEL = {"heart_rate": "Heart rate", "respiratory_rate": "Respiratory rate"}


def _worst_news2_measure(m: Measured) -> str:
    return _NEWS2_MEASURE.get(m.news2_red[0], "bp") if m.news2_red else "bp"
