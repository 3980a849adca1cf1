"""Ordering lab tests, collecting the specimens, labelling them, and their trail to the lab.

place_order() is how a provider orders: one LabRequisition per performing lab (each is sent as
one ORM^O01 / OML^O21), one LabOrder per test with its placer number, and the new-order
message (ORC-1 NW) queued in the same transaction for the HL7 adapter to send after commit.
cancel_order() revokes one test and queues its cancel message (ORC-1 CA). A message the lab
could not be reached with (failed) or answered with an error (AE) is sent again by the clinic
manager with resend_order_message(); messages that waited for the lab's address go when the
lab is saved with it (save_lab).

collect_specimens() is how the medical assistant records the draw. Before anything is saved it
checks, and refuses with a message naming the field and the fix:
  - the patient is the one on the requisition: two identifiers, the full name said by the
    patient and confirmed, and the date of birth typed (The Joint Commission NPSG.01.01.01:
    two patient identifiers when collecting blood and other specimens);
  - the tests are still to collect (not cancelled, not collected already: a double submit);
  - a timed draw is not collected before its time;
  - the method suits the containers (CLSI GP42: no capillary blood for coagulation tests or
    blood cultures; a urine culture needs a clean-catch midstream specimen);
  - no more than two venipuncture attempts by one collector (CLSI GP41, 7th ed.);
  - the patient was asked about fasting when a test needs it (a patient who is not fasting is
    still collected, with the problem recorded: the provider decides what the result is worth).
Then, in one transaction: one Specimen per container (tests sharing a container type share a
tube), each with its accession number, a "collected" custody event, the orders moved on, and
the audit entries.

Labels, processing (centrifuge, aliquot, cold), the courier's manifest, the hand-off and the
lab's receipt are each a custody event with who and when; the catalog of tests and labs is
kept by the clinic manager (save_lab, save_test)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.events.models import OutboxMessage
from medassist.events.services import enqueue
from medassist.labs.draw import CONTAINERS, Container, in_order_of_draw
from medassist.labs.models import (
    CustodyEvent,
    Handling,
    LabOrder,
    LabRequisition,
    LabTest,
    Manifest,
    OrderMessage,
    PerformingLab,
    Priority,
    Specimen,
    SpecimenType,
)
from medassist.labs.services.common import at_clinic, clean, refuse
from medassist.patients.models import Patient

LAB_ORDER_KIND = "lab.order"
#: Why an order message waits for a lab without an MLLP host and port (OrderMessage.last_error).
NO_ADDRESS = "the lab has no address: set it on the catalog page"
#: What a manager may send again: the lab could not be reached, or answered AE. Not AR: a
#: rejected message is refused whatever the number of times it is sent.
RESENDABLE = (OrderMessage.Status.FAILED, OrderMessage.Status.ERROR)

MAX_DIAGNOSES = 12  # the 837P claim carries 12 diagnosis pointers; labs take as many
MAX_TIMED_DRAW_AHEAD = dt.timedelta(days=30)
# The clock of the computer the MA types on may run a little ahead of the server's.
FUTURE_SLACK = dt.timedelta(minutes=2)
# CLSI GP41 (7th ed., 2017): a collector makes no more than two venipuncture attempts on a
# patient; after two failures another collector tries (or the provider is told).
MAX_ATTEMPTS_PER_COLLECTOR = 2
MAX_ATTEMPTS_FIELD = 3  # the form lets a third be typed, so that it is refused with the reason
# BD Vacutainer: serum tubes with clot activator (red, gold SST) stand 30 minutes upright to
# clot before they are centrifuged.
CLOT_MINUTES = 30
CLOT_TUBES = frozenset({Container.RED, Container.GOLD_SST})

COLLECTABLE = (LabOrder.Stage.TO_COLLECT, LabOrder.Stage.NOT_COLLECTED)
NOT_CANCELLABLE = (LabOrder.Stage.PARTIAL, LabOrder.Stage.RESULTED, LabOrder.Stage.CANCELLED)
# Where a specimen stands before it leaves the clinic.
AT_CLINIC = (Specimen.Status.COLLECTED, Specimen.Status.LABELED, Specimen.Status.PROCESSED)
BLOOD_METHODS = (Specimen.Method.VENIPUNCTURE, Specimen.Method.CAPILLARY)
URINE_METHODS = (Specimen.Method.CLEAN_CATCH, Specimen.Method.RANDOM_URINE)
UNABLE_PROBLEMS = (Specimen.Problem.UNABLE, Specimen.Problem.REFUSED)
# CLSI GP42 (capillary blood collection): coagulation tests, blood cultures and tests needing
# large volumes are collected by venipuncture.
VENOUS_ONLY = frozenset({Container.BLOOD_CULTURE, Container.YELLOW_SPS, Container.LIGHT_BLUE})
# IDSA/ASM guide to the use of the microbiology laboratory (Miller et al., Clin Infect Dis 2018):
# urine for culture is a clean-catch midstream specimen (or catheterized), never a random void.
CLEAN_CATCH_ONLY = frozenset({Container.URINE_TRANSPORT})
# Serum and plasma are separated by centrifuging; whole blood (a CBC, an HbA1c) is tested
# unspun, and culture bottles are never opened or spun at the clinic.
SPUN_TYPES = frozenset({SpecimenType.SERUM, SpecimenType.PLASMA})


# -- Codes -------------------------------------------------------------------------------------

# ICD-10-CM (CDC/NCHS, Official Guidelines for Coding and Reporting, Section I.A): 3 to 7
# characters; the first a letter, the second a digit, the third a digit or letter (C4A, Z3A),
# a decimal point after the third, then up to four more letters or digits (S72.001A, T36.0X1A).
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
_LOINC = re.compile(r"^(\d{1,7})-(\d)$")
_HL7_DELIMITERS = re.compile(r"[|^~\\&\r\n]")
# CMS: a CLIA number is ten characters, the state code (two digits), the letter D, then seven
# digits (e.g. 14D0000000 for Illinois).
_CLIA = re.compile(r"^\d{2}D\d{7}$")


def normalize_icd10cm(text: str) -> str:
    """The code in its printed form (E11.9), from what a provider types (e119, E11.9 ). Raises
    ValueError naming what is wrong."""
    raw = "".join(text.split()).upper()
    if not raw:
        raise ValueError("empty code")
    if "." not in raw and len(raw) > 3:
        raw = f"{raw[:3]}.{raw[3:]}"
    if not _ICD10CM.match(raw):
        raise ValueError(
            f"{text.strip()[:20]!r} is not an ICD-10-CM code (a letter, two characters, then "
            "an optional point and up to four more, e.g. E11.9 or Z00.00)"
        )
    return raw


@dataclass(frozen=True)
class Diagnosis:
    """Why the test is ordered (DG1 / ServiceRequest.reasonCode): an ICD-10-CM code and the
    provider's words for it."""

    code: str
    display: str = ""

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "display": self.display}


def parse_diagnoses(text: str) -> list[Diagnosis]:
    """One diagnosis a line, the code first then the words: "E11.9 Type 2 diabetes". Raises
    ValidationError on "diagnoses" naming the line."""
    found: list[Diagnosis] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = " ".join(line.replace("\x00", "").split())
        if not line:
            continue
        code, _, words = line.partition(" ")
        try:
            found.append(Diagnosis(normalize_icd10cm(code), words.strip(" -:,")[:120]))
        except ValueError as error:
            raise ValidationError({"diagnoses": f"Line {number}: {error}."}) from error
    return found


def loinc_check_digit(number: str) -> int:
    """The mod-10 check digit of a LOINC code's number part (LOINC Users' Guide, "Calculating
    Mod 10 check digits", loinc.org/kb/users-guide/calculating-mod-10-check-digits): from the
    rightmost digit leftwards, double every other digit starting with the rightmost, add the
    digits of the products and the undoubled digits, and take what the sum needs to reach the
    next multiple of ten."""
    if not number.isdigit() or not number.isascii():
        raise ValueError("a LOINC number is digits")
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit // 10 + digit % 10
        total += digit
    return (10 - total % 10) % 10


def normalize_loinc(text: str) -> str:
    """A LOINC code checked for its shape and check digit; raises ValueError with the fix."""
    code = "".join(text.split())
    found = _LOINC.match(code)
    if not found:
        raise ValueError(
            f"{text.strip()[:20]!r} is not a LOINC code: it is up to seven digits, a hyphen and "
            "a check digit (e.g. 2345-7)"
        )
    number, check = found.groups()
    number = number.lstrip("0") or "0"
    expected = loinc_check_digit(number)
    if int(check) != expected:
        raise ValueError(
            f"LOINC {code} has a wrong check digit (it would be {number}-{expected}): copy the "
            "code from the lab's test directory or loinc.org"
        )
    return f"{number}-{check}"


# -- Numbers -----------------------------------------------------------------------------------


def _prefix(clinic: Clinic, length: int = 8) -> str:
    """The clinic's code as it starts every number: capitals and digits only (safe in HL7
    fields, in Code 128 and on a label)."""
    letters = re.sub(r"[^A-Z0-9]", "", clinic.code.upper())[:length]
    return letters or "LAB"


def requisition_number(clinic: Clinic, pk: int) -> str:
    return f"{_prefix(clinic)}-REQ{pk:06d}"  # <= 30 characters


def placer_number(clinic: Clinic, pk: int) -> str:
    """ServiceRequest.identifier (type PLAC), ORC-2 / OBR-2: the clinic's code and the order's
    row number, so unique by construction (<= 30 characters)."""
    return f"{_prefix(clinic)}-{pk:08d}"


def accession_number(clinic: Clinic, pk: int) -> str:
    """The specimen's accession (Code 128 on the label): capitals, digits and a hyphen, all in
    Code 128's set B, at most 20 characters."""
    return f"{_prefix(clinic, 5)}-S{pk:07d}"


def manifest_number(clinic: Clinic, pk: int) -> str:
    return f"{_prefix(clinic)}-M{pk:06d}"  # <= 20 characters


def _placeholder(length: int) -> str:
    return f"~{uuid.uuid4().hex}"[:length]


def _control_id() -> str:
    return uuid.uuid4().hex[:20].upper()  # MSH-10 (ST, 20 characters in v2.5.1)


def _hm(value: dt.datetime) -> str:
    return f"{clock.localtime(value):%H:%M}"


def _minute(value: dt.datetime) -> dt.datetime:
    """Times typed into a form have minutes, not seconds: compare at that precision."""
    return value.replace(second=0, microsecond=0)


def _queue_message(
    requisition: LabRequisition, control: str, orders: Iterable[LabOrder]
) -> OrderMessage:
    message = OrderMessage.objects.create(
        clinic_id=requisition.clinic_id,
        requisition=requisition,
        control=control,
        control_id=_control_id(),
    )
    message.orders.set(list(orders))
    _send_later(message, background=True)
    return message


def _send_later(
    message: OrderMessage, *, process_after_commit: bool = True, background: bool = False
) -> None:
    enqueue(
        LAB_ORDER_KIND,
        {"message_id": message.pk},
        subject=str(message.requisition.public_id),
        process_after_commit=process_after_commit,
        background=background,
    )


def wake_order_messages(
    messages: Iterable[OrderMessage], *, process_after_commit: bool = False, idle_only: bool = True
) -> list[OrderMessage]:
    """Queue the sending again of order messages that wait ("queued") for what has now
    happened: the lab got its address, or the new order a cancel follows was accepted. Those
    with an outbox entry still queued (a retry after a refused connection, say) keep it, unless
    ``idle_only`` is False (the caller knows that entry may be about to give up waiting: the
    adapter's handler claims the message before sending, so it never goes twice at once).
    Returns the messages queued again."""
    waiting = [m for m in messages if m.status == OrderMessage.Status.QUEUED]
    if not waiting:
        return []
    busy: set[int] = set()
    if idle_only:
        busy = {
            int(pk)
            for pk in OutboxMessage.objects.filter(
                kind=LAB_ORDER_KIND,
                status=OutboxMessage.Status.QUEUED,
                payload__message_id__in=[m.pk for m in waiting],
            ).values_list("payload__message_id", flat=True)
        }
    woken = [m for m in waiting if m.pk not in busy]
    for message in woken:
        _send_later(message, process_after_commit=process_after_commit)
    return woken


def resend_order_message(*, actor: Actor, message: OrderMessage) -> OrderMessage:
    """Send a failed message (the lab could not be reached) or one the lab answered with an
    error (AE) again, as it was: the same frozen bytes under the same MSH-10, so the lab can
    tell a resend from a new order. Its status goes back to queued, its attempts to 0, the
    last answer is cleared (it stays in the audit trail); a cancel waiting for this new order
    follows once the lab accepts it."""
    at_clinic(
        actor,
        [Permission.MANAGE_LAB_INTERFACE],
        message.clinic_id,
        "Only the clinic manager sends messages to the lab again.",
    )
    with transaction.atomic():
        locked = (
            OrderMessage.objects.select_for_update()
            .select_related("requisition", "requisition__lab", "requisition__patient")
            .get(pk=message.pk)
        )
        lab = locked.requisition.lab
        if locked.status not in RESENDABLE:
            raise refuse(
                "general",
                f"Message {locked.control_id} is {locked.get_status_display().lower()}: only a "
                "message that failed or that the lab answered with an error (AE) is sent again."
                + (
                    " A rejected one (AR) needs the order put right and placed again."
                    if locked.status == OrderMessage.Status.REJECTED
                    else ""
                ),
                "not_resendable",
            )
        if not lab.enabled:
            raise refuse(
                "general",
                f"The interface to {lab.name} is turned off: turn it on on the catalog page, "
                "then send the message again.",
                "lab_disabled",
            )
        if not lab.host or not lab.port:
            raise refuse(
                "general",
                f"{NO_ADDRESS[0].upper()}{NO_ADDRESS[1:]}, then send the message again.",
                "no_address",
            )
        before = locked.get_status_display()
        said = locked.ack_text or locked.last_error
        OrderMessage.objects.filter(pk=locked.pk).update(
            status=OrderMessage.Status.QUEUED,
            attempts=0,
            last_error="",
            ack_code="",
            ack_text="",
            ack_errors=[],
            ack_raw="",
            answered_at=None,
            updated_at=clock.now(),
        )
        locked.refresh_from_db()
        _send_later(locked, background=True)
        record(
            actor,
            Action.UPDATE,
            "MessageHeader",
            patient=locked.requisition.patient,
            clinic_id=locked.clinic_id,
            entity_id=str(locked.public_id),
            description=(
                f"{lab.message_type} {locked.control_id} ({locked.control}; requisition "
                f"{locked.requisition.number}) to {lab.name} queued to be sent again; it was "
                f"{before}" + (f": {said}" if said else "")
            )[:500],
        )
    return locked


# -- Ordering ----------------------------------------------------------------------------------


def place_order(
    *,
    actor: Actor,
    patient: Patient,
    tests: Sequence[LabTest],
    diagnoses: Sequence[Diagnosis],
    priority: str = Priority.ROUTINE,
    note: str = "",
    collect_not_before: dt.datetime | None = None,
    encounter: Encounter | None = None,
) -> list[LabRequisition]:
    """Order tests for a patient: one requisition per performing lab, one order per test, each
    requisition's new-order message queued for the lab. Returns the requisitions in the order
    of their labs' first test."""
    if not can(actor, Permission.ORDER_LABS, encounter or patient):
        raise PermissionDenied("Only a provider may order lab tests at this clinic.")
    if encounter is not None:
        if encounter.patient_id != patient.pk:
            raise refuse("encounter", "This visit is another patient's.", "wrong_patient")
        if encounter.stage in (Encounter.Stage.CANCELLED, Encounter.Stage.NO_SHOW):
            raise refuse(
                "encounter",
                "This visit did not take place; order from the patient's page instead.",
                "visit_cancelled",
            )
    chosen: list[LabTest] = list({t.pk: t for t in tests}.values())
    if not chosen:
        raise refuse("tests", "Choose at least one test.", "no_tests")
    for test in chosen:
        if test.clinic_id != patient.clinic_id or not test.active:
            raise refuse("tests", f"{test.name} is not in this clinic's catalog.", "not_in_catalog")
        if not test.lab.enabled:
            raise refuse(
                "tests",
                f"{test.lab.name} does not take orders at present ({test.name}); ask the clinic "
                "manager.",
                "lab_disabled",
            )
    if priority not in Priority.values:
        raise refuse("priority", "Choose the priority.", "priority")
    codes: list[Diagnosis] = []
    for diagnosis in diagnoses:
        try:
            code = normalize_icd10cm(diagnosis.code)
        except ValueError as error:
            raise refuse("diagnoses", f"{str(error).capitalize()}.", "icd10") from error
        if code not in {d.code for d in codes}:
            codes.append(Diagnosis(code, clean(diagnosis.display, 120)))
    if not codes:
        # CMS (Medicare Claims Processing Manual, ch. 16): a lab test is paid for the diagnosis
        # the ordering provider gives; labs require one on every requisition.
        raise refuse(
            "diagnoses",
            "Give at least one ICD-10-CM diagnosis code: the lab needs the reason for the test.",
            "no_diagnosis",
        )
    if len(codes) > MAX_DIAGNOSES:
        raise refuse("diagnoses", f"At most {MAX_DIAGNOSES} diagnoses.", "too_many")
    now = clock.now()
    if collect_not_before is not None:
        if collect_not_before < _minute(now):
            raise refuse(
                "collect_not_before",
                "That time has passed: leave it empty to collect now.",
                "past",
            )
        if collect_not_before > now + MAX_TIMED_DRAW_AHEAD:
            raise refuse(
                "collect_not_before",
                f"A timed draw is at most {MAX_TIMED_DRAW_AHEAD.days} days ahead.",
                "too_far",
            )
    note = clean(note, 300)
    clinic = Clinic.objects.get(pk=patient.clinic_id)
    by_lab: dict[int, list[LabTest]] = {}
    for test in chosen:
        by_lab.setdefault(test.lab_id, []).append(test)
    with transaction.atomic():
        # One order at a time per patient, so that two providers (or a double click) cannot
        # both order the same test: the second waits here, then sees the first.
        Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()
        open_tests = {
            o.test_id: o
            for o in LabOrder.objects.filter(
                patient=patient,
                test__in=chosen,
                status=LabOrder.Status.ACTIVE,
                # not collected yet, including after a failed draw (it stays on the worklist)
                stage__in=COLLECTABLE,
            ).select_related("requisition", "requisition__ordered_by", "test")
        }
        for test in chosen:
            if (already := open_tests.get(test.pk)) is not None:
                who = already.requisition.ordered_by
                raise refuse(
                    "tests",
                    f"{test.name} is already ordered and waiting to be collected (ordered "
                    f"{clock.localtime(already.requisition.ordered_at):%m/%d/%Y %H:%M} by "
                    f"{who.get_full_name() or who.get_username()}). Untick it, or cancel that "
                    "order first.",
                    "duplicate",
                )
        requisitions = []
        for lab_tests in by_lab.values():
            lab = lab_tests[0].lab
            requisition = LabRequisition.objects.create(
                clinic_id=patient.clinic_id,
                patient=patient,
                encounter=encounter,
                lab=lab,
                number=_placeholder(30),
                ordered_by_id=actor.signed_in_user_id,
                ordered_at=now,
                priority=priority,
                diagnoses=[d.as_json() for d in codes],
                note=note,
                created_by_id=actor.signed_in_user_id,
            )
            requisition.number = requisition_number(clinic, requisition.pk)
            LabRequisition.objects.filter(pk=requisition.pk).update(number=requisition.number)
            orders = []
            for test in lab_tests:
                order = LabOrder.objects.create(
                    clinic_id=patient.clinic_id,
                    patient=patient,
                    requisition=requisition,
                    test=test,
                    placer_number=_placeholder(30),
                    collect_not_before=collect_not_before,
                    created_by_id=actor.signed_in_user_id,
                )
                order.placer_number = placer_number(clinic, order.pk)
                LabOrder.objects.filter(pk=order.pk).update(placer_number=order.placer_number)
                orders.append(order)
            _queue_message(requisition, "NW", orders)
            record(
                actor,
                Action.CREATE,
                "ServiceRequest",
                patient=patient,
                clinic_id=patient.clinic_id,
                entity_id=str(requisition.public_id),
                description=(
                    f"ordered {', '.join(t.name for t in lab_tests)} from {lab.name} "
                    f"({requisition.get_priority_display()}); requisition {requisition.number}; "
                    f"diagnoses {', '.join(d.code for d in codes)}"
                ),
            )
            requisitions.append(requisition)
    return requisitions


def cancel_order(*, actor: Actor, order: LabOrder, reason: str) -> LabOrder:
    """Revoke one ordered test (the lab is sent ORC-1 CA for it). Refused once the lab has
    reported results: a resulted test is corrected by the lab, not cancelled here."""
    if not can(actor, Permission.ORDER_LABS, order):
        raise PermissionDenied("Only a provider may cancel a lab order.")
    reason = clean(reason, 200)
    if len(reason) < 3:
        raise refuse("reason", "Say why the test is cancelled.", "reason")
    with transaction.atomic():
        locked = (
            LabOrder.objects.select_for_update()
            .select_related("requisition", "test")
            .get(pk=order.pk)
        )
        if locked.status != LabOrder.Status.ACTIVE or locked.stage in NOT_CANCELLABLE:
            if locked.stage == LabOrder.Stage.CANCELLED or locked.status == LabOrder.Status.REVOKED:
                message = f"{locked.test.name} was already cancelled."
            else:
                message = (
                    f"The lab has already reported results for {locked.test.name}; it can no "
                    "longer be cancelled. Call the lab to correct the report."
                )
            raise refuse("reason", message, "not_cancellable")
        stage_before = locked.get_stage_display()
        LabOrder.objects.filter(pk=locked.pk).update(
            status=LabOrder.Status.REVOKED,
            stage=LabOrder.Stage.CANCELLED,
            cancelled_reason=reason,
            updated_at=clock.now(),
        )
        locked.refresh_from_db()
        _queue_message(locked.requisition, "CA", [locked])
        record(
            actor,
            Action.UPDATE,
            "ServiceRequest",
            patient=locked.patient,
            clinic_id=locked.clinic_id,
            entity_id=str(locked.public_id),
            description=(
                f"cancelled {locked.test.name} ({locked.placer_number}; was {stage_before}): "
                f"{reason}"
            )[:500],
        )
    return locked


# -- Collection --------------------------------------------------------------------------------


@dataclass
class Collection:
    """What the collection form (or a test) hands to collect_specimens()."""

    confirm_name: bool  # the patient said their full name and it matches the requisition
    confirm_birth_date: dt.date | None  # the second identifier, as the patient said it
    method: str = ""  # for blood: venipuncture or capillary
    urine_method: str = ""  # for urine: clean catch or random
    body_site: str = ""
    attempts: int = 1  # venipuncture attempts by this collector for this draw
    problems: Sequence[str] = ()
    fasting_hours_reported: int | None = None
    collected_at: dt.datetime | None = None
    note: str = ""


@dataclass
class Collected:
    specimens: list[Specimen]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tube:
    """One container the requisition's tests need, in the order of draw."""

    container: str
    specimen_type: str
    orders: tuple[LabOrder, ...]
    volume_ml: Decimal
    fasting_hours: int

    @property
    def blood(self) -> bool:
        return CONTAINERS[self.container].blood


def tubes_for(orders: Sequence[LabOrder], *, capillary: bool = False) -> list[Tube]:
    """One tube per distinct container, in the CLSI order of draw (GP41 venous; GP42 for a
    capillary collection); tests sharing a container share the tube and add their volumes."""
    grouped: dict[str, list[LabOrder]] = {}
    for order in orders:
        grouped.setdefault(order.test.container, []).append(order)
    return [
        Tube(
            container=container,
            specimen_type=grouped[container][0].test.specimen_type,
            orders=tuple(grouped[container]),
            volume_ml=sum((o.test.volume_ml for o in grouped[container]), Decimal("0")),
            fasting_hours=max(o.test.fasting_hours for o in grouped[container]),
        )
        for container in in_order_of_draw(list(grouped), capillary=capillary)
    ]


def _method_for(tube: Tube, collection: Collection) -> str:
    if tube.blood:
        return collection.method
    if tube.container in (Container.URINE_CUP, Container.URINE_TRANSPORT):
        return collection.urine_method
    if tube.container == Container.SWAB:
        return Specimen.Method.SWAB
    return Specimen.Method.STOOL


def _default_method(tube: Tube) -> str:
    if tube.blood:
        return Specimen.Method.VENIPUNCTURE
    if tube.container == Container.URINE_TRANSPORT:
        return Specimen.Method.CLEAN_CATCH
    if tube.container == Container.URINE_CUP:
        return Specimen.Method.RANDOM_URINE
    return Specimen.Method.SWAB if tube.container == Container.SWAB else Specimen.Method.STOOL


def _earlier_attempts(requisition: LabRequisition, user_id: int) -> int:
    """Venipuncture attempts this collector already made for the requisition: each failed draw
    ("unable to collect") is recorded once per container at the same moment."""
    sessions: dict[dt.datetime | None, int] = {}
    for specimen in Specimen.objects.filter(
        requisition=requisition,
        status=Specimen.Status.NOT_COLLECTED,
        collected_by_id=user_id,
        method__in=BLOOD_METHODS,
    ).only("collected_at", "attempts"):
        sessions[specimen.collected_at] = max(
            sessions.get(specimen.collected_at, 0), specimen.attempts
        )
    return sum(sessions.values())


def _check_attempts(requisition: LabRequisition, actor: Actor, attempts: int) -> None:
    if not 0 <= attempts <= MAX_ATTEMPTS_FIELD:
        raise refuse("attempts", f"Attempts are at most {MAX_ATTEMPTS_FIELD}.", "attempts_range")
    earlier = _earlier_attempts(requisition, actor.signed_in_user_id)
    if earlier + attempts > MAX_ATTEMPTS_PER_COLLECTOR:
        made = f"{earlier} earlier and {attempts} now" if earlier else f"{attempts}"
        raise refuse(
            "attempts",
            f"CLSI GP41: no more than {MAX_ATTEMPTS_PER_COLLECTOR} venipuncture attempts per "
            f"collector ({made} by you). Ask a colleague to try, or record 'unable to collect' "
            "and tell the provider.",
            "too_many_attempts",
        )


def _orders_to_collect(requisition: LabRequisition) -> list[LabOrder]:
    orders = list(
        requisition.orders.select_related("test").order_by("test__sort_order", "test__name", "id")
    )
    open_orders = [
        o for o in orders if o.status == LabOrder.Status.ACTIVE and o.stage in COLLECTABLE
    ]
    if open_orders:
        return open_orders
    if orders and all(o.stage == LabOrder.Stage.CANCELLED for o in orders):
        raise refuse(
            "general", "The tests on this requisition were cancelled: collect nothing.", "cancelled"
        )
    last = (
        CustodyEvent.objects.filter(
            specimen__requisition=requisition, step=CustodyEvent.Step.COLLECTED
        )
        .select_related("by")
        .order_by("-at")
        .first()
    )
    when = (
        f" at {_hm(last.at)} by {last.by.get_full_name() if last.by else last.by_name}"
        if last
        else ""
    )
    raise refuse(
        "general",
        f"These specimens were already collected{when}; print their labels instead.",
        "already_collected",
    )


def _lock_collectable(requisition: LabRequisition, wanted: list[int]) -> None:
    """In the transaction: one collection (or not-collected record) at a time per requisition.
    A double submit waits here, then finds the orders `wanted` (sorted ids) collected and is
    refused with the reason (collected, cancelled): nothing is collected twice."""
    LabRequisition.objects.select_for_update().filter(pk=requisition.pk).values_list("pk").first()
    still = sorted(
        LabOrder.objects.filter(
            pk__in=wanted, status=LabOrder.Status.ACTIVE, stage__in=COLLECTABLE
        ).values_list("pk", flat=True)
    )
    if still != wanted:
        _orders_to_collect(requisition)  # raises the reason (collected, cancelled)
        raise refuse("general", "The requisition changed meanwhile; open it again.", "changed")


def _timing(orders: Sequence[LabOrder], collected_at: dt.datetime) -> None:
    for order in orders:
        if order.collect_not_before and _minute(collected_at) < _minute(order.collect_not_before):
            raise refuse(
                "collected_at",
                f"Timed draw: {order.test.name} is not to be collected before "
                f"{_hm(order.collect_not_before)}. Wait until then, or ask the provider.",
                "too_early",
            )


def _collection_time(
    requisition: LabRequisition, collected_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    at = collected_at or now
    if at > now + FUTURE_SLACK:
        raise refuse("collected_at", "The collection time is in the future.", "future")
    if _minute(at) < _minute(requisition.ordered_at):
        raise refuse(
            "collected_at",
            f"The collection time is before the tests were ordered "
            f"({clock.localtime(requisition.ordered_at):%m/%d/%Y %H:%M}).",
            "before_order",
        )
    return at


def _check_methods(tubes: Sequence[Tube], collection: Collection) -> None:
    if any(t.blood for t in tubes):
        if collection.method not in BLOOD_METHODS:
            raise refuse(
                "method", "Choose how the blood is drawn (venipuncture or capillary).", "method"
            )
        if collection.method == Specimen.Method.CAPILLARY:
            venous = [t for t in tubes if t.container in VENOUS_ONLY]
            if venous:
                raise refuse(
                    "method",
                    f"CLSI GP42: {CONTAINERS[venous[0].container].label} "
                    f"({', '.join(o.test.name for o in venous[0].orders)}) needs venipuncture, "
                    "not a capillary stick.",
                    "capillary_not_allowed",
                )
    urine = [t for t in tubes if t.container in (Container.URINE_CUP, Container.URINE_TRANSPORT)]
    if urine:
        if collection.urine_method not in URINE_METHODS:
            raise refuse(
                "urine_method",
                "Choose how the urine is collected (clean catch or random).",
                "method",
            )
        culture = [t for t in urine if t.container in CLEAN_CATCH_ONLY]
        if culture and collection.urine_method != Specimen.Method.CLEAN_CATCH:
            raise refuse(
                "urine_method",
                f"{', '.join(o.test.name for o in culture[0].orders)} needs a clean-catch "
                "midstream specimen: give the patient the cleansing wipes and the instructions.",
                "clean_catch",
            )


def _problems(problems: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(problems))
    allowed = set(Specimen.Problem.values) - set(UNABLE_PROBLEMS)
    unknown = [p for p in chosen if p not in allowed]
    if unknown:
        raise refuse(
            "problems",
            "Unknown problem; for a specimen that could not be collected use 'Unable to collect'.",
            "problem",
        )
    return chosen


def _new_specimen(
    actor: Actor,
    requisition: LabRequisition,
    clinic: Clinic,
    tube: Tube,
    *,
    step: str,
    recorded_at: dt.datetime,
    detail: str,
    collected_at: dt.datetime,
    **fields: Any,
) -> Specimen:
    """A specimen of `tube` for its orders on the requisition, collected (or not) by the
    actor at `collected_at`: its accession number, and its first custody event (`step`)."""
    specimen = Specimen.objects.create(
        clinic_id=requisition.clinic_id,
        patient_id=requisition.patient_id,
        requisition=requisition,
        accession=_placeholder(20),
        container=tube.container,
        specimen_type=tube.specimen_type,
        collected_at=collected_at,
        collected_by_id=actor.signed_in_user_id,
        created_by_id=actor.signed_in_user_id,
        **fields,
    )
    specimen.accession = accession_number(clinic, specimen.pk)
    Specimen.objects.filter(pk=specimen.pk).update(accession=specimen.accession)
    specimen.orders.set(tube.orders)
    CustodyEvent.objects.create(
        specimen=specimen,
        step=step,
        at=collected_at,
        by_id=actor.signed_in_user_id,
        detail=clean(detail, 300),
        recorded_at=recorded_at,
    )
    return specimen


def collect_specimens(
    *, actor: Actor, requisition: LabRequisition, collection: Collection
) -> Collected:
    """Record the collection of a requisition's specimens (one per container). Raises a
    ValidationError keyed by form field when a check fails, PermissionDenied outside the
    actor's reach; nothing is saved unless every check passes."""
    if not can(actor, Permission.COLLECT_SPECIMEN, requisition):
        raise PermissionDenied("Your role may not collect specimens at this clinic.")
    patient = requisition.patient
    if not collection.confirm_name:
        raise refuse(
            "confirm_name",
            f"Ask the patient to say their full name, and confirm it is {patient.given} "
            f"{patient.family}.",
            "identity",
        )
    if collection.confirm_birth_date != patient.birth_date:
        raise refuse(
            "confirm_birth_date",
            "The date of birth does not match this patient's record. Ask the patient again "
            "(full name and date of birth) and check the requisition: never label a tube for "
            "someone else.",
            "wrong_patient",
        )
    orders = _orders_to_collect(requisition)
    now = clock.now()
    collected_at = _collection_time(requisition, collection.collected_at, now)
    _timing(orders, collected_at)
    tubes = tubes_for(orders, capillary=collection.method == Specimen.Method.CAPILLARY)
    _check_methods(tubes, collection)
    blood = any(t.blood for t in tubes)
    attempts = collection.attempts if blood else 1
    if blood:
        if attempts < 1:
            raise refuse("attempts", "A blood draw takes at least one attempt.", "attempts_range")
        _check_attempts(requisition, actor, attempts)
    problems = _problems(collection.problems)
    needs = max(t.fasting_hours for t in tubes)
    fasted = collection.fasting_hours_reported
    warnings: list[str] = []
    if needs:
        fasting_tests = [o.test for t in tubes for o in t.orders if o.test.fasting_hours]
        if fasted is None:
            first = max(fasting_tests, key=lambda t: t.fasting_hours)
            raise refuse(
                "fasting_hours_reported",
                f"{first.name} needs {first.fasting_hours} h of fasting: ask the patient when "
                "they last ate or drank anything but water, and enter the hours.",
                "fasting_unknown",
            )
        if not 0 <= fasted <= 72:
            raise refuse("fasting_hours_reported", "Hours of fasting are 0 to 72.", "range")
        short = [t for t in fasting_tests if fasted < t.fasting_hours]
        if short:
            warnings.append(
                f"Not fasting: the patient last ate {fasted} h ago; "
                + ", ".join(f"{t.name} needs {t.fasting_hours} h" for t in short)
                + ". Collected with the problem recorded: tell the provider, who decides "
                "whether to use the result or recollect."
            )
    elif fasted is not None and not 0 <= fasted <= 72:
        raise refuse("fasting_hours_reported", "Hours of fasting are 0 to 72.", "range")
    body_site = clean(collection.body_site, 60)
    note = clean(collection.note, 300)
    clinic = Clinic.objects.get(pk=requisition.clinic_id)
    wanted = sorted(o.pk for o in orders)
    with transaction.atomic():
        _lock_collectable(requisition, wanted)
        specimens = []
        for tube in tubes:
            tube_problems = list(problems)
            if (
                fasted is not None
                and any(fasted < o.test.fasting_hours for o in tube.orders)
                and Specimen.Problem.NOT_FASTING not in tube_problems
            ):
                tube_problems.append(Specimen.Problem.NOT_FASTING)
            method = _method_for(tube, collection)
            specimen = _new_specimen(
                actor,
                requisition,
                clinic,
                tube,
                step=CustodyEvent.Step.COLLECTED,
                recorded_at=now,
                detail=(
                    f"{Specimen.Method(method).label}"
                    + (f", {body_site}" if body_site and tube.blood else "")
                    + (f", {attempts} attempt{'s' if attempts > 1 else ''}" if tube.blood else "")
                    # the tube holds what its tests need together (Specimen has no quantity)
                    + f"; {tube.volume_ml.normalize():f} mL for {len(tube.orders)} test"
                    + ("s" if len(tube.orders) > 1 else "")
                    + (f"; problems: {', '.join(tube_problems)}" if tube_problems else "")
                ),
                status=Specimen.Status.COLLECTED,
                collected_at=collected_at,
                method=method,
                body_site=body_site if tube.blood else "",
                attempts=attempts if tube.blood else 1,
                identifiers_confirmed=["name", "birth_date"],
                fasting_hours_reported=fasted,
                problems=tube_problems,
                note=note,
            )
            record(
                actor,
                Action.CREATE,
                "Specimen",
                patient=patient,
                clinic_id=requisition.clinic_id,
                entity_id=str(specimen.public_id),
                description=(
                    f"collected {specimen.accession} ({CONTAINERS[tube.container].label}) for "
                    f"{', '.join(o.test.name for o in tube.orders)}"
                    + (f"; problems: {', '.join(tube_problems)}" if tube_problems else "")
                )[:500],
            )
            specimens.append(specimen)
        LabOrder.objects.filter(pk__in=wanted).update(
            stage=LabOrder.Stage.COLLECTED, updated_at=now
        )
        # The new order went to the lab when it was placed, before anything was drawn: tell
        # the lab now which tubes (accession numbers, SPM-2) and when (OBR-7), so the tube that
        # arrives matches its order (HL7 v2.5.1 table 0119 XO, change order). It follows the
        # new order (the adapter holds it until the lab has accepted that).
        _queue_message(requisition, "XO", orders)
    return Collected(specimens=specimens, warnings=warnings)


def record_not_collected(
    *,
    actor: Actor,
    requisition: LabRequisition,
    reason: str,
    problem: str = Specimen.Problem.UNABLE,
    attempts: int = 0,
) -> list[Specimen]:
    """The specimens could not be collected (no vein after two attempts, the patient refused,
    no urine): recorded per container with the reason; the orders wait, marked not collected,
    for another collector, another day, or the provider's decision."""
    if not can(actor, Permission.COLLECT_SPECIMEN, requisition):
        raise PermissionDenied("Your role may not collect specimens at this clinic.")
    reason = clean(reason, 300)
    if len(reason) < 3:
        raise refuse("reason", "Say why the specimens could not be collected.", "reason")
    if problem not in UNABLE_PROBLEMS:
        raise refuse("problem", "Choose 'unable to collect' or 'patient refused'.", "problem")
    orders = _orders_to_collect(requisition)
    tubes = tubes_for(orders)
    if any(t.blood for t in tubes):
        _check_attempts(requisition, actor, attempts)
    elif attempts:
        attempts = 0
    now = clock.now()
    clinic = Clinic.objects.get(pk=requisition.clinic_id)
    wanted = sorted(o.pk for o in orders)
    with transaction.atomic():
        _lock_collectable(requisition, wanted)
        specimens = []
        for tube in tubes:
            specimen = _new_specimen(
                actor,
                requisition,
                clinic,
                tube,
                step=CustodyEvent.Step.NOT_COLLECTED,
                recorded_at=now,
                detail=(
                    f"{Specimen.Problem(problem).label}: {reason}"
                    + (f" ({attempts} attempt{'s' if attempts != 1 else ''})" if tube.blood else "")
                ),
                status=Specimen.Status.NOT_COLLECTED,
                collected_at=now,
                method=_default_method(tube),
                attempts=attempts if tube.blood else 0,
                problems=[problem],
                note=reason,
            )
            specimens.append(specimen)
        LabOrder.objects.filter(pk__in=wanted).update(
            stage=LabOrder.Stage.NOT_COLLECTED, updated_at=now
        )
        record(
            actor,
            Action.UPDATE,
            "ServiceRequest",
            patient=requisition.patient,
            clinic_id=requisition.clinic_id,
            entity_id=str(requisition.public_id),
            description=(
                f"not collected ({Specimen.Problem(problem).label}): "
                f"{', '.join(o.test.name for o in orders)}: {reason}"
            )[:500],
        )
    return specimens


# -- Labels ------------------------------------------------------------------------------------


def print_labels(*, actor: Actor, requisition: LabRequisition) -> list[Specimen]:
    """Count a print of the requisition's specimen labels: the first print of each is its
    "labelled" custody event; a reprint is counted and audited. Returns the specimens to put
    on the labels (with patient, collector and tests loaded)."""
    if not can(actor, Permission.COLLECT_SPECIMEN, requisition):
        raise PermissionDenied("Your role may not print specimen labels at this clinic.")
    now = clock.now()
    with transaction.atomic():
        specimens = list(
            Specimen.objects.select_for_update()
            .filter(requisition=requisition)
            .exclude(status=Specimen.Status.NOT_COLLECTED)
            .order_by("id")
        )
        if not specimens:
            raise refuse(
                "general", "Nothing is collected on this requisition yet: no labels.", "nothing"
            )
        first = [s for s in specimens if s.labels_printed == 0]
        Specimen.objects.filter(pk__in=[s.pk for s in specimens]).update(
            labels_printed=F("labels_printed") + 1, updated_at=now
        )
        Specimen.objects.filter(
            pk__in=[s.pk for s in first], status=Specimen.Status.COLLECTED
        ).update(status=Specimen.Status.LABELED)
        CustodyEvent.objects.bulk_create(
            [
                CustodyEvent(
                    specimen=s,
                    step=CustodyEvent.Step.LABELED,
                    at=now,
                    by_id=actor.signed_in_user_id,
                    detail="label printed",
                    recorded_at=now,
                )
                for s in first
            ]
        )
        reprinted = [s.accession for s in specimens if s.labels_printed > 0]
        record(
            actor,
            Action.PRINT,
            "Specimen",
            patient=requisition.patient,
            clinic_id=requisition.clinic_id,
            entity_id=str(requisition.public_id),
            description=(
                f"labels for {', '.join(s.accession for s in specimens)}"
                + (f"; reprint of {', '.join(reprinted)}" if reprinted else "")
            )[:500],
        )
    return list(
        Specimen.objects.filter(pk__in=[s.pk for s in specimens])
        .select_related("patient", "collected_by", "requisition")
        .prefetch_related("orders__test")
        .order_by("id")
    )


# -- Processing, packing, the courier, the lab -------------------------------------------------


@dataclass
class Processed:
    specimen: Specimen
    warnings: list[str] = field(default_factory=list)


def process_specimen(
    *,
    actor: Actor,
    specimen: Specimen,
    spun_minutes: int | None = None,
    aliquoted: bool = False,
    refrigerated: bool = False,
    frozen: bool = False,
    at: dt.datetime | None = None,
    note: str = "",
) -> Processed:
    """Record what was done to the specimen before it leaves: centrifuged (for how long),
    aliquoted, refrigerated or frozen. A centrifuge later than the test allows is recorded
    and warned about: the lab may reject it, and the provider may want it drawn again."""
    if not can(actor, Permission.COLLECT_SPECIMEN, specimen):
        raise PermissionDenied("Your role may not process specimens at this clinic.")
    specimen.refresh_from_db()  # where it stands now, not when the page was opened
    if specimen.status == Specimen.Status.NOT_COLLECTED:
        raise refuse("general", "This specimen was not collected.", "not_collected")
    if specimen.status not in AT_CLINIC:
        raise refuse(
            "general",
            f"{specimen.accession} is already {specimen.get_status_display().lower()}: it can "
            "no longer be processed here.",
            "gone",
        )
    if specimen.labels_printed == 0:
        raise refuse(
            "general",
            "Label the tube first (print its label at the patient's side): an unlabelled tube "
            "never goes into the centrifuge.",
            "unlabelled",
        )
    if spun_minutes is None and not (aliquoted or refrigerated or frozen):
        raise refuse("general", "Tick what was done to the specimen.", "nothing")
    if refrigerated and frozen:
        raise refuse("frozen", "A specimen is either refrigerated or frozen, not both.", "both")
    tests = [o.test for o in specimen.orders.select_related("test")]
    names = ", ".join(t.name for t in tests)
    steps = {e.step: e for e in CustodyEvent.objects.filter(specimen=specimen).order_by("at", "id")}
    now = clock.now()
    at = at or now
    if at > now + FUTURE_SLACK:
        raise refuse("at", "The time is in the future.", "future")
    collected_at = specimen.collected_at or now
    if _minute(at) < _minute(collected_at):
        raise refuse("at", "The time is before the specimen was collected.", "before_collection")
    warnings: list[str] = []
    details: list[tuple[str, str]] = []
    if spun_minutes is not None:
        if specimen.specimen_type not in SPUN_TYPES:
            raise refuse(
                "spun_minutes",
                f"{CONTAINERS[specimen.container].label} for {names} is tested as "
                f"{specimen.get_specimen_type_display().lower()}: do not centrifuge it.",
                "not_spun",
            )
        if CustodyEvent.Step.SPUN in steps:
            raise refuse(
                "spun_minutes",
                f"Already centrifuged at {_hm(steps[CustodyEvent.Step.SPUN].at)}.",
                "twice",
            )
        if not 1 <= spun_minutes <= 30:
            raise refuse("spun_minutes", "Centrifuge time is 1 to 30 minutes.", "range")
        waited = at - collected_at
        limits = [t.spin_within_minutes for t in tests if t.spin_within_minutes]
        detail = f"{spun_minutes} min, {int(waited.total_seconds() // 60)} min after collection"
        if limits and waited > dt.timedelta(minutes=min(limits)):
            late = [t.name for t in tests if t.spin_within_minutes == min(limits)]
            warnings.append(
                f"Centrifuged {int(waited.total_seconds() // 60)} min after collection; "
                f"{', '.join(late)} must be spun within {min(limits)} min. Recorded: tell the "
                "provider; the lab may reject it and it may need to be drawn again."
            )
            detail += f" (late: limit {min(limits)} min)"
        elif specimen.container in CLOT_TUBES and waited < dt.timedelta(minutes=CLOT_MINUTES):
            warnings.append(
                f"Spun {int(waited.total_seconds() // 60)} min after collection: serum tubes "
                f"stand {CLOT_MINUTES} min upright to clot first, or the serum may hold fibrin."
            )
        details.append((CustodyEvent.Step.SPUN, detail))
    if aliquoted:
        details.append((CustodyEvent.Step.ALIQUOTED, "poured off into a transfer tube"))
    handling = {t.handling for t in tests}
    if refrigerated:
        if Handling.ROOM_TEMPERATURE in handling or Handling.PROTECT_FROM_LIGHT in handling:
            warnings.append(f"{names}: the catalog says keep at room temperature.")
        details.append((CustodyEvent.Step.REFRIGERATED, "2-8 °C"))
    if frozen:
        if handling - {Handling.FREEZE}:
            warnings.append(f"{names}: the catalog does not say freeze; check with the lab.")
        details.append((CustodyEvent.Step.FROZEN, "-20 °C"))
    if Handling.FREEZE in handling and not frozen and CustodyEvent.Step.FROZEN not in steps:
        warnings.append(f"{names} travels frozen: freeze it before it is packed.")
    note = clean(note, 200)
    with transaction.atomic():
        changed = Specimen.objects.filter(pk=specimen.pk, status__in=AT_CLINIC).update(
            status=Specimen.Status.PROCESSED, updated_at=now
        )
        if not changed:
            raise refuse("general", "The specimen was packed meanwhile.", "gone")
        CustodyEvent.objects.bulk_create(
            [
                CustodyEvent(
                    specimen=specimen,
                    step=step,
                    at=at,
                    by_id=actor.signed_in_user_id,
                    detail=clean(detail + (f"; {note}" if note else ""), 300),
                    recorded_at=now,
                )
                for step, detail in details
            ]
        )
        specimen.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Specimen",
            patient=specimen.patient,
            clinic_id=specimen.clinic_id,
            entity_id=str(specimen.public_id),
            description=(
                f"processed {specimen.accession}: "
                + "; ".join(f"{CustodyEvent.Step(s).label} {d}" for s, d in details)
            )[:500],
        )
    return Processed(specimen=specimen, warnings=warnings)


def _packable(specimen: Specimen, lab: PerformingLab, steps: set[str]) -> None:
    where = f"{specimen.accession}: "
    if specimen.clinic_id != lab.clinic_id or specimen.requisition.lab_id != lab.pk:
        raise refuse("specimens", where + f"it goes to another lab, not {lab.name}.", "lab")
    if specimen.manifest_id is not None or specimen.status not in AT_CLINIC:
        raise refuse(
            "specimens",
            where + f"already {specimen.get_status_display().lower()}.",
            "packed",
        )
    if specimen.labels_printed == 0:
        raise refuse("specimens", where + "print its label first.", "unlabelled")
    orders = list(specimen.orders.all())
    if orders and all(o.stage == LabOrder.Stage.CANCELLED for o in orders):
        raise refuse("specimens", where + "its tests were cancelled; do not send it.", "cancelled")
    needs_spin = [o.test for o in orders if o.test.spin_within_minutes]
    if needs_spin and specimen.specimen_type in SPUN_TYPES and CustodyEvent.Step.SPUN not in steps:
        raise refuse(
            "specimens",
            where + f"centrifuge it first ({needs_spin[0].name} is sent as "
            f"{specimen.get_specimen_type_display().lower()}), and record it.",
            "not_spun",
        )


def create_manifest(*, actor: Actor, lab: PerformingLab, specimens: Sequence[Specimen]) -> Manifest:
    """Pack specimens for one lab into a manifest (the bag and its list for the courier)."""
    if not can(actor, Permission.COLLECT_SPECIMEN, lab):
        raise PermissionDenied("Your role may not pack specimens at this clinic.")
    if not specimens:
        raise refuse("specimens", "Choose the specimens going in the bag.", "none")
    now = clock.now()
    clinic = Clinic.objects.get(pk=lab.clinic_id)
    with transaction.atomic():
        locked = list(
            Specimen.objects.select_for_update()
            .filter(pk__in=[s.pk for s in specimens])
            .select_related("requisition", "patient")
            .order_by("id")
        )
        steps: dict[int, set[str]] = {}
        for step in CustodyEvent.objects.filter(specimen__in=locked).values_list(
            "specimen_id", "step"
        ):
            steps.setdefault(step[0], set()).add(step[1])
        for specimen in locked:
            _packable(specimen, lab, steps.get(specimen.pk, set()))
        manifest = Manifest.objects.create(
            clinic_id=lab.clinic_id,
            lab=lab,
            number=_placeholder(20),
            packaged_at=now,
            packaged_by_id=actor.signed_in_user_id,
            created_by_id=actor.signed_in_user_id,
        )
        manifest.number = manifest_number(clinic, manifest.pk)
        Manifest.objects.filter(pk=manifest.pk).update(number=manifest.number)
        Specimen.objects.filter(pk__in=[s.pk for s in locked]).update(
            manifest=manifest, status=Specimen.Status.PACKAGED, updated_at=now
        )
        CustodyEvent.objects.bulk_create(
            [
                CustodyEvent(
                    specimen=s,
                    step=CustodyEvent.Step.PACKAGED,
                    at=now,
                    by_id=actor.signed_in_user_id,
                    detail=f"manifest {manifest.number} for {lab.name}",
                    recorded_at=now,
                )
                for s in locked
            ]
        )
        for specimen in locked:
            record(
                actor,
                Action.UPDATE,
                "Specimen",
                patient=specimen.patient,
                clinic_id=lab.clinic_id,
                entity_id=str(specimen.public_id),
                description=f"packed {specimen.accession} in manifest {manifest.number}",
            )
    return manifest


def hand_to_courier(
    *, actor: Actor, manifest: Manifest, courier_name: str, handed_at: dt.datetime | None = None
) -> Manifest:
    """The courier takes the bag: its specimens are in transit, their orders with the courier."""
    if not can(actor, Permission.COLLECT_SPECIMEN, manifest):
        raise PermissionDenied("Your role may not hand specimens to the courier at this clinic.")
    courier_name = clean(courier_name, 120)
    if len(courier_name) < 2:
        raise refuse("courier_name", "Write the courier's name (as on their badge).", "courier")
    now = clock.now()
    at = handed_at or now
    if at > now + FUTURE_SLACK:
        raise refuse("handed_at", "The time is in the future.", "future")
    if _minute(at) < _minute(manifest.packaged_at):
        raise refuse("handed_at", "The time is before the bag was packed.", "before_packed")
    with transaction.atomic():
        changed = Manifest.objects.filter(pk=manifest.pk, handed_at__isnull=True).update(
            courier_name=courier_name,
            handed_at=at,
            handed_by_id=actor.signed_in_user_id,
            updated_at=now,
        )
        if not changed:
            manifest.refresh_from_db()
            raise refuse(
                "courier_name",
                f"Manifest {manifest.number} was already handed to {manifest.courier_name} at "
                f"{_hm(manifest.handed_at or now)}.",
                "already_handed",
            )
        manifest.refresh_from_db()
        specimens = list(
            Specimen.objects.filter(manifest=manifest, status=Specimen.Status.PACKAGED)
            .select_related("patient")
            .order_by("id")
        )
        Specimen.objects.filter(pk__in=[s.pk for s in specimens]).update(
            status=Specimen.Status.IN_TRANSIT, updated_at=now
        )
        CustodyEvent.objects.bulk_create(
            [
                CustodyEvent(
                    specimen=s,
                    step=CustodyEvent.Step.HANDED_TO_COURIER,
                    at=at,
                    by_id=actor.signed_in_user_id,
                    by_name=courier_name,
                    detail=f"manifest {manifest.number}",
                    recorded_at=now,
                )
                for s in specimens
            ]
        )
        LabOrder.objects.filter(
            specimens__in=specimens,
            status=LabOrder.Status.ACTIVE,
            stage=LabOrder.Stage.COLLECTED,
        ).update(stage=LabOrder.Stage.IN_TRANSIT, updated_at=now)
        for specimen in specimens:
            record(
                actor,
                Action.UPDATE,
                "Specimen",
                patient=specimen.patient,
                clinic_id=manifest.clinic_id,
                entity_id=str(specimen.public_id),
                description=f"{specimen.accession} handed to courier {courier_name} "
                f"(manifest {manifest.number})",
            )
    return manifest


def lab_has_interface(lab: PerformingLab) -> bool:
    """Whether the lab reports through its HL7 interface (its results record the receipt)."""
    return bool(lab.enabled and lab.host and lab.port)


def record_received(
    *,
    actor: Actor,
    specimen: Specimen,
    received_at: dt.datetime | None = None,
    received_by: str = "",
) -> Specimen:
    """The lab says it has the specimen (by phone, on its portal, on the courier's receipt):
    for labs without an interface, whose results would otherwise record it."""
    if not (
        can(actor, Permission.COLLECT_SPECIMEN, specimen)
        or can(actor, Permission.MANAGE_LAB_INTERFACE, specimen)
    ):
        raise PermissionDenied("Your role may not record the lab's receipt at this clinic.")
    specimen.refresh_from_db()
    lab = specimen.requisition.lab
    if lab_has_interface(lab):
        raise refuse(
            "general",
            f"{lab.name} reports through its interface, which records the receipt with the "
            "results: nothing to enter by hand.",
            "interface",
        )
    if specimen.status != Specimen.Status.IN_TRANSIT:
        raise refuse(
            "general",
            f"{specimen.accession} is {specimen.get_status_display().lower()}, not with the "
            "courier: hand it over first."
            if specimen.status in (*AT_CLINIC, Specimen.Status.PACKAGED)
            else f"{specimen.accession} is {specimen.get_status_display().lower()}.",
            "not_in_transit",
        )
    now = clock.now()
    at = received_at or now
    if at > now + FUTURE_SLACK:
        raise refuse("received_at", "The time is in the future.", "future")
    handed = specimen.manifest.handed_at if specimen.manifest else None
    if handed and _minute(at) < _minute(handed):
        raise refuse("received_at", "The time is before the courier took it.", "before_courier")
    received_by = clean(received_by, 80)
    with transaction.atomic():
        changed = Specimen.objects.filter(pk=specimen.pk, status=Specimen.Status.IN_TRANSIT).update(
            status=Specimen.Status.RECEIVED, updated_at=now
        )
        if not changed:
            raise refuse("general", "The receipt was recorded meanwhile.", "twice")
        CustodyEvent.objects.create(
            specimen=specimen,
            step=CustodyEvent.Step.RECEIVED_BY_LAB,
            at=at,
            by_id=actor.signed_in_user_id,
            by_name=clean(lab.name + (f" ({received_by})" if received_by else ""), 120),
            detail="entered by hand (the lab has no interface)",
            recorded_at=now,
        )
        for order in specimen.orders.filter(
            status=LabOrder.Status.ACTIVE, stage=LabOrder.Stage.IN_TRANSIT
        ):
            waiting = order.specimens.exclude(
                status__in=(Specimen.Status.RECEIVED, Specimen.Status.NOT_COLLECTED)
            ).exclude(pk=specimen.pk)
            if not waiting.exists():
                LabOrder.objects.filter(pk=order.pk).update(
                    stage=LabOrder.Stage.AT_LAB, updated_at=now
                )
        specimen.refresh_from_db()
        record(
            actor,
            Action.UPDATE,
            "Specimen",
            patient=specimen.patient,
            clinic_id=specimen.clinic_id,
            entity_id=str(specimen.public_id),
            description=f"{specimen.accession} received by {lab.name}"
            + (f" ({received_by})" if received_by else "")
            + " (entered by hand)",
        )
    return specimen


# -- The catalog -------------------------------------------------------------------------------


_Kept = TypeVar("_Kept", PerformingLab, LabTest)


def _create_or_update(
    model: type[_Kept], row: _Kept | None, actor: Actor, clinic_id: int, values: dict[str, Any]
) -> tuple[_Kept, Action]:
    """In the transaction: a new row of the clinic's catalog (row None) or `row` changed to
    `values`, and the audit action of that."""
    if row is None:
        row = model.objects.create(
            clinic_id=clinic_id, created_by_id=actor.signed_in_user_id, **values
        )
        return row, Action.CREATE
    model.objects.filter(pk=row.pk).update(updated_at=clock.now(), **values)
    row.refresh_from_db()
    return row, Action.UPDATE


@dataclass
class LabFields:
    name: str
    facility: str
    clinic_facility: str
    clia_number: str = ""
    application: str = "LAB"
    message_type: str = PerformingLab.MessageType.ORM
    host: str = ""
    port: int | None = None
    timeout_seconds: int = 30
    enabled: bool = True
    pickup_hours: int = 4
    transit_hours: int = 24


def _hl7_identity(field_name: str, value: str, label: str) -> str:
    value = value.strip()
    if not value:
        raise refuse(
            field_name, f"Give the {label} (as the lab's interface spec says).", "required"
        )
    if _HL7_DELIMITERS.search(value):
        raise refuse(
            field_name,
            f"The {label} may not contain HL7 delimiters (| ^ ~ \\ &).",
            "delimiter",
        )
    return value[:40]


def save_lab(
    *, actor: Actor, clinic_id: int, fields: LabFields, lab: PerformingLab | None = None
) -> PerformingLab:
    """Add or change a performing lab of the clinic (its name, CLIA number, HL7 identities and
    connection, and how long specimens may wait for pickup and transit)."""
    at_clinic(
        actor,
        [Permission.MANAGE_LAB_CATALOG],
        clinic_id,
        "Only the clinic manager keeps the clinic's labs and tests.",
    )
    if lab is not None and lab.clinic_id != clinic_id:
        raise PermissionDenied("That lab belongs to another clinic.")
    name = clean(fields.name, 120)
    if len(name) < 2:
        raise refuse("name", "Give the lab's name.", "required")
    clia = fields.clia_number.strip().upper()
    if clia and not _CLIA.match(clia):
        raise refuse(
            "clia_number",
            "A CLIA number is ten characters: two digits, the letter D, seven digits "
            "(e.g. 14D0000000).",
            "clia",
        )
    application = _hl7_identity("application", fields.application or "LAB", "lab's application")
    facility = _hl7_identity("facility", fields.facility, "lab's facility id")
    clinic_facility = _hl7_identity(
        "clinic_facility", fields.clinic_facility, "clinic's facility id"
    )
    if fields.message_type not in PerformingLab.MessageType.values:
        raise refuse("message_type", "Choose ORM^O01 or OML^O21.", "message_type")
    host = fields.host.strip()
    if host and (" " in host or _HL7_DELIMITERS.search(host) or len(host) > 200):
        raise refuse("host", "A host is a name or an address, without spaces.", "host")
    if bool(host) != (fields.port is not None):
        raise refuse(
            "port" if host else "host",
            "Give both the host and the port, or neither (no interface: receipts are entered "
            "by hand).",
            "host_port",
        )
    if fields.port is not None and not 1 <= fields.port <= 65535:
        raise refuse("port", "A port is 1 to 65535.", "port")
    if not 1 <= fields.timeout_seconds <= 300:
        raise refuse("timeout_seconds", "The timeout is 1 to 300 seconds.", "range")
    if not 1 <= fields.pickup_hours <= 72:
        raise refuse("pickup_hours", "Pickup time is 1 to 72 hours.", "range")
    if not 1 <= fields.transit_hours <= 168:
        raise refuse("transit_hours", "Transit time is 1 to 168 hours.", "range")
    clash = PerformingLab.objects.filter(facility=facility, clinic_facility=clinic_facility)
    if lab is not None:
        clash = clash.exclude(pk=lab.pk)
    if clash.exists():
        raise refuse(
            "facility",
            f"Another lab already sends as {facility} to {clinic_facility}: results could not "
            "be told apart. Check both facility ids.",
            "identity_taken",
        )
    values = {
        "name": name,
        "clia_number": clia,
        "application": application,
        "facility": facility,
        "clinic_facility": clinic_facility,
        "message_type": fields.message_type,
        "host": host,
        "port": fields.port,
        "timeout_seconds": fields.timeout_seconds,
        "enabled": fields.enabled,
        "pickup_hours": fields.pickup_hours,
        "transit_hours": fields.transit_hours,
    }
    with transaction.atomic():
        lab, action = _create_or_update(PerformingLab, lab, actor, clinic_id, values)
        woken: list[OrderMessage] = []
        if lab_has_interface(lab):
            # What waited for the address (or for the lab to be turned on) goes with the next
            # `medassist events run`, in the order it was queued.
            woken = wake_order_messages(
                OrderMessage.objects.filter(requisition__lab=lab, status=OrderMessage.Status.QUEUED)
                .select_related("requisition")
                .order_by("pk")
            )
        record(
            actor,
            action,
            "Organization",
            clinic_id=clinic_id,
            entity_id=str(lab.public_id),
            description=f"performing lab {lab.name} (CLIA {lab.clia_number or '-'}; "
            f"{lab.message_type}; {lab.host or 'no interface'})"
            + (f"; {len(woken)} waiting order message(s) queued to send" if woken else ""),
        )
    return lab


@dataclass
class LabTestFields:
    lab: PerformingLab
    loinc: str
    name: str
    lab_code: str
    specimen_type: str
    container: str
    volume_ml: Decimal = Decimal("0")
    fasting_hours: int = 0
    handling: str = Handling.ROOM_TEMPERATURE
    spin_within_minutes: int | None = None
    instructions: str = ""
    active: bool = True
    sort_order: int = 0


# Which specimen a container holds (the tube makers' and labs' directories: serum from clot
# tubes, plasma from anticoagulant tubes, whole blood from EDTA, citrate, heparin and culture
# bottles; urine, swabs and stool in their own containers).
SERUM_TUBES = frozenset({Container.RED, Container.GOLD_SST})
PLASMA_TUBES = frozenset(
    {
        Container.LIGHT_BLUE,
        Container.GREEN,
        Container.LIGHT_GREEN,
        Container.LAVENDER,
        Container.PINK,
        Container.GRAY,
    }
)
WHOLE_BLOOD_TUBES = frozenset(
    {
        Container.BLOOD_CULTURE,
        Container.YELLOW_SPS,
        Container.LIGHT_BLUE,
        Container.GREEN,
        Container.LAVENDER,
        Container.PINK,
        Container.GRAY,
    }
)
_CONTAINERS_FOR_TYPE: dict[str, frozenset[str]] = {
    SpecimenType.SERUM: SERUM_TUBES,
    SpecimenType.PLASMA: PLASMA_TUBES,
    SpecimenType.BLOOD: WHOLE_BLOOD_TUBES,
    SpecimenType.CAPILLARY: frozenset(
        {
            Container.LAVENDER,
            Container.GREEN,
            Container.LIGHT_GREEN,
            Container.GOLD_SST,
            Container.RED,
            Container.GRAY,
        }
    ),
    SpecimenType.URINE: frozenset({Container.URINE_CUP, Container.URINE_TRANSPORT}),
    SpecimenType.THROAT: frozenset({Container.SWAB}),
    SpecimenType.NOSE: frozenset({Container.SWAB}),
    SpecimenType.STOOL: frozenset({Container.STOOL}),
}


def container_fits(specimen_type: str, container: str) -> bool:
    return container in _CONTAINERS_FOR_TYPE.get(specimen_type, frozenset())


def save_test(
    *, actor: Actor, clinic_id: int, fields: LabTestFields, test: LabTest | None = None
) -> LabTest:
    """Add or change an orderable test in the clinic's catalog."""
    at_clinic(
        actor,
        [Permission.MANAGE_LAB_CATALOG],
        clinic_id,
        "Only the clinic manager keeps the clinic's labs and tests.",
    )
    if test is not None and test.clinic_id != clinic_id:
        raise PermissionDenied("That test belongs to another clinic.")
    if fields.lab.clinic_id != clinic_id:
        raise refuse("lab", "Choose one of this clinic's labs.", "lab")
    try:
        loinc = normalize_loinc(fields.loinc)
    except ValueError as error:
        raise refuse("loinc", f"{error}.", "loinc") from error
    name = clean(fields.name, 120)
    if len(name) < 2:
        raise refuse("name", "Give the test's name as the lab lists it.", "required")
    lab_code = fields.lab_code.strip()[:20]
    if not lab_code or _HL7_DELIMITERS.search(lab_code) or " " in lab_code:
        raise refuse(
            "lab_code",
            "Give the lab's own code for the test (no spaces or HL7 delimiters).",
            "lab_code",
        )
    if fields.specimen_type not in SpecimenType.values:
        raise refuse("specimen_type", "Choose the specimen type.", "specimen_type")
    if fields.container not in Container.values:
        raise refuse("container", "Choose the container.", "container")
    if not container_fits(fields.specimen_type, fields.container):
        raise refuse(
            "container",
            f"{SpecimenType(fields.specimen_type).label} does not come in a "
            f"{Container(fields.container).label}: check the lab's directory.",
            "container_mismatch",
        )
    if not Decimal("0") < fields.volume_ml <= Decimal("50"):
        raise refuse("volume_ml", "The volume is more than 0 and at most 50 mL.", "range")
    if not 0 <= fields.fasting_hours <= 24:
        raise refuse("fasting_hours", "Fasting is 0 (none) to 24 hours.", "range")
    if fields.handling not in Handling.values:
        raise refuse("handling", "Choose the handling.", "handling")
    spin = fields.spin_within_minutes
    if spin is not None:
        if fields.specimen_type not in SPUN_TYPES:
            raise refuse(
                "spin_within_minutes",
                "Only serum and plasma are centrifuged; leave this empty for whole blood, "
                "urine and swabs.",
                "not_spun",
            )
        if not 15 <= spin <= 1440:
            raise refuse("spin_within_minutes", "Spin within 15 to 1440 minutes.", "range")
    if not 0 <= fields.sort_order <= 1000:
        raise refuse("sort_order", "The order in the list is 0 to 1000.", "range")
    clash = LabTest.objects.filter(clinic_id=clinic_id, lab=fields.lab, lab_code=lab_code)
    if test is not None:
        clash = clash.exclude(pk=test.pk)
    if clash.exists():
        raise refuse(
            "lab_code", f"{fields.lab.name} already has a test with code {lab_code}.", "taken"
        )
    values = {
        "lab": fields.lab,
        "loinc": loinc,
        "name": name,
        "lab_code": lab_code,
        "specimen_type": fields.specimen_type,
        "container": fields.container,
        "volume_ml": fields.volume_ml,
        "fasting_hours": fields.fasting_hours,
        "handling": fields.handling,
        "spin_within_minutes": spin,
        "instructions": clean(fields.instructions, 300),
        "active": fields.active,
        "sort_order": fields.sort_order,
    }
    with transaction.atomic():
        test, action = _create_or_update(LabTest, test, actor, clinic_id, values)
        record(
            actor,
            action,
            "ActivityDefinition",
            clinic_id=clinic_id,
            entity_id=str(test.public_id),
            description=f"lab test {test.name} (LOINC {test.loinc}, {fields.lab.name} "
            f"{test.lab_code}){'' if test.active else ' inactive'}",
        )
    return test
