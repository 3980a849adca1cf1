import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import AuditEvent
from medassist.encounters.models import Encounter
from medassist.encounters.services import StaleVisit
from medassist.history import services as history
from medassist.history.models import Allergy, Condition, Medication, SmokingStatus, SocialHistory
from medassist.patients.tests.factories import make_allergy, record_no_known_allergies
from medassist.rooming import screening, services
from medassist.rooming.models import MedicationReview, RoomingProgress, ScreeningResponse, Step
from medassist.rooming.services import MedicationAnswer, SocialAnswers
from medassist.rooming.tests.factories import (
    HRSN_NONE,
    PHQ2_NEGATIVE,
    PHQ2_POSITIVE,
    make_medication,
    roomed_visit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(cast):
    return roomed_visit(cast)


@pytest.fixture
def alice(cast, actor_of):
    return actor_of(cast.alice)


def steps(visit):  # type: ignore[no-untyped-def]
    return dict(RoomingProgress.objects.filter(encounter=visit).values_list("step", "status"))


# Agenda -----------------------------------------------------------------------------------


def test_recording_the_chief_complaint_writes_the_visit_reason_and_marks_the_step(visit, alice):
    services.record_agenda(
        actor=alice,
        encounter=visit,
        reason="  cough for   two weeks ",
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    assert visit.reason == "cough for two weeks"
    assert visit.version == 2
    assert steps(visit) == {Step.AGENDA: "done"}
    assert AuditEvent.objects.filter(entity_type="Encounter.reason").exists()


def test_a_chief_complaint_on_a_stale_version_is_refused_and_nothing_is_saved(visit, alice):
    with pytest.raises(StaleVisit):
        services.record_agenda(actor=alice, encounter=visit, reason="cough", expected_version=99)
    visit.refresh_from_db()
    assert visit.reason == ""
    assert steps(visit) == {}


def test_an_empty_chief_complaint_is_refused(visit, alice):
    with pytest.raises(ValidationError, match="patient's words"):
        services.record_agenda(actor=alice, encounter=visit, reason="   ", expected_version=1)


@pytest.mark.parametrize("stage", ["arrived", "with_provider", "done", "scheduled"])
def test_the_worklist_is_closed_outside_roomed_and_ready_for_provider(cast, alice, stage):
    visit = roomed_visit(cast, stage=stage)
    with pytest.raises(ValidationError, match="open only while the patient is roomed"):
        services.record_agenda(actor=alice, encounter=visit, reason="cough", expected_version=1)


def test_corrections_are_allowed_while_ready_for_provider(cast, alice):
    visit = roomed_visit(cast, stage="ready_for_provider")
    services.record_agenda(actor=alice, encounter=visit, reason="cough", expected_version=1)
    assert Encounter.objects.get(pk=visit.pk).reason == "cough"


def test_only_rooming_staff_of_the_clinic_may_work_the_worklist(cast, visit, actor_of):
    for user in (cast.carol, cast.gwen):
        with pytest.raises(PermissionDenied):
            services.record_agenda(
                actor=actor_of(user), encounter=visit, reason="x", expected_version=1
            )


# Allergies --------------------------------------------------------------------------------


def test_no_known_allergies_is_an_explicit_answer_that_completes_the_step(visit, alice):
    services.record_no_known_allergies(actor=alice, encounter=visit)
    nka = Allergy.objects.get(patient=visit.patient)
    assert nka.is_no_known_allergy and nka.active and nka.encounter == visit
    assert nka.code == "716186003" and nka.verification == "confirmed"
    assert steps(visit) == {Step.ALLERGIES: "done"}


def test_recording_nka_twice_keeps_one_entry(visit, alice):
    services.record_no_known_allergies(actor=alice, encounter=visit)
    services.record_no_known_allergies(actor=alice, encounter=visit)
    assert Allergy.objects.filter(patient=visit.patient).count() == 1


def test_nka_is_refused_while_active_allergies_exist(visit, alice):
    make_allergy(visit.patient, "Penicillin")
    with pytest.raises(ValidationError, match="Penicillin"):
        services.record_no_known_allergies(actor=alice, encounter=visit)
    assert not Allergy.objects.filter(code="716186003").exists()


def test_nka_is_allowed_once_the_allergies_are_inactivated(visit, alice):
    penicillin = make_allergy(visit.patient, "Penicillin")
    services.inactivate_allergy(actor=alice, encounter=visit, allergy=penicillin)
    assert steps(visit) == {}  # an empty list is "not asked"
    services.record_no_known_allergies(actor=alice, encounter=visit)
    assert steps(visit) == {Step.ALLERGIES: "done"}


def test_adding_a_real_allergy_retires_no_known_allergies(visit, alice):
    nka = record_no_known_allergies(visit.patient)
    added = services.add_allergy(
        actor=alice,
        encounter=visit,
        data=history.AllergyData(
            substance="Peanut", category="food", reaction="hives", severity="severe"
        ),
    )
    nka.refresh_from_db()
    assert not nka.active and nka.encounter == visit
    assert added.severity == "severe" and added.encounter == visit and added.active
    assert steps(visit) == {Step.ALLERGIES: "done"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"substance": " "}, "Name the substance"),
        ({"substance": "NKDA"}, "No known allergies"),
        ({"substance": "Latex", "severity": "deadly"}, "severity"),
        ({"substance": "Latex", "category": "plant"}, "category"),
    ],
)
def test_invalid_allergies_are_refused_with_a_reason(visit, alice, fields, message):
    with pytest.raises(ValidationError, match=message):
        services.add_allergy(actor=alice, encounter=visit, data=history.AllergyData(**fields))
    assert not Allergy.objects.exists()


def test_editing_an_allergy_records_the_visit_it_changed_at(visit, alice):
    allergy = make_allergy(visit.patient, "Sulfa")
    services.update_allergy(
        actor=alice,
        encounter=visit,
        allergy=allergy,
        data=history.AllergyData(
            substance="Sulfonamides", reaction="rash", severity="mild", verification="confirmed"
        ),
    )
    allergy.refresh_from_db()
    assert (allergy.substance, allergy.severity, allergy.verification) == (
        "Sulfonamides",
        "mild",
        "confirmed",
    )
    assert allergy.encounter == visit


def test_confirming_an_empty_allergy_list_is_refused(visit, alice):
    with pytest.raises(ValidationError, match="No known allergies"):
        services.confirm_allergies(actor=alice, encounter=visit)


# Medication reconciliation ---------------------------------------------------------------


def test_reconciliation_needs_an_answer_for_every_medication(visit, alice):
    a = make_medication(visit.patient, "Lisinopril")
    make_medication(visit.patient, "Metformin")
    with pytest.raises(ValidationError, match="Metformin"):
        services.reconcile_medications(
            actor=alice,
            encounter=visit,
            answers=[MedicationAnswer(str(a.public_id), "as_prescribed")],
        )
    assert not MedicationReview.objects.exists()


def test_taking_differently_needs_the_actual_dose_or_frequency(visit, alice):
    a = make_medication(visit.patient)
    with pytest.raises(ValidationError, match="actually takes"):
        services.reconcile_medications(
            actor=alice,
            encounter=visit,
            answers=[MedicationAnswer(str(a.public_id), "differently")],
        )


def test_discrepancies_are_flagged_for_the_provider(visit, alice):
    a = make_medication(visit.patient, "Lisinopril")
    b = make_medication(visit.patient, "Metformin")
    c = make_medication(visit.patient, "Atorvastatin")
    reviews = services.reconcile_medications(
        actor=alice,
        encounter=visit,
        answers=[
            MedicationAnswer(str(a.public_id), "as_prescribed"),
            MedicationAnswer(str(b.public_id), "differently", "500 mg", "once daily"),
            MedicationAnswer(str(c.public_id), "not_taking"),
        ],
    )
    flags = {r.medication.name: r.is_discrepancy for r in reviews}
    assert flags == {"Lisinopril": False, "Metformin": True, "Atorvastatin": True}
    metformin = MedicationReview.objects.get(medication=b)
    assert (metformin.actual_dose, metformin.actual_frequency) == ("500 mg", "once daily")
    assert steps(visit) == {Step.MEDICATIONS: "done"}


def test_answering_again_replaces_the_earlier_answer(visit, alice):
    a = make_medication(visit.patient)
    for answer in ("not_taking", "as_prescribed"):
        services.reconcile_medications(
            actor=alice, encounter=visit, answers=[MedicationAnswer(str(a.public_id), answer)]
        )
    assert list(MedicationReview.objects.values_list("answer", flat=True)) == ["as_prescribed"]


def test_a_new_medication_joins_the_list_and_is_flagged_as_new(visit, alice):
    review = services.report_new_medication(
        actor=alice,
        encounter=visit,
        data=history.MedicationData(
            name="Ibuprofen", dose="400 mg", route="oral", frequency="as needed"
        ),
    )
    med = Medication.objects.get(name="Ibuprofen")
    assert med.patient == visit.patient and med.active and med.encounter == visit
    assert review.answer == "new" and review.is_discrepancy
    # It needs no further answer: reconciling the list keeps it "new".
    services.reconcile_medications(
        actor=alice,
        encounter=visit,
        answers=[MedicationAnswer(str(med.public_id), "as_prescribed")],
    )
    assert MedicationReview.objects.get(medication=med).answer == "new"


def test_a_patient_with_no_medications_can_complete_reconciliation(visit, alice):
    services.reconcile_medications(actor=alice, encounter=visit, answers=[])
    assert steps(visit) == {Step.MEDICATIONS: "done"}


# Histories -------------------------------------------------------------------------------


def test_histories_and_social_history_are_recorded_with_the_visit(visit, alice):
    services.add_history(
        actor=alice, encounter=visit, category="surgical-history", description="Appendectomy"
    )
    services.add_history(
        actor=alice,
        encounter=visit,
        category="family-history",
        description="Type 2 diabetes",
        relative="mother",
    )
    services.record_social_history(
        actor=alice,
        encounter=visit,
        data=SocialAnswers(
            smoking="8517006",
            alcohol="wine on weekends",
            audit_c={"68518-0": "2", "68519-8": "0", "68520-6": "1"},
            substance="none",
        ),
    )
    assert Condition.objects.filter(patient=visit.patient, encounter=visit).count() == 2
    smoking = SmokingStatus.objects.get(patient=visit.patient)
    assert (smoking.code, smoking.display, smoking.loinc) == ("8517006", "Former smoker", "72166-2")
    alcohol = SocialHistory.objects.get(topic="11331-6")
    assert alcohol.score == 3 and alcohol.positive is True  # female: cut-point 3
    assert alcohol.answers["75626-2"] == 3
    assert SocialHistory.objects.get(topic="11343-1").value == "none"
    assert steps(visit) == {Step.HISTORIES: "done"}


def test_family_history_needs_the_relative(visit, alice):
    with pytest.raises(ValidationError, match="relative"):
        services.add_history(
            actor=alice, encounter=visit, category="family-history", description="Asthma"
        )


def test_smoking_status_must_come_from_the_us_core_value_set(visit, alice):
    with pytest.raises(ValidationError, match="smoking status"):
        services.record_social_history(
            actor=alice, encounter=visit, data=SocialAnswers(smoking="12345")
        )
    assert not SmokingStatus.objects.exists()


# Screenings ------------------------------------------------------------------------------


def test_the_screenings_step_is_done_when_every_due_screening_is_answered(visit, alice):
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PHQ2, answers=PHQ2_NEGATIVE
    )
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PAIN, answers={"72514-3": "2"}
    )
    assert Step.SCREENINGS not in steps(visit)
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.AHC_HRSN, answers=HRSN_NONE
    )
    assert steps(visit) == {Step.SCREENINGS: "done"}
    phq2 = ScreeningResponse.objects.get(instrument="55757-9")
    assert (phq2.total_score, phq2.positive, phq2.total_loinc) == (1, False, "55758-7")
    assert phq2.answers == {"44250-9": "0", "44255-8": "1"}
    assert phq2.patient == visit.patient and phq2.by_id == alice.user_id


def test_a_positive_phq2_adds_the_phq9_before_the_step_is_done(visit, alice):
    for code, answers in ((screening.PAIN, {"72514-3": "0"}), (screening.AHC_HRSN, HRSN_NONE)):
        services.record_screening(actor=alice, encounter=visit, instrument=code, answers=answers)
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PHQ2, answers=PHQ2_POSITIVE
    )
    assert Step.SCREENINGS not in steps(visit)
    nine = {item.key: "1" for item in screening.INSTRUMENTS[screening.PHQ9].items}
    nine["44260-8"] = "2"
    phq9 = services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PHQ9, answers=nine
    )
    assert phq9.urgent and phq9.positive and phq9.total_score == 10
    assert steps(visit) == {Step.SCREENINGS: "done"}


def test_correcting_the_phq2_to_negative_drops_the_phq9(visit, alice):
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PHQ2, answers=PHQ2_POSITIVE
    )
    nine = {item.key: "0" for item in screening.INSTRUMENTS[screening.PHQ9].items}
    services.record_screening(actor=alice, encounter=visit, instrument=screening.PHQ9, answers=nine)
    services.record_screening(
        actor=alice, encounter=visit, instrument=screening.PHQ2, answers=PHQ2_NEGATIVE
    )
    assert not ScreeningResponse.objects.filter(instrument=screening.PHQ9).exists()


def test_invalid_screening_answers_are_refused(visit, alice):
    with pytest.raises(ValidationError, match="Answer"):
        services.record_screening(
            actor=alice, encounter=visit, instrument=screening.PHQ2, answers={}
        )
    assert not ScreeningResponse.objects.exists()


# Finishing and resuming ------------------------------------------------------------------


def _do_required(visit, alice):  # type: ignore[no-untyped-def]
    services.record_agenda(
        actor=alice, encounter=visit, reason="cough", expected_version=visit.version
    )
    services.record_no_known_allergies(actor=alice, encounter=visit)
    services.reconcile_medications(actor=alice, encounter=visit, answers=[])
    services.decline_screenings(actor=alice, encounter=visit)


def test_finishing_names_the_missing_steps(visit, alice):
    services.record_no_known_allergies(actor=alice, encounter=visit)
    with pytest.raises(ValidationError) as exc:
        services.finish_rooming(actor=alice, encounter=visit, expected_version=visit.version)
    text = str(exc.value)
    assert "Visit agenda and chief complaint" in text and "Medication reconciliation" in text
    assert "Screenings" in text and "Allergies" not in text
    visit.refresh_from_db()
    assert visit.stage == "roomed"


def test_finishing_moves_the_visit_to_ready_for_provider(visit, alice):
    _do_required(visit, alice)
    visit.refresh_from_db()
    services.finish_rooming(actor=alice, encounter=visit, expected_version=visit.version)
    visit.refresh_from_db()
    assert visit.stage == "ready_for_provider"
    assert visit.changes.last().to_stage == "ready_for_provider"


def test_finishing_on_a_stale_version_is_refused(visit, alice):
    _do_required(visit, alice)
    with pytest.raises(StaleVisit):
        services.finish_rooming(actor=alice, encounter=visit, expected_version=1)


def test_the_worklist_resumes_where_it_stopped(visit, alice):
    from medassist.rooming.selectors import build_worklist

    services.record_agenda(actor=alice, encounter=visit, reason="knee pain", expected_version=1)
    services.record_no_known_allergies(actor=alice, encounter=visit)
    visit.refresh_from_db()
    w = build_worklist(visit)
    assert [s.step for s in w.steps if s.progress] == ["agenda", "allergies"]
    agenda = w.by_step["agenda"].progress
    assert agenda is not None and agenda.by_id == alice.user_id
    assert w.visit.reason == "knee pain" and w.allergy_summary.status == "nka"
    assert w.missing == ["Medication reconciliation", "Screenings"]
    assert not w.may_finish
