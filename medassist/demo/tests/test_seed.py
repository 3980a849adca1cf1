"""The demo network as loaded into a database (loaded once for the module, rolled back after)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings

from medassist.clinics.models import Network
from medassist.demo.seed import load_demo
from medassist.encounters.models import Encounter
from medassist.history.models import Allergy, Condition, Medication
from medassist.patients.models import Coverage, NameSpelling, Patient, PatientContact
from medassist.patients.search import deletion_keys, normalize
from medassist.patients.services import phone_digits

TODAY = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        yield load_demo(today=TODAY)
        transaction.set_rollback(True)


@pytest.fixture
def login(client, loaded, db):
    def as_user(username):
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return as_user


def test_each_clinic_holds_240_patients_with_their_histories(loaded, db):
    assert loaded.patients == 480
    assert Patient.objects.filter(clinic__code="north").count() == 240
    assert Patient.objects.filter(clinic__code="south").count() == 240
    assert Encounter.objects.count() == loaded.encounters > 2000
    assert Encounter.objects.filter(stage="scheduled").count() >= 16
    assert Allergy.objects.exists() and Medication.objects.exists()
    assert Coverage.objects.exists() and PatientContact.objects.exists()
    assert Condition.objects.filter(category="family-history").exists()
    assert Condition.objects.filter(category="surgical-history").exists()


def test_ages_span_newborns_to_past_ninety(loaded, db):
    births = Patient.objects.values_list("birth_date", flat=True)
    assert (TODAY - max(births)).days < 28
    assert (TODAY - min(births)).days > 90 * 365.25


def test_every_patient_has_valid_search_keys(loaded, db):
    spellings = set(NameSpelling.objects.values_list("key", "name"))
    for p in Patient.objects.all():
        assert p.family_key == normalize(p.family) and p.family_key
        assert p.given_key == normalize(p.given) and p.given_key
        assert p.phone_digits == phone_digits(p.phone)
        for name in (p.family_key, p.given_key):
            assert {(key, name) for key in deletion_keys(name)} <= spellings


def test_mrns_are_unique_and_the_network_counter_is_past_them(loaded, db):
    mrns = sorted(int(m) for m in Patient.objects.values_list("mrn", flat=True))
    assert mrns == list(range(loaded.first_mrn, loaded.last_mrn + 1))
    assert Network.objects.get().next_mrn == loaded.last_mrn + 1


def test_alice_finds_josephine_abernathy_and_opens_her_chart(login):
    client = login("alice")
    josephine = Patient.objects.get(family="Abernathy", given="Josephine")
    body = client.get("/patients/search/", {"q": "abernathy, jo"}).content.decode()
    assert str(josephine.public_id) in body
    chart = client.get(f"/patients/{josephine.public_id}/").content.decode()
    assert "Penicillin (hives)" in chart and "Blood pressure follow-up" in chart


def test_alice_finds_jonathan_smith_despite_a_typo(login):
    jonathan = Patient.objects.get(family="Smith", given="Jonathan")
    body = login("alice").get("/patients/search/", {"q": "jonathan smtih"}).content.decode()
    assert str(jonathan.public_id) in body


def test_carol_does_not_find_north_patients(login):
    body = login("carol").get("/patients/search/", {"q": "abernathy"}).content.decode()
    assert "Abernathy" not in body


@pytest.mark.parametrize(
    "given, family",
    [("Lan", "Nguyen"), ("Mateo", "Hernández"), ("Amara", "Bello"), ("Olivia", "Thompson"),
     ("Sophia", "Reyes"), ("Daniel", "Kowalski")],
)  # fmt: skip
def test_featured_charts_open_at_their_clinic(login, given, family):
    patient = Patient.objects.get(given=given, family=family)
    client = login("alice" if patient.clinic.code == "north" else "carol")
    assert client.get(f"/patients/{patient.public_id}/").status_code == 200
