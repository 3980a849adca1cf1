"""The demo's lab: a reference laboratory for each clinic with a realistic catalog, and today's
open orders for the North clinic's patients (some waiting to be drawn, some already with the
courier and waiting for results), made through the labs services as a provider and a medical
assistant would.

LOINC codes are the orderable panels and tests as loinc.org lists them (each code's page is
loinc.org/<code>/); the check digits are verified by services.orders.normalize_loinc when the
catalog is written. Specimen requirements follow the common reference-lab directories (Quest,
Labcorp): serum from a gold SST centrifuged within 2 hours (CLSI GP44: separate serum or plasma
from cells within 2 h), whole blood EDTA unspun for a CBC or HbA1c, citrate plasma for the PT
filled to the line, urine culture in a boric-acid transport tube."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic
from medassist.encounters.models import Encounter
from medassist.labs.draw import Container
from medassist.labs.models import Handling, LabTest, PerformingLab, SpecimenType
from medassist.labs.services import orders as services
from medassist.patients.models import Patient

LAB_NAME = "Riverside Reference Laboratory"
LAB_CLIA = "14D0000000"  # the demo's CLIA number (Illinois: 14), not a real laboratory's
LAB_FACILITY = "RRL"
COURIER = "Jordan Ellis (Riverside courier)"
SPIN = 120  # CLSI GP44: serum and plasma separated from the cells within 2 hours


@dataclass(frozen=True)
class CatalogTest:
    lab_code: str
    name: str
    loinc: str  # loinc.org/<loinc>/
    specimen_type: str
    container: str
    volume_ml: str
    fasting_hours: int = 0
    handling: str = Handling.ROOM_TEMPERATURE
    spin_within_minutes: int | None = None
    instructions: str = ""


S, B, P, U = SpecimenType.SERUM, SpecimenType.BLOOD, SpecimenType.PLASMA, SpecimenType.URINE

CATALOG: tuple[CatalogTest, ...] = (
    # 57021-8 "CBC W Auto Differential panel - Blood" (58410-2 is the CBC without the
    # differential).
    CatalogTest("CBC", "CBC with automated differential", "57021-8", B, Container.LAVENDER, "3.0",
                instructions="Keep at room temperature; do not refrigerate."),
    CatalogTest("CBCND", "CBC without differential", "58410-2", B, Container.LAVENDER, "3.0"),
    # 24323-8 "Comprehensive metabolic 2000 panel - Serum or Plasma"
    CatalogTest("CMP", "Comprehensive metabolic panel", "24323-8", S, Container.GOLD_SST, "1.0",
                spin_within_minutes=SPIN),
    # 24321-2 "Basic metabolic 2000 panel - Serum or Plasma": drawn in a gold SST, it is serum
    # (51990-0 is the panel in blood).
    CatalogTest("BMP", "Basic metabolic panel", "24321-2", S, Container.GOLD_SST, "1.0",
                spin_within_minutes=SPIN),
    # 24331-1 "Lipid 1996 panel - Serum or Plasma" (57698-3 is the panel with direct LDL).
    CatalogTest("LIPID", "Lipid panel", "24331-1", S, Container.GOLD_SST, "1.0", fasting_hours=12,
                spin_within_minutes=SPIN,
                instructions="Water and needed medicines only."),
    # 4548-4 "Hemoglobin A1c/Hemoglobin.total in Blood"
    CatalogTest("A1C", "Hemoglobin A1c", "4548-4", B, Container.LAVENDER, "2.0"),
    # 3016-3 "Thyrotropin [Units/volume] in Serum or Plasma"
    CatalogTest("TSH", "TSH", "3016-3", S, Container.GOLD_SST, "1.0", spin_within_minutes=SPIN),
    # 5902-2 "Prothrombin time (PT)"; the INR is reported with it.
    CatalogTest("PT", "Prothrombin time with INR", "5902-2", P, Container.LIGHT_BLUE, "2.7",
                spin_within_minutes=60,
                instructions="Fill to the line (9 parts blood to 1 citrate). With a butterfly, "
                "draw a discard tube first."),
    # 24356-8 "Urinalysis complete panel - Urine"
    CatalogTest("UA", "Urinalysis, complete", "24356-8", U, Container.URINE_CUP, "10.0",
                handling=Handling.REFRIGERATE),
    # 630-4 "Bacteria identified in Urine by Culture"
    CatalogTest("UCX", "Urine culture", "630-4", U, Container.URINE_TRANSPORT, "4.0",
                instructions="Clean-catch midstream; fill the transport tube to the line."),
    # 1558-6 "Fasting glucose [Mass/volume] in Serum or Plasma"
    CatalogTest("GLUF", "Glucose, fasting", "1558-6", P, Container.GRAY, "1.0", fasting_hours=8,
                spin_within_minutes=SPIN),
    # 62292-8 "25-Hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma"
    CatalogTest("VITD", "Vitamin D, 25-hydroxy", "62292-8", S, Container.GOLD_SST, "1.0",
                spin_within_minutes=SPIN),
    # 626-2 "Bacteria identified in Throat by Culture"
    CatalogTest("THRCX", "Throat culture", "626-2", SpecimenType.THROAT, Container.SWAB, "1.0",
                instructions="Swab both tonsillar pillars and the posterior pharynx; avoid the "
                "tongue."),
    # 600-7 "Bacteria identified in Blood by Culture"
    CatalogTest("BCX", "Blood culture", "600-7", B, Container.BLOOD_CULTURE, "20.0",
                instructions="Scrub the bottle tops; aerobic bottle first, 8-10 mL each."),
)  # fmt: skip


def seed_catalog(clinic: Clinic, *, host: str = "", port: int | None = None) -> PerformingLab:
    """The clinic's reference lab and its catalog (a second call changes nothing). Without a
    host the lab has no interface: orders are queued and the lab's receipt is entered by hand."""
    with transaction.atomic():
        lab, _ = PerformingLab.objects.get_or_create(
            clinic=clinic,
            facility=LAB_FACILITY,
            defaults={
                "name": LAB_NAME,
                "clia_number": LAB_CLIA,
                "application": "RRL-LIS",
                "clinic_facility": clinic.code.upper()[:40],
                "message_type": PerformingLab.MessageType.ORM,
                "host": host,
                "port": port,
                "pickup_hours": 4,
                "transit_hours": 24,
            },
        )
        for order, item in enumerate(CATALOG, start=1):
            LabTest.objects.get_or_create(
                clinic=clinic,
                lab=lab,
                lab_code=item.lab_code,
                defaults={
                    "loinc": services.normalize_loinc(item.loinc),
                    "name": item.name,
                    "specimen_type": item.specimen_type,
                    "container": item.container,
                    "volume_ml": Decimal(item.volume_ml),
                    "fasting_hours": item.fasting_hours,
                    "handling": item.handling,
                    "spin_within_minutes": item.spin_within_minutes,
                    "instructions": item.instructions,
                    "sort_order": order,
                },
            )
    return lab


@dataclass
class SeededOrders:
    awaiting_collection: int = 0
    with_courier: int = 0
    requisitions: int = 0


# What each of today's patients is ordered, in turn: some to draw now, some drawn and gone.
_PLANS: tuple[tuple[tuple[str, ...], bool, str], ...] = (
    (("CMP", "LIPID", "CBC"), False, "E78.5 Hyperlipidemia, unspecified"),
    (("A1C", "CMP", "TSH"), True, "E11.9 Type 2 diabetes mellitus without complications"),
    (("UA", "UCX"), False, "R30.0 Dysuria"),
    (("CBC", "TSH"), True, "R53.83 Other fatigue"),
    (("PT",), False, "Z79.01 Long term (current) use of anticoagulants"),
    (("GLUF", "A1C"), True, "R73.09 Other abnormal glucose"),
)


def seed_orders(
    clinic: Clinic,
    patients_today: Sequence[Patient | Encounter],
    provider: AbstractBaseUser,
    ma: AbstractBaseUser,
) -> SeededOrders:
    """Open orders for today's patients (given as patients, or as today's visits to attach
    the orders to): every other patient waits to be drawn; the others were drawn, labelled,
    centrifuged as needed, packed and handed to the courier, and wait for results. Made through
    the services (audited, the orders queued for the lab)."""
    lab = seed_catalog(clinic)
    tests = {t.lab_code: t for t in LabTest.objects.filter(clinic=clinic, lab=lab)}
    doctor, assistant = Actor.for_user(provider), Actor.for_user(ma)
    done = SeededOrders()
    sent = []
    for who, (codes, drawn, reason) in zip(patients_today, _PLANS, strict=False):
        visit = who if isinstance(who, Encounter) else None
        patient = who.patient if isinstance(who, Encounter) else who
        requisitions = services.place_order(
            actor=doctor,
            patient=patient,
            encounter=visit,
            tests=[tests[c] for c in codes],
            diagnoses=services.parse_diagnoses(reason),
        )
        done.requisitions += len(requisitions)
        if not drawn:
            done.awaiting_collection += 1
            continue
        for requisition in requisitions:
            fasting = max((o.test.fasting_hours for o in requisition.orders.all()), default=0)
            collected = services.collect_specimens(
                actor=assistant,
                requisition=requisition,
                collection=services.Collection(
                    confirm_name=True,
                    confirm_birth_date=patient.birth_date,
                    method="VENIP",
                    urine_method="CLEAN",
                    body_site="Left antecubital (median cubital vein)",
                    fasting_hours_reported=fasting or None,
                ),
            )
            services.print_labels(actor=assistant, requisition=requisition)
            for specimen in collected.specimens:
                if specimen.specimen_type in services.SPUN_TYPES:
                    services.process_specimen(actor=assistant, specimen=specimen, spun_minutes=10)
            sent.extend(collected.specimens)
        done.with_courier += 1
    if sent:
        manifest = services.create_manifest(actor=assistant, lab=lab, specimens=sent)
        services.hand_to_courier(actor=assistant, manifest=manifest, courier_name=COURIER)
    return done
