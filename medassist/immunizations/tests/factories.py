"""Vaccine stock, standing orders and immunization histories for tests (real CDC products)."""

import datetime as dt
from decimal import Decimal

from medassist.core import clock
from medassist.immunizations import codes
from medassist.immunizations.models import (
    Eligibility,
    Funding,
    Immunization,
    Route,
    Site,
    StandingOrder,
    VaccineLot,
)
from medassist.immunizations.services import SCREENING_QUESTIONS, DoseRequest

# Real unit-of-use NDCs from CDC's tables.
PEDIARIX = "58160-0811-43"  # CVX 110 DTaP-HepB-IPV
PEDVAXHIB = "00006-4897-01"  # CVX 49 Hib PRP-OMP
PREVNAR20 = "00005-2000-01"  # CVX 216 PCV20
ROTATEQ = "00006-4047-01"  # CVX 116 rotavirus, oral
MMR = "00006-4681-01"  # CVX 03, live
VARIVAX = "00006-4827-01"  # CVX 21, live
ADACEL = "49281-0400-05"  # CVX 115 Tdap (a carton NDC)

ROUTES = {"116": Route.PO}


def make_lot(clinic, ndc, *, lot="LOT1", expires=None, funding=Funding.VFC, doses=10, **kw):  # type: ignore[no-untyped-def]
    product = codes.catalog().product_for_ndc(ndc)
    assert product is not None, ndc
    return VaccineLot.objects.create(
        clinic=clinic,
        ndc=product.ndc,
        cvx=product.cvx,
        mvx=product.mvx or "",
        product_name=product.label,
        lot_number=lot,
        expires_on=expires or clock.today() + dt.timedelta(days=300),
        funding=funding,
        doses_on_hand=doses,
        storage_unit="Fridge A",
        **kw,
    )


def standing_orders(
    clinic,
    provider,
    groups=(
        "DTaP/Tdap/Td",
        "HepB",
        "Polio",
        "Hib",
        "Pneumococcal",
        "Rotavirus",
        "MMR",
        "Varicella",
    ),
):  # type: ignore[no-untyped-def]
    return {
        g: StandingOrder.objects.create(
            clinic=clinic,
            vaccine_group=g,
            title=f"{g} for children (CDC schedule)",
            protocol="Give per the CDC child schedule when the forecast shows the dose due.",
            min_age_days=0,
            max_age_days=19 * 365,
            authorized_by=provider,
            effective_from=clock.today() - dt.timedelta(days=30),
        )
        for g in groups
    }


def historical(patient, cvx, on, **kw):  # type: ignore[no-untyped-def]
    vaccine = codes.catalog().vaccine(cvx)
    return Immunization.objects.create(
        clinic=patient.clinic,
        patient=patient,
        cvx=vaccine.cvx if vaccine else cvx,
        vaccine_name=vaccine.short_name if vaccine else cvx,
        source=kw.pop("source", Immunization.Source.OTHER_PROVIDER),
        occurred_on=on,
        **kw,
    )


def all_no() -> dict[str, bool]:
    return {key: False for key, _ in SCREENING_QUESTIONS}


def vis_for(cvx: str) -> list[str]:
    return [v.encoded_text for v in codes.catalog().vis_for_cvx(cvx)]


def request_for(patient, lot, standing=None, **kw) -> DoseRequest:  # type: ignore[no-untyped-def]
    fields = {
        "lot": lot,
        "site": Site.LEFT_THIGH,
        "route": ROUTES.get(lot.cvx, Route.IM),
        "confirm_birth_date": patient.birth_date,
        "eligibility": Eligibility.MEDICAID,
        "screening": all_no(),
        "vis_given": vis_for(lot.cvx),
        "dose_volume_ml": Decimal("0.5"),
        "standing_order": standing,
    }
    fields.update(kw)
    return DoseRequest(**fields)
