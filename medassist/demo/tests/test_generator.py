"""The demo generator, without a database: deterministic, and plausible."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medassist.demo.generator import SEED, fingerprint, generate
from medassist.history.models import NO_KNOWN_ALLERGY_SNOMED

TODAY = dt.date(2026, 1, 15)  # a Thursday
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def patients():
    return generate(today=TODAY)


def _fingerprints_in_new_processes(*hash_seeds: str) -> list[str]:
    script = (
        "import datetime as dt, django; django.setup()\n"
        "from medassist.demo.generator import fingerprint, generate\n"
        f"print(fingerprint(generate(today=dt.date({TODAY.year}, {TODAY.month}, {TODAY.day}))))"
    )
    runs = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=os.environ | {"PYTHONHASHSEED": seed, "DJANGO_SETTINGS_MODULE": "config.settings"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in hash_seeds
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        results.append(out.strip())
    return results


def test_generation_is_identical_across_processes_and_hash_seeds(patients):
    # Set and dict-of-str order changes with PYTHONHASHSEED: nothing may depend on it.
    expected = fingerprint(patients)
    assert _fingerprints_in_new_processes("1", "2") == [expected, expected]


def test_another_seed_gives_other_patients():
    ours = generate(today=TODAY, per_clinic=30)
    assert fingerprint(generate(today=TODAY, seed=SEED + 1, per_clinic=30)) != fingerprint(ours)


def test_each_clinic_has_240_patients(patients):
    assert sum(p.clinic == "north" for p in patients) == 240
    assert sum(p.clinic == "south" for p in patients) == 240


def test_ages_run_from_days_old_to_past_ninety_in_each_clinic(patients):
    for clinic in ("north", "south"):
        ages = [p.age_days(TODAY) for p in patients if p.clinic == clinic]
        assert min(ages) < 28
        assert max(ages) > 90 * 365.25
        assert any(28 <= a < 365 for a in ages)


def test_the_featured_patients_are_there(patients):
    def one(given, family):
        found = [p for p in patients if (p.given, p.family) == (given, family)]
        assert len(found) == 1, (given, family)
        return found[0]

    josephine = one("Josephine", "Abernathy")
    assert josephine.clinic == "north"
    assert [a.substance for a in josephine.allergies] == ["Penicillin"]
    lan = one("Lan", "Nguyen")
    assert lan.age_days(TODAY) > 97 * 365 and lan.interpreter_needed
    assert lan.preferred_language == "vi"
    mateo = one("Mateo", "Hernández")
    assert mateo.age_days(TODAY) == 5 and mateo.allergies == []  # not yet asked
    amara = one("Amara", "Bello")
    assert 4 * 30 < amara.age_days(TODAY) < 5 * 30
    assert {
        p.birth_date for p in patients if (p.given, p.family) == ("Maria", "Garcia")
    }.__len__() == 2


def test_mrns_are_one_unbroken_sequence(patients):
    assert sorted(p.mrn_offset for p in patients) == list(range(len(patients)))


def test_visits_fall_in_the_last_three_years_and_todays_are_planned(patients):
    for p in patients:
        past = [e for e in p.encounters if e.stage == "done"]
        planned = [e for e in p.encounters if e.stage == "scheduled"]
        assert len(past) <= 15
        for e in past:
            day = e.period_start.date()
            assert p.birth_date <= day < TODAY
            assert day >= TODAY - dt.timedelta(days=3 * 366)
            assert e.period_end > e.period_start
            assert e.provider == {"north": "bob", "south": "frank"}[p.clinic]
            assert e.medical_assistant == {"north": "alice", "south": "carol"}[p.clinic]
        for e in planned:
            assert e.period_start.date() == TODAY and e.period_end is None
    for clinic in ("north", "south"):
        today = [
            e.period_start
            for p in patients
            if p.clinic == clinic
            for e in p.encounters
            if e.stage == "scheduled"
        ]
        assert len(today) >= 8
        assert len(set(today)) == len(today)  # one patient per slot


def test_some_have_no_visits_and_some_have_many(patients):
    counts = [len(p.encounters) for p in patients]
    assert counts.count(0) >= 5
    assert max(counts) >= 12


def test_allergies_tell_none_known_from_never_asked(patients):
    states = {"nka": 0, "has": 0, "never": 0}
    for p in patients:
        if not p.allergies:
            states["never"] += 1
        elif any(a.code == NO_KNOWN_ALLERGY_SNOMED for a in p.allergies):
            assert len(p.allergies) == 1  # "none known" never sits beside an allergy
            states["nka"] += 1
        else:
            states["has"] += 1
            for a in p.allergies:
                assert a.reaction and a.criticality in {"low", "high"}
    assert min(states.values()) >= 40, states


def test_problems_and_medications_fit_the_age(patients):
    adult_only = {"I10", "E11.9", "E78.5", "J44.9", "I48.91", "M81.0", "N40.1", "G30.9"}
    for p in patients:
        age = p.age_days(TODAY) / 365.25
        codes = {c.icd10 for c in p.conditions if c.category == "problem-list-item"}
        if age < 18:
            assert not codes & adult_only, (p.given, p.family, age, codes)
            assert not any(m.rxnorm in {"6809", "29046", "83367"} for m in p.medications)
        for c in p.conditions:
            assert c.onset_date is None or p.birth_date <= c.onset_date <= TODAY


def test_codes_have_the_shape_of_their_code_system(patients):
    icd10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
    for p in patients:
        for c in p.conditions:
            assert not c.icd10 or icd10.match(c.icd10), c.icd10
            assert not c.snomed or c.snomed.isdigit()
        for m in p.medications:
            assert m.rxnorm.isdigit(), m.name


def test_insurance_fits_the_age(patients):
    elders = [p for p in patients if p.age_days(TODAY) >= 65 * 365.25]
    medicare = [
        p for p in elders if any("Medicare" in (c.payer_name + c.plan_name) for c in p.coverages)
    ]
    assert len(medicare) > 0.8 * len(elders)
    children = [p for p in patients if p.age_days(TODAY) < 18 * 365.25]
    medicaid = [p for p in children if any("All Kids" in c.plan_name for c in p.coverages)]
    assert 0.25 * len(children) < len(medicaid) < 0.7 * len(children)
    assert any(not p.coverages for p in patients)  # self-pay
    for p in patients:
        assert [c.order for c in p.coverages] == list(range(1, len(p.coverages) + 1))


def test_languages_and_backgrounds_vary(patients):
    languages = {p.preferred_language for p in patients}
    assert {"en", "es", "vi", "ase"} <= languages and len(languages) >= 8
    assert sum(p.interpreter_needed for p in patients) >= 15
    assert all(p.preferred_language != "en" for p in patients if p.interpreter_needed)
    assert len({p.family for p in patients}) > 250
