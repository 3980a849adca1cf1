"""The after-visit summary handed to the patient at checkout, as a PDF (WeasyPrint).

What it holds follows the clinical summary of ONC 170.315(e)(1) as far as this release records
it: the clinic and provider, the date, the reason for the visit, allergies, the medication list
with what the patient reported today, the next appointments, and whom to call. Results and
instructions come from the provider's documentation, which later modules add.
"""

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML, URLFetcher

from medassist.access.actor import Actor
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.stages import FINAL
from medassist.history.models import Allergy, Medication
from medassist.history.selectors import AllergySummary, summarize_allergies
from medassist.rooming.models import MedicationReview
from medassist.scheduling.models import Appointment


def allergy_banner(patient: Any) -> AllergySummary:
    return summarize_allergies(list(Allergy.objects.filter(patient=patient, active=True)))


@dataclass
class MedicationLine:
    medication: Medication
    review: MedicationReview | None


@dataclass
class AfterVisitSummary:
    visit: Encounter
    allergies: list[Allergy]
    allergy: AllergySummary
    medications: list[MedicationLine]
    upcoming: list[Appointment]
    printed_at: Any


def build_summary(visit: Encounter) -> AfterVisitSummary:
    """Five queries, whatever the length of the patient's lists."""
    patient = visit.patient
    allergies = list(Allergy.objects.filter(patient=patient, active=True))
    reviews = {
        r.medication_id: r
        for r in MedicationReview.objects.filter(encounter=visit).select_related("medication")
    }
    medications = [
        MedicationLine(m, reviews.get(m.pk))
        for m in Medication.objects.filter(patient=patient, active=True).order_by("name")
    ]
    upcoming = list(
        Appointment.objects.filter(patient=patient, start__gte=clock.now())
        .exclude(encounter__stage__in=FINAL)
        .exclude(encounter=visit)
        .select_related("provider", "appointment_type", "clinic")
        .order_by("start")[:5]
    )
    return AfterVisitSummary(
        visit=visit,
        allergies=[a for a in allergies if not a.is_no_known_allergy],
        allergy=summarize_allergies(allergies),
        medications=medications,
        upcoming=upcoming,
        printed_at=clock.localtime(clock.now()),
    )


def render_pdf(html: str) -> bytes:
    """The summary is self-contained: WeasyPrint may read data: URLs, never the network."""
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]


def after_visit_summary_pdf(actor: Actor, visit: Encounter) -> bytes:
    """The PDF, recorded in the audit trail as a print of the patient's record."""
    avs = build_summary(visit)
    html = render_to_string("flow/after_visit_summary.html", {"s": avs})
    pdf = render_pdf(html)
    record(
        actor,
        Action.PRINT,
        "AfterVisitSummary",
        patient=visit.patient,
        clinic_id=visit.clinic_id,
        entity_id=str(visit.public_id),
        description=f"after-visit summary, {len(pdf)} bytes",
    )
    return pdf
