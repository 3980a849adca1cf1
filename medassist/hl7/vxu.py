"""VXU^V04 messages for immunization registries, per the CDC "HL7 Version 2.5.1 Implementation
Guide for Immunization Messaging", Release 1.5 (2018 update) — "the IG" below.

The dataclasses say what a message needs, in plain values; ``build_vxu`` turns them into one
VXU^V04^VXU_V04 message with the IG's profile Z22 (send immunization update). The message is
built in python-hl7 containers; every value goes in through ``escape``, so ``| ^ ~ \\ &`` in a
name or a lot number can never break the structure.

Citations name the IG's segment tables (chapter "Segments and Message Details") by field, e.g.
"IG RXA-9", and its code tables (Appendix A) by name, e.g. "NIP001". The IG's usage guidance on
historical doses, refusals, funding eligibility and VIS (Appendix B, "Guidance on Usage and
Example Messages") is cited as "IG App. B".

What a record kind means for the message (IG RXA table, App. B):

* a new administration (``historical=False``, completion CP/PA): RXA-9 ``00``, the
  administering provider and location, lot/expiry/manufacturer (required), RXR route and site,
  and OBX groups for eligibility (required), funding and VIS;
* a historical dose (``historical=True``): RXA-9 ``01``–``08``, no RXA-10, no RXR, no OBX;
  the administering provider, route, site, eligibility, funding and VIS are left out;
* a refusal (completion RE) or a dose not given (NA): amount 999, ORC-3 ``9999`` (our id moves
  to ORC-2), no lot, RXR or OBX; a refusal carries its reason in RXA-18 (NIP002);
* a deletion or update: RXA-21 ``D``/``U`` on the same ORC-3 filler order number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from medassist.hl7.er7 import (
    Address,
    PersonName,
    Provider,
    SegmentBuilder,
    Sender,
    declare_charset,
    escape,
    format_date,
    format_timestamp,
    new_message,
    one_of,
    put_xad,
    put_xcn,
    put_xpn,
    put_xtn_phone,
    require,
)

__all__ = [
    "Address",
    "Administration",
    "Guardian",
    "PatientInfo",
    "PersonName",
    "Provider",
    "Sender",
    "VisDocument",
    "append_pid",
    "build_vxu",
    "declare_charset",
    "escape",
    "format_date",
    "format_timestamp",
    "new_message",
]

# --- code tables (IG Appendix A) -----------------------------------------------------------

#: HL70001 as constrained by the IG (PID-8).
SEX: Final = {"F": "Female", "M": "Male", "U": "Unknown/undifferentiated"}
#: CDCREC race (PID-10, HL70005).
RACE: Final = {
    "1002-5": "American Indian or Alaska Native",
    "2028-9": "Asian",
    "2054-5": "Black or African-American",
    "2076-8": "Native Hawaiian or Other Pacific Islander",
    "2106-3": "White",
    "2131-1": "Other Race",
}
#: CDCREC ethnicity (PID-22, HL70189).
ETHNICITY: Final = {"2135-2": "Hispanic or Latino", "2186-5": "Not Hispanic or Latino"}
#: HL70063 relationship (NK1-3), the subset a clinic records.
RELATIONSHIP: Final = {
    "BRO": "Brother",
    "CGV": "Care giver",
    "CHD": "Child",
    "EXF": "Extended family",
    "FCH": "Foster child",
    "FND": "Friend",
    "FTH": "Father",
    "GRD": "Guardian",
    "GRP": "Grandparent",
    "MTH": "Mother",
    "OTH": "Other",
    "PAR": "Parent",
    "SCH": "Stepchild",
    "SEL": "Self",
    "SIB": "Sibling",
    "SIS": "Sister",
    "SPO": "Spouse",
    "UNK": "Unknown",
}
#: HL70215 publicity code (PD1-11).
PUBLICITY: Final = {
    "01": "No reminder/recall",
    "02": "Reminder/recall - any method",
    "03": "Reminder/recall - no calls",
    "04": "Reminder only - any method",
    "05": "Reminder only - no calls",
    "06": "Recall only - any method",
    "07": "Recall only - no calls",
}
#: HL70441 immunization registry status (PD1-16).
REGISTRY_STATUS: Final = {
    "A": "Active",
    "I": "Inactive",
    "L": "Inactive - Lost to follow-up (cannot contact)",
    "M": "Inactive - Moved or gone elsewhere (transferred)",
    "P": "Inactive - Permanently inactive",
    "U": "Unknown",
}
#: NIP001 immunization information source (RXA-9): 00 is a new record, the rest historical.
INFORMATION_SOURCE: Final = {
    "00": "New immunization record",
    "01": "Historical information - source unspecified",
    "02": "Historical information - from other provider",
    "03": "Historical information - from parent's written record",
    "04": "Historical information - from parent's recall",
    "05": "Historical information - from other registry",
    "06": "Historical information - from birth certificate",
    "07": "Historical information - from school record",
    "08": "Historical information - from public agency",
}
#: NIP002 substance refusal reason (RXA-18). 02 needs its own text (IG App. A, NIP002).
REFUSAL_REASON: Final = {
    "00": "Parental decision",
    "01": "Religious exemption",
    "02": "Other",
    "03": "Patient decision",
}
#: HL70322 completion status (RXA-20).
COMPLETION_STATUS: Final = {
    "CP": "Complete",
    "RE": "Refused",
    "NA": "Not administered",
    "PA": "Partially administered",
}
#: HL70323 action code (RXA-21).
ACTION_CODE: Final = {"A": "Add", "U": "Update", "D": "Delete"}
#: HL70162 route (RXR-1) → (text, NCIT equivalent the IG lists beside it).
ROUTE: Final = {
    "ID": ("Intradermal", "C38238"),
    "IM": ("Intramuscular", "C28161"),
    "IV": ("Intravenous", "C38276"),
    "NS": ("Nasal", "C38284"),
    "PO": ("Oral", "C38288"),
    "SC": ("Subcutaneous", "C38299"),
    "TD": ("Transdermal", "C38305"),
    "OTH": ("Other/Miscellaneous", ""),
}
#: HL70163 administrative site (RXR-2), the subset the IG lists for vaccines.
SITE: Final = {
    "LA": "Left Arm",
    "LD": "Left Deltoid",
    "LG": "Left Gluteous Medius",
    "LLFA": "Left Lower Forearm",
    "LT": "Left Thigh",
    "LVL": "Left Vastus Lateralis",
    "RA": "Right Arm",
    "RD": "Right Deltoid",
    "RG": "Right Gluteous Medius",
    "RLFA": "Right Lower Forearm",
    "RT": "Right Thigh",
    "RVL": "Right Vastus Lateralis",
}
#: HL70064 funding program eligibility (OBX-5 of 64994-7). Other codes (state programs) are
#: accepted when the caller gives their text.
VFC_ELIGIBILITY: Final = {
    "V01": "Not VFC eligible",
    "V02": "VFC eligible - Medicaid/Medicaid Managed Care",
    "V03": "VFC eligible - Uninsured",
    "V04": "VFC eligible - American Indian/Alaskan Native",
    "V05": "VFC eligible - Federally Qualified Health Center Patient (under-insured)",
    "V07": "Local-specific eligibility",
}
#: CDCPHINVS observation method for 64994-7 (OBX-17).
ELIGIBILITY_METHOD: Final = {
    "VXC40": "Eligibility captured at the immunization level",
    "VXC41": "Eligibility captured at the visit level",
}
#: CDCPHINVS vaccine funding source (OBX-5 of 30963-3); others need their text.
FUNDING_SOURCE: Final = {"PHC70": "Private funds", "VXC50": "Public funds"}

# LOINC observation identifiers (OBX-3) of IG App. B.
_ELIGIBILITY = ("64994-7", "Vaccine funding program eligibility category")
_FUNDING = ("30963-3", "Vaccine funding source")
_VIS_DOCUMENT = ("69764-9", "Document type")
_VACCINE_TYPE = ("30956-7", "Vaccine type")
_VIS_PUBLISHED = ("29768-9", "Date vaccine information statement published")
_VIS_PRESENTED = ("29769-7", "Date vaccine information statement presented")

#: RXA-6 "amount unknown / not given" (IG RXA-6).
UNKNOWN_AMOUNT: Final = "999"
#: ORC-3 for a record of a vaccine that was not given, e.g. a refusal (IG ORC-3).
NOT_GIVEN_ORDER_NUMBER: Final = "9999"

_CVX = re.compile(r"\d{1,3}")
_NDC = re.compile(r"\d{4,5}-\d{3,4}-\d{1,2}|\d{10,11}")


# --- what a VXU needs ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Guardian:
    """A next of kin / responsible person: one NK1 segment (IG NK1)."""

    name: PersonName
    relationship: str  # HL70063, e.g. MTH, FTH, GRD
    address: Address | None = None
    phone: str = ""

    def __post_init__(self) -> None:
        one_of(self.relationship, RELATIONSHIP, "relationship (NK1-3)")


@dataclass(frozen=True, kw_only=True)
class PatientInfo:
    """The patient: PID, and PD1 when a publicity, protection or registry status is given."""

    mrn: str
    assigning_authority: str
    family: str
    given: str
    middle: str = ""
    dob: dt.date
    sex: str  # F, M, U
    race: tuple[str, ...] = ()  # CDCREC codes
    ethnicity: str = ""  # CDCREC code
    address: Address | None = None
    phone: str = ""
    email: str = ""
    mother_maiden: PersonName | None = None
    guardians: tuple[Guardian, ...] = ()
    multiple_birth: bool | None = None  # PID-24
    birth_order: int | None = None  # PID-25
    deceased: bool | None = None  # PID-30 death indicator
    deceased_on: dt.date | None = None  # PID-29
    # PD1 (IG PD1): each code needs its effective date where the IG makes it C(R/X).
    publicity_code: str = ""  # HL70215
    publicity_date: dt.date | None = None
    protection: bool | None = None  # PD1-12: True = the registry must protect (hide) the record
    protection_date: dt.date | None = None
    registry_status: str = ""  # HL70441
    registry_status_date: dt.date | None = None

    def __post_init__(self) -> None:
        require(self.mrn, "PatientInfo.mrn (PID-3)")
        require(self.assigning_authority, "PatientInfo.assigning_authority (PID-3.4)")
        require(self.family, "PatientInfo.family (PID-5)")
        require(self.given, "PatientInfo.given (PID-5)")
        one_of(self.sex, SEX, "sex (PID-8)")
        for code in self.race:
            one_of(code, RACE, "race (PID-10)")
        if self.ethnicity:
            one_of(self.ethnicity, ETHNICITY, "ethnicity (PID-22)")
        if self.publicity_code:
            one_of(self.publicity_code, PUBLICITY, "publicity code (PD1-11)")
            if self.publicity_date is None:
                raise ValueError("a publicity code needs its effective date (PD1-18)")
        if self.protection is not None and self.protection_date is None:
            raise ValueError("a protection indicator needs its effective date (PD1-13)")
        if self.registry_status:
            one_of(self.registry_status, REGISTRY_STATUS, "registry status (PD1-16)")
        if self.deceased_on is not None and not self.deceased:
            raise ValueError("a date of death (PID-29) needs deceased=True (PID-30)")

    @property
    def has_pd1(self) -> bool:
        return bool(self.publicity_code or self.protection is not None or self.registry_status)


@dataclass(frozen=True, kw_only=True)
class VisDocument:
    """One Vaccine Information Statement given to the patient (IG App. B, VIS).

    Either by its GS1 barcode (``gdti``: OBX 69764-9 + 29769-7), or — for a vaccine whose
    components each have their own VIS — by vaccine type and edition (``vaccine_cvx`` and
    ``published_on``: OBX 30956-7 + 29768-9 + 29769-7).
    """

    presented_on: dt.date
    gdti: str = ""
    title: str = ""
    vaccine_cvx: str = ""
    vaccine_text: str = ""
    published_on: dt.date | None = None

    def __post_init__(self) -> None:
        by_type = bool(self.vaccine_cvx or self.published_on)
        if bool(self.gdti) == by_type:
            raise ValueError("a VIS is named by its GDTI or by vaccine type + edition, not both")
        if self.gdti and not re.fullmatch(r"\d{13,30}", self.gdti):
            raise ValueError(f"VIS GDTI {self.gdti!r} is not a GS1 document identifier")
        if by_type:
            if not (self.vaccine_cvx and self.published_on):
                raise ValueError("a VIS by vaccine type needs vaccine_cvx and published_on")
            if not _CVX.fullmatch(self.vaccine_cvx):
                raise ValueError(f"VIS vaccine type {self.vaccine_cvx!r} is not a CVX code")


@dataclass(frozen=True, kw_only=True)
class Administration:
    """One immunization record: an ORC/RXA[/RXR/OBX...] order group.

    ``record_id`` is our identifier of the record (the FHIR Immunization id): the filler order
    number ORC-3, which a later update or deletion must repeat (IG ORC-3).
    """

    record_id: str
    placer_order_id: str = ""  # ORC-2, when the dose was ordered in our system
    given_at: dt.datetime | dt.date
    cvx: str
    cvx_text: str
    ndc: str = ""  # sent as the alternate coding of RXA-5
    ndc_text: str = ""
    amount_ml: Decimal | None = None  # None: RXA-6 999 (unknown)
    lot: str = ""
    expiry: dt.date | None = None
    mvx: str = ""
    manufacturer_name: str = ""
    route: str = ""  # HL70162
    site: str = ""  # HL70163
    administering_provider: Provider | None = None
    ordering_provider: Provider | None = None
    entered_by: Provider | None = None
    facility_code: str = ""  # RXA-11.4 administered-at location
    historical: bool = False
    information_source: str = ""  # NIP001; default 00 (new) or 01 (historical, unspecified)
    completion_status: str = "CP"  # HL70322: CP, RE, NA, PA
    action: str = "A"  # HL70323: A, U, D
    refusal_reason: str = ""  # NIP002, required for RE
    refusal_text: str = ""  # required for NIP002 "02" (other)
    vfc_eligibility: str = ""  # HL70064, e.g. V01..V07; required for a new dose
    vfc_eligibility_text: str = ""
    eligibility_method: str = "VXC40"
    funding_source: str = ""  # CDCPHINVS, e.g. VXC50, PHC70
    funding_source_text: str = ""
    vis: tuple[VisDocument, ...] = ()

    def __post_init__(self) -> None:
        require(self.record_id, "Administration.record_id (ORC-3)")
        if not _CVX.fullmatch(self.cvx):
            raise ValueError(f"CVX {self.cvx!r} is not a CVX code (RXA-5)")
        if self.ndc and not _NDC.fullmatch(self.ndc):
            raise ValueError(f"NDC {self.ndc!r} is not an NDC (RXA-5)")
        if self.amount_ml is not None and self.amount_ml <= 0:
            raise ValueError("the administered amount (RXA-6) must be positive")
        one_of(self.completion_status, COMPLETION_STATUS, "completion status (RXA-20)")
        one_of(self.action, ACTION_CODE, "action code (RXA-21)")
        source = self.information_source
        if source:
            one_of(source, INFORMATION_SOURCE, "information source (RXA-9, NIP001)")
            if (source == "00") == self.historical:
                raise ValueError(
                    f"information source {source} contradicts historical={self.historical}"
                    " (NIP001: 00 is a new record, 01-08 historical)"
                )
        if self.completion_status in ("RE", "NA") and self.historical:
            raise ValueError("a refusal or a dose not given cannot be a historical dose")
        if self.completion_status == "RE":
            one_of(self.refusal_reason, REFUSAL_REASON, "refusal reason (RXA-18, NIP002)")
            if self.refusal_reason == "02" and not self.refusal_text:
                raise ValueError("refusal reason 02 (other) needs refusal_text (NIP002)")
        elif self.refusal_reason:
            raise ValueError("a refusal reason (RXA-18) needs completion status RE (RXA-20)")
        if self.route:
            one_of(self.route, ROUTE, "route (RXR-1, HL70162)")
        if self.site:
            one_of(self.site, SITE, "site (RXR-2, HL70163)")
            if not self.route:
                raise ValueError("a site (RXR-2) needs a route (RXR-1)")
        if self.vfc_eligibility and not (
            self.vfc_eligibility in VFC_ELIGIBILITY or self.vfc_eligibility_text
        ):
            raise ValueError(f"eligibility {self.vfc_eligibility!r} is not known: give its text")
        one_of(self.eligibility_method, ELIGIBILITY_METHOD, "eligibility method (OBX-17)")
        if self.funding_source and not (
            self.funding_source in FUNDING_SOURCE or self.funding_source_text
        ):
            raise ValueError(f"funding source {self.funding_source!r} is not known: give its text")
        if self.is_new_dose:
            # IG RXA-15/RXA-17: C(R/O), required when RXA-9 is 00 and RXA-20 is CP or PA;
            # IG App. B: funding eligibility (64994-7) is required for every administered dose.
            require(self.lot, "the lot number (RXA-15) of a new dose")
            require(self.mvx, "the manufacturer MVX (RXA-17) of a new dose")
            require(self.vfc_eligibility, "the funding eligibility (OBX 64994-7) of a new dose")

    @property
    def was_given(self) -> bool:
        """Was a vaccine actually given (RXA-20 CP or PA)?"""
        return self.completion_status in ("CP", "PA")

    @property
    def is_new_dose(self) -> bool:
        """Given here and now, as opposed to a historical dose, a refusal or a non-dose."""
        return self.was_given and not self.historical

    @property
    def source_code(self) -> str:
        return self.information_source or ("01" if self.historical else "00")


# --- building --------------------------------------------------------------------------------


def _msh(message: Any, sender: Sender, control_id: str, sent_at: dt.datetime) -> None:
    """IG MSH for a Z22 VXU."""
    require(control_id, "the message control id (MSH-10)")
    msh = SegmentBuilder(message.segment("MSH"))
    msh.put(3, sender.application)
    msh.put(4, sender.facility)
    msh.put(5, sender.receiving_application)
    msh.put(6, sender.receiving_facility)
    msh.put(7, format_timestamp(sent_at))
    msh.put(9, "VXU", comp=1)
    msh.put(9, "V04", comp=2)
    msh.put(9, "VXU_V04", comp=3)
    msh.put(10, control_id)
    msh.put(11, sender.processing_id)
    msh.put(12, "2.5.1")
    msh.put(15, "ER")  # accept ack: on error only (as in the IG and NIST examples)
    msh.put(16, "AL")  # application ack: always — the registry's verdict is what we wait for
    msh.put(21, "Z22", comp=1)  # IG MSH-21: the profile of a VXU is Z22^CDCPHINVS
    msh.put(21, "CDCPHINVS", comp=2)
    msh.put(22, sender.sending_organization)  # XON-1 organization name
    msh.put(23, sender.receiving_organization)


def append_pid(message: Any, patient: PatientInfo) -> None:
    """IG PID."""
    pid = SegmentBuilder.append_to(message, "PID")
    pid.put(1, "1")
    pid.put(3, patient.mrn, comp=1)
    pid.put(3, patient.assigning_authority, comp=4)
    pid.put(3, "MR", comp=5)  # CX-5 identifier type HL70203: medical record number
    name = PersonName(family=patient.family, given=patient.given, middle=patient.middle)
    put_xpn(pid, 5, name, "L")
    if patient.mother_maiden is not None:
        put_xpn(pid, 6, patient.mother_maiden, "M")
    pid.put(7, format_date(patient.dob))
    pid.put(8, patient.sex)
    for rep, code in enumerate(patient.race, start=1):
        pid.coded(10, code, RACE[code], "CDCREC", rep=rep)
    put_xad(pid, 11, patient.address)
    put_xtn_phone(pid, 13, patient.phone)
    if patient.email:
        rep = 2 if patient.phone else 1
        pid.put(13, "NET", rep=rep, comp=2)
        pid.put(13, "X.400", rep=rep, comp=3)
        pid.put(13, patient.email, rep=rep, comp=4)
    if patient.ethnicity:
        pid.coded(22, patient.ethnicity, ETHNICITY[patient.ethnicity], "CDCREC")
    if patient.multiple_birth is not None:
        pid.put(24, "Y" if patient.multiple_birth else "N")
    if patient.birth_order is not None:
        pid.put(25, str(patient.birth_order))
    if patient.deceased_on is not None:
        pid.put(29, format_date(patient.deceased_on))
    if patient.deceased is not None:
        pid.put(30, "Y" if patient.deceased else "N")


def _pd1(message: Any, patient: PatientInfo) -> None:
    """IG PD1: publicity (11, 18), protection (12, 13), registry status (16, 17)."""
    pd1 = SegmentBuilder.append_to(message, "PD1")
    if patient.publicity_code:
        pd1.coded(11, patient.publicity_code, PUBLICITY[patient.publicity_code], "HL70215")
    if patient.protection is not None:
        pd1.put(12, "Y" if patient.protection else "N")
    if patient.protection_date is not None:
        pd1.put(13, format_date(patient.protection_date))
    pd1.put(16, patient.registry_status)
    if patient.registry_status_date is not None:
        pd1.put(17, format_date(patient.registry_status_date))
    if patient.publicity_date is not None:
        pd1.put(18, format_date(patient.publicity_date))


def _nk1(message: Any, set_id: int, guardian: Guardian) -> None:
    """IG NK1: set id, name, relationship required; address and phone RE."""
    nk1 = SegmentBuilder.append_to(message, "NK1")
    nk1.put(1, str(set_id))
    put_xpn(nk1, 2, guardian.name, "L")
    nk1.coded(3, guardian.relationship, RELATIONSHIP[guardian.relationship], "HL70063")
    put_xad(nk1, 4, guardian.address)
    put_xtn_phone(nk1, 5, guardian.phone)


def _orc(message: Any, sender: Sender, dose: Administration) -> None:
    """IG ORC: ORC-1 RE; ORC-3 our record id, or 9999 for a vaccine not given (then our id
    goes in ORC-2 so the record can still be traced); ORC-12 empty for historical doses."""
    orc = SegmentBuilder.append_to(message, "ORC")
    orc.put(1, "RE")
    placer = dose.placer_order_id
    filler = dose.record_id
    if not dose.was_given:
        placer, filler = placer or dose.record_id, NOT_GIVEN_ORDER_NUMBER
    if placer:
        orc.put(2, placer, comp=1)
        orc.put(2, sender.facility, comp=2)
    orc.put(3, filler, comp=1)
    orc.put(3, sender.facility, comp=2)
    put_xcn(orc, 10, dose.entered_by)
    if not dose.historical:
        put_xcn(orc, 12, dose.ordering_provider)


def _amount(amount: Decimal | None) -> str:
    if amount is None:
        return UNKNOWN_AMOUNT
    return format(amount.normalize(), "f")


def _rxa(message: Any, dose: Administration) -> None:
    """IG RXA."""
    rxa = SegmentBuilder.append_to(message, "RXA")
    day = format_date(dose.given_at)
    rxa.put(1, "0")
    rxa.put(2, "1")
    rxa.put(3, day)
    # RXA-4 is RE in the IG ("if populated, the same as RXA-3") and R in base 2.5.1.
    rxa.put(4, day)
    rxa.coded(5, dose.cvx, dose.cvx_text, "CVX")
    rxa.coded(5, dose.ndc, dose.ndc_text or dose.cvx_text, "NDC", first=4)
    amount = _amount(dose.amount_ml) if dose.was_given else UNKNOWN_AMOUNT
    rxa.put(6, amount)
    if amount != UNKNOWN_AMOUNT:  # RXA-7 C(R/O): units when RXA-6 is not 999
        rxa.coded(7, "mL", "mL", "UCUM")
    if dose.was_given:  # RXA-9 C(R/O): when RXA-20 is CP or PA
        source = dose.source_code
        rxa.coded(9, source, INFORMATION_SOURCE[source], "NIP001")
    if dose.is_new_dose:  # RXA-10/11 C(RE/O): when RXA-9 is 00
        put_xcn(rxa, 10, dose.administering_provider)
        rxa.put(11, dose.facility_code, comp=4)
    if dose.was_given:  # RXA-15/16/17: lot, expiry, manufacturer of a dose given
        rxa.put(15, dose.lot)
        if dose.expiry is not None:
            rxa.put(16, format_date(dose.expiry))
        rxa.coded(17, dose.mvx, dose.manufacturer_name, "MVX")
    if dose.completion_status == "RE":  # RXA-18 C(R/X): when RXA-20 is RE
        text = dose.refusal_text or REFUSAL_REASON[dose.refusal_reason]
        rxa.coded(18, dose.refusal_reason, text, "NIP002")
    rxa.put(20, dose.completion_status)
    rxa.put(21, dose.action)


def _rxr(message: Any, dose: Administration) -> None:
    """IG RXR: route (HL70162, with the NCIT code as alternate) and site (HL70163)."""
    rxr = SegmentBuilder.append_to(message, "RXR")
    text, ncit = ROUTE[dose.route]
    rxr.coded(1, dose.route, text, "HL70162")
    rxr.coded(1, ncit, text, "NCIT", first=4)
    if dose.site:
        rxr.coded(2, dose.site, SITE[dose.site], "HL70163")


class _Observations:
    """OBX segments of a message: set ids run on through the message (IG example 01 numbers
    its OBX 1..6 across two order groups); sub-ids (OBX-4) start at 1 in each order group and
    tie together the OBX that describe one thing, e.g. a VIS document and the date it was
    presented (IG App. B)."""

    def __init__(self, message: Any) -> None:
        self._message = message
        self._set_id = 0

    def _obx(
        self, value_type: str, loinc: tuple[str, str], sub_id: int, observed_on: str
    ) -> SegmentBuilder:
        self._set_id += 1
        obx = SegmentBuilder.append_to(self._message, "OBX")
        obx.put(1, str(self._set_id))
        obx.put(2, value_type)
        obx.coded(3, loinc[0], loinc[1], "LN")
        obx.put(4, str(sub_id))
        obx.put(11, "F")  # observation result status: final
        obx.put(14, observed_on)  # date of the observation: the day of the dose
        return obx

    def coded(
        self,
        loinc: tuple[str, str],
        sub_id: int,
        observed_on: str,
        value: tuple[str, str, str],
        method: tuple[str, str, str] | None = None,
    ) -> None:
        obx = self._obx("CE", loinc, sub_id, observed_on)
        obx.coded(5, *value)
        if method is not None:
            obx.coded(17, *method)

    def date(self, loinc: tuple[str, str], sub_id: int, observed_on: str, day: dt.date) -> None:
        self._obx("DT", loinc, sub_id, observed_on).put(5, format_date(day))

    def for_dose(self, dose: Administration) -> None:
        observed_on = format_date(dose.given_at)
        sub_id = 0
        if dose.vfc_eligibility:  # IG App. B: 64994-7 with OBX-17 method (VXC40/VXC41)
            sub_id += 1
            text = dose.vfc_eligibility_text or VFC_ELIGIBILITY[dose.vfc_eligibility]
            method = dose.eligibility_method
            self.coded(
                _ELIGIBILITY,
                sub_id,
                observed_on,
                (dose.vfc_eligibility, text, "HL70064"),
                (method, ELIGIBILITY_METHOD[method], "CDCPHINVS"),
            )
        if dose.funding_source:  # IG App. B: 30963-3 vaccine funding source
            sub_id += 1
            text = dose.funding_source_text or FUNDING_SOURCE[dose.funding_source]
            self.coded(_FUNDING, sub_id, observed_on, (dose.funding_source, text, "CDCPHINVS"))
        for vis in dose.vis:  # IG App. B: one sub-id per VIS document
            sub_id += 1
            if vis.gdti:
                value = (vis.gdti, vis.title, "cdcgs1vis")
                self.coded(_VIS_DOCUMENT, sub_id, observed_on, value)
            else:
                value = (vis.vaccine_cvx, vis.vaccine_text, "CVX")
                self.coded(_VACCINE_TYPE, sub_id, observed_on, value)
                if vis.published_on is not None:
                    self.date(_VIS_PUBLISHED, sub_id, observed_on, vis.published_on)
            self.date(_VIS_PRESENTED, sub_id, observed_on, vis.presented_on)


def build_vxu(
    sender: Sender,
    patient: PatientInfo,
    administrations: Sequence[Administration],
    control_id: str,
    sent_at: dt.datetime,
) -> str:
    """One VXU^V04^VXU_V04 (profile Z22) with an order group per administration.

    Segments are separated by ``\\r`` and the message ends with one. ``control_id`` (MSH-10)
    must be unique per message and repeated unchanged when the same message is resent, so the
    registry can recognise a retry; ``sent_at`` must be timezone-aware.
    """
    message = new_message()
    _msh(message, sender, control_id, sent_at)
    append_pid(message, patient)
    if patient.has_pd1:
        _pd1(message, patient)
    for set_id, guardian in enumerate(patient.guardians, start=1):
        _nk1(message, set_id, guardian)
    observations = _Observations(message)
    for dose in administrations:
        _orc(message, sender, dose)
        _rxa(message, dose)
        if dose.is_new_dose:  # IG RXR, App. B: no route/site or OBX for other records
            if dose.route:
                _rxr(message, dose)
            observations.for_dose(dose)
    return declare_charset(message)
