"""Reads of immunization records, the clinic's vaccine stock, standing orders and the registry's
answers. Every read is scoped to the actor's clinics (another clinic's id looks exactly like a
missing one: 404), and every read of patient data is audited. The patient's page and the
administration page run a fixed number of queries however many doses the record holds."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When
from django.http import Http404

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Clinic, Membership
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.stages import ON_SITE
from medassist.history.selectors import AllergySummary, summarize_allergies
from medassist.immunizations import codes, forecasting, gs1
from medassist.immunizations.cdsi import types
from medassist.immunizations.models import (
    DoseOrder,
    Eligibility,
    Immunization,
    ObservationPeriod,
    PatientIndication,
    Reaction,
    RegistrySubmission,
    Route,
    Site,
    StandingOrder,
    VaccineLot,
)
from medassist.immunizations.services import SCREENING_QUESTIONS, age_in_years, vaccine_groups_for
from medassist.patients.models import Patient, completed_months
from medassist.scheduling.selectors import day_bounds

# CDC Vaccine Storage and Handling Toolkit (2024), "Inventory management": rotate stock so that
# vaccine with the soonest expiry is used first, and check expiry dates weekly. Thirty days is
# the clinic's warning horizon for "use first / order more", not a CDC number.
EXPIRES_SOON_DAYS = 30
REGISTRY_ROWS = 200
RETIRED_ROWS = 100
PROBLEM_STATUSES = (
    RegistrySubmission.Status.ERROR,
    RegistrySubmission.Status.REJECTED,
    RegistrySubmission.Status.FAILED,
)
REVIEWABLE = (*PROBLEM_STATUSES, RegistrySubmission.Status.WARNING)


def _denied(actor: Actor, entity: str, public_id: object) -> Http404:
    return out_of_reach(actor, entity, public_id, message=f"No such {entity}")


def _scoped(actor: Actor, perm: Permission) -> list[int]:
    return actor.clinics_with(perm) if actor.user.is_authenticated else []


# -- The patient -------------------------------------------------------------------------------


def get_patient(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    """The patient, when the actor may see immunization records at the patient's clinic; 404
    otherwise (the patients app records the read or the denied attempt)."""
    from medassist.patients.selectors import get_patient as patient_of

    return patient_of(actor, public_id, Permission.VIEW_IMMUNIZATIONS)


def patient_for_giving(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    """The patient, for the administration page: 404 outside the actor's clinics, 403 for a
    role that does not give vaccines."""
    patient = get_patient(actor, public_id)
    if not can(actor, Permission.ADMINISTER_VACCINE, patient):
        raise PermissionDenied("Your role does not give vaccines at this clinic.")
    return patient


def patient_for_ordering(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    """The patient, for the provider's order form: 404 outside the actor's clinics, 403 for a
    role that does not order vaccines."""
    patient = get_patient(actor, public_id)
    if not can(actor, Permission.ORDER_VACCINE, patient):
        raise PermissionDenied("Only a provider may order a vaccine.")
    return patient


def current_visit(patient: Patient) -> Encounter | None:
    """The patient's visit of today while they are in the building (the dose belongs to it and
    its observation shows on the flow board)."""
    start, end = day_bounds(clock.today())
    return (
        Encounter.objects.filter(
            patient=patient,
            clinic_id=patient.clinic_id,
            stage__in=ON_SITE,
            period_start__gte=start,
            period_start__lt=end,
        )
        .select_related("provider")
        .order_by("-period_start", "-id")
        .first()
    )


@dataclass(frozen=True)
class DoseEvaluation:
    """How the forecaster counts one dose in one vaccine group, in CDC's words."""

    group: str
    status: str  # "Valid", "Not Valid", "Extraneous", "Sub-standard", or "Not evaluated"
    reasons: str
    dose_number: int | None  # the target dose of the series it counted for

    @property
    def valid(self) -> bool:
        return self.status == "Valid"


@dataclass
class DoseRow:
    dose: Immunization
    evaluations: list[DoseEvaluation] = field(default_factory=list)
    observation: ObservationPeriod | None = None
    reactions: list[Reaction] = field(default_factory=list)

    @property
    def retracted(self) -> bool:
        return self.dose.status == Immunization.Status.ENTERED_IN_ERROR

    @property
    def given_here(self) -> bool:
        return self.dose.source == Immunization.Source.NEW

    @property
    def observing(self) -> bool:
        return self.observation is not None and self.observation.released_at is None

    @property
    def observation_over(self) -> bool:
        period = self.observation
        return period is not None and period.released_at is None and period.ends_at <= clock.now()


@dataclass
class PatientRecord:
    """The patient's immunization page: the forecast, every dose with how it counts, refusals,
    open observation timers and the provider's open orders."""

    patient: Patient
    allergy: AllergySummary
    today: dt.date
    lines: list[forecasting.GroupLine]
    doses: list[DoseRow]  # given and from records, oldest first; entered in error included
    refusals: list[Immunization]
    open_orders: list[DoseOrder]
    visit: Encounter | None = None
    indications: list[PatientIndication] = field(default_factory=list)

    @property
    def observation_choices(self) -> list[tuple[str, str]]:
        recorded = {i.code for i in self.indications}
        return [(c, t) for c, t in observation_choices() if c not in recorded]

    @property
    def due(self) -> list[forecasting.GroupLine]:
        return [line for line in self.lines if line.actionable]

    @property
    def observing(self) -> list[DoseRow]:
        return [row for row in self.doses if row.observing]

    @property
    def given_today(self) -> list[DoseRow]:
        return [
            row
            for row in self.doses
            if row.given_here and not row.retracted and row.dose.occurred_on == self.today
        ]


def _evaluations(result: types.Result, dose: Immunization) -> list[DoseEvaluation]:
    out = []
    for group in vaccine_groups_for(dose.cvx):
        found = result.dose_status_for_group(str(dose.public_id), group)
        if found is None:
            out.append(DoseEvaluation(group, "Not evaluated", "", None))
        else:
            out.append(
                DoseEvaluation(group, found.status, "; ".join(found.reasons), found.target_dose)
            )
    if not out:
        out.append(DoseEvaluation("", "Not evaluated", "no series the forecast follows", None))
    return out


def _load_record(patient: Patient) -> PatientRecord:
    """Five queries, whatever the number of doses."""
    from medassist.patients.selectors import active_allergies

    today = clock.today()
    doses = list(
        Immunization.objects.filter(patient=patient)
        .select_related("given_by", "observation", "standing_order")
        .prefetch_related("reactions")
        .order_by("occurred_on", "id")
    )
    indications = list(PatientIndication.objects.filter(patient=patient, active=True))
    result = forecasting.run(
        birth_date=patient.birth_date,
        sex=patient.sex,
        doses=doses,
        indications=indications,
        on=today,
    )
    rows = [
        DoseRow(
            dose=d,
            evaluations=_evaluations(result, d)
            if d.status == Immunization.Status.COMPLETED
            else [],
            observation=getattr(d, "observation", None),
            reactions=list(d.reactions.all()),
        )
        for d in doses
        if d.status != Immunization.Status.NOT_DONE
    ]
    open_orders = list(
        DoseOrder.objects.filter(patient=patient, used_by__isnull=True)
        .select_related("ordered_by")
        .order_by("-created_at")
    )
    return PatientRecord(
        patient=patient,
        allergy=summarize_allergies(active_allergies(patient)),
        today=today,
        lines=forecasting.summarise(result, today),
        doses=rows,
        refusals=[d for d in doses if d.status == Immunization.Status.NOT_DONE],
        open_orders=open_orders,
        indications=sorted(indications, key=lambda i: i.title),
    )


def patient_record(actor: Actor, public_id: uuid.UUID | str) -> PatientRecord:
    patient = get_patient(actor, public_id)
    found = _load_record(patient)
    record(
        actor,
        Action.READ,
        "Immunization",
        patient=patient,
        clinic_id=patient.clinic_id,
        entity_id=str(patient.public_id),
        description=f"immunization record and forecast: {len(found.doses)} doses, "
        f"{len(found.refusals)} refusals",
    )
    return found


def give_plan(actor: Actor, patient: Patient) -> PatientRecord:
    """The administration page: the record with the visit the doses belong to (the patient
    was looked up, and the read recorded, by patient_for_giving)."""
    found = _load_record(patient)
    found.visit = current_visit(patient)
    record(
        actor,
        Action.READ,
        "Immunization",
        patient=patient,
        clinic_id=patient.clinic_id,
        entity_id=str(patient.public_id),
        description=f"vaccines to give: {len(found.due)} due",
    )
    return found


def _dose_rows(actor: Actor, perm: Permission) -> QuerySet[Immunization]:
    return Immunization.objects.filter(clinic_id__in=_scoped(actor, perm)).select_related(
        "patient", "patient__clinic", "given_by", "lot"
    )


def get_dose(actor: Actor, public_id: uuid.UUID | str) -> Immunization:
    """One dose record of the actor's clinics, or 404; the read is audited either way."""
    dose = _dose_rows(actor, Permission.VIEW_IMMUNIZATIONS).filter(public_id=public_id).first()
    if dose is None:
        raise _denied(actor, "Immunization", public_id)
    record(
        actor,
        Action.READ,
        "Immunization",
        patient=dose.patient,
        clinic_id=dose.clinic_id,
        entity_id=str(dose.public_id),
    )
    return dose


def dose_for_correcting(actor: Actor, public_id: uuid.UUID | str) -> Immunization:
    """A dose record, for the correction form: 404 outside the actor's clinics, 403 for a
    role that does not correct immunization records (services.amend decides the same)."""
    dose = get_dose(actor, public_id)
    if not can(actor, Permission.ADMINISTER_VACCINE, dose):
        raise PermissionDenied("Your role may not correct immunization records at this clinic.")
    return dose


def get_observation(actor: Actor, dose_public_id: uuid.UUID | str) -> ObservationPeriod:
    """The observation period after a dose of the actor's clinics, or 404."""
    period = (
        ObservationPeriod.objects.filter(
            immunization__public_id=dose_public_id,
            clinic_id__in=_scoped(actor, Permission.VIEW_IMMUNIZATIONS),
        )
        .select_related("immunization", "immunization__patient")
        .first()
    )
    if period is None:
        raise _denied(actor, "Immunization", dose_public_id)
    return period


# -- Giving a dose: from the scan to the form ---------------------------------------------------

_GS1_START = re.compile(r"^(\]d2|\]C1|\]Q3|\]e0)?\(?01\)?\d")


def _looks_scanned(text: str) -> bool:
    """A GS1 element string (a 2D code read by the scanner) rather than a typed lot number."""
    return (
        bool(_GS1_START.match(text))
        or gs1.GS in text
        or any(s in text for s in ("<GS>", "{GS}", "[GS]", "\\x1d", "\\x1D"))
    )


def _related_ndcs(product: codes.NdcProduct) -> set[str]:
    """The NDCs of the same item: a vial's carton and a carton's vials (stock is received by
    either, and the MA may scan either)."""
    found = {product.ndc, *product.unit_of_sale_ndcs, *product.unit_of_use_ndcs}
    if product.unit_of_use_ndc:
        found.add(product.unit_of_use_ndc)
    return found


@dataclass
class Scan:
    """What a scan (or a typed lot number) found in the clinic's stock."""

    text: str
    lots: list[VaccineLot] = field(default_factory=list)
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def shown(self) -> str:
        """The scan as typed back into the field: the group separator as "<GS>", which the GS1
        reader accepts again."""
        return self.text.replace(gs1.GS, "<GS>")


def find_lots(patient: Patient, text: str) -> Scan:
    """The clinic's lots a scanned GS1 code or a typed lot number stands for. A typed lot
    number is matched first (some lots start with "01"); then the scan is read as GS1 and
    matched by product (GTIN -> NDC, the vial's or its carton's) and lot number."""
    text = text.strip()
    if not text:
        return Scan(text, error="Scan the vial or carton, or type the lot number.")
    stock = VaccineLot.objects.filter(clinic_id=patient.clinic_id, active=True).order_by(
        "expires_on", "id"
    )
    typed = list(stock.filter(lot_number__iexact=text[:20]))
    if typed:
        return _one_product(Scan(text, lots=typed))
    try:
        scanned = gs1.parse(text)
    except gs1.Gs1Error as error:
        if _looks_scanned(text):
            return Scan(text, error=str(error))
        return Scan(
            text,
            error=f"No lot {text[:20]} in this clinic's stock. Check the lot number on the "
            "label, or receive the lot on the stock page first.",
        )
    try:
        product = codes.catalog().product_for_gtin(scanned.gtin)
    except ValueError as error:
        return Scan(text, error=str(error))
    if product is None:
        return Scan(text, error=f"GTIN {scanned.gtin} is not a vaccine in CDC's NDC tables.")
    lots = list(
        stock.filter(lot_number__iexact=scanned.lot).filter(
            Q(ndc__in=_related_ndcs(product)) | Q(gtin=scanned.gtin)
        )
    )
    if not lots:
        return Scan(
            text,
            error=f"{product.proprietary_name} lot {scanned.lot} is not in this clinic's stock. "
            "Receive it on the stock page first, or scan another vial.",
        )
    found = Scan(text, lots=lots)
    if scanned.expiry is not None and any(lot.expires_on != scanned.expiry for lot in lots):
        found.warnings.append(
            f"The label says it expires {scanned.expiry:%Y-%m-%d}; the stock record says "
            f"{lots[0].expires_on:%Y-%m-%d}. Check the vial, and correct the stock record."
        )
    return found


def _one_product(found: Scan) -> Scan:
    if len({lot.cvx for lot in found.lots}) > 1:
        return Scan(
            found.text,
            error=f"Lot {found.text[:20]} is stocked for more than one vaccine; scan the "
            "barcode on the vial or carton instead.",
        )
    return found


def clinic_lot(patient: Patient, public_id: uuid.UUID | None) -> VaccineLot | None:
    if public_id is None:
        return None
    return VaccineLot.objects.filter(clinic_id=patient.clinic_id, public_id=public_id).first()


def lots_like(lot: VaccineLot) -> list[VaccineLot]:
    """The lot and its twins: the same lot number of the same product held as other stock
    (VFC and private), for the dose form shown again after a refusal."""
    return list(
        VaccineLot.objects.filter(
            clinic_id=lot.clinic_id, ndc=lot.ndc, lot_number=lot.lot_number, active=True
        ).order_by("expires_on", "id")
    ) or [lot]


@dataclass(frozen=True)
class DoseReferences:
    """The records a dose form names, looked up within the patient's clinic (None: not there)."""

    lot: VaccineLot | None
    standing_order: StandingOrder | None
    order: DoseOrder | None


def dose_references(
    patient: Patient,
    *,
    lot: uuid.UUID | None,
    standing_order: uuid.UUID | None,
    order: uuid.UUID | None,
) -> DoseReferences:
    return DoseReferences(
        lot=clinic_lot(patient, lot),
        standing_order=(
            StandingOrder.objects.filter(clinic_id=patient.clinic_id, public_id=standing_order)
            .select_related("authorized_by")
            .first()
            if standing_order
            else None
        ),
        order=(
            DoseOrder.objects.filter(patient=patient, public_id=order).first() if order else None
        ),
    )


# CDC's route words on NDC rows (unit of sale), to HL7 table 0162.
_ROUTE_WORDS = (
    ("INTRAMUSCULAR", Route.IM),
    ("SUBCU", Route.SC),
    ("INTRADERMAL", Route.ID),
    ("ORAL", Route.PO),
    ("INTRANASAL", Route.NS),
)


def default_route(product: codes.NdcProduct | None) -> str:
    words = (product.route or "").upper() if product else ""
    return next((route for word, route in _ROUTE_WORDS if words.startswith(word)), "")


_SITE_FOR_ROUTE: dict[str, str] = {Route.PO: Site.MOUTH, Route.NS: Site.NOSE}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    selected: bool = False
    note: str = ""


@dataclass(frozen=True)
class LotChoice:
    lot: VaccineLot
    selected: bool
    expired: bool
    expires_soon: bool


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    answer: str  # "yes", "no" or "" (not answered)


@dataclass
class DoseDraft:
    """The dose form for the lot(s) a scan found, with the values to show (the posted ones
    after a refusal), worked out here so the template only lays them out."""

    product: codes.NdcProduct | None
    lots: list[LotChoice]
    manufacturer: str
    sites: list[Choice]
    routes: list[Choice]
    eligibilities: list[Choice]
    standing_orders: list[Choice]
    orders: list[Choice]
    vis: list[Choice]
    screening: list[Question]
    consent: bool
    confirm_birth_date: str
    given_at: str
    dose_volume_ml: str
    own_authority: bool  # a provider gives it on their own order
    multi_vis: str  # the encoded text of the Multi Pediatric Vaccines VIS, when it may be used
    warnings: list[str] = field(default_factory=list)

    @property
    def lot(self) -> VaccineLot:
        return next((c.lot for c in self.lots if c.selected), self.lots[0].lot)


def _choices(options: Iterable[tuple[str, str]], selected: str) -> list[Choice]:
    return [Choice(str(v), str(label), str(v) == selected) for v, label in options]


def dose_draft(
    actor: Actor,
    patient: Patient,
    lots: list[VaccineLot],
    posted: Mapping[str, Any] | None = None,
    *,
    vis_given: Iterable[str] = (),
    warnings: Iterable[str] = (),
) -> DoseDraft:
    """The dose form for these candidate lots (one product; several when the same lot is held
    as VFC and as private stock). Two queries: the standing orders and the provider's orders
    for the product's vaccine groups."""
    posted = posted or {}
    today = clock.today()
    chosen = str(posted.get("lot") or "")
    if not any(str(lot.public_id) == chosen for lot in lots):
        # Soonest expiry first among the usable (CDC Storage and Handling Toolkit: rotate
        # stock); the funding shown beside each, and administer() refuses the wrong one.
        usable = [lot for lot in lots if lot.expires_on >= today and lot.doses_on_hand > 0]
        chosen = str((usable or lots)[0].public_id)
    first = lots[0]
    catalog = codes.catalog()
    try:
        product = catalog.product_for_ndc(first.ndc)
    except ValueError:
        product = None
    groups = vaccine_groups_for(first.cvx)
    age_days = (today - patient.birth_date).days
    standing = list(
        StandingOrder.objects.filter(
            clinic_id=patient.clinic_id, vaccine_group__in=groups, active=True
        ).order_by("vaccine_group", "-effective_from")
    )
    covering = [
        o for o in standing if o.covers(group=o.vaccine_group, age_days=age_days, day=today)
    ]
    orders = list(
        DoseOrder.objects.filter(
            patient=patient, used_by__isnull=True, vaccine_group__in=groups
        ).select_related("ordered_by")
    )
    route = str(posted.get("route") or default_route(product))
    site = str(posted.get("site") or _SITE_FOR_ROUTE.get(route, ""))
    order_pick = str(
        posted.get("order") or (orders[0].public_id if len(orders) == 1 and not posted else "")
    )
    standing_pick = str(
        posted.get("standing_order")
        or (covering[0].public_id if covering and not posted and not order_pick else "")
    )
    handed = set(vis_given)
    current_vis = catalog.vis_for_cvx(first.cvx)
    multi = next((v for v in current_vis if v.name.lower().startswith("multi")), None)
    manufacturer = catalog.manufacturer(first.mvx) if first.mvx else None
    return DoseDraft(
        product=product,
        lots=[
            LotChoice(
                lot=lot,
                selected=str(lot.public_id) == chosen,
                expired=lot.expires_on < today,
                expires_soon=today <= lot.expires_on <= today + dt.timedelta(EXPIRES_SOON_DAYS),
            )
            for lot in lots
        ],
        manufacturer=manufacturer.name if manufacturer else first.mvx,
        sites=_choices(Site.choices, site),
        routes=_choices(Route.choices, route),
        eligibilities=_choices(Eligibility.choices, str(posted.get("eligibility") or "")),
        standing_orders=[
            Choice(
                str(o.public_id),
                o.title,
                str(o.public_id) == standing_pick,
                "" if o in covering else "does not cover this patient today",
            )
            for o in standing
        ],
        orders=[
            Choice(
                str(o.public_id),
                f"{o.vaccine_group}, ordered by "
                f"{o.ordered_by.get_full_name() or o.ordered_by.get_username()}"
                + (f" off schedule: {o.reason}" if o.off_schedule else ""),
                str(o.public_id) == order_pick,
            )
            for o in orders
        ],
        vis=[
            Choice(
                v.encoded_text,
                f"{v.name}, {v.edition_date:%m/%d/%Y} edition",
                v.encoded_text in handed,
                v.url or "",
            )
            for v in current_vis
        ],
        screening=[
            Question(key, text, str(posted.get(f"screening_{key}") or ""))
            for key, text in SCREENING_QUESTIONS
        ],
        consent=bool(posted.get("consent")),
        confirm_birth_date=str(posted.get("confirm_birth_date") or ""),
        given_at=str(posted.get("given_at") or ""),
        dose_volume_ml=str(posted.get("dose_volume_ml") or _volume(first.dose_volume_ml)),
        own_authority=can(actor, Permission.ORDER_VACCINE, patient),
        multi_vis=multi.encoded_text if multi else "",
        warnings=list(warnings),
    )


def _volume(value: Decimal | None) -> str:
    return f"{value.normalize():f}" if value is not None else ""


# -- After the dose: the VAERS report draft -----------------------------------------------------


def get_reaction(actor: Actor, public_id: uuid.UUID | str) -> Reaction:
    reaction = (
        Reaction.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_IMMUNIZATIONS)
        )
        .select_related("immunization", "patient", "patient__clinic", "created_by")
        .first()
    )
    if reaction is None:
        raise _denied(actor, "AdverseEvent", public_id)
    return reaction


@dataclass(frozen=True)
class VaersVaccine:
    dose: Immunization
    manufacturer: str
    dose_numbers: str  # "DTaP/Tdap/Td 2; HepB 2; Polio 2", or "" when not known


@dataclass
class VaersDraft:
    reaction: Reaction
    patient: Patient
    clinic: Clinic
    age_at_vaccination: str
    vaccines: list[VaersVaccine]
    pregnant: str
    sick_today: str
    allergies: str
    recovered: str
    results: list[str]  # VAERS "result or outcome" boxes this outcome ticks
    reporter: str
    reporter_title: str
    today: dt.date


# VAERS 2.0 "Result or outcome of adverse event(s)" for each of our outcomes. A reaction
# treated here was, at least, a visit to the clinic.
_VAERS_RESULTS = {
    Reaction.Outcome.RESOLVED: ["Doctor or other healthcare professional office/clinic visit"],
    Reaction.Outcome.REFERRED: [
        "Doctor or other healthcare professional office/clinic visit",
        "Emergency room or emergency department visit",
    ],
    Reaction.Outcome.HOSPITALIZED: [
        "Doctor or other healthcare professional office/clinic visit",
        "Hospitalization",
    ],
    Reaction.Outcome.ONGOING: ["Doctor or other healthcare professional office/clinic visit"],
    Reaction.Outcome.DIED: ["Patient died"],
}
_RECOVERED = {
    Reaction.Outcome.RESOLVED: "Yes",
    Reaction.Outcome.DIED: "No",
}


def _age_words(birth_date: dt.date, on: dt.date) -> str:
    months = completed_months(birth_date, on)
    years = age_in_years(birth_date, on)
    if years >= 2:
        return f"{years} years"
    return f"{months} months" if months else f"{(on - birth_date).days} days"


def _answer(screening: Mapping[str, Any], key: str) -> str:
    if key not in screening:
        return "Not asked"
    return "Yes" if screening[key] else "No"


def vaers_draft(actor: Actor, public_id: uuid.UUID | str) -> VaersDraft:
    """What we know of the VAERS 2.0 form's items for one reaction, to copy into the online
    form (the report itself is made at vaers.hhs.gov). Recorded as a print of the record."""
    from medassist.patients.selectors import active_allergies

    reaction = get_reaction(actor, public_id)
    patient = reaction.patient
    dose = reaction.immunization
    same_day = list(
        Immunization.objects.filter(
            patient=patient,
            occurred_on=dose.occurred_on,
            status=Immunization.Status.COMPLETED,
        ).order_by("given_at", "id")
    )
    all_doses = list(Immunization.objects.filter(patient=patient).order_by("occurred_on", "id"))
    result = forecasting.run(
        birth_date=patient.birth_date, sex=patient.sex, doses=all_doses, on=dose.occurred_on
    )
    catalog = codes.catalog()
    vaccines = []
    for given in same_day:
        numbers = [
            f"{e.group} {e.dose_number}"
            for e in _evaluations(result, given)
            if e.valid and e.dose_number is not None
        ]
        maker = catalog.manufacturer(given.mvx) if given.mvx else None
        vaccines.append(VaersVaccine(given, maker.name if maker else given.mvx, "; ".join(numbers)))
    allergies = [
        a.substance + (f" ({a.reaction})" if a.reaction else "")
        for a in active_allergies(patient)
        if not a.is_no_known_allergy
    ]
    title = (
        Membership.objects.filter(user_id=actor.signed_in_user_id, clinic_id=reaction.clinic_id)
        .exclude(title="")
        .values_list("title", flat=True)
        .first()
        or ""
    )
    record(
        actor,
        Action.PRINT,
        "AdverseEvent",
        patient=patient,
        clinic_id=reaction.clinic_id,
        entity_id=str(reaction.public_id),
        description=f"VAERS report draft for the reaction after {dose.vaccine_name}",
    )
    user: Any = actor.user
    return VaersDraft(
        reaction=reaction,
        patient=patient,
        clinic=patient.clinic,
        age_at_vaccination=_age_words(patient.birth_date, dose.occurred_on),
        vaccines=vaccines,
        pregnant=_answer(dose.screening, "pregnant"),
        sick_today=_answer(dose.screening, "sick_today"),
        allergies=", ".join(allergies) or "None recorded",
        recovered=_RECOVERED.get(Reaction.Outcome(reaction.outcome), "Don't know yet"),
        results=_VAERS_RESULTS.get(Reaction.Outcome(reaction.outcome), []),
        reporter=user.get_full_name() or user.get_username(),
        reporter_title=title,
        today=clock.today(),
    )


# -- The fridge -------------------------------------------------------------------------------


def clinics_with(actor: Actor, perm: Permission) -> list[Clinic]:
    return list(Clinic.objects.filter(pk__in=_scoped(actor, perm)).order_by("name"))


@dataclass(frozen=True)
class LotRow:
    lot: VaccineLot
    expired: bool
    expires_soon: bool


@dataclass
class StorageUnit:
    name: str
    lots: list[LotRow]

    @property
    def doses(self) -> int:
        return sum(row.lot.doses_on_hand for row in self.lots if not row.expired)


def stock(actor: Actor, clinic: Clinic) -> list[StorageUnit]:
    """The clinic's lots by fridge or freezer, soonest expiry first (one query)."""
    if not can(actor, Permission.MANAGE_VACCINE_STOCK, clinic):
        raise PermissionDenied("Your role does not keep this clinic's vaccine stock.")
    today = clock.today()
    soon = today + dt.timedelta(days=EXPIRES_SOON_DAYS)
    units: dict[str, StorageUnit] = {}
    for lot in VaccineLot.objects.filter(clinic=clinic, active=True).order_by(
        "storage_unit", "expires_on", "product_name", "id"
    ):
        unit = units.setdefault(lot.storage_unit, StorageUnit(lot.storage_unit, []))
        unit.lots.append(LotRow(lot, lot.expires_on < today, today <= lot.expires_on <= soon))
    return list(units.values())


def retired_lots(actor: Actor, clinic: Clinic) -> list[VaccineLot]:
    """The clinic's lots taken out of use, the latest first, with the doses left in them (to
    return or dispose of; CDC Storage and Handling Toolkit). The newest RETIRED_ROWS only."""
    if not can(actor, Permission.MANAGE_VACCINE_STOCK, clinic):
        raise PermissionDenied("Your role does not keep this clinic's vaccine stock.")
    return list(
        VaccineLot.objects.filter(clinic=clinic, active=False).order_by("-updated_at", "-id")[
            :RETIRED_ROWS
        ]
    )


def get_indication(actor: Actor, public_id: uuid.UUID | str) -> PatientIndication:
    """A recorded condition of a patient of the actor's clinics (for ending it), or 404."""
    found = (
        PatientIndication.objects.select_related("patient")
        .filter(public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_IMMUNIZATIONS))
        .first()
    )
    if found is None:
        raise _denied(actor, "Observation", public_id)
    return found


def observation_choices() -> list[tuple[str, str]]:
    """CDC's CDSi observations (ScheduleSupportingData), by title, for the condition form."""
    data = forecasting.supporting_data()
    return sorted(data.observations.items(), key=lambda item: item[1].lower())


def get_lot(actor: Actor, public_id: uuid.UUID | str) -> VaccineLot:
    lot = VaccineLot.objects.filter(
        public_id=public_id, clinic_id__in=_scoped(actor, Permission.MANAGE_VACCINE_STOCK)
    ).first()
    if lot is None:
        raise _denied(actor, "Medication", public_id)
    return lot


# -- Standing orders ----------------------------------------------------------------------------


def standing_orders(actor: Actor, clinic: Clinic) -> list[StandingOrder]:
    if not can(actor, Permission.VIEW_IMMUNIZATIONS, clinic):
        raise PermissionDenied("Your role does not include this clinic's standing orders.")
    return list(
        StandingOrder.objects.filter(clinic=clinic)
        .select_related("authorized_by")
        .order_by("-active", "vaccine_group", "-effective_from", "id")
    )


def get_standing_order(
    actor: Actor, public_id: uuid.UUID | str, perm: Permission = Permission.VIEW_IMMUNIZATIONS
) -> StandingOrder:
    """One standing order of the clinics where the actor has `perm` (VIEW_IMMUNIZATIONS to
    read it, MANAGE_STANDING_ORDERS to change it), or 404."""
    found = (
        StandingOrder.objects.filter(public_id=public_id, clinic_id__in=_scoped(actor, perm))
        .select_related("clinic", "authorized_by")
        .first()
    )
    if found is None:
        raise _denied(actor, "PlanDefinition", public_id)
    return found


def vaccine_groups() -> list[str]:
    return sorted(forecasting.supporting_data().vaccine_groups, key=str.casefold)


# -- The registry -------------------------------------------------------------------------------


def registry_submissions(actor: Actor, clinic: Clinic) -> list[RegistrySubmission]:
    """The clinic's VXU messages and the registry's answers: errors, rejections and failures
    nobody has reviewed first, then the newest. Names patients: the read is audited."""
    if not can(actor, Permission.REVIEW_REGISTRY, clinic):
        raise PermissionDenied("Only the clinic manager reviews the registry's answers.")
    rows: list[RegistrySubmission] = list(
        RegistrySubmission.objects.filter(clinic=clinic)
        .select_related("immunization", "immunization__patient", "reviewed_by")
        .annotate(
            problem=Case(
                When(status__in=PROBLEM_STATUSES, reviewed_at__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("problem", "-created_at", "-id")[:REGISTRY_ROWS]
    )
    record(
        actor,
        Action.READ,
        "MessageHeader",
        clinic_id=clinic.pk,
        entity_id=clinic.code,
        description=f"registry submissions shown: {len(rows)}",
    )
    return rows


def get_submission(actor: Actor, public_id: uuid.UUID | str) -> RegistrySubmission:
    found = (
        RegistrySubmission.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.REVIEW_REGISTRY)
        )
        .select_related("clinic")
        .first()
    )
    if found is None:
        raise _denied(actor, "MessageHeader", public_id)
    return found


# -- The flow board ----------------------------------------------------------------------------


def board_marks(clinic_id: int, encounter_ids: list[int]) -> dict[int, dt.datetime]:
    """When the open observation after a dose ends, for each of the board's visits that has
    one (the latest, when several vaccines were given): one query."""
    marks: dict[int, dt.datetime] = {}
    for encounter_id, ends_at in ObservationPeriod.objects.filter(
        clinic_id=clinic_id, encounter_id__in=encounter_ids, released_at__isnull=True
    ).values_list("encounter_id", "ends_at"):
        if encounter_id not in marks or ends_at > marks[encounter_id]:
            marks[encounter_id] = ends_at
    return marks


def board_observation_stamp(clinic_id: int, day_start: dt.datetime) -> str:
    """Changes whenever an observation of the day starts or is released: part of the board's
    fingerprint (its end passing is caught by the fingerprint's minute)."""
    found = ObservationPeriod.objects.filter(
        clinic_id=clinic_id, starts_at__gte=day_start
    ).aggregate(n=Count("id"), released=Count("released_at"), last=Max("released_at"))
    return f"{found['n']}|{found['released']}|{found['last']}"


@dataclass(frozen=True)
class ChartSummary:
    """The chart's immunization card: what is overdue and due today, in a line each."""

    patient: Patient
    overdue: list[str]
    due: list[str]
    up_to_date: int


def chart_summary(actor: Actor, public_id: uuid.UUID | str) -> ChartSummary:
    """The forecast in brief for the chart (its own request, so the chart's queries do not
    grow); the read is recorded."""
    from medassist.immunizations.services import patient_forecast

    patient = get_patient(actor, public_id)
    today = clock.today()
    lines = forecasting.summarise(patient_forecast(patient, on=today), today)
    record(
        actor,
        Action.READ,
        "Immunization",
        patient=patient,
        clinic_id=patient.clinic_id,
        entity_id=str(patient.public_id),
        description="immunization forecast summary on the chart",
    )
    return ChartSummary(
        patient=patient,
        overdue=[line.group for line in lines if line.status == forecasting.OVERDUE],
        due=[line.group for line in lines if line.status == forecasting.DUE],
        up_to_date=sum(1 for line in lines if line.status == forecasting.UP_TO_DATE),
    )
