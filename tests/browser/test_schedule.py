"""gwen books an appointment at the first open slot, from the keyboard, and sees it on the day
view; the page honours the Content-Security-Policy (type colors come from a style sheet)."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from medassist.core import clock
from medassist.core.testing import make_cast
from medassist.patients.tests.factories import make_patient
from medassist.scheduling.models import Appointment
from medassist.scheduling.tests.factories import make_template, make_types
from tests.browser.test_find_and_audit import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_gwen_books_the_first_open_slot_and_finds_it_on_the_day_view(page_for, screenshot):
    cast = make_cast()
    make_types(cast.north)
    tomorrow = clock.today() + dt.timedelta(days=1)
    make_template(cast.north, cast.bob, weekday=tomorrow.weekday(), start="08:00", end="12:00")
    make_patient(cast.north, family="Abernathy", given="Josephine", phone="217-555-0142")

    gwen = page_for()
    errors: list[str] = []
    gwen.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(gwen, "gwen")
    expect(gwen.get_by_role("heading", name=re.compile("Good day"))).to_be_visible()
    gwen.goto("/schedule/book/?clinic=north")
    gwen.get_by_label("Find the patient").focus()
    gwen.keyboard.type("abernathy")
    patient = gwen.get_by_role("radio", name=re.compile("Abernathy, Josephine"))
    expect(patient).to_be_visible()
    patient.check()
    gwen.get_by_label("Type of visit").select_option("follow-up")
    gwen.get_by_role("button", name="Find the first open slots").press("Enter")
    first = gwen.locator("#suggestions a").first
    expect(first).to_contain_text("08:00 with Robert Okafor")
    first.press("Enter")
    expect(gwen.get_by_label("Time")).to_have_value("08:00")
    gwen.get_by_label("Reason for visit").fill("Blood pressure check")
    gwen.get_by_role("button", name="Book", exact=True).press("Enter")

    expect(gwen.get_by_role("heading", name=re.compile("Follow-up: Abernathy"))).to_be_visible()
    appt = Appointment.objects.get()
    assert appt.reason == "Blood pressure check"
    screenshot(gwen, "schedule-appointment")

    gwen.goto(f"/schedule/?clinic=north&day={tomorrow:%Y-%m-%d}")
    block = gwen.locator(f"a.appt-type-{appt.appointment_type_id}")
    expect(block).to_contain_text("Abernathy, Josephine")
    # the type's color reached the block through the style sheet, not a style attribute
    color = block.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert color == "rgb(86, 180, 233)"
    screenshot(gwen, "schedule-day")
    assert not [e for e in errors if "Content Security Policy" in e]
