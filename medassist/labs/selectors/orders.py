"""Reads for ordering, collection, labels, the chain of custody, manifests, the pending board and
the catalog. Every read is scoped to the actor's clinics (another clinic's id looks exactly like
a missing one: 404), reads of patient data are audited, and the lists (worklist, pending
board, a patient's orders) run a fixed number of queries however many rows they hold.

No result values are read here: what the lab reported is the results part's."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.stages import FINAL, IN_ROOM, ON_SITE
from medassist.labs.draw import CONTAINERS, Container, ContainerInfo
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
)
from medassist.labs.services.orders import (
    AT_CLINIC,
    CLEAN_CATCH_ONLY,
    COLLECTABLE,
    NOT_CANCELLABLE,
    SPUN_TYPES,
    VENOUS_ONLY,
    Tube,
    lab_has_interface,
    tubes_for,
)
from medassist.patients.models import Patient
from medassist.scheduling.selectors import day_bounds

# Where a specimen is still on its way (the pending board's rows).
ON_THE_WAY = (*AT_CLINIC, Specimen.Status.PACKAGED, Specimen.Status.IN_TRANSIT)
PRIORITY_RANK: dict[str, int] = {
    Priority.STAT: 0,
    Priority.ASAP: 1,
    Priority.URGENT: 2,
    Priority.ROUTINE: 3,
}
HANDLING_WORDS: dict[str, str] = {
    Handling.ROOM_TEMPERATURE: "",
    Handling.REFRIGERATE: "refrigerate (2–8 °C) after processing",
    Handling.FREEZE: "freeze (−20 °C) after processing",
    Handling.PROTECT_FROM_LIGHT: "protect from light (wrap in foil), room temperature",
}


def _scoped(actor: Actor, perm: Permission) -> list[int]:
    return actor.clinics_with(perm) if actor.user.is_authenticated else []


def _denied(actor: Actor, entity: str, public_id: object) -> Http404:
    return out_of_reach(actor, entity, public_id, message=f"No such {entity}")


def clinics_with(actor: Actor, perm: Permission) -> list[Clinic]:
    return list(Clinic.objects.filter(pk__in=_scoped(actor, perm)).order_by("name"))


def pick_clinic(
    actor: Actor, perm: Permission, code: str | None, message: str
) -> tuple[Clinic, list[Clinic]]:
    """The clinic a list page shows (by its code, else the first of the actor's), and all of
    those at which the actor holds `perm`; 403 when there is none."""
    clinics = clinics_with(actor, perm)
    if not clinics:
        raise PermissionDenied(message)
    return next((c for c in clinics if c.code == code), clinics[0]), clinics


def _read(
    actor: Actor,
    entity: str,
    patient: Patient | None,
    clinic_id: int,
    public_id: object,
    description: str = "",
) -> None:
    record(
        actor,
        Action.READ,
        entity,
        patient=patient,
        clinic_id=clinic_id,
        entity_id=str(public_id),
        description=description[:500],
    )


# -- Ordering ----------------------------------------------------------------------------------


def patient_for_ordering(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    """The patient, for the order page: 404 outside the actor's clinics, 403 for a role that
    does not order (the patients app records the read)."""
    from medassist.patients.selectors import get_patient

    patient = get_patient(actor, public_id, Permission.VIEW_LAB_ORDERS)
    if not can(actor, Permission.ORDER_LABS, patient):
        raise PermissionDenied("Only a provider may order lab tests.")
    return patient


def get_patient(actor: Actor, public_id: uuid.UUID | str) -> Patient:
    from medassist.patients.selectors import get_patient as patient_of

    return patient_of(actor, public_id, Permission.VIEW_LAB_ORDERS)


def visit_for_ordering(actor: Actor, public_id: uuid.UUID | str) -> Encounter:
    """A visit of the actor's clinics, for ordering from it; 404 otherwise, 403 for a role
    that does not order."""
    visit = (
        Encounter.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
        )
        .select_related("patient", "patient__clinic", "provider")
        .first()
    )
    if visit is None:
        raise _denied(actor, "Encounter", public_id)
    _read(actor, "Encounter", visit.patient, visit.clinic_id, visit.public_id, "lab order page")
    if not can(actor, Permission.ORDER_LABS, visit):
        raise PermissionDenied("Only a provider may order lab tests.")
    return visit


def todays_visit(actor: Actor, patient: Patient) -> Encounter | None:
    """The patient's open visit of today (the clinic's local date) at a clinic where the actor
    orders, when there is exactly one: an order placed from the chart belongs to it. None with
    no such visit, or with two (the provider orders from the visit they mean). Done, cancelled
    and no-show visits are not open. One query (and the audit entry when one is found)."""
    start, end = day_bounds(clock.today())
    found = list(
        Encounter.objects.filter(
            patient=patient,
            clinic_id__in=_scoped(actor, Permission.ORDER_LABS),
            period_start__gte=start,
            period_start__lt=end,
        )
        .exclude(stage__in=FINAL)
        .select_related("provider")
        .order_by("period_start", "id")[:2]
    )
    if len(found) != 1:
        return None
    visit = found[0]
    _read(actor, "Encounter", patient, visit.clinic_id, visit.public_id, "lab order page")
    return visit


@dataclass
class CatalogGroup:
    lab: PerformingLab
    tests: list[LabTest]


def order_catalog(clinic_id: int) -> list[CatalogGroup]:
    """The clinic's active tests grouped by performing lab (one query)."""
    groups: dict[int, CatalogGroup] = {}
    for test in (
        LabTest.objects.filter(clinic_id=clinic_id, active=True, lab__enabled=True)
        .select_related("lab")
        .order_by("lab__name", "lab_id", "sort_order", "name")
    ):
        groups.setdefault(test.lab_id, CatalogGroup(test.lab, [])).tests.append(test)
    return list(groups.values())


def catalog_tests(clinic_id: int, public_ids: Sequence[uuid.UUID]) -> list[LabTest]:
    """The chosen tests, if they are the clinic's (others are dropped: the form says so)."""
    return list(
        LabTest.objects.filter(clinic_id=clinic_id, public_id__in=list(public_ids)).select_related(
            "lab"
        )
    )


def open_orders(patient: Patient) -> list[LabOrder]:
    """The patient's tests ordered and still waiting to be collected."""
    return list(
        LabOrder.objects.filter(
            patient=patient, status=LabOrder.Status.ACTIVE, stage__in=COLLECTABLE
        )
        .select_related("test", "requisition", "requisition__ordered_by")
        .order_by("requisition__ordered_at", "id")
    )


# -- A patient's orders ------------------------------------------------------------------------


@dataclass
class OrderLine:
    order: LabOrder
    specimens: list[Specimen]
    cancellable: bool


@dataclass
class RequisitionLine:
    requisition: LabRequisition
    orders: list[OrderLine]
    specimens: list[Specimen]
    message: OrderMessage | None  # the new-order message and the lab's answer

    @property
    def collectable(self) -> bool:
        return any(
            o.order.status == LabOrder.Status.ACTIVE and o.order.stage in COLLECTABLE
            for o in self.orders
        )

    @property
    def labelled(self) -> bool:
        return any(s.status != Specimen.Status.NOT_COLLECTED for s in self.specimens)


@dataclass
class PatientOrders:
    patient: Patient
    requisitions: list[RequisitionLine]
    may_order: bool
    may_cancel: bool
    may_collect: bool


def _first_message(requisition: LabRequisition) -> OrderMessage | None:
    found: list[OrderMessage] = getattr(requisition, "new_messages", [])
    return found[0] if found else None


def _requisition_lines(requisitions: QuerySet[LabRequisition]) -> list[RequisitionLine]:
    rows = list(
        requisitions.select_related("lab", "ordered_by", "encounter").prefetch_related(
            Prefetch("orders", queryset=LabOrder.objects.select_related("test").order_by("id")),
            Prefetch(
                "specimens",
                queryset=Specimen.objects.select_related("collected_by")
                .prefetch_related("orders")
                .order_by("id"),
            ),
            Prefetch(
                "messages",
                queryset=OrderMessage.objects.filter(control="NW").order_by("id"),
                to_attr="new_messages",
            ),
        )
    )
    out = []
    for r in rows:
        specimens = list(r.specimens.all())
        by_order: dict[int, list[Specimen]] = {}
        for s in specimens:
            for o in s.orders.all():
                by_order.setdefault(o.pk, []).append(s)
        out.append(
            RequisitionLine(
                requisition=r,
                orders=[
                    OrderLine(
                        order=o,
                        specimens=by_order.get(o.pk, []),
                        cancellable=o.status == LabOrder.Status.ACTIVE
                        and o.stage not in NOT_CANCELLABLE,
                    )
                    for o in r.orders.all()
                ],
                specimens=specimens,
                message=_first_message(r),
            )
        )
    return out


def patient_orders(actor: Actor, public_id: uuid.UUID | str) -> PatientOrders:
    """The patient's lab orders, newest first, with their specimens and trail (no values)."""
    patient = get_patient(actor, public_id)
    lines = _requisition_lines(
        LabRequisition.objects.filter(patient=patient).order_by("-ordered_at", "-id")
    )
    _read(
        actor,
        "ServiceRequest",
        patient,
        patient.clinic_id,
        patient.public_id,
        f"lab orders: {sum(len(r.orders) for r in lines)} tests on {len(lines)} requisitions",
    )
    return PatientOrders(
        patient=patient,
        requisitions=lines,
        may_order=can(actor, Permission.ORDER_LABS, patient),
        may_cancel=can(actor, Permission.ORDER_LABS, patient),
        may_collect=can(actor, Permission.COLLECT_SPECIMEN, patient),
    )


def order_for_cancelling(actor: Actor, public_id: uuid.UUID | str) -> LabOrder:
    order = (
        LabOrder.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
        )
        .select_related("patient", "test", "requisition", "requisition__ordered_by")
        .first()
    )
    if order is None:
        raise _denied(actor, "ServiceRequest", public_id)
    _read(actor, "ServiceRequest", order.patient, order.clinic_id, order.public_id)
    if not can(actor, Permission.ORDER_LABS, order):
        raise PermissionDenied("Only a provider may cancel a lab order.")
    return order


def order_message_for_resend(actor: Actor, public_id: uuid.UUID | str) -> OrderMessage:
    """An order message of the actor's clinics (where they see lab orders), for the interface
    page's Resend: 404 outside them, like one that does not exist; the service decides who may
    act on it (403). A lookup for a write: no patient data is read here."""
    found = OrderMessage.objects.filter(
        public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
    ).first()
    if found is None:
        raise out_of_reach(
            actor, "MessageHeader", public_id, action=Action.UPDATE, message="No such message"
        )
    return found


# -- The collection worklist -------------------------------------------------------------------


@dataclass(frozen=True)
class TubeLine:
    """One container to fill, as the worklist and the collection page show it."""

    info: ContainerInfo
    tests: tuple[str, ...]
    volume_ml: str
    handling: tuple[str, ...]
    position: int  # in the order of draw, 1 first

    @property
    def inversions(self) -> int:
        return self.info.inversions


def tube_lines(tubes: Sequence[Tube]) -> list[TubeLine]:
    lines = []
    for position, tube in enumerate(tubes, start=1):
        tests = [o.test for o in tube.orders]
        handling = [
            f"spin within {min(spins)} min of collection"
            for spins in [[t.spin_within_minutes for t in tests if t.spin_within_minutes]]
            if spins
        ]
        handling += list(
            dict.fromkeys(
                HANDLING_WORDS[t.handling] for t in tests if HANDLING_WORDS.get(t.handling)
            )
        )
        handling += list(dict.fromkeys(t.instructions for t in tests if t.instructions))
        lines.append(
            TubeLine(
                info=CONTAINERS[tube.container],
                tests=tuple(t.name for t in tests),
                volume_ml=f"{tube.volume_ml.normalize():f}",
                handling=tuple(handling),
                position=position,
            )
        )
    return lines


@dataclass
class WorkItem:
    """One requisition to collect."""

    requisition: LabRequisition
    orders: list[LabOrder]
    tubes: list[TubeLine]
    fasting_hours: int
    fasting_tests: list[str]
    not_before: dt.datetime | None  # the latest timed-draw time still in the future
    retry: bool = False  # an earlier attempt could not collect it

    @property
    def fasting_text(self) -> str:
        if not self.fasting_hours:
            return ""
        return (
            f"Fasting {self.fasting_hours} h required ({', '.join(self.fasting_tests)}): ask "
            "when the patient last ate."
        )


@dataclass
class WorkPatient:
    patient: Patient
    visit: Encounter | None
    items: list[WorkItem]

    @property
    def roomed(self) -> bool:
        return self.visit is not None and self.visit.stage in IN_ROOM

    @property
    def here(self) -> bool:
        return self.visit is not None and self.visit.stage in ON_SITE

    @property
    def where(self) -> str:
        if self.visit is None:
            return "No visit today"
        if self.visit.stage in IN_ROOM and self.visit.room is not None:
            return f"{self.visit.get_stage_display()}, {self.visit.room.name}"
        return self.visit.get_stage_display()


@dataclass
class Worklist:
    clinic: Clinic
    clinics: list[Clinic]
    patients: list[WorkPatient]
    now: dt.datetime


def _work_item(requisition: LabRequisition, orders: list[LabOrder], now: dt.datetime) -> WorkItem:
    tubes = tubes_for(orders)
    fasting = [o.test for o in orders if o.test.fasting_hours]
    later = [
        o.collect_not_before for o in orders if o.collect_not_before and o.collect_not_before > now
    ]
    return WorkItem(
        requisition=requisition,
        orders=orders,
        tubes=tube_lines(tubes),
        fasting_hours=max((t.fasting_hours for t in fasting), default=0),
        fasting_tests=[t.name for t in fasting],
        not_before=max(later) if later else None,
        retry=any(o.stage == LabOrder.Stage.NOT_COLLECTED for o in orders),
    )


def worklist(actor: Actor, clinic_code: str | None = None) -> Worklist:
    """Today's patients at the clinic with tests awaiting collection (those an earlier attempt
    could not collect included, for another collector to try), roomed patients first,
    then those in the building, then those still expected; each requisition's tubes in the
    order of draw. Three queries (visits, orders, the audit entry) for any number of rows."""
    clinic, clinics = pick_clinic(
        actor,
        Permission.COLLECT_SPECIMEN,
        clinic_code,
        "Your role does not collect specimens.",
    )
    now = clock.now()
    start, end = day_bounds(clock.today())
    visits: dict[int, Encounter] = {}
    for visit in (
        Encounter.objects.filter(clinic=clinic, period_start__gte=start, period_start__lt=end)
        .exclude(stage__in=FINAL)
        .select_related("room")
        .order_by("period_start", "id")
    ):
        # A patient with two visits today: the one in the building counts.
        known = visits.get(visit.patient_id)
        if known is None or (visit.stage in ON_SITE and known.stage not in ON_SITE):
            visits[visit.patient_id] = visit
    orders = list(
        LabOrder.objects.filter(clinic=clinic, status=LabOrder.Status.ACTIVE, stage__in=COLLECTABLE)
        .filter(
            Q(patient_id__in=list(visits))
            | Q(
                requisition__ordered_at__gte=start,
                requisition__ordered_at__lt=end,
                requisition__encounter__isnull=True,
            )
        )
        .select_related(
            "test", "requisition", "requisition__lab", "requisition__ordered_by", "patient"
        )
        .order_by("requisition__ordered_at", "requisition_id", "test__sort_order", "test__name")
    )
    by_patient: dict[int, dict[int, list[LabOrder]]] = {}
    patients: dict[int, Patient] = {}
    requisitions: dict[int, LabRequisition] = {}
    for order in orders:
        by_patient.setdefault(order.patient_id, {}).setdefault(order.requisition_id, []).append(
            order
        )
        patients[order.patient_id] = order.patient
        requisitions[order.requisition_id] = order.requisition
    rows = [
        WorkPatient(
            patient=patients[pid],
            visit=visits.get(pid),
            items=sorted(
                (_work_item(requisitions[rid], found, now) for rid, found in reqs.items()),
                key=lambda i: (
                    PRIORITY_RANK.get(i.requisition.priority, 9),
                    i.requisition.ordered_at,
                ),
            ),
        )
        for pid, reqs in by_patient.items()
    ]

    def rank(row: WorkPatient) -> tuple:
        urgent = min(PRIORITY_RANK.get(i.requisition.priority, 9) for i in row.items)
        place = 0 if row.roomed else 1 if row.here else 2 if row.visit else 3
        when = row.visit.period_start if row.visit else row.items[0].requisition.ordered_at
        return (place, urgent, when, row.patient.family, row.patient.given)

    rows.sort(key=rank)
    _read(
        actor,
        "ServiceRequest",
        None,
        clinic.pk,
        f"lab-worklist-{clinic.pk}",
        f"collection worklist: {len(rows)} patients, {len(orders)} tests",
    )
    return Worklist(clinic=clinic, clinics=clinics, patients=rows, now=now)


# -- Collecting a requisition ------------------------------------------------------------------


def _requisitions(actor: Actor, perm: Permission) -> QuerySet[LabRequisition]:
    return LabRequisition.objects.filter(clinic_id__in=_scoped(actor, perm)).select_related(
        "patient", "patient__clinic", "lab", "ordered_by", "encounter"
    )


def get_requisition(actor: Actor, public_id: uuid.UUID | str) -> LabRequisition:
    requisition = (
        _requisitions(actor, Permission.VIEW_LAB_ORDERS).filter(public_id=public_id).first()
    )
    if requisition is None:
        raise _denied(actor, "ServiceRequest", public_id)
    _read(
        actor,
        "ServiceRequest",
        requisition.patient,
        requisition.clinic_id,
        requisition.public_id,
        f"requisition {requisition.number}",
    )
    return requisition


def requisition_for_collecting(actor: Actor, public_id: uuid.UUID | str) -> LabRequisition:
    """The requisition, for the collection and label pages: 404 outside the actor's clinics,
    403 for a role that does not collect."""
    requisition = get_requisition(actor, public_id)
    if not can(actor, Permission.COLLECT_SPECIMEN, requisition):
        raise PermissionDenied("Your role does not collect specimens.")
    return requisition


@dataclass
class CollectionPlan:
    requisition: LabRequisition
    orders: list[LabOrder]  # those still to collect
    tubes: list[TubeLine]
    capillary_tubes: list[TubeLine]
    fasting_hours: int
    fasting_tests: list[str]
    not_before: dt.datetime | None
    blood: bool
    capillary_allowed: bool  # no tube that needs venipuncture (CLSI GP42)
    urine: bool
    clean_catch_only: bool
    collected: list[Specimen]  # what was collected already (labels)
    not_collected: list[Specimen]  # earlier attempts that failed
    cancelled: list[LabOrder]
    done: bool  # nothing left to collect

    @property
    def fasting_text(self) -> str:
        if not self.fasting_hours:
            return ""
        return (
            f"Fasting {self.fasting_hours} h required ({', '.join(self.fasting_tests)}): ask "
            "when the patient last ate."
        )


def collection_plan(requisition: LabRequisition) -> CollectionPlan:
    """What the collection page shows: the tubes in the order of draw (venous, and the CLSI
    GP42 order should the MA use a capillary stick), fasting and timing, and what earlier
    attempts recorded. Three queries."""
    now = clock.now()
    orders = list(
        requisition.orders.select_related("test").order_by("test__sort_order", "test__name", "id")
    )
    todo = [o for o in orders if o.status == LabOrder.Status.ACTIVE and o.stage in COLLECTABLE]
    specimens = list(
        Specimen.objects.filter(requisition=requisition)
        .select_related("collected_by")
        .order_by("id")
    )
    tubes = tubes_for(todo)
    fasting = [o.test for o in todo if o.test.fasting_hours]
    later = [
        o.collect_not_before for o in todo if o.collect_not_before and o.collect_not_before > now
    ]
    return CollectionPlan(
        requisition=requisition,
        orders=todo,
        tubes=tube_lines(tubes),
        capillary_tubes=tube_lines(tubes_for(todo, capillary=True)),
        fasting_hours=max((t.fasting_hours for t in fasting), default=0),
        fasting_tests=[t.name for t in fasting],
        not_before=max(later) if later else None,
        blood=any(t.blood for t in tubes),
        capillary_allowed=not any(t.container in VENOUS_ONLY for t in tubes),
        urine=any(t.container in (Container.URINE_CUP, Container.URINE_TRANSPORT) for t in tubes),
        clean_catch_only=any(t.container in CLEAN_CATCH_ONLY for t in tubes),
        collected=[s for s in specimens if s.status != Specimen.Status.NOT_COLLECTED],
        not_collected=[s for s in specimens if s.status == Specimen.Status.NOT_COLLECTED],
        cancelled=[o for o in orders if o.stage == LabOrder.Stage.CANCELLED],
        done=not todo,
    )


# -- Specimens ---------------------------------------------------------------------------------


def _specimens(actor: Actor, perm: Permission) -> QuerySet[Specimen]:
    return Specimen.objects.filter(clinic_id__in=_scoped(actor, perm)).select_related(
        "patient", "requisition", "requisition__lab", "collected_by", "manifest"
    )


def get_specimen(actor: Actor, public_id: uuid.UUID | str) -> Specimen:
    specimen = _specimens(actor, Permission.VIEW_LAB_ORDERS).filter(public_id=public_id).first()
    if specimen is None:
        raise _denied(actor, "Specimen", public_id)
    _read(
        actor,
        "Specimen",
        specimen.patient,
        specimen.clinic_id,
        specimen.public_id,
        f"specimen {specimen.accession}",
    )
    return specimen


def specimen_for(
    actor: Actor, public_id: uuid.UUID | str, perm: Permission, message: str
) -> Specimen:
    """A specimen for a page that changes it: 404 outside the actor's clinics, 403 without
    `perm`."""
    specimen = get_specimen(actor, public_id)
    if not can(actor, perm, specimen):
        raise PermissionDenied(message)
    return specimen


def specimen_for_receipt(actor: Actor, public_id: uuid.UUID | str) -> Specimen:
    specimen = get_specimen(actor, public_id)
    if not (
        can(actor, Permission.COLLECT_SPECIMEN, specimen)
        or can(actor, Permission.MANAGE_LAB_INTERFACE, specimen)
    ):
        raise PermissionDenied("Your role may not record the lab's receipt.")
    return specimen


@dataclass
class SpecimenPage:
    specimen: Specimen
    trail: list[CustodyEvent]
    orders: list[LabOrder]
    spin_within: int | None
    spun: bool
    may_process: bool
    may_receive: bool
    interface: bool

    @property
    def needs_spin(self) -> bool:
        return (
            self.spin_within is not None
            and not self.spun
            and self.specimen.specimen_type in SPUN_TYPES
        )

    @property
    def spin_due(self) -> dt.datetime | None:
        if not self.needs_spin or self.specimen.collected_at is None or self.spin_within is None:
            return None
        return self.specimen.collected_at + dt.timedelta(minutes=self.spin_within)


def specimen_page(actor: Actor, public_id: uuid.UUID | str) -> SpecimenPage:
    """The specimen with its whole trail in order (who and when at every hand)."""
    return specimen_trail(actor, get_specimen(actor, public_id))


def specimen_trail(actor: Actor, specimen: Specimen) -> SpecimenPage:
    """The page of a specimen already looked up (and its read recorded)."""
    trail = list(
        CustodyEvent.objects.filter(specimen=specimen).select_related("by").order_by("at", "id")
    )
    orders = list(specimen.orders.select_related("test").order_by("id"))
    spins = [o.test.spin_within_minutes for o in orders if o.test.spin_within_minutes]
    return SpecimenPage(
        specimen=specimen,
        trail=trail,
        orders=orders,
        spin_within=min(spins) if spins else None,
        spun=any(e.step == CustodyEvent.Step.SPUN for e in trail),
        may_process=can(actor, Permission.COLLECT_SPECIMEN, specimen)
        and specimen.status in AT_CLINIC,
        may_receive=(
            can(actor, Permission.COLLECT_SPECIMEN, specimen)
            or can(actor, Permission.MANAGE_LAB_INTERFACE, specimen)
        )
        and specimen.status == Specimen.Status.IN_TRANSIT
        and not lab_has_interface(specimen.requisition.lab),
        interface=lab_has_interface(specimen.requisition.lab),
    )


# -- Manifests ---------------------------------------------------------------------------------


def labs_of(clinic_id: int) -> list[PerformingLab]:
    return list(PerformingLab.objects.filter(clinic_id=clinic_id).order_by("name", "id"))


def lab_for_packing(
    actor: Actor, public_id: uuid.UUID | str | None, clinic: Clinic
) -> PerformingLab | None:
    """The clinic's lab named by the page's ?lab= (None: not one of the clinic's)."""
    if not public_id:
        return None
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return PerformingLab.objects.filter(clinic=clinic, public_id=key).first()


@dataclass
class Candidate:
    specimen: Specimen
    tests: list[str]
    problem: str  # why it cannot go yet ("" when ready)


def manifest_candidates(actor: Actor, lab: PerformingLab) -> list[Candidate]:
    """The lab's specimens collected and not yet packed, with why any is not ready (no label,
    not centrifuged); the list (patients and tests) is an audited read. Five queries."""
    specimens = list(
        Specimen.objects.filter(
            clinic_id=lab.clinic_id,
            requisition__lab=lab,
            status__in=AT_CLINIC,
            manifest__isnull=True,
        )
        .select_related("patient", "collected_by")
        .prefetch_related(
            Prefetch("orders", queryset=LabOrder.objects.select_related("test")),
            Prefetch("custody", queryset=CustodyEvent.objects.filter(step=CustodyEvent.Step.SPUN)),
        )
        .order_by("collected_at", "id")
    )
    out = []
    for s in specimens:
        orders = list(s.orders.all())
        if orders and all(o.stage == LabOrder.Stage.CANCELLED for o in orders):
            continue
        spin = any(o.test.spin_within_minutes for o in orders) and s.specimen_type in SPUN_TYPES
        problem = (
            "print its label first"
            if s.labels_printed == 0
            else "centrifuge it first"
            if spin and not list(s.custody.all())
            else ""
        )
        out.append(Candidate(s, [o.test.name for o in orders], problem))
    _read(
        actor,
        "Specimen",
        None,
        lab.clinic_id,
        f"lab-packing-{lab.pk}",
        f"specimens to pack for {lab.name}: {len(out)}",
    )
    return out


def candidate_specimens(lab: PerformingLab, public_ids: Sequence[uuid.UUID]) -> list[Specimen]:
    """The chosen specimens, if they are the lab's clinic's (the service checks the rest)."""
    return list(
        Specimen.objects.filter(clinic_id=lab.clinic_id, public_id__in=list(public_ids)).order_by(
            "id"
        )
    )


@dataclass
class ManifestPage:
    manifest: Manifest
    specimens: list[Specimen]
    printed_at: dt.datetime


def get_manifest(
    actor: Actor, public_id: uuid.UUID | str, perm: Permission = Permission.VIEW_LAB_ORDERS
) -> Manifest:
    manifest = (
        Manifest.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
        )
        .select_related("lab", "packaged_by", "handed_by")
        .first()
    )
    if manifest is None:
        raise _denied(actor, "List", public_id)
    _read(
        actor, "List", None, manifest.clinic_id, manifest.public_id, f"manifest {manifest.number}"
    )
    if not can(actor, perm, manifest):
        raise PermissionDenied("Your role does not handle specimens.")
    return manifest


def manifest_page(manifest: Manifest) -> ManifestPage:
    specimens = list(
        Specimen.objects.filter(manifest=manifest)
        .select_related("patient", "collected_by")
        .prefetch_related(Prefetch("orders", queryset=LabOrder.objects.select_related("test")))
        .order_by("id")
    )
    return ManifestPage(
        manifest=manifest, specimens=specimens, printed_at=clock.localtime(clock.now())
    )


# -- The pending-specimens board ---------------------------------------------------------------


def overdue_reason(
    *,
    collected_at: dt.datetime,
    handed_at: dt.datetime | None,
    pickup_hours: int,
    transit_hours: int,
    now: dt.datetime,
) -> str:
    """Why a specimen on its way is overdue ("" when it is not): not handed to the courier
    within the lab's pickup hours of collection, or not received within its transit hours of
    the hand-off. The hours are the lab's (PerformingLab), agreed with it for its stability
    limits; exactly at the limit is not yet overdue."""
    if handed_at is None:
        if now > collected_at + dt.timedelta(hours=pickup_hours):
            return f"not handed to the courier within {pickup_hours} h of collection"
        return ""
    if now > handed_at + dt.timedelta(hours=transit_hours):
        return f"not received by the lab within {transit_hours} h of the hand-off"
    late = handed_at - collected_at
    if late > dt.timedelta(hours=pickup_hours):
        # A missed pickup window stays missed once the bag is handed over: the lab must know
        # the specimen may be past its stability limit.
        hours = int(late.total_seconds() // 3600)
        return f"handed to the courier {hours} h after collection (pickup within {pickup_hours} h)"
    return ""


@dataclass
class PendingRow:
    specimen: Specimen
    tests: list[str]
    age: dt.timedelta
    reason: str  # why it is overdue, "" when it is not
    handed_at: dt.datetime | None
    message: OrderMessage | None  # the lab's answer to the order

    @property
    def overdue(self) -> bool:
        return bool(self.reason)

    @property
    def age_text(self) -> str:
        minutes = int(self.age.total_seconds() // 60)
        hours, minutes = divmod(max(minutes, 0), 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"

    @property
    def order_unsent(self) -> bool:
        """The lab has not accepted the electronic order (no message, or an error): the
        specimen would arrive at the lab without an order."""
        lab = self.specimen.requisition.lab
        if not lab_has_interface(lab):
            return False
        return self.message is None or self.message.status != OrderMessage.Status.ACCEPTED


@dataclass
class PendingBoard:
    clinic: Clinic
    clinics: list[Clinic]
    rows: list[PendingRow]
    now: dt.datetime

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.rows if r.overdue)


def pending_board(actor: Actor, clinic_code: str | None = None) -> PendingBoard:
    """Every specimen of the clinic not yet received by the lab, oldest first, with its age
    and whether it is overdue, and whether the lab has the electronic order. Four queries
    (specimens, their tests, the order messages, the audit entry) for any number of rows."""
    clinic, clinics = pick_clinic(
        actor, Permission.VIEW_LAB_ORDERS, clinic_code, "Your role does not see lab orders."
    )
    now = clock.now()
    specimens = list(
        Specimen.objects.filter(clinic=clinic, status__in=ON_THE_WAY)
        .select_related("patient", "requisition", "requisition__lab", "manifest", "collected_by")
        .prefetch_related(
            Prefetch("orders", queryset=LabOrder.objects.select_related("test").order_by("id")),
            Prefetch(
                "requisition__messages",
                queryset=OrderMessage.objects.filter(control="NW").order_by("id"),
                to_attr="new_messages",
            ),
        )
        .order_by("collected_at", "id")
    )
    rows = []
    for s in specimens:
        orders = list(s.orders.all())
        if orders and all(o.stage == LabOrder.Stage.CANCELLED for o in orders):
            continue  # a tube whose tests were all cancelled is not waited for
        lab = s.requisition.lab
        collected = s.collected_at or s.created_at
        handed = s.manifest.handed_at if s.manifest else None
        messages = getattr(s.requisition, "new_messages", [])
        rows.append(
            PendingRow(
                specimen=s,
                tests=[o.test.name for o in orders],
                age=now - collected,
                reason=overdue_reason(
                    collected_at=collected,
                    handed_at=handed,
                    pickup_hours=lab.pickup_hours,
                    transit_hours=lab.transit_hours,
                    now=now,
                ),
                handed_at=handed,
                message=messages[-1] if messages else None,
            )
        )
    rows.sort(key=lambda r: (not r.overdue, -r.age.total_seconds()))
    _read(
        actor,
        "Specimen",
        None,
        clinic.pk,
        f"lab-pending-{clinic.pk}",
        f"pending specimens: {len(rows)}, {sum(1 for r in rows if r.overdue)} overdue",
    )
    return PendingBoard(clinic=clinic, clinics=clinics, rows=rows, now=now)


# -- The catalog -------------------------------------------------------------------------------


@dataclass
class Catalog:
    clinic: Clinic
    clinics: list[Clinic]
    labs: list[PerformingLab]
    tests: list[LabTest]


def catalog(actor: Actor, clinic_code: str | None = None) -> Catalog:
    clinic, clinics = pick_clinic(
        actor,
        Permission.MANAGE_LAB_CATALOG,
        clinic_code,
        "Only the clinic manager keeps the lab catalog.",
    )
    return Catalog(
        clinic=clinic,
        clinics=clinics,
        labs=labs_of(clinic.pk),
        tests=list(
            LabTest.objects.filter(clinic=clinic)
            .select_related("lab")
            .order_by("lab__name", "lab_id", "sort_order", "name")
        ),
    )


def get_lab(actor: Actor, public_id: uuid.UUID | str) -> PerformingLab:
    """A performing lab, for the manager's edit page: 404 outside the actor's clinics, 403
    for a role that does not keep the catalog."""
    lab = (
        PerformingLab.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
        )
        .select_related("clinic")
        .first()
    )
    if lab is None:
        raise _denied(actor, "Organization", public_id)
    if not can(actor, Permission.MANAGE_LAB_CATALOG, lab):
        raise PermissionDenied("Only the clinic manager keeps the lab catalog.")
    return lab


def get_test(actor: Actor, public_id: uuid.UUID | str) -> LabTest:
    test = (
        LabTest.objects.filter(
            public_id=public_id, clinic_id__in=_scoped(actor, Permission.VIEW_LAB_ORDERS)
        )
        .select_related("clinic", "lab")
        .first()
    )
    if test is None:
        raise _denied(actor, "ActivityDefinition", public_id)
    if not can(actor, Permission.MANAGE_LAB_CATALOG, test):
        raise PermissionDenied("Only the clinic manager keeps the lab catalog.")
    return test


def clinic_lab(clinic_id: int, public_id: uuid.UUID | None) -> PerformingLab | None:
    if public_id is None:
        return None
    return PerformingLab.objects.filter(clinic_id=clinic_id, public_id=public_id).first()


def manifest_for_print(actor: Actor, public_id: uuid.UUID | str) -> ManifestPage:
    """The manifest to print for the courier (its patients' names on paper: audited as a
    print)."""
    manifest = get_manifest(actor, public_id)
    page = manifest_page(manifest)
    record(
        actor,
        Action.PRINT,
        "List",
        clinic_id=manifest.clinic_id,
        entity_id=str(manifest.public_id),
        description=f"manifest {manifest.number}: {len(page.specimens)} specimens for "
        f"{manifest.lab.name}",
    )
    return page
