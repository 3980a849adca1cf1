"""The clinic day's moves at the desk and between rooms: check in, room the patient, the
provider takes the patient and hands over to checkout, check out with the follow-up booked.
Each checks permission, validates, writes, audits and moves the visit (encounters.services.
move_visit, with its optimistic version check) in one transaction."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Clinic, Room
from medassist.clinics.services import occupy_room
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.services import move_visit
from medassist.encounters.stages import Stage
from medassist.flow.models import CheckIn, Checkout, ConsentSignature, FlowTargets
from medassist.flow.timing import Targets
from medassist.scheduling.models import AppointmentType
from medassist.scheduling.services import book_appointment

Form = ConsentSignature.Form

# Two identifiers, neither of them the room (The Joint Commission, NPSG.01.01.01).
IDENTIFIERS_NEEDED = 2


# How long a signature stays good, in days; None = until the form itself changes. The privacy
# notice is acknowledged once, at the first service (45 CFR 164.520(c)(2)(ii)), again when the
# clinic revises the notice (MEDASSIST_PRIVACY_NOTICE_DATE); the financial policy is clinic
# policy, yearly by default (MEDASSIST_FINANCIAL_POLICY_DAYS).
def consent_valid_days() -> dict[str, int | None]:
    return {Form.PRIVACY_NOTICE: None, Form.FINANCIAL_POLICY: settings.FINANCIAL_POLICY_DAYS}


def consent_current(form: str, signed_on: dt.date | None, today: dt.date) -> bool:
    """Whether a signature of `form` dated `signed_on` still holds today."""
    if signed_on is None:
        return False
    if form == Form.PRIVACY_NOTICE:
        revised = settings.PRIVACY_NOTICE_DATE
        return revised is None or signed_on >= revised
    days = consent_valid_days()[form]
    return days is None or (today - signed_on).days < days


@dataclass
class CheckInData:
    """What the desk verified. `stated_birth_date` is what the patient said, checked against
    the chart; `consents` maps each form to "signed" (today), "declined" or "on_file"."""

    stated_birth_date: dt.date | None
    name_confirmed: bool
    photo_id: bool
    demographics_confirmed: bool
    coverage_id: str  # a Coverage public id, or "self_pay"
    consents: dict[str, str]
    copay_amount: Decimal
    payment: str
    note: str = ""
    latest_signatures: dict[str, dt.date | None] = field(default_factory=dict)


def _errors_of_check_in(patient: Any, data: CheckInData, coverages: dict[str, Any]) -> dict:
    errors: dict[str, list[str]] = {}

    def add(name: str, text: str) -> None:
        errors.setdefault(name, []).append(text)

    if data.stated_birth_date is None:
        add("stated_birth_date", "Ask the patient for their date of birth and type it.")
    elif data.stated_birth_date != patient.birth_date:
        add(
            "stated_birth_date",
            "The date of birth given does not match this chart. Ask again; if it still "
            "differs, this may be another patient: do not check in, find the right chart.",
        )
    verified = [data.name_confirmed, data.stated_birth_date == patient.birth_date, data.photo_id]
    if sum(verified) < IDENTIFIERS_NEEDED and "stated_birth_date" not in errors:
        add("name_confirmed", "Verify two identifiers: the full name and the date of birth.")
    if not data.demographics_confirmed:
        add(
            "demographics_confirmed",
            "Confirm address, phone and emergency contact with the patient (correct the chart "
            "first if anything changed).",
        )
    if data.coverage_id != "self_pay" and data.coverage_id not in coverages:
        add("coverage", "Choose the coverage the patient presented, or self-pay.")
    for form in Form:
        answer = data.consents.get(form, "")
        if answer not in ("signed", "declined", "on_file"):
            add(f"consent_{form}", f"{form.label}: say whether it was signed today or declined.")
        elif answer == "on_file" and not consent_current(
            form, data.latest_signatures.get(form), clock.today()
        ):
            add(f"consent_{form}", f"{form.label}: no current signature on file; sign it today.")
    if data.payment not in CheckIn.Payment.values:
        add("payment", "Say how the copay was handled.")
    elif data.copay_amount < 0:
        add("copay_amount", "The copay cannot be negative.")
    elif data.copay_amount > 0 and data.payment in ("none_due", "bill_later"):
        add("payment", "A copay was entered: say how it was paid, or enter 0.")
    elif data.copay_amount == 0 and data.payment in ("cash", "card", "check"):
        add("copay_amount", "Enter the amount collected.")
    return errors


def latest_signatures(patient: Any) -> dict[str, dt.date | None]:
    """The date of each form's latest signature ("declined" answers are not signatures)."""
    found: dict[str, dt.date | None] = dict.fromkeys(Form.values)
    for form, signed_on in ConsentSignature.objects.filter(
        patient=patient, answer=ConsentSignature.Answer.SIGNED
    ).values_list("form", "signed_on"):
        if found[form] is None or signed_on > found[form]:  # type: ignore[operator]
            found[form] = signed_on
    return found


def check_in(
    *, actor: Actor, encounter: Encounter, expected_version: int, data: CheckInData
) -> CheckIn:
    """The patient is here: identity verified with two identifiers, demographics and coverage
    confirmed, the clinic's forms signed or declined, the copay recorded. The visit moves to
    "arrived" and its arrival time is now. Raises ValidationError by field."""
    if not can(actor, Permission.CHECK_IN, encounter):
        raise PermissionDenied("Your role may not check patients in at this clinic.")
    patient = encounter.patient
    today = clock.today()
    if clock.localtime(encounter.period_start).date() != today:
        raise ValidationError(
            f"This visit is on {clock.localtime(encounter.period_start):%a %d %b}: a patient "
            "is checked in on the day of the visit (reschedule it, or book a same-day visit)."
        )
    coverages = {str(c.public_id): c for c in patient.coverages.all()}
    data.latest_signatures = latest_signatures(patient)
    if errors := _errors_of_check_in(patient, data, coverages):
        raise ValidationError(errors)
    now = clock.now()
    identifiers = [CheckIn.Identifier.BIRTH_DATE]
    if data.name_confirmed:
        identifiers.insert(0, CheckIn.Identifier.NAME)
    if data.photo_id:
        identifiers.append(CheckIn.Identifier.PHOTO_ID)
    with transaction.atomic():
        move_visit(
            actor=actor,
            encounter=encounter,
            to=Stage.ARRIVED,
            expected_version=expected_version,
            note="checked in",
            period_start=now,
        )
        made = CheckIn.objects.create(
            encounter=encounter,
            at=now,
            by_id=actor.signed_in_user_id,
            identifiers=[str(i) for i in identifiers],
            demographics_confirmed=True,
            coverage=coverages.get(data.coverage_id),
            self_pay=data.coverage_id == "self_pay",
            copay_amount=data.copay_amount,
            payment=data.payment,
            note=data.note[:300],
        )
        for form, answer in data.consents.items():
            if answer in ("signed", "declined"):
                ConsentSignature.objects.create(
                    patient=patient,
                    form=form,
                    answer=answer,
                    signed_on=today,
                    encounter=encounter,
                    recorded_at=now,
                    recorded_by_id=actor.user_id,
                )
        record(
            actor,
            Action.CREATE,
            "CheckIn",
            patient=patient,
            entity_id=str(encounter.public_id),
            description=(
                f"identifiers {'+'.join(made.identifiers)}; "
                f"{'self-pay' if made.self_pay else 'coverage confirmed'}; copay "
                f"{made.copay_amount} ({made.payment}); forms "
                + ", ".join(f"{k}: {v}" for k, v in sorted(data.consents.items()))
            ),
        )
    return made


def room_patient(
    *, actor: Actor, encounter: Encounter, room: Room, expected_version: int
) -> Encounter:
    """Take the patient from the waiting room to a ready exam room; the one rooming becomes the
    visit's medical assistant."""
    if not can(actor, Permission.ROOM_PATIENT, encounter):
        raise PermissionDenied("Your role may not room patients at this clinic.")
    if room.clinic_id != encounter.clinic_id or not room.active:
        raise ValidationError("That room is not one of this clinic's rooms.")
    if encounter.stage != Stage.ARRIVED:
        raise ValidationError(
            "Only a checked-in patient can be roomed; "
            f"this visit is {Encounter.Stage(encounter.stage).label.lower()}."
            if encounter.stage == Stage.SCHEDULED
            else f"This visit is already {Encounter.Stage(encounter.stage).label.lower()}."
        )
    with transaction.atomic():  # a refused move gives the room back
        occupy_room(actor=actor, room=room)
        return move_visit(
            actor=actor,
            encounter=encounter,
            to=Stage.ROOMED,
            expected_version=expected_version,
            note=f"roomed in {room.name}",
            room=room,
            medical_assistant_id=actor.signed_in_user_id,
        )


def start_provider_visit(*, actor: Actor, encounter: Encounter, expected_version: int) -> Encounter:
    """The provider goes in to see the patient."""
    return move_visit(
        actor=actor, encounter=encounter, to=Stage.WITH_PROVIDER, expected_version=expected_version
    )


def hand_to_checkout(*, actor: Actor, encounter: Encounter, expected_version: int) -> Encounter:
    """The provider is done; the patient leaves the room (which is now dirty) for checkout."""
    return move_visit(
        actor=actor,
        encounter=encounter,
        to=Stage.READY_FOR_CHECKOUT,
        expected_version=expected_version,
    )


@dataclass
class FollowUp:
    appointment_type: AppointmentType
    provider: Any
    start: dt.datetime
    reason: str = ""


def check_out(
    *,
    actor: Actor,
    encounter: Encounter,
    expected_version: int,
    plan: str,
    follow_up: FollowUp | None = None,
    note: str = "",
) -> Checkout:
    """Close the visit: book the follow-up (or record why there is none) and move the visit to
    done. The booking and the close are one transaction: a follow-up that cannot be booked
    leaves the visit open, with the reason."""
    if not can(actor, Permission.CHECK_OUT, encounter):
        raise PermissionDenied("Your role may not check patients out at this clinic.")
    if plan not in Checkout.Plan.values:
        raise ValidationError({"plan": ["Say whether a follow-up was booked, and if not why."]})
    if plan == Checkout.Plan.BOOKED and follow_up is None:
        raise ValidationError({"plan": ["Choose the follow-up's time before closing the visit."]})
    if encounter.stage != Stage.READY_FOR_CHECKOUT:
        label = Encounter.Stage(encounter.stage).label.lower()
        raise ValidationError(
            f"Only a visit the provider has finished can be checked out; this one is {label}."
        )
    now = clock.now()
    with transaction.atomic():
        booked = None
        if plan == Checkout.Plan.BOOKED and follow_up is not None:
            booked = book_appointment(
                actor=actor,
                patient=encounter.patient,
                provider=follow_up.provider,
                appointment_type=follow_up.appointment_type,
                start=follow_up.start,
                reason=follow_up.reason or f"follow-up of {clock.localtime(now):%m/%d/%Y}",
            )
        move_visit(
            actor=actor,
            encounter=encounter,
            to=Stage.DONE,
            expected_version=expected_version,
            note="checked out",
            period_end=now,
        )
        made = Checkout.objects.create(
            encounter=encounter,
            at=now,
            by_id=actor.signed_in_user_id,
            plan=plan,
            follow_up=booked,
            note=note[:300],
        )
        record(
            actor,
            Action.CREATE,
            "Checkout",
            patient=encounter.patient,
            entity_id=str(encounter.public_id),
            description=Checkout.Plan(plan).label
            + (
                f": {booked.public_id} at {clock.localtime(booked.start):%Y-%m-%d %H:%M}"
                if booked
                else ""
            ),
        )
    return made


def set_targets(*, actor: Actor, clinic: Clinic, targets: Targets) -> FlowTargets:
    """The clinic manager sets the clinic's flow-board targets."""
    if not can(actor, Permission.MANAGE_SCHEDULE, clinic):
        raise PermissionDenied("Only the clinic manager sets the flow board's targets.")
    values = {k: getattr(targets, k) for k in Targets.__dataclass_fields__}
    if any(v < 1 for v in values.values()):
        raise ValidationError("Every target is at least one minute.")
    with transaction.atomic():
        row, _ = FlowTargets.objects.update_or_create(
            clinic=clinic,
            defaults=values | {"updated_at": clock.now(), "updated_by_id": actor.user_id},
        )
        record(
            actor,
            Action.UPDATE,
            "FlowTargets",
            clinic_id=clinic.pk,
            description=", ".join(f"{k} {v} min" for k, v in values.items()),
        )
    return row
