"""FHIR search (R4 Search page, http://hl7.org/fhir/R4/search.html): reading the query strictly,
and turning each search parameter into a condition on a queryset the caller has already scoped to
the actor. Values of one parameter separated by commas are alternatives (OR); a parameter given
twice must hold both times (AND)."""

import calendar
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone

from medassist.audit.models import Action
from medassist.fhir.mappers.audit_event import ACTION_CODING, MEDASSIST_ACTION, OUTCOME_CODE
from medassist.fhir.mappers.patient import MRN_SYSTEM
from medassist.fhir.outcome import FhirError, bad_parameter
from medassist.patients.search import normalize, prefix_range

DEFAULT_COUNT = 20
MAX_COUNT = 100  # a larger _count is lowered to this, as the R4 Search page allows
MAX_OFFSET = 999_999_999  # keeps OFFSET well inside a 32-bit integer on every database

# _format values meaning JSON (R4 http.html#mime-type; application/json+fhir is the DSTU2 name).
_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also takes '²' and '٣'

NOTHING = Q(pk__in=[])  # a condition no row meets: a valid search that simply finds nothing


@dataclass(frozen=True)
class SearchParam:
    """One supported search parameter, as the CapabilityStatement and the OpenAPI schema list
    it. `definition` is the canonical URL of the SearchParameter it implements."""

    name: str
    type: str  # FHIR SearchParamType: string, token, date, reference
    definition: str
    documentation: str


@dataclass(frozen=True)
class Search:
    """A search as understood: each parameter with its values (one entry per occurrence, in
    the order given), and the page asked for."""

    criteria: dict[str, list[str]]
    count: int = DEFAULT_COUNT
    offset: int = 0

    def query_string(self, *, offset: int) -> str:
        """The search as a GET query, for the Bundle's self/next/previous links."""
        pairs = [(name, value) for name, values in self.criteria.items() for value in values]
        pairs += [("_count", str(self.count)), ("_offset", str(offset))]
        return urlencode(pairs)

    def describe(self) -> str:
        """The criteria in a line, for the audit entry that records the search."""
        parts = [f"{name}={value}" for name, values in self.criteria.items() for value in values]
        return "; ".join(parts) or "no criteria"


def parse_search(
    pairs: Iterable[tuple[str, str]],
    params: Mapping[str, SearchParam],
    *,
    resource_type: str,
    lenient: bool = False,
) -> Search:
    """Read the (name, value) pairs of a search. Strict by default (R4 Search, 'Handling
    Errors'): an unknown parameter or modifier is refused with a 400 naming it, rather than
    silently ignored, which would return more patients than the client asked for. With
    `lenient` (the client sent `Prefer: handling=lenient`) unknown parameters are ignored."""
    criteria: dict[str, list[str]] = {}
    count: int | None = None
    offset: int | None = None
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise bad_parameter(key.replace("\x00", "") or "(empty)", "contains a NUL character")
        name, _, modifier = key.partition(":")
        if name in ("_count", "_offset", "_format", "_pretty"):
            if modifier:
                raise bad_parameter(key, "takes no modifier")
            if name == "_count" and value:
                if count is not None:
                    raise bad_parameter(name, "given more than once")
                count = min(_non_negative(name, value), MAX_COUNT)
            elif name == "_offset" and value:
                if offset is not None:
                    raise bad_parameter(name, "given more than once")
                offset = _non_negative(name, value)
            elif name == "_format":
                check_format(value)
            elif name == "_pretty" and value not in ("", "true", "false"):
                raise bad_parameter(name, f"is true or false, not {shown(value)}")
            continue
        if name not in params:
            if lenient:
                continue
            raise FhirError(
                400,
                f"Unknown search parameter {shown(key)} for {resource_type}. "
                f"Supported: {', '.join(sorted(params))}, _count, _offset.",
                code="not-supported",
                expression=[key],
            )
        if modifier:
            raise FhirError(
                400,
                f"{key}: the modifier :{modifier} is not supported",
                code="not-supported",
                expression=[key],
            )
        if value:  # an empty value constrains nothing
            criteria.setdefault(name, []).append(value)
    return Search(
        criteria,
        count=DEFAULT_COUNT if count is None else count,
        offset=offset or 0,
    )


def shown(value: str, limit: int = 60) -> str:
    """A value as quoted back in a diagnostic: clipped, so a huge value gives a short answer."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _non_negative(name: str, value: str) -> int:
    if not _NUMBER.fullmatch(value):
        raise bad_parameter(
            name, f"must be a whole number from 0 to {MAX_OFFSET}, not {shown(value)}"
        )
    return int(value)


def split_unescaped(value: str, separator: str) -> list[str]:
    """Split on `separator` except where escaped with a backslash (R4 Search, 'Escaping Search
    Parameters': \\, \\| \\$ and \\\\ stand for the character itself)."""
    parts, current, chars = [], [], iter(value)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def split_token(value: str) -> tuple[str | None, str]:
    """A token value: `code`, `system|code`, `|code` (no system) or `system|` (any code).
    Returns (system, code); system None when none was given, "" for `|code`."""
    parts = split_unescaped(value, "|")
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], "|".join(parts[1:])


def any_of(value: str, condition: Callable[[str], Q]) -> Q:
    """The condition for one occurrence of a parameter: any of its comma-separated values."""
    return reduce(lambda a, b: a | b, (condition(v) for v in split_unescaped(value, ",")))


def all_of(search: Search, conditions: Mapping[str, Callable[[str], Q]]) -> Q:
    """Every parameter's condition, each occurrence ANDed."""
    result = Q()
    for name, values in search.criteria.items():
        for value in values:
            result &= any_of(value, conditions[name])
    return result


# Dates ---------------------------------------------------------------------------------------

_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?)?(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)
_UTC_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_UTC_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class DateRange:
    """The interval a date search value stands for: [low, high), to the precision given
    ('2026' is the whole year; '2026-11-20T10:00' the whole minute). High None: no end."""

    low: Any
    high: Any


def parse_date_value(param: str, raw: str, *, with_time: bool) -> tuple[str, DateRange]:
    """'ge2026-11-20' -> ('ge', the range of that day). A value without a time zone is read in
    the server's time zone, the clinic's (as the audit report's dates are, too). With
    `with_time` the range is of aware datetimes in UTC, else of dates."""
    prefix, value = "eq", raw
    if raw[:2] in _PREFIXES:
        prefix, value = raw[:2], raw[2:]
    if prefix in ("sa", "eb", "ap"):
        raise bad_parameter(param, f"the prefix {prefix} is not supported (use eq ne gt ge lt le)")
    match = _DATE.fullmatch(value)
    if match is None:
        raise bad_parameter(
            param,
            f"{shown(value)} is not a date (YYYY, YYYY-MM or YYYY-MM-DD"
            + (", or YYYY-MM-DDThh:mm[:ss][Z|±hh:mm])" if with_time else ")"),
        )
    parts = match.groupdict()
    if parts["hour"] is not None and not with_time:
        raise bad_parameter(param, f"{shown(value)} has a time; this parameter takes a date")
    try:
        return prefix, (_datetime_range(parts) if with_time else _date_range(parts))
    except ValueError:
        raise bad_parameter(param, f"{shown(value)} is not a real date or time") from None


def _date_range(p: dict[str, str | None]) -> DateRange:
    year = int(p["year"] or 0)
    if p["day"]:
        low = dt.date(year, int(p["month"] or 0), int(p["day"]))
        return DateRange(low, _add(lambda: low + dt.timedelta(days=1)))
    if p["month"]:
        low = dt.date(year, int(p["month"]), 1)
        days = calendar.monthrange(year, low.month)[1]
        return DateRange(low, _add(lambda: low + dt.timedelta(days=days)))
    low = dt.date(year, 1, 1)
    return DateRange(low, _add(lambda: low.replace(year=year + 1)))


def _add(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except (OverflowError, ValueError):  # past year 9999: the range has no end
        return None


def _datetime_range(p: dict[str, str | None]) -> DateRange:
    day = _date_range(p)
    if p["hour"] is None:
        return DateRange(_local_midnight_utc(day.low), _local_midnight_utc(day.high))
    fraction = p["fraction"] or ""
    naive = dt.datetime.combine(
        day.low,
        dt.time(
            int(p["hour"] or 0),
            int(p["minute"] or 0),
            int(p["second"] or 0),
            int(fraction[:6].ljust(6, "0")),
        ),
    )
    if p["second"] is None:
        step = dt.timedelta(minutes=1)
    elif not fraction:
        step = dt.timedelta(seconds=1)
    else:
        step = dt.timedelta(microseconds=10 ** (6 - min(len(fraction), 6)))
    tz = p["tz"]
    if tz is None:
        zone: dt.tzinfo = timezone.get_current_timezone()
    elif tz == "Z":
        zone = dt.UTC
    else:
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if minutes > 59 or hours * 60 + minutes > 14 * 60:  # zones run from -14:00 to +14:00
            raise ValueError(tz)
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    return DateRange(_utc(naive, zone), _add(lambda: _utc(naive + step, zone)))


def _local_midnight_utc(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return _utc(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


def _utc(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    # In UTC already, so that no database adapter has to convert (and overflow) at year 1 or
    # 9999; the first and last hours of the calendar are clamped to its ends.
    try:
        return naive.replace(tzinfo=zone).astimezone(dt.UTC)
    except OverflowError:
        return _UTC_MIN if naive.year == 1 else _UTC_MAX


def date_condition(field: str, prefix: str, span: DateRange) -> Q:
    """Whether a date or instant in `field` meets `prefix` against the range (R4 Search,
    'date': eq means within the range, ge on or after its start, gt after its end, le before
    its end, lt before its start)."""
    low = Q(**{f"{field}__gte": span.low})
    below_high = Q(**{f"{field}__lt": span.high}) if span.high is not None else Q()
    after_high = Q(**{f"{field}__gte": span.high}) if span.high is not None else NOTHING
    within = low & below_high
    return {
        "eq": within,
        "ne": ~within,
        "ge": low,
        "gt": after_high,
        "le": below_high,
        "lt": Q(**{f"{field}__lt": span.low}),
    }[prefix]


def date_param(field: str, param: str, *, with_time: bool) -> Callable[[str], Q]:
    def condition(value: str) -> Q:
        prefix, span = parse_date_value(param, value, with_time=with_time)
        return date_condition(field, prefix, span)

    return condition


def uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# Patient -------------------------------------------------------------------------------------

_SP = "http://hl7.org/fhir/SearchParameter/"
ADMINISTRATIVE_GENDER = "http://hl7.org/fhir/administrative-gender"

PATIENT_PARAMS = {
    p.name: p
    for p in (
        SearchParam("_id", "token", _SP + "Resource-id", "The patient's id (a UUID)."),
        SearchParam(
            "identifier",
            "token",
            _SP + "Patient-identifier",
            f"The medical record number: `value` or `{MRN_SYSTEM}|value`.",
        ),
        SearchParam(
            "name",
            "string",
            _SP + "Patient-name",
            "Start of the family or first name, ignoring case, accents, spaces and punctuation.",
        ),
        SearchParam(
            "family", "string", _SP + "individual-family", "Start of the family name, as name."
        ),
        SearchParam(
            "given",
            "string",
            _SP + "individual-given",
            "Start of the first name, as name (middle and preferred names are not searched).",
        ),
        SearchParam(
            "birthdate",
            "date",
            _SP + "individual-birthdate",
            "Birth date, YYYY[-MM[-DD]], with an optional prefix eq ne gt ge lt le.",
        ),
        SearchParam(
            "gender", "token", _SP + "individual-gender", "female | male | other | unknown."
        ),
        SearchParam("active", "token", _SP + "Patient-active", "true | false."),
    )
}


def _name_keys(columns: tuple[str, ...]) -> Callable[[str], Q]:
    """A FHIR string search (starts with, ignoring case and accents) on the search keys the
    patients app keeps, with its own normalize() and prefix_range(): one name rule everywhere."""

    def condition(value: str) -> Q:
        key = normalize(value)
        if not key:
            return NOTHING
        low, high = prefix_range(key)
        result = Q()
        for column in columns:
            result |= Q(**{f"{column}__gte": low}) & (Q(**{f"{column}__lt": high}) if high else Q())
        return result

    return condition


def _identifier(value: str) -> Q:
    system, code = split_token(value)
    if system not in (None, MRN_SYSTEM):
        return NOTHING
    return Q(mrn=code) if code else Q()


def _patient_id(value: str) -> Q:
    public_id = uuid_or_none(value)
    return Q(public_id=public_id) if public_id else NOTHING


def _gender(value: str) -> Q:
    system, code = split_token(value)
    if system not in (None, ADMINISTRATIVE_GENDER) or not code:
        return NOTHING
    return Q(sex=code)


def _active(value: str) -> Q:
    _, code = split_token(value)
    if code not in ("true", "false"):
        raise bad_parameter("active", f"is true or false, not {shown(value)}")
    return Q(active=code == "true")


PATIENT_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "_id": _patient_id,
    "identifier": _identifier,
    "name": _name_keys(("family_key", "given_key")),
    "family": _name_keys(("family_key",)),
    "given": _name_keys(("given_key",)),
    "birthdate": date_param("birth_date", "birthdate", with_time=False),
    "gender": _gender,
    "active": _active,
}


def patient_condition(search: Search) -> Q:
    return all_of(search, PATIENT_CONDITIONS)


# AuditEvent ----------------------------------------------------------------------------------

AUDIT_EVENT_PARAMS = {
    p.name: p
    for p in (
        SearchParam(
            "date",
            "date",
            _SP + "AuditEvent-date",
            "When it happened, with a prefix eq ne gt ge lt le; give it twice for a range "
            "(date=ge2026-11-01&date=lt2026-12-01). A value without a time zone is local.",
        ),
        SearchParam(
            "agent",
            "reference",
            _SP + "AuditEvent-agent",
            "The username of the user who acted.",
        ),
        SearchParam(
            "patient",
            "reference",
            _SP + "AuditEvent-patient",
            "The patient concerned: Patient/<id> or <id>.",
        ),
        SearchParam(
            "action", "token", _SP + "AuditEvent-action", "C | R | U | D | E (create ... execute)."
        ),
        SearchParam(
            "subtype",
            "token",
            _SP + "AuditEvent-subtype",
            f"The workstation's own action ({MEDASSIST_ACTION}): "
            + " | ".join(Action.values)
            + ".",
        ),
        SearchParam(
            "outcome",
            "token",
            _SP + "AuditEvent-outcome",
            "0 success | 4 refused | 8 failed.",
        ),
    )
}

_ACTIONS_FOR_CODE: dict[str, list[str]] = {}
for _action, (_type, _subtype, _code) in ACTION_CODING.items():
    _ACTIONS_FOR_CODE.setdefault(_code, []).append(str(_action))
_OUTCOME_FOR_CODE = {code: [str(outcome)] for outcome, code in OUTCOME_CODE.items()}
AUDIT_EVENT_ACTION = "http://hl7.org/fhir/audit-event-action"
AUDIT_EVENT_OUTCOME = "http://hl7.org/fhir/audit-event-outcome"


def _token_in(
    column: str, system_expected: str, values_for: Mapping[str, list[str]]
) -> Callable[[str], Q]:
    """A token parameter whose codes stand for sets of values of `column`; an unknown code is
    a valid search that finds nothing."""

    def condition(value: str) -> Q:
        system, code = split_token(value)
        if system not in (None, system_expected) or code not in values_for:
            return NOTHING
        return Q(**{f"{column}__in": values_for[code]})

    return condition


def _audited_patient(value: str) -> Q:
    # Patient/<id>, or a full URL ending so, or the bare id; another resource type finds nothing.
    _, slash, tail = value.rpartition("Patient/")
    if not slash and "/" in value:
        return NOTHING
    public_id = uuid_or_none(tail)
    return Q(patient__public_id=public_id) if public_id else NOTHING


AUDIT_EVENT_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "date": date_param("occurred_at", "date", with_time=True),
    "agent": lambda value: Q(username__iexact=value),
    "patient": _audited_patient,
    "action": _token_in("action", AUDIT_EVENT_ACTION, _ACTIONS_FOR_CODE),
    "subtype": _token_in("action", MEDASSIST_ACTION, {a: [a] for a in Action.values}),
    "outcome": _token_in("outcome", AUDIT_EVENT_OUTCOME, _OUTCOME_FOR_CODE),
}


def audit_event_condition(search: Search) -> Q:
    return all_of(search, AUDIT_EVENT_CONDITIONS)


def check_format(value: str) -> None:
    """_format (R4 http.html#mime-type): JSON is all this server speaks; 406 for anything else."""
    if value and value.split(";")[0].strip() not in _FORMATS:
        raise FhirError(
            406, f"_format: only JSON is served, not {shown(value)}", expression=["_format"]
        )
