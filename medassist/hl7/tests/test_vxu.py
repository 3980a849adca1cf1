"""build_vxu against the CDC IG r1.5 rules, read back field by field with python-hl7, compared
with the NIST test message it should resemble and validated against the HL7 2.5.1 structure."""

import datetime as dt
from decimal import Decimal
from typing import Any

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import ValidationError
from hl7apy.parser import parse_message as hl7apy_parse

from medassist.core.reference import path as reference_path
from medassist.hl7.vxu import (
    Address,
    Administration,
    Guardian,
    PatientInfo,
    PersonName,
    Provider,
    Sender,
    VisDocument,
    build_vxu,
    escape,
)

HL7_DIR = reference_path("cdsi", "hl7")
EASTERN = dt.timezone(dt.timedelta(hours=-4))
SENT_AT = dt.datetime(2024, 5, 6, 12, 0, tzinfo=EASTERN)
DAY = dt.date(2024, 5, 6)

SENDER = Sender(
    application="MEDASSIST",
    facility="NORTHCLINIC",
    receiving_application="IIS",
    receiving_facility="STATEIIS",
)
CHILD = PatientInfo(
    mrn="MRN-1",
    assigning_authority="MEDASSIST",
    family="Snow",
    given="Madelynn",
    middle="Ainsley",
    dob=dt.date(2023, 3, 2),
    sex="F",
    race=("2076-8",),
    ethnicity="2186-5",
    address=Address(
        street="32 Prescott Street Ave", city="Warwick", state="MA", postal_code="02452"
    ),
    phone="(657) 555-8563",
    mother_maiden=PersonName(family="Lam"),
    guardians=(
        Guardian(
            name=PersonName(family="Lam", given="Morgan"),
            relationship="MTH",
            phone="657-555-8563",
        ),
    ),
    publicity_code="02",
    publicity_date=dt.date(2023, 3, 2),
    protection=False,
    protection_date=dt.date(2023, 3, 2),
    registry_status="A",
    registry_status_date=dt.date(2023, 3, 2),
)
NURSE = Provider(
    id="7832-1", family="Lemon", given="Mike", credential="RN", assigning_authority="MEDASSIST"
)
DOCTOR = Provider(id="57422", family="Radon", given="Nicholas", credential="MD")
CLERK = Provider(id="I-23432", family="Burden", given="Donna")

DTAP = Administration(
    record_id="imm-0001",
    placer_order_id="ord-77",
    given_at=dt.datetime(2024, 5, 6, 10, 30, tzinfo=EASTERN),
    cvx="20",
    cvx_text="DTaP",
    ndc="49281-0286-10",
    amount_ml=Decimal("0.50"),
    lot="U1234AA",
    expiry=dt.date(2025, 6, 30),
    mvx="PMC",
    manufacturer_name="sanofi pasteur",
    route="IM",
    site="LT",
    administering_provider=NURSE,
    ordering_provider=DOCTOR,
    entered_by=CLERK,
    facility_code="NORTHCLINIC",
    vfc_eligibility="V02",
    funding_source="VXC50",
    vis=(VisDocument(presented_on=DAY, gdti="253088698300003511070517", title="DTaP VIS"),),
)
MMRV = Administration(
    record_id="imm-0002",
    given_at=DAY,
    cvx="94",
    cvx_text="MMRV",
    amount_ml=Decimal("0.5"),
    lot="R5678",
    mvx="MSD",
    manufacturer_name="Merck",
    route="SC",
    site="RT",
    administering_provider=NURSE,
    ordering_provider=DOCTOR,
    vfc_eligibility="V02",
    # A vaccine whose components each have their own VIS: by vaccine type and edition.
    vis=(
        VisDocument(
            presented_on=DAY,
            vaccine_cvx="03",
            vaccine_text="MMR",
            published_on=dt.date(2012, 4, 20),
        ),
        VisDocument(
            presented_on=DAY,
            vaccine_cvx="21",
            vaccine_text="varicella",
            published_on=dt.date(2008, 3, 13),
        ),
    ),
)


def segments(message: Any, segment_id: str) -> list[Any]:
    return [segment for segment in message if str(segment[0]) == segment_id]


def one(message: Any, segment_id: str, index: int = 0) -> Any:
    return segments(message, segment_id)[index]


def raw(segment: Any, field: int) -> str:
    """The field as sent (escaped ER7); "" when the segment stops before it."""
    return str(segment[field]) if len(segment) > field else ""


def value(segment: Any, field: int, comp: int = 1, rep: int = 1) -> str:
    """One component, unescaped by python-hl7."""
    try:
        return str(segment.extract_field(1, field, rep, comp, 1))
    except IndexError:
        return ""


def names(message: Any) -> list[str]:
    return [str(segment[0]) for segment in message]


def build(*doses: Administration, patient: PatientInfo = CHILD, sender: Sender = SENDER) -> str:
    return build_vxu(sender, patient, doses, "MSG-0001", SENT_AT)


def order_groups(message: Any) -> list[list[Any]]:
    groups: list[list[Any]] = []
    for segment in message:
        if str(segment[0]) == "ORC":
            groups.append([])
        if groups:
            groups[-1].append(segment)
    return groups


def obx_table(message: Any) -> list[tuple[str, str, str, str, str]]:
    return [
        (raw(obx, 1), raw(obx, 2), value(obx, 3), raw(obx, 4), value(obx, 5))
        for obx in segments(message, "OBX")
    ]


def reference_message(name: str) -> str:
    return "\r".join(HL7_DIR.joinpath(name).read_text(encoding="utf-8").splitlines())


def hl7apy_validate(text: str) -> bool:
    """Strict parse and validation against the HL7 2.5.1 VXU_V04 structure (hl7apy).

    MSH-22/23 are dropped first: the IG pre-adopts them from v2.7 and the base 2.5.1 MSH,
    which hl7apy knows, ends at MSH-21.
    """
    lines = text.rstrip("\r").split("\r")
    lines[0] = "|".join(lines[0].split("|")[:21])
    parsed = hl7apy_parse(
        "\r".join(lines), find_groups=True, validation_level=VALIDATION_LEVEL.STRICT
    )
    return bool(parsed.validate())


# --- (a) a new administration to a child, with VFC eligibility, funding and VIS ------------


def test_header_says_vxu_v04_profile_z22() -> None:
    text = build(DTAP)
    assert text.endswith("\r") and "\n" not in text
    msh = one(hl7.parse(text), "MSH")
    assert raw(msh, 3) == "MEDASSIST" and raw(msh, 4) == "NORTHCLINIC"
    assert raw(msh, 5) == "IIS" and raw(msh, 6) == "STATEIIS"
    assert raw(msh, 7) == "20240506120000-0400"
    assert raw(msh, 9) == "VXU^V04^VXU_V04"
    assert raw(msh, 10) == "MSG-0001"
    assert raw(msh, 11) == "P"
    assert raw(msh, 12) == "2.5.1"
    assert (raw(msh, 15), raw(msh, 16)) == ("ER", "AL")
    assert raw(msh, 18) == ""  # all ASCII: nothing to declare
    assert raw(msh, 21) == "Z22^CDCPHINVS"


def test_patient_pd1_and_guardian() -> None:
    message = hl7.parse(build(DTAP))
    assert names(message)[:4] == ["MSH", "PID", "PD1", "NK1"]
    pid = one(message, "PID")
    assert raw(pid, 1) == "1"
    assert raw(pid, 3) == "MRN-1^^^MEDASSIST^MR"
    assert raw(pid, 5) == "Snow^Madelynn^Ainsley^^^^L"
    assert raw(pid, 6) == "Lam^^^^^^M"
    assert (raw(pid, 7), raw(pid, 8)) == ("20230302", "F")
    assert raw(pid, 10) == "2076-8^Native Hawaiian or Other Pacific Islander^CDCREC"
    assert raw(pid, 11) == "32 Prescott Street Ave^^Warwick^MA^02452^USA^L"
    assert raw(pid, 13) == "^PRN^PH^^^657^5558563"
    assert raw(pid, 22) == "2186-5^Not Hispanic or Latino^CDCREC"
    pd1 = one(message, "PD1")
    assert raw(pd1, 11) == "02^Reminder/recall - any method^HL70215"
    assert (raw(pd1, 12), raw(pd1, 13)) == ("N", "20230302")
    assert (raw(pd1, 16), raw(pd1, 17), raw(pd1, 18)) == ("A", "20230302", "20230302")
    nk1 = one(message, "NK1")
    assert raw(nk1, 1) == "1"
    assert raw(nk1, 2) == "Lam^Morgan^^^^^L"
    assert raw(nk1, 3) == "MTH^Mother^HL70063"
    assert raw(nk1, 5) == "^PRN^PH^^^657^5558563"


def test_new_administration_order_rxa_and_rxr() -> None:
    message = hl7.parse(build(DTAP))
    assert names(message)[4:] == ["ORC", "RXA", "RXR", "OBX", "OBX", "OBX", "OBX"]
    orc = one(message, "ORC")
    assert raw(orc, 1) == "RE"
    assert raw(orc, 2) == "ord-77^NORTHCLINIC"
    assert raw(orc, 3) == "imm-0001^NORTHCLINIC"  # filler order number = our record id
    assert (value(orc, 10, 1), value(orc, 10, 2)) == ("I-23432", "Burden")
    ordering = [value(orc, 12, comp) for comp in (1, 2, 3, 10, 21)]
    assert ordering == ["57422", "Radon", "Nicholas", "L", "MD"]

    rxa = one(message, "RXA")
    assert [raw(rxa, n) for n in (1, 2, 3, 4)] == ["0", "1", "20240506", "20240506"]
    assert raw(rxa, 5) == "20^DTaP^CVX^49281-0286-10^DTaP^NDC"
    assert (raw(rxa, 6), raw(rxa, 7)) == ("0.5", "mL^mL^UCUM")
    assert raw(rxa, 9) == "00^New immunization record^NIP001"
    administering = [value(rxa, 10, comp) for comp in (1, 2, 3, 9, 10, 21)]
    assert administering == ["7832-1", "Lemon", "Mike", "MEDASSIST", "L", "RN"]
    assert raw(rxa, 11) == "^^^NORTHCLINIC"
    assert raw(rxa, 15) == "U1234AA"
    assert raw(rxa, 16) == "20250630"
    assert raw(rxa, 17) == "PMC^sanofi pasteur^MVX"
    assert raw(rxa, 18) == ""
    assert (raw(rxa, 20), raw(rxa, 21)) == ("CP", "A")

    rxr = one(message, "RXR")
    assert raw(rxr, 1) == "IM^Intramuscular^HL70162^C28161^Intramuscular^NCIT"
    assert raw(rxr, 2) == "LT^Left Thigh^HL70163"


def test_obx_groups_sub_ids_and_set_ids() -> None:
    message = hl7.parse(build(DTAP, MMRV))
    assert obx_table(message) == [
        # DTaP: eligibility, funding, one VIS by GDTI (document + date presented share sub-id 3)
        ("1", "CE", "64994-7", "1", "V02"),
        ("2", "CE", "30963-3", "2", "VXC50"),
        ("3", "CE", "69764-9", "3", "253088698300003511070517"),
        ("4", "DT", "29769-7", "3", "20240506"),
        # MMRV: sub-ids start again at 1 in the new order group; set ids run on
        ("5", "CE", "64994-7", "1", "V02"),
        ("6", "CE", "30956-7", "2", "03"),
        ("7", "DT", "29768-9", "2", "20120420"),
        ("8", "DT", "29769-7", "2", "20240506"),
        ("9", "CE", "30956-7", "3", "21"),
        ("10", "DT", "29768-9", "3", "20080313"),
        ("11", "DT", "29769-7", "3", "20240506"),
    ]
    obx = segments(message, "OBX")
    eligibility = obx[0]
    assert raw(eligibility, 5) == ("V02^VFC eligible - Medicaid/Medicaid Managed Care^HL70064")
    assert raw(eligibility, 17) == (
        "VXC40^Eligibility captured at the immunization level^CDCPHINVS"
    )
    assert raw(obx[1], 17) == ""  # the method belongs to the eligibility observation only
    assert raw(obx[2], 5) == "253088698300003511070517^DTaP VIS^cdcgs1vis"
    assert all(raw(each, 11) == "F" and raw(each, 14) == "20240506" for each in obx)
    groups = order_groups(message)
    assert [str(s[0]) for s in groups[1]] == ["ORC", "RXA", "RXR"] + ["OBX"] * 7


def test_eligibility_method_visit_level() -> None:
    dose = Administration(**{**DTAP.__dict__, "eligibility_method": "VXC41"})
    obx = one(hl7.parse(build(dose)), "OBX")
    assert value(obx, 17) == "VXC41"


# --- (b) a historical dose ------------------------------------------------------------------

HISTORICAL = Administration(
    record_id="imm-0000",
    given_at=dt.date(2023, 5, 2),
    cvx="08",
    cvx_text="Hep B, adolescent or pediatric",
    historical=True,
    # All of these are left out of a historical record (IG RXA-10, RXR, App. B):
    route="IM",
    site="LT",
    administering_provider=NURSE,
    ordering_provider=DOCTOR,
    entered_by=CLERK,
    vfc_eligibility="V02",
    vis=(VisDocument(presented_on=DAY, gdti="253088698300003511070517"),),
)


def test_historical_dose() -> None:
    message = hl7.parse(build(HISTORICAL))
    assert names(message)[4:] == ["ORC", "RXA"]  # no RXR, no OBX
    orc = one(message, "ORC")
    assert raw(orc, 3) == "imm-0000^NORTHCLINIC"
    assert value(orc, 10) == "I-23432"  # who entered it is still known
    assert raw(orc, 12) == ""  # no ordering provider for a transcribed dose
    rxa = one(message, "RXA")
    assert raw(rxa, 5) == "08^Hep B, adolescent or pediatric^CVX"
    assert (raw(rxa, 6), raw(rxa, 7)) == ("999", "")
    assert raw(rxa, 9) == "01^Historical information - source unspecified^NIP001"
    assert (raw(rxa, 10), raw(rxa, 11)) == ("", "")
    assert (raw(rxa, 15), raw(rxa, 17)) == ("", "")
    assert (raw(rxa, 20), raw(rxa, 21)) == ("CP", "A")


def test_historical_dose_with_its_source_and_lot() -> None:
    dose = Administration(
        record_id="imm-0003",
        given_at=dt.date(2022, 1, 3),
        cvx="10",
        cvx_text="IPV",
        historical=True,
        information_source="03",
        lot="OLD1",
        mvx="PMC",
    )
    rxa = one(hl7.parse(build(dose)), "RXA")
    assert raw(rxa, 9) == "03^Historical information - from parent's written record^NIP001"
    assert (raw(rxa, 15), value(rxa, 17)) == ("OLD1", "PMC")


# --- (c) a deletion and (d) a refusal ------------------------------------------------------


def test_deletion_repeats_the_record_with_action_d() -> None:
    added = order_groups(hl7.parse(build(DTAP)))[0]
    deleted = order_groups(hl7.parse(build(Administration(**{**DTAP.__dict__, "action": "D"}))))
    rxa = deleted[0][1]
    assert raw(rxa, 21) == "D"
    assert raw(deleted[0][0], 3) == "imm-0001^NORTHCLINIC"  # the same filler order number
    # Everything else is the record as first sent.
    assert str(rxa).removesuffix("|D") == str(added[1]).removesuffix("|A")
    assert [str(s) for s in deleted[0] if str(s[0]) != "RXA"] == [
        str(s) for s in added if str(s[0]) != "RXA"
    ]


def test_update_uses_action_u() -> None:
    rxa = one(hl7.parse(build(Administration(**{**DTAP.__dict__, "action": "U"}))), "RXA")
    assert raw(rxa, 21) == "U"


REFUSAL = Administration(
    record_id="imm-0009",
    given_at=DAY,
    cvx="03",
    cvx_text="MMR",
    completion_status="RE",
    refusal_reason="00",
    entered_by=CLERK,
    # Nothing was given, so none of this is sent:
    lot="X1",
    mvx="MSD",
    route="SC",
    amount_ml=Decimal("0.5"),
    vfc_eligibility="V02",
    administering_provider=NURSE,
)


def test_refusal() -> None:
    message = hl7.parse(build(REFUSAL))
    assert names(message)[4:] == ["ORC", "RXA"]
    orc = one(message, "ORC")
    assert raw(orc, 3) == "9999^NORTHCLINIC"  # IG ORC-3: 9999 for a vaccine not given
    assert raw(orc, 2) == "imm-0009^NORTHCLINIC"  # ... so our id travels as placer number
    rxa = one(message, "RXA")
    assert (raw(rxa, 3), raw(rxa, 5)) == ("20240506", "03^MMR^CVX")
    assert (raw(rxa, 6), raw(rxa, 7)) == ("999", "")
    assert raw(rxa, 9) == ""  # RXA-9 only for CP/PA
    assert all(raw(rxa, n) == "" for n in (10, 11, 15, 16, 17))
    assert raw(rxa, 18) == "00^Parental decision^NIP002"
    assert (raw(rxa, 20), raw(rxa, 21)) == ("RE", "A")


def test_refusal_for_another_reason_carries_its_text() -> None:
    dose = Administration(
        **{**REFUSAL.__dict__, "refusal_reason": "02", "refusal_text": "Wants to wait"}
    )
    assert raw(one(hl7.parse(build(dose)), "RXA"), 18) == "02^Wants to wait^NIP002"


# --- escaping -------------------------------------------------------------------------------


def test_delimiters_in_a_patient_name_are_escaped() -> None:
    family = "O'Brien|Smith^Jr&Co~X\\Y"
    patient = PatientInfo(**{**CHILD.__dict__, "family": family, "given": "Ann\nMarie"})
    dose = Administration(**{**DTAP.__dict__, "lot": "A^B|C"})
    text = build(dose, patient=patient)
    message = hl7.parse(text)
    assert names(message) == names(hl7.parse(build(DTAP)))  # no segment added or lost
    pid = one(message, "PID")
    assert raw(pid, 5) == "O'Brien\\F\\Smith\\S\\Jr\\T\\Co\\R\\X\\E\\Y^Ann Marie^Ainsley^^^^L"
    assert value(pid, 5, 1) == family  # python-hl7 reads back exactly what went in
    assert value(pid, 5, 2) == "Ann Marie"  # a line break would have ended the segment
    assert raw(pid, 7) == "20230302"  # the fields after the name did not move
    assert value(one(message, "RXA"), 15) == "A^B|C"


def test_escape_handles_the_escape_character_itself() -> None:
    assert escape("a\\b") == "a\\E\\b"
    assert escape("\\T\\") == "\\E\\T\\E\\"  # a literal "\T\" is not an escape sequence
    assert escape("|^&~") == "\\F\\\\S\\\\T\\\\R\\"
    assert escape("tab\there") == "tab here"


def test_non_ascii_names_declare_utf8() -> None:
    patient = PatientInfo(**{**CHILD.__dict__, "given": "Zoë"})
    message = hl7.parse(build(DTAP, patient=patient))
    assert raw(one(message, "MSH"), 18) == "UNICODE UTF-8"
    assert value(one(message, "PID"), 5, 2) == "Zoë"


# --- against the NIST message and the 2.5.1 structure ---------------------------------------

NIST_ADULT = "nist-iz-ad-2.1_send-v04-z22_adult-td_vxu.hl7"
# Fields the NIST message fills that ours leaves out, and why that is allowed.
NOT_CARRIED = {
    ("ORC", 17),  # entering organization: O in the IG
}


def nist_story() -> str:
    """NIST-IZ-AD-2.1 retold in our terms: an adult Td (NDC-coded, funding, eligibility, VIS)
    and two historical flu doses."""
    sender = Sender(
        application="NISTEHRAPP",
        facility="NISTEHRFAC",
        receiving_application="NISTIISAPP",
        receiving_facility="NISTIISFAC",
        sending_organization="NISTEHRFAC",
        receiving_organization="NISTIISFAC",
    )
    patient = PatientInfo(
        mrn="90012",
        assigning_authority="NIST-MPI-1",
        family="Wong",
        given="Elise",
        dob=dt.date(1983, 6, 15),
        sex="F",
        race=("2028-9",),
        ethnicity="2186-5",
        address=Address(
            street="9200 Wellington Trail",
            city="Bozeman",
            state="MT",
            postal_code="59715",
            kind="P",
        ),
        phone="406-555-7896",
        email="Elise.Wong@isp.com",
        multiple_birth=False,
        birth_order=1,
        deceased=False,
        publicity_code="02",
        publicity_date=dt.date(2015, 6, 24),
        protection=False,
        protection_date=dt.date(2015, 6, 24),
        registry_status="A",
        registry_status_date=dt.date(1983, 6, 15),
    )
    jackson = Provider(
        id="7824",
        family="Jackson",
        given="Lily",
        middle="Suzanne",
        assigning_authority="NIST-PI-1",
        id_type="PRN",
    )
    thomas = Provider(
        id="654",
        family="Thomas",
        given="Wilma",
        middle="Elizabeth",
        assigning_authority="NIST-PI-1",
        id_type="MD",
    )
    td = Administration(
        record_id="13696",
        placer_order_id="4422",
        given_at=dt.date(2015, 6, 24),
        cvx="113",
        cvx_text="Td (adult) preservative free",
        ndc="49281-0215-88",
        ndc_text="TENIVAC",
        amount_ml=Decimal("0.5"),
        lot="315841",
        expiry=dt.date(2015, 12, 16),
        mvx="PMC",
        manufacturer_name="Sanofi Pasteur",
        route="IM",
        site="RD",
        administering_provider=jackson,
        ordering_provider=thomas,
        entered_by=jackson,
        facility_code="NIST-Clinic-1",
        vfc_eligibility="V01",
        funding_source="PHC70",
        vis=(
            VisDocument(
                presented_on=dt.date(2015, 6, 24),
                gdti="253088698300028811170411",
                title="Tetanus/Diphtheria (Td) Vaccine VIS",
            ),
        ),
    )
    flu = [
        Administration(
            record_id=record_id,
            given_at=day,
            cvx="88",
            cvx_text="influenza, unspecified formulation",
            historical=True,
            entered_by=jackson,
        )
        for record_id, day in (("38760", dt.date(2014, 10, 12)), ("35508", dt.date(2013, 11, 12)))
    ]
    return build_vxu(sender, patient, [td, *flu], "NIST-IZ-AD-2.1_Send_V04_Z22", SENT_AT)


def populated(message: Any) -> dict[tuple[str, object], set[int]]:
    """Field numbers in use per segment; OBX are keyed by order group and OBX-3, so that the
    same observations compare whatever their order."""
    out: dict[tuple[str, object], set[int]] = {}
    counts: dict[str, int] = {}
    group = 0
    for segment in message:
        name = str(segment[0])
        group += name == "ORC"
        key: object = (group, value(segment, 3)) if name == "OBX" else counts.get(name, 0)
        counts[name] = counts.get(name, 0) + 1
        out[(name, key)] = {n for n in range(1, len(segment)) if str(segment[n])}
    return out


def test_same_structure_as_the_nist_adult_td_message() -> None:
    ours = hl7.parse(nist_story())
    nist = hl7.parse(reference_message(NIST_ADULT))
    assert names(ours) == names(nist)
    assert populated(ours).keys() == populated(nist).keys()
    for key, nist_fields in populated(nist).items():
        missing = {n for n in nist_fields - populated(ours)[key] if (key[0], n) not in NOT_CARRIED}
        assert not missing, f"{key}: NIST fills {sorted(missing)}, we do not"
    msh = one(ours, "MSH")
    assert (raw(msh, 22), raw(msh, 23)) == ("NISTEHRFAC", "NISTIISFAC")


@pytest.mark.parametrize(
    "doses",
    [
        (DTAP, MMRV),
        (HISTORICAL,),
        (Administration(**{**DTAP.__dict__, "action": "D"}),),
        (REFUSAL,),
    ],
    ids=["new", "historical", "deletion", "refusal"],
)
def test_valid_against_the_hl7_251_structure(doses: tuple[Administration, ...]) -> None:
    assert hl7apy_validate(build(*doses))


def test_the_nist_story_is_valid_against_the_251_structure() -> None:
    assert hl7apy_validate(nist_story())


def test_structure_validation_can_fail() -> None:
    without_pid = "\r".join(s for s in build(DTAP).split("\r") if not s.startswith("PID"))
    with pytest.raises(ValidationError):
        hl7apy_validate(without_pid)


# --- what build_vxu refuses -----------------------------------------------------------------


def _dose(**changes: object) -> Administration:
    return Administration(**{**DTAP.__dict__, **changes})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _dose(lot=""), "lot number"),
        (lambda: _dose(mvx=""), "manufacturer"),
        (lambda: _dose(vfc_eligibility=""), "eligibility"),
        (lambda: _dose(vfc_eligibility="V99"), "give its text"),
        (lambda: _dose(site="XX"), "site"),
        (lambda: _dose(route="", site="LT"), "needs a route"),
        (lambda: _dose(route="ZZ"), "route"),
        (lambda: _dose(information_source="01"), "contradicts"),
        (lambda: _dose(historical=True, information_source="00"), "contradicts"),
        (lambda: _dose(completion_status="RE"), "refusal reason"),
        (lambda: _dose(completion_status="RE", refusal_reason="02"), "refusal_text"),
        (lambda: _dose(refusal_reason="00"), "needs completion status RE"),
        (lambda: _dose(historical=True, completion_status="RE", refusal_reason="00"), "historical"),
        (lambda: _dose(completion_status="XX"), "completion status"),
        (lambda: _dose(action="X"), "action code"),
        (lambda: _dose(cvx="DTaP"), "CVX"),
        (lambda: _dose(ndc="12-34"), "NDC"),
        (lambda: _dose(record_id=""), "record_id"),
        (lambda: _dose(amount_ml=Decimal("0")), "positive"),
        (lambda: VisDocument(presented_on=DAY), "GDTI or by vaccine type"),
        (lambda: VisDocument(presented_on=DAY, gdti="1" * 24, vaccine_cvx="03"), "not both"),
        (lambda: VisDocument(presented_on=DAY, vaccine_cvx="03"), "published_on"),
        (lambda: PatientInfo(**{**CHILD.__dict__, "sex": "X"}), "sex"),
        (lambda: PatientInfo(**{**CHILD.__dict__, "race": ("white",)}), "race"),
        (lambda: PatientInfo(**{**CHILD.__dict__, "publicity_date": None}), "PD1-18"),
        (lambda: PatientInfo(**{**CHILD.__dict__, "protection_date": None}), "PD1-13"),
        (lambda: PatientInfo(**{**CHILD.__dict__, "mrn": " "}), "PID-3"),
        (lambda: Guardian(name=PersonName(family="Lam"), relationship="AUNT"), "NK1-3"),
        (lambda: Sender(application="A", facility="F", processing_id="X"), "MSH-11"),
        (lambda: Provider(given="Ann"), "id or a family name"),
    ],
)
def test_invalid_input_is_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_naive_send_time_and_empty_control_id_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_vxu(SENDER, CHILD, [DTAP], "MSG-1", dt.datetime(2024, 5, 6, 12, 0))  # noqa: DTZ001 - the naive time under test
    with pytest.raises(ValueError, match="MSH-10"):
        build_vxu(SENDER, CHILD, [DTAP], "", SENT_AT)


def test_demographics_only_message_has_no_order_group() -> None:
    assert names(hl7.parse(build())) == ["MSH", "PID", "PD1", "NK1"]
