"""The rooming worklist's writes. Each step is saved as it is done and marked in
RoomingProgress, so the MA can leave the room and pick up where she stopped; finishing hands
the visit to the provider (roomed -> ready for provider)."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.services import move_visit, update_visit
from medassist.history import services as history
from medassist.history.models import Medication, SocialHistory
from medassist.rooming import screening
from medassist.rooming.models import MedicationReview, RoomingProgress, ScreeningResponse, Step
from medassist.vitals import services as vitals

# The stages in which the worklist can be worked: roomed, and ready for provider for a
# correction made before the provider comes in.
OPEN_STAGES = frozenset({Encounter.Stage.ROOMED, Encounter.Stage.READY_FOR_PROVIDER})
# Histories are asked when there is time; vitals may be skipped (with a reason on the
# summary) when the visit has none to take. The rest must be
# done (or, for screenings, declined) before the provider sees the patient.
REQUIRED_STEPS = (Step.AGENDA, Step.ALLERGIES, Step.MEDICATIONS, Step.SCREENINGS)


def closed_reason(encounter: Encounter) -> str:
    """Why the worklist cannot be worked on this visit ("" when it can)."""
    if encounter.stage in OPEN_STAGES:
        return ""
    return (
        f"This visit is {encounter.get_stage_display().lower()}: the rooming worklist is open "
        "only while the patient is roomed (or ready for the provider, for corrections)."
    )


def check_open(actor: Actor, encounter: Encounter) -> None:
    if not can(actor, Permission.ROOM_PATIENT, encounter):
        raise PermissionDenied("Your role may not room patients at this clinic.")
    if problem := closed_reason(encounter):
        raise ValidationError(problem)


def _mark(
    actor: Actor, encounter: Encounter, step: str, status: str = RoomingProgress.Status.DONE
) -> None:
    RoomingProgress.objects.update_or_create(
        encounter=encounter,
        step=step,
        defaults={"status": status, "by_id": actor.signed_in_user_id, "at": clock.now()},
    )


def _audit(
    actor: Actor, encounter: Encounter, entity: str, text: str, action: str = Action.UPDATE
) -> None:
    record(
        actor,
        action,
        entity,
        patient=encounter.patient,
        clinic_id=encounter.clinic_id,
        entity_id=str(encounter.public_id),
        description=text[:300],
    )


# 1. Agenda and chief complaint ------------------------------------------------------------


def record_agenda(
    *, actor: Actor, encounter: Encounter, reason: str, expected_version: int
) -> Encounter:
    """The chief complaint in the patient's words (Encounter.reason). Raises StaleVisit if the
    visit changed since the form was loaded."""
    check_open(actor, encounter)
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Write why the patient came, in the patient's words."})
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the chief complaint under 300 characters."})
    with transaction.atomic():
        update_visit(
            actor=actor, encounter=encounter, expected_version=expected_version, reason=reason
        )
        _mark(actor, encounter, Step.AGENDA)
        _audit(actor, encounter, "Encounter.reason", reason)
    return encounter


# 2. Allergies ------------------------------------------------------------------------------


def confirm_allergies(*, actor: Actor, encounter: Encounter) -> None:
    """The allergy list was reviewed with the patient. There must be an answer: an allergy or
    an explicit "no known allergies"; an empty list means nobody asked."""
    check_open(actor, encounter)
    if not encounter.patient.allergies.filter(active=True).exists():
        raise ValidationError(
            "Record the patient's allergies, or \u201cNo known allergies\u201d, before marking "
            "this step done."
        )
    with transaction.atomic():
        _mark(actor, encounter, Step.ALLERGIES)
        _audit(actor, encounter, "AllergyIntolerance", "allergy list reviewed")


def record_no_known_allergies(*, actor: Actor, encounter: Encounter) -> None:
    check_open(actor, encounter)
    with transaction.atomic():
        history.record_no_known_allergies(actor=actor, encounter=encounter)
        _mark(actor, encounter, Step.ALLERGIES)


# 3. Medication reconciliation --------------------------------------------------------------


@dataclass(frozen=True)
class MedicationAnswer:
    medication_id: str  # public id
    answer: str
    actual_dose: str = ""
    actual_frequency: str = ""


def reconcile_medications(
    *, actor: Actor, encounter: Encounter, answers: list[MedicationAnswer]
) -> list[MedicationReview]:
    """One answer for every active medication on the list. "Taking differently" needs the dose
    or frequency the patient actually takes."""
    check_open(actor, encounter)
    with transaction.atomic():
        meds = {
            str(m.public_id): m
            for m in Medication.objects.select_for_update().filter(
                patient=encounter.patient, active=True
            )
        }
        by_med = {a.medication_id: a for a in answers}
        errors: dict[str, str] = {}
        for key, med in meds.items():
            got = by_med.get(key)
            if (
                got is None
                or got.answer not in MedicationReview.Answer.values
                or got.answer == MedicationReview.Answer.NEW
            ):
                errors[key] = (
                    f"Answer for {med.name}: taking as prescribed, differently or not taking."
                )
            elif got.answer == MedicationReview.Answer.DIFFERENTLY and not (
                got.actual_dose.strip() or got.actual_frequency.strip()
            ):
                errors[key] = (
                    f"{med.name}: write the dose or how often the patient actually takes it."
                )
        if set(by_med) - set(meds):
            errors["__all__"] = (
                "Some answers are for medications no longer on the list; reload the page."
            )
        if errors:
            raise ValidationError(errors)
        reviews = []
        for key, med in meds.items():
            got = by_med[key]
            existing = MedicationReview.objects.filter(encounter=encounter, medication=med).first()
            if existing is not None and existing.answer == MedicationReview.Answer.NEW:
                reviews.append(existing)  # reported today: its answer stays "new"
                continue
            differently = got.answer == MedicationReview.Answer.DIFFERENTLY
            review, _ = MedicationReview.objects.update_or_create(
                encounter=encounter,
                medication=med,
                defaults={
                    "patient": encounter.patient,
                    "answer": got.answer,
                    "actual_dose": got.actual_dose.strip()[:60] if differently else "",
                    "actual_frequency": got.actual_frequency.strip()[:60] if differently else "",
                    "by_id": actor.signed_in_user_id,
                    "at": clock.now(),
                },
            )
            reviews.append(review)
        _mark(actor, encounter, Step.MEDICATIONS)
        flagged = sum(r.is_discrepancy for r in reviews)
        _audit(
            actor, encounter, "MedicationStatement", f"reconciled {len(reviews)}, {flagged} flagged"
        )
    return reviews


def report_new_medication(
    *, actor: Actor, encounter: Encounter, data: history.MedicationData
) -> MedicationReview:
    """A medication the patient takes that is not on the list: added to the list and flagged for
    the provider as new."""
    check_open(actor, encounter)
    with transaction.atomic():
        med = history.add_medication(actor=actor, encounter=encounter, data=data)
        return MedicationReview.objects.create(
            encounter=encounter,
            patient=encounter.patient,
            medication=med,
            answer=MedicationReview.Answer.NEW,
            actual_dose=med.dose[:60],
            actual_frequency=med.frequency[:60],
            by_id=actor.signed_in_user_id,
        )


# 4. Histories ------------------------------------------------------------------------------


def add_history(
    *, actor: Actor, encounter: Encounter, category: str, description: str, relative: str = ""
) -> Any:
    check_open(actor, encounter)
    return history.add_condition(
        actor=actor,
        encounter=encounter,
        category=category,
        description=description,
        relative=relative,
    )


@dataclass(frozen=True)
class SocialAnswers:
    smoking: str
    alcohol: str = ""
    audit_c: dict | None = None  # item LOINC -> "0".."4", all three or none
    substance: str = ""


def record_social_history(*, actor: Actor, encounter: Encounter, data: SocialAnswers) -> None:
    """Smoking status (required), alcohol (AUDIT-C optional) and substance use; marks the
    histories step done (medical, surgical and family histories were reviewed on the same
    screen)."""
    check_open(actor, encounter)
    audit_answers: dict = {}
    result = None
    if data.audit_c and any(data.audit_c.values()):
        try:
            audit_answers = screening.clean_items(screening.AUDIT_C_ITEMS, data.audit_c)
        except screening.InvalidAnswers as exc:
            raise ValidationError({"alcohol": str(exc)}) from exc
        result = screening.score_audit_c(audit_answers, encounter.patient.sex)
    with transaction.atomic():
        history.record_smoking_status(actor=actor, encounter=encounter, code=data.smoking)
        if data.alcohol.strip() or result is not None:
            value = data.alcohol.strip() or (result.interpretation if result else "")
            history.record_social_history(
                actor=actor,
                encounter=encounter,
                topic=SocialHistory.Topic.ALCOHOL,
                value=value,
                answers={**audit_answers, screening.AUDIT_C_TOTAL: result.total} if result else {},
                score=result.total if result else None,
                positive=result.positive if result else None,
            )
        if data.substance.strip():
            history.record_social_history(
                actor=actor,
                encounter=encounter,
                topic=SocialHistory.Topic.SUBSTANCE,
                value=data.substance,
            )
        _mark(actor, encounter, Step.HISTORIES)


# 5. Screenings -----------------------------------------------------------------------------


def due_screenings(encounter: Encounter, done: dict[str, ScreeningResponse]) -> tuple[str, ...]:
    """The screenings this visit calls for, PHQ-9 added when the PHQ-2 was positive."""
    codes = list(screening.applicable_screenings(_age(encounter), encounter.visit_type))
    phq2 = done.get(screening.PHQ2)
    if phq2 is not None and phq2.positive:
        codes.insert(
            codes.index(screening.PHQ2) + 1 if screening.PHQ2 in codes else 0, screening.PHQ9
        )
    return tuple(codes)


def _age(encounter: Encounter) -> int:
    day = clock.localtime(encounter.period_start).date()
    return encounter.patient.completed_months(day) // 12


def record_screening(
    *, actor: Actor, encounter: Encounter, instrument: str, answers: dict
) -> ScreeningResponse:
    """Score and save one instrument (answers by item key). A second answer at the same visit
    replaces the first. The step is done once every due screening has a response."""
    check_open(actor, encounter)
    try:
        clean, result = screening.score(instrument, answers)
    except screening.InvalidAnswers as exc:
        raise ValidationError(str(exc)) from exc
    spec = screening.INSTRUMENTS[instrument]
    with transaction.atomic():
        response, _ = ScreeningResponse.objects.update_or_create(
            encounter=encounter,
            instrument=instrument,
            defaults={
                "patient": encounter.patient,
                "title": spec.title,
                "answers": clean,
                "total_score": result.total,
                "total_loinc": spec.total_loinc,
                "interpretation": result.interpretation,
                "positive": result.positive,
                "urgent": result.urgent,
                "positive_domains": list(result.positive_domains),
                "by_id": actor.signed_in_user_id,
                "at": clock.now(),
            },
        )
        if instrument == screening.PHQ2 and not result.positive:
            # A PHQ-9 started after an earlier, positive PHQ-2 no longer applies.
            ScreeningResponse.objects.filter(
                encounter=encounter, instrument=screening.PHQ9
            ).delete()
        done = {r.instrument: r for r in ScreeningResponse.objects.filter(encounter=encounter)}
        if all(code in done for code in due_screenings(encounter, done)):
            _mark(actor, encounter, Step.SCREENINGS)
        else:
            RoomingProgress.objects.filter(encounter=encounter, step=Step.SCREENINGS).delete()
        _audit(
            actor,
            encounter,
            "QuestionnaireResponse",
            f"{spec.title}: {result.interpretation}",
            Action.CREATE,
        )
    return response


def decline_screenings(*, actor: Actor, encounter: Encounter) -> None:
    """The patient declined the remaining screenings (or there was no time): the step is
    skipped, which the provider summary shows."""
    check_open(actor, encounter)
    with transaction.atomic():
        _mark(actor, encounter, Step.SCREENINGS, RoomingProgress.Status.SKIPPED)
        _audit(actor, encounter, "QuestionnaireResponse", "screenings declined")


def record_vitals(
    *,
    actor: Actor,
    encounter: Encounter,
    entry: vitals.VitalsEntry,
    confirmed: Iterable[str] = (),
) -> vitals.Outcome:
    """One sitting of vital signs (the rules are in vitals/services.py). The step is done once
    a set is saved; a set that needs confirming saves nothing."""
    check_open(actor, encounter)
    with transaction.atomic():
        outcome = vitals.record_vitals(
            actor=actor,
            patient=encounter.patient,
            encounter=encounter,
            entry=entry,
            confirmed=confirmed,
        )
        if outcome.vital_set is not None:
            _mark(actor, encounter, Step.VITALS)
    return outcome


def skip_vitals(*, actor: Actor, encounter: Encounter) -> None:
    check_open(actor, encounter)
    with transaction.atomic():
        _mark(actor, encounter, Step.VITALS, RoomingProgress.Status.SKIPPED)


# Finishing ---------------------------------------------------------------------------------


def missing_steps(progress: dict[str, RoomingProgress]) -> list[str]:
    return [Step(s).label for s in REQUIRED_STEPS if s not in progress]


def finish_rooming(*, actor: Actor, encounter: Encounter, expected_version: int) -> Encounter:
    """Hand the patient to the provider: roomed -> ready for provider."""
    check_open(actor, encounter)
    if encounter.stage != Encounter.Stage.ROOMED:
        raise ValidationError("This visit is already ready for the provider.")
    progress = {p.step: p for p in RoomingProgress.objects.filter(encounter=encounter)}
    if missing := missing_steps(progress):
        raise ValidationError("Finish these steps first: " + ", ".join(missing) + ".")
    return move_visit(
        actor=actor,
        encounter=encounter,
        to=Encounter.Stage.READY_FOR_PROVIDER,
        expected_version=expected_version,
        note="rooming done",
    )


# Allergy edits from the worklist (the rules live in history/services.py) ------------------


def _sync_allergy_step(actor: Actor, encounter: Encounter) -> None:
    """The allergies step is done while the list holds an answer (an allergy or NKA)."""
    if encounter.patient.allergies.filter(active=True).exists():
        _mark(actor, encounter, Step.ALLERGIES)
    else:
        RoomingProgress.objects.filter(encounter=encounter, step=Step.ALLERGIES).delete()


def add_allergy(*, actor: Actor, encounter: Encounter, data: history.AllergyData) -> Any:
    check_open(actor, encounter)
    with transaction.atomic():
        allergy = history.add_allergy(actor=actor, encounter=encounter, data=data)
        _sync_allergy_step(actor, encounter)
    return allergy


def update_allergy(
    *, actor: Actor, encounter: Encounter, allergy: Any, data: history.AllergyData
) -> Any:
    check_open(actor, encounter)
    with transaction.atomic():
        allergy = history.update_allergy(
            actor=actor, encounter=encounter, allergy=allergy, data=data
        )
        _sync_allergy_step(actor, encounter)
    return allergy


def inactivate_allergy(*, actor: Actor, encounter: Encounter, allergy: Any) -> Any:
    check_open(actor, encounter)
    with transaction.atomic():
        allergy = history.inactivate_allergy(actor=actor, encounter=encounter, allergy=allergy)
        _sync_allergy_step(actor, encounter)
    return allergy
