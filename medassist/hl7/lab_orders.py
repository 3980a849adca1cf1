"""Lab orders out: ORM^O01 (general order) and OML^O21 (laboratory order), HL7 v2.5.1 ch. 4
("Order Entry") — "ch. 4" below, with the segment tables of ch. 4.5 and the OML^O21 structure
of ch. 4.4.6.

The dataclasses say what a requisition needs in plain values; ``build_lab_order`` turns one
into one message: MSH, PID, PV1, then one order group per test —

* ORM^O01: ORC, OBR, NTE (the requisition's note and per-test notes), DG1 (the reasons);
  specimen type in OBR-15 and priority in OBR-27 (both kept in 2.5.1 "for backward
  compatibility", and what ORM interfaces read);
* OML^O21: ORC, TQ1 (priority in TQ1-9), OBR, NTE, DG1, SPM (one per specimen collected, or the
  type expected when none is yet) — the 2.5.1 replacements of OBR-15 and OBR-27.

ORC-2 and OBR-2 carry our placer order number (LabOrder.placer_number) as an EI whose
namespace is our facility id as the lab knows it (MSH-4); the lab's results come back with the
same number, which is how they find their order. ORC-4 is the requisition (placer group)
number. ORC-1 is NW for a new order, CA to cancel one (with the lab's filler number in ORC-3
and OBR-3 when it told us one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from medassist.hl7.er7 import (
    Provider,
    SegmentBuilder,
    Sender,
    declare_charset,
    format_timestamp,
    new_message,
    one_of,
    put_xcn,
    require,
)
from medassist.hl7.vxu import PatientInfo, append_pid

__all__ = [
    "MESSAGE_TYPES",
    "PRIORITY",
    "Diagnosis",
    "LabOrderMessage",
    "OrderedTest",
    "SpecimenInfo",
    "Visit",
    "build_lab_order",
]

#: PerformingLab.message_type → MSH-9 (message code, trigger event, message structure).
MESSAGE_TYPES: Final = {
    "ORM^O01": ("ORM", "O01", "ORM_O01"),
    "OML^O21": ("OML", "O21", "OML_O21"),
}
#: HL70119 order control codes we send (ORC-1).
ORDER_CONTROL: Final = {
    "NW": "New order",
    "XO": "Change order/service request",  # sent after collection: the specimens, OBR-7
    "CA": "Cancel order request",
}
#: HL70485 extended priority codes (TQ1-9; OBR-27.6 / TQ-6 in ORM): the three a clinic uses.
PRIORITY: Final = {"S": "Stat", "A": "ASAP", "R": "Routine"}
#: Specimen collection method (SPM-7): the words for each labs.models.Specimen.Method. Only
#: VENIP, CAP and SWA are HL7 table 0488 codes; clean-catch, random urine and stool collection
#: are not in the table, so they go as text alone (CWE-2) rather than under a made-up code.
TABLE_0488: Final = frozenset({"VENIP", "CAP", "SWA"})
COLLECTION_METHOD: Final = {
    "VENIP": "Venipuncture",
    "CAP": "Capillary specimen",
    "CLEAN": "Clean catch",
    "RANDU": "Random urine",
    "SWA": "Swab",
    "STOOL": "Stool",
}
#: HL70105 source of comment (NTE-2): P, the orderer (placer).
_FROM_PLACER: Final = "P"
#: HL70052 diagnosis type (DG1-6, required in 2.5.1): W working — the reason for the test, not
#: a final diagnosis.
_WORKING_DIAGNOSIS: Final = "W"
#: HL70004 patient class (PV1-2): O outpatient.
_OUTPATIENT: Final = "O"
#: HL70065 specimen action code (OBR-11): O obtained by a service other than the lab (we drew
#: it); P pending specimen, the order sent before the specimen is delivered.
_COLLECTED_BY_US: Final = "O"
_PENDING_SPECIMEN: Final = "P"
#: HL70396 coding system of ICD-10-CM (DG1-3).
_ICD10CM: Final = "I10"


@dataclass(frozen=True, kw_only=True)
class Visit:
    """The visit the tests were ordered at: PV1."""

    number: str = ""  # PV1-19 visit number (our encounter id)
    attending: Provider | None = None  # PV1-7


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """Why the tests are ordered: one DG1 (ICD-10-CM)."""

    code: str
    display: str = ""

    def __post_init__(self) -> None:
        require(self.code, "Diagnosis.code (DG1-3)")


@dataclass(frozen=True, kw_only=True)
class SpecimenInfo:
    """A specimen collected for the test (SPM in OML; its time in OBR-7)."""

    accession: str  # SPM-2 placer-assigned specimen id, on the tube's label
    specimen_type: str  # HL70487, e.g. SER, BLD
    specimen_type_text: str = ""
    collected_at: dt.datetime | None = None
    method: str = ""  # HL70488

    def __post_init__(self) -> None:
        require(self.accession, "SpecimenInfo.accession (SPM-2)")
        require(self.specimen_type, "SpecimenInfo.specimen_type (SPM-4, HL70487)")
        if self.method:
            one_of(self.method, COLLECTION_METHOD, "collection method (SPM-7, HL70488)")


@dataclass(frozen=True, kw_only=True)
class OrderedTest:
    """One test ordered: an ORC/OBR group."""

    placer_number: str  # ORC-2 / OBR-2: LabOrder.placer_number
    filler_number: str = ""  # ORC-3 / OBR-3, once the lab told it
    loinc: str  # OBR-4.1..3
    name: str
    lab_code: str = ""  # OBR-4.4..6: the lab's own code (its compendium)
    specimen_type: str  # HL70487: what the test needs (OBR-15 / SPM-4 before collection)
    specimen_type_text: str = ""
    specimens: tuple[SpecimenInfo, ...] = ()
    notes: tuple[str, ...] = ()  # NTE: e.g. the fasting the patient reported

    def __post_init__(self) -> None:
        require(self.placer_number, "OrderedTest.placer_number (ORC-2/OBR-2)")
        require(self.loinc, "OrderedTest.loinc (OBR-4)")
        require(self.name, "OrderedTest.name (OBR-4.2)")
        require(self.specimen_type, "OrderedTest.specimen_type (HL70487)")

    @property
    def collected_at(self) -> dt.datetime | None:
        """OBR-7: when the first specimen for it was collected."""
        times = [s.collected_at for s in self.specimens if s.collected_at is not None]
        return min(times) if times else None


@dataclass(frozen=True, kw_only=True)
class LabOrderMessage:
    """One ORM^O01 or OML^O21 for one requisition: new orders (NW) or cancels (CA)."""

    message_type: str  # "ORM^O01" or "OML^O21"
    control: str  # ORC-1: NW, XO or CA
    control_id: str  # MSH-10
    sent_at: dt.datetime  # MSH-7, and ORC-9 of a cancel
    sender: Sender  # MSH-3..6: us (MEDASSIST at the clinic's facility id) to the lab
    patient: PatientInfo
    visit: Visit | None = None
    requisition_number: str  # ORC-4 placer group number
    ordered_at: dt.datetime  # ORC-9 of a new order
    ordering_provider: Provider  # ORC-12, OBR-16
    entered_by: Provider | None = None  # ORC-10
    ordering_facility: str = ""  # ORC-21: the clinic's name
    priority: str = "R"  # HL70485
    diagnoses: tuple[Diagnosis, ...] = ()
    note: str = ""  # the requisition's note to the lab (NTE)
    cancel_reason: str = ""  # ORC-16 of a cancel
    tests: tuple[OrderedTest, ...]

    def __post_init__(self) -> None:
        one_of(self.message_type, MESSAGE_TYPES, "message type (MSH-9)")
        one_of(self.control, ORDER_CONTROL, "order control (ORC-1)")
        one_of(self.priority, PRIORITY, "priority (HL70485)")
        require(self.control_id, "the message control id (MSH-10)")
        require(self.requisition_number, "the requisition number (ORC-4)")
        if not self.tests:
            raise ValueError("an order message needs at least one test (ORC/OBR)")
        placers = [t.placer_number for t in self.tests]
        if len(set(placers)) != len(placers):
            raise ValueError("each test needs its own placer order number (ORC-2/OBR-2)")
        for moment, what in ((self.sent_at, "sent_at"), (self.ordered_at, "ordered_at")):
            if moment.tzinfo is None:
                raise ValueError(f"{what} must be timezone-aware")

    @property
    def is_oml(self) -> bool:
        return self.message_type == "OML^O21"

    @property
    def is_cancel(self) -> bool:
        return self.control == "CA"


def _msh(message: Any, order: LabOrderMessage) -> None:
    """ch. 2.14.9 MSH. MSH-15/16 left empty: original acknowledgement mode, one ACK per order
    message (AA, AE or AR), which is what we wait for."""
    code, event, structure = MESSAGE_TYPES[order.message_type]
    sender = order.sender
    msh = SegmentBuilder(message.segment("MSH"))
    msh.put(3, sender.application)
    msh.put(4, sender.facility)
    msh.put(5, sender.receiving_application)
    msh.put(6, sender.receiving_facility)
    msh.put(7, format_timestamp(order.sent_at))
    msh.put(9, code, comp=1)
    msh.put(9, event, comp=2)
    msh.put(9, structure, comp=3)
    msh.put(10, order.control_id)
    msh.put(11, sender.processing_id)
    msh.put(12, "2.5.1")


def _pv1(message: Any, visit: Visit | None) -> None:
    """ch. 3.4.3 PV1: the patient class is required; the visit number and the attending
    provider when the tests were ordered at a visit."""
    pv1 = SegmentBuilder.append_to(message, "PV1")
    pv1.put(1, "1")
    pv1.put(2, _OUTPATIENT)
    if visit is not None:
        put_xcn(pv1, 7, visit.attending)
        pv1.put(19, visit.number)


def _ei(seg: SegmentBuilder, field: int, number: str, namespace: str) -> None:
    """An EI: the number, then the namespace that assigned it (EI-2)."""
    seg.put(field, number, comp=1)
    if number:
        seg.put(field, namespace, comp=2)


def _orc(message: Any, order: LabOrderMessage, test: OrderedTest) -> None:
    """ch. 4.5.1 ORC."""
    ours = order.sender.facility
    orc = SegmentBuilder.append_to(message, "ORC")
    orc.put(1, order.control)
    _ei(orc, 2, test.placer_number, ours)
    _ei(orc, 3, test.filler_number, order.sender.receiving_facility)
    _ei(orc, 4, order.requisition_number, ours)
    orc.put(9, format_timestamp(order.sent_at if order.is_cancel else order.ordered_at))
    put_xcn(orc, 10, order.entered_by)
    put_xcn(orc, 12, order.ordering_provider)
    if order.is_cancel and order.cancel_reason:
        orc.put(16, order.cancel_reason, comp=2)  # CE text only: the reason in words
    orc.put(21, order.ordering_facility, comp=1)  # XON-1 organization name


def _tq1(message: Any, order: LabOrderMessage) -> None:
    """ch. 4.5.4 TQ1: the priority (TQ1-9, HL70485)."""
    tq1 = SegmentBuilder.append_to(message, "TQ1")
    tq1.put(1, "1")
    tq1.coded(9, order.priority, PRIORITY[order.priority], "HL70485")


def _obr(message: Any, order: LabOrderMessage, test: OrderedTest, set_id: int) -> None:
    """ch. 4.5.3 / 7.4.1 OBR."""
    obr = SegmentBuilder.append_to(message, "OBR")
    obr.put(1, str(set_id))
    _ei(obr, 2, test.placer_number, order.sender.facility)
    _ei(obr, 3, test.filler_number, order.sender.receiving_facility)
    obr.coded(4, test.loinc, test.name, "LN")
    if test.lab_code:
        obr.coded(4, test.lab_code, test.name, "L", first=4)  # HL70396 L: local code
    if order.is_cancel:
        put_xcn(obr, 16, order.ordering_provider)
        return
    collected = test.collected_at
    if collected is not None:
        obr.put(7, format_timestamp(collected))
    obr.put(11, _COLLECTED_BY_US if collected is not None else _PENDING_SPECIMEN)
    if not order.is_oml:
        # OBR-15 SPS-1 (a CWE in subcomponents): the specimen type, HL70487 codes.
        text = test.specimen_type_text
        obr.coded(15, test.specimen_type, text, "HL70487", comp=1)
    put_xcn(obr, 16, order.ordering_provider)
    if not order.is_oml:
        obr.put(27, order.priority, comp=6)  # TQ-6 priority


def _notes(message: Any, order: LabOrderMessage, test: OrderedTest) -> None:
    """ch. 2.16.10 NTE after the OBR: to the lab, from us."""
    texts = [t for t in (order.note, *test.notes) if t and t.strip()]
    for set_id, text in enumerate(texts, start=1):
        nte = SegmentBuilder.append_to(message, "NTE")
        nte.put(1, str(set_id))
        nte.put(2, _FROM_PLACER)
        nte.put(3, text)


def _dg1(message: Any, diagnoses: Sequence[Diagnosis]) -> None:
    """ch. 6.5.2 DG1: the reasons for the tests, ICD-10-CM."""
    for set_id, diagnosis in enumerate(diagnoses, start=1):
        dg1 = SegmentBuilder.append_to(message, "DG1")
        dg1.put(1, str(set_id))
        dg1.coded(3, diagnosis.code, diagnosis.display, _ICD10CM)
        dg1.put(6, _WORKING_DIAGNOSIS)


def _spm(message: Any, order: LabOrderMessage, test: OrderedTest) -> None:
    """ch. 7.4.3 SPM: each specimen collected for the test, or — before collection — the type
    the lab should expect (SPM-4 is required, the specimen id is not yet known)."""
    specimens: Sequence[SpecimenInfo | None] = test.specimens or (None,)
    for set_id, specimen in enumerate(specimens, start=1):
        spm = SegmentBuilder.append_to(message, "SPM")
        spm.put(1, str(set_id))
        if specimen is None:
            spm.coded(4, test.specimen_type, test.specimen_type_text, "HL70487")
            continue
        # SPM-2 EIP-1 (an EI in subcomponents): the accession number on the label.
        spm.put(2, specimen.accession, comp=1, sub=1)
        spm.put(2, order.sender.facility, comp=1, sub=2)
        spm.coded(4, specimen.specimen_type, specimen.specimen_type_text, "HL70487")
        if specimen.method in TABLE_0488:
            spm.coded(7, specimen.method, COLLECTION_METHOD[specimen.method], "HL70488")
        elif specimen.method:
            spm.put(7, COLLECTION_METHOD[specimen.method], comp=2)
        if specimen.collected_at is not None:
            # SPM-17 DR-1 range start (a TS in subcomponents).
            spm.put(17, format_timestamp(specimen.collected_at), comp=1, sub=1)


def build_lab_order(order: LabOrderMessage) -> str:
    """One ORM^O01 or OML^O21 (as ``order.message_type`` says) with an order group per test.

    Segments end with ``\\r``. ``control_id`` (MSH-10) is repeated unchanged when the same
    message is sent again, so the lab can tell a retry from a new order.
    """
    message = new_message()
    _msh(message, order)
    append_pid(message, order.patient)
    _pv1(message, order.visit)
    for set_id, test in enumerate(order.tests, start=1):
        _orc(message, order, test)
        if order.is_oml and not order.is_cancel:
            _tq1(message, order)
        _obr(message, order, test, set_id)
        if order.is_cancel:
            continue
        _notes(message, order, test)
        _dg1(message, order.diagnoses)
        if order.is_oml:
            _spm(message, order, test)
    return declare_charset(message)
