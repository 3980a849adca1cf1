"""Ordering lab tests through the service: a requisition per lab, an order per test with a
unique placer number, the new-order message queued in the same transaction, who may order,
the diagnosis codes, and cancelling."""

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.events.models import OutboxMessage
from medassist.labs.models import LabOrder, LabRequisition, LabTest, OrderMessage, PerformingLab
from medassist.labs.services import orders as services
from medassist.labs.services.orders import Diagnosis
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db

DX = [Diagnosis("E78.5", "Hyperlipidemia")]


def refusal(excinfo) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(field, code) of the first error of a refusal."""
    name, errors = next(iter(excinfo.value.error_dict.items()))
    return name, errors[0].code


def second_lab(clinic) -> PerformingLab:  # type: ignore[no-untyped-def]
    lab = PerformingLab.objects.create(
        clinic=clinic, name="Pathology Partners", facility="PPL", clinic_facility=clinic.code
    )
    LabTest.objects.create(
        clinic=clinic,
        lab=lab,
        loinc="2532-0",
        name="LDH",
        lab_code="LDH",
        specimen_type="SER",
        container="gold_sst",
    )
    return lab


def place(cast, patient, codes, catalog, user=None, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("diagnoses", DX)
    return services.place_order(
        actor=f.Actor.for_user(user or cast.bob),
        patient=patient,
        tests=[catalog[c] if isinstance(c, str) else c for c in codes],
        **kw,
    )


def test_one_requisition_per_lab_one_order_per_test_each_with_its_placer_number(cast):
    catalog = f.make_catalog(cast.north)
    other = second_lab(cast.north)
    patient, visit = f.today_patient(cast)
    at = clock.now() + dt.timedelta(hours=2)
    placed = place(
        cast,
        patient,
        ["CMP", "LIPID", LabTest.objects.get(lab=other), "CBC"],
        catalog,
        encounter=visit,
        priority="stat",
        diagnoses=[Diagnosis("e785", " Hyperlipidemia "), Diagnosis("E78.5", "again")],
        note="  call   the patient  ",
        collect_not_before=at,
    )
    assert [r.lab for r in placed] == [catalog.lab, other]
    first, second = (LabRequisition.objects.get(pk=r.pk) for r in placed)
    assert [o.test.lab_code for o in first.orders.order_by("id")] == ["CMP", "LIPID", "CBC"]
    assert [o.test.name for o in second.orders.all()] == ["LDH"]
    assert first.number == f"NORTH-REQ{first.pk:06d}" and len(first.number) <= 30
    assert first.priority == "stat" and first.encounter == visit and first.ordered_by == cast.bob
    # The code normalized, the repeat dropped, the words kept; the note's spaces tidied.
    assert first.diagnoses == [{"code": "E78.5", "display": "Hyperlipidemia"}]
    assert first.note == "call the patient"
    for o in LabOrder.objects.all():
        assert re.fullmatch(r"NORTH-\d{8}", o.placer_number) and len(o.placer_number) <= 30
        assert o.placer_number == f"NORTH-{o.pk:08d}"
        assert (o.status, o.stage) == ("active", "to_collect")
        assert o.collect_not_before == at
    # One new-order message per requisition, carrying all its orders, queued for the adapter.
    for requisition in (first, second):
        message = OrderMessage.objects.get(requisition=requisition)
        assert (message.control, message.status) == ("NW", "queued")
        assert len(message.control_id) == 20
        assert set(message.orders.all()) == set(requisition.orders.all())
        outbox = OutboxMessage.objects.get(payload={"message_id": message.pk})
        assert outbox.kind == services.LAB_ORDER_KIND == "lab.order"
        assert outbox.subject == str(requisition.public_id)
    events = AuditEvent.objects.filter(entity_type="ServiceRequest", action=Action.CREATE)
    assert events.count() == 2 and {e.patient_id for e in events} == {patient.pk}
    first_event = events.order_by("id").first()
    assert first_event is not None
    assert (
        "Comprehensive metabolic panel, Lipid panel, CBC with automated differential from "
        "Riverside Reference Laboratory (STAT)" in first_event.description
    )


def test_placer_and_requisition_numbers_are_unique_and_carry_the_clinic(cast):
    north, south = f.make_catalog(cast.north), f.make_catalog(cast.south)
    numbers = []
    for i in range(3):
        a = make_patient(cast.north, family=f"North{i}")
        b = make_patient(cast.south, family=f"South{i}")
        numbers += [
            o.placer_number for r in place(cast, a, ["CMP", "CBC"], north) for o in r.orders.all()
        ]
        numbers += [
            o.placer_number
            for r in place(cast, b, ["CMP", "CBC"], south, user=cast.frank)
            for o in r.orders.all()
        ]
    assert len(numbers) == len(set(numbers)) == 12
    assert (
        sum(n.startswith("NORTH-") for n in numbers)
        == sum(n.startswith("SOUTH-") for n in numbers)
        == 6
    )
    # and the database refuses a repeat should anything ever make one
    first, last = (
        LabOrder.objects.order_by("id")[:1].get(),
        LabOrder.objects.order_by("-id")[:1].get(),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        LabOrder.objects.filter(pk=last.pk).update(placer_number=first.placer_number)


def test_the_order_message_is_queued_in_the_ordering_transaction(
    cast, django_capture_on_commit_callbacks
):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    with django_capture_on_commit_callbacks() as callbacks:
        place(cast, patient, ["CMP", "CBC"], catalog)
    # Sent after commit (one delivery per message), never from inside the transaction.
    assert len(callbacks) == 1
    assert OutboxMessage.objects.filter(kind="lab.order").count() == 1
    # A transaction that rolls back leaves no order and no message to send.
    with pytest.raises(RuntimeError), transaction.atomic():
        place(cast, make_patient(cast.north, family="Later"), ["TSH"], catalog)
        raise RuntimeError("the caller's transaction fails")
    assert LabRequisition.objects.count() == 1
    assert OrderMessage.objects.count() == OutboxMessage.objects.count() == 1


def test_a_failure_while_queueing_leaves_nothing_half_saved(cast, monkeypatch):
    catalog = f.make_catalog(cast.north)
    other = second_lab(cast.north)
    patient = make_patient(cast.north)
    calls = []

    def enqueue(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        if len(calls) == 2:  # the second lab's message
            raise RuntimeError("outbox unavailable")
        return OutboxMessage.objects.create(kind=args[0], payload=args[1])

    monkeypatch.setattr(services, "enqueue", enqueue)
    with pytest.raises(RuntimeError):
        place(cast, patient, ["CMP", LabTest.objects.get(lab=other)], catalog)
    assert not LabRequisition.objects.exists() and not LabOrder.objects.exists()
    assert not OrderMessage.objects.exists() and not OutboxMessage.objects.exists()
    assert not AuditEvent.objects.filter(entity_type="ServiceRequest").exists()


def test_only_a_provider_of_the_patients_clinic_orders(cast):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    for user in (cast.alice, cast.dana, cast.gwen, cast.frank, cast.carol):
        with pytest.raises(PermissionDenied):
            place(cast, patient, ["CMP"], catalog, user=user)
    assert not LabRequisition.objects.exists()


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("E11.9", "E11.9"),
        ("e119", "E11.9"),  # no point, lower case
        (" E 11.9 ", "E11.9"),
        ("Z00.00", "Z00.00"),
        ("I10", "I10"),  # three characters: a category that is a code
        ("S72.001A", "S72.001A"),  # seventh character
        ("T36.0X1A", "T36.0X1A"),  # placeholder X
        ("C4A.9", "C4A.9"),  # letter in the third place
        ("Z3A.20", "Z3A.20"),
        ("u07.1", "U07.1"),
    ],
)
def test_icd10cm_codes_are_accepted_in_their_printed_form(typed, code):
    assert services.normalize_icd10cm(typed) == code


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "E1",
        "11.9",
        "EE1.9",
        "E11-9",
        "E11.",
        "E11.99999",
        "Z00.0.0",
        "E1.19",
        "E11.9;",
        "Ε11.9",
    ],
)
def test_what_is_not_an_icd10cm_code_is_refused(typed):
    with pytest.raises(ValueError):
        services.normalize_icd10cm(typed)


def test_diagnoses_are_read_one_a_line_and_a_bad_line_is_named():
    found = services.parse_diagnoses("E11.9 Type 2 diabetes\n\n  i10 - Essential hypertension \n")
    assert found == [
        Diagnosis("E11.9", "Type 2 diabetes"),
        Diagnosis("I10", "Essential hypertension"),
    ]
    with pytest.raises(ValidationError) as excinfo:
        services.parse_diagnoses("E11.9\nhypertension")
    assert "Line 2" in str(excinfo.value.message_dict["diagnoses"])


def test_bad_orders_are_refused_on_their_field_and_nothing_is_saved(cast):
    catalog = f.make_catalog(cast.north)
    south = f.make_catalog(cast.south)
    patient = make_patient(cast.north)
    other_visit = make_encounter(make_patient(cast.north, family="Other"), cast.bob)
    cancelled = make_encounter(patient, cast.bob, stage=Encounter.Stage.CANCELLED)
    inactive = catalog["BMP"]
    LabTest.objects.filter(pk=inactive.pk).update(active=False)
    inactive.refresh_from_db()
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"tests": []}, ("tests", "no_tests")),
        ({"diagnoses": []}, ("diagnoses", "no_diagnosis")),
        ({"diagnoses": [Diagnosis("diabetes")]}, ("diagnoses", "icd10")),
        ({"diagnoses": [Diagnosis(f"Z00.{i:02d}") for i in range(13)]}, ("diagnoses", "too_many")),
        ({"priority": "whenever"}, ("priority", "priority")),
        ({"tests": [inactive]}, ("tests", "not_in_catalog")),
        ({"tests": [south["CMP"]]}, ("tests", "not_in_catalog")),
        ({"encounter": other_visit}, ("encounter", "wrong_patient")),
        ({"encounter": cancelled}, ("encounter", "visit_cancelled")),
        (
            {"collect_not_before": clock.now() - dt.timedelta(minutes=5)},
            ("collect_not_before", "past"),
        ),
        (
            {"collect_not_before": clock.now() + dt.timedelta(days=45)},
            ("collect_not_before", "too_far"),
        ),
    ]
    for changes, expected in cases:
        kw: dict[str, Any] = {"tests": [catalog["CMP"]], "diagnoses": DX, **changes}
        with pytest.raises(ValidationError) as excinfo:
            services.place_order(actor=f.Actor.for_user(cast.bob), patient=patient, **kw)
        assert refusal(excinfo) == expected, changes
    PerformingLab.objects.filter(pk=catalog.lab.pk).update(enabled=False)
    with pytest.raises(ValidationError) as excinfo:
        place(
            cast,
            patient,
            [LabTest.objects.select_related("lab").get(pk=catalog["CMP"].pk)],
            catalog,
        )
    assert refusal(excinfo) == ("tests", "lab_disabled")
    assert not LabRequisition.objects.exists() and not OutboxMessage.objects.exists()


def test_a_test_already_waiting_to_be_collected_is_not_ordered_twice(cast):
    catalog = f.make_catalog(cast.north)
    patient = make_patient(cast.north)
    place(cast, patient, ["CMP", "CBC"], catalog)
    with pytest.raises(ValidationError) as excinfo:
        place(cast, patient, ["TSH", "CBC"], catalog)
    assert refusal(excinfo) == ("tests", "duplicate")
    assert "CBC with automated differential is already ordered" in str(excinfo.value)
    assert LabOrder.objects.count() == 2
    # once collected, the same test may be ordered again (a repeat, e.g. next month's CBC)
    f.collect(cast, LabRequisition.objects.get())
    place(cast, patient, ["CBC"], catalog)
    assert LabOrder.objects.filter(test=catalog["CBC"]).count() == 2


# -- Cancelling ----------------------------------------------------------------------------------


def test_cancelling_revokes_one_test_and_tells_the_lab_about_that_one(cast):
    patient = make_patient(cast.north)
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    cmp, cbc = requisition.orders.order_by("id")
    done = services.cancel_order(actor=f.Actor.for_user(cast.bob), order=cmp, reason="  duplicate ")
    assert (done.status, done.stage, done.cancelled_reason) == ("revoked", "cancelled", "duplicate")
    cbc.refresh_from_db()
    assert (cbc.status, cbc.stage) == ("active", "to_collect")
    message = OrderMessage.objects.get(control="CA")
    assert message.requisition == requisition and list(message.orders.all()) == [cmp]
    assert OutboxMessage.objects.filter(
        payload={"message_id": message.pk}, kind="lab.order"
    ).exists()
    event = AuditEvent.objects.filter(entity_id=str(cmp.public_id), action=Action.UPDATE).get()
    assert (
        "cancelled Comprehensive metabolic panel" in event.description
        and "duplicate" in event.description
    )
    with pytest.raises(ValidationError) as excinfo:
        services.cancel_order(actor=f.Actor.for_user(cast.bob), order=cmp, reason="again")
    assert refusal(excinfo) == ("reason", "not_cancellable")
    assert OrderMessage.objects.filter(control="CA").count() == 1


def test_a_collected_test_may_be_cancelled_until_the_lab_reports(cast):
    requisition = f.order(cast, make_patient(cast.north), ("CMP", "CBC"))
    f.collect(cast, requisition)
    cmp, cbc = requisition.orders.order_by("id")
    services.cancel_order(actor=f.Actor.for_user(cast.bob), order=cmp, reason="not needed")
    for stage in ("partial", "resulted"):
        LabOrder.objects.filter(pk=cbc.pk).update(stage=stage)
        with pytest.raises(ValidationError) as excinfo:
            services.cancel_order(actor=f.Actor.for_user(cast.bob), order=cbc, reason="too late")
        assert "already reported results" in str(excinfo.value)
    assert OrderMessage.objects.filter(control="CA").count() == 1


def test_cancelling_needs_a_reason_and_a_provider(cast):
    requisition = f.order(cast, make_patient(cast.north), ("CMP",))
    order = requisition.orders.get()
    with pytest.raises(ValidationError) as excinfo:
        services.cancel_order(actor=f.Actor.for_user(cast.bob), order=order, reason=" ")
    assert refusal(excinfo) == ("reason", "reason")
    for user in (cast.alice, cast.frank):
        with pytest.raises(PermissionDenied):
            services.cancel_order(actor=f.Actor.for_user(user), order=order, reason="no")
    order.refresh_from_db()
    assert order.status == "active" and not OrderMessage.objects.filter(control="CA").exists()
