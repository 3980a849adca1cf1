"""Collecting a requisition's specimens: one per container, each with its accession and its
"collected" custody event; the two identifiers; no more than two attempts per collector
(CLSI GP41); problems and fasting; the methods the containers allow; timed draws; "unable to
collect"; and nothing collected twice (a double submit, even two at once)."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.access.actor import Actor
from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.core.testing import make_cast, race
from medassist.labs.models import CustodyEvent, LabOrder, LabRequisition, Specimen
from medassist.labs.services import orders as services
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def refusal(excinfo) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    name, errors = next(iter(excinfo.value.error_dict.items()))
    return name, errors[0].code


def collect(cast, requisition, user=None, **kw):  # type: ignore[no-untyped-def]
    return services.collect_specimens(
        actor=Actor.for_user(user or cast.alice),
        requisition=requisition,
        collection=f.collection(requisition.patient, **kw),
    )


def unable(cast, requisition, user=None, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("reason", "No suitable vein")
    return services.record_not_collected(
        actor=Actor.for_user(user or cast.alice), requisition=requisition, **kw
    )


@pytest.fixture
def patient(cast):  # type: ignore[no-untyped-def]
    return make_patient(cast.north, family="Rivera", given="Maria")


def nothing_collected(requisition) -> bool:  # type: ignore[no-untyped-def]
    return (
        not Specimen.objects.filter(requisition=requisition).exists()
        and not CustodyEvent.objects.exists()
        and set(requisition.orders.values_list("stage", flat=True)) == {"to_collect"}
    )


def test_one_specimen_per_container_in_the_order_of_draw_each_with_its_accession(cast, patient):
    requisition = f.order(cast, patient, ("CBC", "CMP", "LIPID", "TSH", "UA"))
    at = clock.now()
    done = collect(cast, requisition, collected_at=at, body_site="  Left antecubital ")
    specimens = done.specimens
    assert [s.container for s in specimens] == ["gold_sst", "lavender", "urine_cup"]
    gold, lavender, cup = specimens
    assert {o.test.lab_code for o in gold.orders.all()} == {"CMP", "LIPID", "TSH"}
    assert {o.test.lab_code for o in lavender.orders.all()} == {"CBC"}
    for s in specimens:
        s.refresh_from_db()
        assert re.fullmatch(r"NORTH-S\d{7}", s.accession) and len(s.accession) <= 20
        assert s.accession == f"NORTH-S{s.pk:07d}"
        assert (s.status, s.collected_at, s.collected_by) == ("collected", at, cast.alice)
        assert s.identifiers_confirmed == ["name", "birth_date"]
        event = s.custody.get()
        assert (event.step, event.at, event.by) == ("collected", at, cast.alice)
    gold.refresh_from_db()
    cup.refresh_from_db()
    assert (gold.method, gold.body_site, gold.attempts, gold.specimen_type) == (
        "VENIP",
        "Left antecubital",
        1,
        "SER",
    )
    assert (cup.method, cup.body_site, cup.specimen_type) == ("CLEAN", "", "UR")
    assert (
        gold.custody.get().detail == "Venipuncture, Left antecubital, 1 attempt; 3 mL for 3 tests"
    )
    assert set(requisition.orders.values_list("stage", flat=True)) == {"collected"}
    assert (
        AuditEvent.objects.filter(
            entity_type="Specimen", action=Action.CREATE, patient_id=patient.pk
        ).count()
        == 3
    )
    assert len({s.accession for s in specimens}) == 3


def test_the_patient_is_identified_by_name_and_date_of_birth(cast, patient):
    requisition = f.order(cast, patient, ("CMP",))
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, confirm_name=False)
    assert refusal(excinfo) == ("confirm_name", "identity")
    assert "confirm it is Maria Rivera" in str(excinfo.value)
    for wrong in (dt.date(1980, 4, 3), None):
        with pytest.raises(ValidationError) as excinfo:
            collect(cast, requisition, confirm_birth_date=wrong)
        assert refusal(excinfo) == ("confirm_birth_date", "wrong_patient")
        assert "does not match this patient's record" in str(excinfo.value)
    assert nothing_collected(requisition)


def test_no_more_than_two_attempts_per_collector(cast, patient):
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, attempts=3)
    assert refusal(excinfo) == ("attempts", "too_many_attempts")
    assert "CLSI GP41: no more than 2 venipuncture attempts per collector" in str(excinfo.value)
    assert nothing_collected(requisition)
    # Alice tries twice and fails: a third stick by her is refused, by anyone else allowed.
    unable(cast, requisition, attempts=2)
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, attempts=1)
    assert refusal(excinfo) == ("attempts", "too_many_attempts")
    assert "2 earlier and 1 now by you" in str(excinfo.value)
    done = collect(cast, requisition, user=cast.bob, attempts=1)
    assert {s.collected_by for s in done.specimens} == {cast.bob}


def test_attempts_are_counted_per_failed_draw_not_per_tube(cast, patient):
    requisition = f.order(cast, patient, ("CMP", "CBC", "PT"))  # three tubes
    unable(cast, requisition, attempts=1)
    assert Specimen.objects.filter(status="not_collected").count() == 3
    done = collect(cast, requisition, attempts=1)  # her second attempt: allowed
    assert len(done.specimens) == 3


def test_problems_are_recorded_and_unable_to_collect_is_its_own_path(cast, patient):
    requisition = f.order(cast, patient, ("CMP",))
    for bad in (["unable_to_collect"], ["refused"], ["nonsense"]):
        with pytest.raises(ValidationError) as excinfo:
            collect(cast, requisition, problems=bad)
        assert refusal(excinfo) == ("problems", "problem")
    done = collect(cast, requisition, problems=["hemolysis_risk", "hematoma", "hematoma"])
    specimen = done.specimens[0]
    assert specimen.problems == ["hemolysis_risk", "hematoma"]
    assert "problems: hemolysis_risk, hematoma" in specimen.custody.get().detail


def test_fasting_is_asked_and_a_patient_who_ate_is_collected_with_the_problem(cast, patient):
    requisition = f.order(cast, patient, ("LIPID", "CBC"))
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, fasting_hours_reported=None)
    assert refusal(excinfo) == ("fasting_hours_reported", "fasting_unknown")
    assert "Lipid panel needs 12 h of fasting" in str(excinfo.value)
    done = collect(cast, requisition, fasting_hours_reported=4)
    gold, lavender = done.specimens
    assert gold.problems == ["not_fasting"] and lavender.problems == []
    assert gold.fasting_hours_reported == 4
    assert done.warnings == [
        "Not fasting: the patient last ate 4 h ago; Lipid panel needs 12 h. Collected with the "
        "problem recorded: tell the provider, who decides whether to use the result or recollect."
    ]


def test_a_patient_who_fasted_long_enough_has_no_problem(cast, patient):
    done = collect(cast, f.order(cast, patient, ("LIPID",)), fasting_hours_reported=12)
    assert done.specimens[0].problems == [] and done.warnings == []


def test_the_method_must_suit_the_containers(cast, patient):
    cases = [
        (("CMP",), {"method": ""}, ("method", "method")),
        (("PT",), {"method": "CAP"}, ("method", "capillary_not_allowed")),
        (("BCX",), {"method": "CAP"}, ("method", "capillary_not_allowed")),
        (("UA",), {"urine_method": ""}, ("urine_method", "method")),
        (("UCX",), {"urine_method": "RANDU"}, ("urine_method", "clean_catch")),
    ]
    for codes, changes, expected in cases:
        requisition = f.order(cast, make_patient(cast.north, family="M" + codes[0]), codes)
        with pytest.raises(ValidationError) as excinfo:
            collect(cast, requisition, **changes)
        assert refusal(excinfo) == expected, codes
    # A finger stick suits a CBC (and the tubes follow GP42); a random urine suits a UA.
    cbc = collect(cast, f.order(cast, patient, ("CBC", "CMP")), method="CAP").specimens
    assert [s.container for s in cbc] == ["lavender", "gold_sst"]
    assert {s.method for s in cbc} == {"CAP"}
    ua = collect(cast, f.order(cast, patient, ("UA",)), urine_method="RANDU").specimens
    assert ua[0].method == "RANDU"
    swab = collect(cast, f.order(cast, patient, ("THRCX",)), method="").specimens
    assert (swab[0].method, swab[0].attempts) == ("SWA", 1)


def test_the_collection_time_is_not_in_the_future_nor_before_the_order(cast, patient):
    requisition = f.order(cast, patient, ("CMP",))
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, collected_at=clock.now() + dt.timedelta(minutes=10))
    assert refusal(excinfo) == ("collected_at", "future")
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition, collected_at=requisition.ordered_at - dt.timedelta(hours=1))
    assert refusal(excinfo) == ("collected_at", "before_order")
    assert nothing_collected(requisition)


def test_a_timed_draw_is_not_collected_before_its_time(cast, patient, monkeypatch):
    start = clock.now()
    requisition = f.order(cast, patient, ("PT",), collect_not_before=start + dt.timedelta(hours=2))
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, requisition)
    assert refusal(excinfo) == ("collected_at", "too_early")
    assert "is not to be collected before" in str(excinfo.value)
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(hours=2, minutes=1))
    assert len(collect(cast, requisition).specimens) == 1


def test_unable_to_collect_records_each_container_and_the_orders_wait(cast, patient):
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    with pytest.raises(ValidationError) as excinfo:
        unable(cast, requisition, reason=" ")
    assert refusal(excinfo) == ("reason", "reason")
    with pytest.raises(ValidationError) as excinfo:
        unable(cast, requisition, problem="hematoma")
    assert refusal(excinfo) == ("problem", "problem")
    with pytest.raises(ValidationError) as excinfo:
        unable(cast, requisition, attempts=3)
    assert refusal(excinfo) == ("attempts", "too_many_attempts")
    assert nothing_collected(requisition)
    specimens = unable(cast, requisition, problem="refused", reason="Patient refused the draw")
    assert [(s.container, s.status, s.problems, s.attempts) for s in specimens] == [
        ("gold_sst", "not_collected", ["refused"], 0),
        ("lavender", "not_collected", ["refused"], 0),
    ]
    for s in specimens:
        event = s.custody.get()
        assert event.step == "not_collected" and event.by == cast.alice
        assert "Patient refused: Patient refused the draw" in event.detail
    assert set(requisition.orders.values_list("stage", flat=True)) == {"not_collected"}
    assert AuditEvent.objects.filter(
        entity_id=str(requisition.public_id), action=Action.UPDATE
    ).exists()
    # The patient changes their mind: the tests are still there to collect.
    assert len(collect(cast, requisition).specimens) == 2


def test_nothing_is_collected_twice(cast, patient):
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    collect(cast, requisition)
    for again in (lambda: collect(cast, requisition), lambda: unable(cast, requisition)):
        with pytest.raises(ValidationError) as excinfo:
            again()
        assert refusal(excinfo) == ("general", "already_collected")
        assert "already collected at" in str(excinfo.value) and "Alice Moreno" in str(excinfo.value)
    assert Specimen.objects.count() == 2
    assert CustodyEvent.objects.filter(step="collected").count() == 2


def test_a_cancelled_test_is_not_collected(cast, patient):
    requisition = f.order(cast, patient, ("CMP", "CBC"))
    cmp, cbc = requisition.orders.order_by("id")
    services.cancel_order(actor=Actor.for_user(cast.bob), order=cmp, reason="duplicate")
    done = collect(cast, requisition)
    assert [s.container for s in done.specimens] == ["lavender"]
    cmp.refresh_from_db()
    assert cmp.stage == "cancelled"
    everything = f.order(cast, make_patient(cast.north, family="Other"), ("TSH",))
    services.cancel_order(
        actor=Actor.for_user(cast.bob), order=everything.orders.get(), reason="not needed"
    )
    with pytest.raises(ValidationError) as excinfo:
        collect(cast, everything)
    assert refusal(excinfo) == ("general", "cancelled")


def test_only_staff_who_collect_at_the_clinic_record_a_collection(cast, patient):
    requisition = f.order(cast, patient, ("CMP",))
    for user in (cast.gwen, cast.dana, cast.carol):
        with pytest.raises(PermissionDenied):
            collect(cast, requisition, user=user)
        with pytest.raises(PermissionDenied):
            unable(cast, requisition, user=user)
    assert nothing_collected(requisition)


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_collect_once():
    cast = make_cast()
    patient = make_patient(cast.north)
    requisition = f.order(cast, patient, ("CMP", "CBC"))

    def submit():  # type: ignore[no-untyped-def]
        fresh = LabRequisition.objects.select_related("patient").get(pk=requisition.pk)
        collect(cast, fresh)

    outcomes = race(submit, submit)
    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1 and isinstance(failures[0], ValidationError), outcomes
    assert Specimen.objects.count() == 2
    assert LabOrder.objects.filter(stage="collected").count() == 2
