"""Giving vaccines through the service: every check that refuses a dose, and what a dose
changes (stock, observation timer, forecast, audit, registry queue)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.audit.models import AuditEvent
from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.immunizations import gs1, services
from medassist.immunizations.models import (
    ClinicSettings,
    DoseOrder,
    Eligibility,
    Funding,
    Immunization,
    ObservationPeriod,
    Reaction,
    RegistryConnection,
    RegistrySubmission,
    VaccineLot,
)
from medassist.immunizations.services import DoseRefused
from medassist.immunizations.tests import factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def four_month_old(cast):  # type: ignore[no-untyped-def]
    """Born 122 days ago: HepB at birth; DTaP-HepB-IPV, Hib, PCV20 and RotaTeq at 2 months."""
    born = clock.today() - dt.timedelta(days=122)
    patient = make_patient(cast.north, family="Okafor", given="Ada", birth_date=born)
    two_months = born + dt.timedelta(days=61)
    f.historical(patient, "08", born)
    for cvx in ("110", "49", "216", "116"):
        f.historical(patient, cvx, two_months)
    return patient


def refused_code(excinfo) -> str:  # type: ignore[no-untyped-def]
    errors = excinfo.value.error_dict
    return next(e.code for errs in errors.values() for e in errs)


@pytest.fixture
def baby(cast):  # type: ignore[no-untyped-def]
    return four_month_old(cast)


@pytest.fixture
def orders(cast):  # type: ignore[no-untyped-def]
    return f.standing_orders(cast.north, cast.bob)


def give(cast, actor_of, patient, lot, standing=None, user=None, **kw):  # type: ignore[no-untyped-def]
    return services.administer(
        actor=actor_of(user or cast.alice),
        patient=patient,
        encounter=None,
        request=f.request_for(patient, lot, standing, **kw),
    )


def test_due_dose_under_standing_order_takes_stock_times_observation_and_moves_forecast(
    cast, actor_of, baby, orders
):
    lot = f.make_lot(cast.north, f.PEDIARIX, doses=3)
    before = services.patient_forecast(baby).groups["DTaP/Tdap/Td"]
    assert before.dose_number == 2
    dose = give(cast, actor_of, baby, lot, orders["DTaP/Tdap/Td"])
    lot.refresh_from_db()
    assert lot.doses_on_hand == 2
    assert dose.status == Immunization.Status.COMPLETED
    assert dose.lot_number == "LOT1" and dose.ndc == lot.ndc and dose.cvx == "110"
    assert dose.standing_order == orders["DTaP/Tdap/Td"]
    assert dose.ordering_provider == cast.bob  # the order's signer
    assert (dose.given_by, dose.given_by_role, dose.given_by_title) == (
        cast.alice,
        "medical_assistant",
        "CCMA",
    )
    assert dose.vaccine_group == "DTaP/Tdap/Td; HepB; Polio"
    period = ObservationPeriod.objects.get(immunization=dose)
    assert period.ends_at - period.starts_at == dt.timedelta(minutes=15)
    after = services.patient_forecast(baby).groups["DTaP/Tdap/Td"]
    assert after.dose_number == 3
    assert after.earliest is not None and after.earliest > clock.today()
    event = AuditEvent.objects.filter(entity_type="Immunization", entity_id=str(dose.public_id))
    assert "under standing order" in event.get().description


def test_observation_time_is_the_clinics(cast, actor_of, baby, orders):
    ClinicSettings.objects.create(clinic=cast.north, observation_minutes=30)
    dose = give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"])
    period = dose.observation
    assert period.ends_at - period.starts_at == dt.timedelta(minutes=30)


def test_expired_lot_is_refused_and_nothing_changes(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX, expires=clock.today() - dt.timedelta(days=1))
    with pytest.raises(DoseRefused, match="expired on") as excinfo:
        give(cast, actor_of, baby, lot, orders["DTaP/Tdap/Td"])
    assert refused_code(excinfo) == "lot_expired"
    lot.refresh_from_db()
    assert lot.doses_on_hand == 10
    assert not Immunization.objects.filter(lot=lot).exists()


def test_lot_expiring_today_may_still_be_used(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX, expires=clock.today())
    give(cast, actor_of, baby, lot, orders["DTaP/Tdap/Td"])


def test_wrong_patient_is_refused(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX)
    with pytest.raises(DoseRefused, match="does not match this patient") as excinfo:
        give(
            cast,
            actor_of,
            baby,
            lot,
            orders["DTaP/Tdap/Td"],
            confirm_birth_date=baby.birth_date - dt.timedelta(days=1),
        )
    assert refused_code(excinfo) == "wrong_patient"
    assert not Immunization.objects.filter(lot=lot).exists()


def test_vfc_stock_refused_for_an_adult_and_private_stock_for_a_vfc_child(
    cast, actor_of, baby, orders
):
    adult = make_patient(cast.north, family="Stone", birth_date=dt.date(1980, 1, 1))
    tdap = f.make_lot(cast.north, f.ADACEL, funding=Funding.VFC)
    order = services.order_dose(
        actor=actor_of(cast.bob), patient=adult, vaccine_group="DTaP/Tdap/Td"
    )
    with pytest.raises(DoseRefused, match="VFC \\(public\\) stock") as excinfo:
        give(cast, actor_of, adult, tdap, order=order, eligibility=Eligibility.NOT_ELIGIBLE)
    assert refused_code(excinfo) == "funding_mismatch"
    private = f.make_lot(cast.north, f.PEDIARIX, lot="PRIV1", funding=Funding.PRIVATE)
    with pytest.raises(DoseRefused, match="Give VFC vaccine"):
        give(cast, actor_of, baby, private, orders["DTaP/Tdap/Td"])
    # A privately insured child gets private stock.
    give(
        cast,
        actor_of,
        baby,
        private,
        orders["DTaP/Tdap/Td"],
        eligibility=Eligibility.NOT_ELIGIBLE,
    )


def test_eligibility_must_be_screened(cast, actor_of, baby, orders):
    with pytest.raises(DoseRefused, match="VFC eligibility"):
        give(
            cast,
            actor_of,
            baby,
            f.make_lot(cast.north, f.PEDIARIX),
            orders["DTaP/Tdap/Td"],
            eligibility="",
        )


def test_dose_not_due_needs_a_providers_off_schedule_order(cast, actor_of, baby, orders):
    # The Hib dose given 3 days after the 2-month dose's 4-week minimum is not met.
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    give(cast, actor_of, baby, lot, orders["Hib"])
    with pytest.raises(DoseRefused, match="does not call for this dose") as excinfo:
        give(cast, actor_of, baby, lot, orders["Hib"])
    assert refused_code(excinfo) == "not_due"
    with pytest.raises(PermissionDenied):
        services.order_dose(
            actor=actor_of(cast.alice),
            patient=baby,
            vaccine_group="Hib",
            off_schedule=True,
            reason="outbreak",
        )
    with pytest.raises(ValidationError, match="Say why"):
        services.order_dose(
            actor=actor_of(cast.bob), patient=baby, vaccine_group="Hib", off_schedule=True
        )
    order = services.order_dose(
        actor=actor_of(cast.bob),
        patient=baby,
        vaccine_group="Hib",
        off_schedule=True,
        reason="Travel abroad next week; accepts an extra dose",
    )
    dose = give(cast, actor_of, baby, lot, order=order)
    assert dose.override_by == cast.bob and "Travel" in dose.override_reason
    order.refresh_from_db()
    assert order.used_by == dose
    with pytest.raises(DoseRefused, match="not open"):
        give(cast, actor_of, baby, lot, order=order)


def test_live_vaccine_too_soon_after_another_is_refused(cast, actor_of, orders):
    born = clock.today() - dt.timedelta(days=400)
    toddler = make_patient(cast.north, family="Lee", birth_date=born)
    f.historical(toddler, "21", clock.today() - dt.timedelta(days=10))  # varicella 10 days ago
    lot = f.make_lot(cast.north, f.MMR)
    with pytest.raises(DoseRefused, match="live vaccine too soon") as excinfo:
        give(cast, actor_of, toddler, lot, orders["MMR"])
    assert refused_code(excinfo) == "live_conflict"


def test_live_vaccines_on_the_same_day_are_fine(cast, actor_of, orders):
    born = clock.today() - dt.timedelta(days=400)
    toddler = make_patient(cast.north, family="Lee", birth_date=born)
    give(cast, actor_of, toddler, f.make_lot(cast.north, f.VARIVAX), orders["Varicella"])
    give(cast, actor_of, toddler, f.make_lot(cast.north, f.MMR), orders["MMR"])


def test_an_ma_needs_a_standing_order_or_a_providers_order(cast, actor_of, baby):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    with pytest.raises(DoseRefused, match="standing order") as excinfo:
        give(cast, actor_of, baby, lot)
    assert refused_code(excinfo) == "no_order"
    # the provider gives it on their own authority
    dose = give(cast, actor_of, baby, lot, user=cast.bob)
    assert dose.ordering_provider == cast.bob and dose.given_by_role == "provider"


def test_a_combination_vaccine_needs_every_group_covered(cast, actor_of, baby):
    only_dtap = f.standing_orders(cast.north, cast.bob, groups=("DTaP/Tdap/Td",))
    with pytest.raises(DoseRefused, match="No standing order covers HepB"):
        give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDIARIX), only_dtap["DTaP/Tdap/Td"])


def test_standing_order_outside_its_ages_does_not_cover(cast, actor_of, baby, orders):
    order = orders["Hib"]
    order.min_age_days = 365
    order.save()
    with pytest.raises(DoseRefused, match="does not cover this patient"):
        give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), order)


def test_state_that_forbids_assistants(cast, actor_of, baby, orders):
    ClinicSettings.objects.create(clinic=cast.north, assistants_may_administer=False)
    with pytest.raises(DoseRefused, match="does not allow medical assistants"):
        give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"])


def test_screening_yes_needs_the_provider(cast, actor_of, baby, orders):
    answers = f.all_no() | {"sick_today": True}
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    with pytest.raises(DoseRefused, match="Is the patient sick today"):
        give(cast, actor_of, baby, lot, orders["Hib"], screening=answers)
    with pytest.raises(DoseRefused, match="Answer every screening question"):
        give(cast, actor_of, baby, lot, orders["Hib"], screening={"sick_today": False})
    order = services.order_dose(actor=actor_of(cast.bob), patient=baby, vaccine_group="Hib")
    give(cast, actor_of, baby, lot, order=order, screening=answers)


def test_vis_must_be_given(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX)
    with pytest.raises(DoseRefused, match="current VIS") as excinfo:
        give(cast, actor_of, baby, lot, orders["DTaP/Tdap/Td"], vis_given=[])
    assert refused_code(excinfo) == "vis_missing"
    multi = [v for v in f.vis_for("110") if v.startswith("2530886983000264")]
    dose = give(cast, actor_of, baby, lot, orders["DTaP/Tdap/Td"], vis_given=multi)
    assert [v["document"] for v in dose.vis] == ["Multi Pediatric Vaccines VIS"]


def test_refusal_of_consent_is_recorded_as_not_done(cast, actor_of, baby, orders):
    with pytest.raises(DoseRefused, match="record a refusal"):
        give(
            cast,
            actor_of,
            baby,
            f.make_lot(cast.north, f.PEDIARIX),
            orders["Hib"],
            consent="refused",
        )
    refusal = services.record_refusal(
        actor=actor_of(cast.alice), patient=baby, cvx="116", reason="Parent wants to wait"
    )
    assert refusal.status == Immunization.Status.NOT_DONE
    assert services.patient_forecast(baby).groups["Rotavirus"].dose_number == 2


def test_the_last_dose_of_a_lot_goes_once(cast, actor_of, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB, doses=1)
    twins = [
        four_month_old(cast),
        four_month_old(cast),
    ]
    give(cast, actor_of, twins[0], lot, orders["Hib"])
    with pytest.raises(DoseRefused, match="No doses of lot"):
        give(cast, actor_of, twins[1], lot, orders["Hib"])
    lot.refresh_from_db()
    assert lot.doses_on_hand == 0


def test_outsider_cannot_give_from_this_clinic(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    with pytest.raises(PermissionDenied):
        give(cast, actor_of, baby, lot, orders["Hib"], user=cast.carol)
    south_lot = f.make_lot(cast.south, f.PEDVAXHIB)
    with pytest.raises(DoseRefused, match="not in this clinic's stock"):
        give(cast, actor_of, baby, south_lot, orders["Hib"])
    assert Immunization.objects.filter(source=Immunization.Source.NEW).count() == 0


def test_front_desk_may_not_give(cast, actor_of, baby, orders):
    with pytest.raises(PermissionDenied):
        give(
            cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"], user=cast.gwen
        )


def test_registry_message_queued_only_when_a_registry_is_set_up(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    give(cast, actor_of, baby, lot, orders["Hib"])
    assert not RegistrySubmission.objects.exists()
    RegistryConnection.objects.create(
        clinic=cast.north, host="127.0.0.1", port=9, sending_facility="NORTH"
    )
    rota = give(cast, actor_of, baby, f.make_lot(cast.north, f.ROTATEQ), orders["Rotavirus"])
    submission = RegistrySubmission.objects.get()
    assert (submission.immunization, submission.action) == (rota, "A")
    assert OutboxMessage.objects.filter(kind=services.VXU_KIND, subject=str(rota.public_id))
    services.retract(actor=actor_of(cast.alice), immunization=rota, reason="wrong chart")
    assert list(
        RegistrySubmission.objects.filter(immunization=rota).values_list("action", flat=True)
    ) == ["A", "D"]
    rota.refresh_from_db()
    assert rota.status == Immunization.Status.ENTERED_IN_ERROR


def test_historical_doses_count_and_are_kept_apart(cast, actor_of):
    born = clock.today() - dt.timedelta(days=200)
    child = make_patient(cast.north, family="Diaz", birth_date=born)
    dose = services.record_historical(
        actor=actor_of(cast.alice),
        patient=child,
        cvx="8",
        occurred_on=born,
        source=Immunization.Source.PARENT_RECORD,
        source_detail="hospital discharge card",
    )
    assert dose.historical and dose.cvx == "08"
    assert services.patient_forecast(child).groups["HepB"].dose_number == 2
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_historical(
            actor=actor_of(cast.alice),
            patient=child,
            cvx="08",
            occurred_on=born,
            source=Immunization.Source.PARENT_RECORD,
        )
    with pytest.raises(ValidationError, match="before the patient's birth"):
        services.record_historical(
            actor=actor_of(cast.alice),
            patient=child,
            cvx="08",
            occurred_on=born - dt.timedelta(days=1),
            source=Immunization.Source.REGISTRY,
        )
    with pytest.raises(ValidationError, match="where the record"):
        services.record_historical(
            actor=actor_of(cast.alice),
            patient=child,
            cvx="08",
            occurred_on=born,
            source=Immunization.Source.NEW,
        )


def test_reaction_and_observation(cast, actor_of, baby, orders):
    dose = give(
        cast,
        actor_of,
        baby,
        f.make_lot(cast.north, f.PEDVAXHIB),
        orders["Hib"],
        given_at=clock.now() - dt.timedelta(minutes=10),
    )
    with pytest.raises(ValidationError, match="before the dose"):
        services.record_reaction(
            actor=actor_of(cast.alice),
            immunization=dose,
            symptoms="hives",
            onset_at=dose.given_at - dt.timedelta(minutes=1),
            outcome="resolved",
        )
    reaction = services.record_reaction(
        actor=actor_of(cast.alice),
        immunization=dose,
        symptoms="Hives on both legs",
        onset_at=dose.given_at + dt.timedelta(minutes=8),
        treatment="diphenhydramine per protocol",
        outcome=Reaction.Outcome.RESOLVED,
    )
    assert reaction.patient == baby
    services.release_observation(actor=actor_of(cast.alice), period=dose.observation)
    with pytest.raises(ValidationError, match="already ended"):
        services.release_observation(actor=actor_of(cast.alice), period=dose.observation)


def test_receive_lot_from_the_cartons_barcode(cast, actor_of):
    product = f.codes.catalog().product_for_ndc(f.PEDVAXHIB)
    assert product is not None
    expiry = clock.today() + dt.timedelta(days=200)
    scan = gs1.make_gs1_element_string(gs1.gtin_for_ndc(product.ndc10), "W123AB", expiry)
    lot = services.receive_lot(
        actor=actor_of(cast.alice),
        clinic_id=cast.north.pk,
        scanned=scan,
        funding=Funding.VFC,
        doses=10,
        storage_unit="Fridge A",
    )
    assert (lot.cvx, lot.lot_number, lot.doses_on_hand) == ("49", "W123AB", 10)
    again = services.receive_lot(
        actor=actor_of(cast.alice),
        clinic_id=cast.north.pk,
        scanned=scan,
        funding=Funding.VFC,
        doses=5,
        storage_unit="Fridge A",
    )
    assert again.pk == lot.pk and again.doses_on_hand == 15
    with pytest.raises(ValidationError) as excinfo:
        services.receive_lot(
            actor=actor_of(cast.alice),
            clinic_id=cast.north.pk,
            scanned="0100006489",
            funding=Funding.VFC,
            doses=5,
            storage_unit="Fridge A",
        )
    assert "scanned" in excinfo.value.error_dict
    with pytest.raises(PermissionDenied):
        services.receive_lot(
            actor=actor_of(cast.carol),
            clinic_id=cast.north.pk,
            scanned=scan,
            funding=Funding.VFC,
            doses=5,
            storage_unit="Fridge A",
        )
    assert VaccineLot.objects.get().doses_on_hand == 15


def test_adjust_stock_refuses_a_stale_count(cast, actor_of):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    stale = VaccineLot.objects.get(pk=lot.pk)
    services.adjust_stock(actor=actor_of(cast.alice), lot=lot, counted=8, reason="counted")
    with pytest.raises(ValidationError, match="changed meanwhile"):
        services.adjust_stock(actor=actor_of(cast.alice), lot=stale, counted=9, reason="count")


def test_a_dose_cannot_be_dated_before_birth_or_weeks_ago(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    born = dt.datetime.combine(baby.birth_date, dt.time(12), tzinfo=dt.UTC)
    with pytest.raises(DoseRefused, match="before the patient's birth"):
        give(cast, actor_of, baby, lot, orders["Hib"], given_at=born - dt.timedelta(days=2))
    with pytest.raises(DoseRefused, match="entered as history") as excinfo:
        give(cast, actor_of, baby, lot, orders["Hib"], given_at=clock.now() - dt.timedelta(days=8))
    assert refused_code(excinfo) == "too_old"
    give(cast, actor_of, baby, lot, orders["Hib"], given_at=clock.now() - dt.timedelta(days=2))


def test_a_retired_lot_gives_no_dose(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    with pytest.raises(ValidationError, match="why"):
        services.retire_lot(actor=actor_of(cast.alice), lot=lot, reason=" ")
    services.retire_lot(actor=actor_of(cast.alice), lot=lot, reason="fridge at 12 °C overnight")
    with pytest.raises(DoseRefused, match="not in this clinic's stock"):
        give(cast, actor_of, baby, lot, orders["Hib"])
    with pytest.raises(PermissionDenied):
        services.retire_lot(actor=actor_of(cast.carol), lot=lot, reason="x")


def test_an_ended_standing_order_covers_no_more(cast, actor_of, baby, orders):
    with pytest.raises(PermissionDenied):
        services.end_standing_order(actor=actor_of(cast.alice), order=orders["Hib"])
    services.end_standing_order(
        actor=actor_of(cast.bob), order=orders["Hib"], last_day=clock.today() - dt.timedelta(days=1)
    )
    with pytest.raises(DoseRefused, match="does not cover"):
        give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"])


def test_amend_corrects_a_detail_and_refuses_what_it_may_not_change(cast, actor_of, baby, orders):
    dose = give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"])
    with pytest.raises(ValidationError, match="Nothing was changed"):
        services.amend(actor=actor_of(cast.alice), immunization=dose, site=dose.site, reason="x")
    with pytest.raises(ValidationError, match="its time"):
        services.amend(
            actor=actor_of(cast.alice),
            immunization=dose,
            occurred_on=clock.today() - dt.timedelta(days=1),
            reason="x",
        )
    version = dose.version
    fixed = services.amend(
        actor=actor_of(cast.alice), immunization=dose, site="RT", reason="given in the right thigh"
    )
    assert fixed.site == "RT" and fixed.version == version + 1
    assert RegistrySubmission.objects.count() == 0  # no registry configured


def test_a_recorded_condition_changes_the_forecast_and_can_end(cast, actor_of):
    adult = make_patient(cast.north, family="Ames", birth_date=dt.date(1990, 4, 2))
    before = services.patient_forecast(adult).groups.get("Meningococcal")
    asplenia = services.record_indication(actor=actor_of(cast.alice), patient=adult, code="160")
    assert asplenia.title.lower().startswith("anatomical or functional asplenia")
    after = services.patient_forecast(adult).groups["Meningococcal"]
    assert after.series_type == "Risk" and after.status == "Not Complete"
    assert before is None or before.series_type != "Risk"
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_indication(actor=actor_of(cast.alice), patient=adult, code="160")
    with pytest.raises(ValidationError, match="CDC's list"):
        services.record_indication(actor=actor_of(cast.alice), patient=adult, code="999")
    with pytest.raises(PermissionDenied):
        services.record_indication(actor=actor_of(cast.carol), patient=adult, code="007")
    services.end_indication(actor=actor_of(cast.alice), indication=asplenia)
    assert services.patient_forecast(adult).groups.get("Meningococcal") == before


def test_a_dose_documented_late_gets_no_timer(cast, actor_of, baby, orders):
    late = give(
        cast,
        actor_of,
        baby,
        f.make_lot(cast.north, f.PEDVAXHIB),
        orders["Hib"],
        given_at=clock.now() - dt.timedelta(hours=3),
    )
    assert not ObservationPeriod.objects.filter(immunization=late).exists()


def test_an_order_for_one_group_does_not_cover_a_combination(cast, actor_of, baby):
    order = services.order_dose(
        actor=actor_of(cast.bob), patient=baby, vaccine_group="DTaP/Tdap/Td"
    )
    with pytest.raises(DoseRefused, match="also gives HepB, Polio"):
        give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDIARIX), order=order)


def test_an_old_order_does_not_clear_todays_screening_yes(cast, actor_of, baby):
    order = services.order_dose(actor=actor_of(cast.bob), patient=baby, vaccine_group="Hib")
    DoseOrder.objects.filter(pk=order.pk).update(created_at=clock.now() - dt.timedelta(days=3))
    order.refresh_from_db()
    with pytest.raises(DoseRefused, match="sick today"):
        give(
            cast,
            actor_of,
            baby,
            f.make_lot(cast.north, f.PEDVAXHIB),
            order=order,
            screening=f.all_no() | {"sick_today": True},
        )


def test_a_nurse_gives_where_assistants_may_not(cast, actor_of, baby, orders):
    from medassist.clinics.models import Membership

    Membership.objects.create(user=cast.alice, clinic=cast.north, role="nurse", title="RN")
    Membership.objects.filter(user=cast.alice, role="medical_assistant").delete()
    ClinicSettings.objects.create(clinic=cast.north, assistants_may_administer=False)
    dose = give(cast, actor_of, baby, f.make_lot(cast.north, f.PEDVAXHIB), orders["Hib"])
    assert dose.given_by_role == "nurse"


def test_a_retired_lot_is_not_restocked(cast, actor_of):
    product = f.codes.catalog().product_for_ndc(f.PEDVAXHIB)
    assert product is not None
    expiry = clock.today() + dt.timedelta(days=200)
    scan = gs1.make_gs1_element_string(gs1.gtin_for_ndc(product.ndc10), "W9", expiry)
    alice = actor_of(cast.alice)
    lot = services.receive_lot(
        actor=alice,
        clinic_id=cast.north.pk,
        scanned=scan,
        funding=Funding.VFC,
        doses=8,
        storage_unit="Fridge A",
    )
    services.retire_lot(actor=alice, lot=lot, reason="temperature excursion")
    with pytest.raises(ValidationError, match="taken out of use"):
        services.receive_lot(
            actor=alice,
            clinic_id=cast.north.pk,
            scanned=scan,
            funding=Funding.VFC,
            doses=10,
            storage_unit="Fridge A",
        )
    lot.refresh_from_db()
    assert (lot.active, lot.doses_on_hand) == (False, 8)


def test_the_day_of_an_evening_dose_is_the_clinics_day(cast, actor_of, orders, settings):
    # 19:30 in Chicago is 01:30 UTC the next day: a lot expiring today is still good.
    import zoneinfo

    evening = dt.datetime.combine(
        clock.today(), dt.time(19, 30), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE)
    )
    if evening > clock.now():
        evening -= dt.timedelta(days=1)
    born = clock.localtime(evening).date() - dt.timedelta(days=122)
    patient = make_patient(cast.north, family="Eve", birth_date=born)
    f.historical(patient, "49", born + dt.timedelta(days=61))
    lot = f.make_lot(cast.north, f.PEDVAXHIB, expires=clock.localtime(evening).date())
    dose = give(cast, actor_of, patient, lot, orders["Hib"], given_at=evening)
    assert dose.occurred_on == clock.localtime(evening).date()


def test_a_dose_recorded_but_never_drawn_up_goes_back_in_stock(cast, actor_of, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB, doses=5)
    dose = give(cast, actor_of, baby, lot, orders["Hib"])
    services.retract(
        actor=actor_of(cast.alice), immunization=dose, reason="clicked twice", restock=True
    )
    lot.refresh_from_db()
    assert lot.doses_on_hand == 5


def test_a_clinic_that_is_not_the_actors_is_refused_without_a_500(cast, actor_of):
    for clinic_id in (cast.south.pk, 987654):
        with pytest.raises(PermissionDenied):
            services.save_standing_order(
                actor=actor_of(cast.bob),
                clinic_id=clinic_id,
                vaccine_group="Hib",
                title="Hib",
                protocol="per schedule",
            )
        with pytest.raises(PermissionDenied):
            services.receive_lot(
                actor=actor_of(cast.alice),
                clinic_id=clinic_id,
                ndc=f.PEDVAXHIB,
                lot_number="X",
                expires_on=clock.today(),
                funding=Funding.VFC,
                doses=1,
                storage_unit="A",
            )
