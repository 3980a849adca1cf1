"""CDC's CDSi supporting data (antigen and schedule XML) read into plain frozen objects.

Nothing about any schedule is written here: every age, interval, vaccine, skip condition,
conflict and group comes from the XML files (CDC "Supporting Data", described in the Logic
Specification v4.6 section 2.4 and appendix A). A new CDC release is a new folder, not new code.
Durations are parsed once, here, so evaluation never parses text.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET  # noqa: S405 - CDC's own files from the reference directory
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .dates import Duration, parse, parse_date


def _text(element: ET.Element | None, tag: str) -> str:
    if element is None:
        return ""
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _codes(text: str) -> tuple[str, ...]:
    """'133; 215;216' -> ('133', '215', '216')."""
    return tuple(part.strip() for part in text.split(";") if part.strip())


def _yes(text: str) -> bool:
    return text.strip().lower() in {"y", "yes"}


@dataclass(frozen=True, slots=True)
class Age:
    absolute_minimum: Duration | None
    minimum: Duration | None
    earliest_recommended: Duration | None
    latest_recommended: Duration | None
    maximum: Duration | None
    effective: dt.date | None
    cessation: dt.date | None


@dataclass(frozen=True, slots=True)
class Interval:
    from_previous: bool
    from_target_dose: int | None
    from_most_recent: tuple[str, ...]  # CVX codes
    from_observation: str | None  # CDSi observation code
    absolute_minimum: Duration | None
    minimum: Duration | None
    earliest_recommended: Duration | None
    latest_recommended: Duration | None
    priority: bool  # intervalPriority "override" (FORECASTPRIORITY-1)
    effective: dt.date | None
    cessation: dt.date | None


@dataclass(frozen=True, slots=True)
class SeriesVaccine:
    vaccine_type: str
    cvx: str
    begin_age: Duration | None
    end_age: Duration | None
    trade_name: str = ""
    mvx: str = ""
    volume: str = ""
    forecast: bool = False  # forecastVaccineType


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str  # "age", "completed series", "interval", "vaccine count by age", ...
    start_date: dt.date | None
    end_date: dt.date | None
    begin_age: Duration | None
    end_age: Duration | None
    interval: Duration | None
    dose_count: int | None
    dose_type: str  # "valid" / "total"
    dose_count_logic: str  # "greater than" / "equal to" / "less than"
    vaccine_types: tuple[str, ...]  # CVX codes
    series_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SkipSet:
    set_id: str
    description: str
    effective: dt.date | None
    cessation: dt.date | None
    logic: str  # "and" / "or" ("" with one condition)
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class ConditionalSkip:
    context: str  # "evaluation", "forecast", "both"
    logic: str  # "and" / "or" / "n/a"
    sets: tuple[SkipSet, ...]


@dataclass(frozen=True, slots=True)
class SeriesDose:
    number: int
    ages: tuple[Age, ...]
    intervals: tuple[Interval, ...]
    allowable_intervals: tuple[Interval, ...]
    preferable: tuple[SeriesVaccine, ...]
    allowable: tuple[SeriesVaccine, ...]
    inadvertent: frozenset[str]
    skips: tuple[ConditionalSkip, ...]
    recurring: bool
    season_start: dt.date | None
    season_end: dt.date | None


@dataclass(frozen=True, slots=True)
class Indication:
    code: str
    description: str
    begin_age: Duration | None
    end_age: Duration | None
    guidance: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    antigen: str
    vaccine_group: str
    kind: str  # "Standard", "Risk", "Evaluation Only"
    equivalent_groups: tuple[str, ...]
    genders: tuple[str, ...]  # required genders, () = any
    default: bool
    product_path: bool
    group: str
    group_name: str
    priority: str  # "A" is the highest
    preference: int
    min_age_to_start: Duration | None
    max_age_to_start: Duration | None
    indications: tuple[Indication, ...]
    doses: tuple[SeriesDose, ...]
    guidance: str


@dataclass(frozen=True, slots=True)
class Contraindication:
    code: str
    text: str
    begin_age: Duration | None
    end_age: Duration | None
    vaccines: tuple[SeriesVaccine, ...] = ()  # empty: the whole antigen


@dataclass(frozen=True, slots=True)
class Antigen:
    name: str
    immunity_codes: frozenset[str]  # clinical history guideline codes
    immunity_birth_date: dt.date | None
    immunity_birth_country: str
    immunity_exclusions: frozenset[str]
    antigen_contraindications: tuple[Contraindication, ...]
    vaccine_contraindications: tuple[Contraindication, ...]
    series: tuple[Series, ...]


@dataclass(frozen=True, slots=True)
class Association:
    antigen: str
    begin_age: Duration | None
    end_age: Duration | None


@dataclass(frozen=True, slots=True)
class Conflict:
    previous_cvx: str
    current_cvx: str
    begin: Duration | None
    minimum_end: Duration | None
    end: Duration | None


@dataclass(frozen=True, slots=True)
class SupportingData:
    version: str
    antigens: dict[str, Antigen]
    vaccine_groups: dict[str, tuple[str, ...]]  # group name -> antigen names
    administer_full_group: dict[str, bool]
    cvx_antigens: dict[str, tuple[Association, ...]]
    cvx_names: dict[str, str]
    conflicts_by_current: dict[str, tuple[Conflict, ...]]
    observations: dict[str, str]  # code -> title
    # impacted (current) CVX -> conflicting (previous) CVX -> its conflicts (section 6.7)
    conflicts_by_previous: dict[str, dict[str, tuple[Conflict, ...]]] = field(default_factory=dict)

    def group_of_antigen(self, antigen: str) -> str | None:
        for group, antigens in self.vaccine_groups.items():
            if antigen in antigens:
                return group
        return None


def _age(element: ET.Element) -> Age:
    return Age(
        parse(_text(element, "absMinAge")),
        parse(_text(element, "minAge")),
        parse(_text(element, "earliestRecAge")),
        parse(_text(element, "latestRecAge")),
        parse(_text(element, "maxAge")),
        parse_date(_text(element, "effectiveDate")),
        parse_date(_text(element, "cessationDate")),
    )


def _interval(element: ET.Element) -> Interval | None:
    if not list(element):
        return None
    target = _text(element, "fromTargetDose")
    observation = element.find("fromRelevantObs")
    return Interval(
        from_previous=_yes(_text(element, "fromPrevious")),
        from_target_dose=int(target) if target else None,
        from_most_recent=_codes(_text(element, "fromMostRecent")),
        from_observation=(_text(observation, "code") or None) if observation is not None else None,
        absolute_minimum=parse(_text(element, "absMinInt")),
        minimum=parse(_text(element, "minInt")),
        earliest_recommended=parse(_text(element, "earliestRecInt")),
        latest_recommended=parse(_text(element, "latestRecInt")),
        priority=_text(element, "intervalPriority").lower() == "override",
        effective=parse_date(_text(element, "effectiveDate")),
        cessation=parse_date(_text(element, "cessationDate")),
    )


def _vaccine(element: ET.Element) -> SeriesVaccine | None:
    cvx = _text(element, "cvx")
    if not cvx:
        return None
    return SeriesVaccine(
        vaccine_type=_text(element, "vaccineType"),
        cvx=cvx,
        begin_age=parse(_text(element, "beginAge")),
        end_age=parse(_text(element, "endAge")),
        trade_name=_text(element, "tradeName"),
        mvx=_text(element, "mvx"),
        volume=_text(element, "volume"),
        forecast=_yes(_text(element, "forecastVaccineType")),
    )


def _condition(element: ET.Element) -> Condition:
    count = _text(element, "doseCount")
    return Condition(
        kind=" ".join(_text(element, "conditionType").lower().split()),
        start_date=parse_date(_text(element, "startDate")),
        end_date=parse_date(_text(element, "endDate")),
        begin_age=parse(_text(element, "beginAge")),
        end_age=parse(_text(element, "endAge")),
        interval=parse(_text(element, "interval")),
        dose_count=int(count) if count else None,
        dose_type=_text(element, "doseType").lower(),
        dose_count_logic=_text(element, "doseCountLogic").lower(),
        vaccine_types=_codes(_text(element, "vaccineTypes")),
        series_groups=_codes(_text(element, "seriesGroups")),
    )


def _skip(element: ET.Element) -> ConditionalSkip | None:
    context = _text(element, "context").lower()
    if not context:
        return None
    sets = tuple(
        SkipSet(
            set_id=_text(s, "setID"),
            description=_text(s, "setDescription"),
            effective=parse_date(_text(s, "effectiveDate")),
            cessation=parse_date(_text(s, "cessationDate")),
            logic=_text(s, "conditionLogic").lower(),
            conditions=tuple(_condition(c) for c in s.findall("condition")),
        )
        for s in element.findall("set")
    )
    return ConditionalSkip(context, _text(element, "setLogic").lower(), sets)


def _dose(element: ET.Element) -> SeriesDose:
    season = element.find("seasonalRecommendation")
    return SeriesDose(
        number=int(_text(element, "doseNumber").split()[-1]),
        ages=tuple(_age(a) for a in element.findall("age")),
        intervals=tuple(
            i for i in (_interval(e) for e in element.findall("interval")) if i is not None
        ),
        allowable_intervals=tuple(
            i for i in (_interval(e) for e in element.findall("allowableInterval")) if i
        ),
        preferable=tuple(
            v for v in (_vaccine(e) for e in element.findall("preferableVaccine")) if v
        ),
        allowable=tuple(v for v in (_vaccine(e) for e in element.findall("allowableVaccine")) if v),
        inadvertent=frozenset(
            _text(e, "cvx") for e in element.findall("inadvertentVaccine") if _text(e, "cvx")
        ),
        skips=tuple(s for s in (_skip(e) for e in element.findall("conditionalSkip")) if s),
        recurring=_yes(_text(element, "recurringDose")),
        season_start=parse_date(_text(season, "startDate")),
        season_end=parse_date(_text(season, "endDate")),
    )


def _series(element: ET.Element) -> Series:
    select = element.find("selectSeries")
    genders = tuple(
        g.text.strip() for g in element.findall("requiredGender") if g.text and g.text.strip()
    )
    return Series(
        name=_text(element, "seriesName"),
        antigen=_text(element, "targetDisease"),
        vaccine_group=_text(element, "vaccineGroup"),
        kind=_text(element, "seriesType"),
        equivalent_groups=_codes(_text(element, "equivalentSeriesGroups").replace(",", ";")),
        genders=genders,
        default=_yes(_text(select, "defaultSeries")),
        product_path=_yes(_text(select, "productPath")),
        group=_text(select, "seriesGroup"),
        group_name=_text(select, "seriesGroupName"),
        priority=_text(select, "seriesPriority") or "A",
        preference=int(_text(select, "seriesPreference") or 1),
        min_age_to_start=parse(_text(select, "minAgeToStart")),
        max_age_to_start=parse(_text(select, "maxAgeToStart")),
        indications=tuple(
            Indication(
                code=_text(i.find("observationCode"), "code"),
                description=_text(i, "description"),
                begin_age=parse(_text(i, "beginAge")),
                end_age=parse(_text(i, "endAge")),
                guidance=_text(i, "guidance"),
            )
            for i in element.findall("indication")
            if i.find("observationCode") is not None
        ),
        doses=tuple(_dose(d) for d in element.findall("seriesDose")),
        guidance=_text(element, "seriesAdminGuidance"),
    )


def _antigen(root: ET.Element) -> Antigen:
    series = tuple(_series(s) for s in root.findall("series"))
    immunity = root.find("immunity")
    birth = immunity.find("dateOfBirth") if immunity is not None else None
    contraindications = root.find("contraindications")
    antigen_level: list[Contraindication] = []
    vaccine_level: list[Contraindication] = []
    if contraindications is not None:
        for c in contraindications.findall("vaccineGroup/contraindication"):
            antigen_level.append(
                Contraindication(
                    _text(c, "observationCode"),
                    _text(c, "contraindicationText"),
                    parse(_text(c, "beginAge")),
                    parse(_text(c, "endAge")),
                )
            )
        for c in contraindications.findall("vaccine/contraindication"):
            vaccines = tuple(
                v for v in (_vaccine(e) for e in c.findall("contraindicatedVaccine")) if v
            )
            vaccine_level.append(
                Contraindication(
                    _text(c, "observationCode"),
                    _text(c, "contraindicationText"),
                    None,
                    None,
                    vaccines,
                )
            )
    return Antigen(
        name=series[0].antigen if series else "",
        immunity_codes=frozenset(
            _text(h, "guidelineCode")
            for h in (immunity.findall("clinicalHistory") if immunity is not None else [])
            if _text(h, "guidelineCode")
        ),
        immunity_birth_date=parse_date(_text(birth, "immunityBirthDate")),
        immunity_birth_country=_text(birth, "birthCountry"),
        immunity_exclusions=frozenset(
            _text(e, "exclusionCode")
            for e in (birth.findall("exclusion") if birth is not None else [])
            if _text(e, "exclusionCode")
        ),
        antigen_contraindications=tuple(antigen_level),
        vaccine_contraindications=tuple(vaccine_level),
        series=series,
    )


@lru_cache(maxsize=4)
def load(directory: Path) -> SupportingData:
    """Read one CDC supporting-data release (the folder of XML files)."""
    directory = Path(directory)
    antigens: dict[str, Antigen] = {}
    for path in sorted(directory.glob("AntigenSupportingData*.xml")):
        antigen = _antigen(ET.parse(path).getroot())  # noqa: S314 - trusted reference files
        if antigen.name:
            antigens[antigen.name] = antigen
    schedule = ET.parse(directory / "ScheduleSupportingData.xml").getroot()  # noqa: S314
    conflicts: dict[str, list[Conflict]] = {}
    for c in schedule.findall("liveVirusConflicts/liveVirusConflict"):
        conflict = Conflict(
            previous_cvx=_text(c.find("previous"), "cvx"),
            current_cvx=_text(c.find("current"), "cvx"),
            begin=parse(_text(c, "conflictBeginInterval")),
            minimum_end=parse(_text(c, "minConflictEndInterval")),
            end=parse(_text(c, "conflictEndInterval")),
        )
        conflicts.setdefault(conflict.current_cvx, []).append(conflict)
    groups: dict[str, list[str]] = {}
    for m in schedule.findall("vaccineGroupToAntigenMap/vaccineGroupMap"):
        groups[_text(m, "name")] = [(a.text or "").strip() for a in m.findall("antigen")]
    full = {
        _text(g, "name"): _yes(_text(g, "administerFullVaccineGroup"))
        for g in schedule.findall("vaccineGroups/vaccineGroup")
    }
    cvx_antigens: dict[str, tuple[Association, ...]] = {}
    cvx_names: dict[str, str] = {}
    for m in schedule.findall("cvxToAntigenMap/cvxMap"):
        cvx = _text(m, "cvx")
        cvx_names[cvx] = _text(m, "shortDescription")
        cvx_antigens[cvx] = tuple(
            Association(
                _text(a, "antigen"),
                parse(_text(a, "associationBeginAge")),
                parse(_text(a, "associationEndAge")),
            )
            for a in m.findall("association")
        )
    observations = {
        _text(o, "observationCode"): _text(o, "observationTitle")
        for o in schedule.findall("observations/observation")
    }
    version = directory.parent.name.removeprefix("supporting-data-") or directory.name
    return SupportingData(
        version=version,
        antigens=antigens,
        vaccine_groups={name: tuple(a) for name, a in groups.items()},
        administer_full_group=full,
        cvx_antigens=cvx_antigens,
        cvx_names=cvx_names,
        conflicts_by_current={k: tuple(v) for k, v in conflicts.items()},
        observations=observations,
        conflicts_by_previous={
            current: {
                previous: tuple(c for c in found if c.previous_cvx == previous)
                for previous in {c.previous_cvx for c in found}
            }
            for current, found in conflicts.items()
        },
    )


def normalize_cvx(code: str) -> str:
    """CDC's supporting data writes CVX codes with at least two digits ('03', '08')."""
    code = code.strip()
    return code.zfill(2) if code.isdigit() else code
