"""Immunization rows for the FHIR tests, written with the ORM as the immunization services would
leave them: a dose given here (from a lot, under an order, VIS given), one recorded from a
parent's written record, one refused, and one entered in error."""

import datetime as dt
from decimal import Decimal
from typing import Any

from medassist.immunizations.models import (
    Eligibility,
    Funding,
    Immunization,
    Route,
    Site,
    VaccineLot,
)
from medassist.patients.tests.factories import make_encounter

GIVEN_AT = dt.datetime(2026, 11, 20, 15, 5, tzinfo=dt.UTC)
# ENGERIX-B 0.5 mL syringe, unit of use, as CDC's NDC table lists it (labeled 58160-820-43).
ENGERIX_NDC = "58160-0820-43"
ENGERIX_NDC10 = "58160-820-43"
VIS_ENCODED = "253088698300008111230512"  # Hepatitis B VIS, 2023-05-12 edition (GS1 string)


def make_lot(clinic: Any, **fields: Any) -> VaccineLot:
    values: dict[str, Any] = {
        "ndc": ENGERIX_NDC,
        "cvx": "08",
        "mvx": "SKB",
        "product_name": "ENGERIX-B pediatric",
        "lot_number": "7K2B4",
        "expires_on": dt.date(2027, 6, 30),
        "funding": Funding.VFC,
        "doses_on_hand": 9,
        "storage_unit": "Fridge A",
    }
    values.update(fields)
    lot, _ = VaccineLot.objects.get_or_create(
        clinic=clinic,
        ndc=values.pop("ndc"),
        lot_number=values.pop("lot_number"),
        funding=values.pop("funding"),
        defaults=values,
    )
    return lot


def given_dose(patient: Any, cast: Any, **fields: Any) -> Immunization:
    """A hepatitis B dose given at the visit by alice (CCMA), ordered by bob."""
    lot = make_lot(patient.clinic)
    values: dict[str, Any] = {
        "clinic": patient.clinic,
        "patient": patient,
        "encounter": make_encounter(patient, cast.bob, start=GIVEN_AT - dt.timedelta(minutes=20)),
        "status": Immunization.Status.COMPLETED,
        "source": Immunization.Source.NEW,
        "cvx": "08",
        "vaccine_name": "ENGERIX-B pediatric",
        "vaccine_group": "HepB",
        "ndc": lot.ndc,
        "mvx": lot.mvx,
        "lot": lot,
        "lot_number": lot.lot_number,
        "expires_on": lot.expires_on,
        "dose_volume_ml": Decimal("0.50"),
        "route": Route.IM,
        "site": Site.LEFT_THIGH,
        "occurred_on": GIVEN_AT.date(),
        "given_at": GIVEN_AT,
        "given_by": cast.alice,
        "given_by_title": "CCMA",
        "ordering_provider": cast.bob,
        "funding": Funding.VFC,
        "eligibility": Eligibility.MEDICAID,
        "vis": [
            {
                "document": "Hepatitis B VIS",
                "edition": "2023-05-12",
                "encoded": VIS_ENCODED,
                "presented": "2026-11-20",
            }
        ],
        "consent": Immunization.Consent.GIVEN,
    }
    values.update(fields)
    return Immunization.objects.create(**values)


def historical_dose(patient: Any, **fields: Any) -> Immunization:
    """A dose copied from the parent's yellow card: no lot, no performer."""
    values: dict[str, Any] = {
        "clinic": patient.clinic,
        "patient": patient,
        "source": Immunization.Source.PARENT_RECORD,
        "source_detail": "yellow card from the Lagos clinic",
        "cvx": "08",
        "vaccine_name": "Hep B, adolescent or pediatric",
        "occurred_on": dt.date(2026, 1, 10),
    }
    values.update(fields)
    return Immunization.objects.create(**values)


def refused_dose(patient: Any, **fields: Any) -> Immunization:
    values: dict[str, Any] = {
        "clinic": patient.clinic,
        "patient": patient,
        "status": Immunization.Status.NOT_DONE,
        "cvx": "141",
        "vaccine_name": "Influenza, seasonal, injectable",
        "occurred_on": dt.date(2026, 10, 2),
        "consent": Immunization.Consent.REFUSED,
        "refusal_reason": "Parent declined: wants to wait until spring",
    }
    values.update(fields)
    return Immunization.objects.create(**values)


def north_immunization(cast: Any, patient: Any) -> str:
    """The id of a North dose (for the outsider tests)."""
    return str(given_dose(patient, cast).public_id)
