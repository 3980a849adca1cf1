"""Orders out: ORM^O01 and OML^O21 built from a requisition, read back field by field with
python-hl7 and validated against the HL7 2.5.1 structures (hl7apy).

The helpers at the top (a lab, its catalog, an order placed by bob) serve the other
test_lab_* files too."""

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import ValidationError as Hl7apyValidationError
from hl7apy.parser import parse_message as hl7apy_parse
from hl7apy.v2_5_1 import groups as hl7apy_groups
from hl7apy.v2_5_1 import messages as hl7apy_messages

from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.events.services import process_outbox
from medassist.hl7.er7 import Provider, Sender
from medassist.hl7.lab import build_message
from medassist.hl7.lab_orders import (
    Diagnosis,
    LabOrderMessage,
    OrderedTest,
    SpecimenInfo,
    Visit,
    build_lab_order,
)
from medassist.hl7.vxu import PatientInfo
from medassist.labs.draw import Container
from medassist.labs.models import LabRequisition, LabTest, OrderMessage, PerformingLab
from medassist.labs.services import orders as order_services
from medassist.patients.tests.factories import make_encounter, make_patient

# --- shared helpers --------------------------------------------------------------------------

CBC = "57021-8"  # CBC W Auto Differential panel - Blood (loinc.org)
LIPIDS = "24331-1"  # Lipid 1996 panel - Serum or Plasma (loinc.org)


def make_lab(cast, *, double=None, message_type="ORM^O01", **fields) -> PerformingLab:  # type: ignore[no-untyped-def]
    values = {
        "clinic": cast.north,
        "name": "Prairie Reference Laboratory",
        "application": "PRLLIS",
        "facility": "PRL",
        "clinic_facility": "NORTHFM",
        "message_type": message_type,
        "host": "127.0.0.1" if double is not None else "",
        "port": double.port if double is not None else None,
        "timeout_seconds": 1,
    }
    return PerformingLab.objects.create(**(values | fields))


def make_catalog(lab: PerformingLab) -> dict[str, LabTest]:
    return {
        "cbc": LabTest.objects.create(
            clinic=lab.clinic,
            lab=lab,
            loinc=CBC,
            name="CBC with differential",
            lab_code="005009",
            specimen_type="BLD",
            container=Container.LAVENDER,
            volume_ml=Decimal("3"),
        ),
        "lipids": LabTest.objects.create(
            clinic=lab.clinic,
            lab=lab,
            loinc=LIPIDS,
            name="Lipid panel",
            lab_code="303756",
            specimen_type="SER",
            container=Container.GOLD_SST,
            volume_ml=Decimal("5"),
            fasting_hours=12,
        ),
    }


def place(  # type: ignore[no-untyped-def]
    cast, actor_of, tests, *, patient=None, priority="routine", note="", encounter=True
) -> LabRequisition:
    """bob orders ``tests`` for a North patient (at a visit, unless told not to)."""
    patient = patient or make_patient(cast.north, family="Rivera", given="Maria")
    visit = make_encounter(patient, cast.bob) if encounter else None
    [requisition] = order_services.place_order(
        actor=actor_of(cast.bob),
        patient=patient,
        tests=list(tests),
        diagnoses=[order_services.Diagnosis("E11.9", "Type 2 diabetes mellitus")],
        priority=priority,
        note=note,
        encounter=visit,
    )
    return requisition


def collect(cast, actor_of, requisition, *, fasting=14):  # type: ignore[no-untyped-def]
    return order_services.collect_specimens(
        actor=actor_of(cast.alice),
        requisition=requisition,
        collection=order_services.Collection(
            confirm_name=True,
            confirm_birth_date=requisition.patient.birth_date,
            method="VENIP",
            body_site="left antecubital vein",
            fasting_hours_reported=fasting,
        ),
    )


def deliver_due() -> None:
    """Run the outbox as `medassist events run` would, with the clock past every backoff."""
    OutboxMessage.objects.filter(status=OutboxMessage.Status.QUEUED).update(
        available_at=clock.now() - dt.timedelta(seconds=1)
    )
    process_outbox()


def segment(text: str, name: str, n: int = 1) -> Any:
    return [s for s in hl7.parse(text) if str(s[0]) == name][n - 1]


def field(text: str, name: str, number: int, n: int = 1) -> str:
    """Field ``number`` of the n-th ``name`` segment, as sent (escaped); "" when absent."""
    seg = segment(text, name, n)
    return str(seg[number]) if len(seg) > number else ""


def names(text: str) -> list[str]:
    return [line[:3] for line in text.rstrip("\r").split("\r")]


# --- validation against HL7 2.5.1 (hl7apy) ---------------------------------------------------

_ORM_CHOICE = "ORM_O01_OBRRQDRQ1RXOODSODT_SUPPGRP"


@contextlib.contextmanager
def _orm_choice_as_obr() -> Iterator[None]:
    """hl7apy reads ORM^O01's ``< OBR | RQD | RQ1 | RXO | ODS | ODT >`` choice (ch. 4.4.1) as if
    all six were required (crs4/hl7apy#142); while validating, the choice is taken as OBR,
    which is the one a lab order makes."""
    kind, children = hl7apy_groups.GROUPS[_ORM_CHOICE]
    fixed = (
        "sequence",
        tuple((c[0], c[1], (1, 1) if c[0] == "OBR" else (0, 1), c[3]) for c in children),
    )

    def fix(struct: Any) -> Any:
        return (
            struct[0],
            tuple(
                (n, fixed if n == _ORM_CHOICE else (fix(d) if k == "GRP" else d), card, k)
                for n, d, card, k in struct[1]
            ),
        )

    saved_message = hl7apy_messages.MESSAGES["ORM_O01"]
    saved_groups = {g: s for g, s in hl7apy_groups.GROUPS.items() if g.startswith("ORM_O01")}
    hl7apy_messages.MESSAGES["ORM_O01"] = fix(saved_message)
    for g, s in saved_groups.items():
        hl7apy_groups.GROUPS[g] = fixed if g == _ORM_CHOICE else fix(s)
    try:
        yield
    finally:
        hl7apy_messages.MESSAGES["ORM_O01"] = saved_message
        hl7apy_groups.GROUPS.update(saved_groups)


def hl7apy_validate(text: str) -> bool:
    """Strict parse and validation against the 2.5.1 ORM_O01 / OML_O21 structure.

    Each order group is validated in a message of its own (the MSH, PID and PV1 with that one
    ORC group): with several, hl7apy's greedy parser files the second ORC under the first
    OBR's prior results (crs4/hl7apy#148), a choice the standard leaves to the receiver."""
    lines = text.rstrip("\r").split("\r")
    head = [line for line in lines[:3] if line[:3] in ("MSH", "PID", "PV1")]
    order_groups: list[list[str]] = []
    for line in lines[len(head) :]:
        if line.startswith("ORC"):
            order_groups.append([])
        order_groups[-1].append(line)
    with _orm_choice_as_obr():
        for group in order_groups:
            parsed = hl7apy_parse(
                "\r".join(head + group), find_groups=True, validation_level=VALIDATION_LEVEL.STRICT
            )
            parsed.validate()
    return bool(order_groups)


# --- the builder, from plain values ----------------------------------------------------------

AT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
DRAWN = AT + dt.timedelta(minutes=20)
BOB = Provider(id="2", family="Okafor", given="Robert", credential="MD")
PATIENT = PatientInfo(
    mrn="5000123",
    assigning_authority="NORTH",
    family="Rivera",
    given="María",
    dob=dt.date(1980, 3, 4),
    sex="F",
)


def plain(**changes: Any) -> LabOrderMessage:
    values: dict[str, Any] = {
        "message_type": "ORM^O01",
        "control": "NW",
        "control_id": "CTRL0001",
        "sent_at": AT,
        "sender": Sender(
            application="MEDASSIST",
            facility="NORTHFM",
            receiving_application="PRLLIS",
            receiving_facility="PRL",
        ),
        "patient": PATIENT,
        "visit": Visit(number="enc-1", attending=BOB),
        "requisition_number": "NORTH-REQ000001",
        "ordered_at": AT,
        "ordering_provider": BOB,
        "ordering_facility": "North Family Medicine",
        "priority": "S",
        "diagnoses": (Diagnosis(code="E11.9", display="Type 2 diabetes mellitus"),),
        "note": "Call results > 300 | urgent",
        "tests": (
            OrderedTest(
                placer_number="NORTH-00000001",
                loinc=CBC,
                name="CBC with differential",
                lab_code="005009",
                specimen_type="BLD",
                specimen_type_text="Whole blood",
                specimens=(
                    SpecimenInfo(
                        accession="NORTH-S0000001",
                        specimen_type="BLD",
                        specimen_type_text="Whole blood",
                        collected_at=DRAWN,
                        method="VENIP",
                    ),
                ),
            ),
            OrderedTest(
                placer_number="NORTH-00000002",
                loinc=LIPIDS,
                name="Lipid panel",
                specimen_type="SER",
                specimen_type_text="Serum",
                notes=("Patient reports fasting 14 h (test asks 12 h).",),
            ),
        ),
    }
    return LabOrderMessage(**(values | changes))


@pytest.mark.parametrize("kind", ["ORM^O01", "OML^O21"])
@pytest.mark.parametrize("control", ["NW", "CA"])
def test_valid_against_the_hl7_251_structure(kind: str, control: str) -> None:
    assert hl7apy_validate(build_lab_order(plain(message_type=kind, control=control)))


def test_structure_validation_can_fail() -> None:
    text = build_lab_order(plain(message_type="OML^O21"))
    without_obr_4 = text.replace(
        f"|{CBC}^CBC with differential^LN^005009^CBC with differential^L|", "||"
    )
    assert without_obr_4 != text
    with pytest.raises(Hl7apyValidationError):
        hl7apy_validate(without_obr_4)


def test_orm_header_patient_and_visit() -> None:
    text = build_lab_order(plain())
    assert text.endswith("\r") and "\n" not in text
    msh = segment(text, "MSH")
    assert [str(msh[n]) for n in (3, 4, 5, 6)] == ["MEDASSIST", "NORTHFM", "PRLLIS", "PRL"]
    assert str(msh[9]) == "ORM^O01^ORM_O01" and str(msh[10]) == "CTRL0001"
    assert str(msh[7]) == "20261120093000-0600" and str(msh[12]) == "2.5.1"
    assert str(msh[18]) == "UNICODE UTF-8"  # María
    assert field(text, "PID", 3) == "5000123^^^NORTH^MR"
    assert field(text, "PID", 5).startswith("Rivera^María")
    assert field(text, "PID", 7) == "19800304"
    assert field(text, "PV1", 2) == "O" and field(text, "PV1", 19) == "enc-1"
    assert names(text) == ["MSH", "PID", "PV1"] + ["ORC", "OBR", "NTE", "DG1"] + [
        "ORC", "OBR", "NTE", "NTE", "DG1",
    ]  # fmt: skip


def test_orm_order_groups_carry_the_placer_number_in_orc_2_and_obr_2() -> None:
    text = build_lab_order(plain())
    for n, placer in enumerate(("NORTH-00000001", "NORTH-00000002"), start=1):
        assert field(text, "ORC", 2, n) == f"{placer}^NORTHFM"
        assert field(text, "OBR", 2, n) == f"{placer}^NORTHFM"
        assert field(text, "ORC", 1, n) == "NW"
        assert field(text, "ORC", 4, n) == "NORTH-REQ000001^NORTHFM"
        assert field(text, "ORC", 12, n).startswith("2^Okafor^Robert")
        assert field(text, "OBR", 16, n).startswith("2^Okafor^Robert")
        assert field(text, "OBR", 27, n) == "^^^^^S"  # stat
        assert field(text, "OBR", 1, n) == str(n)
    assert field(text, "OBR", 4, 1) == (
        f"{CBC}^CBC with differential^LN^005009^CBC with differential^L"
    )
    assert field(text, "OBR", 4, 2) == f"{LIPIDS}^Lipid panel^LN"


def test_orm_specimen_collection_time_and_type() -> None:
    text = build_lab_order(plain())
    assert field(text, "OBR", 7, 1) == "20261120095000-0600"
    assert field(text, "OBR", 11, 1) == "O"  # drawn by us
    assert field(text, "OBR", 15, 1) == "BLD&Whole blood&HL70487"
    assert field(text, "OBR", 7, 2) == ""  # not collected yet
    assert field(text, "OBR", 11, 2) == "P"  # pending specimen
    assert field(text, "OBR", 15, 2) == "SER&Serum&HL70487"


def test_notes_and_diagnoses_are_escaped() -> None:
    text = build_lab_order(plain())
    assert field(text, "NTE", 3, 1) == "Call results > 300 \\F\\ urgent"
    assert str(hl7.parse(text).segments("NTE")[0].extract_field(1, 3)) == (
        "Call results > 300 | urgent"
    )
    assert field(text, "NTE", 3, 3) == "Patient reports fasting 14 h (test asks 12 h)."
    assert field(text, "DG1", 3) == "E11.9^Type 2 diabetes mellitus^I10"
    assert field(text, "DG1", 6) == "W"


def test_oml_uses_tq1_for_priority_and_spm_for_the_specimen() -> None:
    text = build_lab_order(plain(message_type="OML^O21", priority="A"))
    assert field(text, "MSH", 9) == "OML^O21^OML_O21"
    assert names(text) == ["MSH", "PID", "PV1"] + ["ORC", "TQ1", "OBR", "NTE", "DG1", "SPM"] + [
        "ORC", "TQ1", "OBR", "NTE", "NTE", "DG1", "SPM",
    ]  # fmt: skip
    assert field(text, "TQ1", 9) == "A^ASAP^HL70485"
    assert field(text, "OBR", 27) == "" and field(text, "OBR", 15) == ""
    assert field(text, "OBR", 2, 2) == "NORTH-00000002^NORTHFM"
    assert field(text, "SPM", 2, 1) == "NORTH-S0000001&NORTHFM"
    assert field(text, "SPM", 4, 1) == "BLD^Whole blood^HL70487"
    assert field(text, "SPM", 7, 1) == "VENIP^Venipuncture^HL70488"
    assert field(text, "SPM", 17, 1) == "20261120095000-0600"
    assert field(text, "SPM", 2, 2) == ""  # not yet collected: the type expected
    assert field(text, "SPM", 4, 2) == "SER^Serum^HL70487"


@pytest.mark.parametrize(
    ("method", "spm7"),
    [
        ("VENIP", "VENIP^Venipuncture^HL70488"),
        ("CAP", "CAP^Capillary specimen^HL70488"),
        ("SWA", "SWA^Swab^HL70488"),
        # Not in HL7 table 0488: the words alone, never a code the table does not define.
        ("CLEAN", "^Clean catch"),
        ("RANDU", "^Random urine"),
        ("STOOL", "^Stool"),
    ],
)
def test_spm7_codes_the_collection_method_only_where_table_0488_has_it(method, spm7) -> None:  # type: ignore[no-untyped-def]
    first = plain().tests[0]
    specimen = dataclasses.replace(first.specimens[0], method=method)
    message = plain(
        message_type="OML^O21", tests=(dataclasses.replace(first, specimens=(specimen,)),)
    )
    assert field(build_lab_order(message), "SPM", 7, 1) == spm7


def test_a_cancel_names_the_order_and_the_lab_number() -> None:
    cancelled = OrderedTest(
        placer_number="NORTH-00000002",
        filler_number="PRL-778",
        loinc=LIPIDS,
        name="Lipid panel",
        specimen_type="SER",
    )
    text = build_lab_order(plain(control="CA", cancel_reason="ordered twice", tests=(cancelled,)))
    assert names(text) == ["MSH", "PID", "PV1", "ORC", "OBR"]
    assert field(text, "ORC", 1) == "CA"
    assert field(text, "ORC", 2) == "NORTH-00000002^NORTHFM"
    assert field(text, "ORC", 3) == "PRL-778^PRL" and field(text, "OBR", 3) == "PRL-778^PRL"
    assert field(text, "ORC", 16) == "^ordered twice"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"message_type": "ORU^R01"}, "message type"),
        ({"control": "XX"}, "order control"),
        ({"priority": "T"}, "priority"),
        ({"control_id": ""}, "control id"),
        ({"tests": ()}, "at least one test"),
        ({"requisition_number": " "}, "requisition number"),
        ({"sent_at": dt.datetime(2026, 11, 20, 9, 30)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_what_the_builder_refuses(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plain(**changes)


def test_two_tests_need_two_placer_numbers() -> None:
    test = plain().tests[0]
    with pytest.raises(ValueError, match="its own placer order number"):
        plain(tests=(test, test))
    with pytest.raises(ValueError, match="placer_number"):
        OrderedTest(placer_number="", loinc=CBC, name="CBC", specimen_type="BLD")
    with pytest.raises(ValueError, match="HL70488"):
        SpecimenInfo(accession="A1", specimen_type="BLD", method="STAB")


# --- from the records a provider's order makes ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["ORM^O01", "OML^O21"])
def test_built_from_a_placed_order(cast, actor_of, kind, settings):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "America/Chicago"
    lab = make_lab(cast, message_type=kind)
    catalog = make_catalog(lab)
    requisition = place(cast, actor_of, [catalog["cbc"], catalog["lipids"]], priority="stat")
    collect(cast, actor_of, requisition)
    # Collecting sends the lab a change order (XO) with the tubes; the new order (NW) went first.
    new, om = OrderMessage.objects.filter(requisition=requisition).order_by("pk")
    assert (new.control, om.control) == ("NW", "XO")
    text = build_message(om)
    assert hl7apy_validate(text)
    orders = list(requisition.orders.order_by("pk"))
    for n, order in enumerate(orders, start=1):
        assert field(text, "ORC", 2, n) == f"{order.placer_number}^NORTHFM"
        assert field(text, "OBR", 2, n) == f"{order.placer_number}^NORTHFM"
    msh = segment(text, "MSH")
    assert [str(msh[n]) for n in (3, 4, 5, 6)] == ["MEDASSIST", "NORTHFM", "PRLLIS", "PRL"]
    assert str(msh[10]) == om.control_id
    assert field(text, "PID", 3) == f"{requisition.patient.mrn}^^^NORTH^MR"
    assert field(text, "ORC", 4) == f"{requisition.number}^NORTHFM"
    # XCN-9 who gave the id (our facility id, as in ORC-2), XCN-13 PRN (a provider number).
    for where in ("ORC", 12), ("OBR", 16), ("PV1", 7):
        xcn = field(text, *where).split("^")
        assert xcn[:3] == [str(cast.bob.pk), "Okafor", "Robert"], where
        assert (xcn[8], xcn[9], xcn[12]) == ("NORTHFM", "L", "PRN"), where
    assert requisition.encounter is not None
    assert field(text, "PV1", 19) == str(requisition.encounter.public_id)
    assert field(text, "DG1", 3) == "E11.9^Type 2 diabetes mellitus^I10"
    specimen = orders[0].specimens.get()
    assert specimen.collected_at is not None

    def local(moment: dt.datetime) -> str:
        """The clinic's wall-clock time with its offset (Chicago: -0600 or -0500)."""
        text = clock.localtime(moment).strftime("%Y%m%d%H%M%S%z")
        assert text[-5:] in ("-0600", "-0500")
        return text

    drawn = local(specimen.collected_at)
    assert field(text, "OBR", 7, 1) == drawn
    assert str(msh[7]) == local(om.created_at)
    assert field(text, "ORC", 9) == local(requisition.ordered_at)
    assert "fasting 14 h" in text
    if kind == "OML^O21":
        assert field(text, "TQ1", 9) == "S^Stat^HL70485"
        assert field(text, "SPM", 2, 1) == f"{specimen.accession}&NORTHFM"
        assert field(text, "SPM", 17, 1) == drawn
    else:
        assert field(text, "OBR", 27) == "^^^^^S"
        assert field(text, "OBR", 15, 2).startswith("SER&Serum&HL70487")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["ORM^O01", "OML^O21"])
def test_a_failed_draw_is_no_specimen_and_its_time_no_collection_time(  # type: ignore[no-untyped-def]
    cast, actor_of, kind, monkeypatch
):
    """alice cannot find a vein at 10:00; bob draws the tube at 13:00. OBR-7 (and SPM-17) is
    13:00, and the container that was never filled is not sent as a specimen (SPM)."""
    lab = make_lab(cast, message_type=kind)
    start = clock.now()
    requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=10))
    [failed] = order_services.record_not_collected(
        actor=actor_of(cast.alice), requisition=requisition, reason="No vein", attempts=2
    )
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(hours=3))
    done = order_services.collect_specimens(
        actor=actor_of(cast.bob),
        requisition=requisition,
        collection=order_services.Collection(
            confirm_name=True,
            confirm_birth_date=requisition.patient.birth_date,
            method="VENIP",
            attempts=1,
        ),
    )
    [drawn] = done.specimens
    assert drawn.collected_at is not None
    text = build_message(OrderMessage.objects.get(requisition=requisition, control="XO"))
    stamp = clock.localtime(drawn.collected_at).strftime("%Y%m%d%H%M%S%z")
    assert field(text, "OBR", 7) == stamp
    assert failed.accession not in text
    if kind == "OML^O21":
        assert [field(text, "SPM", 2, n) for n in (1,)] == [f"{drawn.accession}&NORTHFM"]
        assert names(text).count("SPM") == 1
        assert field(text, "SPM", 17) == stamp
    assert hl7apy_validate(text)


@pytest.mark.django_db
def test_only_a_failed_draw_leaves_the_specimen_pending(cast, actor_of):  # type: ignore[no-untyped-def]
    lab = make_lab(cast)
    requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]])
    order_services.record_not_collected(
        actor=actor_of(cast.alice), requisition=requisition, reason="Patient refused",
        problem="refused",
    )  # fmt: skip
    text = build_message(OrderMessage.objects.get(requisition=requisition))
    assert field(text, "OBR", 7) == "" and field(text, "OBR", 11) == "P"  # pending specimen


@pytest.mark.django_db
def test_an_order_without_a_visit_still_sends_pv1(cast, actor_of):  # type: ignore[no-untyped-def]
    lab = make_lab(cast)
    requisition = place(cast, actor_of, [make_catalog(lab)["cbc"]], encounter=False)
    text = build_message(OrderMessage.objects.get(requisition=requisition))
    assert field(text, "PV1", 2) == "O" and field(text, "PV1", 19) == ""
    assert hl7apy_validate(text)


@pytest.mark.django_db
def test_a_cancel_carries_only_the_cancelled_test(cast, actor_of):  # type: ignore[no-untyped-def]
    lab = make_lab(cast, message_type="OML^O21")
    catalog = make_catalog(lab)
    requisition = place(cast, actor_of, [catalog["cbc"], catalog["lipids"]])
    lipids = requisition.orders.get(test=catalog["lipids"])
    order_services.cancel_order(actor=actor_of(cast.bob), order=lipids, reason="ordered twice")
    cancel = OrderMessage.objects.get(requisition=requisition, control="CA")
    text = build_message(cancel)
    assert names(text) == ["MSH", "PID", "PV1", "ORC", "OBR"]
    assert field(text, "ORC", 1) == "CA"
    assert field(text, "ORC", 2) == f"{lipids.placer_number}^NORTHFM"
    assert field(text, "ORC", 16) == "^ordered twice"
    assert hl7apy_validate(text)
