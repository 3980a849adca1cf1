"""Our records as the plain values the message builders take: a patient for PID, a user for
an XCN (ordering provider, administering provider, entered by), a stored time as the clinic's
local time. Shared by the registry (VXU) and the lab interface (ORM/OML, ACK)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from medassist.hl7.er7 import Address, Provider
from medassist.hl7.vxu import ETHNICITY, RACE, PatientInfo
from medassist.patients.models import Patient

_SEX = {"female": "F", "male": "M"}  # HL70001; anything else is U (unknown)


def local_time(moment: dt.datetime) -> dt.datetime:
    """A stored (UTC) time as the clinic's local time (settings.TIME_ZONE), so that an HL7 TS
    (MSH-7, ORC-9, OBR-7, SPM-17) carries the clinic's wall-clock time and its UTC offset,
    e.g. 20261120100000-0600, as a lab's people read it; the offset keeps it exact."""
    return timezone.localtime(moment, timezone.get_default_timezone())


def provider(
    user: Any, credential: str = "", *, assigning_authority: str = "", id_type: str = ""
) -> Provider | None:
    """A user as an XCN: our user id, their names and credential (e.g. MD, RN); with
    ``assigning_authority`` (XCN-9, who issued the id) and ``id_type`` (XCN-13, HL70203) the id
    says whose number it is."""
    if user is None:
        return None
    return Provider(
        id=str(user.pk),
        family=user.last_name or user.get_username(),
        given=user.first_name,
        credential=credential,
        assigning_authority=assigning_authority,
        id_type=id_type,
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
