"""The demo clinics' vaccines: each clinic's fridge, the standing orders its provider signed,
its immunization settings, and the immunization histories of the patients a demo opens; and a
4-month-old in a room on today's North board with her 4-month doses due.

Like the vital signs (vitals.py) and unlike the rest of the demo, these go through the
immunization services, as the clinic's people: stock received by the clinic's medical
assistant (alice at North, carol at South) with services.receive_lot(), standing orders signed
by its provider (bob at North, frank at South) with services.save_standing_order(), past doses
entered by the MA with services.record_historical(). So the stock, the orders and the doses are
checked, audited and grouped (CDSi vaccine groups) exactly as in the app. Written directly, and
why: the clinics' ClinicSettings (no service sets them) and the one expired lot per clinic
(receive_lot() refuses an expired lot; this one was received months ago and expired since).

What the demo shows:
- The fridge (per clinic: "Fridge A (VFC)", "Fridge B (private)" and a freezer for varicella
  and MMRV), stocked with real products from CDC's NDC tables (codes.catalog()), each by its
  unit-of-use NDC (the NDC a dose record and HL7 RXA-5 carry), received by scanning the dose's
  GS1 2D code: DTaP-HepB-IPV (Pediarix), Hib (PedvaxHIB at North, ActHIB at South), PCV (Prevnar
  20 at North, Vaxneuvance at South; Prevnar 20 for adults at both), rotavirus (RotaTeq at
  North, Rotarix at South), MMR, varicella, MMRV, HepA and HepB pediatric, DTaP and DTaP-IPV,
  Tdap, HPV9, MenACWY, the current season's influenza vaccines and COVID-19 vaccines (the
  products CDC's tables list as marketed on the load date; none is stocked when none is), HepB
  adult and Shingrix; VFC (public) and private stock kept apart. Lot numbers in each maker's
  style, from a generator seeded with SEED. One lot per clinic expires within three weeks of
  the load date (North: VFC M-M-R II; South: private Havrix) and one expired days ago and is
  still in the fridge, waiting to be pulled (North: private Varivax; South: VFC Engerix-B).
- Standing orders per clinic, signed by its provider: the routine childhood vaccine groups with
  their age limits (DTaP/Tdap, HepB, polio, Hib, pneumococcal, rotavirus, MMR, varicella, HepA,
  influenza, HPV, MenACWY) and the adult influenza, Td/Tdap, zoster and pneumococcal vaccines,
  each with a short protocol citing CDC's schedules. COVID-19 has none: it is given on the
  provider's order (individual decision-making). Effective from the first of the month four
  months before the load date, with no end.
- ClinicSettings for both clinics: 15 minutes' observation after a dose, and medical assistants
  may give vaccines under a standing or provider's order (the clinic's setting, as its manager
  records it). No RegistryConnection: the demo runs offline, nothing is queued for a registry,
  and the registry page shows an example only once a registry is configured.
- Past doses: children by the CDC child and adolescent schedule (birth HepB; DTaP-HepB-IPV,
  Hib, PCV and rotavirus at 2, 4 and 6 months; MMR, varicella, HepA and PCV at 12 months; Hib
  and DTaP at 15, HepA at 18 months; DTaP-IPV with MMR and varicella or MMRV at 4-6 years;
  Tdap, MenACWY and HPV at 11-12, HPV again 6-11 months later, MenACWY at 16; influenza in the
  last seasons), with the products of their time (PCV7/PCV13, Menactra, Gardasil 4) and their
  own pace, from a generator seeded per patient: about half on time, some late (catching up or
  not), some who stopped coming, some who decline HPV and influenza; one in ten had the
  12-month doses a week or more before the first birthday, so the chart shows those as Not
  Valid and the forecast asks for them again. Doses fall on the child's well-child visit when
  one is near. Doses due within the last two weeks are left for the next visit (so today's
  children have doses due). Adults: Td/Tdap (a share with their childhood DTP and MMR from a
  school record), influenza, recombinant zoster from 50 and pneumococcal from 65 (some from 50),
  some never or not lately. Where each record came from (RXA-9): the birth hospital and earlier
  practices (OTHER_PROVIDER), a parent's vaccination card (PARENT_RECORD, some families who
  speak another language), a school record (SCHOOL), a pharmacy (OTHER_PROVIDER); doses from the
  time the patient was this clinic's came in from I-CARE, Illinois' registry (REGISTRY), since
  the clinic's past predates this module.
- Today's North board has the 4-month-old in a room (Amara Bello, 125 days old, "4 month
  well-child visit"): HepB at birth and DTaP-HepB-IPV, Hib, PCV and rotavirus at her 2-month
  visit, so DTaP, polio, Hib, PCV and rotavirus are due today and the MA gives them under the
  standing orders from the VFC fridge. The generator books her at 10:00, after the six visits
  the schedule moves along the board (schedule._board), so she would still be "scheduled".
  The least invasive fix is made on the generated specs before anything is written
  (seat_four_month_old(), called by seed.load_demo): her visit and the visit the board will
  leave at ROOMED (Mateo Hernández's 3-5 day newborn visit, the same visit type and length)
  swap times. Nothing else changes: both patients, their visits and records are as generated;
  everything after (appointments, check-ins, rooms, vitals) follows from the times. South's
  4-month-old (Liam Pham) is on its board already, with the provider. In the RSV season the
  forecast has RSV (nirsevimab) due for them as well; it is not stocked. For tests and the
  browser test: demo_four_month_old(), todays_four_month_visit(), demo_lot(), scan_code().

Whose histories: today's patients at both clinics, the featured ones, and a seeded sample of
the others (CHILD_SAMPLE of the children, ADULT_SAMPLE of the adults), or everyone with
EVERY_PATIENT (write_immunizations(every_patient=True)). record_historical() costs about 4 ms a
dose (the CDSi groups lookup, the duplicate check, the audit entry): every patient's history
(some 6,300 doses) would add about 25 s to the load; the default, some 580 doses of about 50
patients, with the stock (about 70 lots) and the orders, adds 2.5 to 3.5 s. The other charts
have no history (their forecast has every routine vaccine due or overdue), as a new patient's
would.

Deterministic: lots, orders and doses come from random.Random seeded with SEED and the clinic
or the patient's public id, and dates from the load date; only ids, record times and the audit
entries differ between loads. A second call adds nothing (a clinic with stock, standing orders,
or a patient with doses is left as it is).
"""

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo.generator import CLINICS, FEATURED, SEED, PatientSpec
from medassist.demo.schedule import BOARD
from medassist.encounters.models import Encounter
from medassist.encounters.stages import IN_ROOM, Stage
from medassist.immunizations import codes, gs1, services
from medassist.immunizations.models import (
    ClinicSettings,
    Funding,
    Immunization,
    StandingOrder,
    VaccineLot,
)
from medassist.patients.models import Patient

# Whose histories (see the module docstring).
EVERY_PATIENT = False
CHILD_SAMPLE = 0.06
ADULT_SAMPLE = 0.02
YEAR = 365.25
ADULT_YEARS = 19  # VFC and the child schedule: through 18 years
CHILD_RECORDS_UNTIL_YEARS = 27  # young adults' childhood doses are in the registry
FOUR_MONTHS = (100, 140)  # days old: a 4-month visit
BOARD_CLINIC = "north"
LEFT_FOR_THE_VISIT_DAYS = 14
SNAP_DAYS = 21  # a dose falls on a well-child visit this near

VFC_FRIDGE, PRIVATE_FRIDGE, FREEZER = "Fridge A (VFC)", "Fridge B (private)", "Freezer (VAR, MMRV)"
OBSERVATION_MINUTES = 15

# ---------------------------------------------------------------------------------------------
# The fridge: real unit-of-use NDCs from CDC's tables.

PEDIARIX = "58160-0811-43"  # DTaP-HepB-IPV, syringe (CVX 110)
PEDVAXHIB = "00006-4897-01"  # Hib PRP-OMP, vial (49)
ACTHIB = "49281-0547-58"  # Hib PRP-T, vial (48)
PREVNAR20 = "00005-2000-01"  # PCV20, syringe (216)
VAXNEUVANCE = "00006-4329-01"  # PCV15, syringe (215)
ROTATEQ = "00006-4047-01"  # rotavirus pentavalent, tube (116)
ROTARIX = "58160-0740-02"  # rotavirus monovalent, applicator (119)
MMR_II = "00006-4681-01"  # MMR, vial (03)
VARIVAX = "00006-4827-01"  # varicella, vial (21), frozen
PROQUAD = "00006-4171-01"  # MMRV, vial (94), frozen
HAVRIX_PEDIATRIC = "58160-0825-43"  # HepA pediatric, syringe (83)
ENGERIX_PEDIATRIC = "58160-0820-43"  # HepB pediatric, syringe (08)
ENGERIX_ADULT = "58160-0821-43"  # HepB adult, syringe (43)
INFANRIX = "58160-0810-43"  # DTaP, syringe (20)
KINRIX = "58160-0812-43"  # DTaP-IPV, syringe (130)
BOOSTRIX = "58160-0842-43"  # Tdap, syringe (115)
GARDASIL9 = "00006-4121-01"  # HPV9, syringe (165)
MENQUADFI = "49281-0590-58"  # MenACWY-TT, vial (203)
MENVEO = "58160-0827-03"  # MenACWY-CRM, vial (136)
SHINGRIX = "58160-0828-03"  # zoster recombinant, vial (187)
# Seasonal products, chosen in CDC's tables on the load date: (name as listed, CVX).
FLU = ("FLUZONE TRIVALENT NORTHERN HEMISPHERE", "140")
FLU_AFLURIA = ("AFLURIA", "140")
FLU_HIGH_DOSE = ("FLUZONE HIGH DOSE NORTHERN HEMISPHERE", "135")
FLU_ADJUVANTED = ("FLUAD", "168")
COVID_CHILD = ("SPIKEVAX", "311")  # 25 mcg, 6 months-11 years
COVID_ADULT = ("SPIKEVAX", "312")  # 50 mcg, 12 years and older
COVID_COMIRNATY = ("COMIRNATY", "309")  # 30 mcg, 12 years and older

NORMAL, SOON, EXPIRED = "normal", "soon", "expired"


@dataclass(frozen=True)
class Stocked:
    product: str | tuple[str, str]  # a unit-of-use NDC, or a seasonal product (name, CVX)
    funding: str
    doses: int
    unit: str
    expiry: str = NORMAL  # NORMAL, SOON (within three weeks) or EXPIRED


VFC, PRIVATE = Funding.VFC, Funding.PRIVATE
_CHILDHOOD_VFC = (
    (PEDIARIX, 30), (INFANRIX, 10), (KINRIX, 10), (ENGERIX_PEDIATRIC, 10),
    (HAVRIX_PEDIATRIC, 20), (BOOSTRIX, 10), (GARDASIL9, 20),
)  # fmt: skip
STOCK: dict[str, tuple[Stocked, ...]] = {
    "north": (
        *(Stocked(ndc, VFC, n, VFC_FRIDGE) for ndc, n in _CHILDHOOD_VFC),
        Stocked(PEDVAXHIB, VFC, 20, VFC_FRIDGE),
        Stocked(PREVNAR20, VFC, 30, VFC_FRIDGE),
        Stocked(ROTATEQ, VFC, 20, VFC_FRIDGE),
        Stocked(MMR_II, VFC, 10, VFC_FRIDGE, SOON),
        Stocked(MMR_II, VFC, 20, VFC_FRIDGE),
        Stocked(MENQUADFI, VFC, 10, VFC_FRIDGE),
        Stocked(FLU, VFC, 50, VFC_FRIDGE),
        Stocked(COVID_CHILD, VFC, 10, VFC_FRIDGE),
        Stocked(VARIVAX, VFC, 20, FREEZER),
        Stocked(PROQUAD, VFC, 10, FREEZER),
        Stocked(PEDIARIX, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(PEDVAXHIB, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(PREVNAR20, PRIVATE, 20, PRIVATE_FRIDGE),  # children and adults
        Stocked(ROTATEQ, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(MMR_II, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(HAVRIX_PEDIATRIC, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(ENGERIX_PEDIATRIC, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(BOOSTRIX, PRIVATE, 30, PRIVATE_FRIDGE),
        Stocked(GARDASIL9, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(MENQUADFI, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(ENGERIX_ADULT, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(SHINGRIX, PRIVATE, 20, PRIVATE_FRIDGE),
        Stocked(FLU, PRIVATE, 80, PRIVATE_FRIDGE),
        Stocked(FLU_HIGH_DOSE, PRIVATE, 40, PRIVATE_FRIDGE),
        Stocked(COVID_ADULT, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(VARIVAX, PRIVATE, 10, FREEZER),
        Stocked(VARIVAX, PRIVATE, 3, FREEZER, EXPIRED),
    ),
    "south": (
        *(Stocked(ndc, VFC, 3 * n // 2, VFC_FRIDGE) for ndc, n in _CHILDHOOD_VFC),
        Stocked(ACTHIB, VFC, 30, VFC_FRIDGE),
        Stocked(VAXNEUVANCE, VFC, 40, VFC_FRIDGE),
        Stocked(ROTARIX, VFC, 20, VFC_FRIDGE),
        Stocked(MMR_II, VFC, 30, VFC_FRIDGE),
        Stocked(MENVEO, VFC, 20, VFC_FRIDGE),
        Stocked(ENGERIX_PEDIATRIC, VFC, 4, VFC_FRIDGE, EXPIRED),
        Stocked(FLU_AFLURIA, VFC, 80, VFC_FRIDGE),
        Stocked(COVID_CHILD, VFC, 10, VFC_FRIDGE),
        Stocked(VARIVAX, VFC, 30, FREEZER),
        Stocked(PROQUAD, VFC, 10, FREEZER),
        Stocked(PEDIARIX, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(ACTHIB, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(VAXNEUVANCE, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(ROTARIX, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(MMR_II, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(HAVRIX_PEDIATRIC, PRIVATE, 5, PRIVATE_FRIDGE, SOON),
        Stocked(HAVRIX_PEDIATRIC, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(ENGERIX_PEDIATRIC, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(BOOSTRIX, PRIVATE, 20, PRIVATE_FRIDGE),
        Stocked(GARDASIL9, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(MENVEO, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(PREVNAR20, PRIVATE, 10, PRIVATE_FRIDGE),  # adults
        Stocked(ENGERIX_ADULT, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(SHINGRIX, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(FLU_AFLURIA, PRIVATE, 40, PRIVATE_FRIDGE),
        Stocked(FLU_ADJUVANTED, PRIVATE, 20, PRIVATE_FRIDGE),
        Stocked(COVID_COMIRNATY, PRIVATE, 10, PRIVATE_FRIDGE),
        Stocked(VARIVAX, PRIVATE, 10, FREEZER),
    ),
}

# Lot numbers in each maker's style: L a letter (no I or O), D a digit.
LOT_STYLES = {"MSD": "XDDDDDD", "SKB": "LLDDDLL", "PFR": "LLDDDD", "PMC": "ULDDDLL"}
LOT_STYLES |= {"SEQ": "DDDDDDLL", "MOD": "DDDLDDL"}
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass
class Entered:
    lots: int = 0
    standing_orders: int = 0
    patients: int = 0
    doses: int = 0
    refusals: list[str] = field(default_factory=list)  # doses the service did not take


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (SEED, "immunizations", *parts)))


def _days(years: float) -> int:
    return round(years * YEAR)


# ---------------------------------------------------------------------------------------------
# Today's 4-month-old at North


def seat_four_month_old(specs: list[PatientSpec], today: dt.date) -> PatientSpec | None:
    """Put the 4-month-old booked today at North into a visit the board takes to the room (see
    the module docstring): her visit swaps times with the visit schedule._board() leaves at
    ROOMED (else with the provider), when that one is of the same visit type. Returns her."""
    todays = sorted(
        (
            (visit, spec)
            for spec in specs
            if spec.clinic == BOARD_CLINIC
            for visit in spec.encounters
            if visit.stage == Stage.SCHEDULED and visit.period_start.date() == today
        ),
        key=lambda pair: (pair[0].period_start, str(pair[0].public_id)),
    )
    infants = [
        (visit, spec)
        for visit, spec in todays
        if FOUR_MONTHS[0] <= spec.age_days(today) <= FOUR_MONTHS[1]
    ]
    if not infants:
        return None
    visit, infant = min(
        infants, key=lambda pair: (abs(pair[1].age_days(today) - 122), str(pair[1].public_id))
    )
    order = [v for v, _ in todays]
    place = order.index(visit)
    if place < len(BOARD) and BOARD[place] in IN_ROOM:
        return infant
    for stage in (Stage.ROOMED, Stage.WITH_PROVIDER):
        spot = BOARD.index(stage)
        if spot < len(order) and order[spot].visit_type == visit.visit_type:
            other = order[spot]
            visit.period_start, other.period_start = other.period_start, visit.period_start
            break
    return infant


def demo_four_month_old(clinic: Clinic, today: dt.date | None = None) -> Patient:
    """The 4-month-old on the clinic's board today (North: Amara Bello, in a room; South: Liam
    Pham), preferring one whose visit is in a room. Raises Patient.DoesNotExist."""
    visit = todays_four_month_visit(clinic, today)
    if visit is None:
        raise Patient.DoesNotExist(f"No 4-month-old on {clinic.code}'s board today.")
    return visit.patient


def todays_four_month_visit(clinic: Clinic, today: dt.date | None = None) -> Encounter | None:
    day = today or clock.today()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())
    visits = (
        Encounter.objects.filter(
            clinic=clinic,
            period_start__gte=start,
            period_start__lt=start + dt.timedelta(days=1),
            patient__birth_date__gte=day - dt.timedelta(days=FOUR_MONTHS[1]),
            patient__birth_date__lte=day - dt.timedelta(days=FOUR_MONTHS[0]),
        )
        .exclude(stage__in=(Stage.CANCELLED, Stage.NO_SHOW))
        .select_related("patient")
    )
    ranked = sorted(
        visits,
        key=lambda v: (
            v.stage not in IN_ROOM,
            abs((day - v.patient.birth_date).days - 122),
            str(v.public_id),
        ),
    )
    return ranked[0] if ranked else None


def demo_lot(
    clinic: Clinic, cvx: str, funding: str = Funding.VFC, on: dt.date | None = None
) -> VaccineLot:
    """The lot of this vaccine the MA takes from the fridge: in date, first to expire."""
    day = on or clock.today()
    lot = (
        VaccineLot.objects.filter(
            clinic=clinic,
            cvx=codes.normalize_cvx(cvx),
            funding=funding,
            active=True,
            doses_on_hand__gt=0,
            expires_on__gte=day,
        )
        .order_by("expires_on", "id")
        .first()
    )
    if lot is None:
        raise VaccineLot.DoesNotExist(f"No lot of CVX {cvx} ({funding}) at {clinic.code}.")
    return lot


def scan_code(lot: VaccineLot) -> str:
    """What the scanner types for the dose's GS1 2D code: GTIN, expiry and lot (GS separated)."""
    product = codes.catalog().product_for_ndc(lot.ndc)
    if product is None:
        raise ValueError(f"NDC {lot.ndc} is not in CDC's tables")
    return gs1.make_gs1_element_string(lot.gtin or _gtin(product), lot.lot_number, lot.expires_on)


def _gtin(product: codes.NdcProduct) -> str:
    return product.gtin or gs1.gtin_for_ndc(product.ndc10)


# ---------------------------------------------------------------------------------------------
# Writing


def write_immunizations(
    *,
    today: dt.date,
    clinics: dict[str, Clinic],
    users: dict,
    progress: Callable[[str], None] | None = None,
    every_patient: bool = EVERY_PATIENT,
) -> Entered:
    """Stock, standing orders, settings and histories for both clinics (a second call adds
    nothing)."""
    done = Entered()
    for plan in CLINICS:
        clinic = clinics[plan.code]
        ma = users[plan.medical_assistant]
        _settings(clinic)
        done.lots += _stock(clinic, Actor.for_user(ma), ma, today)
        done.standing_orders += _standing_orders(
            clinic, Actor.for_user(users[plan.provider]), today
        )
        _histories(clinic, Actor.for_user(ma), today, done, every_patient)
    if progress and done.refusals:
        progress(f"past doses not entered: {len(done.refusals)} refused")
    return done


def _settings(clinic: Clinic) -> None:
    # Written directly: no service sets them. Whether MAs may give vaccines is the clinic's
    # setting (its manager records what its state's scope of practice allows).
    ClinicSettings.objects.update_or_create(
        clinic=clinic,
        defaults={
            "observation_minutes": OBSERVATION_MINUTES,
            "assistants_may_administer": True,
        },
    )


# -- The fridge --------------------------------------------------------------------------------


def _product(item: Stocked, marketed: Sequence[codes.NdcProduct]) -> codes.NdcProduct | None:
    """The item's product; for a seasonal one, the most recently started product of that name
    and CVX among those marketed on the load date (None when there is none)."""
    if isinstance(item.product, str):
        found = codes.catalog().product_for_ndc(item.product, "use")
        if found is None:
            raise ValueError(f"NDC {item.product} is not a unit of use in CDC's tables")
        return found
    name, cvx = item.product
    season = [p for p in marketed if p.proprietary_name.upper().startswith(name) and p.cvx == cvx]
    return max(season, key=lambda p: (p.start_date or dt.date.min, p.ndc), default=None)


def _lot_number(rng: random.Random, mvx: str, taken: set[str]) -> str:
    style = LOT_STYLES.get(mvx, "LLDDDD")
    while True:
        lot = "".join(
            rng.choice(LETTERS)
            if c == "L"
            else rng.choice("0123456789")
            if c == "D"
            else rng.choice("WXYZ")
            if c == "X"
            else c
            for c in style
        )
        if lot not in taken and not lot.startswith("01"):  # "01..." reads as a GS1 scan
            taken.add(lot)
            return lot


def _expiry(rng: random.Random, item: Stocked, product: codes.NdcProduct, day: dt.date) -> dt.date:
    if item.expiry == SOON:
        return day + dt.timedelta(days=rng.randint(14, 20))
    if item.expiry == EXPIRED:
        return day - dt.timedelta(days=rng.randint(4, 15))
    groups = services.vaccine_groups_for(product.cvx)
    if "Influenza" in groups:  # a season's vaccine expires on June 30
        year = day.year + (day.month >= 5)
        return dt.date(year, 6, 30)
    if "COVID-19" in groups:
        return day + dt.timedelta(days=rng.randint(75, 200))
    return day + dt.timedelta(days=rng.randint(150, 700))


def _stock(clinic: Clinic, actor: Actor, ma: AbstractBaseUser, today: dt.date) -> int:
    if VaccineLot.objects.filter(clinic=clinic).exists():
        return 0
    rng = _rng("stock", clinic.code)
    # receive_lot() refuses lots expired by the clock's date: when the demo is loaded for a day
    # before it (tests), expiry counts from the clock's date.
    day = max(today, clock.today())
    taken: set[str] = set()
    made = 0
    marketed = codes.catalog().products(kind="use", on=today)
    for item in STOCK[clinic.code]:
        product = _product(item, marketed)
        if product is None:
            continue  # no such product marketed on the load date
        lot = _lot_number(rng, product.mvx or "", taken)
        expires = _expiry(rng, item, product, day)
        gtin = _gtin(product)
        scanned = gs1.make_gs1_element_string(gtin, lot, expires)
        if item.expiry == EXPIRED:
            _expired_lot(clinic, ma, item, product, lot, expires, gtin, rng)
        else:
            received = services.receive_lot(
                actor=actor,
                clinic_id=clinic.pk,
                scanned=scanned,
                funding=item.funding,
                doses=item.doses,
                storage_unit=item.unit,
            )
            if received.ndc != product.ndc:  # the GTIN must name the product (demo invariant)
                raise ValueError(f"GTIN {gtin} read as {received.ndc}, not {product.ndc}")
        made += 1
    return made


def _expired_lot(
    clinic: Clinic,
    ma: AbstractBaseUser,
    item: Stocked,
    product: codes.NdcProduct,
    lot: str,
    expires: dt.date,
    gtin: str,
    rng: random.Random,
) -> None:
    # Written directly: receive_lot() refuses an expired lot, rightly. This one was received
    # months ago, in date, and has expired since; it is still in the fridge, to be pulled.
    received = expires - dt.timedelta(days=rng.randint(150, 300))
    at = dt.datetime.combine(received, dt.time(10), tzinfo=timezone.get_default_timezone())
    VaccineLot.objects.create(
        clinic=clinic,
        ndc=product.ndc,
        cvx=product.cvx,
        mvx=product.mvx or "",
        product_name=product.label,
        lot_number=lot,
        expires_on=expires,
        funding=item.funding,
        doses_on_hand=item.doses,
        storage_unit=item.unit,
        received_on=received,
        gtin=gtin,
        created_by_id=ma.pk,
        created_at=at,
        updated_at=at,
    )


# -- Standing orders ---------------------------------------------------------------------------

CHILD_SCHEDULE = "CDC Child and Adolescent Immunization Schedule by Age, United States"
ADULT_SCHEDULE = "CDC Adult Immunization Schedule by Age, United States"
SCREEN = (
    "Screen with the clinic's checklist (IAC); any 'yes' goes to the provider before the dose. "
    "Give the current VIS, record the dose, observe 15 minutes."
)


@dataclass(frozen=True)
class Protocol:
    group: str  # CDSi vaccine group
    title: str
    min_age_days: int
    max_age_days: int | None
    conditions: str
    text: str


STANDING_ORDERS = (
    Protocol(
        "DTaP/Tdap/Td", "DTaP and Tdap for children and teens", 42, _days(19) - 1,
        "Children 6 weeks through 18 years due by the forecast.",
        "DTaP at 2, 4, 6 and 15-18 months and 4-6 years; Tdap at 11-12 years; catch-up by the "
        f"schedule's catch-up table; from 7 years Tdap, not DTaP ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "HepB", "Hepatitis B for children and teens", 0, _days(19) - 1,
        "Birth through 18 years due by the forecast.",
        "Birth dose, then at 1-2 and 6-18 months (a combination vaccine may make four doses); "
        f"unvaccinated children and teens catch up ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Polio", "Polio (IPV) for children and teens", 42, _days(18) - 1,
        "Children 6 weeks through 17 years due by the forecast.",
        f"IPV at 2, 4 and 6-18 months and 4-6 years; the last dose at 4 years or older and 6 "
        f"months after the one before ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Hib", "Hib for children under 5", 42, _days(5) - 1,
        "Healthy children 6 weeks through 59 months due by the forecast.",
        "PRP-OMP (PedvaxHIB) at 2 and 4 months, PRP-T (ActHIB) at 2, 4 and 6 months, a booster "
        f"at 12-15 months; catch-up by the catch-up table ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Pneumococcal", "Pneumococcal conjugate (PCV) for children under 5", 42, _days(5) - 1,
        "Healthy children 6 weeks through 59 months due by the forecast; risk conditions: "
        "the provider.",
        f"PCV15 or PCV20 at 2, 4, 6 and 12-15 months; catch-up through 59 months "
        f"({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Rotavirus", "Rotavirus for infants", 42, 240,
        "Infants 6 weeks through 8 months 0 days due by the forecast.",
        "RV1 (Rotarix) at 2 and 4 months, RV5 (RotaTeq) at 2, 4 and 6 months, by mouth; dose 1 "
        f"no later than 14 weeks 6 days, no dose after 8 months 0 days ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "MMR", "MMR for children and teens", 365, _days(19) - 1,
        "Children 12 months through 18 years due by the forecast; not in pregnancy or severe "
        "immunosuppression.",
        "MMR (or MMRV) at 12-15 months and 4-6 years; live vaccine: the same day as other live "
        f"vaccines or 28 days apart ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Varicella", "Varicella for children and teens", 365, _days(19) - 1,
        "Children 12 months through 18 years without evidence of immunity, due by the forecast.",
        "VAR (or MMRV) at 12-15 months and 4-6 years; live vaccine: the same day as other live "
        f"vaccines or 28 days apart ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "HepA", "Hepatitis A for children and teens", 365, _days(19) - 1,
        "Children 12 months through 18 years due by the forecast.",
        f"Two doses 6 months apart from 12-23 months; catch-up through 18 years "
        f"({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Influenza", "Influenza for children and teens", 180, _days(19) - 1,
        "Children 6 months through 18 years, every season.",
        "Every season from 6 months; two doses 4 weeks apart for children 6 months-8 years "
        "who have not had two doses before; no egg allergy precaution beyond the usual "
        f"({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "HPV", "HPV for 9 through 26 years", _days(9), _days(27) - 1,
        "Patients 9 through 26 years due by the forecast; not in pregnancy.",
        "Routine at 11-12 years (from 9); two doses 6-12 months apart when started before 15, "
        f"three (0, 1-2, 6 months) from 15 years ({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Meningococcal", "MenACWY for teens", _days(11), _days(19) - 1,
        "Teens 11 through 18 years due by the forecast; risk conditions: the provider.",
        f"MenACWY at 11-12 years and a booster at 16 years; catch-up through 18 years "
        f"({CHILD_SCHEDULE}).",
    ),
    Protocol(
        "Influenza", "Influenza for adults", _days(19), None,
        "Adults 19 years and older, every season.",
        "One dose every season; from 65 years a high-dose, adjuvanted or recombinant vaccine "
        f"({ADULT_SCHEDULE}).",
    ),
    Protocol(
        "DTaP/Tdap/Td", "Td/Tdap for adults", _days(19), None,
        "Adults 19 years and older due by the forecast.",
        "Tdap once if never given, then Td or Tdap every 10 years; Tdap in every pregnancy at "
        f"27-36 weeks ({ADULT_SCHEDULE}).",
    ),
    Protocol(
        "Zoster", "Recombinant zoster (Shingrix) from 50", _days(50), None,
        "Adults 50 years and older due by the forecast.",
        "RZV, two doses 2-6 months apart, also after shingles or the live zoster vaccine "
        f"({ADULT_SCHEDULE}).",
    ),
    Protocol(
        "Pneumococcal", "Pneumococcal conjugate for adults from 50", _days(50), None,
        "Adults 50 years and older due by the forecast.",
        "PCV20 or PCV21 once; or PCV15 then PPSV23 a year later; after PPSV23 alone, a "
        f"conjugate a year later ({ADULT_SCHEDULE}).",
    ),
)  # fmt: skip


def _standing_orders(clinic: Clinic, provider: Actor, today: dt.date) -> int:
    if StandingOrder.objects.filter(clinic=clinic).exists():
        return 0
    signed = (today - dt.timedelta(days=120)).replace(day=1)  # at the yearly protocol review
    for p in STANDING_ORDERS:
        services.save_standing_order(
            actor=provider,
            clinic_id=clinic.pk,
            vaccine_group=p.group,
            title=p.title,
            protocol=f"{p.text} {SCREEN}",
            min_age_days=p.min_age_days,
            max_age_days=p.max_age_days,
            conditions=p.conditions,
            effective_from=signed,
        )
    return len(STANDING_ORDERS)


# -- Histories ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One past dose as the MA enters it."""

    cvx: str
    on: dt.date
    source: str
    detail: str


@dataclass(frozen=True)
class Products:
    """What a clinic's children get (what it stocks)."""

    hib: str
    hib_primary: int  # doses before the booster: PedvaxHIB 2, ActHIB 3
    pcv: str
    rv: str
    rv_doses: int
    menacwy: str


PRODUCTS = {
    "north": Products(hib="49", hib_primary=2, pcv="216", rv="116", rv_doses=3, menacwy="203"),
    "south": Products(hib="48", hib_primary=3, pcv="215", rv="119", rv_doses=2, menacwy="136"),
}
ON_TIME, LATE, STOPPED, DECLINES = "on time", "late", "stopped", "declines"
# Share of the children by pace (the rest: DECLINES), and of those with early 12-month doses.
PACE = ((ON_TIME, 0.55), (LATE, 0.2), (STOPPED, 0.15))
EARLY_12_MONTHS = 0.1
FLU_SHARE = {ON_TIME: 0.6, LATE: 0.4, STOPPED: 0.1, DECLINES: 0.0}
SCHOOL_RECORD_SHARE = 0.4  # adults whose childhood doses came from a school record
# Minimum days from the series' previous dose, where a visit could come sooner (HepA, HPV).
MIN_GAP = {"83": 183, "165": 168}
REGISTRY = (Immunization.Source.REGISTRY, "I-CARE (Illinois immunization registry)")


def _whose(clinic: Clinic, today: dt.date, every_patient: bool) -> tuple[list[Patient], set[int]]:
    """The patients given a history, and of them those on today's schedule."""
    start = dt.datetime.combine(today, dt.time.min, tzinfo=timezone.get_default_timezone())
    todays = set(
        Encounter.objects.filter(
            clinic=clinic, period_start__gte=start, period_start__lt=start + dt.timedelta(days=1)
        )
        .exclude(stage__in=(Stage.CANCELLED, Stage.NO_SHOW))
        .values_list("patient_id", flat=True)
    )
    featured = Q(pk__in=[])
    for f in FEATURED:
        if f["clinic"] == clinic.code:
            featured |= Q(given=f["given"], family=f["family"])
    patients = list(Patient.objects.filter(clinic=clinic).order_by("public_id"))
    chosen_featured = set(
        Patient.objects.filter(featured, clinic=clinic).values_list("pk", flat=True)
    )
    adult = today - dt.timedelta(days=_days(ADULT_YEARS))
    chosen = [
        p
        for p in patients
        if every_patient
        or p.pk in todays
        or p.pk in chosen_featured
        or _rng(p.public_id, "sample").random()
        < (CHILD_SAMPLE if p.birth_date > adult else ADULT_SAMPLE)
    ]
    return chosen, todays


def _histories(
    clinic: Clinic, actor: Actor, today: dt.date, done: Entered, every_patient: bool
) -> None:
    patients, todays = _whose(clinic, today, every_patient)
    entered = set(
        Immunization.objects.filter(patient__clinic=clinic).values_list("patient_id", flat=True)
    )
    wells: dict[int, list[dt.date]] = {}
    for patient_id, start in Encounter.objects.filter(
        clinic=clinic, stage=Stage.DONE, visit_type__icontains="well"
    ).values_list("patient_id", "period_start"):
        wells.setdefault(patient_id, []).append(clock.localtime(start).date())
    last_day = min(today, clock.today())
    for patient in patients:
        if patient.pk in entered:
            continue
        # Today's 4-month-old is kept to the schedule: her 4-month doses are due at this visit.
        days_old = (today - patient.birth_date).days
        on_time = patient.pk in todays and FOUR_MONTHS[0] <= days_old <= FOUR_MONTHS[1]
        plan = plan_history(
            patient, today, clinic.code, sorted(wells.get(patient.pk, ())), on_time=on_time
        )
        written = 0
        for dose in plan:
            if dose.on > last_day:  # the service refuses dates after the clock's today
                continue
            try:
                services.record_historical(
                    actor=actor,
                    patient=patient,
                    cvx=dose.cvx,
                    occurred_on=dose.on,
                    source=dose.source,
                    source_detail=dose.detail,
                )
            except ValidationError as exc:
                done.refusals.append(f"{patient.public_id} {dose.cvx} {dose.on}: {exc.messages}")
                continue
            written += 1
        done.doses += written
        done.patients += written > 0


def plan_history(
    patient: Patient,
    today: dt.date,
    clinic_code: str,
    well_visits: Sequence[dt.date] = (),
    *,
    on_time: bool = False,
) -> list[Planned]:
    """The patient's past doses, in date order (pure: the same patient and day, the same plan).
    `on_time`: a child kept to the schedule (today's 4-month-old)."""
    rng = _rng(patient.public_id)
    years = (today - patient.birth_date).days / YEAR
    doses: list[Planned] = []
    pace = ON_TIME
    if years < CHILD_RECORDS_UNTIL_YEARS:
        pace, schedule = _child(patient, today, PRODUCTS[clinic_code], well_visits, rng, on_time)
        doses += schedule
    if years >= ADULT_YEARS:
        doses += _adult(patient, today, rng, years)
    else:
        doses += _child_flu(patient, today, rng, pace)
    seen: set[tuple[str, dt.date]] = set()
    unique = []
    for dose in sorted(doses, key=lambda d: (d.on, d.cvx)):
        if (dose.cvx, dose.on) not in seen:
            seen.add((dose.cvx, dose.on))
            unique.append(dose)
    return unique


def _source(
    patient: Patient, on: dt.date, rng: random.Random, earlier: str, *, pharmacy: bool = False
) -> tuple[str, str]:
    if pharmacy and rng.random() < 0.4:
        return Immunization.Source.OTHER_PROVIDER, "retail pharmacy"
    if on >= clock.localtime(patient.created_at).date():
        return REGISTRY
    other_language = patient.preferred_language not in ("", "en")
    if earlier == "pediatrician" and other_language and rng.random() < 0.5:
        return Immunization.Source.PARENT_RECORD, "parent's vaccination card"
    return Immunization.Source.OTHER_PROVIDER, f"previous {earlier}"


def _child_visits(rng: random.Random, p: Products) -> list[tuple[str, int, tuple[str, ...]]]:
    """(name, target age in days, vaccines) of the schedule's vaccine visits. Symbols (hib,
    pcv, rv, menacwy) name the clinic's product, resolved by the date (_resolve)."""
    four_to_six = _days(4) + rng.randint(0, 500)
    eleven = _days(11) + rng.randint(0, 330)
    mmrv = rng.random() < 0.4
    six_months = ("110", "pcv") + ("hib",) * (p.hib_primary == 3) + ("rv",) * (p.rv_doses == 3)
    return [
        ("birth", 0, ("08",)),
        ("2 months", 61, ("110", "hib", "pcv", "rv")),
        ("4 months", 122, ("110", "hib", "pcv", "rv")),
        ("6 months", 183, six_months),
        ("12 months", 365, ("03", "21", "83", "pcv")),
        ("15 months", 456, ("hib", "20")),
        ("18 months", 548, ("83",)),
        ("4-6 years", four_to_six, ("130", "94") if mmrv else ("130", "03", "21")),
        ("11-12 years", eleven, ("115", "menacwy", "165")),
        ("HPV dose 2", eleven + rng.randint(183, 330), ("165",)),
        ("16 years", _days(16) + rng.randint(0, 200), ("menacwy",)),
    ]


def _resolve(symbol: str, on: dt.date, age_days: int, p: Products, rv_given: int) -> list[str]:
    """The CVX codes a scheduled vaccine was given as on that date (the products of the time;
    none when it was not given then)."""
    if symbol == "110":
        return ["110"] if on >= dt.date(2003, 1, 1) else ["20", "10", "08"]
    if symbol == "130":
        return ["130"] if on >= dt.date(2008, 7, 1) else ["20", "10"]
    if symbol == "94" and on < dt.date(2005, 10, 1):
        return ["03", "21"]
    if symbol == "hib":
        return [p.hib] if age_days < _days(5) else []
    if symbol == "pcv":
        if age_days >= _days(5) or on < dt.date(2000, 3, 1):
            return []
        return ["100" if on < dt.date(2010, 3, 1) else "133" if on < dt.date(2023, 7, 1) else p.pcv]
    if symbol == "rv":
        too_old = age_days > 240 or (rv_given == 0 and age_days > 104)
        return [] if too_old or on < dt.date(2006, 3, 1) or rv_given >= p.rv_doses else [p.rv]
    if symbol == "83" and on < dt.date(2006, 6, 1):
        return []
    if symbol == "165":
        return ["165" if on >= dt.date(2016, 1, 1) else "62"]
    if symbol == "menacwy":
        return ["114" if on < dt.date(2021, 1, 1) else p.menacwy]
    if symbol == "115" and on < dt.date(2005, 7, 1):
        return ["09"]
    return [symbol]


def _snap(on: dt.date, earliest: dt.date, visits: Sequence[dt.date]) -> dt.date:
    """The well-child visit near the planned day, never before `earliest`."""
    near = [v for v in visits if earliest <= v and abs((v - on).days) <= SNAP_DAYS]
    return min(near, key=lambda v: (abs((v - on).days), v), default=on)


def _child(
    patient: Patient,
    today: dt.date,
    p: Products,
    well_visits: Sequence[dt.date],
    rng: random.Random,
    on_time: bool,
) -> tuple[str, list[Planned]]:
    """The child's pace and doses by the schedule."""
    birth = patient.birth_date
    roll = rng.random()
    pace = DECLINES
    for name, share in PACE:
        if roll < share:
            pace = name
            break
        roll -= share
    pace = ON_TIME if on_time else pace
    early = not on_time and rng.random() < EARLY_12_MONTHS
    visits = _child_visits(rng, p)
    stop_at = rng.randint(1, len(visits) - 2) if pace == STOPPED else len(visits)
    cutoff = today - dt.timedelta(days=LEFT_FOR_THE_VISIT_DAYS)
    delay = 0
    last: dt.date | None = None
    last_of: dict[str, dt.date] = {}
    rv_given = 0
    doses: list[Planned] = []
    for index, (name, age, symbols) in enumerate(visits[:stop_at]):
        if pace == LATE and index > 0 and rng.random() < 0.5:
            delay += rng.choice((14, 30, 45, 60, 90, 120))
        target = birth + dt.timedelta(days=age + delay)
        on = target + dt.timedelta(days=0 if index == 0 else rng.randint(0, 14))
        if name == "12 months" and early:
            on = birth + dt.timedelta(days=365 - rng.randint(8, 20))  # before the first birthday
        elif index > 0:
            on = _snap(on, target, well_visits)
        if last is not None and index > 0:
            on = max(on, last + dt.timedelta(days=28))
        for symbol in symbols:
            if symbol in MIN_GAP and symbol in last_of:
                on = max(on, last_of[symbol] + dt.timedelta(days=MIN_GAP[symbol]))
        if on >= today or (index > 0 and on > cutoff):
            break  # left for the next visit (the visits come in age order)
        source, detail = (
            (Immunization.Source.OTHER_PROVIDER, "birth hospital")
            if index == 0
            else _source(patient, on, rng, "pediatrician")
        )
        age_days = (on - birth).days
        for symbol in symbols:
            if pace == DECLINES and (symbol == "165" or (index == 0 and rng.random() < 0.5)):
                continue
            for cvx in _resolve(symbol, on, age_days, p, rv_given):
                doses.append(Planned(cvx, on, source, detail))
                rv_given += symbol == "rv"
            last_of[symbol] = on
        last = on
    return pace, doses


def _season_starts(today: dt.date, seasons: int) -> list[int]:
    current = today.year if today.month >= 8 else today.year - 1
    return list(range(current - seasons + 1, current + 1))


def _flu_cvx(season: int, years: float, rng: random.Random) -> str:
    if years >= 65:
        return rng.choice(("197", "205")) if season <= 2023 else rng.choice(("135", "168"))
    return "150" if season <= 2023 else "140"


def _child_flu(patient: Patient, today: dt.date, rng: random.Random, pace: str) -> list[Planned]:
    """Influenza in the last three seasons, by the child's pace; two doses 4 weeks apart in a
    young child's first season."""
    cutoff = today - dt.timedelta(days=LEFT_FOR_THE_VISIT_DAYS)
    flu: list[Planned] = []
    for season in _season_starts(today, 3):
        on = dt.date(season, 9, 15) + dt.timedelta(days=rng.randint(0, 75))
        age_days = (on - patient.birth_date).days
        if rng.random() >= FLU_SHARE[pace] or age_days < 183 or on > cutoff:
            continue
        source, detail = _source(patient, on, rng, "pediatrician", pharmacy=age_days > _days(9))
        flu.append(Planned(_flu_cvx(season, 0, rng), on, source, detail))
        if len(flu) == 1 and age_days < _days(2):
            second = on + dt.timedelta(days=rng.randint(28, 42))
            if second <= cutoff:
                flu.append(Planned(_flu_cvx(season, 0, rng), second, source, detail))
    return flu


def _adult(patient: Patient, today: dt.date, rng: random.Random, years: float) -> list[Planned]:
    birth = patient.birth_date
    doses: list[Planned] = []

    def at(age_years: float, spread_days: int = 0) -> dt.date:
        return birth + dt.timedelta(days=_days(age_years) + rng.randint(0, spread_days))

    def add(cvx: str, on: dt.date, *, pharmacy: bool = False, school: bool = False) -> None:
        if not birth <= on < today:
            return
        if school:
            doses.append(Planned(cvx, on, Immunization.Source.SCHOOL, "school health record"))
            return
        source, detail = _source(patient, on, rng, "primary care practice", pharmacy=pharmacy)
        doses.append(Planned(cvx, on, source, detail))

    if years >= CHILD_RECORDS_UNTIL_YEARS:
        if birth.year >= 1957 and rng.random() < SCHOOL_RECORD_SHARE:
            for age_months in (2, 4, 6, 18):
                add("01", at(age_months / 12, 20), school=True)
            add("01", at(4, 600), school=True)
            add("09", at(14, 600), school=True)
            mmr = at(1.25, 60)
            if mmr >= dt.date(1971, 6, 1):
                add("03", mmr, school=True)
                second = at(11, 300) if birth.year < 1985 else at(4, 600)
                if second >= dt.date(1989, 12, 1):
                    add("03", second, school=True)
        if rng.random() >= 0.15:  # the last tetanus booster, up to 14 years ago
            last = today - dt.timedelta(days=rng.randint(60, 14 * 365))
            add("115" if last >= dt.date(2005, 7, 1) else "09", last)
            if rng.random() < 0.4:
                add("113", last - dt.timedelta(days=rng.randint(3650, 4200)))
    share = 0.75 if years >= 65 else 0.5 if years >= 50 else 0.3
    for season in _season_starts(today, 3):
        if rng.random() < share:
            on = dt.date(season, 9, 10) + dt.timedelta(days=rng.randint(0, 80))
            add(_flu_cvx(season, years, rng), on, pharmacy=True)
    if years >= 50:
        start = max(birth + dt.timedelta(days=_days(50)), dt.date(2018, 3, 1))
        roll = rng.random()
        span = (today - dt.timedelta(days=60) - start).days
        if span > 0 and roll < 0.57:
            first = start + dt.timedelta(days=rng.randint(0, span))
            add("187", first, pharmacy=True)
            if roll < 0.45:  # the series completed; else dose 2 is overdue
                add("187", first + dt.timedelta(days=rng.randint(60, 180)), pharmacy=True)
    _pneumococcal(birth, today, rng, years, add)
    return doses


def _pneumococcal(
    birth: dt.date,
    today: dt.date,
    rng: random.Random,
    years: float,
    add: Callable[[str, dt.date], None],
) -> None:
    roll = rng.random()
    pcv20 = dt.date(2021, 10, 20)  # ACIP: PCV20 for adults
    if years >= 65:
        turned = birth + dt.timedelta(days=_days(65))
        if roll < 0.55:
            start = max(turned, pcv20)
            if (today - start).days > 30:
                add("216", start + dt.timedelta(days=rng.randint(0, (today - start).days - 1)))
        elif roll < 0.8 and turned < pcv20 - dt.timedelta(days=800):
            first = turned + dt.timedelta(days=rng.randint(0, 400))
            add("133", first)
            add("33", first + dt.timedelta(days=rng.randint(365, 500)))
    elif years >= 50 and roll < 0.2:
        start = max(birth + dt.timedelta(days=_days(50)), dt.date(2024, 10, 23))  # ACIP: 50+
        if (today - start).days > 30:
            add("216", start + dt.timedelta(days=rng.randint(0, (today - start).days - 1)))
