"""Screening instruments of the rooming worklist: which apply, their items, scoring and
interpretation. Pure functions over plain values, table-tested row by row
(rooming/tests/test_screening.py). Answers are keyed by the item's LOINC code where LOINC has
one, so a response maps directly to FHIR QuestionnaireResponse.item.linkId and Observation.code.

Sources:
- PHQ-2: Kroenke K, Spitzer RL, Williams JBW. The Patient Health Questionnaire-2: validity of a
  two-item depression screener. Med Care 2003;41:1284-92 (cut-point 3).
- PHQ-9: Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity
  measure. J Gen Intern Med 2001;16:606-13 (severity bands at 5, 10, 15 and 20; >= 10 for
  major depression). Item 9 (thoughts of self-harm) is reviewed at once whatever the total.
- Fall risk: CDC STEADI (Stopping Elderly Accidents, Deaths & Injuries), "Three key questions"
  for adults 65 and older: a yes to any one means the patient screens at risk.
- Pain: 0-10 Numeric Rating Scale, LOINC 72514-3; bands 1-3 mild, 4-6 moderate, 7-10 severe
  (Gerbershagen HJ et al., Anesthesiology 2011;114:1214-25, moderate-to-severe from 4).
- Social needs: CMS Accountable Health Communities Health-Related Social Needs Screening Tool
  (2017), the ten core questions and their positive answers as the tool itself scores them;
  interpersonal safety is positive when its four items total more than 10.
- Alcohol (optional, histories step): AUDIT-C, Bush K et al., Arch Intern Med 1998;158:1789-95;
  positive at >= 4 for men and >= 3 for women (Bradley KA et al., Alcohol Clin Exp Res 2007).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

PHQ2 = "55757-9"
PHQ9 = "44249-1"
STEADI = "STEADI-3KQ"  # no LOINC panel for the three key questions: a local code
PAIN = "72514-3"
AHC_HRSN = "96777-8"


@dataclass(frozen=True)
class Item:
    key: str  # item LOINC code (or a local key where LOINC has none)
    text: str
    options: tuple[tuple[str, str], ...]  # (stored value, what the patient hears)
    multiple: bool = False


@dataclass(frozen=True)
class Instrument:
    code: str
    title: str
    items: tuple[Item, ...]
    total_loinc: str = ""
    instructions: str = ""


@dataclass(frozen=True)
class Result:
    total: int | None
    interpretation: str
    positive: bool
    urgent: bool = False
    positive_domains: tuple[str, ...] = field(default_factory=tuple)


class InvalidAnswers(ValueError):
    """Some item is unanswered or has an answer the instrument does not offer."""


# PHQ answer scale (Kroenke 2001): "over the last 2 weeks, how often have you been bothered by".
_FREQUENCY = (
    ("0", "Not at all"),
    ("1", "Several days"),
    ("2", "More than half the days"),
    ("3", "Nearly every day"),
)
_PHQ2_ITEMS = (
    Item("44250-9", "Little interest or pleasure in doing things", _FREQUENCY),
    Item("44255-8", "Feeling down, depressed, or hopeless", _FREQUENCY),
)
PHQ9_ITEM9 = "44260-8"
_PHQ9_ITEMS = (
    *_PHQ2_ITEMS,
    Item("44259-0", "Trouble falling or staying asleep, or sleeping too much", _FREQUENCY),
    Item("44254-1", "Feeling tired or having little energy", _FREQUENCY),
    Item("44251-7", "Poor appetite or overeating", _FREQUENCY),
    Item(
        "44258-2",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your "
        "family down",
        _FREQUENCY,
    ),
    Item(
        "44252-5",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        _FREQUENCY,
    ),
    Item(
        "44253-3",
        "Moving or speaking so slowly that other people could have noticed, or the opposite: "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        _FREQUENCY,
    ),
    Item(
        PHQ9_ITEM9,
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        _FREQUENCY,
    ),
)
_YES_NO = (("yes", "Yes"), ("no", "No"))
_OFTEN = (("often", "Often true"), ("sometimes", "Sometimes true"), ("never", "Never true"))
# AHC HRSN safety items: Never (1) to Frequently (5).
_HOW_OFTEN = (
    ("1", "Never"),
    ("2", "Rarely"),
    ("3", "Sometimes"),
    ("4", "Fairly often"),
    ("5", "Frequently"),
)
_HOUSING_PROBLEMS = (
    ("pests", "Pests such as bugs, ants, or mice"),
    ("mold", "Mold"),
    ("lead", "Lead paint or pipes"),
    ("heat", "Lack of heat"),
    ("oven", "Oven or stove not working"),
    ("smoke", "Smoke detectors missing or not working"),
    ("leaks", "Water leaks"),
    ("none", "None of the above"),
)

INSTRUMENTS: dict[str, Instrument] = {
    PHQ2: Instrument(
        PHQ2,
        "PHQ-2 depression screen",
        _PHQ2_ITEMS,
        total_loinc="55758-7",
        instructions="Over the last 2 weeks, how often have you been bothered by:",
    ),
    PHQ9: Instrument(
        PHQ9,
        "PHQ-9 depression questionnaire",
        _PHQ9_ITEMS,
        total_loinc="44261-6",
        instructions="Over the last 2 weeks, how often have you been bothered by:",
    ),
    STEADI: Instrument(
        STEADI,
        "Fall risk (CDC STEADI three key questions)",
        (
            Item("fallen", "Have you fallen in the past year?", _YES_NO),
            Item("unsteady", "Do you feel unsteady when standing or walking?", _YES_NO),
            Item("worry", "Do you worry about falling?", _YES_NO),
        ),
    ),
    PAIN: Instrument(
        PAIN,
        "Pain score (0-10)",
        (
            Item(
                PAIN,
                "On a scale of 0 to 10, where 0 is no pain and 10 is the worst pain you can "
                "imagine, how much pain do you have right now?",
                tuple((str(n), str(n)) for n in range(11)),
            ),
        ),
        total_loinc=PAIN,
    ),
    AHC_HRSN: Instrument(
        AHC_HRSN,
        "Social needs (AHC HRSN core questions)",
        (
            Item(
                "71802-3",
                "What is your living situation today?",
                (
                    ("steady", "I have a steady place to live"),
                    ("worried", "I have a place to live today, but I am worried about losing it"),
                    ("none", "I do not have a steady place to live"),
                ),
            ),
            Item(
                "96778-6",
                "Think about the place you live. Do you have problems with any of the following?",
                _HOUSING_PROBLEMS,
                multiple=True,
            ),
            Item(
                "88122-7",
                "Within the past 12 months, you worried that your food would run out before you "
                "got money to buy more.",
                _OFTEN,
            ),
            Item(
                "88123-5",
                "Within the past 12 months, the food you bought just didn't last and you didn't "
                "have money to get more.",
                _OFTEN,
            ),
            Item(
                "93030-5",
                "In the past 12 months, has lack of reliable transportation kept you from "
                "medical appointments, meetings, work or from getting things needed for daily "
                "living?",
                _YES_NO,
            ),
            Item(
                "96779-4",
                "In the past 12 months has the electric, gas, oil, or water company threatened "
                "to shut off services in your home?",
                (("yes", "Yes"), ("no", "No"), ("shut_off", "Already shut off")),
            ),
            Item(
                "95618-5",
                "How often does anyone, including family, physically hurt you?",
                _HOW_OFTEN,
            ),
            Item(
                "95617-7",
                "How often does anyone, including family, insult or talk down to you?",
                _HOW_OFTEN,
            ),
            Item(
                "95616-9",
                "How often does anyone, including family, threaten you with harm?",
                _HOW_OFTEN,
            ),
            Item(
                "95615-1",
                "How often does anyone, including family, scream or curse at you?",
                _HOW_OFTEN,
            ),
        ),
    ),
}

# Visit types on which the preventive screenings (depression, social needs) are offered.
# Problem visits get the pain score (and fall risk for older adults) only, so a sick visit is
# not held up by questionnaires that belong to the yearly visit.
_PREVENTIVE_WORDS = (
    "annual",
    "wellness",
    "well child",
    "well-child",
    "physical",
    "preventive",
    "new patient",
)


def is_preventive(visit_type: str) -> bool:
    text = visit_type.lower()
    return any(word in text for word in _PREVENTIVE_WORDS)


def applicable_screenings(age_years: int, visit_type: str) -> tuple[str, ...]:
    """The screenings the worklist offers, in the order they are asked.
    - Pain NRS from age 8 (the 0-10 numeric scale is valid from about 8 years: Castarlenas E
      et al., Clin J Pain 2017); younger children need an observational or faces scale.
    - PHQ-2 at preventive visits from age 12 (USPSTF 2016/2022: screen adolescents 12-18 and
      adults for depression).
    - Fall risk from age 65 at every visit (CDC STEADI screens all adults 65 and older).
    - AHC HRSN social needs at preventive visits, any age (answered by the caregiver for a child).
    PHQ-9 is not listed here: it follows a positive PHQ-2 (needs_phq9)."""
    wanted: list[str] = []
    preventive = is_preventive(visit_type)
    if preventive and age_years >= 12:
        wanted.append(PHQ2)
    if age_years >= 65:
        wanted.append(STEADI)
    if age_years >= 8:
        wanted.append(PAIN)
    if preventive:
        wanted.append(AHC_HRSN)
    return tuple(wanted)


def needs_phq9(phq2: Result | None) -> bool:
    """PHQ-2 total >= 3 leads to the full PHQ-9 (Kroenke 2003)."""
    return phq2 is not None and phq2.positive


def clean_answers(code: str, raw: Mapping[str, object]) -> dict[str, str | list[str]]:
    """Answers checked against the instrument: every item answered with an offered value.
    Raises InvalidAnswers naming the first unanswered or unknown item."""
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise InvalidAnswers(f"Unknown screening instrument {code!r}.")
    return clean_items(instrument.items, raw)


def clean_items(items: tuple[Item, ...], raw: Mapping[str, object]) -> dict[str, str | list[str]]:
    clean: dict[str, str | list[str]] = {}
    for item in items:
        allowed = {value for value, _ in item.options}
        value = raw.get(item.key)
        if item.multiple:
            values = [str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v]
            if not values:
                raise InvalidAnswers(f"Answer: {item.text}")
            if not set(values) <= allowed:
                raise InvalidAnswers(f"Choose from the listed answers for: {item.text}")
            if "none" in values and len(values) > 1:
                raise InvalidAnswers(f"'None of the above' excludes the other answers: {item.text}")
            clean[item.key] = values
        else:
            if value in (None, "", []):
                raise InvalidAnswers(f"Answer: {item.text}")
            if str(value) not in allowed:
                raise InvalidAnswers(f"Choose from the listed answers for: {item.text}")
            clean[item.key] = str(value)
    return clean


def _sum(answers: Mapping[str, object], items: tuple[Item, ...]) -> int:
    return sum(int(str(answers[item.key])) for item in items)


def score_phq2(answers: Mapping[str, object]) -> Result:
    total = _sum(answers, _PHQ2_ITEMS)
    if total >= 3:  # Kroenke 2003: sensitivity 83%, specificity 92% for major depression
        return Result(total, "Positive screen: complete the PHQ-9", True)
    return Result(total, "Negative screen", False)


# Kroenke 2001, table 3: PHQ-9 depression severity.
PHQ9_BANDS = (
    (20, "Severe depression"),
    (15, "Moderately severe depression"),
    (10, "Moderate depression"),
    (5, "Mild depression"),
    (0, "Minimal or no depression"),
)


def phq9_severity(total: int) -> str:
    return next(label for floor, label in PHQ9_BANDS if total >= floor)


def score_phq9(answers: Mapping[str, object]) -> Result:
    total = _sum(answers, _PHQ9_ITEMS)
    urgent = int(str(answers[PHQ9_ITEM9])) > 0
    text = phq9_severity(total)
    if urgent:
        text += "; thoughts of self-harm reported: tell the provider now"
    return Result(total, text, total >= 10 or urgent, urgent=urgent)


def score_steadi(answers: Mapping[str, object]) -> Result:
    yes = sum(answers[key] == "yes" for key in ("fallen", "unsteady", "worry"))
    if yes:
        return Result(yes, "At risk for falls: full STEADI assessment", True)
    return Result(0, "Not at risk for falls on screening", False)


def pain_band(score: int) -> str:
    if score == 0:
        return "No pain"
    if score <= 3:
        return "Mild pain"
    if score <= 6:
        return "Moderate pain"
    return "Severe pain"


def score_pain(answers: Mapping[str, object]) -> Result:
    score = int(str(answers[PAIN]))
    return Result(score, pain_band(score), score >= 4)


HRSN_DOMAINS = ("housing", "food", "transportation", "utilities", "safety")
HRSN_SAFETY_ITEMS = ("95618-5", "95617-7", "95616-9", "95615-1")


def hrsn_positive_domains(answers: Mapping[str, object]) -> tuple[str, ...]:
    """AHC HRSN (CMS 2017) core domains with a positive answer, in the tool's order."""
    found = []
    problems = answers["96778-6"]
    if answers["71802-3"] != "steady" or (
        isinstance(problems, list | tuple) and any(p != "none" for p in problems)
    ):
        found.append("housing")
    if answers["88122-7"] in ("often", "sometimes") or answers["88123-5"] in ("often", "sometimes"):
        found.append("food")
    if answers["93030-5"] == "yes":
        found.append("transportation")
    if answers["96779-4"] in ("yes", "shut_off"):
        found.append("utilities")
    if hrsn_safety_score(answers) > 10:
        found.append("safety")
    return tuple(found)


def hrsn_safety_score(answers: Mapping[str, object]) -> int:
    """The interpersonal safety total (LOINC 95614-4), 4-20; more than 10 is positive."""
    return sum(int(str(answers[key])) for key in HRSN_SAFETY_ITEMS)


def score_hrsn(answers: Mapping[str, object]) -> Result:
    domains = hrsn_positive_domains(answers)
    if domains:
        return Result(
            len(domains), "Social needs: " + ", ".join(domains), True, positive_domains=domains
        )
    return Result(0, "No social needs identified", False)


SCORERS = {
    PHQ2: score_phq2,
    PHQ9: score_phq9,
    STEADI: score_steadi,
    PAIN: score_pain,
    AHC_HRSN: score_hrsn,
}


def score(code: str, raw: Mapping[str, object]) -> tuple[dict[str, str | list[str]], Result]:
    """Validate and score one instrument's answers."""
    answers = clean_answers(code, raw)
    return answers, SCORERS[code](answers)


# AUDIT-C (Bush 1998): three items scored 0-4; total LOINC 75626-2.
AUDIT_C_TOTAL = "75626-2"
AUDIT_C_ITEMS = (
    Item(
        "68518-0",
        "How often do you have a drink containing alcohol?",
        (
            ("0", "Never"),
            ("1", "Monthly or less"),
            ("2", "2-4 times a month"),
            ("3", "2-3 times a week"),
            ("4", "4 or more times a week"),
        ),
    ),
    Item(
        "68519-8",
        "How many standard drinks containing alcohol do you have on a typical day?",
        (("0", "1 or 2"), ("1", "3 or 4"), ("2", "5 or 6"), ("3", "7 to 9"), ("4", "10 or more")),
    ),
    Item(
        "68520-6",
        "How often do you have six or more drinks on one occasion?",
        (
            ("0", "Never"),
            ("1", "Less than monthly"),
            ("2", "Monthly"),
            ("3", "Weekly"),
            ("4", "Daily or almost daily"),
        ),
    ),
)


def score_audit_c(answers: Mapping[str, object], sex: str) -> Result:
    """AUDIT-C total and screen. The cut-point is 4 for men, 3 for women (Bradley 2007); for
    any other or unknown sex the lower cut-point is used so no risky drinking is missed."""
    total = sum(int(str(answers[item.key])) for item in AUDIT_C_ITEMS)
    cut = 4 if sex == "male" else 3
    if total >= cut:
        return Result(total, "Positive: possible unhealthy alcohol use", True)
    return Result(total, "Negative", False)
