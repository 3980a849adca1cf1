"""Our records as the plain values the message builders take: a patient for PID, a user for
an XCN (ordering provider, administering provider, entered by). Shared by the registry (VXU)
and the lab interface (ORM/OML)."""

from __future__ import annotations

from typing import Any

from medassist.hl7.er7 import Address, Provider
from medassist.hl7.vxu import ETHNICITY, RACE, PatientInfo
from medassist.patients.models import Patient

_SEX = {"female": "F", "male": "M"}  # HL70001; anything else is U (unknown)


def provider(user: Any, credential: str = "") -> Provider | None:
    """A user as an XCN: our user id, their names and credential (e.g. MD, RN)."""
    if user is None:
        return None
    return Provider(
        id=str(user.pk),
        family=user.last_name or user.get_username(),
        given=user.first_name,
        credential=credential,
    )


def patient_info(patient: Patient) -> PatientInfo:
    """The patient for PID: the MRN assigned by the clinic (PID-3.4 its code), names, birth
    date, sex, race and ethnicity where coded, the address when complete, the phone."""
    address = None
    if patient.address_line and patient.city and patient.state and patient.postal_code:
        address = Address(
            street=patient.address_line,
            other=patient.address_line2,
            city=patient.city,
            state=patient.state,
            postal_code=patient.postal_code,
        )
    return PatientInfo(
        mrn=patient.mrn,
        assigning_authority=patient.clinic.code.upper(),
        family=patient.family,
        given=patient.given,
        middle=patient.middle,
        dob=patient.birth_date,
        sex=_SEX.get(patient.sex, "U"),
        race=tuple(code for code in patient.race if code in RACE),
        ethnicity=patient.ethnicity if patient.ethnicity in ETHNICITY else "",
        address=address,
        phone=patient.phone,
    )
