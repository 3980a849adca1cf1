"""Giving vaccines, recording doses from elsewhere, keeping the fridge, and reporting.

administer() is the one way a dose given here is recorded. Before anything is saved it checks,
and refuses with a message that names the problem and the fix:
  - the patient is the one in front of the MA (a second identifier, the date of birth);
  - the lot is this clinic's, not expired, and has doses left;
  - the lot's funding fits the patient's VFC eligibility (VFC Operations Guide: VFC vaccine
    only for eligible children under 19, and eligible children get VFC vaccine);
  - the screening questionnaire has no "yes" the provider has not reviewed;
  - the current VIS editions for the vaccine were given (42 U.S.C. 300aa-26), and consent;
  - the dose is due by the CDSi forecast, or a provider ordered it off schedule (documented);
  - it is not a live vaccine too soon after another (CDSi live virus conflicts);
  - the actor may give it: a provider, or an MA/nurse under a standing order or a provider's
    order, where the clinic's state allows MAs to give vaccines.
Then, in one transaction: the dose, one dose off the lot, the observation timer, the audit
entry, and the registry message (sent after commit).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.access.roles import Role
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.events.services import enqueue
from medassist.immunizations import codes, forecasting, gs1
from medassist.immunizations.cdsi import engine, types
from medassist.immunizations.models import (
    VFC_ELIGIBLE,
    ClinicSettings,
    DoseOrder,
    Eligibility,
    Funding,
    Immunization,
    ObservationPeriod,
    PatientIndication,
    Reaction,
    RegistryConnection,
    RegistrySubmission,
    Route,
    Site,
    StandingOrder,
    VaccineLot,
)
from medassist.patients.models import Patient

VXU_KIND = "immunization.vxu"
VFC_AGE_LIMIT_YEARS = 19  # VFC: children through 18 years of age
# A dose given here may be documented late (a busy clinic session), but not from another week's
# stock: older doses are history.
LATE_ENTRY = dt.timedelta(days=7)

# Screening for contraindications and precautions: the questions of the Immunization Action
# Coalition's screening checklists (IAC P4060 for children and teens, P4065 for adults), in
# short form. A "yes" is not a refusal: it needs the provider's review before the dose.
SCREENING_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("sick_today", "Is the patient sick today?"),
    ("allergy", "Allergy to a medication, food, vaccine component or latex?"),
    ("prior_reaction", "A serious reaction to a vaccine in the past?"),
    ("chronic_condition", "A long-term health problem (heart, lung, kidney, metabolic, blood)?"),
    ("immune_weakened", "A weakened immune system (cancer, HIV, steroids, chemotherapy)?"),
    ("seizure_or_gbs", "Seizures, a brain or nerve problem, or Guillain-Barre syndrome?"),
    ("blood_products", "A transfusion, blood products or immune globulin in the past year?"),
    ("pregnant", "Pregnant, or could become pregnant in the next month?"),
    ("recent_vaccines", "Any vaccines in the past 4 weeks?"),
)
SCREENING_KEYS = frozenset(key for key, _ in SCREENING_QUESTIONS)


class DoseRefused(ValidationError):
    """A check before giving a dose failed; .code says which (for tests and the form)."""


def _refuse(field_name: str, message: str, code: str) -> DoseRefused:
    return DoseRefused({field_name: [ValidationError(message, code=code)]})


def _at_clinic(actor: Actor, perm: Permission, clinic_id: int, message: str) -> None:
    """can() for a clinic known by id (no query: an unsaved Clinic carries the id; an id that
    is not one of the actor's clinics, or no clinic at all, is refused the same way)."""
    from medassist.clinics.models import Clinic

    if not can(actor, perm, Clinic(pk=clinic_id)):
        raise PermissionDenied(message)


def clinic_settings(clinic_id: int) -> ClinicSettings:
    found = ClinicSettings.objects.filter(clinic_id=clinic_id).first()
    return found or ClinicSettings(clinic_id=clinic_id)


def save_clinic_settings(
    *, actor: Actor, clinic_id: int, observation_minutes: int, assistants_may_administer: bool
) -> ClinicSettings:
    """The clinic manager sets how long patients are observed after a dose (ACIP: 15 minutes
    to prevent injury from syncope; 30 minutes after some vaccines or a past reaction) and
    whether the clinic's state lets medical assistants give vaccines (scope of practice)."""
    _at_clinic(
        actor,
        Permission.MANAGE_IMMUNIZATION_SETTINGS,
        clinic_id,
        "Only the clinic manager sets the clinic's immunization rules.",
    )
    if not 0 <= observation_minutes <= 120:
        raise ValidationError({"observation_minutes": "Observation is 0 to 120 minutes."})
    with transaction.atomic():
        before = clinic_settings(clinic_id)
        saved, _ = ClinicSettings.objects.update_or_create(
            clinic_id=clinic_id,
            defaults={
                "observation_minutes": observation_minutes,
                "assistants_may_administer": assistants_may_administer,
            },
        )
        record(
            actor,
            Action.UPDATE,
            "Basic",
            clinic_id=clinic_id,
            entity_id=f"immunization-settings-{clinic_id}",
            description=(
                f"observation {before.observation_minutes} -> {observation_minutes} min; "
                f"MAs may give vaccines {before.assistants_may_administer} -> "
                f"{assistants_may_administer}"
            ),
        )
    return saved


def vaccine_groups_for(cvx: str) -> tuple[str, ...]:
    """The CDSi vaccine groups a CVX code counts for (DTaP-HepB-IPV: three)."""
    data = forecasting.supporting_data()
    groups: list[str] = []
    for association in data.cvx_antigens.get(codes.normalize_cvx(cvx), ()):
        group = data.group_of_antigen(association.antigen)
        if group and group not in groups:
            groups.append(group)
    return tuple(groups)


def age_in_years(birth_date: dt.date, on: dt.date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


# -- Forecast for a patient --------------------------------------------------------------------


def patient_forecast(
    patient: Patient, *, on: dt.date | None = None, extra: Iterable[types.AdministeredDose] = ()
) -> types.Result:
    """The CDSi forecast from the patient's stored doses and indications (two queries)."""
    doses = list(Immunization.objects.filter(patient=patient).order_by("occurred_on", "id"))
    indications = list(PatientIndication.objects.filter(patient=patient, active=True))
    return forecasting.run(
        birth_date=patient.birth_date,
        sex=patient.sex,
        doses=doses,
        indications=indications,
        on=on,
        extra=extra,
    )


# -- Giving a dose -----------------------------------------------------------------------------


@dataclass
class DoseRequest:
    """What the administration form (or a test) hands to administer()."""

    lot: VaccineLot
    site: str
    route: str
    confirm_birth_date: dt.date | None  # the second patient identifier, as the MA checked it
    eligibility: str = ""
    screening: Mapping[str, bool] = field(default_factory=dict)
    vis_given: Iterable[str] = ()  # encoded VIS texts (GDTI) handed to the patient
    consent: str = Immunization.Consent.GIVEN
    dose_volume_ml: Decimal | None = None
    standing_order: StandingOrder | None = None
    order: DoseOrder | None = None
    given_at: dt.datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    """How the forecaster would count the dose about to be given."""

    groups: tuple[str, ...]
    valid: bool
    conflict: bool
    reasons: tuple[str, ...]


def evaluate_new_dose(patient: Patient, cvx: str, on: dt.date) -> Evaluation:
    """Evaluate the dose as if given: in each of its vaccine groups, as the group's shown
    forecast counts it (a child's PCV is judged by the childhood series, not the 50+ one)."""
    new = types.AdministeredDose(id="new", date_administered=on, cvx=cvx)
    result = patient_forecast(patient, on=on, extra=[new])
    groups = vaccine_groups_for(cvx)
    found = [e for g in groups if (e := result.dose_status_for_group("new", g)) is not None]
    reasons = tuple(dict.fromkeys(r for e in found if e.status != engine.VALID for r in e.reasons))
    return Evaluation(
        groups=groups,
        valid=len(found) == len(groups) > 0 and all(e.status == engine.VALID for e in found),
        conflict=engine.CONFLICT in reasons,
        reasons=reasons or (() if found else ("no series the forecast follows for this patient",)),
    )


def _membership_title(actor: Actor, clinic_id: int) -> tuple[str, str]:
    roles = actor.roles_by_clinic.get(clinic_id, frozenset())
    role = next((r for r in (Role.PROVIDER, Role.NURSE, Role.MEDICAL_ASSISTANT) if r in roles), "")
    title = (
        Membership.objects.filter(user_id=actor.signed_in_user_id, clinic_id=clinic_id, role=role)
        .values_list("title", flat=True)
        .first()
        or ""
    )
    return str(role), title


def _check_lot(lot: VaccineLot, clinic_id: int, today: dt.date) -> None:
    if lot.clinic_id != clinic_id or not lot.active:
        raise _refuse("lot", "This lot is not in this clinic's stock.", "lot_elsewhere")
    if lot.expires_on < today:
        raise _refuse(
            "lot",
            f"Lot {lot.lot_number} of {lot.product_name} expired on {lot.expires_on:%Y-%m-%d}. "
            "Do not give it: take it out of the fridge, label it 'do not use' and record it "
            "on the stock page.",
            "lot_expired",
        )
    if lot.doses_on_hand < 1:
        raise _refuse(
            "lot",
            f"No doses of lot {lot.lot_number} are left. Scan another lot, or correct the "
            "count on the stock page if the vials are there.",
            "lot_empty",
        )


def _check_funding(lot: VaccineLot, patient: Patient, eligibility: str, today: dt.date) -> None:
    child = age_in_years(patient.birth_date, today) < VFC_AGE_LIMIT_YEARS
    if not eligibility:
        raise _refuse(
            "eligibility",
            "Record the patient's VFC eligibility for this dose (it is screened at every "
            "immunization visit).",
            "eligibility_missing",
        )
    if eligibility not in Eligibility.values:
        raise _refuse("eligibility", "Unknown VFC eligibility code.", "eligibility_unknown")
    public = lot.funding == Funding.VFC
    eligible = child and eligibility in VFC_ELIGIBLE
    if public and not eligible:
        who = "adults" if not child else "children who are not VFC eligible"
        raise _refuse(
            "lot",
            f"Lot {lot.lot_number} is VFC (public) stock, which may not be given to {who}. "
            "Scan a lot from private stock.",
            "funding_mismatch",
        )
    if not public and eligible and lot.funding == Funding.PRIVATE:
        raise _refuse(
            "lot",
            f"This child is VFC eligible ({Eligibility(eligibility).label}); lot "
            f"{lot.lot_number} is private stock. Give VFC vaccine (scan a VFC lot).",
            "funding_mismatch",
        )


def _check_screening(
    screening: Mapping[str, bool], order: DoseOrder | None, today: dt.date
) -> None:
    unknown = set(screening) - SCREENING_KEYS
    if unknown:
        raise _refuse("screening", f"Unknown screening question {sorted(unknown)[0]}.", "bad")
    missing = [text for key, text in SCREENING_QUESTIONS if key not in screening]
    if missing:
        raise _refuse(
            "screening", f"Answer every screening question (first missing: {missing[0]})", "open"
        )
    yes = [text for key, text in SCREENING_QUESTIONS if screening.get(key)]
    # A "yes" today is reviewed by the provider today: an old open order does not cover it.
    reviewed = order is not None and clock.localtime(order.created_at).date() == today
    if yes and not reviewed:
        raise _refuse(
            "screening",
            f"Screening answer 'yes': {yes[0]} The provider must review it and order the dose "
            "before it is given.",
            "screening_yes",
        )


def _check_vis(cvx: str, given: Iterable[str]) -> list[dict]:
    """The current VIS for the vaccine must be given before the dose (National Childhood
    Vaccine Injury Act, 42 U.S.C. 300aa-26). For the routine childhood vaccines CDC's Multi
    Pediatric Vaccines VIS may stand in for the single ones; otherwise each one is needed."""
    current = codes.catalog().vis_for_cvx(cvx)
    handed = set(given)
    multi = [v for v in current if v.name.lower().startswith("multi")]
    singles = [v for v in current if v not in multi]
    if multi and multi[0].encoded_text in handed:
        used = [multi[0], *(v for v in singles if v.encoded_text in handed)]
    else:
        missing = [v for v in singles if v.encoded_text not in handed]
        if missing:
            raise _refuse(
                "vis",
                f"Give the patient the current VIS: {missing[0].name} "
                f"({missing[0].edition_date:%m/%d/%Y} edition)"
                + (f", or the {multi[0].name}." if multi else "."),
                "vis_missing",
            )
        used = singles
    today = clock.today()
    return [
        {
            "document": v.name,
            "edition": v.edition_date.isoformat(),
            "encoded": v.encoded_text,
            "presented": today.isoformat(),
        }
        for v in used
    ]


def _authority(
    actor: Actor,
    patient: Patient,
    groups: tuple[str, ...],
    request: DoseRequest,
    settings: ClinicSettings,
    today: dt.date,
) -> tuple[StandingOrder | None, DoseOrder | None]:
    """Who lets this actor give this dose: the actor's own order (a provider), a standing order
    covering every vaccine group of the product, or an open provider's order for the patient."""
    clinic_id = patient.clinic_id
    if can(actor, Permission.ORDER_VACCINE, patient):
        # A provider gives on their own order; a standing order they name is kept on the dose
        # only when it really covers it.
        standing = request.standing_order
        age_days = (today - patient.birth_date).days
        if standing is not None and not (
            standing.clinic_id == clinic_id
            and standing.vaccine_group in groups
            and standing.covers(group=standing.vaccine_group, age_days=age_days, day=today)
        ):
            standing = None
        return standing, request.order
    roles = actor.roles_by_clinic.get(clinic_id, frozenset())
    nurse = Role.NURSE in roles
    if not settings.assistants_may_administer and not nurse:
        raise _refuse(
            "order",
            "This clinic's state does not allow medical assistants to give vaccines; a nurse "
            "or the provider gives it.",
            "scope",
        )
    order = request.order
    if order is not None:
        if order.patient_id != patient.pk or order.used_by_id is not None:
            raise _refuse("order", "That provider's order is not open for this patient.", "order")
        if order.vaccine_group not in groups:
            raise _refuse("order", "That provider's order is for another vaccine.", "order")
        others = [g for g in groups if g != order.vaccine_group]
        age_days = (today - patient.birth_date).days
        covering = list(StandingOrder.objects.filter(clinic_id=clinic_id, vaccine_group__in=others))
        uncovered = [
            g
            for g in others
            if not any(o.covers(group=g, age_days=age_days, day=today) for o in covering)
        ]
        if uncovered:
            # A combination product gives every one of its vaccines: the order for one of them
            # is not an order for the others.
            raise _refuse(
                "order",
                f"The provider's order is for {order.vaccine_group}; this product also gives "
                f"{', '.join(uncovered)}, which no order or standing order covers.",
                "order_scope",
            )
        return None, order
    age_days = (today - patient.birth_date).days
    standing = request.standing_order
    if standing is None:
        raise _refuse(
            "order",
            "Choose the standing order this dose is given under, or ask the provider to order it.",
            "no_order",
        )
    if standing.clinic_id != clinic_id:
        raise _refuse("order", "That standing order belongs to another clinic.", "order")
    if standing.vaccine_group not in groups or not standing.covers(
        group=standing.vaccine_group, age_days=age_days, day=today
    ):
        raise _refuse(
            "order",
            f"The standing order '{standing.title}' does not cover this patient today (vaccine, "
            "age or dates). Ask the provider to order the dose.",
            "order_scope",
        )
    # A combination vaccine needs every one of its vaccine groups covered.
    orders = list(StandingOrder.objects.filter(clinic_id=clinic_id, vaccine_group__in=groups))
    uncovered = [
        g
        for g in groups
        if not any(o.covers(group=g, age_days=age_days, day=today) for o in orders)
    ]
    if uncovered:
        raise _refuse(
            "order",
            f"No standing order covers {uncovered[0]} for this patient; ask the provider.",
            "order_scope",
        )
    return standing, None


def administer(
    *, actor: Actor, patient: Patient, encounter: Encounter | None, request: DoseRequest
) -> Immunization:
    """Give one dose from a lot. Raises DoseRefused (keyed by form field) when a check fails
    and PermissionDenied outside the actor's reach; nothing is saved unless every check
    passes."""
    if not can(actor, Permission.ADMINISTER_VACCINE, encounter or patient):
        raise PermissionDenied("Your role may not give vaccines at this clinic.")
    if encounter is not None and encounter.patient_id != patient.pk:
        raise _refuse("patient", "This visit is another patient's.", "wrong_patient")
    if request.confirm_birth_date != patient.birth_date:
        raise _refuse(
            "confirm_birth_date",
            "The date of birth does not match this patient's record. Check the patient's "
            "identity (name and date of birth) before giving the dose.",
            "wrong_patient",
        )
    lot = request.lot
    today = clock.today()
    now = clock.now()
    given_at = request.given_at or now
    if given_at > now + dt.timedelta(minutes=5):
        raise _refuse("given_at", "The time given is in the future.", "future")
    if clock.localtime(given_at).date() < patient.birth_date:
        raise _refuse("given_at", "The time given is before the patient's birth.", "before_birth")
    if given_at < now - LATE_ENTRY:
        raise _refuse(
            "given_at",
            f"A dose given more than {LATE_ENTRY.days} days ago is entered as history from the "
            "record of it (Add history), not given from today's stock.",
            "too_old",
        )
    # The day the dose is given, in the clinic's time zone: after 6 p.m. in Chicago the UTC date
    # is already tomorrow, and a lot expiring today or a minimum age would be judged wrongly.
    given_on = clock.localtime(given_at).date()
    if encounter is not None and clock.localtime(encounter.period_start).date() != given_on:
        encounter = None  # a dose documented late belongs to no visit of today
    _check_lot(lot, patient.clinic_id, given_on)
    _check_funding(lot, patient, request.eligibility, given_on)
    if request.consent != Immunization.Consent.GIVEN:
        raise _refuse("consent", "Consent was not given: record a refusal instead.", "no_consent")
    order = request.order
    if order is not None and (order.patient_id != patient.pk or order.used_by_id is not None):
        raise _refuse("order", "That provider's order is not open for this patient.", "order")
    _check_screening(request.screening, order, today)
    vis = _check_vis(lot.cvx, request.vis_given)
    evaluation = evaluate_new_dose(patient, lot.cvx, given_on)
    if evaluation.conflict:
        raise _refuse(
            "lot",
            f"{lot.product_name} is a live vaccine too soon after another live vaccine "
            "(live virus conflict: 28 days apart unless given the same day). Schedule it for "
            "later.",
            "live_conflict",
        )
    if not evaluation.valid and not (order is not None and order.off_schedule):
        raise _refuse(
            "lot",
            f"The forecast does not call for this dose today ({'; '.join(evaluation.reasons)}). "
            "Only a provider may order it off schedule, with the reason.",
            "not_due",
        )
    settings = clinic_settings(patient.clinic_id)
    standing, order = _authority(actor, patient, evaluation.groups, request, settings, given_on)
    role, title = _membership_title(actor, patient.clinic_id)
    with transaction.atomic():
        # One dose at a time per patient: lock the patient's row and judge the dose again
        # against what is now stored, so two submissions at once cannot both pass the forecast
        # (the second one waits here, then sees the first dose).
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        again = evaluate_new_dose(patient, lot.cvx, given_on)
        if not again.valid and not (order is not None and order.off_schedule):
            raise _refuse(
                "lot",
                "This dose was just recorded by someone else; the forecast no longer calls for "
                f"it ({'; '.join(again.reasons)}).",
                "not_due",
            )
        taken = VaccineLot.objects.filter(
            pk=lot.pk, clinic_id=patient.clinic_id, doses_on_hand__gt=0
        ).update(doses_on_hand=F("doses_on_hand") - 1, version=F("version") + 1, updated_at=now)
        if not taken:
            raise _refuse("lot", f"No doses of lot {lot.lot_number} are left.", "lot_empty")
        dose = Immunization.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            encounter=encounter,
            status=Immunization.Status.COMPLETED,
            source=Immunization.Source.NEW,
            cvx=lot.cvx,
            vaccine_name=lot.product_name,
            vaccine_group="; ".join(evaluation.groups),
            ndc=lot.ndc,
            mvx=lot.mvx,
            lot=lot,
            lot_number=lot.lot_number,
            expires_on=lot.expires_on,
            dose_volume_ml=request.dose_volume_ml or lot.dose_volume_ml,
            route=request.route,
            site=request.site,
            occurred_on=given_on,
            given_at=given_at,
            given_by_id=actor.signed_in_user_id,
            given_by_role=role,
            given_by_title=title,
            ordering_provider_id=(
                order.ordered_by_id
                if order
                else actor.signed_in_user_id
                if can(actor, Permission.ORDER_VACCINE, patient)
                else standing.authorized_by_id
                if standing
                else actor.signed_in_user_id
            ),
            standing_order=standing,
            funding=lot.funding,
            eligibility=request.eligibility,
            screening=dict(request.screening),
            vis=vis,
            consent=Immunization.Consent.GIVEN,
            override_by_id=order.ordered_by_id if order and order.off_schedule else None,
            override_reason=order.reason if order and order.off_schedule else "",
            created_by_id=actor.signed_in_user_id,
        )
        if order is not None:
            used = DoseOrder.objects.filter(pk=order.pk, used_by__isnull=True).update(
                used_by=dose, updated_at=now
            )
            if not used:
                raise _refuse("order", "That provider's order was already used.", "order")
        ends_at = given_at + dt.timedelta(minutes=settings.observation_minutes)
        if ends_at > now:  # a dose documented late needs no timer on today's board
            ObservationPeriod.objects.create(
                immunization=dose,
                clinic_id=patient.clinic_id,
                encounter=encounter,
                starts_at=given_at,
                ends_at=ends_at,
            )
        record(
            actor,
            Action.CREATE,
            "Immunization",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(dose.public_id),
            description=(
                f"gave {lot.product_name} lot {lot.lot_number} ({dose.get_site_display()})"
                + (f" under standing order '{standing.title}'" if standing else "")
                + (" off schedule by provider's order" if dose.override_by_id else "")
            )[:300],
        )
        queue_registry(dose, "A")
    return dose


def order_dose(
    *,
    actor: Actor,
    patient: Patient,
    vaccine_group: str,
    encounter: Encounter | None = None,
    off_schedule: bool = False,
    reason: str = "",
) -> DoseOrder:
    """A provider's order for one dose; off schedule needs the reason (it is documented on the
    dose and sent nowhere else)."""
    if not can(actor, Permission.ORDER_VACCINE, encounter or patient):
        raise PermissionDenied("Only a provider may order a vaccine.")
    if vaccine_group not in forecasting.supporting_data().vaccine_groups:
        raise ValidationError({"vaccine_group": "Unknown vaccine group."})
    reason = " ".join(reason.split())
    if off_schedule and len(reason) < 5:
        raise ValidationError(
            {"reason": "Say why the dose is given although the forecast does not call for it."}
        )
    with transaction.atomic():
        order = DoseOrder.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            encounter=encounter,
            vaccine_group=vaccine_group,
            off_schedule=off_schedule,
            reason=reason[:300],
            ordered_by_id=actor.signed_in_user_id,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "ServiceRequest",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(order.public_id),
            description=f"ordered {vaccine_group}" + (" off schedule" if off_schedule else ""),
        )
    return order


def record_refusal(
    *,
    actor: Actor,
    patient: Patient,
    cvx: str,
    reason: str,
    encounter: Encounter | None = None,
) -> Immunization:
    """A vaccine offered and refused (US Core Immunization status not-done; VXU RXA-20 RE)."""
    if not can(actor, Permission.ADMINISTER_VACCINE, encounter or patient):
        raise PermissionDenied("Your role may not record vaccines at this clinic.")
    vaccine = codes.catalog().vaccine(cvx)
    if vaccine is None:
        raise ValidationError({"cvx": f"Unknown CVX code {cvx}."})
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Record the reason given for the refusal."})
    with transaction.atomic():
        dose = Immunization.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            encounter=encounter,
            status=Immunization.Status.NOT_DONE,
            cvx=vaccine.cvx,
            vaccine_name=vaccine.short_name,
            vaccine_group="; ".join(vaccine_groups_for(vaccine.cvx)),
            occurred_on=clock.today(),
            given_at=clock.now(),
            given_by_id=actor.signed_in_user_id,
            consent=Immunization.Consent.REFUSED,
            refusal_reason=reason[:200],
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Immunization",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(dose.public_id),
            description=f"refused {vaccine.short_name}",
        )
        queue_registry(dose, "A")
    return dose


def record_historical(
    *,
    actor: Actor,
    patient: Patient,
    cvx: str,
    occurred_on: dt.date,
    source: str,
    source_detail: str = "",
    lot_number: str = "",
    mvx: str = "",
) -> Immunization:
    """A dose given elsewhere, entered from a card, another provider's record or the registry.
    Kept apart from doses given here (RXA-9 says where it came from) and counted by the
    forecast like any other."""
    if not can(actor, Permission.RECORD_HISTORICAL_DOSE, patient):
        raise PermissionDenied("Your role may not enter immunization history at this clinic.")
    vaccine = codes.catalog().vaccine(cvx)
    if vaccine is None:
        raise ValidationError({"cvx": f"Unknown CVX code {cvx}."})
    if source == Immunization.Source.NEW or source not in Immunization.Source.values:
        raise ValidationError({"source": "Say where the record of this dose came from."})
    if occurred_on > clock.today():
        raise ValidationError({"occurred_on": "The date is in the future."})
    if occurred_on < patient.birth_date:
        raise ValidationError({"occurred_on": "The date is before the patient's birth."})
    duplicate = Immunization.objects.filter(
        patient=patient,
        cvx=vaccine.cvx,
        occurred_on=occurred_on,
        status=Immunization.Status.COMPLETED,
    ).exists()
    if duplicate:
        raise ValidationError(
            {"occurred_on": f"{vaccine.short_name} on {occurred_on} is already recorded."}
        )
    with transaction.atomic():
        dose = Immunization.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            status=Immunization.Status.COMPLETED,
            source=source,
            source_detail=" ".join(source_detail.split())[:200],
            cvx=vaccine.cvx,
            vaccine_name=vaccine.short_name,
            vaccine_group="; ".join(vaccine_groups_for(vaccine.cvx)),
            mvx=codes.normalize_mvx(mvx) if mvx else "",
            lot_number=lot_number.strip()[:20],
            occurred_on=occurred_on,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Immunization",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(dose.public_id),
            description=f"historical {vaccine.short_name} on {occurred_on} "
            f"({dose.get_source_display()})",
        )
        queue_registry(dose, "A")
    return dose


def retract(
    *, actor: Actor, immunization: Immunization, reason: str, restock: bool = False
) -> Immunization:
    """Mark a dose record entered in error (the registry is told to delete it, RXA-21 D).
    With `restock`, the dose recorded from a lot but never drawn up goes back into its count
    (a dose recorded on the wrong chart was used once, for the other patient: no restock)."""
    if not can(actor, Permission.ADMINISTER_VACCINE, immunization):
        raise PermissionDenied("Your role may not correct immunization records at this clinic.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say what was wrong with the record."})
    with transaction.atomic():
        changed = (
            Immunization.objects.filter(pk=immunization.pk, version=immunization.version)
            .exclude(status=Immunization.Status.ENTERED_IN_ERROR)
            .update(
                status=Immunization.Status.ENTERED_IN_ERROR,
                retracted_reason=reason[:300],
                version=F("version") + 1,
                updated_at=clock.now(),
            )
        )
        if not changed:
            raise ValidationError("This record was changed meanwhile; reload and try again.")
        immunization.refresh_from_db()
        if restock and immunization.lot_id is not None:
            VaccineLot.objects.filter(pk=immunization.lot_id).update(
                doses_on_hand=F("doses_on_hand") + 1,
                version=F("version") + 1,
                updated_at=clock.now(),
            )
        ObservationPeriod.objects.filter(
            immunization=immunization, released_at__isnull=True
        ).update(released_at=clock.now(), released_by_id=actor.signed_in_user_id)
        record(
            actor,
            Action.UPDATE,
            "Immunization",
            patient=immunization.patient,
            clinic_id=immunization.clinic_id,
            entity_id=str(immunization.public_id),
            description=(
                f"entered in error: {reason}" + ("; dose back in stock" if restock else "")
            )[:300],
        )
        queue_registry(immunization, "D")
    return immunization


def amend(
    *,
    actor: Actor,
    immunization: Immunization,
    site: str | None = None,
    route: str | None = None,
    dose_volume_ml: Decimal | None = None,
    occurred_on: dt.date | None = None,
    lot_number: str | None = None,
    reason: str,
) -> Immunization:
    """Correct a detail of a dose record (the site written on the wrong leg, a historical date
    misread from a card); the registry is sent the update (RXA-21 U). What the dose was and the
    lot it came from are not changed this way: a wrong vaccine is entered in error and recorded
    again."""
    if not can(actor, Permission.ADMINISTER_VACCINE, immunization):
        raise PermissionDenied("Your role may not correct immunization records at this clinic.")
    if immunization.status != Immunization.Status.COMPLETED:
        raise ValidationError("Only a dose given or recorded as given can be corrected.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say what is corrected and why."})
    changes: dict[str, object] = {}
    if site is not None and site != immunization.site:
        if site not in Site.values:
            raise ValidationError({"site": "Unknown site."})
        changes["site"] = site
    if route is not None and route != immunization.route:
        if route not in Route.values:
            raise ValidationError({"route": "Unknown route."})
        changes["route"] = route
    if dose_volume_ml is not None and dose_volume_ml != immunization.dose_volume_ml:
        if not Decimal("0.05") <= dose_volume_ml <= Decimal("2"):
            raise ValidationError({"dose_volume_ml": "A dose volume is 0.05 to 2 mL."})
        changes["dose_volume_ml"] = dose_volume_ml
    if occurred_on is not None and occurred_on != immunization.occurred_on:
        if not immunization.historical:
            raise ValidationError({"occurred_on": "The date of a dose given here is its time."})
        if occurred_on > clock.today() or occurred_on < immunization.patient.birth_date:
            raise ValidationError({"occurred_on": "The date is outside the patient's life."})
        changes["occurred_on"] = occurred_on
    if lot_number is not None and lot_number.strip() != immunization.lot_number:
        if not immunization.historical:
            raise ValidationError({"lot_number": "A lot given here comes from the stock."})
        changes["lot_number"] = lot_number.strip()[:20]
    if not changes:
        raise ValidationError("Nothing was changed.")
    with transaction.atomic():
        updated = Immunization.objects.filter(
            pk=immunization.pk, version=immunization.version
        ).update(**changes, version=F("version") + 1, updated_at=clock.now())
        if not updated:
            raise ValidationError("This record was changed meanwhile; reload and try again.")
        immunization.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Immunization",
            patient=immunization.patient,
            clinic_id=immunization.clinic_id,
            entity_id=str(immunization.public_id),
            description=f"corrected {', '.join(sorted(changes))}: {reason}"[:300],
        )
        queue_registry(immunization, "U")
    return immunization


def record_indication(
    *, actor: Actor, patient: Patient, code: str, observed_on: dt.date | None = None
) -> PatientIndication:
    """Record a condition the forecast uses (CDSi observation: pregnancy, asplenia, dialysis,
    laboratory evidence of immunity, a severe allergy to a vaccine component, travel...). It
    makes risk series relevant, shows immunity or contraindicates a vaccine."""
    if not can(actor, Permission.RECORD_HISTORICAL_DOSE, patient):
        raise PermissionDenied("Your role may not record this at this clinic.")
    code = code.strip().zfill(3)
    title = forecasting.supporting_data().observations.get(code)
    if title is None:
        raise ValidationError({"code": "Choose a condition from CDC's list."})
    if observed_on is not None and not patient.birth_date <= observed_on <= clock.today():
        raise ValidationError({"observed_on": "The date is outside the patient's life."})
    if PatientIndication.objects.filter(patient=patient, code=code, active=True).exists():
        raise ValidationError({"code": f"'{title}' is already recorded."})
    with transaction.atomic():
        indication = PatientIndication.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            code=code,
            title=title[:300],
            observed_on=observed_on,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Observation",
            patient=patient,
            clinic_id=patient.clinic_id,
            entity_id=str(indication.public_id),
            description=f"immunization condition {code}: {title}"[:300],
        )
    return indication


def end_indication(*, actor: Actor, indication: PatientIndication) -> PatientIndication:
    """The condition no longer holds (the pregnancy ended, the travel is over)."""
    if not can(actor, Permission.RECORD_HISTORICAL_DOSE, indication):
        raise PermissionDenied("Your role may not change this at this clinic.")
    with transaction.atomic():
        ended = PatientIndication.objects.filter(pk=indication.pk, active=True).update(
            active=False, ended_on=clock.today(), updated_at=clock.now()
        )
        if not ended:
            raise ValidationError("This condition was already ended.")
        indication.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Observation",
            patient=indication.patient,
            clinic_id=indication.clinic_id,
            entity_id=str(indication.public_id),
            description=f"immunization condition ended: {indication.title}"[:300],
        )
    return indication


# -- After the dose --------------------------------------------------------------------------


def release_observation(*, actor: Actor, period: ObservationPeriod) -> ObservationPeriod:
    if not can(actor, Permission.ADMINISTER_VACCINE, period):
        raise PermissionDenied("Your role may not do this at this clinic.")
    with transaction.atomic():
        updated = ObservationPeriod.objects.filter(pk=period.pk, released_at__isnull=True).update(
            released_at=clock.now(), released_by_id=actor.signed_in_user_id
        )
        if not updated:
            raise ValidationError("The observation was already ended.")
        period.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Immunization",
            patient=period.immunization.patient,
            clinic_id=period.clinic_id,
            entity_id=str(period.immunization.public_id),
            description="observation after the dose ended",
        )
    return period


def record_reaction(
    *,
    actor: Actor,
    immunization: Immunization,
    symptoms: str,
    onset_at: dt.datetime,
    outcome: str,
    treatment: str = "",
    serious: bool = False,
    notes: str = "",
) -> Reaction:
    if not can(actor, Permission.ADMINISTER_VACCINE, immunization):
        raise PermissionDenied("Your role may not do this at this clinic.")
    symptoms = " ".join(symptoms.split())
    if not symptoms:
        raise ValidationError({"symptoms": "Describe what the patient has."})
    if outcome not in Reaction.Outcome.values:
        raise ValidationError({"outcome": "Choose the outcome."})
    if immunization.given_at and onset_at < immunization.given_at:
        raise ValidationError({"onset_at": "The onset is before the dose was given."})
    if onset_at > clock.now() + dt.timedelta(minutes=5):
        raise ValidationError({"onset_at": "The onset is in the future."})
    with transaction.atomic():
        reaction = Reaction.objects.create(
            immunization=immunization,
            clinic_id=immunization.clinic_id,
            patient_id=immunization.patient_id,
            symptoms=symptoms[:300],
            onset_at=onset_at,
            treatment=" ".join(treatment.split())[:300],
            outcome=outcome,
            serious=serious or outcome in {Reaction.Outcome.HOSPITALIZED, Reaction.Outcome.DIED},
            notes=notes,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "AdverseEvent",
            patient=immunization.patient,
            clinic_id=immunization.clinic_id,
            entity_id=str(reaction.public_id),
            description=f"reaction after {immunization.vaccine_name}: {symptoms}"[:300],
        )
    return reaction


# -- The fridge ----------------------------------------------------------------------------


def receive_lot(
    *,
    actor: Actor,
    clinic_id: int,
    scanned: str = "",
    ndc: str = "",
    lot_number: str = "",
    expires_on: dt.date | None = None,
    funding: str,
    doses: int,
    storage_unit: str,
) -> VaccineLot:
    """Put a delivery in the fridge: from the carton's GS1 2D barcode, or typed. The same lot
    received again adds to its count."""
    _at_clinic(
        actor,
        Permission.MANAGE_VACCINE_STOCK,
        clinic_id,
        "Your role may not manage vaccine stock at this clinic.",
    )
    catalog = codes.catalog()
    product = None
    gtin = ""
    if scanned.strip():
        try:
            parsed = gs1.parse(scanned)
        except gs1.Gs1Error as error:
            raise ValidationError({"scanned": str(error)}) from error
        product = catalog.product_for_gtin(parsed.gtin)
        if product is None:
            raise ValidationError(
                {"scanned": f"GTIN {parsed.gtin} is not a vaccine in CDC's NDC tables."}
            )
        gtin = parsed.gtin
        lot_number = parsed.lot or lot_number
        expires_on = parsed.expiry or expires_on
    elif ndc.strip():
        try:
            product = catalog.product_for_ndc(ndc)
        except ValueError as error:
            raise ValidationError({"ndc": str(error)}) from error
        if product is None:
            raise ValidationError({"ndc": f"NDC {ndc} is not a vaccine in CDC's NDC tables."})
    else:
        raise ValidationError({"scanned": "Scan the carton's 2D barcode or type the NDC."})
    lot_number = lot_number.strip().upper()
    if not lot_number:
        raise ValidationError({"lot_number": "The lot number is missing."})
    if expires_on is None:
        raise ValidationError({"expires_on": "The expiry date is missing."})
    if expires_on < clock.today():
        raise ValidationError(
            {"expires_on": f"This lot expired on {expires_on:%Y-%m-%d}; do not stock it."}
        )
    if funding not in Funding.values:
        raise ValidationError({"funding": "Choose the funding source (VFC or private)."})
    if doses < 1 or doses > 10_000:
        raise ValidationError({"doses": "Doses received must be between 1 and 10000."})
    if not storage_unit.strip():
        raise ValidationError({"storage_unit": "Say which fridge or freezer it goes in."})
    with transaction.atomic():
        lot, created = VaccineLot.objects.select_for_update().get_or_create(
            clinic_id=clinic_id,
            ndc=product.ndc,
            lot_number=lot_number,
            funding=funding,
            defaults={
                "cvx": product.cvx,
                "mvx": product.mvx or "",
                "product_name": product.label,
                "expires_on": expires_on,
                "doses_on_hand": doses,
                "storage_unit": storage_unit.strip()[:60],
                "gtin": gtin,
                "created_by_id": actor.signed_in_user_id,
            },
        )
        if not created:
            if not lot.active:
                raise ValidationError(
                    {
                        "lot_number": f"Lot {lot_number} was taken out of use; doses of it must "
                        "not be stocked again. Check the carton, or ask the manufacturer."
                    }
                )
            if lot.expires_on != expires_on:
                raise ValidationError(
                    {
                        "expires_on": f"Lot {lot_number} is stocked with expiry "
                        f"{lot.expires_on:%Y-%m-%d}; this carton says {expires_on:%Y-%m-%d}."
                    }
                )
            VaccineLot.objects.filter(pk=lot.pk).update(
                doses_on_hand=F("doses_on_hand") + doses,
                version=F("version") + 1,
                updated_at=clock.now(),
            )
            lot.refresh_from_db()
        record(
            actor,
            Action.CREATE if created else Action.UPDATE,
            "Medication",
            clinic_id=clinic_id,
            entity_id=str(lot.public_id),
            description=f"received {doses} doses of {lot.product_name} lot {lot_number}",
        )
    return lot


def adjust_stock(*, actor: Actor, lot: VaccineLot, counted: int, reason: str) -> VaccineLot:
    """Set the count to what is in the fridge (a physical count, a wasted or broken vial)."""
    if not can(actor, Permission.MANAGE_VACCINE_STOCK, lot):
        raise PermissionDenied("Your role may not manage vaccine stock at this clinic.")
    reason = " ".join(reason.split())
    if counted < 0:
        raise ValidationError({"counted": "A count cannot be negative."})
    if not reason:
        raise ValidationError({"reason": "Say why the count changes (counted, wasted, ...)."})
    with transaction.atomic():
        changed = VaccineLot.objects.filter(pk=lot.pk, version=lot.version).update(
            doses_on_hand=counted, version=F("version") + 1, updated_at=clock.now()
        )
        if not changed:
            raise ValidationError("The lot changed meanwhile (a dose was given); count again.")
        before = lot.doses_on_hand
        lot.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Medication",
            clinic_id=lot.clinic_id,
            entity_id=str(lot.public_id),
            description=f"count {before} -> {counted}: {reason}"[:300],
        )
    return lot


def retire_lot(*, actor: Actor, lot: VaccineLot, reason: str) -> VaccineLot:
    """Take a lot out of use (expired, recalled, a cold-chain excursion, wasted): it stays in
    the records of the doses given from it, and no dose can be given from it again."""
    if not can(actor, Permission.MANAGE_VACCINE_STOCK, lot):
        raise PermissionDenied("Your role may not manage vaccine stock at this clinic.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why the lot is taken out of use."})
    with transaction.atomic():
        updated = VaccineLot.objects.filter(pk=lot.pk, active=True).update(
            active=False, version=F("version") + 1, updated_at=clock.now()
        )
        if not updated:
            raise ValidationError("This lot is already out of use.")
        lot.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Medication",
            clinic_id=lot.clinic_id,
            entity_id=str(lot.public_id),
            description=f"lot {lot.lot_number} taken out of use "
            f"({lot.doses_on_hand} doses): {reason}"[:300],
        )
    return lot


def end_standing_order(
    *, actor: Actor, order: StandingOrder, last_day: dt.date | None = None
) -> StandingOrder:
    """A provider ends a standing order (from `last_day`, today by default)."""
    if not can(actor, Permission.MANAGE_STANDING_ORDERS, order):
        raise PermissionDenied("Only a provider may end a standing order.")
    last_day = last_day or clock.today()
    if not order.active or (order.effective_to is not None and order.effective_to < clock.today()):
        raise ValidationError("This standing order has already ended; sign a new one instead.")
    if last_day < order.effective_from:
        raise ValidationError({"effective_to": "The order would end before it began."})
    with transaction.atomic():
        StandingOrder.objects.filter(pk=order.pk).update(
            effective_to=last_day, active=last_day >= clock.today(), updated_at=clock.now()
        )
        order.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "PlanDefinition",
            clinic_id=order.clinic_id,
            entity_id=str(order.public_id),
            description=f"standing order ended {last_day}: {order.title}"[:300],
        )
    return order


def save_standing_order(
    *,
    actor: Actor,
    clinic_id: int,
    vaccine_group: str,
    title: str,
    protocol: str,
    min_age_days: int = 0,
    max_age_days: int | None = None,
    conditions: str = "",
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
) -> StandingOrder:
    """A provider signs a standing order; it is authorized by them."""
    _at_clinic(
        actor,
        Permission.MANAGE_STANDING_ORDERS,
        clinic_id,
        "Only a provider may sign standing orders.",
    )
    if vaccine_group not in forecasting.supporting_data().vaccine_groups:
        raise ValidationError({"vaccine_group": "Unknown vaccine group."})
    if not title.strip() or not protocol.strip():
        raise ValidationError({"protocol": "A standing order needs a title and its protocol."})
    if max_age_days is not None and max_age_days < min_age_days:
        raise ValidationError({"max_age_days": "The maximum age is below the minimum age."})
    start = effective_from or clock.today()
    if effective_to is not None and effective_to < start:
        raise ValidationError({"effective_to": "The order ends before it starts."})
    with transaction.atomic():
        order = StandingOrder.objects.create(
            clinic_id=clinic_id,
            vaccine_group=vaccine_group,
            title=title.strip()[:120],
            protocol=protocol.strip(),
            min_age_days=min_age_days,
            max_age_days=max_age_days,
            conditions=conditions.strip()[:300],
            authorized_by_id=actor.signed_in_user_id,
            effective_from=start,
            effective_to=effective_to,
            created_by_id=actor.signed_in_user_id,
        )
        record(
            actor,
            Action.CREATE,
            "PlanDefinition",
            clinic_id=clinic_id,
            entity_id=str(order.public_id),
            description=f"standing order signed: {order.title}",
        )
    return order


# -- The registry ------------------------------------------------------------------------------


def queue_registry(dose: Immunization, action: str) -> RegistrySubmission | None:
    """Queue a VXU for this change (called inside the change's transaction). The HL7 adapter
    builds and sends it after commit, with retries; nothing is queued without a registry."""
    connection = RegistryConnection.objects.filter(clinic_id=dose.clinic_id, active=True).first()
    if connection is None:
        return None
    submission = RegistrySubmission.objects.create(
        clinic_id=dose.clinic_id,
        immunization=dose,
        action=action,
        control_id=uuid.uuid4().hex[:20].upper(),
        message="",
    )
    enqueue(VXU_KIND, {"submission": submission.pk}, subject=str(dose.public_id), background=True)
    return submission


def mark_reviewed(*, actor: Actor, submission: RegistrySubmission) -> RegistrySubmission:
    if not can(actor, Permission.REVIEW_REGISTRY, submission):
        raise PermissionDenied("Only the clinic manager reviews registry errors.")
    with transaction.atomic():
        RegistrySubmission.objects.filter(pk=submission.pk).update(
            reviewed_at=clock.now(), reviewed_by_id=actor.signed_in_user_id
        )
        submission.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "MessageHeader",
            clinic_id=submission.clinic_id,
            entity_id=str(submission.public_id),
            description=f"registry {submission.ack_code or submission.status} reviewed",
        )
    return submission
