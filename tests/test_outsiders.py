"""Every route that takes an object id, found by walking the URL configuration: an outsider
(carol, medical assistant at South) asking for North's records gets 404, exactly as for a record
that does not exist, and nothing in the database changes.

A new route with an id parameter fails `test_every_id_route_has_a_north_object` until it is
given a North object below: no route can escape this test by being forgotten."""

import datetime as dt
import functools
import hashlib
import importlib
import re
from collections.abc import Callable

import pytest
from django.apps import apps
from django.test import Client

from medassist.access.tokens import issue_token
from medassist.fhir.tests.records import north_records
from medassist.patients.tests.factories import make_allergy, make_encounter, make_patient
from tests.routes import fill, id_routes

pytestmark = pytest.mark.django_db

# Tables that may legitimately change when anyone sends any request: the audit trail (denials
# are recorded), sessions and log-in bookkeeping.
UNWATCHED = {
    "audit.AuditEvent",
    "sessions.Session",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
    "access.ApiToken",
}


# Which North object stands in for each id parameter, by route. Returns the id to put in the URL.
def _north_patient(cast) -> str:  # type: ignore[no-untyped-def]
    return str(make_patient(cast.north, family="Northerner", given="Nell").public_id)


def _north_encounter(cast) -> str:  # type: ignore[no-untyped-def]
    patient = make_patient(cast.north, family="Northerner", given="Ned")
    return str(make_encounter(patient, cast.bob).public_id)


def _north_roomed_visit(cast) -> str:  # type: ignore[no-untyped-def]
    # Roomed, with a medication and an allergy: the worklist would accept changes from an insider.
    from medassist.rooming.tests.factories import make_medication, roomed_visit

    visit = roomed_visit(cast, family="Northerner")
    make_medication(visit.patient)
    make_allergy(visit.patient)
    return str(visit.public_id)


def _north_appointment(cast) -> str:  # type: ignore[no-untyped-def]
    from medassist.scheduling.tests.factories import make_appointment, make_types

    patient = make_patient(cast.north, family="Northerner", given="Nina")
    start = dt.datetime(2099, 11, 23, 15, 0, tzinfo=dt.UTC)
    return str(
        make_appointment(patient, cast.bob, make_types(cast.north)["follow-up"], start).public_id
    )


def _north_waitlist_entry(cast) -> str:  # type: ignore[no-untyped-def]
    from medassist.scheduling.models import WaitlistEntry
    from medassist.scheduling.tests.factories import make_types

    patient = make_patient(cast.north, family="Northerner", given="Nora")
    entry = WaitlistEntry.objects.create(
        clinic=cast.north, patient=patient, appointment_type=make_types(cast.north)["follow-up"]
    )
    return str(entry.public_id)


def _north_block(cast) -> str:  # type: ignore[no-untyped-def]
    from medassist.scheduling.tests.factories import make_block

    start = dt.datetime(2099, 11, 23, 15, 0, tzinfo=dt.UTC)
    return str(make_block(cast.north, start, start + dt.timedelta(hours=1)).public_id)


def _north_visit_at(cast, stage: str) -> str:  # type: ignore[no-untyped-def]
    """A North visit of today in `stage`, walked there by the real services, so that each
    clinic-day action would change it for an insider."""
    from medassist.core import clock
    from medassist.flow.tests.factories import make_rooms, walk_to
    from medassist.scheduling.tests.factories import make_appointment, make_types

    make_rooms(cast.north, 2)
    patient = make_patient(cast.north, family="Northerner", given="Nico")
    appointment = make_appointment(
        patient, cast.bob, make_types(cast.north)["follow-up"], clock.now()
    )
    return str(walk_to(appointment.encounter, stage, cast).public_id)


def _north_room(cast) -> str:  # type: ignore[no-untyped-def]
    from medassist.flow.tests.factories import make_rooms

    return str(make_rooms(cast.north, 1, status="dirty")[0].public_id)


def _north_alert(cast) -> str:  # type: ignore[no-untyped-def]
    # An open critical-value alert of a North visit (SpO2 85%), which an insider could acknowledge.
    from medassist.access.actor import Actor
    from medassist.rooming.tests.factories import roomed_visit
    from medassist.vitals.services import VitalsEntry, record_vitals

    visit = roomed_visit(cast, family="Northerner")
    out = record_vitals(
        actor=Actor.for_user(cast.alice),
        patient=visit.patient,
        encounter=visit,
        entry=VitalsEntry(spo2=85),
    )
    return str(out.alerts[0].public_id)


def _north_sign(cast) -> str:  # type: ignore[no-untyped-def]
    # A North vital sign with an open alert, which an insider could mark entered in error.
    from medassist.vitals.models import VitalAlert

    return str(VitalAlert.objects.get(public_id=_north_alert(cast)).sign.public_id)


def _north_fhir_record(cast, resource_type: str) -> str:  # type: ignore[no-untyped-def]
    # One North record of each FHIR type (medassist/fhir/tests/records.py).
    patient = make_patient(cast.north, family="Northerner", given="Nora")
    return north_records(cast, patient)[resource_type]


def _north_immunization(cast) -> str:  # type: ignore[no-untyped-def]
    # A North dose given at a visit (medassist/fhir/tests/immunization_records.py).
    from medassist.fhir.tests.immunization_records import north_immunization

    patient = make_patient(cast.north, family="Northerner", given="Nils")
    return north_immunization(cast, patient)


def _made_by(module: str, name: str) -> Callable:  # type: ignore[type-arg]
    # A North object made by an app's own test factory: `module.name(cast) -> public id`.
    def make(cast) -> str:  # type: ignore[no-untyped-def]
        return getattr(importlib.import_module(module), name)(cast)  # type: ignore[no-any-return]

    return make


_LABS = "medassist.labs.tests.factories"
_LAB_RESULTS = "medassist.labs.tests.result_factories"
_POCT = "medassist.poct.tests.factories"
_FHIR_LABS = "medassist.fhir.tests.lab_records"


def _north_vaccination(cast, what: str) -> str:  # type: ignore[no-untyped-def]
    # A North baby due for Hib, a lot and a standing order; for the dose routes Alice has given
    # the dose (observation open), and there is a reaction to it and the registry's error
    # answer: each immunization action would change something for an insider.
    from medassist.access.actor import Actor
    from medassist.core import clock
    from medassist.immunizations import services
    from medassist.immunizations.models import RegistrySubmission
    from medassist.immunizations.tests import factories as f

    born = clock.today() - dt.timedelta(days=122)
    patient = make_patient(cast.north, family="Northerner", given="Nadia", birth_date=born)
    f.historical(patient, "08", born)
    for cvx in ("110", "49", "216", "116"):
        f.historical(patient, cvx, born + dt.timedelta(days=61))
    orders = f.standing_orders(cast.north, cast.bob)
    lot = f.make_lot(cast.north, f.PEDVAXHIB, lot="NORTH1")
    if what == "patient":
        return str(patient.public_id)
    if what == "lot":
        return str(lot.public_id)
    alice = Actor.for_user(cast.alice)
    dose = services.administer(
        actor=alice,
        patient=patient,
        encounter=None,
        request=f.request_for(patient, lot, orders["Hib"]),
    )
    if what == "dose":
        return str(dose.public_id)
    if what == "reaction":
        reaction = services.record_reaction(
            actor=alice,
            immunization=dose,
            symptoms="fever",
            onset_at=clock.now(),
            outcome="resolved",
        )
        return str(reaction.public_id)
    submission = RegistrySubmission.objects.create(
        clinic=cast.north, immunization=dose, control_id="NORTH-AE", status="error", ack_code="AE"
    )
    return str(submission.public_id)


def _north_standing_order(cast) -> str:  # type: ignore[no-untyped-def]
    # North's active Hib standing order (of _north_vaccination's), which a provider could end.
    from medassist.immunizations.models import StandingOrder

    _north_vaccination(cast, "patient")
    return str(StandingOrder.objects.get(clinic=cast.north, vaccine_group="Hib").public_id)


def _north_indication(cast) -> str:  # type: ignore[no-untyped-def]
    # An active condition (asplenia) of a North patient, which an insider could end.
    from medassist.access.actor import Actor
    from medassist.immunizations import services

    patient = make_patient(cast.north, family="Northerner", given="Ines")
    indication = services.record_indication(
        actor=Actor.for_user(cast.alice), patient=patient, code="160"
    )
    return str(indication.public_id)


NORTH_OBJECTS: list[tuple[re.Pattern[str], Callable]] = [
    (re.compile(r"^schedule/appointments/<uuid:appointment_id>/"), _north_appointment),
    (re.compile(r"^schedule/waitlist/<uuid:entry_id>/"), _north_waitlist_entry),
    (re.compile(r"^schedule/blocks/<uuid:block_id>/"), _north_block),
    (re.compile(r"^rooming/<uuid:visit_id>/"), _north_roomed_visit),
    *(
        (
            re.compile(rf"^flow/visits/<uuid:visit_id>/{action}"),
            functools.partial(_north_visit_at, stage=stage),
        )
        for action, stage in (
            ("check-in/", "scheduled"),
            ("room/", "arrived"),
            ("take/", "ready_for_provider"),
            ("to-checkout/", "with_provider"),
            ("checkout/", "ready_for_checkout"),
            ("after-visit-summary.pdf", "done"),
        )
    ),  # fmt: skip
    (re.compile(r"^flow/rooms/<uuid:room_id>/"), _north_room),
    (re.compile(r"^patients/<uuid:patient_id>/"), _north_patient),
    (re.compile(r"^vitals/patients/<uuid:patient_id>/"), _north_patient),
    (re.compile(r"^vitals/alerts/<uuid:alert_id>/"), _north_alert),
    (re.compile(r"^vitals/signs/<uuid:sign_id>/"), _north_sign),
    *(
        (re.compile(rf"^immunizations/{prefix}"), functools.partial(_north_vaccination, what=what))
        for prefix, what in (
            ("patients/<uuid:patient_id>/", "patient"),
            ("doses/<uuid:dose_id>/", "dose"),
            ("reactions/<uuid:reaction_id>/", "reaction"),
            ("stock/lots/<uuid:lot_id>/", "lot"),
            ("registry/<uuid:submission_id>/", "submission"),
        )
    ),
    (re.compile(r"^immunizations/standing-orders/<uuid:order_id>/"), _north_standing_order),
    (re.compile(r"^immunizations/conditions/<uuid:indication_id>/"), _north_indication),
    *(
        (re.compile(rf"^{prefix}"), _made_by(module, name))
        for prefix, module, name in (
            # results first: ".../<id>/results" before the orders' ".../<id>/order"
            (
                r"labs/patients/<uuid:patient_id>/(results|trends)/",
                _LAB_RESULTS,
                "north_lab_patient",
            ),
            (r"labs/reports/<uuid:report_id>/", _LAB_RESULTS, "north_report"),
            (r"labs/alerts/<uuid:alert_id>/", _LAB_RESULTS, "north_result_alert"),
            (r"labs/interface/messages/<uuid:message_id>/", _LAB_RESULTS, "north_inbound_message"),
            (r"labs/interface/orders/<uuid:message_id>/", _LABS, "north_failed_order_message"),
            (r"labs/visits/<uuid:encounter_id>/", _LABS, "north_visit"),
            (r"labs/patients/<uuid:patient_id>/order", _LABS, "north_patient"),
            (r"labs/orders/<uuid:order_id>/", _LABS, "north_order"),
            (
                r"labs/requisitions/<uuid:requisition_id>/(collect|not-collected)/",
                _LABS,
                "north_requisition",
            ),
            (
                r"labs/requisitions/<uuid:requisition_id>/labels",
                _LABS,
                "north_collected_requisition",
            ),
            (r"labs/specimens/<uuid:specimen_id>/received/", _LABS, "north_specimen_in_transit"),
            (r"labs/specimens/<uuid:specimen_id>/", _LABS, "north_specimen"),
            (r"labs/manifests/<uuid:manifest_id>/", _LABS, "north_manifest"),
            (r"labs/catalog/labs/<uuid:lab_id>/", _LABS, "north_lab"),
            (r"labs/catalog/tests/<uuid:test_id>/", _LABS, "north_test"),
            (r"fhir/R4/ServiceRequest/<(?:\w+:)?id>$", _FHIR_LABS, "north_service_request"),
            (r"fhir/R4/Specimen/<(?:\w+:)?id>$", _FHIR_LABS, "north_specimen"),
            (r"fhir/R4/DiagnosticReport/<(?:\w+:)?id>$", _FHIR_LABS, "north_diagnostic_report"),
            (r"poct/visits/<uuid:encounter_id>/", _POCT, "north_visit"),
            (r"poct/tests/<uuid:test_id>/", _POCT, "north_test"),
            (r"poct/qc-runs/<uuid:run_id>/", _POCT, "north_failed_qc_run"),
            (r"poct/kits/<uuid:lot_id>/", _POCT, "north_kit_lot"),
            (r"poct/controls/<uuid:lot_id>/", _POCT, "north_control_lot"),
        )
    ),
    (re.compile(r"^fhir/R4/Patient/<(?:\w+:)?id>$"), _north_patient),
    (re.compile(r"^fhir/R4/Encounter/<(?:\w+:)?id>$"), _north_encounter),
    (re.compile(r"^fhir/R4/Immunization/<(?:\w+:)?id>$"), _north_immunization),
    *(
        (
            re.compile(rf"^fhir/R4/{resource_type}/<(?:\w+:)?id>$"),
            functools.partial(_north_fhir_record, resource_type=resource_type),
        )
        for resource_type in (
            "AllergyIntolerance",
            "MedicationRequest",
            "Condition",
            "Appointment",
            "Observation",
            "QuestionnaireResponse",
            "Schedule",
            "Practitioner",
            "Task",
        )
    ),
]


def north_object_for(route: str) -> Callable | None:
    return next((make for pattern, make in NORTH_OBJECTS if pattern.search(route)), None)


def db_fingerprint() -> str:
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.label in UNWATCHED or model._meta.proxy:
            continue
        for row in model._default_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_every_id_route_has_a_north_object():
    missing = [r for r in id_routes() if north_object_for(r) is None]
    assert not missing, f"give these routes a North object in NORTH_OBJECTS: {missing}"


def test_the_walk_finds_the_known_id_routes():
    routes = id_routes()
    assert "patients/<uuid:patient_id>/" in routes
    assert any(r.startswith("fhir/R4/Patient/") for r in routes)


@pytest.mark.parametrize("route", id_routes())
def test_outsider_gets_404_and_nothing_changes(route, cast):
    object_id = north_object_for(route)(cast)  # type: ignore[misc]
    url = fill(route, object_id)
    if route.startswith("fhir/"):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=cast.carol)}")
    else:
        client = Client()
        client.force_login(cast.carol)
    before = db_fingerprint()

    got = {
        "GET": client.get(url).status_code,
        "POST": client.post(
            url,
            {
                "family": "Changed",
                "given": "Changed",
                "reason": "x" * 20,
                "birth_date": "2000-01-01",
                "sex": "male",
            },
        ).status_code,
        "PUT": client.put(url, "{}", content_type="application/json").status_code,
        "DELETE": client.delete(url).status_code,
    }

    assert db_fingerprint() == before, f"{route}: an outsider's request changed data"
    # 404 where the method exists; 405 merely says the method does not exist for anyone.
    assert set(got.values()) <= {404, 405}, f"{route}: {got}"
    assert 404 in got.values(), f"{route}: {got}"
    # and 404 exactly as for a record that does not exist
    missing = fill(route, "00000000-0000-4000-8000-000000000000")
    assert client.get(missing).status_code == got["GET"]
