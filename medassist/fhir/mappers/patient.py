"""Patient -> FHIR R4 Patient, as the US Core Patient profile (US Core 9.0.0,
http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient) describes it. Pure: reads only
the patient and its clinic (the caller loads the clinic with select_related)."""

from typing import Any

from django.conf import settings

from medassist.patients.models import BirthSex, Ethnicity, GenderIdentity, Patient, Race

US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"

# Medical record numbers are unique within a clinic network (patients.Patient's constraint);
# this system names them (MEDASSIST_FHIR_MRN_SYSTEM). A deployment serving several networks
# would need one per network.
MRN_SYSTEM: str = settings.FHIR_MRN_SYSTEM

V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CDC_RACE_ETHNICITY = "urn:oid:2.16.840.1.113883.6.238"  # CDC Race & Ethnicity code system
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
SNOMED = "http://snomed.info/sct"
BCP_47 = "urn:ietf:bcp:47"

# Extension URLs, from the US Core 9.0.0 StructureDefinitions (fixedUri of Extension.url).
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
US_CORE_BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
US_CORE_INTERPRETER_NEEDED = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-interpreter-needed"
)
# US Core 9.0.0 retired us-core-genderIdentity ("SHOULD NOT be used for new or revised
# content") and points to the HL7 standard extension, whose value is a sub-extension `value`.
INDIVIDUAL_GENDER_IDENTITY = "http://hl7.org/fhir/StructureDefinition/individual-genderIdentity"

# Displays of the v3 NullFlavor code system, for the null flavors our choices use.
_NULL_FLAVOR_DISPLAY = {"ASKU": "asked but unknown", "UNK": "unknown", "OTH": "other"}
# SNOMED CT 373066001 |Yes|: the value the US Core interpreter-needed examples use.
_SNOMED_YES = {"system": SNOMED, "code": "373066001", "display": "Yes (qualifier value)"}


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    if code in _NULL_FLAVOR_DISPLAY:
        return {"system": NULL_FLAVOR, "code": code, "display": _NULL_FLAVOR_DISPLAY[code]}
    return {"system": system, "code": code, "display": display}


def _omb_extension(url: str, codes: list[str], labels: dict[str, str]) -> dict[str, Any] | None:
    """us-core-race / us-core-ethnicity: an ombCategory per OMB code and the required text."""
    known = [c for c in codes if c in labels]
    if not known:
        return None
    parts: list[dict[str, Any]] = [
        {"url": "ombCategory", "valueCoding": _coding(CDC_RACE_ETHNICITY, c, labels[c])}
        for c in known
    ]
    parts.append({"url": "text", "valueString": ", ".join(labels[c] for c in known)})
    return {"url": url, "extension": parts}


def _extensions(patient: Patient) -> list[dict[str, Any]]:
    races = patient.race if isinstance(patient.race, list) else []
    extensions = [
        _omb_extension(US_CORE_RACE, [str(c) for c in races], dict(Race.choices)),
        _omb_extension(
            US_CORE_ETHNICITY,
            [patient.ethnicity] if patient.ethnicity else [],
            dict(Ethnicity.choices),
        ),
    ]
    if patient.birth_sex in BirthSex.values:
        extensions.append({"url": US_CORE_BIRTH_SEX, "valueCode": patient.birth_sex})
    if patient.gender_identity in GenderIdentity.values:
        label = GenderIdentity(patient.gender_identity).label
        extensions.append(
            {
                "url": INDIVIDUAL_GENDER_IDENTITY,
                "extension": [
                    {
                        "url": "value",
                        "valueCodeableConcept": {
                            "coding": [_coding(SNOMED, patient.gender_identity, label)],
                            "text": label,
                        },
                    }
                ],
            }
        )
    if patient.interpreter_needed:
        # Only a known "yes": the workstation's unticked box does not say "asked, and no".
        extensions.append({"url": US_CORE_INTERPRETER_NEEDED, "valueCoding": _SNOMED_YES})
    return [e for e in extensions if e]


def _names(patient: Patient) -> list[dict[str, Any]]:
    official: dict[str, Any] = {
        "use": "official",
        "family": patient.family,
        "given": [g for g in (patient.given, patient.middle) if g],
    }
    if patient.suffix:
        official["suffix"] = [patient.suffix]
    names = [official]
    if patient.preferred_name:
        names.append({"use": "usual", "family": patient.family, "given": [patient.preferred_name]})
    return names


def _telecom(patient: Patient) -> list[dict[str, str]]:
    # The workstation does not record whether a phone is home or mobile, so no `use` is claimed.
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    return telecom


def _address(patient: Patient) -> list[dict[str, Any]]:
    address: dict[str, Any] = {
        "line": [line for line in (patient.address_line, patient.address_line2) if line],
        "city": patient.city,
        "state": patient.state,
        "postalCode": patient.postal_code,
    }
    address = {k: v for k, v in address.items() if v}
    return [address] if address else []


def to_fhir(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "meta": {
            "lastUpdated": patient.updated_at.isoformat(),
            "profile": [US_CORE_PATIENT],
        },
        "extension": _extensions(patient),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": V2_IDENTIFIER_TYPE,
                            "code": "MR",
                            "display": "Medical record number",
                        }
                    ],
                    "text": "MRN",
                },
                "system": MRN_SYSTEM,
                "value": patient.mrn,
            }
        ],
        "active": patient.active,
        "name": _names(patient),
        "telecom": _telecom(patient),
        "gender": patient.sex,
        "birthDate": patient.birth_date.isoformat(),
        "address": _address(patient),
        "communication": [
            {
                "language": {
                    "coding": [
                        {
                            "system": BCP_47,
                            "code": patient.preferred_language,
                            "display": patient.language_display,
                        }
                    ],
                    "text": patient.language_display,
                },
                "preferred": True,
            }
        ]
        if patient.preferred_language
        else [],
        "managingOrganization": {"display": patient.clinic.name},
    }
    # FHIR forbids empty arrays and objects (R4 JSON format, "no empty elements").
    return {k: v for k, v in resource.items() if v not in ([], {}, None, "")}
