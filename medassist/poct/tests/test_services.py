"""The point-of-care services: the menu, kits and controls, control runs (passed or failed is
computed), corrective actions, competency, and patient tests with every lockout path enforced
by the service itself (nothing is saved when refused) and the result filed for the provider."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.labs.models import LabReport, LabResult, ResultAlert
from medassist.poct import services
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, PocTestRun, QcRun
from medassist.poct.rules import Expectation
from medassist.poct.tests import factories as f
from medassist.poct.tests.factories import fail_negative
from medassist.rooming.tests.factories import roomed_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(cast):  # type: ignore[no-untyped-def]
    return roomed_visit(cast)


def run(cast, actor_of, visit, test, lot, *, user=None, **kw):  # type: ignore[no-untyped-def]
    fields = {
        "confirm_birth_date": visit.patient.birth_date,
        "values": {a.code: "negative" for a in test.analytes},
        "internal_control_valid": True if test.internal_control else None,
    }
    fields.update(kw)
    return services.run_test(
        actor=actor_of(user or cast.alice), encounter=visit, test=test, kit_lot=lot, **fields
    )


def nothing_saved() -> bool:
    return not PocTestRun.objects.exists() and not LabReport.objects.exists()


def codes_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [r.code for r in exc.value.reasons]


# -- The menu ----------------------------------------------------------------------------------


def test_the_manager_puts_a_test_on_the_menu_from_the_catalog(cast, actor_of):
    config = services.default_config("glucose")
    test = services.configure_test(
        actor=actor_of(cast.dana), clinic_id=cast.north.pk, config=config
    )
    assert (test.loinc, test.specimen_type, test.reportable_low, test.reportable_high) == (
        "41653-7",
        "BLDC",
        Decimal("20"),
        Decimal("600"),
    )
    assert test.levels == [("low", "Level 1 (low)"), ("high", "Level 2 (high)")]
    assert test.qc_every_days == 1 and not test.internal_control
    limits = (test.reference_low, test.reference_high, test.critical_low, test.critical_high)
    assert limits == (Decimal("70"), Decimal("140"), Decimal("54"), Decimal("400"))
    assert test.limits_text == "reference 70–140 mg/dL; critical below 54 or above 400"
    assert AuditEvent.objects.filter(
        entity_type="Basic", entity_id=str(test.public_id), action=Action.CREATE
    ).exists()


def test_only_the_manager_changes_the_menu(cast, actor_of):
    with pytest.raises(PermissionDenied):
        services.configure_test(
            actor=actor_of(cast.alice),
            clinic_id=cast.north.pk,
            config=services.default_config("rapid_strep"),
        )
    assert not PocTest.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"loinc": "11268-0"}, "loinc", "The report's LOINC code for Blood glucose"),
        ({"reportable_low": None}, "reportable_low", "reportable range"),
        ({"reportable_low": Decimal("600"), "reportable_high": Decimal("20")}, "reportable_high", "below"),  # noqa: E501
        ({"control_levels": ("positive",)}, "control_levels", "level 1 (low) and level 2 (high)"),
        ({"control_levels": ()}, "control_levels", "Choose the external control levels"),
        ({"qc_every_days": 0}, "qc_every_days", "1 to 366"),
        ({"device": " "}, "device", "Name the kit"),
        ({"reference_low": None}, "reference_low", "reference interval (mg/dL), both ends"),
        ({"reference_high": None}, "reference_high", "reference interval (mg/dL), both ends"),
        ({"reference_low": Decimal("150")}, "reference_high", "low end is above its high end"),
        ({"reference_low": Decimal("70.5")}, "reference_low", "as the meter shows it (a whole number)"),  # noqa: E501
        ({"critical_low": Decimal("-1")}, "critical_low", "as the meter shows it"),
        ({"critical_high": Decimal("NaN")}, "critical_high", "as the meter shows it"),
        ({"critical_low": Decimal("70")}, "critical_low", "below the reference interval's low end (70 mg/dL)"),  # noqa: E501
        ({"critical_low": Decimal("10")}, "critical_low", "within the meter's reportable range 20–600 mg/dL"),  # noqa: E501
        ({"critical_high": Decimal("140")}, "critical_high", "above the reference interval's high end (140 mg/dL)"),  # noqa: E501
        ({"critical_high": Decimal("601")}, "critical_high", "the meter shows HI above 600"),
    ],
)  # fmt: skip
def test_a_test_configuration_is_refused_with_the_field_and_the_fix(
    cast, actor_of, changes, field, says
):
    config = services.default_config("glucose", **changes)
    with pytest.raises(ValidationError) as refused:
        services.configure_test(actor=actor_of(cast.dana), clinic_id=cast.north.pk, config=config)
    assert says in " ".join(refused.value.message_dict[field])


def test_the_clinic_sets_its_own_limits_and_may_have_no_critical_limit(cast, actor_of):
    dana = actor_of(cast.dana)
    config = services.default_config(
        "glucose",
        reference_low=Decimal("70"),
        reference_high=Decimal("99"),
        critical_low=Decimal("20"),  # the meter's own low end is allowed
        critical_high=None,
    )
    test = services.configure_test(actor=dana, clinic_id=cast.north.pk, config=config)
    assert test.limits_text == "reference 70–99 mg/dL; critical below 20"
    assert test.analytes[0].reference_text == "70-99" and test.analytes[0].critical_high is None
    assert (
        "reference 70–99 mg/dL; critical below 20"
        in AuditEvent.objects.get(entity_id=str(test.public_id)).description
    )
    a1c = services.configure_test(
        actor=dana, clinic_id=cast.north.pk, config=services.default_config("hba1c")
    )
    assert a1c.limits_text == "reference 4.0–5.6 %; no critical limits"
    strep = services.configure_test(
        actor=dana,
        clinic_id=cast.north.pk,
        config=services.default_config("rapid_strep", reference_low=Decimal("1")),
    )
    assert (strep.reference_low, strep.critical_low, strep.limits_text) == (None, None, "")


def test_the_migration_gives_tests_already_on_a_menu_the_defaults(cast):
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "medassist.poct.migrations.0002_reference_and_critical_limits"
    )
    none = {"reference_low": None, "reference_high": None}
    no_critical = {"critical_low": None, "critical_high": None}
    glucose = f.make_test(cast.north, "glucose", **none, **no_critical)
    narrow = f.make_test(
        cast.south,
        "glucose",
        reportable_low=Decimal("60"),
        reportable_high=Decimal("500"),
        **no_critical,
    )
    a1c = f.make_test(cast.north, "hba1c", reference_low=None, reference_high=None)
    strep = f.make_test(cast.north)
    migration.fill_defaults(apps, None)
    for t in (glucose, narrow, a1c, strep):
        t.refresh_from_db()
    limits = lambda t: (t.reference_low, t.reference_high, t.critical_low, t.critical_high)  # noqa: E731
    assert limits(glucose) == (Decimal("70"), Decimal("140"), Decimal("54"), Decimal("400"))
    # 54 is below a 60-500 meter's range: left for the manager to set; 400 is within it
    assert limits(narrow) == (Decimal("70"), Decimal("140"), None, Decimal("400"))
    assert limits(a1c) == (Decimal("4.0"), Decimal("5.6"), None, None)
    assert limits(strep) == (None, None, None, None)


def test_two_tests_of_one_name_and_a_changed_kind_are_refused(cast, actor_of):
    dana = actor_of(cast.dana)
    test = services.configure_test(
        actor=dana, clinic_id=cast.north.pk, config=services.default_config("rapid_strep")
    )
    with pytest.raises(ValidationError, match="already on this clinic's menu"):
        services.configure_test(
            actor=dana, clinic_id=cast.north.pk, config=services.default_config("rapid_strep")
        )
    with pytest.raises(ValidationError, match="kind cannot change"):
        services.configure_test(
            actor=dana,
            clinic_id=cast.north.pk,
            config=services.default_config("glucose"),
            test=test,
        )
    changed = services.configure_test(
        actor=dana,
        clinic_id=cast.north.pk,
        config=services.default_config("rapid_strep", qc_every_days=1, device="Sofia Strep A"),
        test=test,
    )
    assert (changed.qc_every_days, changed.device, PocTest.objects.count()) == (
        1,
        "Sofia Strep A",
        1,
    )


# -- Kits and controls -------------------------------------------------------------------------


def test_an_ma_receives_a_shipment_of_kits(cast, actor_of):
    test = f.make_test(cast.north)
    lot = services.receive_kit_lot(
        actor=actor_of(cast.alice),
        test=test,
        lot_number=" 4b21x ",
        expires_on=clock.today() + dt.timedelta(days=90),
        shipment="S-1182",
    )
    assert (lot.lot_number, lot.received_on, lot.received_by) == (
        "4B21X",
        clock.today(),
        cast.alice,
    )
    assert AuditEvent.objects.filter(entity_type="Device", entity_id=str(lot.public_id)).exists()


def test_an_expired_or_repeated_shipment_is_refused(cast, actor_of):
    test = f.make_test(cast.north)
    alice = actor_of(cast.alice)
    yesterday = clock.today() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        services.receive_kit_lot(
            actor=alice, test=test, lot_number="4B21X", expires_on=yesterday, shipment="S-1"
        )
    assert refused.value.message_dict["expires_on"] == [
        f"Kit lot 4B21X expired on {yesterday:%Y-%m-%d}: do not put it into use; return it to "
        "the supplier or discard it."
    ]
    later = clock.today() + dt.timedelta(days=30)
    services.receive_kit_lot(
        actor=alice, test=test, lot_number="4B21X", expires_on=later, shipment="S-1"
    )
    with pytest.raises(ValidationError, match="already received"):
        services.receive_kit_lot(
            actor=alice, test=test, lot_number="4B21X", expires_on=later, shipment="S-1"
        )
    # a second shipment of the same lot is its own line
    services.receive_kit_lot(
        actor=alice, test=test, lot_number="4B21X", expires_on=later, shipment="S-2"
    )
    assert KitLot.objects.filter(lot_number="4B21X").count() == 2


def test_front_desk_and_another_clinic_may_not_receive_kits(cast, actor_of):
    test = f.make_test(cast.north)
    for user in (cast.gwen, cast.carol):
        with pytest.raises(PermissionDenied):
            services.receive_kit_lot(
                actor=actor_of(user),
                test=test,
                lot_number="4B21X",
                expires_on=clock.today() + dt.timedelta(days=30),
                shipment="S-1",
            )
    assert not KitLot.objects.exists()


def test_a_control_lot_needs_what_it_must_read(cast, actor_of):
    glucose = f.make_test(cast.north, "glucose")
    later = clock.today() + dt.timedelta(days=60)
    alice = actor_of(cast.alice)
    with pytest.raises(ValidationError) as refused:
        services.receive_control_lot(
            actor=alice, test=glucose, level="low", lot_number="L1", expires_on=later, expected={}
        )
    assert "Glucose: type what the control must read" in str(refused.value)
    with pytest.raises(ValidationError, match="outside the meter's reportable range"):
        services.receive_control_lot(
            actor=alice,
            test=glucose,
            level="low",
            lot_number="L1",
            expires_on=later,
            expected={"41653-7": Expectation(low=Decimal("5"), high=Decimal("60"))},
        )
    with pytest.raises(ValidationError, match="an expired control cannot be used for QC"):
        services.receive_control_lot(
            actor=alice,
            test=glucose,
            level="low",
            lot_number="L1",
            expires_on=clock.today() - dt.timedelta(days=1),
            expected={"41653-7": Expectation(low=Decimal("36"), high=Decimal("60"))},
        )
    with pytest.raises(ValidationError, match="Choose the control's level"):
        services.receive_control_lot(
            actor=alice,
            test=glucose,
            level="positive",
            lot_number="L1",
            expires_on=later,
            expected={},
        )
    lot = services.receive_control_lot(
        actor=alice,
        test=glucose,
        level="low",
        lot_number="l1-2207",
        expires_on=later,
        expected={"41653-7": Expectation(low=Decimal("36"), high=Decimal("60"))},
    )
    assert lot.expected == {"41653-7": {"low": "36", "high": "60"}}
    assert lot.lot_number == "L1-2207"


# -- Control runs ------------------------------------------------------------------------------


@pytest.fixture
def strep(cast):  # type: ignore[no-untyped-def]
    test = f.make_test(cast.north, qc_every_days=1)
    lot = f.make_kit_lot(test, cast.alice)
    controls = f.make_control_lots(test, cast.dana)
    f.make_competency(cast.alice, test, cast.dana)
    return test, lot, controls


def test_passed_and_failed_are_computed_from_the_control_lot(cast, strep):
    test, lot, controls = strep
    runs = f.run_controls(lot, cast.alice, controls, fail=("negative",), reason="new_lot")
    by_level = {r.level: r for r in runs}
    assert by_level["positive"].passed and not by_level["negative"].passed
    assert by_level["negative"].observed == {"78012-2": "positive"}
    assert by_level["negative"].problems == [
        "Group A strep antigen: expected Negative, observed Positive"
    ]
    assert by_level["negative"].expected == controls["negative"].expected
    assert (
        AuditEvent.objects.filter(
            entity_type="Observation", description__contains="negative control lot"
        ).count()
        == 1
    )


def test_an_expired_control_lot_cannot_be_used_for_qc(cast, strep):
    test, lot, controls = strep
    ControlLot.objects.filter(pk=controls["negative"].pk).update(
        expires_on=clock.today() - dt.timedelta(days=1)
    )
    controls["negative"].refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        f.run_controls(lot, cast.alice, controls)
    assert "an expired control cannot be used for QC" in str(refused.value)
    assert not QcRun.objects.exists()  # the positive one is not kept either


def test_controls_need_a_current_competency_too(cast, strep):
    test, lot, controls = strep
    Competency.objects.all().delete()
    with pytest.raises(services.Locked) as refused:
        f.run_controls(lot, cast.alice, controls)
    assert [r.text for r in refused.value.reasons] == [
        "Alice Moreno has no competency assessment for Rapid strep: a manager records a "
        "competency assessment (Competencies page)"
    ]
    assert not QcRun.objects.exists()


def test_controls_on_an_expired_kit_lot_and_other_refusals(cast, actor_of, strep):
    test, lot, controls = strep
    alice = actor_of(cast.alice)
    entry = services.ControlEntry(controls["positive"], {"78012-2": "positive"})
    with pytest.raises(ValidationError, match="Say why"):
        services.record_controls(actor=alice, kit_lot=lot, entries=[entry], reason="because")
    with pytest.raises(ValidationError, match="One reading per control level"):
        services.record_controls(
            actor=alice, kit_lot=lot, entries=[entry, entry], reason="scheduled"
        )
    with pytest.raises(ValidationError, match="in the future"):
        services.record_controls(
            actor=alice,
            kit_lot=lot,
            entries=[entry],
            reason="scheduled",
            performed_at=clock.now() + dt.timedelta(hours=1),
        )
    other = f.make_test(cast.north, "urine_hcg")
    hcg_control = f.make_control_lots(other, cast.dana)["positive"]
    with pytest.raises(ValidationError, match="another test"):
        services.record_controls(
            actor=alice,
            kit_lot=lot,
            entries=[services.ControlEntry(hcg_control, {"2106-3": "positive"})],
            reason="scheduled",
        )
    KitLot.objects.filter(pk=lot.pk).update(expires_on=clock.today() - dt.timedelta(days=1))
    lot.refresh_from_db()
    with pytest.raises(ValidationError, match="controls on an expired lot do not qualify it"):
        services.record_controls(actor=alice, kit_lot=lot, entries=[entry], reason="scheduled")
    with pytest.raises(PermissionDenied):
        services.record_controls(
            actor=actor_of(cast.dana), kit_lot=lot, entries=[entry], reason="scheduled"
        )
    assert not QcRun.objects.exists()


def test_a_corrective_action_is_recorded_once_on_a_failed_run(cast, actor_of, strep):
    test, lot, controls = strep
    failed = fail_negative(lot, cast.alice, controls)
    passed = f.run_controls(lot, cast.alice, {"positive": controls["positive"]})[0]
    alice = actor_of(cast.alice)
    with pytest.raises(ValidationError, match="passed: it needs no corrective action"):
        services.record_corrective_action(actor=alice, run=passed, action="Nothing to do here.")
    with pytest.raises(ValidationError, match="Say what was done"):
        services.record_corrective_action(actor=alice, run=failed, action="redo")
    done = services.record_corrective_action(
        actor=alice, run=failed, action="Repeated with a new negative swab; kit stored at 20 °C."
    )
    assert (done.corrective_by, done.corrective_at is not None) == (cast.alice, True)
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_corrective_action(actor=alice, run=failed, action="Second attempt at it.")
    # the manager may record it too (but not on South's runs)
    with pytest.raises(PermissionDenied):
        services.record_corrective_action(
            actor=actor_of(cast.carol), run=failed, action="Not my clinic's run at all."
        )


# -- Competency ---------------------------------------------------------------------------------


def test_competency_six_months_in_the_first_year_then_a_year(cast, actor_of):
    test = f.make_test(cast.north)
    dana = actor_of(cast.dana)
    today = clock.today()
    first = services.record_competency(
        actor=dana, user=cast.alice, test=test, assessed_on=today, methods=["observation"]
    )
    assert first.valid_until == services.rules.add_months(today, 6) and first.first_year
    Competency.objects.filter(pk=first.pk).update(assessed_on=today - dt.timedelta(days=400))
    again = services.record_competency(
        actor=dana,
        user=cast.alice,
        test=test,
        assessed_on=today,
        methods=["observation", "samples"],
    )
    assert again.valid_until == services.rules.add_months(today, 12) and not again.first_year
    assert AuditEvent.objects.filter(entity_type="Basic", entity_id=str(again.public_id)).exists()


@pytest.mark.parametrize(
    ("who", "by", "changes", "error"),
    [
        ("alice", "alice", {}, PermissionDenied),  # an MA does not assess competency
        ("gwen", "dana", {}, "whose role at this clinic runs tests"),
        ("carol", "dana", {}, "whose role at this clinic runs tests"),
        ("dana", "dana", {}, "whose role at this clinic runs tests"),
        ("alice", "dana", {"methods": []}, "at least one method"),
        ("alice", "dana", {"methods": ["vibes"]}, "at least one method"),
        ("alice", "dana", {"assessed_on": dt.timedelta(days=1)}, "in the future"),
        ("alice", "dana", {"assessed_on": -dt.timedelta(days=31)}, "within 30 days"),
    ],
)
def test_competency_refusals(cast, actor_of, who, by, changes, error):
    test = f.make_test(cast.north)
    fields: dict[str, Any] = {"assessed_on": clock.today(), "methods": ["observation"]}
    if "assessed_on" in changes:
        fields["assessed_on"] = clock.today() + changes.pop("assessed_on")
    fields.update(changes)
    call = lambda: services.record_competency(  # noqa: E731
        actor=actor_of(getattr(cast, by)), user=getattr(cast, who), test=test, **fields
    )
    if error is PermissionDenied:
        with pytest.raises(PermissionDenied):
            call()
    else:
        with pytest.raises(ValidationError, match=error):
            call()
    assert not Competency.objects.exists()


def test_several_tests_are_assessed_together_or_not_at_all(cast, actor_of):
    strep, glucose = f.make_test(cast.north), f.make_test(cast.north, "glucose")
    south = f.make_test(cast.south, "urine_hcg")
    with pytest.raises(PermissionDenied):
        services.record_competencies(
            actor=actor_of(cast.dana),
            user=cast.alice,
            tests=[strep, glucose, south],
            assessed_on=clock.today(),
            methods=["observation"],
        )
    assert not Competency.objects.exists()
    done = services.record_competencies(
        actor=actor_of(cast.dana),
        user=cast.alice,
        tests=[strep, glucose],
        assessed_on=clock.today(),
        methods=["observation"],
    )
    assert len(done) == 2


# -- Patient tests: the lockout in the service ----------------------------------------------------


def test_a_ready_test_is_filed_for_the_visits_provider_linked_to_lot_operator_and_qc(
    cast, actor_of, visit
):
    test, lot, controls = f.ready_test(cast)
    done = run(cast, actor_of, visit, test, lot, values={"78012-2": "Positive"})
    assert done.status == PocTestRun.Status.REPORTED
    assert (done.kit_lot, done.operator, done.ordering_provider) == (lot, cast.alice, cast.bob)
    assert done.identifiers_confirmed == ["name", "birth_date"]
    assert done.internal_control_valid is True and done.values == {"78012-2": "positive"}
    assert sorted(r.level for r in done.qc_runs.all()) == ["negative", "positive"]
    report = done.report
    assert report is not None
    assert (report.source, report.loinc, report.ordering_provider, report.encounter) == (
        LabReport.Source.POCT,
        "78012-2",
        cast.bob,
        visit,
    )
    assert report.performer == "North Family Medicine" and report.status == "final"
    result = LabResult.objects.get(report=report)
    assert (result.loinc, result.value_type, result.value_text, result.value_code) == (
        "78012-2",
        "CWE",
        "Positive",
        "10828004",
    )
    assert result.flag == "A" and report.abnormal
    assert not report.critical and not ResultAlert.objects.exists()  # positive: abnormal only
    assert "kit lot 4B21X" in result.note and "performed by Alice Moreno" in result.note
    assert "positive control passed" in result.note
    # The report leads back to the run, and from it to the kit lot, operator and QC runs.
    found = LabReport.objects.select_related(
        "poct_run__kit_lot", "poct_run__operator", "poct_run__test"
    ).get(pk=report.pk)
    assert found.poct_run == done
    assert (found.poct_run.kit_lot, found.poct_run.operator) == (lot, cast.alice)
    assert set(found.poct_run.qc_runs.all()) == set(done.qc_runs.all()) and done.qc_runs.exists()
    lot.refresh_from_db()
    assert lot.first_used_on == clock.today()
    assert AuditEvent.objects.filter(
        entity_type="Observation", entity_id=str(done.public_id), patient=visit.patient
    ).exists()


def test_without_todays_controls_the_service_refuses_and_saves_nothing(cast, actor_of, visit):
    test = f.make_test(cast.north, qc_every_days=1)
    lot = f.make_kit_lot(test, cast.alice)
    controls = f.make_control_lots(test, cast.dana)
    f.make_competency(cast.alice, test, cast.dana)
    # yesterday's controls: not today's
    f.run_controls(lot, cast.alice, controls, at=clock.now() - dt.timedelta(days=1))
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert [r.text for r in refused.value.reasons] == [
        "Today's external controls for Rapid strep have not been run on lot 4B21X: run the "
        "positive and negative controls (QC page)"
    ]
    assert nothing_saved()
    f.run_controls(lot, cast.alice, controls)
    assert run(cast, actor_of, visit, test, lot).status == "reported"


def test_daily_controls_are_counted_in_the_clinics_time_zone(cast, actor_of, visit, monkeypatch):
    test = f.make_test(cast.north, qc_every_days=1)
    lot = f.make_kit_lot(test, cast.alice, received_on=dt.date(2026, 11, 1))
    controls = f.make_control_lots(test, cast.dana, received_on=dt.date(2026, 11, 1))
    f.make_competency(cast.alice, test, cast.dana, assessed_on=dt.date(2026, 11, 1))
    evening = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)  # 21:00 on the 19th in Chicago
    monkeypatch.setattr(clock, "now", lambda: evening + dt.timedelta(minutes=5))
    f.run_controls(lot, cast.alice, controls, at=evening)
    Encounter.objects.filter(pk=visit.pk).update(period_start=evening)
    morning = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)  # 08:00 on the 20th
    monkeypatch.setattr(clock, "now", lambda: morning)
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert codes_of(refused) == ["qc_due"]


def test_an_expired_kit_locks_the_test(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    yesterday = clock.today() - dt.timedelta(days=1)
    KitLot.objects.filter(pk=lot.pk).update(expires_on=yesterday)
    lot.refresh_from_db()
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert [r.text for r in refused.value.reasons] == [
        f"Kit lot 4B21X expired on {yesterday:%Y-%m-%d}: take it out of use and open an "
        "unexpired lot (Kits page)"
    ]
    assert nothing_saved()
    KitLot.objects.filter(pk=lot.pk).update(expires_on=clock.today())  # the day itself is fine
    lot.refresh_from_db()
    assert run(cast, actor_of, visit, test, lot).status == "reported"


def test_an_expired_competency_locks_the_operator_not_the_test(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    expired = clock.today() - dt.timedelta(days=1)
    Competency.objects.filter(user=cast.alice).update(valid_until=expired)
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert [r.text for r in refused.value.reasons] == [
        f"Alice Moreno has no current competency for Rapid strep (expired {expired:%Y-%m-%d}): "
        "a manager records a competency assessment (Competencies page)"
    ]
    assert nothing_saved()
    assert run(cast, actor_of, visit, test, lot, user=cast.bob).operator == cast.bob


def test_a_failed_control_locks_until_corrected_and_passed(cast, actor_of, visit):
    test, lot, controls = f.ready_test(cast)
    failed = fail_negative(lot, cast.alice, controls)
    when = clock.localtime(failed.performed_at)
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert [r.text for r in refused.value.reasons] == [
        f"The last negative control on lot 4B21X failed at {when:%H:%M}: record the corrective "
        "action and a passing control run (QC page)"
    ]
    services.record_corrective_action(
        actor=actor_of(cast.alice), run=failed, action="New negative swab; technique reviewed."
    )
    with pytest.raises(services.Locked) as still:
        run(cast, actor_of, visit, test, lot)
    assert codes_of(still) == ["qc_failed"]
    f.run_controls(lot, cast.alice, {"negative": controls["negative"]}, reason="troubleshooting")
    done = run(cast, actor_of, visit, test, lot)
    assert done.status == "reported"
    # the runs that cover it: the passing negative after the failure, and the positive
    covering = {r.level: r for r in done.qc_runs.all()}
    assert covering["negative"].performed_at > failed.performed_at


def test_a_new_shipment_of_the_lot_in_use_needs_its_own_controls(cast, actor_of, visit):
    test, lot, controls = f.ready_test(cast)
    second = f.make_kit_lot(test, cast.alice, shipment="S-1201")
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, second)
    assert codes_of(refused) == ["new_shipment"]
    assert "A new shipment of lot 4B21X (shipment S-1201" in refused.value.reasons[0].text
    f.run_controls(second, cast.alice, controls, reason="new_shipment")
    assert run(cast, actor_of, visit, test, second).kit_lot == second


def test_a_retired_lot_and_a_test_off_the_menu_are_locked(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    PocTest.objects.filter(pk=test.pk).update(active=False)
    test.refresh_from_db()
    with pytest.raises(services.Locked) as refused:
        run(cast, actor_of, visit, test, lot)
    assert codes_of(refused) == ["test_inactive"]
    PocTest.objects.filter(pk=test.pk).update(active=True)
    test.refresh_from_db()
    services.retire_kit_lot(actor=actor_of(cast.alice), lot=lot, reason="Used up")
    with pytest.raises(services.Locked) as retired:
        run(cast, actor_of, visit, test, lot)
    assert codes_of(retired) == ["kit_retired"]
    assert nothing_saved()


def test_the_second_identifier_must_match(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    with pytest.raises(ValidationError) as refused:
        run(cast, actor_of, visit, test, lot, confirm_birth_date=dt.date(1980, 4, 3))
    assert (
        "does not match this patient's record"
        in refused.value.message_dict["confirm_birth_date"][0]
    )
    assert nothing_saved()


def test_an_invalid_run_is_stored_and_reported_to_nobody(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    with pytest.raises(ValidationError, match="internal control appeared"):
        run(cast, actor_of, visit, test, lot, internal_control_valid=None)
    no_line = run(cast, actor_of, visit, test, lot, internal_control_valid=False, values={})
    shows_invalid = run(cast, actor_of, visit, test, lot, values={"78012-2": "invalid"})
    for done in (no_line, shows_invalid):
        assert done.status == PocTestRun.Status.INVALID and done.report is None
    assert not LabReport.objects.exists()


def test_a_glucose_above_the_meters_range_is_refused_and_hi_is_filed_as_a_comparator(
    cast, actor_of, visit
):
    test, lot, _ = f.ready_test(cast, "glucose")
    with pytest.raises(ValidationError) as refused:
        run(cast, actor_of, visit, test, lot, values={"41653-7": "650"})
    assert refused.value.message_dict["value_41653-7"] == [
        "Glucose 650 mg/dL is above the meter's reportable range 20–600 mg/dL: report as HI per "
        "the manufacturer and send a venous glucose to the lab. Record it as >600."
    ]
    assert nothing_saved()
    done = run(cast, actor_of, visit, test, lot, values={"41653-7": ">600"})
    result = LabResult.objects.get(report=done.report)
    # HI is above the critical high (400, within the meter's range): critical.
    assert (result.value_type, result.value_comparator, result.value_number, result.flag) == (
        "SN",
        ">",
        Decimal("600"),
        "HH",
    )
    assert result.unit == "mg/dL"
    normal = run(cast, actor_of, visit, test, lot, values={"41653-7": "104"})
    value = LabResult.objects.get(report=normal.report)
    assert (value.value_type, value.value_number, value.flag) == ("NM", Decimal("104"), "")
    # The clinic's reference interval goes with the result (OBX-7 form), read as numbers.
    assert (value.reference_text, value.reference_low, value.reference_high) == (
        "70-140",
        Decimal("70"),
        Decimal("140"),
    )


@pytest.mark.parametrize(
    ("reading", "flag", "shown"),
    [
        ("25", "LL", "25 mg/dL"),
        ("LO", "LL", "<20 mg/dL"),
        ("53", "LL", "53 mg/dL"),
        ("401", "HH", "401 mg/dL"),
        ("HI", "HH", ">600 mg/dL"),
    ],
)
def test_a_critical_glucose_raises_a_stat_alert_for_the_visits_provider(
    cast, actor_of, visit, reading, flag, shown
):
    test, lot, _ = f.ready_test(cast, "glucose")
    done = run(cast, actor_of, visit, test, lot, values={"41653-7": reading})
    report = done.report
    assert report is not None and report.critical and report.abnormal
    assert LabResult.objects.get(report=report).flag == flag
    alert = ResultAlert.objects.get(report=report)
    assert (alert.owner, alert.patient, alert.status) == (cast.bob, visit.patient, "requested")
    assert visit.provider == cast.bob
    assert shown in alert.reason


@pytest.mark.parametrize(("reading", "flag"), [("54", "L"), ("141", "H"), ("104", "")])
def test_a_low_high_or_normal_glucose_raises_no_alert(cast, actor_of, visit, reading, flag):
    test, lot, _ = f.ready_test(cast, "glucose")
    done = run(cast, actor_of, visit, test, lot, values={"41653-7": reading})
    assert LabResult.objects.get(report=done.report).flag == flag
    assert done.report is not None and not done.report.critical
    assert done.report.abnormal == bool(flag)
    assert not ResultAlert.objects.exists()


def test_a_glucose_test_with_no_critical_limits_files_lo_as_off_scale(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast, "glucose")
    PocTest.objects.filter(pk=test.pk).update(critical_low=None, critical_high=None)
    test.refresh_from_db()
    done = run(cast, actor_of, visit, test, lot, values={"41653-7": "LO"})
    assert LabResult.objects.get(report=done.report).flag == "<"
    assert done.report is not None and done.report.abnormal and not done.report.critical
    assert not ResultAlert.objects.exists()


def test_panels_and_two_result_tests_file_one_observation_each(cast, actor_of, visit):
    ua, ua_lot, _ = f.ready_test(cast, "urinalysis")
    values = dict(f.URINE_NEGATIVE.items())
    done = run(cast, actor_of, visit, ua, ua_lot, values={k: v[0] for k, v in values.items()})
    results = list(LabResult.objects.filter(report=done.report).order_by("sequence"))
    assert [r.loinc for r in results][:3] == ["25428-4", "5770-3", "2514-8"] and len(results) == 10
    ph = next(r for r in results if r.loinc == "5803-2")
    assert (ph.value_type, ph.value_number) == ("NM", Decimal("5.0"))
    assert done.report is not None and done.report.loinc == "24357-6"
    with pytest.raises(ValidationError) as refused:
        run(cast, actor_of, visit, ua, ua_lot, values={"25428-4": "negative"})
    assert len(refused.value.message_dict) == 9
    assert refused.value.message_dict["value_5799-2"] == ["Record the Leukocytes reading."]
    flu, flu_lot, _ = f.ready_test(cast, "influenza")
    both = run(
        cast, actor_of, visit, flu, flu_lot, values={"80382-5": "positive", "80383-3": "negative"}
    )  # noqa: E501
    assert both.report is not None and both.report.loinc == "80381-7"
    assert [r.loinc for r in both.report.results.all()] == ["80382-5", "80383-3"]


def test_who_may_run_a_test(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    for user in (cast.gwen, cast.dana, cast.carol):
        with pytest.raises(PermissionDenied):
            run(cast, actor_of, visit, test, lot, user=user)
    Encounter.objects.filter(pk=visit.pk).update(stage=Encounter.Stage.CANCELLED)
    visit.refresh_from_db()
    with pytest.raises(ValidationError, match="This visit was cancelled"):
        run(cast, actor_of, visit, test, lot)
    assert nothing_saved()


def test_a_lot_of_another_test_is_refused(cast, actor_of, visit):
    test, lot, _ = f.ready_test(cast)
    other, other_lot, _ = f.ready_test(cast, "urine_hcg")
    with pytest.raises(ValidationError, match="not one of this clinic's for this test"):
        run(cast, actor_of, visit, test, other_lot)
    assert nothing_saved()


def test_controls_cannot_be_dated_before_the_shipment_or_control_lot_arrived(cast):
    """Backdating a run (allowed up to two days, for a run recorded late) must not qualify a
    shipment that was not yet in the building (second review)."""
    test = f.make_test(cast.north, qc_every_days=None)
    lot = f.make_kit_lot(test, cast.alice, received_on=clock.today())
    controls = f.make_control_lots(test, cast.dana)
    f.make_competency(cast.alice, test, cast.dana)
    with pytest.raises(ValidationError) as refused:
        f.run_controls(lot, cast.alice, controls, at=clock.now() - dt.timedelta(hours=30))
    assert "performed_at" in refused.value.message_dict
    assert "cannot be dated before" in str(refused.value)
    assert not QcRun.objects.filter(kit_lot=lot).exists()
    assert services.lockout_for(test, lot, cast.alice)
