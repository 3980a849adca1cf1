"""Reads for the rooming worklist and the provider summary, scoped to the actor through
encounters.selectors.get_visit. Each loads its page in a fixed number of queries, however many
allergies, medications or screenings the patient has."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.encounters.models import Encounter
from medassist.encounters.selectors import get_visit
from medassist.history.models import Allergy, Condition, Medication, SmokingStatus, SocialHistory
from medassist.history.selectors import summarize_allergies
from medassist.history.services import HISTORY_CATEGORIES
from medassist.rooming import screening
from medassist.rooming.models import MedicationReview, RoomingProgress, ScreeningResponse, Step
from medassist.rooming.services import REQUIRED_STEPS, closed_reason, due_screenings, missing_steps
from medassist.vitals.selectors import VisitVitals, visit_vitals


@dataclass
class StepView:
    step: str
    label: str
    number: int
    progress: RoomingProgress | None
    required: bool

    @property
    def anchor(self) -> str:
        return f"step-{self.step}"


@dataclass
class MedicationRow:
    medication: Medication
    review: MedicationReview | None

    @property
    def key(self) -> str:
        return str(self.medication.public_id)

    @property
    def is_new(self) -> bool:
        return self.review is not None and self.review.answer == MedicationReview.Answer.NEW

    @property
    def options(self) -> list[dict]:
        current = self.review.answer if self.review else ""
        return [
            {"value": a.value, "label": a.label, "checked": a.value == current}
            for a in MedicationReview.Answer
            if a != MedicationReview.Answer.NEW
        ]


@dataclass
class ScreeningView:
    instrument: screening.Instrument
    response: ScreeningResponse | None

    @property
    def code(self) -> str:
        return self.instrument.code

    @property
    def slug(self) -> str:
        return self.instrument.code.replace("-", "").lower()

    @property
    def rows(self) -> list[dict]:
        answers = self.response.answers if self.response else {}
        rows = []
        for item in self.instrument.items:
            current = answers.get(item.key, [] if item.multiple else "")
            rows.append(
                {
                    "item": item,
                    "options": [
                        {
                            "value": value,
                            "label": label,
                            "checked": value in current if item.multiple else value == current,
                        }
                        for value, label in item.options
                    ],
                }
            )
        return rows


@dataclass
class Worklist:
    visit: Encounter
    closed: str
    progress: dict[str, RoomingProgress]
    steps: list[StepView]
    allergies: list[Allergy]
    medications: list[MedicationRow]
    conditions: list[Condition]
    smoking: SmokingStatus | None
    social: dict[str, SocialHistory]
    screenings: list[ScreeningView]
    missing: list[str]
    vitals: VisitVitals | None
    smoking_choices: Any = field(default_factory=lambda: SmokingStatus.Value.choices)
    history_categories: Any = field(
        default_factory=lambda: [(c.value, c.label) for c in HISTORY_CATEGORIES]
    )

    @property
    def patient(self) -> Any:
        return self.visit.patient

    @property
    def alcohol(self) -> SocialHistory | None:
        return self.social.get(SocialHistory.Topic.ALCOHOL)

    @property
    def substance_use(self) -> SocialHistory | None:
        return self.social.get(SocialHistory.Topic.SUBSTANCE)

    @property
    def audit_c_rows(self) -> list[dict]:
        """AUDIT-C items with today's answers selected, so a revisit shows what was saved."""
        answers = self.alcohol.answers if self.alcohol else {}
        return [
            {
                "item": item,
                "options": [
                    {"value": v, "label": label, "selected": answers.get(item.key) == v}
                    for v, label in item.options
                ],
            }
            for item in screening.AUDIT_C_ITEMS
        ]

    @property
    def by_step(self) -> dict[str, StepView]:
        return {s.step: s for s in self.steps}

    @property
    def allergy_summary(self) -> Any:
        return summarize_allergies(self.allergies)

    @property
    def has_real_allergies(self) -> bool:
        return any(not a.is_no_known_allergy for a in self.allergies)

    @property
    def may_finish(self) -> bool:
        return not self.missing and self.visit.stage == Encounter.Stage.ROOMED and not self.closed


def get_visit_for_rooming(actor: Actor, visit_id: uuid.UUID | str) -> Encounter:
    """The visit, if the actor may room patients at its clinic (404 otherwise, audited)."""
    return get_visit(actor, visit_id, Permission.ROOM_PATIENT, audit_as="Encounter.rooming")


def load_worklist(actor: Actor, visit_id: uuid.UUID | str) -> Worklist:
    return build_worklist(get_visit_for_rooming(actor, visit_id))


def build_worklist(visit: Encounter, step: str | None = None) -> Worklist:
    """The whole worklist, or (with `step`) what one step's partial and the progress and
    finish panels show: saving a step re-renders only that much (the vitals step, saved on
    every sitting, reads 4 queries instead of 13)."""
    patient = visit.patient
    progress = {
        p.step: p for p in RoomingProgress.objects.filter(encounter=visit).select_related("by")
    }
    steps = [
        StepView(s.value, s.label, i, progress.get(s.value), s in REQUIRED_STEPS)
        for i, s in enumerate(Step, start=1)
    ]
    w = Worklist(
        visit=visit,
        closed=closed_reason(visit),
        progress=progress,
        steps=steps,
        allergies=[],
        medications=[],
        conditions=[],
        smoking=None,
        social={},
        screenings=[],
        missing=missing_steps(progress),
        vitals=visit_vitals(visit) if step in (None, Step.VITALS) else None,
    )
    if step == Step.VITALS:
        return w
    w.allergies = list(Allergy.objects.filter(patient=patient, active=True))
    reviews = {r.medication_id: r for r in MedicationReview.objects.filter(encounter=visit)}
    w.medications = [
        MedicationRow(m, reviews.get(m.pk))
        for m in Medication.objects.filter(patient=patient, active=True)
    ]
    w.conditions = list(
        Condition.objects.filter(patient=patient, active=True, category__in=HISTORY_CATEGORIES)
    )
    w.smoking = SmokingStatus.objects.filter(patient=patient).first()
    w.social = {s.topic: s for s in SocialHistory.objects.filter(patient=patient, encounter=visit)}
    done = {r.instrument: r for r in ScreeningResponse.objects.filter(encounter=visit)}
    w.screenings = [
        ScreeningView(screening.INSTRUMENTS[code], done.get(code))
        for code in due_screenings(visit, done)
    ]
    return w


@dataclass
class Summary:
    visit: Encounter
    allergies_changed: list[Allergy]
    active_allergies: list[Allergy]
    discrepancies: list[MedicationReview]
    reconciled: int
    histories_added: list[Condition]
    smoking: SmokingStatus | None
    social: list[SocialHistory]
    screenings: list[ScreeningResponse]
    progress: dict[str, RoomingProgress]
    vitals: VisitVitals | None = None

    @property
    def allergy_summary(self) -> Any:
        return summarize_allergies(self.active_allergies)

    @property
    def urgent(self) -> list[ScreeningResponse]:
        return [s for s in self.screenings if s.urgent]

    @property
    def screenings_declined(self) -> bool:
        step = self.progress.get(Step.SCREENINGS)
        return step is not None and step.status == RoomingProgress.Status.SKIPPED


def load_summary(actor: Actor, visit_id: uuid.UUID | str) -> Summary:
    """What changed at this visit, for the provider walking in: one screen."""
    visit = get_visit(
        actor, visit_id, Permission.VIEW_ENCOUNTER, audit_as="Encounter.roomingSummary"
    )
    patient = visit.patient
    # Changed at this visit (including inactivated and retired entries), or active now.
    allergies = list(Allergy.objects.filter(Q(encounter=visit) | Q(active=True), patient=patient))
    reviews = list(MedicationReview.objects.filter(encounter=visit).select_related("medication"))
    return Summary(
        visit=visit,
        allergies_changed=[a for a in allergies if a.encounter_id == visit.pk],
        active_allergies=[a for a in allergies if a.active],
        discrepancies=[r for r in reviews if r.is_discrepancy],
        reconciled=len(reviews),
        histories_added=list(
            Condition.objects.filter(
                patient=patient, encounter=visit, category__in=HISTORY_CATEGORIES
            )
        ),
        smoking=SmokingStatus.objects.filter(patient=patient).first(),
        social=list(SocialHistory.objects.filter(patient=patient, encounter=visit)),
        # Model ordering puts urgent, then positive, first.
        screenings=list(ScreeningResponse.objects.filter(encounter=visit)),
        progress={p.step: p for p in RoomingProgress.objects.filter(encounter=visit)},
        vitals=visit_vitals(visit),
    )
