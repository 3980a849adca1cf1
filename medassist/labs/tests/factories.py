"""Lab orders and specimens for tests: the demo's catalog (real LOINC codes), orders placed,
collected, labelled, packed and handed over through the real services.

(The results part keeps its own factories in result_factories.py.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from medassist.access.actor import Actor
from medassist.core import clock
from medassist.demo.labs import seed_catalog
from medassist.labs.models import LabRequisition, LabTest, Manifest, PerformingLab, Specimen
from medassist.labs.services import orders as services
from medassist.patients.tests.factories import make_encounter, make_patient


@dataclass
class Catalog:
    lab: PerformingLab
    tests: dict[str, LabTest]  # by the lab's code: CBC, CMP, LIPID, A1C, TSH, PT, UA, UCX, ...

    def __getitem__(self, code: str) -> LabTest:
        return self.tests[code]


def make_catalog(clinic, **kw) -> Catalog:  # type: ignore[no-untyped-def]
    lab = seed_catalog(clinic, **kw)
    return Catalog(lab, {t.lab_code: t for t in LabTest.objects.filter(lab=lab)})


def order(  # type: ignore[no-untyped-def]
    cast, patient, codes=("CMP",), *, provider=None, encounter=None, catalog=None, **kw
) -> LabRequisition:
    """One requisition for the tests of the patient's clinic's catalog (one lab)."""
    catalog = catalog or make_catalog(patient.clinic)
    kw.setdefault("diagnoses", [services.Diagnosis("Z00.00", "General adult exam")])
    placed = services.place_order(
        actor=Actor.for_user(provider or cast.bob),
        patient=patient,
        encounter=encounter,
        tests=[catalog[c] for c in codes],
        **kw,
    )
    assert len(placed) == 1
    return LabRequisition.objects.select_related("patient", "lab").get(pk=placed[0].pk)


def collection(patient, **kw) -> services.Collection:  # type: ignore[no-untyped-def]
    """What the MA enters when everything is right."""
    fields = {
        "confirm_name": True,
        "confirm_birth_date": patient.birth_date,
        "method": "VENIP",
        "urine_method": "CLEAN",
        "body_site": "Left antecubital (median cubital vein)",
        "attempts": 1,
        "fasting_hours_reported": 13,
    }
    fields.update(kw)
    return services.Collection(**fields)


def collect(cast, requisition, *, by=None, **kw) -> list[Specimen]:  # type: ignore[no-untyped-def]
    done = services.collect_specimens(
        actor=Actor.for_user(by or cast.alice),
        requisition=requisition,
        collection=collection(requisition.patient, **kw),
    )
    return done.specimens


def labelled(cast, requisition, *, by=None, **kw) -> list[Specimen]:  # type: ignore[no-untyped-def]
    """Collected and labelled."""
    collect(cast, requisition, by=by, **kw)
    return services.print_labels(actor=Actor.for_user(by or cast.alice), requisition=requisition)


def ready_to_pack(cast, requisition, **kw) -> list[Specimen]:  # type: ignore[no-untyped-def]
    """Collected, labelled and centrifuged where the test needs it."""
    specimens = labelled(cast, requisition, **kw)
    alice = Actor.for_user(cast.alice)
    for s in specimens:
        if s.specimen_type in services.SPUN_TYPES:
            services.process_specimen(actor=alice, specimen=s, spun_minutes=10)
    return list(Specimen.objects.filter(pk__in=[s.pk for s in specimens]).order_by("id"))


def packed(cast, requisition, **kw) -> Manifest:  # type: ignore[no-untyped-def]
    specimens = ready_to_pack(cast, requisition, **kw)
    return services.create_manifest(
        actor=Actor.for_user(cast.alice), lab=requisition.lab, specimens=specimens
    )


def handed(cast, requisition, *, courier="Sam Courier", **kw) -> Manifest:  # type: ignore[no-untyped-def]
    manifest = packed(cast, requisition, **kw)
    return services.hand_to_courier(
        actor=Actor.for_user(cast.alice), manifest=manifest, courier_name=courier
    )


def today_patient(cast, family="Northerner", given="Nell", **kw):  # type: ignore[no-untyped-def]
    """A North patient with a visit of today (arrived), so the worklist shows them."""
    patient = make_patient(cast.north, family=family, given=given, **kw)
    visit = make_encounter(patient, cast.bob, start=clock.now(), stage="arrived")
    return patient, visit


# -- One North object per id route (tests/test_outsiders.py, tests/test_no_server_errors.py) ------
# Each returns the public id of a North record an insider could act on at that route.


def north_patient(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/patients/<patient_id>/order/ and /orders/: a patient of a clinic with a catalog."""
    make_catalog(cast.north)
    patient, _ = today_patient(cast, given="Nell")
    return str(patient.public_id)


def north_visit(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/visits/<encounter_id>/order/: today's visit, the catalog ready."""
    make_catalog(cast.north)
    _, visit = today_patient(cast, given="Ned")
    return str(visit.public_id)


def north_order(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/orders/<order_id>/cancel/: an order awaiting collection."""
    patient, visit = today_patient(cast, given="Nora")
    requisition = order(cast, patient, ("CMP", "CBC"), encounter=visit)
    return str(requisition.orders.order_by("id").first().public_id)  # type: ignore[union-attr]


def north_requisition(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/requisitions/<requisition_id>/collect/ and /not-collected/: awaiting collection."""
    patient, visit = today_patient(cast, given="Nina")
    return str(order(cast, patient, ("CMP", "CBC"), encounter=visit).public_id)


def north_collected_requisition(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/requisitions/<requisition_id>/labels.pdf and labels.zpl: collected, to label."""
    patient, visit = today_patient(cast, given="Nico")
    requisition = order(cast, patient, ("CMP", "CBC"), encounter=visit)
    collect(cast, requisition)
    return str(requisition.public_id)


def north_specimen(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/specimens/<specimen_id>/ and /process/: a labelled SST waiting to be spun."""
    patient, visit = today_patient(cast, given="Nils")
    specimens = labelled(cast, order(cast, patient, ("CMP",), encounter=visit))
    return str(specimens[0].public_id)


def north_specimen_in_transit(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/specimens/<specimen_id>/received/: with the courier, for a lab without interface."""
    patient, visit = today_patient(cast, given="Nadia")
    manifest = handed(cast, order(cast, patient, ("CMP",), encounter=visit))
    return str(manifest.specimens.first().public_id)  # type: ignore[union-attr]


def north_manifest(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/manifests/<manifest_id>/, manifest.pdf, handoff/: packed, waiting for the courier."""
    patient, visit = today_patient(cast, given="Noel")
    return str(packed(cast, order(cast, patient, ("CMP", "CBC"), encounter=visit)).public_id)


def north_lab(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/catalog/labs/<lab_id>/: North's reference lab."""
    return str(make_catalog(cast.north).lab.public_id)


def north_test(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/catalog/tests/<test_id>/: a test of North's catalog."""
    return str(make_catalog(cast.north)["CMP"].public_id)


def later(minutes: int = 0, hours: int = 0) -> dt.datetime:
    return clock.now() + dt.timedelta(minutes=minutes, hours=hours)


def north_failed_order_message(cast) -> str:  # type: ignore[no-untyped-def]
    """labs/interface/orders/<message_id>/resend/: a new order North's manager may resend — its
    lab (with an address, nothing listening there) could not be reached, as the outbox leaves
    it after the last attempt. Its own lab: North's demo lab has no interface (receipts by hand)."""
    from decimal import Decimal

    from medassist.events.models import OutboxMessage
    from medassist.events.services import MAX_ATTEMPTS
    from medassist.labs.draw import Container
    from medassist.labs.models import OrderMessage

    lab = PerformingLab.objects.create(
        clinic=cast.north,
        name="Lakeside Reference Laboratory",
        application="LRLLIS",
        facility="LRL",
        clinic_facility=cast.north.code.upper()[:40],
        host="127.0.0.1",
        port=9,  # discard: nothing listens on the test machine, the connection is refused
        timeout_seconds=1,
    )
    test = LabTest.objects.create(
        clinic=cast.north,
        lab=lab,
        loinc="2345-7",  # Glucose [Mass/volume] in Serum or Plasma (loinc.org)
        name="Glucose",
        lab_code="001032",
        specimen_type="SER",
        container=Container.GOLD_SST,
        volume_ml=Decimal("1"),
    )
    patient, visit = today_patient(cast, given="Nestor")
    requisition = order(
        cast, patient, ("001032",), encounter=visit, catalog=Catalog(lab, {"001032": test})
    )
    message = OrderMessage.objects.get(requisition=requisition)
    OrderMessage.objects.filter(pk=message.pk).update(
        status=OrderMessage.Status.FAILED,
        attempts=MAX_ATTEMPTS,
        last_error="could not connect to 127.0.0.1:9: Connection refused",
    )
    OutboxMessage.objects.filter(kind=services.LAB_ORDER_KIND).filter(
        payload__message_id=message.pk
    ).update(status=OutboxMessage.Status.FAILED, attempts=MAX_ATTEMPTS)
    return str(message.public_id)
