"""Filing what a lab sent (file_results) and what a point-of-care test found
(file_point_of_care): matching order and patient, all or nothing, preliminary then final,
corrected, cancelled, reference ranges, the lab's flags, the critical-result alert, the
specimen's receipt and the order's stage."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.labs.intake import NotFiled
from medassist.labs.models import (
    CustodyEvent,
    InboundMessage,
    LabOrder,
    LabReport,
    LabResult,
    ResultAlert,
    Specimen,
)
from medassist.labs.services import results as services
from medassist.labs.services.results import parse_reference_range
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db


def problems_of(exc: NotFiled) -> list[tuple[str, str]]:
    return [(p.location, p.code) for p in exc.problems]


def nothing_stored() -> bool:
    return not LabReport.objects.exists() and not LabResult.objects.exists()


# -- Reference ranges, row by row (HL7 v2.5.1 OBX-7) ----------------------------------------------
@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("3.5-5.1", "3.5", "5.1"),
        ("3.5 - 5.1", "3.5", "5.1"),
        ("0.5–1.2", "0.5", "1.2"),  # en dash
        ("70 to 99", "70", "99"),
        ("-2-3", "-2", "3"),  # base excess: a negative lower limit
        ("-5--1", "-5", "-1"),
        ("(3.5-5.1)", "3.5", "5.1"),
        ("<200", None, "200"),
        ("<=200", None, "200"),
        ("< 5", None, "5"),
        (">=40", "40", None),
        (">40", "40", None),
        ("≥ 60", "60", None),
        ("Negative", None, None),
        ("Not detected", None, None),
        ("", None, None),
        ("5.1-3.5", None, None),  # reversed: never guessed
        ("3.5-", None, None),
        ("1e400-2", None, None),
        ("99999999999-1", None, None),  # beyond the column's 10 integer digits
    ],
)
def test_reference_ranges_are_read_as_the_lab_wrote_them(text, low, high):
    rng = parse_reference_range(text)
    assert rng.low == (Decimal(low) if low else None)
    assert rng.high == (Decimal(high) if high else None)
    assert rng.text == " ".join(text.split())


# -- Matching -------------------------------------------------------------------------------------
def test_a_final_result_is_filed_against_its_order_and_routed_to_the_ordering_provider(cast):
    patient = make_patient(cast.north)
    visit = make_encounter(patient, cast.bob)
    order = f.make_order(patient, cast.bob, encounter=visit)
    report = f.file(order, f.result("4.2"), received_at=f.T0 + dt.timedelta(hours=3))

    assert (report.order, report.patient, report.clinic) == (order, patient, cast.north)
    assert report.encounter == visit
    assert report.ordering_provider == cast.bob
    assert report.status == "final" and report.version == 1
    assert report.performer == order.requisition.lab.name
    assert report.reviewed_at is None and report.released_at is None
    assert (report.abnormal, report.critical) == (False, False)
    value = report.results.get()
    assert (value.loinc, value.value_number, value.unit) == (f.POTASSIUM, Decimal("4.2"), "mmol/L")
    assert (value.reference_low, value.reference_high) == (Decimal("3.5"), Decimal("5.1"))
    assert value.observed_at == f.T0  # the collection time when OBX-14 is empty
    order.refresh_from_db()
    assert (order.stage, order.status) == (LabOrder.Stage.RESULTED, LabOrder.Status.COMPLETED)
    assert order.filler_number == f"F-{order.placer_number}"
    assert not ResultAlert.objects.exists()
    audit = AuditEvent.objects.filter(entity_type="DiagnosticReport").get()
    assert audit.username == services.SYSTEM_USERNAME and audit.channel == "hl7"
    assert audit.patient_id == patient.pk and audit.action == "create"


def test_the_specimen_is_recorded_as_received_by_the_lab(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    received = f.T0 + dt.timedelta(hours=5)
    f.file(order, received_at=received)
    specimen = order.specimens.get()
    assert specimen.status == Specimen.Status.RECEIVED
    event = specimen.custody.get(step=CustodyEvent.Step.RECEIVED_BY_LAB)
    assert event.at == received and event.by_name == order.requisition.lab.name
    # A final after a preliminary does not record the receipt twice.
    f.file(order, status="final")
    assert specimen.custody.filter(step=CustodyEvent.Step.RECEIVED_BY_LAB).count() == 1


def test_a_rejected_specimen_is_not_marked_received(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    order.specimens.update(status=Specimen.Status.REJECTED)
    f.file(order)
    assert order.specimens.get().status == Specimen.Status.REJECTED
    assert not CustodyEvent.objects.filter(step=CustodyEvent.Step.RECEIVED_BY_LAB).exists()


def test_an_unknown_placer_number_files_nothing(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    message = f.message_for(patient, f.report_for(order, placer="PL-NOPE"))
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=order.requisition.lab, message=message)
    assert problems_of(caught.value) == [("OBR[1]-2", "204")]
    assert "PL-NOPE" in caught.value.problems[0].text
    assert nothing_stored()


def test_another_labs_or_clinics_order_is_unknown_in_the_same_words(cast):
    north_patient = make_patient(cast.north)
    order = f.make_order(north_patient, cast.bob)
    other_lab = f.make_lab(cast.north, name="Other Lab")
    message = f.message_for(north_patient, f.report_for(order))
    with pytest.raises(NotFiled) as wrong_lab:
        services.file_results(lab=other_lab, message=message)
    assert problems_of(wrong_lab.value) == [("OBR[1]-2", "204")]
    south_lab = f.make_lab(cast.south)
    with pytest.raises(NotFiled) as wrong_clinic:
        services.file_results(lab=south_lab, message=message)
    assert problems_of(wrong_clinic.value) == [("OBR[1]-2", "204")]
    assert nothing_stored()


def test_the_wrong_patient_identifier_files_nothing(cast):
    patient = make_patient(cast.north)
    other = make_patient(cast.north, family="Other")
    order = f.make_order(patient, cast.bob)
    message = f.message_for(patient, f.report_for(order), mrn=other.mrn)
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=order.requisition.lab, message=message)
    assert problems_of(caught.value) == [("PID-3", "204")]
    assert patient.mrn not in str(caught.value)  # the lab is not told whose order it was
    assert nothing_stored()


def test_a_family_name_that_does_not_match_files_nothing(cast):
    patient = make_patient(cast.north, family="Rivera")
    order = f.make_order(patient, cast.bob)
    message = f.message_for(patient, f.report_for(order), family="Riviera")
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=order.requisition.lab, message=message)
    assert problems_of(caught.value) == [("PID-5", "207")]
    assert nothing_stored()


def test_case_accents_and_punctuation_of_the_name_do_not_matter(cast):
    patient = make_patient(cast.north, family="O'Núñez-Smith")
    order = f.make_order(patient, cast.bob)
    message = f.message_for(patient, f.report_for(order), family="ONUNEZ SMITH")
    assert services.file_results(lab=order.requisition.lab, message=message)


@pytest.mark.parametrize("birth_date", [dt.date(1980, 3, 5), None])
def test_a_wrong_or_missing_birth_date_files_nothing(cast, birth_date):
    patient = make_patient(cast.north, birth_date=dt.date(1980, 3, 4))
    order = f.make_order(patient, cast.bob)
    message = f.message_for(patient, f.report_for(order), birth_date=birth_date)
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=order.requisition.lab, message=message)
    assert problems_of(caught.value) == [("PID-7", "207")]
    assert nothing_stored()


def test_one_unmatched_report_stops_the_whole_message(cast):
    patient = make_patient(cast.north)
    lab = f.make_lab(cast.north)
    good = f.make_order(patient, cast.bob, lab=lab)
    second = f.make_order(patient, cast.bob, lab=lab)
    message = f.message_for(
        patient,
        f.report_for(good, index=1),
        f.report_for(second, placer="PL-NOPE", index=2),
        f.report_for(second, index=3, status="bogus"),
    )
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=lab, message=message)
    assert problems_of(caught.value) == [("OBR[2]-2", "204"), ("OBR[3]-25", "103")]
    assert nothing_stored()
    good.refresh_from_db()
    assert good.stage == LabOrder.Stage.IN_TRANSIT
    assert good.specimens.get().status == Specimen.Status.IN_TRANSIT


def test_an_order_twice_in_one_message_and_an_empty_message_are_refused(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    lab = order.requisition.lab
    twice = f.message_for(patient, f.report_for(order, index=1), f.report_for(order, index=2))
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=lab, message=twice)
    assert problems_of(caught.value) == [("OBR[2]-2", "205")]
    with pytest.raises(NotFiled):
        services.file_results(lab=lab, message=f.message_for(patient))
    assert nothing_stored()


def test_an_unknown_flag_or_value_type_is_named_by_its_field(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    message = f.message_for(
        patient,
        f.report_for(order, f.result(flag="ZZ"), f.result(sequence=2, value_type="XX")),
    )
    with pytest.raises(NotFiled) as caught:
        services.file_results(lab=order.requisition.lab, message=message)
    assert problems_of(caught.value) == [("OBX[1]-8", "103"), ("OBX[2]-2", "103")]


def test_filing_inside_the_callers_transaction_rolls_back_alone(cast):
    from django.db import transaction

    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    with transaction.atomic():
        InboundMessage.objects.create(raw="x", status=InboundMessage.Status.ERROR)
        with pytest.raises(NotFiled):
            services.file_results(
                lab=order.requisition.lab,
                message=f.message_for(patient, f.report_for(order, placer="nope")),
            )
        report = f.file(order)
    assert InboundMessage.objects.count() == 1
    assert LabReport.objects.get() == report


def test_the_inbound_message_is_linked_to_the_reports_it_filed(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    inbound = InboundMessage.objects.create(raw="x", status=InboundMessage.Status.FILED)
    reports = services.file_results(
        lab=order.requisition.lab,
        message=f.message_for(patient, f.report_for(order)),
        inbound=inbound,
    )
    assert list(inbound.reports.all()) == reports


# -- Preliminary, final, corrected, cancelled -----------------------------------------------------
def test_preliminary_then_final_updates_the_report_and_moves_the_stage(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    prelim = f.file(order, f.result("3.9", status="preliminary"), status="preliminary")
    order.refresh_from_db()
    assert order.stage == LabOrder.Stage.PARTIAL and order.status == LabOrder.Status.ACTIVE
    services.review_report(actor=Actor.for_user(cast.bob), report=prelim)

    final = f.file(order, f.result("4.1"))
    assert final.pk == prelim.pk
    assert (final.status, final.version) == ("final", 2)
    assert final.reviewed_at is None  # back in the provider's inbox
    assert final.results.get().value_number == Decimal("4.1")
    assert final.history[0]["status"] == "preliminary"
    assert final.history[0]["results"][0]["value"] == "3.9 mmol/L"
    order.refresh_from_db()
    assert order.stage == LabOrder.Stage.RESULTED


def test_a_preliminary_after_the_final_is_not_filed_over_it(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    f.file(order, f.result("4.1"))
    with pytest.raises(NotFiled) as caught:
        f.file(order, f.result("9.9"), status="preliminary")
    assert problems_of(caught.value) == [("OBR[1]-25", "207")]
    assert LabResult.objects.get().value_number == Decimal("4.1")


def test_a_corrected_result_replaces_the_value_keeps_the_old_and_goes_back_to_the_provider(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    report = f.file(order, f.result("5.6", flag="H"))
    first_id = report.results.get().public_id
    f.release(report, cast.bob, "Slightly high; we will repeat it.")

    corrected = f.file(order, f.result("4.6", status="corrected"), status="corrected")
    assert (corrected.status, corrected.version) == ("corrected", 2)
    value = corrected.results.get()
    assert value.public_id == first_id  # the same Observation, corrected
    assert (value.value_number, value.flag, value.status) == (Decimal("4.6"), "", "corrected")
    assert corrected.abnormal is False
    assert corrected.reviewed_at is None and corrected.released_at is None
    before = corrected.history[-1]
    assert before["results"][0]["value"] == "5.6 mmol/L" and before["results"][0]["flag"] == "H"
    assert before["patient_message"] == "Slightly high; we will repeat it."
    assert before["released_at"] is not None


def test_a_cancelled_report_marks_the_order_cancelled_by_the_lab(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    report = f.file(order, status="cancelled", note="Specimen hemolyzed")
    assert report.status == LabReport.Status.CANCELLED
    assert not report.results.exists()
    assert report.reviewed_at is None  # the provider must see it (and may re-order)
    order.refresh_from_db()
    assert (order.stage, order.status) == (LabOrder.Stage.CANCELLED, LabOrder.Status.REVOKED)
    assert order.cancelled_reason == f"Cancelled by {report.performer}: Specimen hemolyzed"


def test_cancelling_a_filed_report_keeps_its_results_and_bumps_the_version(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    f.file(order, f.result("4.4"))
    report = f.file(order, status="cancelled")
    assert (report.status, report.version) == ("cancelled", 2)
    assert report.results.get().value_number == Decimal("4.4")


# -- Flags and alerts -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "abnormal", "critical"),
    [
        ((), False, False),
        (("N",), False, False),
        (("N", "H"), True, False),
        (("L",), True, False),
        (("A",), True, False),
        (("<",), True, False),
        ((">",), True, False),
        (("HH",), True, True),
        (("N", "LL"), True, True),
        (("AA",), True, True),
    ],
)
def test_the_labs_flags_make_the_report_abnormal_or_critical(cast, flags, abnormal, critical):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    values = [f.result(flag=flag, sequence=i) for i, flag in enumerate(flags, 1)] or [f.result()]
    report = f.file(order, *values)
    assert (report.abnormal, report.critical) == (abnormal, critical)
    assert ResultAlert.objects.exists() == critical


def test_a_critical_result_raises_one_alert_owned_by_the_ordering_provider(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    report = f.file(order, f.result("6.8", flag="HH", status="preliminary"), status="preliminary")
    alert = ResultAlert.objects.get()
    assert (alert.owner, alert.report, alert.patient) == (cast.bob, report, patient)
    assert alert.status == ResultAlert.Status.REQUESTED
    assert "6.8 mmol/L" in alert.reason
    assert f"flag from {report.performer}: Critically high" in alert.reason
    # The final with the same critical value raises nothing new.
    f.file(order, f.result("6.8", flag="HH"))
    assert ResultAlert.objects.count() == 1
    audit = AuditEvent.objects.filter(entity_type="Task").get()
    assert audit.username == services.SYSTEM_USERNAME


def test_a_new_critical_value_after_acknowledgment_raises_a_new_alert(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    f.file(order, f.result("6.8", flag="HH"))
    services.acknowledge_result_alert(
        actor=Actor.for_user(cast.bob), alert=ResultAlert.objects.get(), note="K 6.8, calling"
    )
    f.file(order, f.result("7.2", flag="HH", status="corrected"), status="corrected")
    assert ResultAlert.objects.count() == 2
    assert ResultAlert.objects.filter(status="requested").get().reason.startswith("Potassium 7.2")


def test_a_new_critical_value_before_acknowledgment_updates_the_open_alert(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    f.file(order, f.result("6.8", flag="HH"))
    f.file(order, f.result("7.2", flag="HH", status="corrected"), status="corrected")
    alert = ResultAlert.objects.get()
    assert alert.reason.startswith("Potassium 7.2") and alert.status == "requested"


# -- Point of care --------------------------------------------------------------------------------
def poc(cast, patient, **kw):  # type: ignore[no-untyped-def]
    values = {
        "actor": Actor.for_user(cast.alice),
        "patient": patient,
        "encounter": None,
        "loinc": f.POC_GLUCOSE,
        "name": "Glucose (meter)",
        "results": [
            f.result(
                "42",
                loinc=f.POC_GLUCOSE,
                name="Glucose",
                unit="mg/dL",
                reference="70-99",
                flag="LL",
            )
        ],
        "ordering_provider": cast.bob,
        "performed_at": f.T0,
    }
    values.update(kw)
    return services.file_point_of_care(**values)


def test_a_point_of_care_result_is_routed_like_a_labs(cast):
    patient = make_patient(cast.north)
    visit = make_encounter(patient, cast.bob)
    report = poc(cast, patient, encounter=visit)
    assert report.source == LabReport.Source.POCT
    assert report.performer == cast.north.name and report.status == "final"
    assert report.order is None and report.encounter == visit
    assert report.ordering_provider == cast.bob and report.reviewed_at is None
    assert (report.abnormal, report.critical) == (True, True)
    value = report.results.get()
    assert value.observed_at == f.T0 and value.reference_low == Decimal("70")
    alert = ResultAlert.objects.get()
    assert alert.owner == cast.bob and f"flag from {cast.north.name}" in alert.reason
    audit = AuditEvent.objects.filter(entity_type="DiagnosticReport").get()
    assert audit.username == "alice"


def test_point_of_care_refusals_name_the_field(cast):
    patient = make_patient(cast.north)
    with pytest.raises(PermissionDenied):
        poc(cast, patient, actor=Actor.for_user(cast.carol))
    with pytest.raises(PermissionDenied):
        poc(cast, patient, actor=Actor.for_user(cast.gwen))
    for kw, name in (
        ({"ordering_provider": None}, "ordering_provider"),
        ({"ordering_provider": cast.alice}, "ordering_provider"),  # an MA does not review
        ({"ordering_provider": cast.frank}, "ordering_provider"),  # South's provider
        ({"results": []}, "results"),
        ({"loinc": " "}, "loinc"),
        ({"performed_at": f.T0 + dt.timedelta(days=3650)}, "performed_at"),
        ({"encounter": make_encounter(make_patient(cast.north), cast.bob)}, "encounter"),
        ({"results": [f.result(flag="Q")]}, "results"),
    ):
        with pytest.raises(ValidationError) as caught:
            poc(cast, patient, **kw)
        assert name in caught.value.message_dict, kw
    assert nothing_stored()


def test_a_result_without_any_time_takes_the_reports_issue_time(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob, specimen=False)
    report = f.file(order, collected_at=None)
    assert report.collected_at is None
    assert report.results.get().observed_at == report.issued_at
