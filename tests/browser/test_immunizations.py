"""A 4-month-old's vaccines in a real browser: alice opens the give page of an infant in the room,
scans each vial's GS1 2D code (a malformed scan and a wrong date of birth are refused first, and
nothing is saved), answers the screening questions, ticks the VIS, confirms the date of birth
and gives DTaP-HepB-IPV, Hib, PCV20 and rotavirus under the clinic's standing orders from the
keyboard. gwen's flow board shows the observation timer; the registry test double on 127.0.0.1
receives one VXU per dose and acknowledges each; the stock went down by one dose per lot; the
next forecast moved. Screenshots of the give page, the record and the board are saved."""

import datetime as dt
import re

import hl7
import pytest
from playwright.sync_api import expect

from medassist.clinics.models import Room
from medassist.core import clock
from medassist.core.testing import make_cast
from medassist.encounters.models import Encounter
from medassist.flow.tests.factories import make_rooms
from medassist.hl7.registry_double import RegistryDouble
from medassist.immunizations import codes, gs1, services
from medassist.immunizations.models import (
    Immunization,
    ObservationPeriod,
    RegistryConnection,
    RegistrySubmission,
    VaccineLot,
)
from medassist.immunizations.tests import factories as f
from medassist.immunizations.tests.test_services import four_month_old
from medassist.patients.tests.factories import make_encounter
from tests.browser.test_vitals import sign_in_and_wait

pytestmark = pytest.mark.django_db(transaction=True)

BOARD_LIVE = 9_000  # ms: the board polls every 5 s

# (NDC, lot number, site label chosen from the keyboard)
DOSES = (
    (f.PEDIARIX, "PDX4471A", "Left thigh (vastus lateralis)"),
    (f.PEDVAXHIB, "W013554", "Right thigh (vastus lateralis)"),
    (f.PREVNAR20, "LL8842", "Left thigh (vastus lateralis)"),
    (f.ROTATEQ, "X012933", "Mouth"),
)


def scan_for(lot: VaccineLot) -> str:
    """What a 2D scanner types for the vial: the human-readable GS1 form, (01)GTIN(17)YYMMDD(10)LOT
    (a scanner set to send the group separator types the raw form; both are read)."""
    product = codes.catalog().product_for_ndc(lot.ndc)
    assert product is not None
    return gs1.make_gs1_element_string(
        gs1.gtin_for_ndc(product.ndc10), lot.lot_number, lot.expires_on, bracketed=True
    )


def answer_no_to_every_screening_question(page) -> None:  # type: ignore[no-untyped-def]
    questions = page.locator("#f-screening fieldset.question")
    for i in range(questions.count()):
        no = questions.nth(i).get_by_label("No", exact=True)
        no.focus()
        page.keyboard.press("Space")
        expect(no).to_be_checked()


def choose(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(label, exact=True).select_option(label=option)


def fill_dose_form(page, site: str, birth_date: dt.date) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#dose-form")
    expect(form).to_be_visible()
    choose(page, "Site", site)
    choose(page, "Screened today", "VFC eligible: Medicaid / Medicaid managed care")
    standing = page.get_by_label("Standing order", exact=True)
    if not standing.input_value():
        standing.select_option(index=1)
    for box in form.locator("#f-vis input[type=checkbox]").all():
        if not box.is_checked():
            box.focus()
            page.keyboard.press("Space")
    answer_no_to_every_screening_question(page)
    consent = page.get_by_label(re.compile("consents to this vaccine"))
    consent.focus()
    page.keyboard.press("Space")
    dob = page.get_by_label(re.compile("^Patient's date of birth"))
    dob.focus()
    page.keyboard.type(birth_date.strftime("%m/%d/%Y"))


def test_alice_gives_a_four_month_olds_vaccines_by_scanning_lots(page_for, screenshot):
    cast = make_cast()
    [room] = make_rooms(cast.north, 1)
    baby = four_month_old(cast)
    visit = make_encounter(
        baby,
        cast.bob,
        start=clock.now(),
        visit_type="Well child",
        stage=Encounter.Stage.ROOMED,
        medical_assistant=cast.alice,
        room=room,
    )
    Room.objects.filter(pk=room.pk).update(status=Room.Status.OCCUPIED)
    f.standing_orders(cast.north, cast.bob)
    lots = [f.make_lot(cast.north, ndc, lot=lot, doses=10) for ndc, lot, _ in DOSES]
    before = {g: fc.dose_number for g, fc in services.patient_forecast(baby).groups.items()}
    assert before["DTaP/Tdap/Td"] == 2

    with RegistryDouble("AA") as registry:
        RegistryConnection.objects.create(
            clinic=cast.north,
            host="127.0.0.1",
            port=registry.port,
            timeout_seconds=3,
            sending_facility="NORTHFM",
        )
        board = page_for()
        sign_in_and_wait(board, "gwen")
        board.goto("/flow/board/")
        row = board.locator("tr", has_text="Okafor")
        expect(row).to_be_visible()

        page = page_for()
        sign_in_and_wait(page, "alice")
        page.goto(f"/immunizations/patients/{baby.public_id}/give/")
        due = page.locator("#due-title + ul")
        for group in ("DTaP/Tdap/Td", "Polio", "Hib", "Pneumococcal", "Rotavirus"):
            expect(due).to_contain_text(group)
        scan = page.get_by_label("Scan the vial or carton, or type the lot number")
        expect(scan).to_be_focused()

        # A scan the reader garbled: the message says what is wrong, nothing changes.
        page.keyboard.type("(01)0035816081(10)PDX")
        page.keyboard.press("Enter")
        expect(page.locator("#scan-error")).to_contain_text("must be 14 digits")

        for n, (lot, (_, _, site)) in enumerate(zip(lots, DOSES, strict=True)):
            scan = page.get_by_label("Scan the vial or carton, or type the lot number")
            scan.focus()
            page.keyboard.press("ControlOrMeta+a")
            page.keyboard.type(scan_for(lot))
            page.keyboard.press("Enter")
            expect(page.locator("#dose-form")).to_contain_text(lot.lot_number)
            if n == 0:
                # The wrong date of birth: refused on its field, nothing saved.
                fill_dose_form(page, site, baby.birth_date - dt.timedelta(days=1))
                page.get_by_role("button", name="Give and record the dose").click()
                expect(page.locator("#dob-error")).to_contain_text("does not match")
                assert not Immunization.objects.filter(lot=lot).exists()
                dob = page.get_by_label(re.compile("^Patient's date of birth"))
                dob.focus()
                page.keyboard.press("ControlOrMeta+a")
                page.keyboard.type(baby.birth_date.strftime("%m/%d/%Y"))
                if not page.get_by_label(re.compile("consents to this vaccine")).is_checked():
                    page.get_by_label(re.compile("consents to this vaccine")).check()
                screenshot(page, "immunization-give")
            else:
                fill_dose_form(page, site, baby.birth_date)
            page.get_by_role("button", name="Give and record the dose").focus()
            page.keyboard.press("Enter")
            notice = page.locator("#just-given")
            expect(notice).to_contain_text(f"lot {lot.lot_number}")
            expect(notice).to_contain_text("Observe until")

        # gwen's board shows the wait after the doses, without a reload.
        expect(row).to_contain_text("Observe until", timeout=BOARD_LIVE)
        screenshot(board, "immunization-board")

        page.goto(f"/immunizations/patients/{baby.public_id}/")
        forecast = page.locator("table.forecast")
        expect(forecast.locator("tr", has_text="DTaP/Tdap/Td")).to_contain_text("Dose 3")
        screenshot(page, "immunization-record")

        received = list(registry.received)

    # Four doses, four VXUs, each acknowledged and stored once.
    doses = list(Immunization.objects.filter(patient=baby, source=Immunization.Source.NEW))
    assert len(doses) == 4
    assert all(d.encounter_id == visit.pk and d.given_by == cast.alice for d in doses)
    assert {d.standing_order.vaccine_group for d in doses if d.standing_order} >= {
        "Hib",
        "Pneumococcal",
        "Rotavirus",
    }
    submissions = RegistrySubmission.objects.filter(immunization__in=doses)
    assert sorted(s.ack_code for s in submissions) == ["AA"] * 4
    assert len(received) == 4
    assert {str(hl7.parse(m)["MSH"][0][10]) for m in received} == {
        s.control_id for s in submissions
    }
    # One dose off each lot.
    assert [VaccineLot.objects.get(pk=lot.pk).doses_on_hand for lot in lots] == [9, 9, 9, 9]
    assert ObservationPeriod.objects.filter(immunization__in=doses).count() == 4
    # The forecast moved on: the 4-month doses are satisfied, the next are months away.
    after = services.patient_forecast(baby)
    for group in ("DTaP/Tdap/Td", "Polio", "Hib", "Pneumococcal", "Rotavirus"):
        assert after.groups[group].dose_number == before[group] + 1
        earliest = after.groups[group].earliest
        assert earliest is not None and earliest > clock.today()
