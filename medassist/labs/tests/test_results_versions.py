"""Versions of a report (review of issue 6): an older report never overwrites a newer one (a
final or preliminary after the correction, a report issued before the version we hold, the
error queue's Retry of a message the lab has corrected since); an identical resend under a new
MSH-10 changes nothing (no new version; review, release and what the patient was told kept),
is linked to the report and audited as a repeat."""

import datetime as dt
from decimal import Decimal

import pytest

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.labs.intake import NotFiled
from medassist.labs.models import InboundMessage, LabReport, LabResult, ResultAlert
from medassist.labs.services import results as services
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def problems_of(exc: NotFiled) -> list[tuple[str, str]]:
    return [(p.location, p.code) for p in exc.problems]


@pytest.fixture
def order(cast):  # type: ignore[no-untyped-def]
    return f.make_order(make_patient(cast.north), cast.bob)


# -- An older report is refused --------------------------------------------------------------------
def test_a_final_after_the_corrected_one_is_refused_and_the_correction_kept(order):
    f.file(order, f.result("6.8", flag="HH"))
    f.file(order, f.result("4.1", status="corrected"), status="corrected")
    with pytest.raises(NotFiled) as caught:
        f.file(order, f.result("6.8", flag="HH"))  # the stale final arrives late
    assert problems_of(caught.value) == [("OBR[1]-25", "207")]
    assert "send a corrected report" in caught.value.problems[0].text
    report = LabReport.objects.get(order=order)
    assert (report.status, report.version) == ("corrected", 2)
    assert LabResult.objects.get(report=report).value_number == Decimal("4.1")


def test_a_preliminary_after_the_corrected_one_is_refused(order):
    f.file(order, f.result("4.4"))
    f.file(order, f.result("4.1", status="corrected"), status="corrected")
    with pytest.raises(NotFiled) as caught:
        f.file(order, f.result("3.0", status="preliminary"), status="preliminary")
    assert problems_of(caught.value) == [("OBR[1]-25", "207")]
    assert "after its corrected one" in caught.value.problems[0].text
    assert LabResult.objects.get().value_number == Decimal("4.1")


@pytest.mark.parametrize(
    ("first", "then", "minutes", "filed"),
    [
        ("final", "corrected", -30, False),  # a correction issued before the final we hold
        ("corrected", "corrected", -1, False),  # an earlier correction arriving after a later one
        ("final", "final", -5, False),
        ("final", "cancelled", -5, False),
        ("final", "corrected", 0, True),  # the same issue time: not older
        ("final", "corrected", 30, True),
        ("corrected", "corrected", 1, True),
    ],
)
def test_a_report_issued_before_the_version_held_is_refused(order, first, then, minutes, filed):
    issued = f.T0 + dt.timedelta(hours=2)
    f.file(order, f.result("4.4", status=first), status=first, issued_at=issued)
    later = issued + dt.timedelta(minutes=minutes)
    if filed:
        report = f.file(order, f.result("4.9", status=then), status=then, issued_at=later)
        assert (report.version, report.issued_at) == (2, later)
        return
    with pytest.raises(NotFiled) as caught:
        f.file(order, f.result("4.9", status=then), status=then, issued_at=later)
    assert problems_of(caught.value) == [("OBR[1]-22", "207")]
    text = caught.value.problems[0].text
    assert "before the version we hold" in text and "send a corrected report" in text
    report = LabReport.objects.get(order=order)
    assert (report.version, report.status, report.issued_at) == (1, first, issued)
    assert report.results.get().value_number == Decimal("4.4")


def test_a_report_without_an_issue_time_is_not_judged_by_one(order):
    f.file(order, f.result("4.4"), issued_at=f.T0 + dt.timedelta(days=1))
    report = f.file(order, f.result("4.9", status="corrected"), status="corrected")
    assert report.version == 2


# -- The error queue's Retry, through the HL7 adapter's refiler ------------------------------------
@pytest.fixture
def frozen(monkeypatch):  # type: ignore[no-untyped-def]
    now = {"at": f.T0 + dt.timedelta(hours=3)}
    monkeypatch.setattr(clock, "now", lambda: now["at"])
    return now


def test_retry_of_a_queued_old_final_after_the_correction_is_refused(cast, order, frozen):
    assert services.refiler() is not None  # the HL7 adapter's, registered in its ready()
    lab = order.requisition.lab
    # The lab's final (16:00) waited in the queue; meanwhile the lab corrected it (16:45).
    queued = f.queued_message(
        cast.north, lab, raw=f.oru(order, control_id="OLD1", issued="20261120160000")
    )
    f.file(
        order,
        f.result("4.1", status="corrected"),
        status="corrected",
        issued_at=f.T0 + dt.timedelta(hours=1, minutes=45),
    )
    with pytest.raises(NotFiled) as caught:
        services.retry_inbound(actor=Actor.for_user(cast.dana), message=queued)
    assert problems_of(caught.value) == [("OBR[1]-25", "207")]
    queued.refresh_from_db()
    assert queued.status == InboundMessage.Status.ERROR
    assert queued.errors[0]["location"] == "OBR[1]-25"
    report = LabReport.objects.get(order=order)
    assert (report.status, report.version) == ("corrected", 1)
    assert report.results.get().value_number == Decimal("4.1")
    assert not ResultAlert.objects.exists()  # the old 6.8 HH raised nothing


def test_retry_of_a_queued_report_issued_before_the_one_filed_is_refused(cast, order, frozen):
    lab = order.requisition.lab
    queued = f.queued_message(
        cast.north, lab, raw=f.oru(order, control_id="OLD2", status="C", issued="20261120160000")
    )
    # A later correction (issued an hour after the queued one) is already filed.
    issued = clock.localtime(f.T0).replace(hour=17, minute=0)
    f.file(order, f.result("4.1", status="corrected"), status="corrected", issued_at=issued)
    with pytest.raises(NotFiled) as caught:
        services.retry_inbound(actor=Actor.for_user(cast.dana), message=queued)
    assert problems_of(caught.value) == [("OBR[1]-22", "207")]
    assert LabResult.objects.get().value_number == Decimal("4.1")


# -- An identical resend changes nothing -----------------------------------------------------------
def test_an_identical_resend_keeps_the_version_the_review_the_release_and_the_telling(cast, order):
    report = f.file(order, f.result("4.2"))
    f.release(report, cast.bob)
    services.record_patient_told(actor=Actor.for_user(cast.alice), report=report, how="phone")
    report.refresh_from_db()
    before = (report.version, report.reviewed_at, report.released_at, report.told_at)
    result_id = report.results.get().public_id
    inbound = InboundMessage.objects.create(raw="x", status=InboundMessage.Status.FILED)
    again = services.file_results(
        lab=order.requisition.lab,
        message=f.message_for(order.patient, f.report_for(order, f.result("4.2"))),
        inbound=inbound,
    )[0]
    again.refresh_from_db()
    assert again.pk == report.pk
    assert (again.version, again.reviewed_at, again.released_at, again.told_at) == before
    assert again.history == [] and again.patient_message == report.patient_message
    assert again.results.get().public_id == result_id
    assert list(inbound.reports.all()) == [again]  # the new message is linked to it
    audit = AuditEvent.objects.filter(
        entity_type="DiagnosticReport",
        entity_id=str(report.public_id),
        action="update",
        description__contains="a repeat",
    ).get()
    assert "nothing changed" in audit.description and audit.username == services.SYSTEM_USERNAME


def test_an_identical_critical_resend_raises_no_new_alert_and_keeps_the_acknowledgment(cast, order):
    f.critical_potassium(order)
    alert = ResultAlert.objects.get()
    services.acknowledge_result_alert(actor=Actor.for_user(cast.bob), alert=alert, note="K 6.8")
    f.critical_potassium(order)
    alert.refresh_from_db()
    assert ResultAlert.objects.count() == 1 and alert.status == ResultAlert.Status.COMPLETED


@pytest.mark.parametrize(
    "changed",
    [
        {"value": "4.3"},
        {"flag": "H"},
        {"reference": "3.4-5.0"},
        {"unit": "mEq/L"},
        {"status": "corrected"},  # the observation's status (OBX-11)
        {"observed_at": f.T0 + dt.timedelta(minutes=5)},
    ],
)
def test_a_resend_that_changes_anything_is_a_new_version(cast, order, changed):
    report = f.file(order, f.result("4.2"))
    f.release(report, cast.bob)
    values = {"value": "4.2", **changed}
    value = values.pop("value")
    again = f.file(order, f.result(value, **values))
    assert again.version == 2 and again.released_at is None


def test_the_same_values_under_another_report_status_are_a_new_version(cast, order):
    f.file(order, f.result("4.2", status="preliminary"), status="preliminary")
    final = f.file(order, f.result("4.2", status="preliminary"))
    assert (final.status, final.version) == ("final", 2)


def test_a_second_observation_makes_it_another_report(cast, order):
    f.file(order, f.result("4.2"))
    again = f.file(order, f.result("4.2"), f.result("140", loinc=f.SODIUM, sequence=2))
    assert again.version == 2 and again.results.count() == 2


def test_an_identical_cancellation_is_a_repeat(cast, order):
    f.file(order, status="cancelled", note="Specimen hemolyzed")
    again = f.file(order, status="cancelled", note="Specimen hemolyzed")
    assert again.version == 1
