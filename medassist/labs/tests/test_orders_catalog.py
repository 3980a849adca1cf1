"""The clinic's lab catalog, kept by the manager: LOINC codes checked digit by digit (the mod-10
check digit of loinc.org's Users' Guide), performing labs with their HL7 identities and pickup
and transit hours, tests whose container fits their specimen; and the demo's catalog."""

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent
from medassist.demo.labs import CATALOG, seed_catalog
from medassist.labs.models import LabTest, PerformingLab
from medassist.labs.services import orders as services
from medassist.labs.services.orders import LabFields, LabTestFields
from medassist.labs.tests import factories as f

pytestmark = pytest.mark.django_db

# Codes from loinc.org with their check digits (the part after the hyphen).
LOINC_TABLE = [
    ("57021", 8),  # CBC W Auto Differential panel - Blood
    ("58410", 2),  # CBC panel - Blood by Automated count
    ("24323", 8),  # Comprehensive metabolic 2000 panel
    ("51990", 0),  # Basic metabolic panel
    ("24331", 1),  # Lipid 1996 panel
    ("57698", 3),  # Lipid panel with direct LDL
    ("4548", 4),  # Hemoglobin A1c
    ("3016", 3),  # TSH
    ("5902", 2),  # Prothrombin time
    ("24356", 8),  # Urinalysis complete panel
    ("630", 4),  # Urine culture
    ("1558", 6),  # Fasting glucose
    ("62292", 8),  # 25-Hydroxyvitamin D2+D3
    ("626", 2),  # Throat culture
    ("600", 7),  # Blood culture
    ("2345", 7),  # Glucose [Mass/volume] in Serum or Plasma
    ("2093", 3),  # Cholesterol
    ("718", 7),  # Hemoglobin
    ("8480", 6),  # Systolic blood pressure
    ("12345", 5),  # the Users' Guide's worked example: 12345 -> 5
]


@pytest.mark.parametrize(("number", "check"), LOINC_TABLE)
def test_loinc_check_digits(number, check):
    assert services.loinc_check_digit(number) == check
    assert services.normalize_loinc(f"{number}-{check}") == f"{number}-{check}"
    wrong = (check + 1) % 10
    with pytest.raises(ValueError, match=f"it would be {number}-{check}"):
        services.normalize_loinc(f"{number}-{wrong}")


@pytest.mark.parametrize(
    "typed", ["", "2345", "2345-", "-7", "23A5-7", "12345678-9", "2345-77", "２３４５-７"]
)
def test_what_is_not_a_loinc_code_is_refused(typed):
    with pytest.raises(ValueError):
        services.normalize_loinc(typed)


def test_a_loinc_code_is_tidied(cast):
    assert services.normalize_loinc(" 2345-7 ") == "2345-7"
    assert services.normalize_loinc("02345-7") == "2345-7"


def test_every_code_of_the_demo_catalog_is_a_valid_loinc_code_and_its_tube_fits():
    for item in CATALOG:
        assert services.normalize_loinc(item.loinc) == item.loinc, item
        assert services.container_fits(item.specimen_type, item.container), item
        if item.spin_within_minutes:
            assert item.specimen_type in services.SPUN_TYPES, item
    codes = {item.lab_code: item.loinc for item in CATALOG}
    assert codes["CBC"] == "57021-8" and codes["CMP"] == "24323-8" and codes["LIPID"] == "24331-1"


def test_the_demo_catalog_is_written_once(cast):
    lab = seed_catalog(cast.north)
    again = seed_catalog(cast.north)
    assert lab == again and LabTest.objects.filter(lab=lab).count() == len(CATALOG)
    assert (lab.name, lab.clia_number, lab.pickup_hours, lab.transit_hours) == (
        "Riverside Reference Laboratory",
        "14D0000000",
        4,
        24,
    )
    south = seed_catalog(cast.south)
    assert south.clinic == cast.south and south.clinic_facility == "SOUTH"


# -- Labs ----------------------------------------------------------------------------------------


def lab_fields(**kw) -> LabFields:  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {
        "name": "Pathology Partners",
        "facility": "PPL",
        "clinic_facility": "NORTH",
        "clia_number": "14d1234567",
        "host": "ppl.example",
        "port": 2575,
    }
    values.update(kw)
    return LabFields(**values)


def test_the_manager_adds_and_changes_a_performing_lab(cast):
    dana = Actor.for_user(cast.dana)
    lab = services.save_lab(actor=dana, clinic_id=cast.north.pk, fields=lab_fields())
    assert (lab.clinic, lab.clia_number, lab.host, lab.port) == (
        cast.north,
        "14D1234567",
        "ppl.example",
        2575,
    )
    changed = services.save_lab(
        actor=dana,
        clinic_id=cast.north.pk,
        lab=lab,
        fields=lab_fields(host="", port=None, pickup_hours=6),
    )
    assert (changed.host, changed.port, changed.pickup_hours) == ("", None, 6)
    assert not services.lab_has_interface(changed)
    actions = list(
        AuditEvent.objects.filter(entity_id=str(lab.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [Action.CREATE, Action.UPDATE]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": " "}, ("name", "required")),
        ({"clia_number": "14-1234567"}, ("clia_number", "clia")),
        ({"clia_number": "14D123456"}, ("clia_number", "clia")),
        ({"facility": "P|PL"}, ("facility", "delimiter")),
        ({"clinic_facility": ""}, ("clinic_facility", "required")),
        ({"application": "LAB^X"}, ("application", "delimiter")),
        ({"message_type": "ORU^R01"}, ("message_type", "message_type")),
        ({"port": None}, ("port", "host_port")),
        ({"host": ""}, ("host", "host_port")),
        ({"host": "a b"}, ("host", "host")),
        ({"port": 70000}, ("port", "port")),
        ({"pickup_hours": 0}, ("pickup_hours", "range")),
        ({"transit_hours": 500}, ("transit_hours", "range")),
        ({"timeout_seconds": 0}, ("timeout_seconds", "range")),
    ],
)
def test_a_lab_is_refused_on_the_field_that_is_wrong(cast, changes, expected):
    with pytest.raises(ValidationError) as excinfo:
        services.save_lab(
            actor=Actor.for_user(cast.dana), clinic_id=cast.north.pk, fields=lab_fields(**changes)
        )
    name, errors = next(iter(excinfo.value.error_dict.items()))
    assert (name, errors[0].code) == expected
    assert not PerformingLab.objects.exists()


def test_two_labs_may_not_share_an_hl7_identity(cast):
    dana = Actor.for_user(cast.dana)
    services.save_lab(actor=dana, clinic_id=cast.north.pk, fields=lab_fields())
    with pytest.raises(ValidationError) as excinfo:
        services.save_lab(actor=dana, clinic_id=cast.north.pk, fields=lab_fields(name="Other"))
    assert "results could not be told apart" in str(excinfo.value)


def test_only_the_clinics_manager_keeps_the_catalog(cast):
    lab = f.make_catalog(cast.north).lab
    for user in (cast.alice, cast.bob, cast.carol):
        with pytest.raises(PermissionDenied):
            services.save_lab(
                actor=Actor.for_user(user), clinic_id=cast.north.pk, fields=lab_fields()
            )
    with pytest.raises(PermissionDenied):  # South's manager, were there one, not North's lab
        services.save_lab(
            actor=Actor.for_user(cast.dana), clinic_id=cast.south.pk, fields=lab_fields()
        )
    with pytest.raises(PermissionDenied):
        services.save_lab(
            actor=Actor.for_user(cast.dana), clinic_id=cast.south.pk, lab=lab, fields=lab_fields()
        )


# -- Tests ---------------------------------------------------------------------------------------


def fields_for(lab, **kw) -> LabTestFields:  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {
        "lab": lab,
        "loinc": "2345-7",
        "name": "Glucose",
        "lab_code": "GLU",
        "specimen_type": "SER",
        "container": "gold_sst",
        "volume_ml": Decimal("1.0"),
        "spin_within_minutes": 120,
    }
    values.update(kw)
    return LabTestFields(**values)


def test_the_manager_adds_a_test_with_a_checked_loinc_code(cast):
    lab = f.make_catalog(cast.north).lab
    saved = services.save_test(
        actor=Actor.for_user(cast.dana), clinic_id=cast.north.pk, fields=fields_for(lab)
    )
    assert (saved.loinc, saved.container, saved.spin_within_minutes, saved.active) == (
        "2345-7",
        "gold_sst",
        120,
        True,
    )
    changed = services.save_test(
        actor=Actor.for_user(cast.dana),
        clinic_id=cast.north.pk,
        test=saved,
        fields=fields_for(lab, active=False, fasting_hours=8),
    )
    assert (changed.active, changed.fasting_hours) == (False, 8)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"loinc": "2345-8"}, ("loinc", "loinc")),
        ({"loinc": "glucose"}, ("loinc", "loinc")),
        ({"name": ""}, ("name", "required")),
        ({"lab_code": "GL U"}, ("lab_code", "lab_code")),
        ({"lab_code": "CMP"}, ("lab_code", "taken")),  # the catalog's CMP
        ({"container": "lavender"}, ("container", "container_mismatch")),  # serum in EDTA
        ({"specimen_type": "UR", "spin_within_minutes": None}, ("container", "container_mismatch")),
        ({"specimen_type": "BLD", "container": "lavender"}, ("spin_within_minutes", "not_spun")),
        ({"spin_within_minutes": 5}, ("spin_within_minutes", "range")),
        ({"volume_ml": Decimal("0")}, ("volume_ml", "range")),
        ({"fasting_hours": 30}, ("fasting_hours", "range")),
        ({"handling": "warm"}, ("handling", "handling")),
        ({"container": "beaker"}, ("container", "container")),
    ],
)
def test_a_test_is_refused_on_the_field_that_is_wrong(cast, changes, expected):
    lab = f.make_catalog(cast.north).lab
    before = LabTest.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        services.save_test(
            actor=Actor.for_user(cast.dana),
            clinic_id=cast.north.pk,
            fields=fields_for(lab, **changes),
        )
    name, errors = next(iter(excinfo.value.error_dict.items()))
    assert (name, errors[0].code) == expected
    assert LabTest.objects.count() == before


def test_a_test_belongs_to_one_of_the_clinics_labs(cast):
    south_lab = f.make_catalog(cast.south).lab
    with pytest.raises(ValidationError) as excinfo:
        services.save_test(
            actor=Actor.for_user(cast.dana), clinic_id=cast.north.pk, fields=fields_for(south_lab)
        )
    assert "one of this clinic's labs" in str(excinfo.value)


# -- The pages -----------------------------------------------------------------------------------


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_catalog_pages_for_the_manager(cast):
    catalog = f.make_catalog(cast.north)
    dana = client_for(cast.dana)
    html = dana.get(reverse("labs:catalog")).content.decode()
    assert (
        "Riverside Reference Laboratory" in html and "57021-8" in html and "no connection" in html
    )
    assert client_for(cast.alice).get(reverse("labs:catalog")).status_code == 403
    # A new test with a wrong check digit: refused on its field, what was typed kept.
    data = {
        "clinic": "north",
        "lab": str(catalog.lab.public_id),
        "loinc": "2345-8",
        "name": "Glucose",
        "lab_code": "GLU",
        "specimen_type": "SER",
        "container": "gold_sst",
        "volume_ml": "1.0",
        "fasting_hours": "0",
        "handling": "room",
        "spin_within_minutes": "120",
        "active": "on",
        "sort_order": "20",
    }
    bad = dana.post(reverse("labs:test-new"), data)
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "LOINC 2345-8 has a wrong check digit (it would be 2345-7)" in html
    assert 'value="Glucose"' in html
    good = dana.post(reverse("labs:test-new"), {**data, "loinc": "2345-7"})
    assert good.status_code == 302
    test = LabTest.objects.get(lab_code="GLU")
    assert test.loinc == "2345-7" and good["Location"].endswith(f"#test-{test.public_id}")
    page = reverse("labs:test-edit", kwargs={"test_id": test.public_id})
    assert 'value="2345-7"' in dana.get(page).content.decode()
    assert (
        dana.post(page, {**data, "loinc": "2345-7", "name": "Glucose, random"}).status_code == 302
    )
    test.refresh_from_db()
    assert test.name == "Glucose, random"
    # the lab's page
    lab_page = reverse("labs:lab-edit", kwargs={"lab_id": catalog.lab.public_id})
    assert 'value="RRL"' in dana.get(lab_page).content.decode()
    lab_data = {
        "clinic": "north",
        "name": "Riverside Reference Laboratory",
        "clia_number": "14D0000000",
        "application": "RRL-LIS",
        "facility": "RRL",
        "clinic_facility": "NORTH",
        "message_type": "OML^O21",
        "host": "lab.example",
        "port": "",
        "timeout_seconds": "30",
        "enabled": "on",
        "pickup_hours": "4",
        "transit_hours": "24",
    }
    bad = dana.post(lab_page, lab_data)
    assert bad.status_code == 422 and "Give both the host and the port" in bad.content.decode()
    assert dana.post(lab_page, {**lab_data, "port": "2575"}).status_code == 302
    catalog.lab.refresh_from_db()
    assert (catalog.lab.message_type, catalog.lab.port) == ("OML^O21", 2575)
    new = dana.post(
        reverse("labs:lab-new"),
        {**lab_data, "facility": "PPL", "name": "Pathology Partners", "port": "1"},
    )
    assert (
        new.status_code == 302
        and PerformingLab.objects.filter(facility="PPL", clinic=cast.north).exists()
    )
    assert client_for(cast.alice).get(lab_page).status_code == 403
