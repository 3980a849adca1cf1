"""The report page and a patient's results over HTTP: the provider sees values and the lab's
flags (always attributed to the lab); the MA sees only that a result waits for the provider's
review until it is released, then what the provider wrote and the values; review, release
(a message is required), telling the patient, and the outsider's 404."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from medassist.audit.models import AuditEvent
from medassist.labs.models import LabReport
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient
from tests.test_outsiders import db_fingerprint

pytestmark = pytest.mark.django_db

FLAG_WORDS = re.compile(r"\b(flag\w*|high|low|critical\w*|abnormal|normal|HH|LL)\b", re.I)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(name: str, report: LabReport) -> str:
    return reverse(f"labs:{name}", kwargs={"report_id": report.public_id})


def main_of(response) -> str:  # type: ignore[no-untyped-def]
    """The page's own content (the shared header's menus aside)."""
    html = response.content.decode()
    return html.split('<main id="main"', 1)[1]


@pytest.fixture
def critical(cast):  # type: ignore[no-untyped-def]
    patient = make_patient(cast.north)
    earlier = f.make_order(patient, cast.bob)
    f.release(f.file(earlier, f.result("5.0", observed_at=f.T0.replace(month=6))), cast.bob)
    return f.critical_potassium(f.make_order(patient, cast.bob))


def test_the_provider_sees_values_and_the_labs_flag_attributed_to_the_lab(cast, critical):
    response = client_for(cast.bob).get(url("report", critical))
    assert response.status_code == 200
    html = main_of(response)
    assert "6.8 mmol/L" in html
    assert f"Flag from {critical.performer}: Critically high" in html
    assert "3.5-5.1 mmol/L" in html
    assert "5 mmol/L" in html  # the previous potassium, for context
    assert 'name="message"' in html and "Review and release" in html
    assert "Read-back (required)" in html  # the open alert's acknowledge form


def test_the_ma_sees_no_value_and_no_flag_before_release(cast, critical):
    response = client_for(cast.alice).get(url("report", critical))
    assert response.status_code == 200
    html = main_of(response)
    assert "waiting for Robert Okafor's review" in html
    assert "6.8" not in html and "mmol/L" not in html and "3.5-5.1" not in html
    assert not FLAG_WORDS.search(html), FLAG_WORDS.search(html)
    assert 'name="message"' not in html and "Acknowledge" not in html
    # ... and the same on the patient's results list.
    page = client_for(cast.alice).get(
        reverse("labs:patient-results", kwargs={"patient_id": critical.patient.public_id})
    )
    listed = main_of(page).split(f'id="report-{critical.public_id}"')[1].split("</section>")[0]
    assert "waiting for Robert Okafor's review" in listed
    assert "6.8" not in listed and not FLAG_WORDS.search(listed)


def test_after_release_the_ma_reads_what_the_provider_wrote_and_the_labs_values(cast, critical):
    f.release(critical, cast.bob, "Your potassium is high. Dr Okafor will call you today.")
    html = main_of(client_for(cast.alice).get(url("report", critical)))
    assert "What Robert Okafor wrote for the patient" in html
    assert "Your potassium is high. Dr Okafor will call you today." in html
    assert "6.8 mmol/L" in html
    assert f"Flag from {critical.performer}: Critically high" in html
    assert "Record that the patient was told" in html
    assert 'name="message"' not in html  # releasing is the provider's


def test_release_requires_a_message(cast, critical):
    bob = client_for(cast.bob)
    response = bob.post(url("release", critical), {"message": "   ", "version": "1"})
    assert response.status_code == 422
    assert "Write what the patient should be told" in response.content.decode()
    critical.refresh_from_db()
    assert critical.released_at is None and critical.reviewed_at is None
    done = bob.post(url("release", critical), {"message": "Call us.", "version": "1"})
    assert done.status_code == 302
    critical.refresh_from_db()
    assert critical.released_by == cast.bob and critical.reviewed_by == cast.bob
    assert critical.patient_message == "Call us."
    assert AuditEvent.objects.filter(
        entity_type="DiagnosticReport", action="update", entity_id=str(critical.public_id)
    ).exists()


def test_the_ma_cannot_review_or_release(cast, critical):
    alice = client_for(cast.alice)
    alice.post(url("review", critical), {"version": "1"})
    alice.post(url("release", critical), {"message": "Fine.", "version": "1"})
    critical.refresh_from_db()
    assert critical.reviewed_at is None and critical.released_at is None


def test_review_marks_reviewed_without_releasing(cast, critical):
    assert client_for(cast.bob).post(url("review", critical), {"version": "1"}).status_code == 302
    critical.refresh_from_db()
    assert critical.reviewed_by == cast.bob and critical.released_at is None
    html = main_of(client_for(cast.alice).get(url("report", critical)))
    assert "6.8" not in html  # reviewed is not released


def test_a_version_that_changed_meanwhile_is_not_acted_on(cast, critical):
    f.file(critical.order, f.result("6.9", flag="HH", status="corrected"), status="corrected")
    response = client_for(cast.bob).post(
        url("release", critical), {"message": "OK", "version": "1"}
    )
    assert response.status_code == 422
    assert "newer version" in response.content.decode()
    critical.refresh_from_db()
    assert critical.released_at is None


def test_a_corrected_report_says_so_and_shows_the_old_value(cast):
    order = f.make_order(make_patient(cast.north), cast.bob)
    f.file(order, f.result("5.6", flag="H"))
    report = f.file(order, f.result("4.6", status="corrected"), status="corrected")
    html = main_of(client_for(cast.bob).get(url("report", report)))
    assert "corrected" in html and "was 5.6 mmol/L" in html
    assert "Version 1 (final)" in html


def test_the_ma_records_that_the_patient_was_told(cast, critical):
    alice = client_for(cast.alice)
    before = alice.post(url("told", critical), {"how": "phone", "version": "1"})
    assert before.status_code == 422 and "not released" in before.content.decode()
    f.release(critical, cast.bob)
    bad = alice.post(url("told", critical), {"how": "email", "version": "1"})
    assert bad.status_code == 422
    done = alice.post(url("told", critical), {"how": "phone", "version": "1"})
    assert done.status_code == 302
    critical.refresh_from_db()
    assert (critical.told_by, critical.told_how) == (cast.alice, "phone")
    assert critical.told_at is not None
    html = main_of(alice.get(url("report", critical)))
    assert "Told to the patient by phone by Alice Moreno" in html
    assert AuditEvent.objects.filter(
        entity_type="DiagnosticReport", user_id=cast.alice.pk, action="update"
    ).exists()
    again = alice.post(url("told", critical), {"how": "in_person", "version": "1"})
    assert again.status_code == 422


def test_the_report_page_runs_constant_queries(cast, django_assert_max_num_queries):
    def report_with(n: int) -> LabReport:
        patient = make_patient(cast.north)
        earlier = f.make_order(patient, cast.bob)
        values = [f.result(str(4 + i / 10), sequence=i, loinc=f"{1000 + i}-1") for i in range(n)]
        f.file(earlier, *values)
        return f.file(f.make_order(patient, cast.bob), *values)

    bob = client_for(cast.bob)
    small, large = report_with(2), report_with(10)
    bob.get(url("report", small))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        bob.get(url("report", small))
    with CaptureQueriesContext(connection) as ten:
        bob.get(url("report", large))
    assert len(two) == len(ten)


def test_the_patients_results_page_runs_constant_queries(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def patient_with(n: int):  # type: ignore[no-untyped-def]
        patient = make_patient(cast.north)
        for _ in range(n):
            f.release(f.file(f.make_order(patient, cast.bob), f.result("4.4")), cast.bob)
        return reverse("labs:patient-results", kwargs={"patient_id": patient.public_id})

    alice = client_for(cast.alice)
    small, large = patient_with(2), patient_with(10)
    alice.get(small)
    with CaptureQueriesContext(connection) as two:
        response = alice.get(small)
    with CaptureQueriesContext(connection) as ten:
        alice.get(large)
    assert response.status_code == 200 and "4.4 mmol/L" in response.content.decode()
    assert len(two) == len(ten)


@pytest.mark.parametrize("name", ["report", "review", "release", "told"])
def test_an_outsider_gets_404_on_a_report_and_nothing_changes(cast, name):
    report = LabReport.objects.get(public_id=f.north_report(cast))
    f.release(report, cast.bob)  # so that telling would be possible for an insider
    carol = client_for(cast.carol)
    before = db_fingerprint()
    target = url(name, report)
    data = {"message": "x", "how": "phone", "version": "1"}
    got = carol.post(target, data) if name != "report" else carol.get(target)
    assert got.status_code == 404
    assert db_fingerprint() == before
    missing = target.replace(str(report.public_id), "00000000-0000-4000-8000-000000000000")
    again = carol.post(missing, data) if name != "report" else carol.get(missing)
    assert again.status_code == 404


def test_an_outsider_gets_404_on_a_patients_results(cast):
    patient_id = f.north_lab_patient(cast)
    carol, frank = client_for(cast.carol), client_for(cast.frank)
    before = db_fingerprint()
    target = reverse("labs:patient-results", kwargs={"patient_id": patient_id})
    assert carol.get(target).status_code == 404
    assert frank.get(target).status_code == 404
    assert db_fingerprint() == before
