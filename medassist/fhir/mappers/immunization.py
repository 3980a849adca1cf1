"""A dose (given here, recorded from outside records, or refused) -> FHIR R4 Immunization, as the
US Core Immunization profile describes it (US Core 6.1.0,
http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization). Reads the dose, its
patient, clinic, visit, lot, the staff who gave and ordered it (select_related by the caller) and
their memberships (prefetched); CDC's code tables (immunizations.codes, read once and cached)
give the CVX and MVX names and the NDC as labeled. No database query of its own.

- status completed / not-done / entered-in-error as stored. A refusal (consent "refused") is
  statusReason v3-ActReason PATOBJ, with the reason as the MA wrote it; the reason a record was
  entered in error is a note.
- vaccineCode: CVX, with the NDC as a translation (US Core us-core-5) in the 10-digit form as
  labeled (THO "Using NDC": hyphens where the labeler puts them); an NDC CDC does not list is
  given as its 11 digits without hyphens, the HIPAA form, whose layout is never ambiguous.
- primarySource is false for a historical dose, whose reportOrigin is CDC's NIP001 "immunization
  information source" (HL7 v2 RXA-9; PHIN VADS code system 2.16.840.1.114222.4.5.293) with the
  FHIR immunization-origin code where one means the same.
- performer: the MA or nurse who gave it (v2-0443 AP) and the ordering provider (OP); location:
  the clinic, for a dose given here (no Location resource is served: a display-only reference).
- route: HL7 table 0162 (CDC IG RXR-1), with the NCI Thesaurus code the IG lists beside it;
  site: HL7 table 0163. doseQuantity in mL (UCUM). fundingSource: CDC's CDCPHINVS code (PHIN
  VADS code system 2.16.840.1.114222.4.5.274, value set PHVS_ImmunizationFundingSource_IIS);
  programEligibility: HL7 table 0064 (VFC eligibility). education: each VIS given (its
  fully-encoded string as documentType, the edition as publicationDate, when it was given as
  presentationDate).
"""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from medassist.fhir.mappers.common import (
    coding,
    concept,
    patient_reference,
    practitioner_reference,
    without_empty,
)
from medassist.fhir.mappers.vital_sign import UCUM, number
from medassist.immunizations.models import Eligibility, Funding, Immunization, Route, Site

US_CORE_IMMUNIZATION = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization"

CVX = "http://hl7.org/fhir/sid/cvx"
NDC = "http://hl7.org/fhir/sid/ndc"
MVX = "http://hl7.org/fhir/sid/mvx"
NIP001 = "urn:oid:2.16.840.1.114222.4.5.293"
IMMUNIZATION_ORIGIN = "http://terminology.hl7.org/CodeSystem/immunization-origin"
CDCPHINVS = "urn:oid:2.16.840.1.114222.4.5.274"
V2_0064 = "http://terminology.hl7.org/CodeSystem/v2-0064"
V2_0162 = "http://terminology.hl7.org/CodeSystem/v2-0162"
V2_0163 = "http://terminology.hl7.org/CodeSystem/v2-0163"
V2_0443 = "http://terminology.hl7.org/CodeSystem/v2-0443"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
EVENT_STATUS = "http://hl7.org/fhir/event-status"

Source = Immunization.Source

# NIP001 (CDC IG for HL7 2.5.1 immunization messaging, Appendix A): the model stores the NIP001
# code itself; here its display and the FHIR immunization-origin code of the same meaning.
_NIP001: dict[str, tuple[str, str, str]] = {
    # source -> (NIP001 code, NIP001 display, FHIR immunization-origin code or "")
    Source.NEW: ("00", "New immunization record", ""),
    Source.HISTORICAL: ("01", "Historical information - source unspecified", ""),
    Source.OTHER_PROVIDER: ("02", "Historical information - from other provider", "provider"),
    Source.PARENT_RECORD: (
        "03",
        "Historical information - from parent's written record",
        "record",
    ),
    Source.PARENT_RECALL: ("04", "Historical information - from parent's recall", "recall"),
    Source.REGISTRY: ("05", "Historical information - from other registry", ""),
    Source.BIRTH_CERTIFICATE: ("06", "Historical information - from birth certificate", ""),
    Source.SCHOOL: ("07", "Historical information - from school record", "school"),
    Source.PUBLIC_AGENCY: ("08", "Historical information - from public agency", ""),
}
_ORIGIN_DISPLAY = {
    "provider": "Other Provider",
    "record": "Written Record",
    "recall": "Parent/Guardian/Patient Recall",
    "school": "School Record",
}

# The HL7 table 0162 route stored (CDC IG RXR-1): its display, and the NCI Thesaurus code the
# IG lists beside it.
_ROUTE: dict[str, tuple[str, str]] = {
    Route.IM: ("Intramuscular", "C28161"),
    Route.SC: ("Subcutaneous", "C38299"),
    Route.ID: ("Intradermal", "C38238"),
    Route.PO: ("Oral", "C38288"),
    Route.NS: ("Nasal", "C38284"),
}
# HL7 table 0163 displays. Mouth and nose are not in the table: those sites are text only.
_SITE_0163: dict[str, str] = {
    Site.LEFT_DELTOID: "Left Deltoid",
    Site.RIGHT_DELTOID: "Right Deltoid",
    Site.LEFT_THIGH: "Left Thigh",
    Site.RIGHT_THIGH: "Right Thigh",
    Site.LEFT_ARM: "Left Arm",
    Site.RIGHT_ARM: "Right Arm",
    Site.LEFT_GLUTEUS: "Left Gluteous Medius",
    Site.RIGHT_GLUTEUS: "Right Gluteous Medius",
}
_PATIENT_OBJECTION = coding(V3_ACT_REASON, "PATOBJ", "patient objection")
_ADMINISTERING = concept("", coding(V2_0443, "AP", "Administering Provider"))
_ORDERING = concept("", coding(V2_0443, "OP", "Ordering Provider"))
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?"
)


def _catalog() -> Any:
    """CDC's code tables, or None where the reference folder is not installed (the names are
    then left out; the codes are always given)."""
    from medassist.immunizations import codes

    try:
        return codes.catalog()
    except (OSError, ValueError):
        return None


def _cvx_display(cvx: str) -> str:
    catalog = _catalog()
    vaccine = catalog.vaccine(cvx) if catalog is not None else None
    return vaccine.short_name if vaccine is not None else ""


def _ndc_code(ndc: str) -> str:
    """The NDC for http://hl7.org/fhir/sid/ndc: as labeled when CDC lists it, else 11 digits."""
    catalog = _catalog()
    try:
        product = catalog.product_for_ndc(ndc) if catalog is not None else None
    except ValueError:
        product = None
    return product.ndc10 if product is not None else re.sub(r"[^0-9]", "", ndc)


def _manufacturer(mvx: str) -> dict[str, Any] | None:
    if not mvx:
        return None
    catalog = _catalog()
    found = catalog.manufacturer(mvx) if catalog is not None else None
    reference: dict[str, Any] = {"identifier": {"system": MVX, "value": mvx}}
    if found is not None:
        reference["display"] = found.name
    return reference


def _status_reason(dose: Immunization) -> dict[str, Any] | None:
    if dose.status != Immunization.Status.NOT_DONE:
        return None
    refused = dose.consent == Immunization.Consent.REFUSED
    text = dose.refusal_reason or ("Refused" if refused else "Not given")
    return concept(text, _PATIENT_OBJECTION if refused else None)


def _report_origin(dose: Immunization) -> dict[str, Any] | None:
    # R4: reportOrigin "should not be populated if primarySource = true".
    if not dose.historical or dose.source not in _NIP001:
        return None
    code, display, origin = _NIP001[dose.source]
    return concept(
        display,
        coding(NIP001, code, display),
        coding(IMMUNIZATION_ORIGIN, origin, _ORIGIN_DISPLAY[origin]) if origin else None,
    )


def _route(dose: Immunization) -> dict[str, Any] | None:
    if not dose.route:
        return None
    display, ncit = _ROUTE.get(dose.route, ("", ""))
    return concept(
        dose.get_route_display(),
        coding(V2_0162, dose.route, display),
        coding(NCIT, ncit) if ncit else None,
    )


def _site(dose: Immunization) -> dict[str, Any] | None:
    if not dose.site:
        return None
    display = _SITE_0163.get(dose.site)
    return concept(
        dose.get_site_display(), coding(V2_0163, dose.site, display) if display else None
    )


def _dose_quantity(volume: Decimal | None) -> dict[str, Any] | None:
    if volume is None:
        return None
    return {"value": number(volume), "unit": "mL", "system": UCUM, "code": "mL"}


def _education(dose: Immunization) -> list[dict[str, Any]]:
    """The VIS given: [{document, edition, encoded, presented}] as the dose keeps them. A date
    that is not one is left out rather than sent malformed."""
    shown: list[dict[str, Any]] = []
    for vis in dose.vis if isinstance(dose.vis, list) else []:
        if not isinstance(vis, dict):
            continue
        document = str(vis.get("encoded") or vis.get("document") or "")
        if not document:
            continue  # R4 imm-1: an education entry names its document
        edition = str(vis.get("edition") or "")[:10]
        presented = str(vis.get("presented") or "")
        shown.append(
            without_empty(
                {
                    "documentType": document,
                    "publicationDate": edition if _DATE.fullmatch(edition) else None,
                    "presentationDate": presented if _DATETIME.fullmatch(presented) else None,
                }
            )
        )
    return shown


def _performers(dose: Immunization) -> list[dict[str, Any]]:
    performers = []
    # A refusal was recorded, not administered, by the person who offered the vaccine.
    if dose.given_by is not None and dose.status != Immunization.Status.NOT_DONE:
        performers.append(
            {
                "function": _ADMINISTERING,
                "actor": practitioner_reference(dose.given_by, dose.clinic_id),
            }
        )
    if dose.ordering_provider is not None:
        performers.append(
            {
                "function": _ORDERING,
                "actor": practitioner_reference(dose.ordering_provider, dose.clinic_id),
            }
        )
    return performers


def _notes(dose: Immunization) -> list[dict[str, str]]:
    notes = []
    if dose.status == Immunization.Status.ENTERED_IN_ERROR:
        notes.append(f"Entered in error: {dose.retracted_reason or 'no reason given'}")
    if dose.historical and dose.source_detail:
        notes.append(f"Reported from: {dose.source_detail}")
    if dose.override_reason:
        notes.append(f"Given outside the forecast on a provider's decision: {dose.override_reason}")
    return [{"text": n} for n in notes]


def occurrence(dose: Immunization) -> str:
    """When it was given: the exact time for a dose given here, else the day."""
    return dose.given_at.isoformat() if dose.given_at is not None else dose.occurred_on.isoformat()


def to_fhir(dose: Immunization) -> dict[str, Any]:
    lot = dose.lot
    ndc = dose.ndc or (lot.ndc if lot is not None else "")
    mvx = dose.mvx or (lot.mvx if lot is not None else "")
    lot_number = dose.lot_number or (lot.lot_number if lot is not None else "")
    expires: dt.date | None = dose.expires_on or (lot.expires_on if lot is not None else None)
    funding = dose.funding or (lot.funding if lot is not None else "")
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(dose.public_id),
        "meta": {"lastUpdated": dose.updated_at.isoformat(), "profile": [US_CORE_IMMUNIZATION]},
        "status": dose.status,
        "statusReason": _status_reason(dose),
        "vaccineCode": concept(
            dose.vaccine_name,
            coding(CVX, dose.cvx, _cvx_display(dose.cvx)),
            coding(NDC, _ndc_code(ndc)) if ndc else None,
        ),
        "patient": patient_reference(dose.patient),
        "encounter": (
            {"reference": f"Encounter/{dose.encounter.public_id}"}
            if dose.encounter is not None
            else None
        ),
        "occurrenceDateTime": occurrence(dose),
        "recorded": dose.created_at.isoformat(),
        "primarySource": not dose.historical,
        "reportOrigin": _report_origin(dose),
        "location": {"display": dose.clinic.name} if not dose.historical else None,
        "manufacturer": _manufacturer(mvx),
        "lotNumber": lot_number,
        "expirationDate": expires.isoformat() if expires is not None else None,
        "site": _site(dose),
        "route": _route(dose),
        "doseQuantity": _dose_quantity(dose.dose_volume_ml),
        "performer": _performers(dose),
        "note": _notes(dose),
        "education": _education(dose),
        "programEligibility": (
            [concept(Eligibility(dose.eligibility).label, coding(V2_0064, dose.eligibility))]
            if dose.eligibility in Eligibility.values
            else []
        ),
        "fundingSource": (
            concept(Funding(funding).label, coding(CDCPHINVS, funding))
            if funding in Funding.values
            else None
        ),
    }
    return without_empty(resource)
