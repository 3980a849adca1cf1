"""Pure logic of the single patient search box: what the user typed, and how names are keyed so
that a search tolerates typos and name order.

Typo tolerance uses a deletion index (the symmetric-delete idea of SymSpell): every distinct name
is stored under itself and each spelling with one letter removed; two names within one edit
(insertion, deletion, substitution or adjacent transposition) share at least one such key. Names
are indexed as spellings, not per patient, so the index stays small (a few thousand names) and
works the same on SQLite and PostgreSQL.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

MIN_FUZZY_LENGTH = 4  # shorter tokens match by prefix only: one edit would match half the list
_DATE_PATTERNS = ("%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%m/%d/%y", "%m%d%Y")


def normalize(text: str) -> str:
    """Lower case ASCII letters only: 'O'Brien-Núñez' -> 'obriennunez'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", decomposed.encode("ascii", "ignore").decode().lower())


def deletion_keys(name: str) -> set[str]:
    keys = {name}
    if len(name) >= MIN_FUZZY_LENGTH:
        keys |= {name[:i] + name[i + 1 :] for i in range(len(name))}
    return keys


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """Bounds [low, high) holding every key that starts with `prefix` (keys are a-z only).
    A range, not LIKE, so that one B-tree index serves on SQLite and PostgreSQL alike,
    whatever the database collation."""
    stem = prefix.rstrip("z")
    if not stem:
        return prefix, None
    return prefix, stem[:-1] + chr(ord(stem[-1]) + 1)


def within_one_edit(a: str, b: str) -> bool:
    return OSA.distance(a, b, score_cutoff=1) <= 1


@dataclass
class SearchQuery:
    names: list[str] = field(default_factory=list)
    birth_date: dt.date | None = None
    digits: str = ""  # an MRN or a phone number
    problems: list[str] = field(default_factory=list)  # what could not be understood

    @property
    def empty(self) -> bool:
        return not (self.names or self.birth_date or self.digits)


def parse_query(raw: str) -> SearchQuery:
    """'smith, jon 3/4/1980' -> names [smith, jon], birth date 1980-03-04.
    A run of digits is an MRN or a phone number; anything with letters and digits is an MRN."""
    query = SearchQuery()
    for token in re.split(r"[\s,;]+", raw.strip())[:8]:
        if not token:
            continue
        if _looks_like_date(token):
            date = _parse_date(token)
            if date is None:
                query.problems.append(f"{token} is not a valid date (use MM/DD/YYYY)")
            else:
                query.birth_date = date
            continue
        compact = re.sub(r"[()\-.+]", "", token)
        if compact.isdigit() or (any(c.isdigit() for c in token) and token.isalnum()):
            query.digits = (query.digits + compact.upper())[:20]
            continue
        name = normalize(token)
        if name:
            query.names.append(name[:40])
    return query


def _looks_like_date(token: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}[/\-]\d{1,2}[/\-]\d{1,4}", token))


def _parse_date(token: str) -> dt.date | None:
    for pattern in _DATE_PATTERNS:
        try:
            date = dt.datetime.strptime(token, pattern).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
        if pattern.endswith("%y") and date.year > dt.date.today().year:  # noqa: DTZ011
            date = date.replace(year=date.year - 100)
        return date
    return None


def name_score(tokens: list[str], given: str, family: str) -> float:
    """How well the typed name tokens fit a patient, in any order; higher is better."""
    score = 0.0
    for token in tokens:
        best = 0.0
        for part, weight in ((family, 1.0), (given, 0.9)):
            if part == token:
                best = max(best, 3 * weight)
            elif part.startswith(token):
                best = max(best, 2 * weight)
            elif len(token) >= MIN_FUZZY_LENGTH and within_one_edit(token, part):
                best = max(best, 1 * weight)
        score += best
    return score
