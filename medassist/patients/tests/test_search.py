import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medassist.patients.search import (
    deletion_keys,
    name_score,
    normalize,
    parse_query,
    prefix_range,
    within_one_edit,
)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("O'Brien", "obrien"),
        ("Núñez-García", "nunezgarcia"),
        ("  van der Berg ", "vanderberg"),
        ("ZOË", "zoe"),
        ("李", ""),
    ],
)
def test_normalize_keeps_ascii_letters_only(typed, key):
    assert normalize(typed) == key


@pytest.mark.parametrize(
    ("raw", "names", "birth_date", "digits"),
    [
        ("smith, jon", ["smith", "jon"], None, ""),
        ("Jon Smith 03/04/1980", ["jon", "smith"], dt.date(1980, 3, 4), ""),
        ("1980-03-04", [], dt.date(1980, 3, 4), ""),
        ("3/4/80", [], dt.date(1980, 3, 4), ""),
        ("(217) 555-0143", [], None, "2175550143"),
        ("1000234", [], None, "1000234"),
        ("217-555-0143", [], None, "2175550143"),
    ],
)
def test_parse_query_understands_each_kind_of_token(raw, names, birth_date, digits):
    q = parse_query(raw)
    assert (q.names, q.birth_date, q.digits, q.problems) == (names, birth_date, digits, [])


def test_an_impossible_date_is_reported_not_dropped():
    q = parse_query("garcia 13/45/2000")
    assert q.names == ["garcia"] and q.birth_date is None
    assert q.problems == ["13/45/2000 is not a valid date (use MM/DD/YYYY)"]


@pytest.mark.parametrize(
    ("prefix", "low", "high"),
    [("smi", "smi", "smj"), ("smz", "smz", "sn"), ("zz", "zz", None), ("a", "a", "b")],
)
def test_prefix_range_bounds_every_key_with_the_prefix(prefix, low, high):
    assert prefix_range(prefix) == (low, high)


@given(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.from_regex(r"[a-z]{0,6}", fullmatch=True))
def test_prefix_range_holds_exactly_the_keys_with_the_prefix(prefix, key):
    low, high = prefix_range(prefix)
    inside = key >= low and (high is None or key < high)
    assert inside == key.startswith(prefix)


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("smith", "smtih", True),  # transposition
        ("smith", "smyth", True),  # substitution
        ("smith", "smithe", True),  # insertion
        ("smith", "smit", True),  # deletion
        ("smith", "smythe", False),  # two edits
        ("jonathan", "jonathon", True),
    ],
)
def test_within_one_edit(a, b, close):
    assert within_one_edit(a, b) is close
    # the deletion index finds every pair within one edit
    if close:
        assert deletion_keys(a) & deletion_keys(b)


def test_exact_beats_prefix_beats_typo_in_either_name_order():
    tokens = ["jon", "smith"]
    exact = name_score(tokens, given="jon", family="smith")
    prefix = name_score(tokens, given="jonathan", family="smith")
    typo = name_score(["smtih"], given="x", family="smith")
    assert exact > prefix > typo > 0
    assert name_score(["smith", "jon"], "jon", "smith") == exact


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_parse_query_accepts_any_text(raw):
    q = parse_query(raw)
    assert all(name.isascii() and name.isalpha() for name in q.names)
    assert len(q.digits) <= 20
