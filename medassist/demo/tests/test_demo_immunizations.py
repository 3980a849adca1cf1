"""The demo's vaccines as loaded through the immunization services: the fridge, standing orders,
settings, histories, and today's 4-month-old at North (loaded once for the module, at half size
like test_schedule, rolled back after)."""

import datetime as dt
import zoneinfo
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo import immunizations as demo
from medassist.demo import seed
from medassist.encounters.models import Encounter
from medassist.encounters.stages import IN_ROOM, Stage
from medassist.immunizations import codes, forecasting, gs1, services
from medassist.immunizations.cdsi import engine
from medassist.immunizations.models import (
    ClinicSettings,
    Eligibility,
    Funding,
    Immunization,
    RegistryConnection,
    RegistrySubmission,
    Route,
    Site,
    StandingOrder,
    VaccineLot,
)
from medassist.patients.models import Patient

TODAY = dt.date(2026, 1, 15)  # a Thursday
NOW = dt.datetime(2026, 1, 15, 12, 30, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
UNITS = {demo.VFC_FRIDGE, demo.PRIVATE_FRIDGE, demo.FREEZER}
DUE_AT_FOUR_MONTHS = {"DTaP/Tdap/Td", "Polio", "Hib", "Pneumococcal", "Rotavirus"}


def now() -> dt.datetime:
    return NOW


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    results: list[demo.Entered] = []

    def keep(**kwargs):
        results.append(demo.write_immunizations(**kwargs))
        return results[-1]

    with django_db_blocker.unblock(), fast, transaction.atomic():
        # The services check dates against the clock: the load happens at lunchtime of TODAY.
        with (
            mock.patch.object(seed, "write_immunizations", keep),
            mock.patch.object(clock, "now", now),
        ):
            seed.load_demo(today=TODAY, per_clinic=120)
        yield results[0]
        transaction.set_rollback(True)


def _clinic(code: str) -> Clinic:
    return Clinic.objects.get(code=code)


def _args() -> dict:
    return {
        "today": TODAY,
        "clinics": {c.code: c for c in Clinic.objects.all()},
        "users": {u.username: u for u in get_user_model().objects.all()},
    }


def _histories() -> list[tuple]:
    return list(
        Immunization.objects.order_by("patient__public_id", "occurred_on", "cvx").values_list(
            "patient__public_id", "cvx", "occurred_on", "source", "source_detail", "vaccine_group"
        )
    )


def _stock() -> list[tuple]:
    return list(
        VaccineLot.objects.order_by("clinic__code", "ndc", "funding", "lot_number").values_list(
            "clinic__code", "ndc", "funding", "lot_number", "expires_on", "doses_on_hand",
            "storage_unit", "gtin",
        )
    )  # fmt: skip


def _orders() -> list[tuple]:
    return list(
        StandingOrder.objects.order_by("clinic__code", "title").values_list(
            "clinic__code", "vaccine_group", "title", "min_age_days", "max_age_days",
            "protocol", "authorized_by__username", "effective_from",
        )
    )  # fmt: skip


def test_everything_went_through_the_services_without_a_refusal(loaded, db):
    assert loaded.refusals == []
    assert loaded.lots == VaccineLot.objects.count() > 50
    assert loaded.standing_orders == StandingOrder.objects.count() == 2 * 16
    assert loaded.doses == Immunization.objects.count() > 200
    assert not Immunization.objects.filter(source=Immunization.Source.NEW).exists()
    # Entered by the clinic's MA, each with its audit entry.
    for code, ma in (("north", "alice"), ("south", "carol")):
        doses = Immunization.objects.filter(clinic__code=code)
        assert set(doses.values_list("created_by__username", flat=True)) == {ma}
        assert (
            AuditEvent.objects.filter(
                entity_type="Immunization", username=ma, description__startswith="historical"
            ).count()
            == doses.count()
        )


def test_each_clinic_has_a_vfc_and_a_private_fridge_and_a_freezer_of_real_products(loaded, db):
    catalog = codes.catalog()
    for code in ("north", "south"):
        lots = list(VaccineLot.objects.filter(clinic__code=code))
        assert {lot.storage_unit for lot in lots} == UNITS
        assert {lot.funding for lot in lots} == {Funding.VFC, Funding.PRIVATE}
        assert all(
            lot.funding == Funding.VFC for lot in lots if lot.storage_unit == demo.VFC_FRIDGE
        )
        assert {lot.cvx for lot in lots if lot.storage_unit == demo.FREEZER} == {"21", "94"}
        for lot in lots:
            product = catalog.product_for_ndc(lot.ndc, "use")
            assert product is not None and product.cvx == lot.cvx and lot.doses_on_hand > 0
        groups = {g for lot in lots for g in services.vaccine_groups_for(lot.cvx)}
        assert groups >= {
            "DTaP/Tdap/Td", "HepB", "Polio", "Hib", "Pneumococcal", "Rotavirus", "MMR",
            "Varicella", "HepA", "HPV", "Meningococcal", "Influenza", "COVID-19", "Zoster",
        }  # fmt: skip
        cvx = {lot.cvx for lot in lots}
        assert {"110", "115", "165", "187", "43", "08", "83", "03"} <= cvx
        # Lot numbers: one per lot, so a typed lot number finds one lot.
        assert len({lot.lot_number for lot in lots}) == len(lots)
    north = {lot.cvx for lot in VaccineLot.objects.filter(clinic__code="north")}
    south = {lot.cvx for lot in VaccineLot.objects.filter(clinic__code="south")}
    assert {"49", "216", "116"} <= north and {"48", "215", "119", "216"} <= south


def test_each_clinic_has_one_expired_lot_and_one_expiring_within_30_days(loaded, db):
    soon = TODAY + dt.timedelta(days=30)
    for code in ("north", "south"):
        lots = VaccineLot.objects.filter(clinic__code=code)
        expired = list(lots.filter(expires_on__lt=TODAY))
        assert len(expired) == 1, expired
        assert expired[0].received_on < expired[0].expires_on  # received while in date
        assert expired[0].doses_on_hand > 0 and expired[0].active  # still in the fridge
        expiring = list(lots.filter(expires_on__gte=TODAY, expires_on__lte=soon))
        assert len(expiring) == 1, expiring
        assert 14 <= (expiring[0].expires_on - TODAY).days <= 21


def test_scanning_a_lots_code_names_its_product_lot_and_expiry(loaded, db):
    for lot in VaccineLot.objects.all():
        scanned = gs1.parse(demo.scan_code(lot))
        product = codes.catalog().product_for_gtin(scanned.gtin)
        assert product is not None and product.ndc == lot.ndc
        assert (scanned.lot, scanned.expiry) == (lot.lot_number, lot.expires_on)


def test_standing_orders_are_signed_by_each_clinics_provider_and_cover_the_schedule(loaded, db):
    child = {
        "DTaP/Tdap/Td", "HepB", "Polio", "Hib", "Pneumococcal", "Rotavirus", "MMR",
        "Varicella", "HepA", "Influenza", "HPV", "Meningococcal",
    }  # fmt: skip
    adult = {"Influenza", "DTaP/Tdap/Td", "Zoster", "Pneumococcal"}

    def covered(orders: list[StandingOrder], years: float) -> set[str]:
        age = round(years * 365.25)
        return {
            o.vaccine_group
            for o in orders
            if o.covers(group=o.vaccine_group, age_days=age, day=TODAY)
        }

    for code, provider in (("north", "bob"), ("south", "frank")):
        orders = list(StandingOrder.objects.filter(clinic__code=code))
        assert {o.authorized_by.get_username() for o in orders} == {provider}
        assert {o.vaccine_group for o in orders} == child | adult
        assert all("CDC" in o.protocol and o.effective_from < TODAY for o in orders)
        assert covered(orders, 4 / 12) == {
            "DTaP/Tdap/Td", "HepB", "Polio", "Hib", "Pneumococcal", "Rotavirus",
        }  # fmt: skip
        assert covered(orders, 1.5) >= {"MMR", "Varicella", "HepA", "Influenza"}
        assert "Rotavirus" not in covered(orders, 1.5)
        assert covered(orders, 12) >= {"DTaP/Tdap/Td", "HPV", "Meningococcal"}
        assert covered(orders, 70) == adult
        assert covered(orders, 40) == {"Influenza", "DTaP/Tdap/Td"}
        audit = AuditEvent.objects.filter(username=provider, entity_type="PlanDefinition")
        assert audit.count() == len(orders)


def test_settings_let_assistants_give_vaccines_and_no_registry_is_configured(loaded, db):
    for clinic in Clinic.objects.all():
        found = ClinicSettings.objects.get(clinic=clinic)
        assert (found.observation_minutes, found.assistants_may_administer) == (15, True)
    assert not RegistryConnection.objects.exists()
    assert not RegistrySubmission.objects.exists()


def test_the_four_month_old_is_in_a_room_on_todays_north_board(loaded, db):
    north = _clinic("north")
    baby = demo.demo_four_month_old(north, TODAY)
    assert (baby.given, baby.family) == ("Amara", "Bello")
    assert 120 <= (TODAY - baby.birth_date).days <= 125
    visit = demo.todays_four_month_visit(north, TODAY)
    assert visit is not None and visit.patient == baby
    assert visit.stage in IN_ROOM and visit.room is not None
    assert visit.reason == "4 month well-child visit"
    # The newborn whose slot she took is still booked today, later.
    newborn = Encounter.objects.get(patient__given="Mateo", patient__family="Hernández")
    assert newborn.stage == Stage.SCHEDULED and newborn.period_start > visit.period_start
    assert demo.demo_four_month_old(_clinic("south"), TODAY).given == "Liam"


def test_the_four_month_old_has_her_birth_and_2_month_doses_and_is_due_today(loaded, db):
    baby = demo.demo_four_month_old(_clinic("north"), TODAY)
    doses = list(Immunization.objects.filter(patient=baby).order_by("occurred_on", "cvx"))
    assert [(d.cvx, d.occurred_on == baby.birth_date) for d in doses[:1]] == [("08", True)]
    assert {d.cvx for d in doses[1:]} == {"110", "49", "216", "116"}
    assert len({d.occurred_on for d in doses[1:]}) == 1
    assert 42 <= (doses[1].occurred_on - baby.birth_date).days <= 75
    lines = {
        line.group: line.status
        for line in forecasting.summarise(services.patient_forecast(baby, on=TODAY), TODAY)
    }
    due = {g for g, status in lines.items() if status == forecasting.DUE}
    # RSV (nirsevimab) is due too in the RSV season; it is not stocked.
    assert due >= DUE_AT_FOUR_MONTHS and due - DUE_AT_FOUR_MONTHS <= {"RSV"}, due
    assert forecasting.OVERDUE not in lines.values()
    assert lines["HepB"] == forecasting.DUE_LATER


def test_the_ma_gives_the_four_month_doses_from_scanned_vfc_lots_under_standing_orders(loaded, db):
    north = _clinic("north")
    baby = demo.demo_four_month_old(north, TODAY)
    visit = demo.todays_four_month_visit(north, TODAY)
    alice = Actor.for_user(get_user_model().objects.get(username="alice"))
    given = []
    with mock.patch.object(clock, "now", now):
        for cvx in ("110", "49", "216", "116"):
            lot = demo.demo_lot(north, cvx, Funding.VFC, TODAY)
            scanned = gs1.parse(demo.scan_code(lot))
            assert VaccineLot.objects.get(clinic=north, lot_number=scanned.lot) == lot
            groups = services.vaccine_groups_for(cvx)
            order = next(
                o
                for o in StandingOrder.objects.filter(clinic=north, vaccine_group=groups[0])
                if o.covers(group=groups[0], age_days=(TODAY - baby.birth_date).days, day=TODAY)
            )
            dose = services.administer(
                actor=alice,
                patient=baby,
                encounter=visit,
                request=services.DoseRequest(
                    lot=lot,
                    site=Site.LEFT_THIGH,
                    route=Route.PO if cvx == "116" else Route.IM,
                    confirm_birth_date=baby.birth_date,
                    eligibility=Eligibility.MEDICAID,
                    screening={key: False for key, _ in services.SCREENING_QUESTIONS},
                    vis_given=[v.encoded_text for v in codes.catalog().vis_for_cvx(cvx)],
                    dose_volume_ml=Decimal("2") if cvx == "116" else Decimal("0.5"),
                    standing_order=order,
                ),
            )
            assert dose.ordering_provider is not None
            assert dose.ordering_provider.get_username() == "bob"
            given.append(dose)
    assert len(given) == 4
    lines = forecasting.summarise(services.patient_forecast(baby, on=TODAY), TODAY)
    assert not {line.group for line in lines if line.actionable} & DUE_AT_FOUR_MONTHS


def _children() -> list[Patient]:
    adult = TODAY - dt.timedelta(days=round(18 * 365.25))
    return list(
        Patient.objects.filter(birth_date__gt=adult, immunizations__isnull=False)
        .distinct()
        .order_by("public_id")
    )


def test_some_children_are_overdue_some_up_to_date_and_a_few_have_a_dose_not_valid(loaded, db):
    overdue: list[Patient] = []
    up_to_date: list[Patient] = []
    not_valid: list[tuple[Patient, Immunization, tuple[str, ...]]] = []
    for child in _children():
        result = services.patient_forecast(child, on=TODAY)
        statuses = {line.status for line in forecasting.summarise(result, TODAY)}
        if (TODAY - child.birth_date).days > 365:
            (overdue if forecasting.OVERDUE in statuses else up_to_date).append(child)
        for dose in Immunization.objects.filter(patient=child):
            for group in dose.vaccine_group.split("; "):
                found = result.dose_status_for_group(str(dose.public_id), group)
                if found is not None and found.status == engine.NOT_VALID:
                    not_valid.append((child, dose, found.reasons))
    assert len(overdue) >= 2 and len(up_to_date) >= 2, (overdue, up_to_date)
    assert 1 <= len({child.pk for child, _, _ in not_valid}) <= len(_children()) // 3
    # The ones not valid were given too young (the 12-month doses before the first birthday).
    assert all(any("Too Young" in r for r in reasons) for _, _, reasons in not_valid), not_valid


def test_sources_say_where_each_record_came_from(loaded, db):
    sources = set(Immunization.objects.values_list("source", "source_detail"))
    S = Immunization.Source
    assert (S.OTHER_PROVIDER, "birth hospital") in sources
    assert {s for s, _ in sources} >= {S.REGISTRY, S.OTHER_PROVIDER}
    assert {s for s, _ in sources} <= {S.REGISTRY, S.OTHER_PROVIDER, S.PARENT_RECORD, S.SCHOOL}
    # A birth dose is on the day of birth; no dose is after the load date.
    for dose in Immunization.objects.select_related("patient"):
        assert dose.patient.birth_date <= dose.occurred_on < TODAY


def test_adults_have_tetanus_flu_zoster_and_pneumococcal_some_overdue(loaded, db):
    adult = TODAY - dt.timedelta(days=round(19 * 365.25))
    doses = Immunization.objects.filter(patient__birth_date__lt=adult)
    groups = {g for v in doses.values_list("vaccine_group", flat=True) for g in v.split("; ")}
    assert groups >= {"DTaP/Tdap/Td", "Influenza", "Zoster", "Pneumococcal"}
    fifty = TODAY - dt.timedelta(days=round(50 * 365.25))
    zoster = {"complete": 0, "not": 0}
    for patient in Patient.objects.filter(birth_date__lt=fifty, immunizations__isnull=False):
        forecast = services.patient_forecast(patient, on=TODAY).groups["Zoster"]
        zoster["complete" if forecast.status == engine.COMPLETE else "not"] += 1
    assert zoster["complete"] >= 1 and zoster["not"] >= 1, zoster


def test_a_second_call_adds_nothing(loaded, db):
    before = (_stock(), _orders(), _histories())
    with mock.patch.object(clock, "now", now):
        again = demo.write_immunizations(**_args())
    assert (again.lots, again.standing_orders, again.doses, again.refusals) == (0, 0, 0, [])
    assert (_stock(), _orders(), _histories()) == before


def test_writing_again_from_scratch_gives_the_same_stock_orders_and_histories(loaded, db):
    before = (_stock(), _orders(), _histories())
    Immunization.objects.all().delete()
    VaccineLot.objects.all().delete()
    StandingOrder.objects.all().delete()
    with mock.patch.object(clock, "now", now):
        again = demo.write_immunizations(**_args())
    assert again.refusals == []
    assert (_stock(), _orders(), _histories()) == before


def test_a_patients_plan_is_the_same_every_time(loaded, db):
    for child in _children()[:10]:
        plans = [demo.plan_history(child, TODAY, child.clinic.code) for _ in range(2)]
        assert plans[0] == plans[1] and plans[0]
