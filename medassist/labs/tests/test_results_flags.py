"""The lab's flags and void results (review of issue 6).

- Every HL7 v2.5.1 table 0078 code (OBX-8) is accepted and stored as sent, and the codes v2.7
  added (POS, NEG, IND, ...) too; only L, H, LL, HH, A, AA, < and > make a result abnormal, and
  LL, HH, AA critical. Row by row, from the table as published (not from our own choices).
- A result entered in error (OBX-11 W) or cancelled (X) makes no flag, no alert, no trend
  point and is no one's "previous" value; the report page strikes it through.
- A report's collection time is never a specimen that was not collected.
"""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.labs.intake import NotFiled
from medassist.labs.models import LabResult, ResultAlert, Specimen
from medassist.labs.selectors import results as selectors
from medassist.labs.services import results as services
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

# HL7 v2.5.1 table 0078 (Abnormal flags), every code but "null" (no range: an empty OBX-8):
# (code, abnormal, critical).
TABLE_0078_V251 = [
    ("L", True, False),  # below low normal
    ("H", True, False),  # above high normal
    ("LL", True, True),  # below lower panic limits
    ("HH", True, True),  # above upper panic limits
    ("<", True, False),  # below absolute low-off instrument scale
    (">", True, False),  # above absolute high-off instrument scale
    ("N", False, False),  # normal
    ("A", True, False),  # abnormal
    ("AA", True, True),  # very abnormal
    ("U", False, False),  # significant change up
    ("D", False, False),  # significant change down
    ("B", False, False),  # better
    ("W", False, False),  # worse
    ("S", False, False),  # susceptible
    ("R", False, False),  # resistant
    ("I", False, False),  # intermediate
    ("MS", False, False),  # moderately susceptible
    ("VS", False, False),  # very susceptible
]
# Added to table 0078 in v2.7; labs send them in 2.5.1 messages too.
TABLE_0078_V27 = [
    ("POS", False, False),
    ("NEG", False, False),
    ("IND", False, False),
    ("DET", False, False),
    ("ND", False, False),
    ("AC", False, False),
    ("TOX", False, False),
    ("QCF", False, False),
    ("RR", False, False),
    ("WR", False, False),
    ("NR", False, False),
]


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("code", "abnormal", "critical"), TABLE_0078_V251 + TABLE_0078_V27)
def test_every_table_0078_code_is_stored_and_only_range_flags_count(cast, code, abnormal, critical):
    order = f.make_order(make_patient(cast.north), cast.bob)
    report = f.file(order, f.result("4.2", flag=code))
    assert LabResult.objects.get(report=report).flag == code
    assert (report.abnormal, report.critical) == (abnormal, critical)
    assert ResultAlert.objects.filter(report=report).exists() == critical


@pytest.mark.parametrize("code", ["S", "R", "I", "MS", "VS", "U", "D", "B", "W"])
def test_a_susceptibility_or_delta_flag_on_a_text_result_files(cast, code):
    """The review's reproduction: a culture with susceptibilities was refused whole."""
    order = f.make_order(make_patient(cast.north), cast.bob)
    report = f.file(
        order,
        f.result(None, value_type="ST", text="Ampicillin <=2", flag=code, unit="", reference=""),
    )
    assert report.results.get().flag == code


def test_the_label_of_a_flag_is_the_tables(cast):
    assert services.flag_label("MS") == "Moderately susceptible"
    assert services.flag_label("NEG") == "Negative"
    order = f.make_order(make_patient(cast.north), cast.bob)
    report = f.file(order, f.result("4.2", flag="R"))
    html = (
        client_for(cast.bob)
        .get(reverse("labs:report", kwargs={"report_id": report.public_id}))
        .content.decode()
    )
    assert f"Flag from {report.performer}: Resistant" in html


@pytest.mark.parametrize("code", ["ZZ", "HIGH", "null", "h-"])
def test_a_code_not_in_the_table_is_still_refused_by_its_field(cast, code):
    order = f.make_order(make_patient(cast.north), cast.bob)
    with pytest.raises(NotFiled) as caught:
        f.file(order, f.result(flag=code))
    assert [(p.location, p.code) for p in caught.value.problems] == [("OBX[1]-8", "103")]


def test_a_point_of_care_test_takes_the_new_codes(cast):
    report = services.file_point_of_care(
        actor=Actor.for_user(cast.alice),
        patient=make_patient(cast.north),
        encounter=None,
        loinc=f.RAPID_STREP,
        name="Rapid strep",
        results=[
            f.result(
                None,
                loinc=f.RAPID_STREP,
                name="Strep A",
                value_type="ST",
                text="Positive",
                unit="",
                reference="Negative",
                flag="POS",
            )
        ],
        ordering_provider=cast.bob,
        performed_at=f.T0,
    )
    assert report.results.get().flag == "POS" and not report.abnormal


# -- Results entered in error or cancelled ---------------------------------------------------------
@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_a_void_critical_result_raises_nothing_and_flags_nothing(cast, status):
    order = f.make_order(make_patient(cast.north), cast.bob)
    report = f.file(order, f.result("6.8", flag="HH", status=status), status="corrected")
    assert (report.abnormal, report.critical) == (False, False)
    assert not ResultAlert.objects.filter(report=report).exists()
    box = selectors.inbox(Actor.for_user(cast.bob))
    assert box.critical == 0 and getattr(box.to_review[0], "flagged") == 0  # noqa: B009 (an annotation)


def test_a_void_result_beside_a_real_one_counts_only_the_real_one(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    report = f.file(
        order,
        f.result("6.8", flag="HH", status="entered-in-error"),
        f.result("150", loinc=f.SODIUM, name="Sodium", sequence=2, flag="H", reference="136-145"),
    )
    assert (report.abnormal, report.critical) == (True, False)
    alert_reasons = list(ResultAlert.objects.values_list("reason", flat=True))
    assert alert_reasons == []


def test_a_void_result_is_not_trended_nor_anyones_previous_value(cast):
    patient = make_patient(cast.north)
    june = f.T0.replace(month=6)
    good = f.file(f.make_order(patient, cast.bob), f.result("4.0", observed_at=june))
    wrong = f.file(
        f.make_order(patient, cast.bob),
        f.result("9.9", flag="HH", status="entered-in-error", observed_at=june.replace(month=8)),
        status="corrected",
    )
    latest = f.file(f.make_order(patient, cast.bob), f.result("4.4"))
    bob = Actor.for_user(cast.bob)
    _, trend = selectors.trend(bob, patient.public_id, f.POTASSIUM)
    assert [r.text for r in trend.rows] == ["4 mmol/L", "4.4 mmol/L"]
    view = selectors.report_view(bob, latest)
    assert view.rows[0].previous is not None
    assert view.rows[0].previous.report_id == good.pk  # not the 9.9 entered in error
    results = selectors.patient_results(bob, patient.public_id)
    assert results.trends == [(f.POTASSIUM, "Potassium")]
    assert wrong.pk in [p.report.pk for p in results.reports]


def test_the_report_page_strikes_a_result_entered_in_error_through(cast):
    patient = make_patient(cast.north)
    report = f.file(
        f.make_order(patient, cast.bob),
        f.result("6.8", flag="HH", status="entered-in-error"),
        f.result("140", loinc=f.SODIUM, name="Sodium", sequence=2, reference="136-145"),
        status="corrected",
    )
    html = (
        client_for(cast.bob)
        .get(reverse("labs:report", kwargs={"report_id": report.public_id}))
        .content.decode()
    )
    void = report.results.get(loinc=f.POTASSIUM)
    row = html.split(f'id="result-{void.public_id}"')[1].split("</tr>")[0]
    assert "<del>6.8 mmol/L</del>" in row and "ntered in error by the lab" in row
    assert "Critically high" not in row and "trend" not in row
    other = html.split(f'id="result-{report.results.get(loinc=f.SODIUM).public_id}"')[1]
    assert "<del>" not in other.split("</tr>")[0]
    patient_page = (
        client_for(cast.bob)
        .get(reverse("labs:patient-results", kwargs={"patient_id": patient.public_id}))
        .content.decode()
    )
    assert "<del>6.8 mmol/L</del>" in patient_page


# -- The collection time --------------------------------------------------------------------------
def test_a_specimen_not_collected_is_not_the_reports_collection_time(cast):
    patient = make_patient(cast.north)
    drawn = f.T0 + dt.timedelta(hours=2)
    order = f.make_order(patient, cast.bob, collected_at=drawn)
    # An earlier attempt that was given up (not collected), on the same order.
    failed = Specimen.objects.create(
        clinic=cast.north,
        patient=patient,
        requisition=order.requisition,
        accession="AC-NOTCOLL",
        container=order.test.container,
        specimen_type=order.test.specimen_type,
        status=Specimen.Status.NOT_COLLECTED,
        collected_at=f.T0,
        method=Specimen.Method.VENIPUNCTURE,
    )
    failed.orders.add(order)
    report = f.file(order, collected_at=None)
    assert report.collected_at == drawn
