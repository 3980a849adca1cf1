"""The pure part of search: reading parameters, FHIR dates and tokens."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medassist.fhir.outcome import FhirError
from medassist.fhir.search import (
    MAX_COUNT,
    PATIENT_PARAMS,
    DateRange,
    parse_date_value,
    parse_search,
    split_token,
    split_unescaped,
)

UTC = dt.UTC


def parse(*pairs: tuple[str, str], lenient: bool = False):  # type: ignore[no-untyped-def]
    return parse_search(pairs, PATIENT_PARAMS, resource_type="Patient", lenient=lenient)


def test_criteria_keep_every_occurrence_in_order():
    search = parse(("name", "a"), ("birthdate", "ge1980"), ("name", "b"), ("_count", "5"))
    assert search.criteria == {"name": ["a", "b"], "birthdate": ["ge1980"]}
    assert (search.count, search.offset) == (5, 0)


def test_count_is_capped():
    assert parse(("_count", "500")).count == MAX_COUNT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b", ["a", "b"]),
        (r"a\,b", ["a,b"]),
        (r"a\\,b", ["a\\", "b"]),
        ("a,", ["a", ""]),
        ("\\", [""]),
    ],
)
def test_split_honours_escapes(value, expected):
    assert split_unescaped(value, ",") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", (None, "123")),
        ("sys|123", ("sys", "123")),
        ("|123", ("", "123")),
        ("sys|", ("sys", "")),
        (r"sys|a\|b", ("sys", "a|b")),
    ],
)
def test_token_values(value, expected):
    assert split_token(value) == expected


@pytest.mark.parametrize(
    ("raw", "prefix", "low", "high"),
    [
        ("1980", "eq", dt.date(1980, 1, 1), dt.date(1981, 1, 1)),
        ("ge1980-02", "ge", dt.date(1980, 2, 1), dt.date(1980, 3, 1)),
        ("lt2024-02", "lt", dt.date(2024, 2, 1), dt.date(2024, 3, 1)),  # leap year
        ("ne2023-12-31", "ne", dt.date(2023, 12, 31), dt.date(2024, 1, 1)),
        ("9999-12-31", "eq", dt.date(9999, 12, 31), None),
        ("9999", "eq", dt.date(9999, 1, 1), None),
    ],
)
def test_date_values_stand_for_ranges_to_their_precision(raw, prefix, low, high):
    assert parse_date_value("birthdate", raw, with_time=False) == (prefix, DateRange(low, high))


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    [
        (
            "2026-11-20T10:00Z",
            dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 20, 10, 1, tzinfo=UTC),
        ),
        (
            "2026-11-20T10:00:05+01:00",
            dt.datetime(2026, 11, 20, 9, 0, 5, tzinfo=UTC),
            dt.datetime(2026, 11, 20, 9, 0, 6, tzinfo=UTC),
        ),
        (
            "2026-11-20T10:00:05.25Z",
            dt.datetime(2026, 11, 20, 10, 0, 5, 250000, tzinfo=UTC),
            dt.datetime(2026, 11, 20, 10, 0, 5, 260000, tzinfo=UTC),
        ),
        # A date alone is the clinic's local day (America/Chicago: UTC-6 in November).
        (
            "2026-11-20",
            dt.datetime(2026, 11, 20, 6, tzinfo=UTC),
            dt.datetime(2026, 11, 21, 6, tzinfo=UTC),
        ),
        ("0001-01-01T00:00+14:00", dt.datetime.min.replace(tzinfo=UTC), None),
        ("9999-12-31T23:59-14:00", dt.datetime.max.replace(tzinfo=UTC), None),
    ],
)
def test_datetime_values_are_utc_ranges(raw, low, high):
    prefix, span = parse_date_value("date", raw, with_time=True)
    assert prefix == "eq"
    assert span.low == low
    assert span.high == high or (high is None and span.high in (None, span.low))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ge",
        "80",
        "1980-1-1",
        "1980-02-30",
        "1980-00",
        "0000",
        "1980-01-01T24:00",
        "1980-01-01T10:00+15:00",
        "1980-01-01T10",
        "sa1980",
        "ap1980",
        "١٩٨٠",  # Arabic-Indic digits are digits to Python, not to FHIR
    ],
)
def test_malformed_dates_are_refused_naming_the_parameter(raw):
    with pytest.raises(FhirError) as refused:
        parse_date_value("date", raw, with_time=True)
    assert refused.value.status == 400
    assert refused.value.expression == ("date",)


@given(st.text(max_size=40))
def test_any_text_is_a_date_range_or_a_400(raw):
    try:
        prefix, span = parse_date_value("date", raw, with_time=True)
    except FhirError as refused:
        assert refused.status == 400
    else:
        assert span.high is None or span.low <= span.high


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=6))
def test_any_query_is_a_search_or_a_400(pairs):
    try:
        search = parse(*pairs)
    except FhirError as refused:
        assert refused.status in (400, 406)
        assert refused.expression
    else:
        assert 0 <= search.count <= MAX_COUNT
        assert set(search.criteria) <= set(PATIENT_PARAMS)
