"""Critical vital signs, from the room to the provider and the board, in a real browser: alice
records the vital signs of a febrile toddler and of a hypertensive adult from the keyboard (an
impossible temperature is refused with the slip named, and nothing is saved); bob, whose page
is open the whole time, sees the critical-value banner come in by itself and acknowledges each
alert with a note; gwen's flow board marks both rows "Critical" and the adult's repeat blood
pressure timer while the alerts are open, and drops the marks once they are acknowledged.
Screenshots of each are saved."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from medassist.clinics.models import Room
from medassist.core import clock
from medassist.core.testing import make_cast
from medassist.encounters.models import Encounter
from medassist.flow.tests.factories import make_rooms
from medassist.patients.tests.factories import make_encounter, make_patient
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign
from tests.browser.test_find_and_audit import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

BOARD_LIVE = 9_000  # ms: the board polls every 5 s; a change shows within one poll and a render
BANNER_LIVE = 15_000  # ms: the alert banner polls every 10 s


def sign_in_and_wait(page, username: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, username)
    expect(page.get_by_role("heading", name=re.compile("Good day"))).to_be_visible()


def months_before(day: dt.date, years: int, months: int) -> dt.date:
    """The same day of the month `years` and `months` earlier (the 28th at most)."""
    total = day.year * 12 + (day.month - 1) - years * 12 - months
    return dt.date(total // 12, total % 12 + 1, min(day.day, 28))


def roomed(cast, room: Room, *, family: str, given: str, birth_date: dt.date, sex: str):  # type: ignore[no-untyped-def]
    """A North visit of today, the patient in `room`, bob the provider and alice rooming."""
    patient = make_patient(cast.north, family=family, given=given, birth_date=birth_date, sex=sex)
    visit = make_encounter(
        patient,
        cast.bob,
        start=clock.now(),
        visit_type="Sick visit",
        stage=Encounter.Stage.ROOMED,
        medical_assistant=cast.alice,
        room=room,
    )
    Room.objects.filter(pk=room.pk).update(status=Room.Status.OCCUPIED)
    return visit


def type_into(page, label: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Focus a field by its label and type into it key by key, as a person does (replacing
    what was there)."""
    field = page.get_by_label(label, exact=True)
    field.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def sheet_row(flowsheet, label: str, *, critical: bool = False):  # type: ignore[no-untyped-def]
    """The flowsheet's row of one vital sign (by its row header, exactly)."""
    rows = flowsheet.locator("tr.critical" if critical else "tr")
    return rows.filter(has=flowsheet.page.get_by_role("rowheader", name=label, exact=True))


def test_critical_vitals_reach_the_provider_and_the_board(page_for, screenshot):
    cast = make_cast()
    room_1, room_2 = make_rooms(cast.north, 2)
    today = clock.localtime(clock.now()).date()
    toddler = roomed(
        cast,
        room_1,
        family="Tran",
        given="Lily",
        birth_date=months_before(today, 2, 2),
        sex="female",
    )
    adult = roomed(
        cast, room_2, family="Becker", given="Harold", birth_date=dt.date(1961, 5, 17), sex="male"
    )
    board_url = "/flow/board/?clinic=north"

    # bob's page is open before anything happens; it must hear of the alerts by itself.
    bob = page_for()
    sign_in_and_wait(bob, "bob")
    expect(bob.locator("#alert-banner")).to_be_attached()
    expect(bob.locator("#alert-banner li")).to_have_count(0)

    gwen = page_for()
    sign_in_and_wait(gwen, "gwen")
    gwen.goto(board_url)
    toddler_row = gwen.locator(f"#visit-{toddler.public_id}")
    adult_row = gwen.locator(f"#visit-{adult.public_id}")
    expect(toddler_row).to_contain_text("Roomed")
    expect(adult_row).to_contain_text("Roomed")
    expect(toddler_row).not_to_contain_text("Critical:")

    # 1. alice records the toddler's vital signs from the keyboard.
    alice = page_for()
    sign_in_and_wait(alice, "alice")
    alice.goto(f"/rooming/{toddler.public_id}/")
    step = alice.locator("#step-vitals")
    expect(step.get_by_label("Head circumference", exact=True)).to_be_visible()  # under 3 years
    expect(alice.get_by_label("Temperature unit")).to_have_value("[degF]")  # °F by default
    type_into(alice, "Temperature", "104.2")
    type_into(alice, "Heart rate (/min)", "170")
    type_into(alice, "Respiratory rate (/min)", "38")
    type_into(alice, "SpO2 (%)", "96")
    type_into(alice, "lb", "28")
    alice.keyboard.press("Tab")  # lb -> oz
    alice.keyboard.type("4")
    type_into(alice, "cm", "89")
    alice.keyboard.press("Enter")  # submits the vitals form (htmx)

    flowsheet = step.locator("table.vitals-flowsheet")
    temperature = sheet_row(flowsheet, "Temperature")
    expect(temperature).to_contain_text("104.2 °F")
    # The Celsius figure carries enough places to identify the reading (0.1 °F is 0.06 °C).
    expect(temperature).to_contain_text(re.compile(r"104\.2 °F \(40\.11? °C\)"))
    heart = sheet_row(flowsheet, "Heart rate", critical=True)
    expect(heart).to_contain_text("170")
    expect(heart).to_contain_text("above the 99th centile")
    expect(sheet_row(flowsheet, "Weight")).to_contain_text("28 lb 4 oz")
    toddler_alerts = step.locator("p.urgent[role=alert]")
    expect(toddler_alerts).to_have_count(2)  # the fever and the heart rate
    expect(toddler_alerts.filter(has_text="Temperature 40.1 °C")).to_contain_text(
        "Sent to Robert Okafor"
    )
    expect(toddler_alerts.filter(has_text="Heart rate 170")).to_contain_text("Critical:")
    expect(toddler_alerts.first).to_contain_text("waiting for acknowledgment")
    expect(step.locator("h2 .pill")).to_contain_text("by Alice Moreno")
    screenshot(alice, "vitals-toddler")

    # 2. The adult: an impossible temperature first (984 for 98.4), refused with the slip
    #    named and nothing saved; then corrected and saved.
    alice.goto(f"/rooming/{adult.public_id}/")
    step = alice.locator("#step-vitals")
    expect(step.get_by_label("Head circumference", exact=True)).to_have_count(0)
    type_into(alice, "Systolic", "186")
    alice.keyboard.press("Tab")  # the "/" between them is not focusable
    alice.keyboard.type("118")
    type_into(alice, "Heart rate (/min)", "88")
    type_into(alice, "Temperature", "984")
    type_into(alice, "kg", "92.5")
    type_into(alice, "ft", "5")
    alice.keyboard.press("Tab")  # ft -> in
    alice.keyboard.type("9")
    alice.keyboard.press("Enter")
    errors = step.locator(".errors")
    expect(errors).to_contain_text("984 °F is impossible")
    expect(errors).to_contain_text("did you mean 98.4 °F?")
    expect(errors).to_be_focused()
    assert not VitalSet.objects.filter(encounter=adult).exists()
    # What she typed is kept: only the slip is corrected.
    expect(step.get_by_label("Systolic", exact=True)).to_have_value("186")
    expect(step.get_by_label("kg", exact=True)).to_have_value("92.5")
    type_into(alice, "Temperature", "98.4")
    alice.keyboard.press("Enter")

    expect(step.locator(".errors")).to_have_count(0)
    flowsheet = step.locator("table.vitals-flowsheet")
    bp = sheet_row(flowsheet, "Blood pressure", critical=True)
    expect(bp).to_contain_text("186/118")
    expect(bp).to_contain_text("Hypertensive crisis")
    expect(sheet_row(flowsheet, "Temperature")).to_contain_text("98.4 °F")
    expect(sheet_row(flowsheet, "Height / length")).to_contain_text("5 ft 9 in")
    adult_alert = step.locator("p.urgent[role=alert]")
    expect(adult_alert).to_have_count(1)
    expect(adult_alert).to_contain_text("Critical: Blood pressure 186/118 mmHg")
    expect(adult_alert).to_contain_text("severe hypertension")
    expect(adult_alert).to_contain_text("Sent to Robert Okafor")
    repeat = step.locator("#bp-repeat")
    expect(repeat).to_contain_text("Repeat the blood pressure")
    expect(repeat.get_by_label("Systolic")).to_be_visible()
    due = repeat.locator(".timer").inner_text()
    due_hhmm = re.search(r"due at (\d\d:\d\d)", due)
    assert due_hhmm, due
    screenshot(alice, "vitals-adult")

    # 3. gwen's board marks both rows while the alerts are open, and the adult's repeat timer.
    expect(toddler_row.locator(".pill.critical")).to_have_count(2, timeout=BOARD_LIVE)
    expect(toddler_row).to_contain_text("Critical: Temperature 40.1 °C")
    expect(adult_row.locator(".pill.critical")).to_have_count(1, timeout=BOARD_LIVE)
    expect(adult_row).to_contain_text("Critical: Blood pressure 186/118")
    expect(adult_row.locator(".pill.timer")).to_have_text(f"Repeat BP at {due_hhmm.group(1)}")
    expect(adult_row).to_have_class(re.compile(r"\bcritical\b"))
    screenshot(gwen, "board-alerts")

    # 4. bob's page, never reloaded, shows the banner with both patients.
    banner = bob.locator("#alert-banner")
    expect(banner.get_by_role("heading", name="Critical values to acknowledge")).to_be_visible(
        timeout=BANNER_LIVE
    )
    expect(banner.locator("li")).to_have_count(3, timeout=BANNER_LIVE)
    expect(banner.locator("li", has_text="Tran, Lily")).to_have_count(2)
    expect(banner.locator("li", has_text="Becker, Harold")).to_contain_text(room_2.name)
    screenshot(bob, "alert-banner")

    adult_item = banner.locator("li", has_text="Becker, Harold")
    adult_item.get_by_label("Note").focus()
    bob.keyboard.type("Seen now; labetalol ordered, repeat in 15 min")
    adult_item.get_by_role("button", name="Acknowledge").click()
    expect(bob.get_by_role("status")).to_contain_text("Alert for Becker, Harold acknowledged.")
    banner = bob.locator("#alert-banner")
    expect(banner.locator("li")).to_have_count(2)
    expect(banner).not_to_contain_text("Becker, Harold")
    expect(banner.locator("li", has_text="Tran, Lily")).to_have_count(2)
    expect(adult_row.locator(".pill.critical")).to_have_count(0, timeout=BOARD_LIVE)
    expect(adult_row.locator(".pill.timer")).to_contain_text("Repeat BP")  # still to repeat
    expect(toddler_row.locator(".pill.critical")).to_have_count(2)

    # ... then the toddler's two, by the keyboard: note, then Enter.
    for note in ("Antipyretic given, seeing her next", "Tachycardia with the fever"):
        item = bob.locator("#alert-banner li").first
        expect(item).to_contain_text("Tran, Lily")
        item.get_by_label("Note").focus()
        bob.keyboard.type(note)
        bob.keyboard.press("Enter")
        expect(bob.get_by_role("status")).to_contain_text("Alert for Tran, Lily acknowledged.")
    expect(bob.locator("#alert-banner li")).to_have_count(0)
    expect(bob.get_by_role("heading", name=re.compile("Critical value"))).to_have_count(0)
    expect(toddler_row.locator(".pill.critical")).to_have_count(0, timeout=BOARD_LIVE)
    expect(toddler_row).not_to_have_class(re.compile(r"\bcritical\b"))
    expect(adult_row).not_to_contain_text("Critical:")

    # The alerts page has nothing waiting for him now.
    bob.goto("/vitals/alerts/")
    expect(bob.get_by_text("No critical value is waiting for you.")).to_be_visible()

    # alice's flowsheet shows who acknowledged, and the note.
    alice.goto(f"/rooming/{adult.public_id}/")
    expect(alice.locator("#step-vitals")).to_contain_text(
        "Critical value acknowledged by Robert Okafor"
    )
    expect(alice.locator("#step-vitals")).to_contain_text("labetalol ordered")

    # What was stored.
    alerts = list(VitalAlert.objects.order_by("raised_at", "id"))
    assert len(alerts) == 3
    assert {a.encounter_id for a in alerts} == {toddler.pk, adult.pk}
    for alert in alerts:
        assert alert.status == VitalAlert.Status.COMPLETED
        assert alert.acknowledged_by == cast.bob
        assert alert.owner == cast.bob
        assert alert.seconds_to_acknowledge is not None
        assert alert.seconds_to_acknowledge >= 0
        assert alert.note
    adult_alert_row = VitalAlert.objects.get(encounter=adult)
    assert adult_alert_row.trigger == "bp_crisis"
    assert adult_alert_row.note == "Seen now; labetalol ordered, repeat in 15 min"
    assert set(VitalAlert.objects.filter(encounter=toddler).values_list("trigger", flat=True)) == {
        "temperature_high",
        "heart_rate_centile",
    }
    temp = VitalSign.objects.get(encounter=toddler, measure=Measure.TEMPERATURE)
    assert temp.value == Decimal("104.2")
    assert temp.unit == "[degF]"
    weight = VitalSign.objects.get(encounter=toddler, measure=Measure.WEIGHT)
    assert (weight.value, weight.unit) == (Decimal("28.25"), "[lb_av]")
    adult_temp = VitalSign.objects.get(encounter=adult, measure=Measure.TEMPERATURE)
    assert (adult_temp.value, adult_temp.unit) == (Decimal("98.4"), "[degF]")
    adult_bp = VitalSign.objects.get(encounter=adult, measure=Measure.BLOOD_PRESSURE)
    assert (adult_bp.value, adult_bp.value2) == (186, 118)
    assert adult_bp.repeat_due_at is not None
    assert VitalSet.objects.filter(encounter=adult).count() == 1  # the refused try saved nothing
